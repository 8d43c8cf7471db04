use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use vigil_core::outbox::EmailPayload;

use crate::context::{Handler, JobContext, JobError, Outcome};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CanaryPayload {
    /// Total running time, slept in steps of `step_ms` (checkpointed, so pause/resume continues).
    #[serde(default)]
    duration_ms: u64,
    #[serde(default = "default_step")]
    step_ms: u64,
    /// Fail every attempt (retryable), to exercise retries and the dead letter.
    #[serde(default)]
    fail: bool,
    #[serde(default)]
    panic: bool,
    /// At the end, send this address an email through the outbox and write an object to
    /// storage: checks that workers reach SMTP and storage, each effect exactly once.
    #[serde(default)]
    notify: Option<String>,
}

fn default_step() -> u64 {
    250
}

#[derive(Debug, serde::Serialize, Deserialize)]
struct Checkpoint {
    done_ms: u64,
}

/// The diagnostic job: ops submit it to check the pipeline end to end.
pub struct Canary;

#[async_trait::async_trait]
impl Handler for Canary {
    async fn run(&self, job: &JobContext) -> Result<Outcome, JobError> {
        let p: CanaryPayload = job.payload()?;
        if p.panic {
            panic!("canary asked to panic");
        }
        if p.fail {
            return Err(JobError::Retryable("canary asked to fail".into()));
        }
        let step = p.step_ms.clamp(10, 10_000);
        let mut done = job
            .checkpoint::<Checkpoint>()
            .map(|c| c.done_ms)
            .unwrap_or(0);
        let resumed_from = done;
        while done < p.duration_ms {
            let slice = step.min(p.duration_ms - done);
            if let Err(e) = job.sleep(Duration::from_millis(slice)).await {
                job.save_checkpoint(json!(Checkpoint { done_ms: done }))
                    .await
                    .ok();
                return Err(e);
            }
            done += slice;
            job.progress(100.0 * done as f32 / p.duration_ms as f32, "sleeping");
            job.counters(json!({ "sleptMs": done }));
            job.save_checkpoint(json!(Checkpoint { done_ms: done }))
                .await?;
        }
        let mut effects = json!({});
        if let Some(to) = p.notify {
            let key = format!("canary/{}.txt", job.job.id);
            let body = format!("canary {} finished\n", job.job.id).into_bytes();
            job.app.storage.put_bytes(&key, body, "text/plain").await?;
            // Keyed by the job: a rerun after a crash does not resend.
            let payload = EmailPayload {
                to: vec![to],
                subject: format!("Vigil canary {}", job.job.id),
                text: format!("Canary job {} ran for {} ms.", job.job.id, p.duration_ms),
                html: None,
                dedupe_key: format!("canary:{}", job.job.id),
            };
            let (outbox_id, _) = super::email::deliver(job, &payload).await?;
            effects = json!({ "object": key, "emailOutboxId": outbox_id });
        }
        Ok(Outcome::Done(
            json!({ "sleptMs": done, "resumedFromMs": resumed_from, "effects": effects }),
        ))
    }
}
