//! `/faces` (employees, seed 004's face register) and `/students` (seed 001): one people
//! registry over face profiles, so both enroll through the same `face.enroll` job and are
//! recognised by the same attendance pipeline.

pub mod dto;

use std::sync::Arc;

use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;
use vigil_core::attendance::captures;
use vigil_core::auth::Permission;
use vigil_core::people::{self, Details, Filter, Person, PersonKind, PersonStatus};

use super::Tag;
use super::face_photos::{self, MAX_PHOTO_BYTES, PhotoBatch, PhotoCounts, PhotoDto};
use crate::auth::BearerAuth;
use crate::envelope::{self, Created, Envelope, NoContent, Ok};
use crate::error::{ApiError, ApiResult};
use crate::middleware::note;
use crate::params::{Choice, Paging};
use crate::state::ApiState;
use crate::upload::{FormLimits, MultipartBody};
use dto::{
    CreateFaceForm, CreateStudent, CreatedFaceDto, FaceDto, ImagesForm, StudentDto, UpdateFace,
    UpdateStudent,
};

/// Most photos per request (seed 004: "max 5 images").
pub const MAX_IMAGES: usize = 5;
const IMAGE_FIELDS: &[&str] = &["images[]", "images"];

#[derive(ApiResponse)]
pub enum ImagesAccepted {
    /// Stored; each photo's enrollment job is queued (poll the images or the jobs).
    #[oai(status = 202)]
    Accepted(Json<Envelope<Vec<PhotoDto>>>),
}

async fn counts(state: &ApiState, persons: &[Person]) -> ApiResult<Vec<PhotoCounts>> {
    let profiles: Vec<Uuid> = persons.iter().map(|p| p.profile_id).collect();
    let mut by_profile = face_photos::counts_for(state, &profiles).await?;
    Ok(persons
        .iter()
        .map(|p| by_profile.remove(&p.profile_id).unwrap_or_default())
        .collect())
}

async fn one_count(state: &ApiState, person: &Person) -> ApiResult<PhotoCounts> {
    Ok(counts(state, std::slice::from_ref(person))
        .await?
        .pop()
        .unwrap_or_default())
}

async fn get_person(state: &ApiState, id: Uuid, kind: PersonKind) -> ApiResult<Person> {
    let mut conn = super::conn(state).await?;
    Ok(people::get_of_kind(&mut conn, id, kind).await?)
}

/// A page of people of one kind, with photo counts (two queries).
async fn list_people(
    state: &ApiState,
    filter: Filter,
    paging: Paging,
) -> ApiResult<vigil_core::db::Paged<(Person, PhotoCounts)>> {
    let mut conn = super::conn(state).await?;
    let page = people::list(&mut conn, &filter, paging.0).await?;
    drop(conn);
    let counts = counts(state, &page.items).await?;
    let mut counts = counts.into_iter();
    Ok(page.map(|p| (p, counts.next().unwrap_or_default())))
}

/// Deletes a person with everything that identifies them: photos, embeddings, the captures
/// that show them, their attendance, and the stored objects (right to erasure). The audit row names the person by id and number only.
async fn erase(state: &ApiState, req: &Request, person: Person) -> ApiResult<()> {
    let mut conn = super::conn(state).await?;
    // Captures showing the person first: their photos are the person's face too.
    let mut keys = captures::erase_for_person(&mut conn, person.id).await?;
    keys.extend(people::delete(&mut conn, &person).await?);
    drop(conn);
    face_photos::delete_objects(state, &keys).await;
    note(req, |n| {
        n.resource_id = Some(person.id.to_string());
        n.context = Some(serde_json::json!({
            "kind": person.kind,
            "number": person.number(),
            "objectsDeleted": keys.len(),
        }));
    });
    Ok(())
}

/// Reads a form of photos only (`images[]`), stores and enrolls them.
async fn add_images(
    state: &ApiState,
    req: &Request,
    user: Uuid,
    person: &Person,
    body: MultipartBody<ImagesForm>,
) -> ApiResult<Vec<PhotoDto>> {
    let _slot = state.uploads.take()?;
    let mut form = body.read(FormLimits {
        text_fields: &[],
        file_fields: IMAGE_FIELDS,
        max_parts: MAX_IMAGES,
        max_file_bytes: MAX_PHOTO_BYTES,
        max_total_bytes: MAX_PHOTO_BYTES * MAX_IMAGES as u64,
    });
    let mut batch = PhotoBatch::new(person.profile_id, "images");
    let read = async {
        while let Some(part) = form.next().await? {
            batch.store(state, part).await?;
        }
        if batch.is_empty() {
            return Err(ApiError::validation("images", "upload at least one image"));
        }
        Ok(())
    };
    if let Err(e) = read.await {
        batch.discard(state).await;
        return Err(e);
    }
    let out = batch.enroll(state, Some(user)).await?;
    note(req, |n| {
        n.resource_id = Some(person.id.to_string());
        n.context =
            Some(serde_json::json!({ "images": out.iter().map(|p| p.id).collect::<Vec<_>>() }));
    });
    Ok(out)
}

fn status_filter(status: Option<Choice<PersonStatus>>) -> ApiResult<Option<PersonStatus>> {
    status.map(|s| s.get("status")).transpose()
}

pub struct FacesApi {
    pub state: Arc<ApiState>,
}

#[OpenApi(prefix_path = "/api/v1/faces", tag = "Tag::Attendance")]
impl FacesApi {
    /// Employees' face profiles, filtered by department, status or a search over name and
    /// employee id.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        department: Query<Option<String>>,
        search: Query<Option<String>>,
        status: Query<Option<Choice<PersonStatus>>>,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<FaceDto>>> {
        auth.0.require(Permission::FacesRead)?;
        let filter = Filter {
            kind: Some(PersonKind::Employee),
            department: department.0,
            status: status_filter(status.0)?,
            search: search.0,
        };
        let page = list_people(&self.state, filter, paging).await?;
        Ok(envelope::page(page.map(|(p, c)| FaceDto::new(p, c))))
    }

    /// Register an employee with up to 5 photos (multipart: `name`, `employeeId`,
    /// `department`, `role`, `email`, `notes`, `images[]`). Each photo is enrolled by a
    /// `face.enroll` job: exactly one clear face becomes an embedding; no face, several faces,
    /// a face too small or too blurry reject that photo with a reason
    /// (`GET /faces/{id}/images`). The person becomes `active` when a photo enrolls.
    #[oai(path = "/", method = "post", operation_id = "faces.create")]
    async fn create(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: MultipartBody<CreateFaceForm>,
    ) -> ApiResult<Created<CreatedFaceDto>> {
        auth.0.require(Permission::FacesWrite)?;
        let _slot = self.state.uploads.take()?;
        let mut form = body.read(FormLimits {
            text_fields: &["name", "employeeId", "department", "role", "email", "notes"],
            file_fields: IMAGE_FIELDS,
            max_parts: MAX_IMAGES + 6,
            max_file_bytes: MAX_PHOTO_BYTES,
            max_total_bytes: MAX_PHOTO_BYTES * MAX_IMAGES as u64 + 6 * 16 * 1024,
        });
        // Photos may come before the text fields: they are stored under the profile id chosen
        // now, and deleted again if the person cannot be created.
        let profile = Uuid::now_v7();
        let mut batch = PhotoBatch::new(profile, "images");
        let mut details = Details::default();
        let read = async {
            while let Some(part) = form.next().await? {
                let name = part.name().to_string();
                if IMAGE_FIELDS.contains(&name.as_str()) {
                    if batch.len() == MAX_IMAGES {
                        return Err(ApiError::validation(
                            "images",
                            format!("at most {MAX_IMAGES} images"),
                        ));
                    }
                    batch.store(&self.state, part).await?;
                    continue;
                }
                let text = part.text().await?;
                match name.as_str() {
                    "name" => details.name = Some(text),
                    "employeeId" => details.employee_id = Some(Some(text)),
                    "department" => details.department = Some(Some(text)),
                    "role" => details.role = Some(Some(text)),
                    "email" => details.email = Some(Some(text)),
                    "notes" => details.notes = Some(Some(text)),
                    _ => {}
                }
            }
            let mut conn = super::conn(&self.state).await?;
            let person = people::create(
                &mut conn,
                PersonKind::Employee,
                profile,
                details,
                Some(auth.0.user.id),
            )
            .await?;
            Ok::<_, ApiError>(person)
        };
        let person = match read.await {
            Result::Ok(person) => person,
            Err(e) => {
                batch.discard(&self.state).await;
                return Err(e);
            }
        };
        let uploaded = batch.enroll(&self.state, Some(auth.0.user.id)).await?;
        note(req, |n| {
            n.resource_id = Some(person.id.to_string());
            n.context = Some(serde_json::json!({
                "employeeId": person.employee_id,
                "images": uploaded.iter().map(|p| p.id).collect::<Vec<_>>(),
            }));
        });
        let counts = one_count(&self.state, &person).await?;
        Ok(envelope::created(CreatedFaceDto {
            profile: FaceDto::new(person, counts),
            uploaded,
        }))
    }

    #[oai(path = "/:id", method = "get")]
    async fn get(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<FaceDto>> {
        auth.0.require(Permission::FacesRead)?;
        let person = get_person(&self.state, id.0, PersonKind::Employee).await?;
        let counts = one_count(&self.state, &person).await?;
        Ok(envelope::ok(FaceDto::new(person, counts)))
    }

    /// Change an employee's details or status (`archived` people are no longer recognised).
    #[oai(path = "/:id", method = "put", operation_id = "faces.update")]
    async fn update(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: Json<UpdateFace>,
    ) -> ApiResult<Ok<FaceDto>> {
        auth.0.require(Permission::FacesWrite)?;
        let details = body.0.details()?;
        let mut conn = super::conn(&self.state).await?;
        let person = people::update(&mut conn, id.0, PersonKind::Employee, details).await?;
        drop(conn);
        let counts = one_count(&self.state, &person).await?;
        Ok(envelope::ok(FaceDto::new(person, counts)))
    }

    /// Delete an employee with their photos and embeddings, from the database and storage.
    #[oai(path = "/:id", method = "delete", operation_id = "faces.delete")]
    async fn delete(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        auth.0.require(Permission::FacesWrite)?;
        let person = get_person(&self.state, id.0, PersonKind::Employee).await?;
        erase(&self.state, req, person).await?;
        Ok(NoContent::NoContent)
    }

    /// Add up to 5 photos (`images[]`), each enrolled by its own job.
    #[oai(
        path = "/:id/images",
        method = "post",
        operation_id = "faces.images.create"
    )]
    async fn add_images(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: MultipartBody<ImagesForm>,
    ) -> ApiResult<ImagesAccepted> {
        auth.0.require(Permission::FacesWrite)?;
        let person = get_person(&self.state, id.0, PersonKind::Employee).await?;
        let out = add_images(&self.state, req, auth.0.user.id, &person, body).await?;
        Ok(ImagesAccepted::Accepted(envelope::ok(out)))
    }

    /// The employee's photos with their enrollment status and, for rejected ones, the reason.
    #[oai(path = "/:id/images", method = "get")]
    async fn images(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<Vec<PhotoDto>>> {
        auth.0.require(Permission::FacesRead)?;
        let person = get_person(&self.state, id.0, PersonKind::Employee).await?;
        Ok(envelope::ok(
            face_photos::list(&self.state, person.profile_id).await?,
        ))
    }

    /// Delete one photo and its embedding.
    #[oai(
        path = "/:id/images/:image_id",
        method = "delete",
        operation_id = "faces.images.delete"
    )]
    async fn delete_image(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        image_id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        auth.0.require(Permission::FacesWrite)?;
        let person = get_person(&self.state, id.0, PersonKind::Employee).await?;
        face_photos::delete(&self.state, person.profile_id, image_id.0).await?;
        Ok(NoContent::NoContent)
    }
}

pub struct StudentsApi {
    pub state: Arc<ApiState>,
}

#[OpenApi(prefix_path = "/api/v1/students", tag = "Tag::Attendance")]
impl StudentsApi {
    /// Students, filtered by department, status or a search over name and student number.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        department: Query<Option<String>>,
        search: Query<Option<String>>,
        status: Query<Option<Choice<PersonStatus>>>,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<StudentDto>>> {
        auth.0.require(Permission::FacesRead)?;
        let filter = Filter {
            kind: Some(PersonKind::Student),
            department: department.0,
            status: status_filter(status.0)?,
            search: search.0,
        };
        let page = list_people(&self.state, filter, paging).await?;
        Ok(envelope::page(page.map(|(p, c)| StudentDto::new(p, c))))
    }

    /// Enroll a student (then upload photos to `/students/{id}/images`).
    #[oai(path = "/", method = "post", operation_id = "students.create")]
    async fn create(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: Json<CreateStudent>,
    ) -> ApiResult<Created<StudentDto>> {
        auth.0.require(Permission::FacesWrite)?;
        let mut conn = super::conn(&self.state).await?;
        let person = people::create(
            &mut conn,
            PersonKind::Student,
            Uuid::now_v7(),
            body.0.details(),
            Some(auth.0.user.id),
        )
        .await?;
        drop(conn);
        note(req, |n| n.resource_id = Some(person.id.to_string()));
        Ok(envelope::created(StudentDto::new(
            person,
            PhotoCounts::default(),
        )))
    }

    #[oai(path = "/:id", method = "get")]
    async fn get(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<StudentDto>> {
        auth.0.require(Permission::FacesRead)?;
        let person = get_person(&self.state, id.0, PersonKind::Student).await?;
        let counts = one_count(&self.state, &person).await?;
        Ok(envelope::ok(StudentDto::new(person, counts)))
    }

    #[oai(path = "/:id", method = "put", operation_id = "students.update")]
    async fn update(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: Json<UpdateStudent>,
    ) -> ApiResult<Ok<StudentDto>> {
        auth.0.require(Permission::FacesWrite)?;
        let details = body.0.details()?;
        let mut conn = super::conn(&self.state).await?;
        let person = people::update(&mut conn, id.0, PersonKind::Student, details).await?;
        drop(conn);
        let counts = one_count(&self.state, &person).await?;
        Ok(envelope::ok(StudentDto::new(person, counts)))
    }

    /// Remove a student with their photos and embeddings, from the database and storage.
    #[oai(path = "/:id", method = "delete", operation_id = "students.delete")]
    async fn delete(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        auth.0.require(Permission::FacesWrite)?;
        let person = get_person(&self.state, id.0, PersonKind::Student).await?;
        erase(&self.state, req, person).await?;
        Ok(NoContent::NoContent)
    }

    /// Add up to 5 photos (`images[]`), each enrolled by its own job.
    #[oai(
        path = "/:id/images",
        method = "post",
        operation_id = "students.images.create"
    )]
    async fn add_images(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: MultipartBody<ImagesForm>,
    ) -> ApiResult<ImagesAccepted> {
        auth.0.require(Permission::FacesWrite)?;
        let person = get_person(&self.state, id.0, PersonKind::Student).await?;
        let out = add_images(&self.state, req, auth.0.user.id, &person, body).await?;
        Ok(ImagesAccepted::Accepted(envelope::ok(out)))
    }

    #[oai(path = "/:id/images", method = "get")]
    async fn images(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<Vec<PhotoDto>>> {
        auth.0.require(Permission::FacesRead)?;
        let person = get_person(&self.state, id.0, PersonKind::Student).await?;
        Ok(envelope::ok(
            face_photos::list(&self.state, person.profile_id).await?,
        ))
    }

    #[oai(
        path = "/:id/images/:image_id",
        method = "delete",
        operation_id = "students.images.delete"
    )]
    async fn delete_image(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        image_id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        auth.0.require(Permission::FacesWrite)?;
        let person = get_person(&self.state, id.0, PersonKind::Student).await?;
        face_photos::delete(&self.state, person.profile_id, image_id.0).await?;
        Ok(NoContent::NoContent)
    }
}
