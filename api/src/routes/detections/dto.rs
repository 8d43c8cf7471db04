//! Response shapes of `/detections` (seed 004 §3) and the person history.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use uuid::Uuid;
use vigil_core::detections::calls::Call;
use vigil_core::detections::provider::Provider;
use vigil_core::detections::store::Row;
use vigil_core::detections::{
    CallKind, CallStatus, DetectionSource, DetectionStatus, ProviderReport, ProviderStatus,
};
use vigil_core::jobs::JobStatus;

use crate::state::ApiState;

/// A face box as seed 004 shows it (source pixels).
#[derive(Debug, Clone, Copy, Object)]
#[oai(rename_all = "camelCase")]
pub struct BoundingBox {
    pub top: f32,
    pub left: f32,
    pub width: f32,
    pub height: f32,
}

/// One face track of a camera.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct FaceDetectionDto {
    pub id: Uuid,
    /// The person's `employeeId` or `studentNumber`: the recognised person (`authorized`), or
    /// for `unknown`, the enrolled person it most resembles (see `reason`).
    pub person_id: Option<String>,
    /// The person's id in the registry (`/faces/{id}`).
    pub person_uuid: Option<Uuid>,
    pub name: Option<String>,
    pub camera_id: String,
    /// Percent (similarity to the person's photos, 50 at the recognition threshold).
    pub confidence: Option<f32>,
    /// When the face was last seen.
    pub timestamp: DateTime<Utc>,
    pub first_seen: DateTime<Utc>,
    /// Frames the face was seen in.
    pub frames: i32,
    pub track_id: String,
    pub bounding_box: BoundingBox,
    /// A link to the face (valid `VIGIL_DOWNLOAD_URL_TTL_SECS`).
    pub thumbnail: Option<String>,
    /// `authorized`, `visitor` or `unknown`.
    pub status: DetectionStatus,
    /// Why an enrolled-looking face was not taken as the person, or why a face is unknown.
    pub reason: Option<String>,
    /// `stream` (the camera's watcher) or `frame` (sent on demand).
    pub source: DetectionSource,
}

impl FaceDetectionDto {
    pub async fn new(state: &ApiState, (d, named): Row) -> Self {
        let thumbnail = match &d.thumbnail_key {
            Some(key) => state
                .ctx
                .storage
                .download_url(key, state.ctx.config.download_url_ttl())
                .await
                .ok(),
            None => None,
        };
        let (name, number) = named.map_or((None, None), |n| (Some(n.name), n.number));
        Self {
            id: d.id,
            person_id: number,
            person_uuid: d.person_id,
            name,
            camera_id: d.camera_id,
            confidence: d.confidence.map(|c| (c * 1000.0).round() / 10.0),
            timestamp: d.last_seen,
            first_seen: d.first_seen,
            frames: d.frames,
            track_id: d.track_id,
            bounding_box: BoundingBox {
                top: d.bbox.y.round(),
                left: d.bbox.x.round(),
                width: d.bbox.width.round(),
                height: d.bbox.height.round(),
            },
            thumbnail,
            status: d.status,
            reason: d.reason,
            source: d.source,
        }
    }
}

/// One call to the detection provider (seed 004's detection event log).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CallDto {
    pub id: Uuid,
    pub camera_id: Option<String>,
    pub camera_name: Option<String>,
    pub timestamp: DateTime<Utc>,
    /// `received`, `processing` or `error`.
    pub status: CallStatus,
    /// `frame` (sent on demand) or `test`.
    pub kind: CallKind,
    pub latency_ms: Option<i32>,
    /// What the provider answered: the faces found, with their detections.
    pub payload: Option<serde_json::Value>,
    pub error_message: Option<String>,
    pub job_id: Option<Uuid>,
}

impl From<Call> for CallDto {
    fn from(c: Call) -> Self {
        Self {
            id: c.id,
            camera_id: c.camera_id,
            camera_name: c.camera_name,
            timestamp: c.occurred_at,
            status: c.status,
            kind: c.kind,
            latency_ms: c.latency_ms,
            payload: c.payload,
            error_message: c.error_message,
            job_id: c.job_id,
        }
    }
}

/// The detection provider's settings and health.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ProviderDto {
    pub provider_name: String,
    /// `builtin` (the workers' own models) or an external provider's URL, credentials and
    /// tokens in it shown as `***` (sending it back unchanged keeps it).
    pub endpoint: String,
    /// `***` when an external provider has a key (never the key itself).
    pub api_key: Option<String>,
    pub enabled: bool,
    /// `connected`, `degraded` (slower than 2 s) or `offline`.
    pub status: ProviderStatus,
    pub last_heartbeat: Option<DateTime<Utc>>,
    pub average_latency_ms: Option<i32>,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

impl From<Provider> for ProviderDto {
    fn from(p: Provider) -> Self {
        Self {
            provider_name: p.provider_name,
            endpoint: vigil_core::egress::redact(&p.endpoint),
            api_key: p.api_key.map(|_| "***".to_string()),
            enabled: p.enabled,
            status: p.status,
            last_heartbeat: p.last_heartbeat,
            average_latency_ms: p.average_latency_ms,
            version: p.version,
            updated_at: p.updated_at,
        }
    }
}

/// `PUT /detections/provider/config`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ProviderBody {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub provider_name: Option<String>,
    /// `builtin`, or an external provider's `http(s)` URL (checked like camera URLs).
    #[oai(validator(max_length = 2048))]
    pub endpoint: Option<String>,
    /// An external provider's key, sent as `Authorization: Bearer`; `""` removes it, `***`
    /// keeps it. The built-in provider takes none.
    #[oai(validator(max_length = 512))]
    pub api_key: Option<String>,
    /// Off: no frames are sent on demand and tests report `offline` (camera watchers keep
    /// their per-camera switch).
    pub enabled: Option<bool>,
    /// The version read; a provider changed since gets 409.
    pub version: Option<i32>,
}

/// `POST /detections/test-provider` (seed 004's `{status, latencyMs, message}`).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ProviderTestDto {
    pub status: ProviderStatus,
    pub latency_ms: Option<u64>,
    pub message: String,
    pub job_id: Uuid,
}

impl ProviderTestDto {
    pub fn new(r: ProviderReport, job_id: Uuid) -> Self {
        Self {
            status: r.status,
            latency_ms: r.latency_ms,
            message: r.message,
            job_id,
        }
    }
}

/// `POST /detections/send-frame`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SendFrameBody {
    #[oai(validator(min_length = 1, max_length = 50))]
    pub camera_id: String,
}

/// The queued detection job (seed 004's `{jobId, status}`); poll `/jobs/{jobId}`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct FrameQueuedDto {
    pub job_id: Uuid,
    pub status: JobStatus,
}
