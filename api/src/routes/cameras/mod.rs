//! `/cameras`: the camera registry (seed 004 §2). Validation and storage live in
//! `vigil_core::cameras`; these handlers check permissions, convert and answer.

mod counts;
mod dto;

use std::sync::Arc;

use poem::Request;
use poem_openapi::OpenApi;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::ParseFromJSON;
use serde_json::json;
use vigil_core::auth::Permission;
use vigil_core::cameras::{
    self, Camera, CameraFilter, CameraStatus, SnapshotJob, StateChange, StreamType,
    TestConnectionJob,
};
use vigil_core::jobs::NewJob;

pub use counts::CameraCountsApi;
pub use dto::{CameraBody, CameraDto, ImportResult, StateBody};

use super::jobs::{Accepted, submit};
use super::{Tag, conn};
use crate::auth::BearerAuth;
use crate::envelope::{self, Created, NoContent, Ok};
use crate::error::{ApiError, ApiResult};
use crate::middleware::note;
use crate::params::{Choice, Paging};
use crate::state::ApiState;

/// Most rows one import may hold.
const MAX_IMPORT_ROWS: usize = 1000;

pub struct CamerasApi {
    pub state: Arc<ApiState>,
}

impl CamerasApi {
    /// Starts watchers for enabled cameras now rather than at the scheduler's next tick. A
    /// failure only delays them until that tick.
    pub(crate) async fn start_watchers(&self) {
        if let Err(e) = cameras::watchers::reconcile(&self.state.ctx).await {
            tracing::warn!(error = %e, "camera watchers not started now; the scheduler will");
        }
    }

    /// The camera as shown, with a fresh link to its thumbnail.
    pub(crate) async fn dto(&self, c: Camera) -> CameraDto {
        let thumbnail = match &c.thumbnail_key {
            Some(key) => self
                .state
                .ctx
                .storage
                .download_url(key, self.state.ctx.config.download_url_ttl())
                .await
                .map_err(|e| tracing::warn!(camera = %c.id, error = %e, "thumbnail link failed"))
                .ok(),
            None => None,
        };
        CameraDto::new(c, self.state.ctx.secrets.sealer(), thumbnail)
    }

    pub(crate) async fn existing(&self, id: &str) -> ApiResult<Camera> {
        let mut conn = conn(&self.state).await?;
        Ok(cameras::get(&mut conn, id).await?)
    }

    pub(crate) fn draft_error(errors: Vec<cameras::FieldError>) -> ApiError {
        // The first problem as every validation error shows it, plus all of them.
        match errors.first().cloned() {
            Some(e) => ApiError::validation(e.field, e.issue.clone()).with_details(json!({
                "field": e.field,
                "issue": e.issue,
                "errors": errors,
            })),
            None => ApiError::bad_request("invalid camera"),
        }
    }
}

#[OpenApi(prefix_path = "/api/v1/cameras", tag = "Tag::Cameras")]
impl CamerasApi {
    /// List cameras, filtered by status, stream type, enabled, or a search over id, name,
    /// location and address.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        status: Query<Option<Choice<CameraStatus>>>,
        #[oai(name = "streamType")] stream_type: Query<Option<Choice<StreamType>>>,
        enabled: Query<Option<bool>>,
        search: Query<Option<String>>,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<CameraDto>>> {
        auth.0.require(Permission::CamerasRead)?;
        let filter = CameraFilter {
            status: status.0.map(|s| s.get("status")).transpose()?,
            stream_type: stream_type.0.map(|s| s.get("streamType")).transpose()?,
            enabled: enabled.0,
            search: search.0,
        };
        let mut conn = conn(&self.state).await?;
        let page = cameras::list(&mut conn, &filter, paging.0).await?;
        drop(conn);
        let mut items = Vec::with_capacity(page.items.len());
        for c in page.items {
            items.push(self.dto(c).await);
        }
        Ok(envelope::page(vigil_core::db::Paged {
            items,
            total: page.total,
            page: page.page,
        }))
    }

    /// Register a camera. Its stream URL is checked against the egress policy now and again
    /// by the worker before every connection; the password is stored sealed.
    #[oai(path = "/", method = "post", operation_id = "cameras.create")]
    async fn create(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: Json<CameraBody>,
    ) -> ApiResult<Created<CameraDto>> {
        auth.0.require(Permission::CamerasWrite)?;
        let draft = body.0.into_draft()?;
        let checked = draft
            .check(&self.state.egress, self.state.ctx.secrets.sealer(), None)
            .map_err(Self::draft_error)?;
        let mut conn = conn(&self.state).await?;
        let camera = cameras::create(&mut conn, &checked, Some(auth.0.user.id)).await?;
        drop(conn);
        note(req, |n| n.resource_id = Some(camera.id.clone()));
        self.start_watchers().await;
        Ok(envelope::created(self.dto(camera).await))
    }

    /// Every camera as JSON rows `POST /cameras/import` takes back (passwords are never
    /// exported; stream URLs come redacted).
    #[oai(path = "/export", method = "get")]
    async fn export(&self, auth: BearerAuth) -> ApiResult<Ok<Vec<CameraBody>>> {
        auth.0.require(Permission::CamerasRead)?;
        let mut conn = conn(&self.state).await?;
        let all = cameras::export(&mut conn).await?;
        let sealer = self.state.ctx.secrets.sealer();
        Ok(envelope::ok(
            all.iter()
                .map(|c| CameraBody::exported(c, sealer))
                .collect(),
        ))
    }

    /// Import cameras from a JSON array of camera rows. Every row is checked first; if any
    /// fails, nothing is imported and the 422's `details.rows` lists each failing row's
    /// index and problems.
    #[oai(path = "/import", method = "post", operation_id = "cameras.import")]
    async fn import(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: Json<Vec<serde_json::Value>>,
    ) -> ApiResult<Created<ImportResult>> {
        auth.0.require(Permission::CamerasWrite)?;
        let rows = body.0;
        let total = rows.len();
        if total == 0 || total > MAX_IMPORT_ROWS {
            return Err(ApiError::validation(
                "body",
                format!("1 to {MAX_IMPORT_ROWS} cameras per import"),
            ));
        }
        // Each row is parsed on its own, so a row of the wrong shape is reported with its
        // index like any other invalid row.
        let mut drafts = Vec::with_capacity(total);
        let mut positions = Vec::with_capacity(total);
        let mut failed = Vec::new();
        for (index, row) in rows.into_iter().enumerate() {
            let id = row.get("id").and_then(|v| v.as_str()).map(str::to_string);
            let parsed = CameraBody::parse_from_json(Some(row))
                .map_err(|e| e.into_message())
                .and_then(|b| b.into_draft().map_err(|e| e.message));
            match parsed {
                Ok(d) => {
                    drafts.push(d);
                    positions.push(index);
                }
                Err(issue) => failed.push(cameras::RowErrors {
                    index,
                    id,
                    errors: vec![cameras::FieldError {
                        field: "row",
                        issue,
                    }],
                }),
            }
        }
        let ids: Vec<String> = drafts.iter().filter_map(|d| d.id.clone()).collect();
        let mut conn = conn(&self.state).await?;
        let existing = cameras::existing_ids(&mut conn, &ids).await?;
        let checked = cameras::check_import(
            &drafts,
            &self.state.egress,
            self.state.ctx.secrets.sealer(),
            &existing,
        );
        let checked = match checked {
            Ok(rows) if failed.is_empty() => rows,
            result => {
                // The checks count among the rows that parsed; report the file's positions.
                failed.extend(result.err().unwrap_or_default().into_iter().map(|mut row| {
                    row.index = positions[row.index];
                    row
                }));
                failed.sort_by_key(|r| r.index);
                return Err(ApiError::new(
                    poem::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "VALIDATION_ERROR",
                    format!(
                        "{} of {total} rows are invalid; nothing was imported",
                        failed.len()
                    ),
                )
                .with_details(json!({ "rows": failed })));
            }
        };
        let created = cameras::import(&mut conn, &checked, Some(auth.0.user.id)).await?;
        drop(conn);
        self.start_watchers().await;
        note(req, |n| {
            n.context =
                Some(json!({ "imported": created.iter().map(|c| &c.id).collect::<Vec<_>>() }))
        });
        let mut shown = Vec::with_capacity(created.len());
        for c in created {
            shown.push(self.dto(c).await);
        }
        Ok(envelope::created(ImportResult {
            imported: shown.len() as u32,
            cameras: shown,
        }))
    }

    #[oai(path = "/:id", method = "get")]
    async fn get(&self, auth: BearerAuth, id: Path<String>) -> ApiResult<Ok<CameraDto>> {
        auth.0.require(Permission::CamerasRead)?;
        let mut conn = conn(&self.state).await?;
        let camera = cameras::get(&mut conn, &id.0).await?;
        drop(conn);
        Ok(envelope::ok(self.dto(camera).await))
    }

    /// Replace a camera's description. Send the `version` you read: if the camera changed
    /// since, the answer is 409 and nothing is written.
    #[oai(path = "/:id", method = "put", operation_id = "cameras.update")]
    async fn update(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<String>,
        body: Json<CameraBody>,
    ) -> ApiResult<Ok<CameraDto>> {
        auth.0.require(Permission::CamerasWrite)?;
        note(req, |n| n.resource_id = Some(id.0.clone()));
        let version = body.0.version;
        let draft = body.0.into_draft()?;
        let mut conn = conn(&self.state).await?;
        let current = cameras::get(&mut conn, &id.0).await?;
        let checked = draft
            .check(
                &self.state.egress,
                self.state.ctx.secrets.sealer(),
                Some(&current),
            )
            .map_err(Self::draft_error)?;
        let camera = cameras::update(&mut conn, &current, &checked, version).await?;
        drop(conn);
        Ok(envelope::ok(self.dto(camera).await))
    }

    /// Delete a camera and its counts.
    #[oai(path = "/:id", method = "delete", operation_id = "cameras.delete")]
    async fn delete(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<String>,
    ) -> ApiResult<NoContent> {
        auth.0.require(Permission::CamerasWrite)?;
        note(req, |n| n.resource_id = Some(id.0.clone()));
        let mut conn = conn(&self.state).await?;
        cameras::delete(&mut conn, &id.0).await?;
        Ok(NoContent::NoContent)
    }

    /// Enable or disable a camera (its watcher starts or stops), or take it in or out of
    /// maintenance.
    #[oai(path = "/:id/state", method = "patch", operation_id = "cameras.state")]
    async fn state(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<String>,
        body: Json<StateBody>,
    ) -> ApiResult<Ok<CameraDto>> {
        auth.0.require(Permission::CamerasWrite)?;
        note(req, |n| {
            n.resource_id = Some(id.0.clone());
            n.context = Some(json!({ "enabled": body.enabled, "maintenance": body.maintenance }));
        });
        if body.enabled.is_none() && body.maintenance.is_none() {
            return Err(ApiError::validation(
                "enabled",
                "send enabled, maintenance or both",
            ));
        }
        let mut conn = conn(&self.state).await?;
        let camera = cameras::set_state(
            &mut conn,
            &id.0,
            StateChange {
                enabled: body.enabled,
                maintenance: body.maintenance,
            },
        )
        .await?;
        drop(conn);
        self.start_watchers().await;
        Ok(envelope::ok(self.dto(camera).await))
    }

    /// Test the camera's connection: a `camera.test` job opens the stream (through the egress
    /// gate), decodes a frame and measures it. Its result is `{success, latencyMs, bitrate,
    /// fps, resolution, message}`; an unreachable camera gives `success: false` with a short
    /// reason within about 20 s. The figures are stored on the camera.
    #[oai(
        path = "/:id/test-connection",
        method = "post",
        operation_id = "cameras.test_connection"
    )]
    async fn test_connection(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<String>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
    ) -> ApiResult<Accepted> {
        auth.0.require(Permission::CamerasWrite)?;
        let camera = self.existing(&id.0).await?;
        let job = NewJob::of(&TestConnectionJob {
            camera_id: camera.id,
        });
        submit(&self.state, req, &auth.0, job, idempotency_key.0).await
    }

    /// Take a snapshot: a `camera.snapshot` job stores one decoded frame as a JPEG at
    /// `snapshots/{camera}/{unix ms}.jpg` and makes it the camera's thumbnail. Its result is
    /// `{assetId, url, timestamp, width, height}`.
    #[oai(
        path = "/:id/snapshot",
        method = "post",
        operation_id = "cameras.snapshot"
    )]
    async fn snapshot(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<String>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
    ) -> ApiResult<Accepted> {
        auth.0.require(Permission::CamerasWrite)?;
        let camera = self.existing(&id.0).await?;
        let job = NewJob::of(&SnapshotJob {
            camera_id: camera.id,
        });
        submit(&self.state, req, &auth.0, job, idempotency_key.0).await
    }
}
