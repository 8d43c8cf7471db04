//! Per-video progress of a search, added up by PostgreSQL from the search's child jobs.
//!
//! A search may have up to `MAX_VIDEOS` × `VIGIL_MAX_SEGMENTS_PER_VIDEO` children (200,000 by
//! default). Loading them to count in Rust made every status poll read every child row with
//! its payload, and match each one against each video: a few polls of a large search kept the
//! API and the database busy. One grouped query returns one row per video instead.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Double, Float, Int4, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::SearchVideoState;
use crate::error::Result;
use crate::jobs::JobStatus;

/// One video's children, summed up.
#[derive(Debug, Clone)]
pub struct VideoProgress {
    /// Status (running beats queued beats paused; once all are finished, any failure fails
    /// the video and any cancellation cancels it), segments and counters; `error` is the
    /// first failed child's.
    pub state: SearchVideoState,
    /// The first error any child reports, failed or retrying: worth showing while it runs.
    pub last_error: Option<String>,
    /// Mean progress of the children (finished ones count as 100).
    pub progress: f32,
    /// The latest estimate of any child.
    pub eta_at: Option<DateTime<Utc>>,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    video_id: String,
    #[diesel(sql_type = Text)]
    status: JobStatus,
    #[diesel(sql_type = Int4)]
    segments: i32,
    #[diesel(sql_type = Int4)]
    segments_done: i32,
    #[diesel(sql_type = Nullable<Text>)]
    failed_error: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    any_error: Option<String>,
    #[diesel(sql_type = BigInt)]
    frames_processed: i64,
    #[diesel(sql_type = BigInt)]
    frames_analysed: i64,
    #[diesel(sql_type = Double)]
    seconds_processed: f64,
    #[diesel(sql_type = Float)]
    progress: f32,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    eta_at: Option<DateTime<Utc>>,
}

// Counters are the children's `ChildCounters` as JSON; a value that is not a number (never
// written by Vigil) counts as nothing rather than failing the whole status.
const QUERY: &str = "
SELECT payload->>'videoId' AS video_id,
       CASE WHEN bool_or(status = 'running') THEN 'running'
            WHEN bool_or(status = 'queued') THEN 'queued'
            WHEN bool_or(status = 'paused') THEN 'paused'
            WHEN bool_or(status = 'failed') THEN 'failed'
            WHEN bool_or(status = 'cancelled') THEN 'cancelled'
            ELSE 'succeeded' END AS status,
       count(*)::int4 AS segments,
       count(*) FILTER (WHERE status IN ('succeeded', 'failed', 'cancelled'))::int4 AS segments_done,
       (array_agg(error ORDER BY created_at, id) FILTER (WHERE status = 'failed'))[1] AS failed_error,
       (array_agg(error ORDER BY created_at, id) FILTER (WHERE error IS NOT NULL))[1] AS any_error,
       COALESCE(sum(CASE WHEN jsonb_typeof(counters->'framesProcessed') = 'number'
                         THEN (counters->>'framesProcessed')::numeric END), 0)::int8 AS frames_processed,
       COALESCE(sum(CASE WHEN jsonb_typeof(counters->'framesAnalysed') = 'number'
                         THEN (counters->>'framesAnalysed')::numeric END), 0)::int8 AS frames_analysed,
       COALESCE(sum(CASE WHEN jsonb_typeof(counters->'secondsProcessed') = 'number'
                         THEN (counters->>'secondsProcessed')::float8 END), 0)::float8 AS seconds_processed,
       avg(CASE WHEN status IN ('succeeded', 'failed', 'cancelled') THEN 100 ELSE progress END)::float4 AS progress,
       max(eta_at) AS eta_at
FROM jobs
WHERE parent_id = $1 AND payload->>'videoId' IS NOT NULL
GROUP BY payload->>'videoId'";

/// Progress of each video of the search whose parent job is `parent`, keyed by video id; a
/// video without children (not started, or its children removed by retention) is absent.
pub async fn by_video(
    conn: &mut AsyncPgConnection,
    parent: Uuid,
) -> Result<HashMap<Uuid, VideoProgress>> {
    let rows: Vec<Row> = diesel::sql_query(QUERY)
        .bind::<diesel::sql_types::Uuid, _>(parent)
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let video = r.video_id.parse::<Uuid>().ok()?;
            Some((
                video,
                VideoProgress {
                    state: SearchVideoState {
                        status: r.status,
                        error: r.failed_error,
                        segments: r.segments,
                        segments_done: r.segments_done,
                        frames_processed: r.frames_processed,
                        frames_analysed: r.frames_analysed,
                        seconds_processed: r.seconds_processed,
                    },
                    last_error: r.any_error,
                    progress: r.progress,
                    eta_at: r.eta_at,
                },
            ))
        })
        .collect())
}

/// Whether every child of `parent` has finished (true when it has none).
pub fn all_finished(progress: &HashMap<Uuid, VideoProgress>) -> bool {
    progress.values().all(|p| p.state.status.is_terminal())
}
