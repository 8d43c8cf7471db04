//! Cameras: the registry of live video sources (DESIGN §9). A camera's stream URL and
//! credentials are sealed at rest and never shown; every URL passes the egress gate when it
//! is registered (`input`) and again in the worker right before each connection.
//!
//! `input` validates what clients send (one draft, or a whole import file with per-row
//! errors); `store` reads and writes the rows (optimistic `version`, generated `CAM-01` ids);
//! `roi` is the counting region of interest.

pub mod counts;
pub mod frames;
pub mod health;
mod input;
pub mod jobs;
pub mod observed;
mod roi;
pub mod snapshots;
pub mod store;
pub mod watchers;

pub use input::{CameraDraft, CheckedCamera, FieldError, RowErrors, check_import, valid_id};
pub use jobs::{ConnectionReport, SnapshotJob, SnapshotResult, TestConnectionJob, WatchJob};
pub use roi::{Roi, RoiPoint};
pub use store::{
    CameraFilter, StateChange, create, delete, existing_ids, export, find_by_address, get, import,
    list, set_state, update,
};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::auth::Sealer;
use crate::db::schema::cameras;
use crate::db::text_enum::text_enum;
use crate::egress::{self, StreamScheme};
use crate::error::Result;

text_enum! {
    /// What the camera's watcher last saw: frames (`online`), none for a while (`offline`),
    /// or taken out of service by an operator (`maintenance`: not watched, no alerts).
    pub enum CameraStatus {
        Online = "online",
        Offline = "offline",
        Maintenance = "maintenance",
    }
}

text_enum! {
    /// How the camera is reached; the stream URL's scheme must fit it.
    pub enum StreamType {
        /// `rtsp://` (or `rtsps://` where allowed): IP cameras and NVRs.
        Rtsp = "RTSP",
        /// `http://` / `https://`: MPEG-TS, MJPEG or FLV over HTTP.
        Http = "HTTP",
        /// `rtmp://` / `rtmps://`.
        Rtmp = "RTMP",
        /// A capture device on the worker host (`/dev/videoN`, with
        /// `VIGIL_STREAM_ALLOW_DEVICES`).
        Usb = "USB",
    }
}

impl StreamType {
    /// Whether a URL of `scheme` is a stream of this type.
    pub fn accepts(self, scheme: StreamScheme) -> bool {
        use StreamScheme as S;
        match self {
            StreamType::Rtsp => matches!(scheme, S::Rtsp | S::Rtsps),
            StreamType::Http => matches!(scheme, S::Http | S::Https),
            StreamType::Rtmp => matches!(scheme, S::Rtmp | S::Rtmps),
            StreamType::Usb => scheme == S::Device,
        }
    }
}

/// What sealed camera stream URLs are bound to: the same context as live videos' URLs, so
/// one key rotation story covers both.
pub const STREAM_URL_SEAL: &str = crate::videos::STREAM_URL_SEAL;
/// What sealed camera usernames and passwords are bound to.
pub const CREDENTIAL_SEAL: &str = "camera-credential";
/// How a stored password is shown.
pub const HIDDEN: &str = "***";

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = cameras, check_for_backend(diesel::pg::Pg))]
pub struct Camera {
    pub id: String,
    pub name: String,
    pub location: String,
    pub stream_type: StreamType,
    /// Sealed; see [`Camera::stream_url`].
    #[serde(skip)]
    pub stream_url: String,
    /// Sealed; see [`Camera::username`].
    #[serde(skip)]
    pub username: Option<String>,
    /// Sealed; never opened outside [`Camera::connect_url`].
    #[serde(skip)]
    pub password: Option<String>,
    pub status: CameraStatus,
    pub fps: Option<f64>,
    pub latency_ms: Option<f64>,
    /// Mbit/s.
    pub bitrate: Option<f64>,
    pub resolution: Option<String>,
    pub ip_address: Option<String>,
    pub tags: Vec<String>,
    pub thumbnail_key: Option<String>,
    pub enabled: bool,
    pub sample_fps: f64,
    pub min_confidence: f32,
    pub roi: Option<serde_json::Value>,
    pub watcher_job_id: Option<uuid::Uuid>,
    pub last_seen: Option<DateTime<Utc>>,
    pub last_checked: Option<DateTime<Utc>>,
    pub created_by: Option<uuid::Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    /// Recognise enrolled faces (attendance) from this camera's frames, beside counting.
    pub face_recognition: bool,
    /// Frames per second the face analyser looks at.
    pub face_sample_fps: f64,
}

impl Camera {
    /// The stream URL as registered (credentials written into it included).
    pub fn stream_url(&self, sealer: &Sealer) -> Result<String> {
        sealer.open_str(&self.stream_url, STREAM_URL_SEAL)
    }

    pub fn username(&self, sealer: &Sealer) -> Result<Option<String>> {
        self.username
            .as_deref()
            .map(|u| sealer.open_str(u, CREDENTIAL_SEAL))
            .transpose()
    }

    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// The URL to connect with: the registered one, with the camera's username and password
    /// written in when the URL carries none of its own.
    pub fn connect_url(&self, sealer: &Sealer) -> Result<String> {
        let url = self.stream_url(sealer)?;
        let Some(user) = self.username(sealer)? else {
            return Ok(url);
        };
        let password = self
            .password
            .as_deref()
            .map(|p| sealer.open_str(p, CREDENTIAL_SEAL))
            .transpose()?;
        Ok(with_credentials(&url, &user, password.as_deref()))
    }

    /// The URL as shown: credentials and tokens replaced by `***`.
    pub fn shown_url(&self, sealer: &Sealer) -> String {
        match self.stream_url(sealer) {
            Ok(url) => egress::redact(&url),
            Err(e) => {
                tracing::error!(camera = %self.id, error = %e, "stream URL does not open");
                "(unreadable)".into()
            }
        }
    }

    /// The counting region, if one is set.
    pub fn roi(&self) -> Option<Roi> {
        self.roi
            .clone()
            .and_then(|v| serde_json::from_value(v).ok())
    }
}

/// `url` with `user:password@` in its authority, unless it already has user info (the URL's
/// own credentials win) or is not a URL (a device path).
fn with_credentials(url: &str, user: &str, password: Option<&str>) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_string();
    };
    if !parsed.username().is_empty() || parsed.host().is_none() {
        return url.to_string();
    }
    if parsed.set_username(user).is_err() || parsed.set_password(password).is_err() {
        return url.to_string();
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_written_into_urls_without_their_own() {
        assert_eq!(
            with_credentials("rtsp://10.0.0.5:554/stream", "admin", Some("p@ss:w/rd")),
            "rtsp://admin:p%40ss%3Aw%2Frd@10.0.0.5:554/stream"
        );
        assert_eq!(
            with_credentials("rtsp://own:pw@10.0.0.5/s", "admin", Some("x")),
            "rtsp://own:pw@10.0.0.5/s"
        );
        assert_eq!(
            with_credentials("http://10.0.0.5/live.ts", "viewer", None),
            "http://viewer@10.0.0.5/live.ts"
        );
        assert_eq!(
            with_credentials("/dev/video0", "u", Some("p")),
            "/dev/video0"
        );
    }

    #[test]
    fn stream_types_accept_their_schemes_only() {
        assert!(StreamType::Rtsp.accepts(StreamScheme::Rtsp));
        assert!(StreamType::Http.accepts(StreamScheme::Https));
        assert!(!StreamType::Rtsp.accepts(StreamScheme::Http));
        assert!(!StreamType::Http.accepts(StreamScheme::Device));
        assert!(StreamType::Usb.accepts(StreamScheme::Device));
    }
}
