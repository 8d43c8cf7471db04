//! A running job's hold on its row: the claim under a lease, heartbeats that renew it (and
//! carry progress and the API's requests back), checkpoints, the end-of-run transition, and
//! recovery of rows whose holder died. Each is one conditional UPDATE, so concurrent workers
//! and the reconciler cannot both win.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use uuid::Uuid;

use super::{Job, JobStatus};
use crate::db::schema::{jobs, queues};
use crate::error::Result;

fn lease_until(lease: Duration) -> DateTime<Utc> {
    Utc::now() + lease
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
                    .eq(JobStatus::Queued)
                    .and(jobs::cancel_requested.eq(false))
                    .and(jobs::run_after.le(now))
                    .or(jobs::status
                        .eq(JobStatus::Running)
                        .and(jobs::lease_expires_at.lt(now))),
            )
            // A paused queue holds its jobs even when a message was already on its way.
            .filter(diesel::dsl::not(diesel::dsl::exists(
                queues::table
                    .filter(queues::name.eq(jobs::queue))
                    .filter(queues::paused.eq(true)),
            ))),
    )
    .set((
        jobs::status.eq(JobStatus::Running),
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
pub struct Requests {
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
) -> Result<Option<Requests>> {
    let row: Option<(bool, bool)> = diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::status.eq(JobStatus::Running))
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
    Ok(row.map(|(cancel, pause)| Requests { cancel, pause }))
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
            .filter(jobs::status.eq(JobStatus::Running)),
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
struct Transition {
    status: Option<JobStatus>,
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
    let requeue = |t: Transition| Transition {
        status: Some(JobStatus::Queued),
        dispatched_at: Some(None),
        message_id: Some(None),
        ..t
    };
    let ended = |status: JobStatus, t: Transition| Transition {
        status: Some(status),
        eta_at: Some(None),
        finished_at: Some(Some(now)),
        ..t
    };
    let transition = match outcome {
        Finish::Succeeded(result) => ended(
            JobStatus::Succeeded,
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
            JobStatus::Failed,
            Transition {
                error: Some(Some(error)),
                progress: Some(progress.percent),
                stage: stage("failed"),
                ..Default::default()
            },
        ),
        Finish::Cancelled => ended(
            JobStatus::Cancelled,
            Transition {
                progress: Some(progress.percent),
                stage: stage("cancelled"),
                ..Default::default()
            },
        ),
        Finish::Paused => Transition {
            status: Some(JobStatus::Paused),
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
            .filter(jobs::status.eq(JobStatus::Running))
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

/// Running rows whose holder stopped renewing its lease (its process died): back to the
/// backlog. The attempt it used counts.
pub async fn recover_expired(conn: &mut AsyncPgConnection) -> Result<usize> {
    Ok(diesel::update(
        jobs::table
            .filter(jobs::status.eq(JobStatus::Running))
            .filter(jobs::lease_expires_at.lt(Utc::now())),
    )
    .set((
        jobs::status.eq(JobStatus::Queued),
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
