use serde_json::json;
use uuid::Uuid;
use vigil_core::outbox::{self, EmailPayload};

use vigil_core::outbox::OutboxStatus;

use crate::context::{JobContext, JobError, Outcome};
use crate::registry::Handler;

/// Delivers one logical email through the outbox. The row, keyed by the dedupe key, is checked
/// first: an email already sent by an earlier attempt (or another job with the same key) is not
/// sent again. Returns the outbox id and whether it had been sent already.
pub(super) async fn deliver(
    job: &JobContext,
    payload: &EmailPayload,
) -> Result<(Uuid, bool), JobError> {
    let mut conn = job.db().await?;
    let row = outbox::record(&mut conn, job.job.id, payload).await?;
    if row.status == OutboxStatus::Sent {
        return Ok((row.id, true));
    }
    match job.app.mailer.send(&payload.email()).await {
        Ok(()) => {
            outbox::mark_sent(&mut conn, row.id).await?;
            Ok((row.id, false))
        }
        Err(e @ vigil_core::Error::Validation { .. }) => {
            outbox::mark_failed(&mut conn, row.id, &e.to_string(), true).await?;
            Err(JobError::Permanent(e.to_string()))
        }
        Err(e) => {
            outbox::mark_failed(&mut conn, row.id, &e.to_string(), false).await?;
            Err(JobError::Retryable(e.to_string()))
        }
    }
}

/// Sends one outbox email (see [`deliver`]).
#[derive(Default)]
pub struct SendEmail;

#[async_trait::async_trait]
impl Handler for SendEmail {
    type Payload = EmailPayload;

    async fn run(&self, job: &JobContext, payload: EmailPayload) -> Result<Outcome, JobError> {
        job.progress(10.0, "sending");
        let (outbox_id, already_sent) = deliver(job, &payload).await?;
        Ok(Outcome::Done(if already_sent {
            json!({ "outboxId": outbox_id, "alreadySent": true })
        } else {
            json!({ "outboxId": outbox_id, "recipients": payload.to.len() })
        }))
    }
}
