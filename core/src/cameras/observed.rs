//! What workers observe about a camera, written back to its row: connection figures, the
//! latest snapshot, and whether frames arrive. These never bump `version`: they are not
//! edits, and a client's `PUT` must not conflict with a watcher's heartbeat.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::jobs::ConnectionReport;
use crate::db::schema::cameras;
use crate::error::Result;

/// Stores a connection test's figures (those it measured; the rest stay as they were).
pub async fn record_check(
    conn: &mut AsyncPgConnection,
    id: &str,
    report: &ConnectionReport,
    at: DateTime<Utc>,
) -> Result<()> {
    let current = super::get(conn, id).await?;
    diesel::update(cameras::table.find(id))
        .set((
            cameras::last_checked.eq(at),
            cameras::last_seen.eq(report.success.then_some(at).or(current.last_seen)),
            cameras::latency_ms.eq(report.latency_ms.map(|l| l as f64).or(current.latency_ms)),
            cameras::bitrate.eq(report.bitrate.or(current.bitrate)),
            cameras::fps.eq(report.fps.or(current.fps)),
            cameras::resolution.eq(report.resolution.clone().or(current.resolution)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Makes `key` the camera's thumbnail (the latest snapshot wins; an older one finishing late
/// does not replace a newer one).
pub async fn set_thumbnail(
    conn: &mut AsyncPgConnection,
    id: &str,
    key: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    diesel::update(
        cameras::table.find(id).filter(
            cameras::thumbnail_key
                .is_null()
                .or(cameras::thumbnail_key.lt(key)),
        ),
    )
    .set((cameras::thumbnail_key.eq(key), cameras::last_seen.eq(at)))
    .execute(conn)
    .await?;
    Ok(())
}
