//! The camera job kinds' payloads and results: a connection test, a snapshot, and the
//! long-running watcher (one per enabled camera).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::jobs::{JobPayload, KindSpec, kinds};

/// `camera.test`: opens the stream, decodes, measures.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestConnectionJob {
    pub camera_id: String,
}

impl JobPayload for TestConnectionJob {
    const KIND: &'static KindSpec = &kinds::CAMERA_TEST;
}

/// What a connection test found (seed 004's `{success, latencyMs, bitrate, message}`, plus
/// the figures stored on the camera).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionReport {
    pub success: bool,
    /// From starting to connect to the first decoded frame.
    pub latency_ms: Option<u64>,
    /// Mbit/s over the measuring period.
    pub bitrate: Option<f64>,
    /// Frames per second decoded over the measuring period.
    pub fps: Option<f64>,
    /// `1280x720`.
    pub resolution: Option<String>,
    pub codec: Option<String>,
    /// `Connection OK`, or why it failed.
    pub message: String,
}

/// `camera.snapshot`: one decoded frame as a JPEG in storage; the camera's thumbnail.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotJob {
    pub camera_id: String,
}

impl JobPayload for SnapshotJob {
    const KIND: &'static KindSpec = &kinds::CAMERA_SNAPSHOT;
}

/// A stored snapshot (seed 004's `{assetId, url, timestamp}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotResult {
    /// The storage key (`snapshots/{camera}/{unix ms}.jpg`): the asset's stable name.
    pub asset_id: String,
    /// A download link, valid for `VIGIL_DOWNLOAD_URL_TTL_SECS` from the snapshot; the
    /// camera's `thumbnail` always carries a fresh one.
    pub url: String,
    pub timestamp: DateTime<Utc>,
    pub width: u32,
    pub height: u32,
}

/// `camera.watch`: holds the camera's one stream connection, decodes once, and feeds every
/// analyser (people counting now) until the camera is disabled or deleted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchJob {
    pub camera_id: String,
}

impl JobPayload for WatchJob {
    const KIND: &'static KindSpec = &kinds::CAMERA_WATCH;
}
