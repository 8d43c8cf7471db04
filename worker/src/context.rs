//! What a handler sees of its job: the payload, progress reporting, checkpoints, and the
//! signals to stop (cancel, pause, shutdown, lost lease).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use vigil_core::AppContext;
use vigil_core::jobs::store::{self, Progress};
use vigil_core::jobs::{Job, NewJob};

/// How a run stopped short of success.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt (a dependency was down, a timeout).
    #[error("{0}")]
    Retryable(String),
    /// Will fail again however often it runs (bad input): no retry.
    #[error("{0}")]
    Permanent(String),
    #[error("cancelled")]
    Cancelled,
    #[error("paused")]
    Paused,
    /// The worker is shutting down; the job goes back to the queue without using an attempt.
    #[error("interrupted by worker shutdown")]
    Interrupted,
}

impl From<vigil_core::Error> for JobError {
    fn from(e: vigil_core::Error) -> Self {
        match e {
            vigil_core::Error::Validation { .. } | vigil_core::Error::NotFound(_) => {
                JobError::Permanent(e.to_string())
            }
            other => JobError::Retryable(other.to_string()),
        }
    }
}

/// How a successful run ended.
#[derive(Debug)]
pub enum Outcome {
    Done(Value),
    /// The job spawned child jobs and completes when they do.
    AwaitChildren,
}

#[async_trait::async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn run(&self, job: &JobContext) -> Result<Outcome, JobError>;
}

#[derive(Clone)]
pub struct Signals {
    pub cancel: CancellationToken,
    pub pause: CancellationToken,
    pub shutdown: CancellationToken,
}

#[derive(Clone)]
pub struct JobContext {
    pub job: Arc<Job>,
    pub app: AppContext,
    pub(crate) owner: String,
    pub(crate) progress: Arc<Mutex<Progress>>,
    pub(crate) signals: Signals,
    started: Instant,
}

impl JobContext {
    pub(crate) fn new(job: Job, app: AppContext, owner: String, signals: Signals) -> Self {
        let progress = Progress {
            percent: job.progress,
            stage: job.stage.clone(),
            counters: job.counters.clone(),
            eta_at: None,
        };
        Self {
            job: Arc::new(job),
            app,
            owner,
            progress: Arc::new(Mutex::new(progress)),
            signals,
            started: Instant::now(),
        }
    }

    /// The payload as `T`; a payload that does not fit fails the job permanently.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, JobError> {
        serde_json::from_value(self.job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("invalid payload: {e}")))
    }

    /// The checkpoint saved by an earlier, interrupted run.
    pub fn checkpoint<T: DeserializeOwned>(&self) -> Option<T> {
        self.job
            .checkpoint
            .clone()
            .and_then(|c| serde_json::from_value(c).ok())
    }

    /// Reports progress (0–100) and the current stage; stored with the next heartbeat (≤ 1 s).
    /// The ETA is extrapolated from the rate so far.
    pub fn progress(&self, percent: f32, stage: &str) {
        let percent = percent.clamp(0.0, 100.0);
        let eta_at = (percent > 0.5 && percent < 100.0).then(|| {
            let elapsed = self.started.elapsed().as_secs_f32();
            let remaining = elapsed * (100.0 - percent) / percent;
            Utc::now() + Duration::from_secs_f32(remaining)
        });
        if let Ok(mut p) = self.progress.lock() {
            p.percent = percent;
            p.stage = Some(stage.to_string());
            p.eta_at = eta_at;
        }
    }

    pub fn counters(&self, counters: Value) {
        if let Ok(mut p) = self.progress.lock() {
            p.counters = Some(counters);
        }
    }

    pub(crate) fn snapshot(&self) -> Progress {
        self.progress.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Saves where to resume from after a pause or crash.
    pub async fn save_checkpoint(&self, checkpoint: Value) -> Result<(), JobError> {
        let mut conn = self.app.db.get().await.map_err(vigil_core::Error::from)?;
        if store::save_checkpoint(&mut conn, self.job.id, &self.owner, &checkpoint).await? {
            Ok(())
        } else {
            Err(JobError::Cancelled)
        }
    }

    /// `Err` when the job should stop now: cancelled, paused (pausable kinds) or shutting down.
    /// Call it between units of work.
    pub fn check(&self) -> Result<(), JobError> {
        if self.signals.cancel.is_cancelled() {
            Err(JobError::Cancelled)
        } else if self.signals.pause.is_cancelled() {
            Err(JobError::Paused)
        } else if self.signals.shutdown.is_cancelled() {
            Err(JobError::Interrupted)
        } else {
            Ok(())
        }
    }

    /// Sleeps, waking early (with the reason) when the job must stop.
    pub async fn sleep(&self, duration: Duration) -> Result<(), JobError> {
        tokio::select! {
            _ = tokio::time::sleep(duration) => self.check(),
            _ = self.signals.cancel.cancelled() => Err(JobError::Cancelled),
            _ = self.signals.pause.cancelled() => Err(JobError::Paused),
            _ = self.signals.shutdown.cancelled() => Err(JobError::Interrupted),
        }
    }

    /// Submits a child job; the parent's progress and outcome follow its children.
    pub async fn spawn_child(&self, child: NewJob) -> Result<Job, JobError> {
        let mut conn = self.app.db.get().await.map_err(vigil_core::Error::from)?;
        let child = child.parent(self.job.id).created_by(self.job.created_by);
        let (job, _) = store::submit(&mut conn, child).await?;
        Ok(job)
    }
}
