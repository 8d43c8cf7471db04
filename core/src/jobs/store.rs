//! Job rows as records: submission (once per idempotency key), reading, listing, and
//! retention. What happens to a row while it runs lives in `lease`; what the API asks of it in
//! `control`; parents and children in `family`; the dispatcher's view in `backlog`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{Job, JobStatus, NewJob};
use crate::db::paginate::{PageRequest, Paged, Paginate};
use crate::db::schema::jobs;
use crate::error::{Error, Result};

/// Inserts the job unless the creator already submitted one with the same idempotency key;
/// returns the job and whether it was created now.
pub async fn submit(conn: &mut AsyncPgConnection, new: NewJob) -> Result<(Job, bool)> {
    if let Some(key) = &new.idempotency_key
        && (key.is_empty() || key.len() > 200)
    {
        return Err(Error::validation(
            "Idempotency-Key",
            "must be 1 to 200 characters",
        ));
    }
    let inserted = diesel::insert_into(jobs::table)
        .values((
            jobs::id.eq(Uuid::now_v7()),
            jobs::kind.eq(new.kind.name),
            jobs::queue.eq(new.kind.queue),
            jobs::priority.eq(new.priority),
            jobs::payload.eq(&new.payload),
            jobs::max_attempts.eq(new.kind.max_attempts),
            jobs::idempotency_key.eq(&new.idempotency_key),
            jobs::parent_id.eq(new.parent_id),
            jobs::created_by.eq(new.created_by),
        ))
        .on_conflict_do_nothing()
        .returning(Job::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    if let Some(job) = inserted {
        return Ok((job, true));
    }
    // The only conflict target is the idempotency index: return the first submission.
    let key = new.idempotency_key.as_deref().unwrap_or_default();
    let mut q = jobs::table
        .filter(jobs::idempotency_key.eq(key))
        .into_boxed();
    q = match new.created_by {
        Some(user) => q.filter(jobs::created_by.eq(user)),
        None => q.filter(jobs::created_by.is_null()),
    };
    let existing = q.select(Job::as_select()).first(conn).await?;
    Ok((existing, false))
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Job> {
    jobs::table
        .find(id)
        .select(Job::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::not_found(format!("job {id} not found")))
}

#[derive(Debug, Default, Clone)]
pub struct JobFilter {
    pub kind: Option<String>,
    pub status: Option<JobStatus>,
    pub created_by: Option<Uuid>,
    pub parent_id: Option<Uuid>,
    pub queue: Option<String>,
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &JobFilter,
    page: PageRequest,
) -> Result<Paged<Job>> {
    let mut q = jobs::table.into_boxed();
    if let Some(v) = &filter.kind {
        q = q.filter(jobs::kind.eq(v.clone()));
    }
    if let Some(v) = filter.status {
        q = q.filter(jobs::status.eq(v));
    }
    if let Some(v) = filter.created_by {
        q = q.filter(jobs::created_by.eq(v));
    }
    if let Some(v) = filter.parent_id {
        q = q.filter(jobs::parent_id.eq(v));
    }
    if let Some(v) = &filter.queue {
        q = q.filter(jobs::queue.eq(v.clone()));
    }
    q.order((jobs::created_at.desc(), jobs::id.desc()))
        .select(Job::as_select())
        .paginate(page)
        .load_page(conn)
        .await
}

/// Deletes finished jobs older than `cutoff` (retention); children go with their parent.
pub async fn purge_finished_before(
    conn: &mut AsyncPgConnection,
    cutoff: DateTime<Utc>,
) -> Result<usize> {
    Ok(diesel::delete(
        jobs::table
            .filter(jobs::status.eq_any(JobStatus::TERMINAL))
            .filter(jobs::finished_at.lt(cutoff))
            .filter(jobs::parent_id.is_null()),
    )
    .execute(conn)
    .await?)
}
