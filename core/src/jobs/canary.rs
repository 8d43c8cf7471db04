//! The canary: a diagnostic job that sleeps in checkpointed steps and can be told to fail,
//! panic, or reach SMTP and storage at the end. Ops submit it to check the pipeline end to
//! end; tests use it for slow, failing and cancellable work.

use serde::{Deserialize, Serialize};

use super::{JobPayload, KindSpec, kinds};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CanaryJob {
    /// Total running time, slept in steps of `step_ms` (checkpointed, so pause/resume
    /// continues).
    #[serde(default)]
    pub duration_ms: u64,
    #[serde(default = "default_step")]
    pub step_ms: u64,
    /// Fail every attempt (retryable), to exercise retries and the dead letter.
    #[serde(default)]
    pub fail: bool,
    #[serde(default)]
    pub panic: bool,
    /// At the end, email this address through the outbox and write an object to storage:
    /// checks that workers reach SMTP and storage, each effect exactly once.
    #[serde(default)]
    pub notify: Option<String>,
}

fn default_step() -> u64 {
    250
}

impl Default for CanaryJob {
    fn default() -> Self {
        Self {
            duration_ms: 0,
            step_ms: default_step(),
            fail: false,
            panic: false,
            notify: None,
        }
    }
}

impl JobPayload for CanaryJob {
    const KIND: &'static KindSpec = &kinds::CANARY;
}
