//! Runs one delivered job: claim the row under a lease, heartbeat it, run the kind's handler
//! (panics included), record the outcome with retry/backoff, update the parent, acknowledge the
//! message. The handler's return value to apalis is always `Ok`: retries are Vigil's, decided
//! here from the kind's max attempts, never the transport's.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use apalis_core::task::data::Data;
use chrono::Utc;
use rand::Rng;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use vigil_core::AppContext;
use vigil_core::egress::EgressPolicy;
use vigil_core::jobs::family;
use vigil_core::jobs::lease::{self, Finish};
use vigil_core::jobs::stream::{self, Delivery};

use crate::context::{JobContext, JobError, Outcome, Signals};
use crate::registry::Registry;

const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

pub struct Runtime {
    pub app: AppContext,
    egress: Arc<EgressPolicy>,
    pub owner: String,
    handlers: Arc<Registry>,
    /// Fired when the worker shuts down and the grace period ran out.
    pub(crate) interrupt: CancellationToken,
    running: AtomicUsize,
    idle: Notify,
}

impl Runtime {
    pub fn new(
        app: AppContext,
        egress: EgressPolicy,
        owner: String,
        handlers: Arc<Registry>,
    ) -> Self {
        Self {
            app,
            egress: Arc::new(egress),
            owner,
            handlers,
            interrupt: CancellationToken::new(),
            running: AtomicUsize::new(0),
            idle: Notify::new(),
        }
    }

    /// Waits until no job runs, or `grace` passes; then interrupts what still runs (those jobs
    /// go back to the queue) and waits for them to record that.
    pub async fn drain(&self, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        while self.running.load(Ordering::SeqCst) > 0 {
            if tokio::time::timeout_at(deadline, self.idle.notified())
                .await
                .is_err()
            {
                tracing::warn!(
                    running = self.running.load(Ordering::SeqCst),
                    "grace period over; interrupting running jobs"
                );
                self.interrupt.cancel();
                while self.running.load(Ordering::SeqCst) > 0 {
                    let _ = tokio::time::timeout(Duration::from_millis(200), self.idle.notified())
                        .await;
                }
                return;
            }
        }
    }

    fn backoff(&self, attempt: i32) -> Duration {
        let base = self.app.config.job_retry_base_ms as f64;
        let max = self.app.config.job_retry_max_ms as f64;
        let exp = base * 2f64.powi((attempt - 1).clamp(0, 30));
        let jitter = rand::rng().random_range(0.75..1.25);
        Duration::from_millis((exp.min(max) * jitter) as u64)
    }

    async fn ack(&self, d: &Delivery) {
        if let Err(e) = stream::ack(&self.app.redis, &d.queue, &d.message_id).await {
            // The reconciler and claim checks make a leftover entry harmless.
            tracing::warn!(error = %e, job = %d.job_id, "could not acknowledge stream entry");
        }
    }

    /// Handles one delivery end to end.
    pub async fn handle(&self, d: Delivery) {
        self.running.fetch_add(1, Ordering::SeqCst);
        if let Err(e) = self.handle_inner(&d).await {
            // PostgreSQL unavailable mid-run: the lease expires and the job is recovered.
            tracing::error!(error = %e, job = %d.job_id, "job bookkeeping failed");
        }
        if self.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }

    async fn handle_inner(&self, d: &Delivery) -> vigil_core::Result<()> {
        let lease = self.app.config.job_lease();
        let job = {
            let mut conn = self.app.db.get().await?;
            lease::claim(&mut conn, d.job_id, &self.owner, lease, &d.message_id).await?
        };
        let Some(job) = job else {
            // Duplicate or stale message: the job is held by a live worker, finished, paused
            // or cancelled.
            self.ack(d).await;
            return Ok(());
        };
        let kind = job.kind.clone();
        let attempts = job.attempts;
        let max_attempts = job.max_attempts;
        let parent = job.parent_id;
        tracing::info!(job = %job.id, kind = %kind, attempt = attempts, "job started");
        metrics::counter!("vigil_jobs_started_total", "kind" => kind.clone()).increment(1);
        let started = Instant::now();

        let signals = Signals {
            cancel: CancellationToken::new(),
            pause: CancellationToken::new(),
            shutdown: self.interrupt.child_token(),
        };
        let job_ctx = JobContext::new(
            job,
            self.app.clone(),
            self.egress.clone(),
            self.owner.clone(),
            signals.clone(),
        );
        let lease_lost = CancellationToken::new();
        let heartbeat = tokio::spawn(heartbeat_loop(job_ctx.clone(), lease, lease_lost.clone()));

        let handlers = self.handlers.clone();
        let run_ctx = job_ctx.clone();
        // A separate task so a panicking handler becomes an error, not a dead worker.
        let outcome = match tokio::spawn(async move { handlers.run(&run_ctx).await }).await {
            Ok(result) => result,
            Err(join) if join.is_panic() => Err(JobError::Retryable(format!(
                "handler panicked: {}",
                panic_message(join.into_panic())
            ))),
            Err(_) => Err(JobError::Interrupted),
        };
        heartbeat.abort();

        if lease_lost.is_cancelled() {
            tracing::warn!(job = %d.job_id, "lease lost while running; the new holder's outcome counts");
            self.ack(d).await;
            return Ok(());
        }
        // A cancel request wins over whatever the handler made of it.
        let outcome = if signals.cancel.is_cancelled() {
            Err(JobError::Cancelled)
        } else {
            outcome
        };
        let (finish, label) = match outcome {
            Ok(Outcome::Done(result)) => (Finish::Succeeded(result), "succeeded"),
            Ok(Outcome::AwaitChildren) => (Finish::AwaitChildren, "awaiting_children"),
            Err(JobError::Skip(reason)) => (
                Finish::Succeeded(serde_json::json!({ "skipped": reason })),
                "skipped",
            ),
            Err(JobError::Cancelled) => (Finish::Cancelled, "cancelled"),
            Err(JobError::Paused) => (Finish::Paused, "paused"),
            Err(JobError::Interrupted) => (Finish::Released, "released"),
            Err(JobError::Permanent(error)) => (Finish::Failed(error), "failed"),
            Err(JobError::Retryable(error)) if attempts < max_attempts => {
                let at = Utc::now() + self.backoff(attempts);
                (Finish::Retry { error, at }, "retried")
            }
            Err(JobError::Retryable(error)) => (
                Finish::Failed(format!("{error} (after {attempts} attempts)")),
                "failed",
            ),
        };
        if let Finish::Failed(error) | Finish::Retry { error, .. } = &finish {
            tracing::warn!(job = %d.job_id, kind = %kind, attempt = attempts, %error, outcome = label, "job did not succeed");
        } else {
            tracing::info!(job = %d.job_id, kind = %kind, outcome = label, "job finished");
        }
        metrics::counter!("vigil_jobs_finished_total", "kind" => kind.clone(), "outcome" => label)
            .increment(1);
        metrics::histogram!("vigil_job_duration_seconds", "kind" => kind)
            .record(started.elapsed().as_secs_f64());

        let mut conn = self.app.db.get().await?;
        let progress = job_ctx.snapshot();
        lease::finish(&mut conn, d.job_id, &self.owner, &progress, finish).await?;
        if let Some(parent) = parent {
            family::aggregate_parent(&mut conn, parent).await?;
        }
        drop(conn);
        self.ack(d).await;
        Ok(())
    }
}

/// Renews the lease and stores progress every second; turns API requests into signals.
async fn heartbeat_loop(job: JobContext, lease: Duration, lease_lost: CancellationToken) {
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    tick.tick().await;
    loop {
        tick.tick().await;
        let beat = async {
            let mut conn = job.app.db.get().await?;
            lease::heartbeat(&mut conn, job.job.id, &job.owner, lease, &job.snapshot()).await
        };
        match beat.await {
            Ok(Some(control)) => {
                if control.cancel {
                    job.signals.cancel.cancel();
                }
                if control.pause {
                    job.signals.pause.cancel();
                }
            }
            Ok(None) => {
                lease_lost.cancel();
                job.signals.cancel.cancel();
                return;
            }
            Err(e) => tracing::warn!(job = %job.job.id, error = %e, "heartbeat failed; retrying"),
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}

/// The apalis task function: hands the delivery to the runtime.
pub async fn handle_delivery(
    delivery: Delivery,
    runtime: Data<Arc<Runtime>>,
) -> Result<(), apalis_core::error::BoxDynError> {
    runtime.handle(delivery).await;
    Ok(())
}
