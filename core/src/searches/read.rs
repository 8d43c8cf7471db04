//! The read model of searches: what lists, the dashboard and the status endpoints show. A page
//! of N searches costs a constant number of queries (the searches, then their jobs, persons,
//! video counts and result counts, each for the whole page at once), not a handful per search.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::progress::{self, VideoProgress};
use super::results::{self, Appearance};
use super::{Search, SearchVideo, SearchVideoState, videos as search_videos_of};
use crate::db::schema::{
    appearances, detections, jobs, missing_persons, search_persons, search_videos,
};
use crate::error::Result;
use crate::jobs::{Job, JobStatus};
use crate::videos::{self, Video, VideoKind};

/// A search with what its list entry shows.
#[derive(Debug, Clone)]
pub struct SearchView {
    pub search: Search,
    /// The parent job, while job retention keeps it.
    pub job: Option<Job>,
    /// Searched persons: (missing-person id, name).
    pub persons: Vec<(Uuid, String)>,
    pub videos: i64,
    /// Confirmed detections (part of an appearance).
    pub detections: i64,
    pub appearances: i64,
}

impl SearchView {
    /// The job's status while it exists, else the one the search kept.
    pub fn status(&self) -> JobStatus {
        self.job.as_ref().map_or(self.search.status, |j| j.status)
    }

    pub fn progress(&self) -> f32 {
        match &self.job {
            Some(j) => j.progress,
            None if self.search.status.is_terminal() => 100.0,
            None => 0.0,
        }
    }
}

/// Views of `rows`, in their order, in five queries whatever their number.
pub async fn views(conn: &mut AsyncPgConnection, rows: Vec<Search>) -> Result<Vec<SearchView>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|s| s.id).collect();
    let job_ids: Vec<Uuid> = rows.iter().map(|s| s.job_id).collect();
    let mut jobs_by_id: HashMap<Uuid, Job> = jobs::table
        .filter(jobs::id.eq_any(&job_ids))
        .select(Job::as_select())
        .load::<Job>(conn)
        .await?
        .into_iter()
        .map(|j| (j.id, j))
        .collect();
    let mut persons: HashMap<Uuid, Vec<(Uuid, String)>> = HashMap::new();
    let person_rows: Vec<(Uuid, Uuid, String)> = search_persons::table
        .inner_join(missing_persons::table)
        .filter(search_persons::search_id.eq_any(&ids))
        .order((search_persons::search_id, missing_persons::name))
        .select((
            search_persons::search_id,
            missing_persons::id,
            missing_persons::name,
        ))
        .load(conn)
        .await?;
    for (search, id, name) in person_rows {
        persons.entry(search).or_default().push((id, name));
    }
    let video_counts = counts_by_search(
        search_videos::table
            .filter(search_videos::search_id.eq_any(&ids))
            .group_by(search_videos::search_id)
            .select((search_videos::search_id, count_star()))
            .load(conn)
            .await?,
    );
    let detection_counts = counts_by_search(
        detections::table
            .filter(detections::search_id.eq_any(&ids))
            .filter(detections::appearance_id.is_not_null())
            .group_by(detections::search_id)
            .select((detections::search_id, count_star()))
            .load(conn)
            .await?,
    );
    let appearance_counts = counts_by_search(
        appearances::table
            .filter(appearances::search_id.eq_any(&ids))
            .group_by(appearances::search_id)
            .select((appearances::search_id, count_star()))
            .load(conn)
            .await?,
    );
    Ok(rows
        .into_iter()
        .map(|search| SearchView {
            job: jobs_by_id.remove(&search.job_id),
            persons: persons.remove(&search.id).unwrap_or_default(),
            videos: video_counts.get(&search.id).copied().unwrap_or(0),
            detections: detection_counts.get(&search.id).copied().unwrap_or(0),
            appearances: appearance_counts.get(&search.id).copied().unwrap_or(0),
            search,
        })
        .collect())
}

fn counts_by_search(rows: Vec<(Uuid, i64)>) -> HashMap<Uuid, i64> {
    rows.into_iter().collect()
}

/// One search's view.
pub async fn view(conn: &mut AsyncPgConnection, search: Search) -> Result<SearchView> {
    Ok(views(conn, vec![search]).await?.remove(0))
}

/// One video's line of a search, with its progress.
#[derive(Debug, Clone)]
pub struct VideoLine {
    pub video_id: Uuid,
    pub title: String,
    pub kind: Option<VideoKind>,
    pub duration_secs: Option<f64>,
    pub state: SearchVideoState,
    pub progress: f32,
    pub eta_at: Option<DateTime<Utc>>,
    pub appearances: i64,
}

/// Per-video progress: from the child jobs while they exist (added up in SQL, one row per
/// video), else from what the search stored when it finished. At most `MAX_VIDEOS` lines.
pub async fn video_lines(conn: &mut AsyncPgConnection, search: &Search) -> Result<Vec<VideoLine>> {
    let lines = search_videos_of(conn, search.id).await?;
    let ids: Vec<Uuid> = lines.iter().map(|l| l.video_id).collect();
    let videos: HashMap<Uuid, Video> = videos::get_many(conn, &ids)
        .await?
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    let mut children = progress::by_video(conn, search.job_id).await?;
    let found = appearance_counts(conn, search.id).await?;
    Ok(lines
        .into_iter()
        .map(|line| {
            let video = videos.get(&line.video_id);
            let mut out = VideoLine {
                video_id: line.video_id,
                title: video.map(|v| v.title.clone()).unwrap_or_default(),
                kind: video.map(|v| v.kind),
                duration_secs: video.and_then(|v| v.duration_secs),
                progress: if line.status == JobStatus::Succeeded {
                    100.0
                } else {
                    0.0
                },
                eta_at: None,
                appearances: found.get(&line.video_id).copied().unwrap_or(0),
                state: stored_state(&line),
            };
            if let Some(VideoProgress {
                state,
                last_error,
                progress,
                eta_at,
            }) = children.remove(&line.video_id)
            {
                // While it runs, a retrying segment's last error is worth showing too.
                let error = state
                    .error
                    .clone()
                    .or(last_error)
                    .or(out.state.error.take());
                out.progress = progress;
                out.eta_at = eta_at;
                out.state = SearchVideoState { error, ..state };
            }
            out
        })
        .collect())
}

/// Appearances found per video of a search.
pub async fn appearance_counts(
    conn: &mut AsyncPgConnection,
    search: Uuid,
) -> Result<HashMap<Uuid, i64>> {
    Ok(appearances::table
        .filter(appearances::search_id.eq(search))
        .group_by(appearances::video_id)
        .select((appearances::video_id, count_star()))
        .load::<(Uuid, i64)>(conn)
        .await?
        .into_iter()
        .collect())
}

fn stored_state(line: &SearchVideo) -> SearchVideoState {
    SearchVideoState {
        status: line.status,
        error: line.error.clone(),
        segments: line.segments,
        segments_done: line.segments_done,
        frames_processed: line.frames_processed,
        frames_analysed: line.frames_analysed,
        seconds_processed: line.seconds_processed,
    }
}

/// A search's result: its appearances with the names and titles they refer to.
#[derive(Debug, Clone)]
pub struct Findings {
    pub appearances: Vec<Appearance>,
    /// Video id → title.
    pub titles: HashMap<Uuid, String>,
    /// Missing-person id → name.
    pub names: HashMap<Uuid, String>,
}

/// Every appearance of a search (exports and the final summary read them all).
pub async fn findings(conn: &mut AsyncPgConnection, search: &Search) -> Result<Findings> {
    let appearances = results::appearances(conn, search.id).await?;
    findings_of(conn, search, appearances).await
}

/// The first `per_video` appearances of each video: what the summary endpoint shows.
pub async fn first_findings(
    conn: &mut AsyncPgConnection,
    search: &Search,
    per_video: i64,
) -> Result<Findings> {
    let appearances = results::first_appearances(conn, search.id, per_video).await?;
    findings_of(conn, search, appearances).await
}

async fn findings_of(
    conn: &mut AsyncPgConnection,
    search: &Search,
    appearances: Vec<Appearance>,
) -> Result<Findings> {
    let titles = search_videos::table
        .inner_join(crate::db::schema::videos::table)
        .filter(search_videos::search_id.eq(search.id))
        .select((
            crate::db::schema::videos::id,
            crate::db::schema::videos::title,
        ))
        .load::<(Uuid, String)>(conn)
        .await?
        .into_iter()
        .collect();
    let names = search_persons::table
        .inner_join(missing_persons::table)
        .filter(search_persons::search_id.eq(search.id))
        .select((missing_persons::id, missing_persons::name))
        .load::<(Uuid, String)>(conn)
        .await?
        .into_iter()
        .collect();
    Ok(Findings {
        appearances,
        titles,
        names,
    })
}
