//! Feeding PostgreSQL's backlog to the Redis streams in a bounded window, and reconciling the
//! two after failures. Both run in every worker process (and the scheduler's reconcile task),
//! concurrently safe: backlog rows are taken with SKIP LOCKED and every transition is
//! conditional.

use std::time::Duration;

use chrono::Utc;
use diesel_async::AsyncConnection;

use super::{backlog, family, kinds, lease, queues, stream};
use crate::context::AppContext;
use crate::error::{Error, Result};

/// Most rows moved per queue per pass, so one pass stays short.
const BATCH: i64 = 200;

/// Puts due backlog rows on their streams while each queue's window has room. Returns how many
/// were dispatched.
pub async fn dispatch_once(ctx: &AppContext) -> Result<usize> {
    let window = ctx.config.dispatch_window as i64;
    let mut conn = ctx.db.get().await?;
    let paused = queues::paused(&mut conn).await?;
    let mut total = 0;
    for queue in kinds::queues() {
        if paused.iter().any(|p| p == queue) {
            continue;
        }
        let room = window - backlog::in_flight(&mut conn, queue).await?;
        if room <= 0 {
            continue;
        }
        let redis = ctx.redis.clone();
        let moved = conn
            .transaction(async |conn| {
                let ids = backlog::batch(conn, queue, room.min(BATCH)).await?;
                for id in &ids {
                    // Publishing inside the transaction: if the commit fails, the row stays in
                    // the backlog and is published again; the duplicate is dropped at claim.
                    let message = stream::publish(&redis, queue, *id).await?;
                    backlog::mark_dispatched(conn, *id, &message).await?;
                }
                Ok::<_, Error>(ids.len())
            })
            .await?;
        total += moved;
    }
    Ok(total)
}

#[derive(Debug, Default, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconcileReport {
    pub expired_leases: usize,
    pub lost_messages: usize,
    pub parents_finished: usize,
    pub consumers_pruned: usize,
}

/// Repairs what crashes and data loss leave behind:
/// * running rows whose worker stopped renewing its lease go back to the backlog;
/// * queued rows whose stream entry is gone (Redis restarted without persistence, or was
///   flushed) go back to the backlog and are dispatched again;
/// * parents whose children all finished are finished;
/// * consumers of exited workers are removed from the consumer groups.
pub async fn reconcile(ctx: &AppContext) -> Result<ReconcileReport> {
    let mut report = ReconcileReport::default();
    let mut conn = ctx.db.get().await?;
    report.expired_leases = lease::recover_expired(&mut conn).await?;

    // Give a fresh message time to be read before calling it lost.
    let before = Utc::now() - chrono::Duration::seconds(5);
    for (id, queue, message_id) in backlog::dispatched_before(&mut conn, before, 2_000).await? {
        let present = match &message_id {
            Some(m) => stream::exists(&ctx.redis, &queue, m).await?,
            None => false,
        };
        if !present {
            backlog::undispatch(&mut conn, id).await?;
            report.lost_messages += 1;
        }
    }

    for parent in family::stalled_parents(&mut conn).await? {
        family::aggregate_parent(&mut conn, parent).await?;
        report.parents_finished += 1;
    }

    for queue in kinds::queues() {
        stream::ensure_group(&ctx.redis, queue).await?;
        report.consumers_pruned += stream::prune_consumers(&ctx.redis, queue, 3_600_000).await?;
    }
    if report.expired_leases + report.lost_messages + report.parents_finished > 0 {
        tracing::warn!(?report, "reconciled jobs");
    }
    Ok(report)
}

/// Dispatches continuously and reconciles every `reconcile_every`, until `shutdown` resolves.
/// Errors (Redis or PostgreSQL down) are logged and retried; they never end the loop.
pub async fn run(
    ctx: AppContext,
    reconcile_every: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut dispatch_tick = tokio::time::interval(Duration::from_millis(250));
    dispatch_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reconcile_tick = tokio::time::interval(reconcile_every);
    reconcile_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = dispatch_tick.tick() => {
                if let Err(e) = dispatch_once(&ctx).await {
                    tracing::warn!(error = %e, "dispatch failed; will retry");
                }
            }
            _ = reconcile_tick.tick() => {
                if let Err(e) = reconcile(&ctx).await {
                    tracing::warn!(error = %e, "reconcile failed; will retry");
                }
            }
        }
    }
}
