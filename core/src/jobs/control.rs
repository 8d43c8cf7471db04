//! What users and admins ask of a job: cancel, pause, resume, retry. A job that is not
//! running changes at once; a running one is told through its heartbeat. Parents pass the
//! request on to their open children.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::store::get;
use super::{Job, JobStatus};
use crate::db::schema::jobs;
use crate::error::{Error, Result};

/// Cancels a job: at once when it is not running, through its handler when it is. Children are
/// cancelled too.
pub async fn request_cancel(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Job> {
    let job = get(conn, id).await?;
    if job.status.is_terminal() {
        return Err(Error::conflict(format!("job is already {}", job.status)));
    }
    let now = Utc::now();
    diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::status.eq_any([JobStatus::Queued, JobStatus::Paused])),
    )
    .set((
        jobs::status.eq(JobStatus::Cancelled),
        jobs::cancel_requested.eq(true),
        jobs::stage.eq(Some("cancelled")),
        jobs::finished_at.eq(Some(now)),
        jobs::updated_at.eq(now),
    ))
    .execute(conn)
    .await?;
    diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::status.eq(JobStatus::Running)),
    )
    .set((jobs::cancel_requested.eq(true), jobs::updated_at.eq(now)))
    .execute(conn)
    .await?;
    // A parent waiting for children is held by nobody: cancelling it is immediate.
    diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::status.eq(JobStatus::Running))
            .filter(jobs::lease_owner.is_null()),
    )
    .set((
        jobs::status.eq(JobStatus::Cancelled),
        jobs::stage.eq(Some("cancelled")),
        jobs::finished_at.eq(Some(now)),
    ))
    .execute(conn)
    .await?;
    for child in open_children(
        conn,
        id,
        &[JobStatus::Queued, JobStatus::Running, JobStatus::Paused],
    )
    .await?
    {
        Box::pin(request_cancel(conn, child)).await.ok();
    }
    get(conn, id).await
}

/// Pauses a job of a pausable kind: a queued one at once, a running one at its next checkpoint.
pub async fn request_pause(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Job> {
    let job = get(conn, id).await?;
    let pausable = super::kinds::by_name(&job.kind).is_some_and(|k| k.pausable);
    if !pausable {
        return Err(Error::conflict(format!(
            "{} jobs cannot be paused",
            job.kind
        )));
    }
    let now = Utc::now();
    match job.status {
        JobStatus::Queued => {
            diesel::update(
                jobs::table
                    .find(id)
                    .filter(jobs::status.eq(JobStatus::Queued)),
            )
            .set((
                jobs::status.eq(JobStatus::Paused),
                jobs::stage.eq(Some("paused")),
                jobs::dispatched_at.eq(None::<DateTime<Utc>>),
                jobs::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
        }
        // A parent waiting for its children is held by nobody: it pauses at once.
        JobStatus::Running if job.lease_owner.is_none() => {
            diesel::update(
                jobs::table
                    .find(id)
                    .filter(jobs::status.eq(JobStatus::Running)),
            )
            .set((
                jobs::status.eq(JobStatus::Paused),
                jobs::stage.eq(Some("paused")),
                jobs::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
        }
        JobStatus::Running => {
            diesel::update(
                jobs::table
                    .find(id)
                    .filter(jobs::status.eq(JobStatus::Running)),
            )
            .set((jobs::pause_requested.eq(true), jobs::updated_at.eq(now)))
            .execute(conn)
            .await?;
        }
        JobStatus::Paused => {}
        other => {
            return Err(Error::conflict(format!("job is already {other}")));
        }
    }
    for child in open_children(conn, id, &[JobStatus::Queued, JobStatus::Running]).await? {
        Box::pin(request_pause(conn, child)).await.ok();
    }
    get(conn, id).await
}

async fn open_children(
    conn: &mut AsyncPgConnection,
    parent: Uuid,
    statuses: &[JobStatus],
) -> Result<Vec<Uuid>> {
    Ok(jobs::table
        .filter(jobs::parent_id.eq(parent))
        .filter(jobs::status.eq_any(statuses))
        .select(jobs::id)
        .load(conn)
        .await?)
}

/// Puts a paused job back in the queue; it continues from its checkpoint.
pub async fn resume(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Job> {
    let n = diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::status.eq(JobStatus::Paused)),
    )
    .set((
        jobs::status.eq(JobStatus::Queued),
        jobs::pause_requested.eq(false),
        jobs::stage.eq(Some("resumed")),
        jobs::dispatched_at.eq(None::<DateTime<Utc>>),
        jobs::run_after.eq(Utc::now()),
        jobs::updated_at.eq(Utc::now()),
    ))
    .execute(conn)
    .await?;
    if n == 0 {
        let job = get(conn, id).await?;
        return Err(Error::conflict(format!(
            "job is {}, not paused",
            job.status
        )));
    }
    // A resumed parent runs again and waits for its resumed children.
    for child in open_children(conn, id, &[JobStatus::Paused]).await? {
        Box::pin(resume(conn, child)).await.ok();
    }
    get(conn, id).await
}

/// Re-queues a failed or cancelled job with fresh attempts (dead-letter retry).
pub async fn retry(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Job> {
    let now = Utc::now();
    let n = diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::status.eq_any([JobStatus::Failed, JobStatus::Cancelled])),
    )
    .set((
        jobs::status.eq(JobStatus::Queued),
        jobs::attempts.eq(0),
        jobs::cancel_requested.eq(false),
        jobs::pause_requested.eq(false),
        jobs::error.eq(None::<String>),
        jobs::stage.eq(Some("retry requested")),
        jobs::run_after.eq(now),
        jobs::dispatched_at.eq(None::<DateTime<Utc>>),
        jobs::message_id.eq(None::<String>),
        jobs::finished_at.eq(None::<DateTime<Utc>>),
        jobs::updated_at.eq(now),
    ))
    .execute(conn)
    .await?;
    let job = get(conn, id).await?;
    if n == 0 {
        return Err(Error::conflict(format!(
            "only failed or cancelled jobs can be retried; this one is {}",
            job.status
        )));
    }
    Ok(job)
}
