//! Queues as ops see them: paused flags and job counts per status.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::JobStatus;
use crate::db::schema::queues;
use crate::error::Result;

pub async fn paused(conn: &mut AsyncPgConnection) -> Result<Vec<String>> {
    Ok(queues::table
        .filter(queues::paused.eq(true))
        .select(queues::name)
        .load(conn)
        .await?)
}

pub async fn set_paused(conn: &mut AsyncPgConnection, queue: &str, paused: bool) -> Result<()> {
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

pub async fn stats(conn: &mut AsyncPgConnection) -> Result<Vec<(String, QueueStats)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        queue: String,
        #[diesel(sql_type = Text)]
        status: JobStatus,
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
        match row.status {
            JobStatus::Queued => {
                stats.queued = row.n;
                stats.oldest_queued_at = row.oldest;
            }
            JobStatus::Running => stats.running = row.n,
            JobStatus::Paused => stats.paused = row.n,
            JobStatus::Failed => stats.failed = row.n,
            JobStatus::Succeeded => stats.succeeded = row.n,
            JobStatus::Cancelled => stats.cancelled = row.n,
        }
    }
    Ok(out)
}
