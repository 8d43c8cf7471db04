//! Faces seen by cameras (seed 004 §3): a camera's watcher follows each face over several
//! frames and decides once per track who it is (`classify`), storing one detection per track
//! (`store`) and, for enrolled people, an attendance event with the detection as evidence.
//! `send-frame` asks for one frame on demand; every such call and every provider test is
//! logged (`calls`); the provider's state is a singleton row (`provider`).

pub mod calls;
pub mod classify;
pub mod provider;
pub mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::text_enum::text_enum;
use crate::jobs::{JobPayload, KindSpec, kinds};

text_enum! {
    /// Who a detected face is, as far as the cameras can tell.
    pub enum DetectionStatus {
        /// An enrolled person, recognised with confidence.
        Authorized = "authorized",
        /// A clear face of nobody enrolled.
        Visitor = "visitor",
        /// Could not be told: too small or poor to judge, or an enrolled person the recognizer
        /// was not sure of (a reviewer decides; the nearest person is named).
        Unknown = "unknown",
    }
}

text_enum! {
    /// How a detection was made.
    pub enum DetectionSource {
        /// The camera's watcher, continuously.
        Stream = "stream",
        /// One frame sent on demand (`POST /detections/send-frame`).
        Frame = "frame",
    }
}

text_enum! {
    /// A call to the detection provider.
    pub enum CallKind {
        Frame = "frame",
        Test = "test",
    }
}

text_enum! {
    /// How a call to the detection provider went (seed 004's event log statuses).
    pub enum CallStatus {
        Received = "received",
        Processing = "processing",
        Error = "error",
    }
}

text_enum! {
    /// The provider's health, from its last test or call.
    pub enum ProviderStatus {
        Connected = "connected",
        /// Answering, but slower than `provider::DEGRADED_AFTER_MS`.
        Degraded = "degraded",
        Offline = "offline",
    }
}

/// `detections.frame`: one decoded frame of a camera, its faces recognised and stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FrameJob {
    pub camera_id: String,
}

impl JobPayload for FrameJob {
    const KIND: &'static KindSpec = &kinds::DETECTIONS_FRAME;
}

/// `detections.test`: runs the provider on a probe image and records its latency.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderTestJob {}

impl JobPayload for ProviderTestJob {
    const KIND: &'static KindSpec = &kinds::DETECTIONS_TEST;
}

/// What a provider test found (seed 004's `{status, latencyMs, message}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProviderReport {
    pub status: ProviderStatus,
    pub latency_ms: Option<u64>,
    pub message: String,
    pub tested_at: DateTime<Utc>,
}

/// The alert kind for faces nobody enrolled resembles.
pub const UNKNOWN_FACE_ALERT: &str = "unknown_face";

/// Raises an unknown-face alert for a camera, unless one was raised for it within
/// `cooldown_secs` (or is still open): a crowd of visitors is one alert, not one per face.
pub async fn alert_unknown_face(
    conn: &mut diesel_async::AsyncPgConnection,
    camera: (&str, &str),
    detection: uuid::Uuid,
    cooldown_secs: u64,
) -> crate::Result<bool> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;

    use crate::db::schema::alerts;

    let since = Utc::now() - chrono::Duration::seconds(cooldown_secs.min(i64::MAX as u64) as i64);
    let recent: i64 = alerts::table
        .filter(alerts::kind.eq(UNKNOWN_FACE_ALERT))
        .filter(alerts::source.eq(camera.0))
        .filter(alerts::created_at.gt(since))
        .count()
        .get_result(conn)
        .await?;
    if recent > 0 {
        return Ok(false);
    }
    let (id, name) = camera;
    crate::alerts::raise(
        conn,
        UNKNOWN_FACE_ALERT,
        id,
        crate::severity::Severity::Info,
        &format!("Camera {id} ({name}) sees a face nobody enrolled resembles"),
        Some(serde_json::json!({ "cameraId": id, "detectionId": detection })),
    )
    .await
}
