//! Desired state → running watchers. Every enabled camera that is not in maintenance should
//! have one active `camera.watch` job; the scheduler calls [`reconcile`] every tick (and the
//! API right after a camera is created or enabled, so it need not wait for the tick). A
//! watcher stops by itself within seconds once its camera is disabled, deleted or handed to
//! another job, so only starting needs reconciling.
//!
//! Jobs carry the fleet: a watcher is a leased job on the `live` queue, so cameras spread over
//! worker processes by the job system itself, worker concurrency bounds cameras per process,
//! and a killed worker's cameras are taken over when its leases expire.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use super::{CameraStatus, WatchJob};
use crate::AppContext;
use crate::db::schema::{cameras, jobs as job_rows};
use crate::error::{Error, Result};
use crate::jobs::{self, JobStatus, NewJob, store};

/// Starts a watcher for every enabled camera without an active one; returns how many started.
pub async fn reconcile(ctx: &AppContext) -> Result<usize> {
    let mut conn = ctx.db.get().await?;
    let wanted: Vec<(String, Option<Uuid>)> = cameras::table
        .filter(cameras::enabled.eq(true))
        .filter(cameras::status.ne(CameraStatus::Maintenance))
        .select((cameras::id, cameras::watcher_job_id))
        .load(&mut conn)
        .await?;
    let job_ids: Vec<Uuid> = wanted.iter().filter_map(|(_, j)| *j).collect();
    let active: Vec<Uuid> = job_rows::table
        .filter(job_rows::id.eq_any(&job_ids))
        .filter(job_rows::status.eq_any([JobStatus::Queued, JobStatus::Running, JobStatus::Paused]))
        .select(job_rows::id)
        .load(&mut conn)
        .await?;
    drop(conn);
    let mut started = 0;
    for (camera, previous) in wanted {
        if previous.is_some_and(|j| active.contains(&j)) {
            continue;
        }
        match start(ctx, &camera, previous).await {
            Ok(true) => started += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(%camera, error = %e, "could not start the camera's watcher"),
        }
    }
    if started > 0 {
        tracing::info!(started, "camera watchers started");
    }
    Ok(started)
}

/// Submits the camera's watcher in place of `previous` (none, or a finished job), in one
/// transaction with pointing the camera at it; `false` when another reconciler got there
/// first. Its message goes out after the commit, so a worker never sees the job before the
/// camera names it.
async fn start(ctx: &AppContext, camera: &str, previous: Option<Uuid>) -> Result<bool> {
    let mut conn = ctx.db.get().await?;
    let key = format!(
        "camera-watch:{camera}:{}",
        previous.map_or_else(|| "first".to_string(), |p| p.to_string())
    );
    let new = NewJob::of(&WatchJob {
        camera_id: camera.to_string(),
    })
    .idempotency_key(Some(key));
    let outcome = conn
        .transaction(async |conn| {
            let (job, created) = store::submit(conn, new.clone()).await?;
            if !created {
                return Ok(None);
            }
            let pointed = diesel::update(
                cameras::table
                    .find(camera)
                    .filter(cameras::watcher_job_id.is_not_distinct_from(previous)),
            )
            .set(cameras::watcher_job_id.eq(job.id))
            .execute(conn)
            .await?;
            if pointed == 1 {
                Ok(Some(job))
            } else {
                // Someone else replaced the watcher meanwhile: undo ours.
                Err(Error::conflict("watcher already replaced"))
            }
        })
        .await;
    match outcome {
        Ok(Some(job)) => {
            drop(conn);
            jobs::publish_now(ctx, &job).await;
            Ok(true)
        }
        Ok(None) | Err(Error::Conflict(_)) => Ok(false),
        Err(e) => Err(e),
    }
}
