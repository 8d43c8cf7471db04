//! Job rows: submission, claiming under a lease, progress, and every state transition. Each
//! transition is one conditional UPDATE, so concurrent workers, API calls and the reconciler
//! cannot both win.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use uuid::Uuid;

use super::{Job, JobStatus, NewJob};
use crate::db::schema::{jobs, queues};
use crate::error::{Error, Result};

const QUEUED: &str = "queued";
const RUNNING: &str = "running";
const PAUSED: &str = "paused";

fn lease_until(lease: Duration) -> DateTime<Utc> {
    Utc::now() + lease
}

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
    offset: i64,
    limit: i64,
) -> Result<(Vec<Job>, i64)> {
    let build = || {
        let mut q = jobs::table.into_boxed();
        if let Some(v) = &filter.kind {
            q = q.filter(jobs::kind.eq(v.clone()));
        }
        if let Some(v) = filter.status {
            q = q.filter(jobs::status.eq(v.as_str()));
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
        q
    };
    let total = build().count().get_result::<i64>(conn).await?;
    let items = build()
        .order((jobs::created_at.desc(), jobs::id.desc()))
        .offset(offset)
        .limit(limit)
        .select(Job::as_select())
        .load(conn)
        .await?;
    Ok((items, total))
}

/// Takes the job for `owner` under a lease: a queued job, or a running one whose holder's lease
/// ran out (its process died). `None` when someone else holds it or it is finished, cancelled
/// or paused — the delivery was a duplicate.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    owner: &str,
    lease: Duration,
    message_id: &str,
) -> Result<Option<Job>> {
    let now = Utc::now();
    Ok(diesel::update(
        jobs::table
            .find(id)
            .filter(
                jobs::status
                    .eq(QUEUED)
                    .and(jobs::cancel_requested.eq(false))
                    .and(jobs::run_after.le(now))
                    .or(jobs::status.eq(RUNNING).and(jobs::lease_expires_at.lt(now))),
            )
            // A paused queue holds its jobs even when a message was already on its way.
            .filter(diesel::dsl::not(diesel::dsl::exists(
                queues::table
                    .filter(queues::name.eq(jobs::queue))
                    .filter(queues::paused.eq(true)),
            ))),
    )
    .set((
        jobs::status.eq(RUNNING),
        jobs::attempts.eq(jobs::attempts + 1),
        jobs::lease_owner.eq(owner),
        jobs::lease_expires_at.eq(lease_until(lease)),
        jobs::message_id.eq(message_id),
        jobs::started_at.eq(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        >("COALESCE(started_at, now())")),
        jobs::updated_at.eq(now),
    ))
    .returning(Job::as_returning())
    .get_result(conn)
    .await
    .optional()?)
}

/// What the API asked of a running job.
#[derive(Debug, Clone, Copy, Default)]
pub struct Control {
    pub cancel: bool,
    pub pause: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    pub percent: f32,
    pub stage: Option<String>,
    pub counters: Option<Value>,
    pub eta_at: Option<DateTime<Utc>>,
}

/// Extends the lease and stores progress. `None` when the lease was lost (another worker took
/// the job over): the caller must stop.
pub async fn heartbeat(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    owner: &str,
    lease: Duration,
    progress: &Progress,
) -> Result<Option<Control>> {
    let row: Option<(bool, bool)> = diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::status.eq(RUNNING))
            .filter(jobs::lease_owner.eq(owner)),
    )
    .set((
        jobs::lease_expires_at.eq(lease_until(lease)),
        jobs::progress.eq(progress.percent.clamp(0.0, 100.0)),
        jobs::stage.eq(&progress.stage),
        jobs::counters.eq(&progress.counters),
        jobs::eta_at.eq(progress.eta_at),
        jobs::updated_at.eq(Utc::now()),
    ))
    .returning((jobs::cancel_requested, jobs::pause_requested))
    .get_result(conn)
    .await
    .optional()?;
    Ok(row.map(|(cancel, pause)| Control { cancel, pause }))
}

pub async fn save_checkpoint(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    owner: &str,
    checkpoint: &Value,
) -> Result<bool> {
    let n = diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::lease_owner.eq(owner))
            .filter(jobs::status.eq(RUNNING)),
    )
    .set(jobs::checkpoint.eq(Some(checkpoint)))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// How a run ended.
#[derive(Debug, Clone)]
pub enum Finish {
    Succeeded(Value),
    /// Run again at `at` (backoff); the error is kept for inspection.
    Retry {
        error: String,
        at: DateTime<Utc>,
    },
    Failed(String),
    Cancelled,
    Paused,
    /// The worker shut down mid-run: back to the queue, the attempt not counted.
    Released,
    /// Spawned children; the job completes when they do (see [`aggregate_parent`]).
    AwaitChildren,
}

/// The columns one end-of-run transition writes. `None` leaves a column alone; `Some(None)`
/// clears it. Every transition releases the lease.
#[derive(AsChangeset, Default)]
#[diesel(table_name = jobs)]
struct Transition<'a> {
    status: Option<&'a str>,
    result: Option<Option<Value>>,
    error: Option<Option<String>>,
    progress: Option<f32>,
    stage: Option<Option<String>>,
    counters: Option<Option<Value>>,
    eta_at: Option<Option<DateTime<Utc>>>,
    run_after: Option<DateTime<Utc>>,
    dispatched_at: Option<Option<DateTime<Utc>>>,
    message_id: Option<Option<String>>,
    pause_requested: Option<bool>,
    lease_owner: Option<Option<String>>,
    lease_expires_at: Option<Option<DateTime<Utc>>>,
    finished_at: Option<Option<DateTime<Utc>>>,
    updated_at: Option<DateTime<Utc>>,
}

/// Records the end of a run. `false` when the lease was lost meanwhile (the other holder's
/// outcome counts).
pub async fn finish(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    owner: &str,
    progress: &Progress,
    outcome: Finish,
) -> Result<bool> {
    let now = Utc::now();
    let released = matches!(outcome, Finish::Released);
    let stage = |s: &str| Some(Some(s.to_string()));
    // Back in the queue: the next run needs a fresh message.
    let requeue = |t: Transition<'static>| Transition {
        status: Some(QUEUED),
        dispatched_at: Some(None),
        message_id: Some(None),
        ..t
    };
    let ended = |status: &'static str, t: Transition<'static>| Transition {
        status: Some(status),
        eta_at: Some(None),
        finished_at: Some(Some(now)),
        ..t
    };
    let transition = match outcome {
        Finish::Succeeded(result) => ended(
            "succeeded",
            Transition {
                result: Some(Some(result)),
                error: Some(None),
                progress: Some(100.0),
                stage: Some(progress.stage.clone().or(Some("done".into()))),
                counters: Some(progress.counters.clone()),
                ..Default::default()
            },
        ),
        Finish::Retry { error, at } => requeue(Transition {
            error: Some(Some(error)),
            run_after: Some(at),
            stage: stage("waiting to retry"),
            ..Default::default()
        }),
        Finish::Failed(error) => ended(
            "failed",
            Transition {
                error: Some(Some(error)),
                progress: Some(progress.percent),
                stage: stage("failed"),
                ..Default::default()
            },
        ),
        Finish::Cancelled => ended(
            "cancelled",
            Transition {
                progress: Some(progress.percent),
                stage: stage("cancelled"),
                ..Default::default()
            },
        ),
        Finish::Paused => Transition {
            status: Some(PAUSED),
            pause_requested: Some(false),
            progress: Some(progress.percent),
            stage: stage("paused"),
            eta_at: Some(None),
            dispatched_at: Some(None),
            message_id: Some(None),
            ..Default::default()
        },
        Finish::Released => requeue(Transition {
            run_after: Some(now),
            stage: stage("released by a stopping worker"),
            ..Default::default()
        }),
        // Still running, but held by nobody: the lease-expiry recovery must skip it.
        Finish::AwaitChildren => Transition {
            stage: stage("waiting for child jobs"),
            ..Default::default()
        },
    };
    let transition = Transition {
        lease_owner: Some(None),
        lease_expires_at: Some(None),
        updated_at: Some(now),
        ..transition
    };
    let target = diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::status.eq(RUNNING))
            .filter(jobs::lease_owner.eq(owner)),
    );
    let n = if released {
        // A shutdown is not the job's fault: give the attempt back.
        target
            .set((transition, jobs::attempts.eq(jobs::attempts - 1)))
            .execute(conn)
            .await?
    } else {
        target.set(transition).execute(conn).await?
    };
    Ok(n == 1)
}

/// Cancels a job: at once when it is not running, through its handler when it is. Children are
/// cancelled too.
pub async fn request_cancel(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Job> {
    let job = get(conn, id).await?;
    if job.status().is_terminal() {
        return Err(Error::conflict(format!("job is already {}", job.status)));
    }
    let now = Utc::now();
    diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::status.eq_any([QUEUED, PAUSED])),
    )
    .set((
        jobs::status.eq("cancelled"),
        jobs::cancel_requested.eq(true),
        jobs::stage.eq(Some("cancelled")),
        jobs::finished_at.eq(Some(now)),
        jobs::updated_at.eq(now),
    ))
    .execute(conn)
    .await?;
    diesel::update(jobs::table.find(id).filter(jobs::status.eq(RUNNING)))
        .set((jobs::cancel_requested.eq(true), jobs::updated_at.eq(now)))
        .execute(conn)
        .await?;
    // A parent waiting for children is held by nobody: cancelling it is immediate.
    diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::status.eq(RUNNING))
            .filter(jobs::lease_owner.is_null()),
    )
    .set((
        jobs::status.eq("cancelled"),
        jobs::stage.eq(Some("cancelled")),
        jobs::finished_at.eq(Some(now)),
    ))
    .execute(conn)
    .await?;
    for child in open_children(conn, id, &[QUEUED, RUNNING, PAUSED]).await? {
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
    match job.status() {
        JobStatus::Queued => {
            diesel::update(jobs::table.find(id).filter(jobs::status.eq(QUEUED)))
                .set((
                    jobs::status.eq(PAUSED),
                    jobs::stage.eq(Some("paused")),
                    jobs::dispatched_at.eq(None::<DateTime<Utc>>),
                    jobs::updated_at.eq(now),
                ))
                .execute(conn)
                .await?;
        }
        // A parent waiting for its children is held by nobody: it pauses at once.
        JobStatus::Running if job.lease_owner.is_none() => {
            diesel::update(jobs::table.find(id).filter(jobs::status.eq(RUNNING)))
                .set((
                    jobs::status.eq(PAUSED),
                    jobs::stage.eq(Some("paused")),
                    jobs::updated_at.eq(now),
                ))
                .execute(conn)
                .await?;
        }
        JobStatus::Running => {
            diesel::update(jobs::table.find(id).filter(jobs::status.eq(RUNNING)))
                .set((jobs::pause_requested.eq(true), jobs::updated_at.eq(now)))
                .execute(conn)
                .await?;
        }
        JobStatus::Paused => {}
        other => {
            return Err(Error::conflict(format!(
                "job is already {}",
                other.as_str()
            )));
        }
    }
    for child in open_children(conn, id, &[QUEUED, RUNNING]).await? {
        Box::pin(request_pause(conn, child)).await.ok();
    }
    get(conn, id).await
}

async fn open_children(
    conn: &mut AsyncPgConnection,
    parent: Uuid,
    statuses: &[&str],
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
    let n = diesel::update(jobs::table.find(id).filter(jobs::status.eq(PAUSED)))
        .set((
            jobs::status.eq(QUEUED),
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
    for child in open_children(conn, id, &[PAUSED]).await? {
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
            .filter(jobs::status.eq_any(["failed", "cancelled"])),
    )
    .set((
        jobs::status.eq(QUEUED),
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

/// Updates a parent from its children: progress is their mean; once all are finished the parent
/// finishes too (succeeded when all succeeded, failed when any failed, else cancelled).
pub async fn aggregate_parent(conn: &mut AsyncPgConnection, parent: Uuid) -> Result<()> {
    diesel::sql_query(
        "UPDATE jobs p SET progress = s.progress, updated_at = now(),
                counters = COALESCE(p.counters, '{}'::jsonb) || jsonb_build_object(
                    'children', s.total, 'childrenSucceeded', s.succeeded,
                    'childrenFailed', s.failed, 'childrenCancelled', s.cancelled)
         FROM (SELECT count(*) AS total,
                      count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
                      count(*) FILTER (WHERE status = 'failed') AS failed,
                      count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
                      COALESCE(avg(CASE WHEN status IN ('succeeded','failed','cancelled') THEN 100 ELSE progress END), 0)::real AS progress
               FROM jobs WHERE parent_id = $1) s
         WHERE p.id = $1 AND p.status = 'running' AND p.lease_owner IS NULL",
    )
    .bind::<SqlUuid, _>(parent)
    .execute(conn)
    .await?;
    // Parents of kinds that summarise their children go back to the queue for that last run;
    // the others finish here with the children's aggregate status.
    diesel::sql_query(
        "UPDATE jobs p SET
            status = CASE WHEN p.kind = ANY($2) THEN 'queued'
                          WHEN s.failed > 0 THEN 'failed' WHEN s.cancelled > 0 THEN 'cancelled'
                          ELSE 'succeeded' END,
            error = CASE WHEN p.kind = ANY($2) THEN p.error
                         WHEN s.failed > 0 THEN s.failed || ' of ' || s.total || ' child jobs failed'
                         ELSE NULL END,
            result = CASE WHEN s.failed = 0 AND s.cancelled = 0 AND NOT p.kind = ANY($2)
                          THEN COALESCE(p.result, '{}'::jsonb) || jsonb_build_object('children', s.total) ELSE p.result END,
            stage = CASE WHEN p.kind = ANY($2) THEN 'summarising' ELSE 'done' END,
            finished_at = CASE WHEN p.kind = ANY($2) THEN NULL ELSE now() END,
            dispatched_at = NULL, message_id = NULL, run_after = now(), updated_at = now()
         FROM (SELECT count(*) AS total,
                      count(*) FILTER (WHERE status = 'failed') AS failed,
                      count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
                      count(*) FILTER (WHERE status NOT IN ('succeeded','failed','cancelled')) AS open
               FROM jobs WHERE parent_id = $1) s
         WHERE p.id = $1 AND p.status = 'running' AND p.lease_owner IS NULL AND s.open = 0 AND s.total > 0",
    )
    .bind::<SqlUuid, _>(parent)
    .bind::<diesel::sql_types::Array<Text>, _>(super::kinds::rerun_after_children())
    .execute(conn)
    .await?;
    Ok(())
}

/// Rows to put on a queue's stream now: due, undispatched, highest priority first. Locked with
/// SKIP LOCKED so concurrent dispatchers split the work instead of duplicating it.
pub async fn backlog_batch(
    conn: &mut AsyncPgConnection,
    queue: &str,
    limit: i64,
) -> Result<Vec<Uuid>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT id FROM jobs
         WHERE queue = $1 AND status = 'queued' AND dispatched_at IS NULL AND run_after <= now()
         ORDER BY priority DESC, run_after, created_at
         LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind::<Text, _>(queue)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

pub async fn mark_dispatched(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    message_id: &str,
) -> Result<()> {
    diesel::update(jobs::table.find(id).filter(jobs::status.eq(QUEUED)))
        .set((
            jobs::dispatched_at.eq(Some(Utc::now())),
            jobs::message_id.eq(Some(message_id)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Queued rows whose message is on the stream (the window in use).
pub async fn in_flight(conn: &mut AsyncPgConnection, queue: &str) -> Result<i64> {
    Ok(jobs::table
        .filter(jobs::queue.eq(queue))
        .filter(jobs::status.eq(QUEUED))
        .filter(jobs::dispatched_at.is_not_null())
        .count()
        .get_result(conn)
        .await?)
}

/// Dispatched, still queued, and dispatched before `before`: candidates for a lost message.
pub async fn dispatched_before(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(Uuid, String, Option<String>)>> {
    Ok(jobs::table
        .filter(jobs::status.eq(QUEUED))
        .filter(jobs::dispatched_at.lt(before))
        .order(jobs::dispatched_at.asc())
        .limit(limit)
        .select((jobs::id, jobs::queue, jobs::message_id))
        .load(conn)
        .await?)
}

/// Returns a dispatched row to the backlog so it is dispatched again.
pub async fn undispatch(conn: &mut AsyncPgConnection, id: Uuid) -> Result<()> {
    diesel::update(jobs::table.find(id).filter(jobs::status.eq(QUEUED)))
        .set((
            jobs::dispatched_at.eq(None::<DateTime<Utc>>),
            jobs::message_id.eq(None::<String>),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Running rows whose holder stopped renewing its lease (its process died): back to the
/// backlog. The attempt it used counts.
pub async fn recover_expired_leases(conn: &mut AsyncPgConnection) -> Result<usize> {
    Ok(diesel::update(
        jobs::table
            .filter(jobs::status.eq(RUNNING))
            .filter(jobs::lease_expires_at.lt(Utc::now())),
    )
    .set((
        jobs::status.eq(QUEUED),
        jobs::lease_owner.eq(None::<String>),
        jobs::lease_expires_at.eq(None::<DateTime<Utc>>),
        jobs::dispatched_at.eq(None::<DateTime<Utc>>),
        jobs::message_id.eq(None::<String>),
        jobs::stage.eq(Some("recovered after worker loss")),
        jobs::updated_at.eq(Utc::now()),
    ))
    .execute(conn)
    .await?)
}

/// A parent's children, oldest first.
pub async fn children(conn: &mut AsyncPgConnection, parent: Uuid) -> Result<Vec<Job>> {
    Ok(jobs::table
        .filter(jobs::parent_id.eq(parent))
        .order(jobs::created_at.asc())
        .select(Job::as_select())
        .load(conn)
        .await?)
}

/// Parents waiting for children whose children are all finished (an aggregation was missed).
pub async fn stalled_parents(conn: &mut AsyncPgConnection) -> Result<Vec<Uuid>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT p.id FROM jobs p
         WHERE p.status = 'running' AND p.lease_owner IS NULL
           AND EXISTS (SELECT 1 FROM jobs c WHERE c.parent_id = p.id)
           AND NOT EXISTS (SELECT 1 FROM jobs c WHERE c.parent_id = p.id
                           AND c.status NOT IN ('succeeded','failed','cancelled'))",
    )
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

pub async fn paused_queues(conn: &mut AsyncPgConnection) -> Result<Vec<String>> {
    Ok(queues::table
        .filter(queues::paused.eq(true))
        .select(queues::name)
        .load(conn)
        .await?)
}

pub async fn set_queue_paused(
    conn: &mut AsyncPgConnection,
    queue: &str,
    paused: bool,
) -> Result<()> {
    diesel::insert_into(queues::table)
        .values((queues::name.eq(queue), queues::paused.eq(paused)))
        .on_conflict(queues::name)
        .do_update()
        .set((queues::paused.eq(paused), queues::updated_at.eq(Utc::now())))
        .execute(conn)
        .await?;
    Ok(())
}

/// Per queue: counts by status and the age of the oldest queued job.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct QueueStats {
    pub queued: i64,
    pub running: i64,
    pub paused: i64,
    pub failed: i64,
    pub succeeded: i64,
    pub cancelled: i64,
    pub oldest_queued_at: Option<DateTime<Utc>>,
}

pub async fn queue_stats(conn: &mut AsyncPgConnection) -> Result<Vec<(String, QueueStats)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        queue: String,
        #[diesel(sql_type = Text)]
        status: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
        oldest: Option<DateTime<Utc>>,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT queue, status, count(*) AS n, min(created_at) AS oldest FROM jobs GROUP BY queue, status",
    )
    .load(conn)
    .await?;
    let mut out: Vec<(String, QueueStats)> = super::kinds::queues()
        .into_iter()
        .map(|q| (q.to_string(), QueueStats::default()))
        .collect();
    for row in rows {
        let idx = match out.iter().position(|(q, _)| *q == row.queue) {
            Some(i) => i,
            None => {
                out.push((row.queue.clone(), QueueStats::default()));
                out.len() - 1
            }
        };
        let stats = &mut out[idx].1;
        match row.status.as_str() {
            QUEUED => {
                stats.queued = row.n;
                stats.oldest_queued_at = row.oldest;
            }
            RUNNING => stats.running = row.n,
            PAUSED => stats.paused = row.n,
            "failed" => stats.failed = row.n,
            "succeeded" => stats.succeeded = row.n,
            "cancelled" => stats.cancelled = row.n,
            _ => {}
        }
    }
    Ok(out)
}

/// Deletes finished jobs older than `cutoff` (retention); children go with their parent.
pub async fn purge_finished_before(
    conn: &mut AsyncPgConnection,
    cutoff: DateTime<Utc>,
) -> Result<usize> {
    Ok(diesel::delete(
        jobs::table
            .filter(jobs::status.eq_any(["succeeded", "failed", "cancelled"]))
            .filter(jobs::finished_at.lt(cutoff))
            .filter(jobs::parent_id.is_null()),
    )
    .execute(conn)
    .await?)
}
