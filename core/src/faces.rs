//! Face profiles, their photos and the embeddings enrolled from them. One enrollment path for
//! every kind of person Vigil recognises: missing persons now, employees and students later.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::paginate::{PageRequest, Paged, Paginate};
use crate::db::schema::{face_embeddings, face_photos, face_profiles};
use crate::db::text_enum::text_enum;
use crate::error::{Error, Result};
use crate::jobs::{JobPayload, KindSpec, kinds};

text_enum! {
    /// Who a face profile belongs to.
    pub enum ProfileKind {
        MissingPerson = "missing_person",
        Employee = "employee",
        Student = "student",
    }
}

/// Length of the face descriptors Vigil stores (dlib's ResNet-34 embedding).
pub const DESCRIPTOR_LEN: usize = 128;

text_enum! {
    /// A photo's enrollment: waiting for its job, enrolled, rejected (no usable face, with a
    /// reason) or failed (not readable as an image).
    pub enum PhotoStatus {
        Pending = "pending",
        Enrolled = "enrolled",
        Rejected = "rejected",
        Failed = "failed",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = face_photos, check_for_backend(diesel::pg::Pg))]
#[serde(rename_all = "camelCase")]
pub struct FacePhoto {
    pub id: Uuid,
    pub profile_id: Uuid,
    pub object_key: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub original_filename: Option<String>,
    pub status: PhotoStatus,
    pub reason: Option<String>,
    pub job_id: Option<Uuid>,
    pub face: Option<serde_json::Value>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The payload of a `face.enroll` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollRequest {
    pub photo_id: Uuid,
}

impl JobPayload for EnrollRequest {
    const KIND: &'static KindSpec = &kinds::FACE_ENROLL;
}

pub async fn create_profile(
    conn: &mut AsyncPgConnection,
    kind: ProfileKind,
    display_name: &str,
) -> Result<Uuid> {
    create_profile_with_id(conn, Uuid::now_v7(), kind, display_name).await
}

/// A profile whose id was chosen beforehand: photos read before the profile's details (a
/// multipart form in any order) are stored under it at once.
pub async fn create_profile_with_id(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    kind: ProfileKind,
    display_name: &str,
) -> Result<Uuid> {
    diesel::insert_into(face_profiles::table)
        .values((
            face_profiles::id.eq(id),
            face_profiles::kind.eq(kind),
            face_profiles::display_name.eq(display_name),
        ))
        .execute(conn)
        .await?;
    Ok(id)
}

pub async fn rename_profile(conn: &mut AsyncPgConnection, id: Uuid, name: &str) -> Result<()> {
    diesel::update(face_profiles::table.find(id))
        .set(face_profiles::display_name.eq(name))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete_profile(conn: &mut AsyncPgConnection, id: Uuid) -> Result<()> {
    diesel::delete(face_profiles::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}

pub struct NewPhoto<'a> {
    pub id: Uuid,
    pub profile_id: Uuid,
    pub object_key: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub original_filename: Option<&'a str>,
    pub created_by: Option<Uuid>,
}

pub async fn add_photo(conn: &mut AsyncPgConnection, p: NewPhoto<'_>) -> Result<FacePhoto> {
    Ok(diesel::insert_into(face_photos::table)
        .values((
            face_photos::id.eq(p.id),
            face_photos::profile_id.eq(p.profile_id),
            face_photos::object_key.eq(p.object_key),
            face_photos::content_type.eq(p.content_type),
            face_photos::size_bytes.eq(p.size_bytes),
            face_photos::original_filename.eq(p.original_filename),
            face_photos::created_by.eq(p.created_by),
        ))
        .returning(FacePhoto::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn set_photo_job(conn: &mut AsyncPgConnection, photo: Uuid, job: Uuid) -> Result<()> {
    diesel::update(face_photos::table.find(photo))
        .set(face_photos::job_id.eq(job))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get_photo(conn: &mut AsyncPgConnection, id: Uuid) -> Result<FacePhoto> {
    face_photos::table
        .find(id)
        .select(FacePhoto::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::not_found("no such photo"))
}

/// One page of a profile's photos, oldest first: a person may have any number of photos.
pub async fn photos_page(
    conn: &mut AsyncPgConnection,
    profile: Uuid,
    page: PageRequest,
) -> Result<Paged<FacePhoto>> {
    face_photos::table
        .filter(face_photos::profile_id.eq(profile))
        .order((face_photos::created_at.asc(), face_photos::id.asc()))
        .select(FacePhoto::as_select())
        .paginate(page)
        .load_page(conn)
        .await
}

/// Photo counts of several profiles by status: `(profile, status, count)`.
pub async fn photo_counts(
    conn: &mut AsyncPgConnection,
    profiles: &[Uuid],
) -> Result<Vec<(Uuid, PhotoStatus, i64)>> {
    Ok(face_photos::table
        .filter(face_photos::profile_id.eq_any(profiles))
        .group_by((face_photos::profile_id, face_photos::status))
        .select((
            face_photos::profile_id,
            face_photos::status,
            diesel::dsl::count_star(),
        ))
        .load(conn)
        .await?)
}

/// Stores the embedding of an accepted photo. Idempotent: a retried enrollment replaces it.
pub async fn enroll(
    conn: &mut AsyncPgConnection,
    photo: &FacePhoto,
    model: &str,
    vector: &[f32],
    face: serde_json::Value,
) -> Result<()> {
    if vector.len() != DESCRIPTOR_LEN {
        return Err(Error::Internal(anyhow::anyhow!(
            "descriptor has {} values, not {DESCRIPTOR_LEN}",
            vector.len()
        )));
    }
    let (photo_id, profile_id) = (photo.id, photo.profile_id);
    let model = model.to_string();
    let vector = vector.to_vec();
    conn.transaction::<_, Error, _>(async move |conn| {
        diesel::insert_into(face_embeddings::table)
            .values((
                face_embeddings::id.eq(Uuid::now_v7()),
                face_embeddings::profile_id.eq(profile_id),
                face_embeddings::photo_id.eq(photo_id),
                face_embeddings::model.eq(&model),
                face_embeddings::vector.eq(&vector),
            ))
            .on_conflict(face_embeddings::photo_id)
            .do_update()
            .set((
                face_embeddings::model.eq(&model),
                face_embeddings::vector.eq(&vector),
            ))
            .execute(conn)
            .await?;
        set_status(conn, photo_id, PhotoStatus::Enrolled, None, Some(face)).await
    })
    .await
}

/// Marks a photo rejected (no usable face) or failed (unreadable), with the reason users see.
pub async fn reject(
    conn: &mut AsyncPgConnection,
    photo: Uuid,
    status: PhotoStatus,
    reason: &str,
    face: Option<serde_json::Value>,
) -> Result<()> {
    diesel::delete(face_embeddings::table.filter(face_embeddings::photo_id.eq(photo)))
        .execute(conn)
        .await?;
    set_status(conn, photo, status, Some(reason), face).await
}

async fn set_status(
    conn: &mut AsyncPgConnection,
    photo: Uuid,
    status: PhotoStatus,
    reason: Option<&str>,
    face: Option<serde_json::Value>,
) -> Result<()> {
    diesel::update(face_photos::table.find(photo))
        .set((
            face_photos::status.eq(status),
            face_photos::reason.eq(reason),
            face_photos::face.eq(face),
            face_photos::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete_photo(conn: &mut AsyncPgConnection, id: Uuid) -> Result<()> {
    diesel::delete(face_photos::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}

/// One enrolled embedding with the profile it belongs to.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub profile_id: Uuid,
    pub vector: Vec<f32>,
}

/// Every embedding of `model`: the searched persons and, as distractors, everyone else, so a
/// face that looks more like someone else enrolled is not attributed to the searched person.
pub async fn gallery(conn: &mut AsyncPgConnection, model: &str) -> Result<Vec<Enrolled>> {
    let rows: Vec<(Uuid, Vec<f32>)> = face_embeddings::table
        .filter(face_embeddings::model.eq(model))
        .select((face_embeddings::profile_id, face_embeddings::vector))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(profile_id, vector)| Enrolled { profile_id, vector })
        .collect())
}
