//! `canary`: the diagnostic job (see `vigil_core::jobs::canary`).

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use vigil_core::jobs::canary::CanaryJob;
use vigil_core::outbox::EmailPayload;
use vigil_core::storage::ObjectKey;

use crate::context::{JobContext, JobError, Outcome};
use crate::registry::Handler;

#[derive(Debug, serde::Serialize, Deserialize)]
struct Checkpoint {
    done_ms: u64,
}

/// The diagnostic job: ops submit it to check the pipeline end to end.
#[derive(Default)]
pub struct Canary;

#[async_trait::async_trait]
impl Handler for Canary {
    type Payload = CanaryJob;

    async fn run(&self, job: &JobContext, p: CanaryJob) -> Result<Outcome, JobError> {
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
                job.save_checkpoint(&Checkpoint { done_ms: done })
                    .await
                    .ok();
                return Err(e);
            }
            done += slice;
            job.progress(100.0 * done as f32 / p.duration_ms as f32, "sleeping");
            job.counters(&json!({ "sleptMs": done }));
            job.save_checkpoint(&Checkpoint { done_ms: done }).await?;
        }
        let mut effects = json!({});
        if let Some(to) = p.notify {
            let key = ObjectKey::Canary { job: job.job.id }.to_string();
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
