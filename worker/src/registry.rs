//! Which handler runs which job kind. A handler names its payload type, the payload names its
//! kind (`JobPayload::KIND`), so registering a handler is all it takes to pair the three; the
//! registry deserialises each job's payload for its handler (the shape of crates.io's
//! `BackgroundJob` and `JobRegistry`).

use std::collections::HashMap;
use std::sync::Arc;

use vigil_core::jobs::JobPayload;

use crate::context::{JobContext, JobError, Outcome};

/// Runs jobs of one kind.
#[async_trait::async_trait]
pub trait Handler: Default + Send + Sync + 'static {
    type Payload: JobPayload;

    async fn run(&self, job: &JobContext, payload: Self::Payload) -> Result<Outcome, JobError>;
}

/// A handler with its payload type erased, so handlers of every kind fit in one map.
#[async_trait::async_trait]
trait AnyHandler: Send + Sync {
    async fn run_json(&self, job: &JobContext) -> Result<Outcome, JobError>;
}

#[async_trait::async_trait]
impl<H: Handler> AnyHandler for H {
    async fn run_json(&self, job: &JobContext) -> Result<Outcome, JobError> {
        // A payload that does not fit its kind will not fit on a retry either.
        let payload: H::Payload = serde_json::from_value(job.job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("invalid payload: {e}")))?;
        self.run(job, payload).await
    }
}

#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<&'static str, Arc<dyn AnyHandler>>,
}

impl Registry {
    /// Registers `H` for its payload's kind. Registering a kind twice is a programming error.
    pub fn register<H: Handler>(&mut self) -> &mut Self {
        let kind = <H::Payload as JobPayload>::KIND.name;
        let previous = self.handlers.insert(kind, Arc::new(H::default()));
        assert!(previous.is_none(), "job kind {kind} registered twice");
        self
    }

    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.handlers.keys().copied()
    }

    /// Runs `job` with its kind's handler.
    pub async fn run(&self, job: &JobContext) -> Result<Outcome, JobError> {
        match self.handlers.get(job.job.kind.as_str()) {
            Some(handler) => handler.run_json(job).await,
            None => Err(JobError::Permanent(format!(
                "no handler for job kind {:?} on this worker",
                job.job.kind
            ))),
        }
    }
}
