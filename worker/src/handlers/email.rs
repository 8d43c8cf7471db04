use serde_json::json;
use vigil_core::outbox::{self, EmailPayload};

use crate::context::{Handler, JobContext, JobError, Outcome};

/// Sends one outbox email. The outbox row, keyed by the dedupe key, is checked first: an email
/// already sent by an earlier attempt (or another job with the same key) is not sent again.
pub struct SendEmail;

#[async_trait::async_trait]
impl Handler for SendEmail {
    async fn run(&self, job: &JobContext) -> Result<Outcome, JobError> {
        let payload: EmailPayload = job.payload()?;
        let mut conn = job.app.db.get().await.map_err(vigil_core::Error::from)?;
        let row = outbox::record(&mut conn, job.job.id, &payload).await?;
        if row.status == "sent" {
            return Ok(Outcome::Done(
                json!({ "outboxId": row.id, "alreadySent": true }),
            ));
        }
        job.progress(10.0, "sending");
        let message = payload.email();
        match job.app.mailer.send(&message).await {
            Ok(()) => {
                outbox::mark_sent(&mut conn, row.id).await?;
                Ok(Outcome::Done(
                    json!({ "outboxId": row.id, "recipients": payload.to.len() }),
                ))
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
}
