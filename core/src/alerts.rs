//! System alerts: at most one open alert per (kind, source); resolved when the condition clears.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::alerts;
use crate::error::Result;
use crate::severity::Severity;

/// Opens an alert unless the same one is already open.
pub async fn raise(
    conn: &mut AsyncPgConnection,
    kind: &str,
    source: &str,
    severity: Severity,
    message: &str,
    details: Option<serde_json::Value>,
) -> Result<bool> {
    let n = diesel::insert_into(alerts::table)
        .values((
            alerts::id.eq(Uuid::now_v7()),
            alerts::kind.eq(kind),
            alerts::source.eq(source),
            alerts::severity.eq(severity),
            alerts::message.eq(message),
            alerts::details.eq(details),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(n == 1)
}

pub async fn resolve(conn: &mut AsyncPgConnection, kind: &str, source: &str) -> Result<usize> {
    Ok(diesel::update(
        alerts::table
            .filter(alerts::kind.eq(kind))
            .filter(alerts::source.eq(source))
            .filter(alerts::resolved_at.is_null()),
    )
    .set(alerts::resolved_at.eq(Some(Utc::now())))
    .execute(conn)
    .await?)
}

pub async fn open_count(conn: &mut AsyncPgConnection, kind: &str, source: &str) -> Result<i64> {
    Ok(alerts::table
        .filter(alerts::kind.eq(kind))
        .filter(alerts::source.eq(source))
        .filter(alerts::resolved_at.is_null())
        .count()
        .get_result(conn)
        .await?)
}
