//! What the camera routes send and receive (seed 004 §2's field names), and pure conversions
//! from core types. Thumbnail links are signed by the caller and passed in.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use vigil_core::auth::Sealer;
use vigil_core::cameras::{Camera, CameraDraft, CameraStatus, HIDDEN, RoiPoint, StreamType};

use crate::error::ApiError;
use crate::params::Choice;

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CameraDto {
    pub id: String,
    pub name: String,
    pub location: String,
    pub stream_type: StreamType,
    /// The URL with credentials and tokens replaced by `***`.
    pub stream_url: String,
    pub username: Option<String>,
    /// `***` when a password is stored; never the password.
    pub password: Option<String>,
    /// `online`, `offline` or `maintenance`.
    pub status: CameraStatus,
    /// Frames per second the stream delivers (last measured).
    pub fps: Option<f64>,
    /// Milliseconds from connecting to the first decoded frame (last measured).
    pub latency: Option<f64>,
    /// Mbit/s (last measured).
    pub bitrate: Option<f64>,
    /// `1920x1080`.
    pub resolution: Option<String>,
    pub last_seen: Option<DateTime<Utc>>,
    pub last_checked: Option<DateTime<Utc>>,
    pub ip_address: Option<String>,
    pub tags: Vec<String>,
    /// A download link to the latest snapshot.
    pub thumbnail: Option<String>,
    pub enabled: bool,
    /// Frames analysed per second for counting.
    pub sample_fps: f64,
    /// Person detector score a detection needs to count.
    pub min_confidence: f64,
    /// Counting region (frame fractions); persons whose box centre is outside are not counted.
    pub roi: Option<Vec<RoiPoint>>,
    /// Enrolled faces are recognised on this camera (live detections, attendance).
    pub face_recognition: bool,
    /// Frames per second the face analyser looks at.
    pub face_sample_fps: f64,
    /// The `camera.watch` job that holds (or last held) the camera's stream.
    pub watcher_job_id: Option<uuid::Uuid>,
    /// Send it back with `PUT`: a stale version gets 409.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CameraDto {
    pub fn new(c: Camera, sealer: &Sealer, thumbnail: Option<String>) -> Self {
        let username = c.username(sealer).unwrap_or_else(|e| {
            tracing::error!(camera = %c.id, error = %e, "camera username does not open");
            None
        });
        Self {
            stream_url: c.shown_url(sealer),
            password: c.has_password().then(|| HIDDEN.to_string()),
            roi: c.roi().map(|r| r.0),
            username,
            id: c.id,
            name: c.name,
            location: c.location,
            stream_type: c.stream_type,
            status: c.status,
            fps: c.fps,
            latency: c.latency_ms,
            bitrate: c.bitrate,
            resolution: c.resolution,
            last_seen: c.last_seen,
            last_checked: c.last_checked,
            ip_address: c.ip_address,
            tags: c.tags,
            thumbnail,
            enabled: c.enabled,
            sample_fps: c.sample_fps,
            // Stored as f32: shown as the value set, not its binary expansion.
            min_confidence: (f64::from(c.min_confidence) * 1000.0).round() / 1000.0,
            face_recognition: c.face_recognition,
            face_sample_fps: c.face_sample_fps,
            watcher_job_id: c.watcher_job_id,
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A camera as `POST /cameras`, `PUT /cameras/{id}` and each row of an import take it (and
/// as export writes it).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CameraBody {
    /// Optional on create (`CAM-01`, `CAM-02`… is generated); letters, digits, `-`, `_`.
    #[oai(skip_serializing_if_is_none)]
    pub id: Option<String>,
    pub name: String,
    #[oai(skip_serializing_if_is_none)]
    pub location: Option<String>,
    /// `RTSP`, `HTTP`, `RTMP` or `USB`; the URL's scheme must fit it.
    pub stream_type: Choice<StreamType>,
    /// `rtsp://host:554/stream`, `http://host/live.ts`, `rtmp://…`, or `/dev/videoN` for USB.
    /// It must point at an address the deployment allows (`VIGIL_STREAM_ALLOW_CIDRS`; never
    /// loopback, link-local or the deployment's own services). A `PUT` may send back the
    /// redacted URL it read to keep the stored one.
    pub stream_url: String,
    #[oai(skip_serializing_if_is_none)]
    pub username: Option<String>,
    /// Stored sealed, shown as `***`. Omitted or `***`: unchanged; `""`: removed.
    #[oai(skip_serializing_if_is_none)]
    pub password: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub tags: Option<Vec<String>>,
    /// Watched and counted while enabled (default true).
    #[oai(skip_serializing_if_is_none)]
    pub enabled: Option<bool>,
    /// Frames analysed per second for counting (default 1, at most 10).
    #[oai(skip_serializing_if_is_none)]
    pub sample_fps: Option<f64>,
    /// Person detector score needed to count (default 0.3).
    #[oai(skip_serializing_if_is_none)]
    pub min_confidence: Option<f32>,
    /// Counting region: 3–64 points in frame fractions; `[]` removes it.
    #[oai(skip_serializing_if_is_none)]
    pub roi: Option<Vec<RoiPoint>>,
    /// Recognise enrolled faces on this camera (default false).
    #[oai(skip_serializing_if_is_none)]
    pub face_recognition: Option<bool>,
    /// Frames per second the face analyser looks at (default 2, at most 10).
    #[oai(skip_serializing_if_is_none)]
    pub face_sample_fps: Option<f64>,
    /// `PUT` only: the version read; a camera changed since gets 409.
    #[oai(skip_serializing_if_is_none)]
    pub version: Option<i32>,
}

impl CameraBody {
    pub fn into_draft(self) -> Result<CameraDraft, ApiError> {
        Ok(CameraDraft {
            stream_type: self.stream_type.get("streamType")?,
            id: self.id,
            name: self.name,
            location: self.location,
            stream_url: self.stream_url,
            username: self.username,
            password: self.password,
            tags: self.tags,
            enabled: self.enabled,
            sample_fps: self.sample_fps,
            min_confidence: self.min_confidence,
            face_recognition: self.face_recognition,
            face_sample_fps: self.face_sample_fps,
            roi: self.roi,
        })
    }

    /// The camera as export writes it: everything import needs except the password.
    pub fn exported(c: &Camera, sealer: &Sealer) -> Self {
        Self {
            id: Some(c.id.clone()),
            name: c.name.clone(),
            location: Some(c.location.clone()),
            stream_type: Choice::of(c.stream_type),
            stream_url: c.shown_url(sealer),
            username: c.username(sealer).ok().flatten(),
            password: None,
            tags: Some(c.tags.clone()),
            enabled: Some(c.enabled),
            sample_fps: Some(c.sample_fps),
            min_confidence: Some(c.min_confidence),
            roi: c.roi().map(|r| r.0),
            face_recognition: Some(c.face_recognition),
            face_sample_fps: Some(c.face_sample_fps),
            version: None,
        }
    }
}

/// `PATCH /cameras/{id}/state`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct StateBody {
    pub enabled: Option<bool>,
    /// `true`: out of service (`maintenance`: not watched, no alerts); `false`: back.
    pub maintenance: Option<bool>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ImportResult {
    pub imported: u32,
    pub cameras: Vec<CameraDto>,
}
