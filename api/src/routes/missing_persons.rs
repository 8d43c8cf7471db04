//! `/missing-persons`: who is searched for, and their enrollment photos.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::types::multipart::Upload;
use poem_openapi::{ApiResponse, Multipart, Object, OpenApi};
use uuid::Uuid;
use vigil_core::auth::{Permission, authorize_owner};
use vigil_core::db::Paged;
use vigil_core::faces;
use vigil_core::missing_persons::{self, Details, Filter, MissingPerson, MissingPersonStatus};
use vigil_core::storage::orphans;

use super::Tag;
use super::face_photos::{self, MAX_PHOTO_BYTES, PhotoBatch, PhotoCounts, PhotoDto};
use crate::auth::{BearerAuth, Principal};
use crate::envelope::{self, Created, Envelope, NoContent, Ok};
use crate::error::{ApiError, ApiResult};
use crate::middleware::note;
use crate::params::{Choice, Paging};
use crate::state::ApiState;
use crate::upload::{FormLimits, MultipartBody};

const MAX_PHOTOS_PER_UPLOAD: usize = 20;

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreateMissingPerson {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
    #[oai(validator(minimum(value = "0"), maximum(value = "150")))]
    pub age: Option<i32>,
    #[oai(validator(max_length = 50))]
    pub gender: Option<String>,
    #[oai(validator(minimum(value = "20"), maximum(value = "300")))]
    pub height_cm: Option<i32>,
    #[oai(validator(max_length = 5000))]
    pub description: Option<String>,
    #[oai(validator(max_length = 500))]
    pub last_seen_location: Option<String>,
    pub last_seen_at: Option<DateTime<Utc>>,
    #[oai(validator(max_length = 5000))]
    pub notes: Option<String>,
}

/// Fields to change; absent fields stay, `null` clears.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateMissingPerson {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: Option<String>,
    #[oai(validator(minimum(value = "0"), maximum(value = "150")))]
    pub age: MaybeUndefined<i32>,
    #[oai(validator(max_length = 50))]
    pub gender: MaybeUndefined<String>,
    #[oai(validator(minimum(value = "20"), maximum(value = "300")))]
    pub height_cm: MaybeUndefined<i32>,
    #[oai(validator(max_length = 5000))]
    pub description: MaybeUndefined<String>,
    #[oai(validator(max_length = 500))]
    pub last_seen_location: MaybeUndefined<String>,
    pub last_seen_at: MaybeUndefined<DateTime<Utc>>,
    #[oai(validator(max_length = 5000))]
    pub notes: MaybeUndefined<String>,
    pub status: Option<Choice<MissingPersonStatus>>,
}

fn change<T>(v: MaybeUndefined<T>) -> Option<Option<T>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct MissingPersonDto {
    pub id: Uuid,
    pub name: String,
    pub age: Option<i32>,
    pub gender: Option<String>,
    pub height_cm: Option<i32>,
    pub description: Option<String>,
    pub last_seen_location: Option<String>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
    pub status: MissingPersonStatus,
    /// The face profile holding the photos and embeddings.
    pub profile_id: Uuid,
    pub photos: PhotoCounts,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl MissingPersonDto {
    fn new(p: MissingPerson, photos: PhotoCounts) -> Self {
        Self {
            id: p.id,
            name: p.name,
            age: p.age,
            gender: p.gender,
            height_cm: p.height_cm,
            description: p.description,
            last_seen_location: p.last_seen_location,
            last_seen_at: p.last_seen_at,
            notes: p.notes,
            status: p.status,
            profile_id: p.profile_id,
            photos,
            created_by: p.created_by,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Debug, Multipart)]
pub struct PhotoUpload {
    /// One or more JPEG or PNG photos, each of this person alone with the face clearly visible.
    pub photos: Vec<Upload>,
}

#[derive(ApiResponse)]
pub enum PhotosAccepted {
    /// Stored; each photo's enrollment job is queued (poll the photos or the jobs).
    #[oai(status = 202)]
    Accepted(Json<Envelope<Vec<PhotoDto>>>),
}

pub struct MissingPersonsApi {
    pub state: Arc<ApiState>,
}

async fn counts_for(
    state: &ApiState,
    persons: &[MissingPerson],
) -> ApiResult<HashMap<Uuid, PhotoCounts>> {
    let profiles: Vec<Uuid> = persons.iter().map(|p| p.profile_id).collect();
    face_photos::counts_for(state, &profiles).await
}

/// Deleting a person or their photos is for the person's creator (with `faces:write`) or an
/// admin: it removes their search results too.
fn authorize(who: &Principal, person: &MissingPerson) -> ApiResult<()> {
    Ok(authorize_owner(
        person.created_by,
        who.user.id,
        &who.permissions,
        Permission::FacesWrite,
        "missing person",
    )?)
}

async fn dto(state: &ApiState, person: MissingPerson) -> ApiResult<MissingPersonDto> {
    let mut counts = counts_for(state, std::slice::from_ref(&person)).await?;
    let c = counts.remove(&person.profile_id).unwrap_or_default();
    Ok(MissingPersonDto::new(person, c))
}

#[OpenApi(prefix_path = "/api/v1/missing-persons", tag = "Tag::Search")]
impl MissingPersonsApi {
    /// Register a missing person (then upload their photos).
    #[oai(path = "/", method = "post", operation_id = "missing_persons.create")]
    async fn create(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: Json<CreateMissingPerson>,
    ) -> ApiResult<Created<MissingPersonDto>> {
        auth.0.require(Permission::FacesWrite)?;
        let b = body.0;
        let details = Details {
            name: Some(b.name.trim().to_string()),
            age: Some(b.age),
            gender: Some(b.gender),
            height_cm: Some(b.height_cm),
            description: Some(b.description),
            last_seen_location: Some(b.last_seen_location),
            last_seen_at: Some(b.last_seen_at),
            notes: Some(b.notes),
            status: None,
        };
        let mut conn = super::conn(&self.state).await?;
        let person = missing_persons::create(&mut conn, details, Some(auth.0.user.id)).await?;
        note(req, |n| n.resource_id = Some(person.id.to_string()));
        Ok(envelope::created(dto(&self.state, person).await?))
    }

    /// List missing persons, filtered by status or a name search.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        status: Query<Option<Choice<MissingPersonStatus>>>,
        q: Query<Option<String>>,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<MissingPersonDto>>> {
        auth.0.require(Permission::FacesRead)?;
        let filter = Filter {
            status: status.0.map(|s| s.get("status")).transpose()?,
            q: q.0,
        };
        let mut conn = super::conn(&self.state).await?;
        let page = missing_persons::list(&mut conn, &filter, paging.0).await?;
        drop(conn);
        let mut counts = counts_for(&self.state, &page.items).await?;
        Ok(envelope::page(page.map(|p| {
            let c = counts.remove(&p.profile_id).unwrap_or_default();
            MissingPersonDto::new(p, c)
        })))
    }

    #[oai(path = "/:id", method = "get")]
    async fn get(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<MissingPersonDto>> {
        auth.0.require(Permission::FacesRead)?;
        let mut conn = super::conn(&self.state).await?;
        let person = missing_persons::get(&mut conn, id.0).await?;
        Ok(envelope::ok(dto(&self.state, person).await?))
    }

    #[oai(path = "/:id", method = "put", operation_id = "missing_persons.update")]
    async fn update(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: Json<UpdateMissingPerson>,
    ) -> ApiResult<Ok<MissingPersonDto>> {
        auth.0.require(Permission::FacesWrite)?;
        let b = body.0;
        let details = Details {
            name: b.name.map(|n| n.trim().to_string()),
            age: change(b.age),
            gender: change(b.gender),
            height_cm: change(b.height_cm),
            description: change(b.description),
            last_seen_location: change(b.last_seen_location),
            last_seen_at: change(b.last_seen_at),
            notes: change(b.notes),
            status: b.status.map(|s| s.get("status")).transpose()?,
        };
        let mut conn = super::conn(&self.state).await?;
        let person = missing_persons::update(&mut conn, id.0, details).await?;
        Ok(envelope::ok(dto(&self.state, person).await?))
    }

    /// Delete a missing person with their photos, embeddings and search results.
    #[oai(
        path = "/:id",
        method = "delete",
        operation_id = "missing_persons.delete"
    )]
    async fn delete(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<NoContent> {
        auth.0.require(Permission::FacesWrite)?;
        let mut conn = super::conn(&self.state).await?;
        let person = missing_persons::get(&mut conn, id.0).await?;
        authorize(&auth.0, &person)?;
        missing_persons::delete(&mut conn, &person).await?;
        drop(conn);
        orphans::sweep_after_delete(&self.state.ctx).await;
        Ok(NoContent::NoContent)
    }

    /// Upload photos (multipart field `photos`, repeated). Each is stored and enrolled by a
    /// `face.enroll` job: exactly one clear face becomes an embedding; no face, several faces,
    /// a face too small or too blurry reject that photo with a reason, the others still enroll.
    #[oai(
        path = "/:id/photos",
        method = "post",
        operation_id = "missing_persons.photos.create"
    )]
    async fn upload_photos(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: MultipartBody<PhotoUpload>,
    ) -> ApiResult<PhotosAccepted> {
        auth.0.require(Permission::FacesWrite)?;
        let mut conn = super::conn(&self.state).await?;
        let person = missing_persons::get(&mut conn, id.0).await?;
        drop(conn);
        let _slot = self.state.uploads.take()?;
        let mut form = body.read(FormLimits {
            text_fields: &[],
            file_fields: &["photos"],
            max_parts: MAX_PHOTOS_PER_UPLOAD,
            max_file_bytes: MAX_PHOTO_BYTES,
            max_total_bytes: MAX_PHOTO_BYTES * MAX_PHOTOS_PER_UPLOAD as u64,
        });
        // Every photo is checked and stored before any is recorded: a bad one fails the upload
        // and the stored ones are deleted. One photo is in memory at a time.
        let mut batch = PhotoBatch::new(person.profile_id, "photos");
        let read = async {
            while let Some(part) = form.next().await? {
                batch.store(&self.state, part).await?;
            }
            if batch.is_empty() {
                return Err(ApiError::validation("photos", "upload at least one photo"));
            }
            Ok(())
        };
        if let Err(e) = read.await {
            batch.discard(&self.state).await;
            return Err(e);
        }
        let out = batch.enroll(&self.state, Some(auth.0.user.id)).await?;
        note(req, |n| {
            n.resource_id = Some(person.id.to_string());
            n.context =
                Some(serde_json::json!({ "photos": out.iter().map(|p| p.id).collect::<Vec<_>>() }));
        });
        Ok(PhotosAccepted::Accepted(envelope::ok(out)))
    }

    /// The person's photos with their enrollment status and, for rejected ones, the reason;
    /// oldest first, a page at a time.
    #[oai(path = "/:id/photos", method = "get")]
    async fn photos(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<PhotoDto>>> {
        auth.0.require(Permission::FacesRead)?;
        let mut conn = super::conn(&self.state).await?;
        let person = missing_persons::get(&mut conn, id.0).await?;
        let Paged { items, total, page } =
            faces::photos_page(&mut conn, person.profile_id, paging.0).await?;
        drop(conn);
        let mut out = Vec::with_capacity(items.len());
        for p in items {
            out.push(face_photos::photo_dto(&self.state, p).await);
        }
        Ok(envelope::page(Paged {
            items: out,
            total,
            page,
        }))
    }

    /// Delete one photo and its embedding.
    #[oai(
        path = "/:id/photos/:photo_id",
        method = "delete",
        operation_id = "missing_persons.photos.delete"
    )]
    async fn delete_photo(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        photo_id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        auth.0.require(Permission::FacesWrite)?;
        let mut conn = super::conn(&self.state).await?;
        let person = missing_persons::get(&mut conn, id.0).await?;
        let photo = faces::get_photo(&mut conn, photo_id.0).await?;
        if photo.profile_id != person.profile_id {
            return Err(ApiError::not_found("no such photo of this person"));
        }
        authorize(&auth.0, &person)?;
        faces::delete_photo(&mut conn, photo.id).await?;
        drop(conn);
        orphans::sweep_after_delete(&self.state.ctx).await;
        Ok(NoContent::NoContent)
    }
}
