//! The email outbox: one row per logical email, keyed by a dedupe key, so an email job that is
//! retried (or a feature that asks twice) sends it once. Delivery runs as an `email` job.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::context::AppContext;
use crate::db::schema::email_outbox;
use crate::db::text_enum::text_enum;
use crate::email::Email;
use crate::error::Result;
use crate::jobs::{self, Job, JobPayload, KindSpec, NewJob, kinds};

text_enum! {
    /// An outbox row's delivery. `failed` is final (the server refused the message for good);
    /// transient failures go back to `pending` for the job's next attempt.
    pub enum OutboxStatus {
        Pending = "pending",
        Sending = "sending",
        Sent = "sent",
        Failed = "failed",
    }
}

/// The payload of an `email` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailPayload {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    #[serde(default)]
    pub html: Option<String>,
    /// Same key, same email: sent once.
    pub dedupe_key: String,
}

impl JobPayload for EmailPayload {
    const KIND: &'static KindSpec = &kinds::EMAIL;
}

impl EmailPayload {
    pub fn email(&self) -> Email {
        Email {
            to: self.to.clone(),
            subject: self.subject.clone(),
            text: self.text.clone(),
            html: self.html.clone(),
        }
    }
}

/// Queues an email for delivery (the internal API other features use). Asking twice with the
/// same `dedupe_key` returns the first job.
pub async fn send_email(
    ctx: &AppContext,
    email: Email,
    dedupe_key: String,
    created_by: Option<Uuid>,
) -> Result<(Job, bool)> {
    let payload = EmailPayload {
        to: email.to,
        subject: email.subject,
        text: email.text,
        html: email.html,
        dedupe_key: dedupe_key.clone(),
    };
    let job = NewJob::of(&payload)
        .created_by(created_by)
        .idempotency_key(Some(format!("email:{dedupe_key}")));
    jobs::enqueue(ctx, job).await
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = email_outbox, check_for_backend(diesel::pg::Pg))]
pub struct OutboxRow {
    pub id: Uuid,
    pub status: OutboxStatus,
    pub attempts: i32,
}

/// The outbox row for this email, created on first sight.
pub async fn record(
    conn: &mut AsyncPgConnection,
    job_id: Uuid,
    payload: &EmailPayload,
) -> Result<OutboxRow> {
    diesel::insert_into(email_outbox::table)
        .values((
            email_outbox::id.eq(Uuid::now_v7()),
            email_outbox::dedupe_key.eq(&payload.dedupe_key),
            email_outbox::job_id.eq(job_id),
            email_outbox::recipients.eq(&payload.to),
            email_outbox::subject.eq(&payload.subject),
            email_outbox::body_text.eq(&payload.text),
            email_outbox::body_html.eq(&payload.html),
        ))
        .on_conflict(email_outbox::dedupe_key)
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(email_outbox::table
        .filter(email_outbox::dedupe_key.eq(&payload.dedupe_key))
        .select(OutboxRow::as_select())
        .first(conn)
        .await?)
}

pub async fn mark_sent(conn: &mut AsyncPgConnection, id: Uuid) -> Result<()> {
    diesel::update(email_outbox::table.find(id))
        .set((
            email_outbox::status.eq(OutboxStatus::Sent),
            email_outbox::sent_at.eq(Some(Utc::now())),
            email_outbox::attempts.eq(email_outbox::attempts + 1),
            email_outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn mark_failed(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    error: &str,
    permanent: bool,
) -> Result<()> {
    diesel::update(email_outbox::table.find(id))
        .set((
            email_outbox::status.eq(if permanent {
                OutboxStatus::Failed
            } else {
                OutboxStatus::Pending
            }),
            email_outbox::attempts.eq(email_outbox::attempts + 1),
            email_outbox::last_error.eq(Some(error)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
