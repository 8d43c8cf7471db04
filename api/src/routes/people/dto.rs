//! Request and response shapes of `/faces` (employees, seed 004) and `/students` (seed 001),
//! and their pure conversions.

use chrono::{DateTime, Utc};
use poem_openapi::types::MaybeUndefined;
use poem_openapi::types::multipart::Upload;
use poem_openapi::{Multipart, Object};
use uuid::Uuid;
use vigil_core::people::{Details, Person, PersonStatus};

use crate::params::Choice;
use crate::routes::face_photos::{PhotoCounts, PhotoDto};

pub(super) fn change<T>(v: MaybeUndefined<T>) -> Option<Option<T>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

/// An employee's face profile.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct FaceDto {
    pub id: Uuid,
    pub employee_id: String,
    pub name: String,
    pub department: Option<String>,
    pub role: Option<String>,
    pub email: Option<String>,
    /// `pending` until a photo enrolls, then `active`; `archived` people are not recognised.
    pub status: PersonStatus,
    pub notes: Option<String>,
    /// Photos by enrollment status.
    pub images: PhotoCounts,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl FaceDto {
    pub fn new(p: Person, images: PhotoCounts) -> Self {
        Self {
            id: p.id,
            employee_id: p.employee_id.unwrap_or_default(),
            name: p.name,
            department: p.department,
            role: p.role,
            email: p.email,
            status: p.status,
            notes: p.notes,
            images,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A new employee with the photos just uploaded (each `pending` until its enrollment job has
/// accepted or rejected it: poll `GET /faces/{id}/images`).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreatedFaceDto {
    #[oai(flatten)]
    pub profile: FaceDto,
    pub uploaded: Vec<PhotoDto>,
}

/// `POST /faces`: the employee's details and up to 5 photos.
#[derive(Debug, Multipart)]
#[oai(rename_all = "camelCase")]
pub struct CreateFaceForm {
    pub name: String,
    pub employee_id: String,
    pub department: Option<String>,
    pub role: Option<String>,
    pub email: Option<String>,
    pub notes: Option<String>,
    /// JPEG or PNG photos of this person alone (field `images[]` or `images`), at most 5.
    #[oai(rename = "images[]")]
    pub images: Vec<Upload>,
}

/// Fields to change; absent fields stay, `null` clears.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateFace {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: Option<String>,
    #[oai(validator(min_length = 1, max_length = 50))]
    pub employee_id: Option<String>,
    pub department: MaybeUndefined<String>,
    pub role: MaybeUndefined<String>,
    pub email: MaybeUndefined<String>,
    pub notes: MaybeUndefined<String>,
    pub status: Option<Choice<PersonStatus>>,
}

impl UpdateFace {
    pub fn details(self) -> Result<Details, crate::error::ApiError> {
        Ok(Details {
            name: self.name,
            employee_id: self.employee_id.map(Some),
            department: change(self.department),
            role: change(self.role),
            email: change(self.email),
            notes: change(self.notes),
            status: self.status.map(|s| s.get("status")).transpose()?,
            ..Details::default()
        })
    }
}

#[derive(Debug, Multipart)]
pub struct ImagesForm {
    /// JPEG or PNG photos (field `images[]` or `images`), at most 5 per request.
    #[oai(rename = "images[]")]
    pub images: Vec<Upload>,
}

/// A student (seed 001).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct StudentDto {
    pub id: Uuid,
    pub student_number: String,
    pub full_name: String,
    pub email: Option<String>,
    pub department: Option<String>,
    pub year: Option<i32>,
    pub status: PersonStatus,
    pub notes: Option<String>,
    pub images: PhotoCounts,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl StudentDto {
    pub fn new(p: Person, images: PhotoCounts) -> Self {
        Self {
            id: p.id,
            student_number: p.student_number.unwrap_or_default(),
            full_name: p.name,
            email: p.email,
            department: p.department,
            year: p.year,
            status: p.status,
            notes: p.notes,
            images,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreateStudent {
    #[oai(validator(min_length = 1, max_length = 50))]
    pub student_number: String,
    #[oai(validator(min_length = 1, max_length = 200))]
    pub full_name: String,
    pub email: Option<String>,
    pub department: Option<String>,
    pub year: Option<i32>,
    pub notes: Option<String>,
}

impl CreateStudent {
    pub fn details(self) -> Details {
        Details {
            name: Some(self.full_name),
            student_number: Some(Some(self.student_number)),
            email: Some(self.email),
            department: Some(self.department),
            year: Some(self.year),
            notes: Some(self.notes),
            ..Details::default()
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateStudent {
    #[oai(validator(min_length = 1, max_length = 50))]
    pub student_number: Option<String>,
    #[oai(validator(min_length = 1, max_length = 200))]
    pub full_name: Option<String>,
    pub email: MaybeUndefined<String>,
    pub department: MaybeUndefined<String>,
    pub year: MaybeUndefined<i32>,
    pub notes: MaybeUndefined<String>,
    pub status: Option<Choice<PersonStatus>>,
}

impl UpdateStudent {
    pub fn details(self) -> Result<Details, crate::error::ApiError> {
        Ok(Details {
            name: self.full_name,
            student_number: self.student_number.map(Some),
            email: change(self.email),
            department: change(self.department),
            year: change(self.year),
            notes: change(self.notes),
            status: self.status.map(|s| s.get("status")).transpose()?,
            ..Details::default()
        })
    }
}
