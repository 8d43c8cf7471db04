//! The payloads of the periodic maintenance jobs the scheduler enqueues. The tick they were
//! enqueued for makes each one unique (see the scheduler's idempotency keys).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::jobs::{JobPayload, KindSpec, kinds};

/// Retention: old jobs, expired exports (with their objects), old audit rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanupJob {
    pub tick: Option<DateTime<Utc>>,
}

impl JobPayload for CleanupJob {
    const KIND: &'static KindSpec = &kinds::CLEANUP;
}

/// Records the health of every dependency and raises or resolves alerts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthJob {
    pub tick: Option<DateTime<Utc>>,
}

impl JobPayload for HealthJob {
    const KIND: &'static KindSpec = &kinds::HEALTH;
}
