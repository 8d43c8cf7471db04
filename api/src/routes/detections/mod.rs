//! `/detections` (seed 004 §3): live face detections of cameras, the call log and settings of
//! the detection provider, frames sent on demand; and `/history/person/{employeeId}`. Domain
//! rules live in `vigil_core::detections`; these handlers check permissions and convert.

mod dto;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use vigil_core::auth::Permission;
use vigil_core::cameras;
use vigil_core::db::Paged;
use vigil_core::detections::calls;
use vigil_core::detections::provider::{self, Changes};
use vigil_core::detections::store::{self, Filter, MAX_LIVE};
use vigil_core::detections::{
    CallStatus, DetectionStatus, FrameJob, ProviderReport, ProviderStatus, ProviderTestJob,
};
use vigil_core::egress::{StreamScheme, redact};
use vigil_core::jobs::{self, JobStatus, NewJob};
use vigil_core::people;

pub use dto::{
    CallDto, FaceDetectionDto, FrameQueuedDto, ProviderBody, ProviderDto, ProviderTestDto,
    SendFrameBody,
};

use super::{Tag, conn};
use crate::auth::BearerAuth;
use crate::envelope::{self, Envelope, Ok};
use crate::error::{ApiError, ApiResult};
use crate::middleware::note;
use crate::params::{Choice, Paging};
use crate::state::ApiState;

/// How long `test-provider` waits for a worker to answer.
const TEST_WAIT: Duration = Duration::from_secs(20);
const TEST_POLL: Duration = Duration::from_millis(100);
const DEFAULT_LIVE: i64 = 20;

/// `202 Accepted` with the queued job.
#[derive(ApiResponse)]
pub enum FrameQueued {
    #[oai(status = 202)]
    Accepted(
        Json<Envelope<FrameQueuedDto>>,
        #[oai(header = "Location")] String,
    ),
}

pub struct DetectionsApi {
    pub state: Arc<ApiState>,
}

/// Detections as shown, each with a fresh thumbnail link.
async fn dtos(state: &ApiState, rows: Vec<store::Row>) -> Vec<FaceDetectionDto> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(FaceDetectionDto::new(state, row).await);
    }
    out
}

/// A page of detections as shown.
async fn page(state: &ApiState, page: Paged<store::Row>) -> Ok<Vec<FaceDetectionDto>> {
    envelope::page(Paged {
        items: dtos(state, page.items).await,
        total: page.total,
        page: page.page,
    })
}

#[OpenApi(prefix_path = "/api/v1/detections", tag = "Tag::Detections")]
impl DetectionsApi {
    /// The latest face detections, newest first: what the live view polls (every 4 s in the
    /// seed's frontend). Faces are reported once judged (a few frames) and kept current while
    /// they stay in the picture. `limit` defaults to 20, at most 100.
    #[oai(path = "/live", method = "get")]
    async fn live(
        &self,
        auth: BearerAuth,
        #[oai(name = "cameraId")] camera_id: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))] limit: Query<Option<i64>>,
    ) -> ApiResult<Ok<Vec<FaceDetectionDto>>> {
        auth.0.require(Permission::DetectionsRead)?;
        let mut conn = conn(&self.state).await?;
        let rows = store::live(
            &mut conn,
            camera_id.0.as_deref(),
            limit.0.unwrap_or(DEFAULT_LIVE).min(MAX_LIVE),
        )
        .await?;
        drop(conn);
        Ok(envelope::ok(dtos(&self.state, rows).await))
    }

    /// Face detections, filtered and paged (`status`, `cameraId`, a time range over when the
    /// face was in the picture).
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        #[oai(name = "cameraId")] camera_id: Query<Option<String>>,
        status: Query<Option<Choice<DetectionStatus>>>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<FaceDetectionDto>>> {
        auth.0.require(Permission::DetectionsRead)?;
        let filter = Filter {
            camera_id: camera_id.0,
            status: status.0.map(|s| s.get("status")).transpose()?,
            from: from.0,
            to: to.0,
            person_id: None,
        };
        let mut conn = conn(&self.state).await?;
        let found = store::list(&mut conn, &filter, paging.0).await?;
        drop(conn);
        Ok(page(&self.state, found).await)
    }

    /// The provider's call log: frames sent on demand and provider tests, with latency and
    /// what came back (`status`: `received`, `processing`, `error`).
    #[oai(path = "/events", method = "get")]
    async fn events(
        &self,
        auth: BearerAuth,
        status: Query<Option<Choice<CallStatus>>>,
        #[oai(name = "cameraId")] camera_id: Query<Option<String>>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<CallDto>>> {
        auth.0.require(Permission::DetectionsRead)?;
        let filter = calls::Filter {
            status: status.0.map(|s| s.get("status")).transpose()?,
            camera_id: camera_id.0,
            from: from.0,
            to: to.0,
        };
        let mut conn = conn(&self.state).await?;
        let page = calls::list(&mut conn, &filter, paging.0).await?;
        Ok(envelope::page(page.map(Into::into)))
    }

    /// Queue a detection on the camera's current frame (`detections.frame`): its faces are
    /// recognised and stored as detections, and the call logged. Poll `/jobs/{jobId}`.
    #[oai(
        path = "/send-frame",
        method = "post",
        operation_id = "detections.send_frame"
    )]
    async fn send_frame(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: Json<SendFrameBody>,
    ) -> ApiResult<FrameQueued> {
        auth.0.require(Permission::DetectionsWrite)?;
        let mut conn = conn(&self.state).await?;
        let camera = match cameras::get(&mut conn, &body.camera_id).await {
            Ok(c) => c,
            Err(vigil_core::Error::NotFound(_)) => {
                return Err(ApiError::validation(
                    "cameraId",
                    format!("no camera {}", body.camera_id),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        if !provider::get(&mut conn).await?.enabled {
            return Err(ApiError::conflict(
                "the detection provider is disabled (PUT /detections/provider/config)",
            ));
        }
        drop(conn);
        let (job, _) = jobs::enqueue(
            &self.state.ctx,
            NewJob::of(&FrameJob {
                camera_id: camera.id.clone(),
            })
            .created_by(Some(auth.0.user.id)),
        )
        .await?;
        note(req, |n| {
            n.resource_id = Some(camera.id.clone());
            n.context = Some(serde_json::json!({ "jobId": job.id }));
        });
        Ok(FrameQueued::Accepted(
            envelope::ok(FrameQueuedDto {
                job_id: job.id,
                status: job.status,
            }),
            format!("/api/v1/jobs/{}", job.id),
        ))
    }

    /// The detection provider's settings and health (heartbeat and average latency, reported
    /// by workers after each test, each frame sent and every minute of camera recognition).
    #[oai(path = "/provider/config", method = "get")]
    async fn provider(&self, auth: BearerAuth) -> ApiResult<Ok<ProviderDto>> {
        auth.0.require(Permission::DetectionsRead)?;
        let mut conn = conn(&self.state).await?;
        Ok(envelope::ok(provider::get(&mut conn).await?.into()))
    }

    /// Change the provider: its name, on or off, and where frames go — `builtin` (the workers'
    /// own models) or an external service's `http(s)` URL with its API key (the contract:
    /// docs/attendance.md "External provider"). The URL passes the same egress gate as camera
    /// streams and is shown with its credentials and tokens as `***`; the key is stored sealed
    /// and shown as `***`.
    #[oai(
        path = "/provider/config",
        method = "put",
        operation_id = "detections.provider_update"
    )]
    async fn update_provider(
        &self,
        auth: BearerAuth,
        body: Json<ProviderBody>,
    ) -> ApiResult<Ok<ProviderDto>> {
        auth.0.require(Permission::DetectionsManage)?;
        let body = body.0;
        let mut conn = conn(&self.state).await?;
        let current = provider::get(&mut conn).await?;
        let endpoint = match body.endpoint.as_deref().map(str::trim) {
            None => None,
            // The endpoint as shown, its secrets as `***`: unchanged.
            Some(shown) if shown == redact(&current.endpoint) => None,
            Some(provider::BUILTIN) => Some(provider::BUILTIN.to_string()),
            Some(url) => Some(external_endpoint(&self.state, url)?),
        };
        let updated = provider::update(
            &mut conn,
            self.state.ctx.secrets.sealer(),
            Changes {
                provider_name: body.provider_name,
                endpoint,
                // `***` is the key as shown: unchanged.
                api_key: body.api_key.filter(|k| k != "***"),
                enabled: body.enabled,
                version: body.version,
            },
        )
        .await?;
        Ok(envelope::ok(updated.into()))
    }

    /// Test the provider now: a worker runs the models on a probe frame and reports
    /// `{status, latencyMs, message}` (also stored as the provider's heartbeat). No worker
    /// answering within 20 s is `offline`.
    #[oai(
        path = "/test-provider",
        method = "post",
        operation_id = "detections.test_provider"
    )]
    async fn test_provider(&self, auth: BearerAuth) -> ApiResult<Ok<ProviderTestDto>> {
        auth.0.require(Permission::DetectionsManage)?;
        let (job, _) = jobs::enqueue(
            &self.state.ctx,
            NewJob::of(&ProviderTestJob {}).created_by(Some(auth.0.user.id)),
        )
        .await?;
        let deadline = tokio::time::Instant::now() + TEST_WAIT;
        loop {
            tokio::time::sleep(TEST_POLL).await;
            let mut conn = conn(&self.state).await?;
            let now = jobs::store::get(&mut conn, job.id).await?;
            if now.status == JobStatus::Succeeded
                && let Some(report) = now
                    .result
                    .clone()
                    .and_then(|r| serde_json::from_value::<ProviderReport>(r).ok())
            {
                return Ok(envelope::ok(ProviderTestDto::new(report, job.id)));
            }
            if now.status.is_terminal() || tokio::time::Instant::now() >= deadline {
                let message = match now.error {
                    Some(e) if now.status.is_terminal() => format!("the test failed: {e}"),
                    _ => format!(
                        "no worker answered within {} s: are workers running the cameras queue?",
                        TEST_WAIT.as_secs()
                    ),
                };
                provider::heartbeat(&mut conn, None).await?;
                return Ok(envelope::ok(ProviderTestDto {
                    status: ProviderStatus::Offline,
                    latency_ms: None,
                    message,
                    job_id: job.id,
                }));
            }
        }
    }
}

pub struct HistoryApi {
    pub state: Arc<ApiState>,
}

#[OpenApi(prefix_path = "/api/v1/history", tag = "Tag::Detections")]
impl HistoryApi {
    /// Where and when cameras saw a person (by `employeeId` or `studentNumber`), newest first.
    #[oai(path = "/person/:employee_id", method = "get")]
    async fn person(
        &self,
        auth: BearerAuth,
        #[oai(name = "employee_id")] employee_id: Path<String>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<FaceDetectionDto>>> {
        auth.0.require(Permission::DetectionsRead)?;
        let mut conn = conn(&self.state).await?;
        let person = people::find_by_number(&mut conn, &employee_id.0).await?;
        let filter = Filter {
            person_id: Some(person.id),
            from: from.0,
            to: to.0,
            ..Filter::default()
        };
        let found = store::list(&mut conn, &filter, paging.0).await?;
        drop(conn);
        Ok(page(&self.state, found).await)
    }
}

/// An external provider's URL: `http` or `https`, through the egress precheck (the worker
/// checks it again, resolved, before each call).
fn external_endpoint(state: &ApiState, url: &str) -> ApiResult<String> {
    let checked = state
        .egress
        .precheck(url)
        .map_err(|e| ApiError::validation("endpoint", e.user_message()))?;
    if !matches!(checked.scheme(), StreamScheme::Http | StreamScheme::Https) {
        return Err(ApiError::validation(
            "endpoint",
            "endpoint must be \"builtin\" or an http(s) URL",
        ));
    }
    Ok(checked.as_str().to_string())
}
