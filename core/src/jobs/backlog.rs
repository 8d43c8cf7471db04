//! The dispatcher's view of the jobs table: due rows not yet on their stream, marking them
//! sent, the window in use, and rows whose message was lost.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::JobStatus;
use crate::db::schema::jobs;
use crate::error::Result;

/// Rows to put on a queue's stream now: due, undispatched, highest priority first. Locked with
/// SKIP LOCKED so concurrent dispatchers split the work instead of duplicating it.
pub async fn batch(conn: &mut AsyncPgConnection, queue: &str, limit: i64) -> Result<Vec<Uuid>> {
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
    diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::status.eq(JobStatus::Queued)),
    )
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
        .filter(jobs::status.eq(JobStatus::Queued))
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
        .filter(jobs::status.eq(JobStatus::Queued))
        .filter(jobs::dispatched_at.lt(before))
        .order(jobs::dispatched_at.asc())
        .limit(limit)
        .select((jobs::id, jobs::queue, jobs::message_id))
        .load(conn)
        .await?)
}

/// Returns a dispatched row to the backlog so it is dispatched again.
pub async fn undispatch(conn: &mut AsyncPgConnection, id: Uuid) -> Result<()> {
    diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::status.eq(JobStatus::Queued)),
    )
    .set((
        jobs::dispatched_at.eq(None::<DateTime<Utc>>),
        jobs::message_id.eq(None::<String>),
    ))
    .execute(conn)
    .await?;
    Ok(())
}
