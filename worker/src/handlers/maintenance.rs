//! Periodic maintenance the scheduler enqueues: retention cleanup and health recording.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;
use uuid::Uuid;
use vigil_core::auth::{refresh, throttle};
use vigil_core::db::schema::{health_checks, scheduler_ticks};
use vigil_core::health::{self, Status};
use vigil_core::jobs::{store, workers};
use vigil_core::maintenance::{CleanupJob, HealthJob};
use vigil_core::severity::Severity;
use vigil_core::storage::orphans;
use vigil_core::{alerts, audit, exports};

use crate::context::{JobContext, JobError, Outcome};
use crate::registry::Handler;

/// Deletes what has outlived its retention: finished jobs, expired exports (object first, then
/// the row, so a failure leaves the row to retry), objects whose rows were deleted, audit rows,
/// capture photos, camera detections and snapshots, expired refresh tokens and old bookkeeping.
#[derive(Default)]
pub struct Cleanup;

#[async_trait::async_trait]
impl Handler for Cleanup {
    type Payload = CleanupJob;

    async fn run(&self, job: &JobContext, _: CleanupJob) -> Result<Outcome, JobError> {
        let config = &job.app.config;
        let now = Utc::now();
        let mut conn = job.db().await?;
        let mut exports_deleted = 0;
        loop {
            let expired = exports::expired(&mut conn, now, 500).await?;
            if expired.is_empty() {
                break;
            }
            for file in expired {
                job.app.storage.delete(&file.storage_key).await?;
                exports::delete(&mut conn, file.id).await?;
                exports_deleted += 1;
            }
            job.check()?;
        }
        // Retention first, so the objects it lets go are swept in this same run.
        let days = |d: u32| now - chrono::Duration::days(i64::from(d));
        let mut capture_photos_erased = 0;
        loop {
            let erased = vigil_core::attendance::captures::expire_photos(
                &mut conn,
                days(config.capture_retention_days),
                1000,
            )
            .await?;
            capture_photos_erased += erased;
            if erased < 1000 {
                break;
            }
            job.check()?;
        }
        let (detections_deleted, detection_calls_deleted) =
            vigil_core::detections::store::purge_before(
                &mut conn,
                days(config.detection_retention_days),
            )
            .await?;
        let snapshots_deleted = vigil_core::cameras::snapshots::purge_before(
            &mut conn,
            days(config.snapshot_retention_days),
        )
        .await?;
        // Objects of deleted rows that the API could not delete at once (storage down).
        drop(conn);
        let mut orphans_deleted = 0;
        loop {
            let swept = orphans::sweep(&job.app, 500).await?;
            orphans_deleted += swept.deleted;
            if swept.deleted == 0 {
                break;
            }
            job.check()?;
        }
        let mut conn = job.db().await?;
        let jobs_deleted = store::purge_finished_before(
            &mut conn,
            now - chrono::Duration::days(config.job_retention_days as i64),
        )
        .await?;
        let audit_deleted = audit::purge_before(
            &mut conn,
            now - chrono::Duration::days(config.audit_retention_days as i64),
        )
        .await?;
        let tokens_deleted = refresh::purge_expired(&mut conn, chrono::Duration::days(7)).await?;
        throttle::purge_stale(&mut conn, std::time::Duration::from_secs(24 * 3600)).await?;
        let week_ago = now - chrono::Duration::days(7);
        let checks_deleted =
            diesel::delete(health_checks::table.filter(health_checks::checked_at.lt(week_ago)))
                .execute(&mut conn)
                .await
                .map_err(vigil_core::Error::from)?;
        let ticks_deleted =
            diesel::delete(scheduler_ticks::table.filter(scheduler_ticks::tick_at.lt(week_ago)))
                .execute(&mut conn)
                .await
                .map_err(vigil_core::Error::from)?;
        Ok(Outcome::Done(json!({
            "exportsDeleted": exports_deleted,
            "orphanedObjectsDeleted": orphans_deleted,
            "jobsDeleted": jobs_deleted,
            "auditRowsDeleted": audit_deleted,
            "capturePhotosErased": capture_photos_erased,
            "detectionsDeleted": detections_deleted,
            "detectionCallsDeleted": detection_calls_deleted,
            "snapshotsDeleted": snapshots_deleted,
            "refreshTokensDeleted": tokens_deleted,
            "healthChecksDeleted": checks_deleted,
            "schedulerTicksDeleted": ticks_deleted,
        })))
    }
}

/// Checks PostgreSQL, Redis, storage, SMTP and the worker fleet; stores the readings and keeps
/// one open alert per failing component.
#[derive(Default)]
pub struct HealthCheck;

#[async_trait::async_trait]
impl Handler for HealthCheck {
    type Payload = HealthJob;

    async fn run(&self, job: &JobContext, _: HealthJob) -> Result<Outcome, JobError> {
        let mut components = health::check_all(&job.app).await;
        let live = workers::live(&job.app.redis)
            .await
            .map(|w| w.len())
            .unwrap_or(0);
        components.push(health::ComponentHealth {
            name: "workers",
            // This job runs on a worker, so at least one is alive; report the count.
            status: if live > 0 { Status::Up } else { Status::Down },
            latency_ms: 0,
            error: (live == 0).then(|| "no live worker".to_string()),
            required: true,
        });
        let mut conn = job.db().await?;
        let mut down = Vec::new();
        for c in &components {
            let status = match c.status {
                Status::Up => "up",
                Status::Down => "down",
                Status::Disabled => "disabled",
            };
            diesel::insert_into(health_checks::table)
                .values((
                    health_checks::id.eq(Uuid::now_v7()),
                    health_checks::component.eq(c.name),
                    health_checks::status.eq(status),
                    health_checks::latency_ms.eq(c.latency_ms.min(i32::MAX as u64) as i32),
                    health_checks::error.eq(&c.error),
                ))
                .execute(&mut conn)
                .await
                .map_err(vigil_core::Error::from)?;
            if c.status == Status::Down {
                let severity = if c.required {
                    Severity::Critical
                } else {
                    Severity::Warning
                };
                let message = format!(
                    "{} is down: {}",
                    c.name,
                    c.error.clone().unwrap_or_default()
                );
                alerts::raise(
                    &mut conn,
                    "dependency_down",
                    c.name,
                    severity,
                    &message,
                    None,
                )
                .await?;
                down.push(c.name);
            } else {
                alerts::resolve(&mut conn, "dependency_down", c.name).await?;
            }
        }
        Ok(Outcome::Done(json!({ "down": down, "workers": live })))
    }
}
