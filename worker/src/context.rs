//! What a handler sees of its job: progress reporting, checkpoints, a database connection,
//! and the signals to stop (cancel, pause, shutdown, lost lease). Its payload arrives typed
//! (see `registry`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use vigil_core::AppContext;
use vigil_core::db::DbConn;
use vigil_core::egress::EgressPolicy;
use vigil_core::jobs::lease::{self, Progress};
use vigil_core::jobs::{Job, NewJob, store};

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
    /// Nothing to do: what the job was about is gone (deleted meanwhile). The job succeeds
    /// with `{"skipped": reason}`.
    #[error("skipped: {0}")]
    Skip(&'static str),
}

/// `NotFound` → skip: a job whose subject was deleted while it waited has nothing to do.
pub trait OrSkip<T> {
    fn or_skip(self, reason: &'static str) -> Result<T, JobError>;
}

impl<T> OrSkip<T> for vigil_core::Result<T> {
    fn or_skip(self, reason: &'static str) -> Result<T, JobError> {
        match self {
            Ok(v) => Ok(v),
            Err(vigil_core::Error::NotFound(_)) => Err(JobError::Skip(reason)),
            Err(e) => Err(e.into()),
        }
    }
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
    /// The job's result, shown to whoever reads the job.
    Done(Value),
    /// The job spawned child jobs and completes when they do.
    AwaitChildren,
}

impl Outcome {
    pub fn done(result: &impl serde::Serialize) -> Self {
        Outcome::Done(serde_json::to_value(result).unwrap_or(Value::Null))
    }
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
    /// What stream URLs this worker may open (see `crate::media`).
    pub egress: Arc<EgressPolicy>,
    pub(crate) owner: String,
    pub(crate) progress: Arc<Mutex<Progress>>,
    pub(crate) signals: Signals,
    started: Instant,
}

impl JobContext {
    pub(crate) fn new(
        job: Job,
        app: AppContext,
        egress: Arc<EgressPolicy>,
        owner: String,
        signals: Signals,
    ) -> Self {
        let progress = Progress {
            percent: job.progress,
            stage: job.stage.clone(),
            counters: job.counters.clone(),
            eta_at: None,
        };
        Self {
            job: Arc::new(job),
            app,
            egress,
            owner,
            progress: Arc::new(Mutex::new(progress)),
            signals,
            started: Instant::now(),
        }
    }

    /// A pooled database connection. Hold it only around queries, not across model runs or
    /// network calls: the pool is shared by every job of the process.
    pub async fn db(&self) -> Result<DbConn, JobError> {
        Ok(self.app.db.get().await.map_err(vigil_core::Error::from)?)
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

    /// Figures shown with the job's progress (and read by a parent summarising its children).
    pub fn counters(&self, counters: &impl serde::Serialize) {
        let Ok(counters) = serde_json::to_value(counters) else {
            return;
        };
        if let Ok(mut p) = self.progress.lock() {
            p.counters = Some(counters);
        }
    }

    pub(crate) fn snapshot(&self) -> Progress {
        self.progress.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Saves where to resume from after a pause or crash.
    pub async fn save_checkpoint(
        &self,
        checkpoint: &impl serde::Serialize,
    ) -> Result<(), JobError> {
        let checkpoint = serde_json::to_value(checkpoint)
            .map_err(|e| JobError::Permanent(format!("checkpoint not serialisable: {e}")))?;
        let mut conn = self.db().await?;
        if lease::save_checkpoint(&mut conn, self.job.id, &self.owner, &checkpoint).await? {
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
        let mut conn = self.db().await?;
        let child = child.parent(self.job.id).created_by(self.job.created_by);
        let (job, _) = store::submit(&mut conn, child).await?;
        Ok(job)
    }
}
