//! Vigil's scheduler: a table of periodic tasks (cron expressions with seconds, configurable).
//! Each tick runs once however many scheduler replicas there are: the first replica to insert
//! the (task, tick) row in PostgreSQL owns it, and enqueued jobs carry the tick in their
//! idempotency key as a second guard.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use cron::Schedule;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use vigil_core::db::schema::scheduler_ticks;
use vigil_core::jobs::{self, NewJob, dispatch};
use vigil_core::maintenance::{CleanupJob, HealthJob};
use vigil_core::{AppContext, Error, Result};

/// What a periodic task does at its tick.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    /// Repair PostgreSQL/Redis drift right here (cheap, and must not wait behind a queue).
    Reconcile,
    /// Enqueue the job this builds for the tick.
    Enqueue(fn(DateTime<Utc>) -> NewJob),
    /// Start a watcher for every enabled camera without one (`cameras::watchers`).
    CameraWatchers,
    /// Write `missed` logs for shifts that are over (`attendance::shifts`).
    MissedShifts,
    /// Email reviewers what waits for them (`attendance::digest`).
    ReviewDigest,
}

#[derive(Debug, Clone)]
pub struct Periodic {
    pub name: &'static str,
    pub schedule: Schedule,
    pub action: Action,
}

/// The built-in periodic tasks with their configured schedules.
pub fn table(ctx: &AppContext) -> Result<Vec<Periodic>> {
    let parse = |name: &'static str, expr: &str| {
        Schedule::from_str(expr)
            .map_err(|e| Error::Config(format!("schedule of {name} ({expr:?}): {e}")))
    };
    let c = &ctx.config;
    Ok(vec![
        Periodic {
            name: "reconcile",
            schedule: parse("reconcile", &c.schedule_reconcile)?,
            action: Action::Reconcile,
        },
        Periodic {
            name: "cleanup",
            schedule: parse("cleanup", &c.schedule_cleanup)?,
            action: Action::Enqueue(|tick| NewJob::of(&CleanupJob { tick: Some(tick) })),
        },
        Periodic {
            name: "health",
            schedule: parse("health", &c.schedule_health)?,
            action: Action::Enqueue(|tick| NewJob::of(&HealthJob { tick: Some(tick) })),
        },
        Periodic {
            name: "cameras",
            schedule: parse("cameras", &c.schedule_cameras)?,
            action: Action::CameraWatchers,
        },
        Periodic {
            name: "attendance",
            schedule: parse("attendance", &c.schedule_attendance)?,
            action: Action::MissedShifts,
        },
        Periodic {
            name: "review-digest",
            schedule: parse("review-digest", &c.schedule_review_digest)?,
            action: Action::ReviewDigest,
        },
    ])
}

/// Claims the tick for this replica; `false` when another replica already has it.
async fn claim_tick(ctx: &AppContext, task: &str, tick: DateTime<Utc>) -> Result<bool> {
    let mut conn = ctx.db.get().await?;
    let n = diesel::insert_into(scheduler_ticks::table)
        .values((
            scheduler_ticks::task.eq(task),
            scheduler_ticks::tick_at.eq(tick),
        ))
        .on_conflict_do_nothing()
        .execute(&mut conn)
        .await?;
    Ok(n == 1)
}

async fn run_tick(ctx: &AppContext, task: &Periodic, tick: DateTime<Utc>) -> Result<()> {
    if !claim_tick(ctx, task.name, tick).await? {
        return Ok(());
    }
    match task.action {
        Action::Reconcile => {
            dispatch::reconcile(ctx).await?;
        }
        Action::CameraWatchers => {
            vigil_core::cameras::watchers::reconcile(ctx).await?;
        }
        Action::ReviewDigest => {
            let pending = vigil_core::attendance::digest::send(ctx, tick).await?;
            if pending > 0 {
                tracing::info!(pending, "review digest sent");
            }
        }
        Action::MissedShifts => {
            let mut conn = ctx.db.get().await?;
            let missed = vigil_core::attendance::shifts::mark_missed(&mut conn, Utc::now()).await?;
            if missed > 0 {
                tracing::info!(missed, "missed shifts logged");
            }
        }
        Action::Enqueue(build) => {
            let key = format!("schedule:{}@{}", task.name, tick.to_rfc3339());
            let (job, _) = jobs::enqueue(ctx, build(tick).idempotency_key(Some(key))).await?;
            let mut conn = ctx.db.get().await?;
            diesel::update(scheduler_ticks::table.find((task.name, tick)))
                .set(scheduler_ticks::job_id.eq(Some(job.id)))
                .execute(&mut conn)
                .await?;
            tracing::info!(task = task.name, %tick, job = %job.id, "periodic job enqueued");
        }
    }
    Ok(())
}

/// Drives one periodic task: sleeps to each upcoming tick and runs it. A tick that fails is
/// logged; the next one comes regardless.
async fn drive(ctx: AppContext, task: Periodic) {
    loop {
        let Some(tick) = task.schedule.upcoming(Utc).next() else {
            tracing::warn!(
                task = task.name,
                "schedule has no upcoming tick; task stops"
            );
            return;
        };
        let wait = (tick - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        tokio::time::sleep(wait).await;
        if let Err(e) = run_tick(&ctx, &task, tick).await {
            tracing::warn!(task = task.name, %tick, error = %e, "periodic task failed");
        }
    }
}

/// Runs until `shutdown` resolves.
pub async fn run(
    ctx: AppContext,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let tasks = table(&ctx)?;
    tracing::info!(tasks = ?tasks.iter().map(|t| t.name).collect::<Vec<_>>(), "scheduler started");
    let exporter = vigil_core::metrics::spawn_exporter(&ctx);
    let mut set = tokio::task::JoinSet::new();
    for task in tasks {
        set.spawn(drive(ctx.clone(), task));
    }
    shutdown.await;
    set.abort_all();
    if let Some(exporter) = exporter {
        exporter.abort();
    }
    tracing::info!("scheduler stopped");
    Ok(())
}
