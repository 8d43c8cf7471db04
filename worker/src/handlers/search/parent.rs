//! `search`: fans a search out into child jobs (segments of recorded videos, live streams) and,
//! once they are all done, summarises them onto the search and emails its creator. Runs twice:
//! the first run spawns and waits; the job system re-queues it when the children finish. The
//! search's status follows this job's (see `vigil_core::searches`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vigil_core::jobs::{JobStatus, NewJob};
use vigil_core::searches::progress::{self, VideoProgress};
use vigil_core::searches::{
    self, LiveWatchJob, SearchJob, SearchSummary, SearchVideoState, SegmentJob, face_tracks,
    results,
};
use vigil_core::videos::{self, Video, VideoStatus};

use super::notify;
use crate::context::{JobContext, JobError, OrSkip, Outcome};
use crate::registry::Handler;

/// Appearances listed per video in the summary email.
const EMAIL_APPEARANCES_PER_VIDEO: usize = 20;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Checkpoint {
    /// Children were spawned; a later run only waits or summarises.
    spawned: bool,
}

#[derive(Default)]
pub struct Search;

#[async_trait::async_trait]
impl Handler for Search {
    type Payload = SearchJob;

    async fn run(&self, job: &JobContext, p: SearchJob) -> Result<Outcome, JobError> {
        let mut conn = job.db().await?;
        let search = searches::get(&mut conn, p.search_id)
            .await
            .or_skip("search deleted")?;
        // Until the checkpoint says so, (re)spawn every child: a run that died half-way
        // through spawning is completed, and the idempotency keys skip what exists.
        if job.checkpoint::<Checkpoint>().is_some_and(|c| c.spawned) {
            let children = progress::by_video(&mut conn, job.job.id).await?;
            if !progress::all_finished(&children) {
                return Ok(Outcome::AwaitChildren);
            }
            drop(conn);
            return summarise(job, &search, &children).await;
        }
        let settings = search.settings();
        let lines = searches::videos(&mut conn, search.id).await?;
        let ids: Vec<Uuid> = lines.iter().map(|l| l.video_id).collect();
        let videos = videos::get_many(&mut conn, &ids).await?;
        drop(conn);
        let priority = settings.priority.job_priority();
        let mut spawned_any = false;
        for video in &videos {
            let plan = plan(
                video,
                settings.segment_secs,
                job.app.config.max_segments_per_video,
            );
            let mut state = SearchVideoState {
                status: JobStatus::Running,
                segments: plan.len() as i32,
                ..Default::default()
            };
            if plan.is_empty() {
                state.status = JobStatus::Failed;
                state.error = Some(match &video.error {
                    Some(e) => format!("the video cannot be searched: {e}"),
                    None => format!("the video is not ready ({})", video.status),
                });
            }
            for (index, (start, end)) in plan.into_iter().enumerate() {
                let child = if video.is_live() {
                    NewJob::of(&LiveWatchJob {
                        search_id: search.id,
                        video_id: video.id,
                    })
                } else {
                    NewJob::of(&SegmentJob {
                        search_id: search.id,
                        video_id: video.id,
                        index: index as u32,
                        start_secs: start,
                        end_secs: end,
                    })
                };
                let child = child
                    .priority(priority)
                    .idempotency_key(Some(format!("search:{}:{}:{index}", search.id, video.id)));
                job.spawn_child(child).await?;
                spawned_any = true;
            }
            let mut conn = job.db().await?;
            searches::set_video_state(&mut conn, search.id, video.id, &state).await?;
        }
        job.save_checkpoint(&Checkpoint { spawned: true }).await?;
        if spawned_any {
            job.progress(0.0, "searching");
            Ok(Outcome::AwaitChildren)
        } else {
            summarise(job, &search, &HashMap::new()).await
        }
    }
}

/// The time ranges a video is searched in: segments of `segment_secs` (longer when that would
/// make more than `max_segments`) for a probed file, one open-ended range for a live stream,
/// none for a video that cannot be read.
fn plan(video: &Video, segment_secs: f64, max_segments: u32) -> Vec<(f64, Option<f64>)> {
    if video.is_live() {
        return vec![(0.0, None)];
    }
    if video.status != VideoStatus::Ready {
        return Vec::new();
    }
    match video.duration_secs.filter(|d| *d > 0.0) {
        Some(duration) => {
            let segment_secs = segment_secs.max(duration / f64::from(max_segments.max(1)));
            let n = (duration / segment_secs).ceil().max(1.0) as usize;
            (0..n)
                .map(|i| {
                    let start = i as f64 * segment_secs;
                    // The last segment is open-ended: the stated duration can be short.
                    let end = (i + 1 < n).then(|| (i + 1) as f64 * segment_secs);
                    (start, end)
                })
                .collect()
        }
        None => vec![(0.0, None)],
    }
}

/// Per-video outcome from the children; the search's summary and email. The job's outcome
/// (and so the search's status) is the search's: succeeded when any video was searched.
async fn summarise(
    job: &JobContext,
    search: &searches::Search,
    children: &HashMap<Uuid, VideoProgress>,
) -> Result<Outcome, JobError> {
    job.progress(99.0, "summarising");
    let mut conn = job.db().await?;
    let lines = searches::videos(&mut conn, search.id).await?;
    drop(conn);
    super::settle_appearances(job, search, &lines).await?;
    let mut conn = job.db().await?;
    let findings = searches::read::findings(&mut conn, search).await?;
    let mut summary = SearchSummary {
        videos: lines.len(),
        appearances: findings.appearances.len(),
        ..Default::default()
    };
    let mut email_lines = Vec::new();
    for line in &lines {
        let state = children
            .get(&line.video_id)
            .map(|p| p.state.clone())
            .unwrap_or_else(|| SearchVideoState {
                status: line.status,
                error: line.error.clone(),
                segments: line.segments,
                ..Default::default()
            });
        match state.status {
            JobStatus::Succeeded => summary.videos_succeeded += 1,
            JobStatus::Cancelled => summary.videos_cancelled += 1,
            _ => summary.videos_failed += 1,
        }
        let found: Vec<&results::Appearance> = findings
            .appearances
            .iter()
            .filter(|a| a.video_id == line.video_id)
            .collect();
        let title = findings
            .titles
            .get(&line.video_id)
            .cloned()
            .unwrap_or_default();
        let mut text = format!(
            "- {title}: {} ({} appearance{})",
            state.status,
            found.len(),
            if found.len() == 1 { "" } else { "s" }
        );
        if let Some(e) = &state.error {
            text.push_str(&format!(" — {e}"));
        }
        // An email, not a report: the first few per video, the rest behind the link.
        for a in found.iter().take(EMAIL_APPEARANCES_PER_VIDEO) {
            text.push_str(&format!(
                "\n    {}–{} (similarity {:.2})",
                notify::clock(a.start_secs),
                notify::clock(a.end_secs),
                a.best_score
            ));
        }
        if found.len() > EMAIL_APPEARANCES_PER_VIDEO {
            text.push_str(&format!(
                "\n    … and {} more (see the search)",
                found.len() - EMAIL_APPEARANCES_PER_VIDEO
            ));
        }
        email_lines.push(text);
        searches::set_video_state(&mut conn, search.id, line.video_id, &state).await?;
    }
    let status = if summary.videos_succeeded > 0 || lines.is_empty() {
        JobStatus::Succeeded
    } else if summary.videos_cancelled > 0 && summary.videos_failed == 0 {
        JobStatus::Cancelled
    } else {
        JobStatus::Failed
    };
    summary.possible_sightings =
        face_tracks::rank_sightings(&mut conn, search.id, search.settings().sighting_bounds())
            .await?;
    if summary.possible_sightings > 0 {
        email_lines.push(format!(
            "\n{} possible sighting(s) — faces too small or unclear to confirm, but closer to the \
             person than the footage's other faces — are waiting for review.",
            summary.possible_sightings
        ));
    }
    searches::set_summary(&mut conn, search.id, &summary).await?;
    drop(conn);
    notify::summary(job, search, status, &email_lines).await?;
    match status {
        JobStatus::Succeeded => Ok(Outcome::done(&summary)),
        JobStatus::Cancelled => Err(JobError::Cancelled),
        _ => Err(JobError::Permanent(format!(
            "no video could be searched ({} failed)",
            summary.videos_failed
        ))),
    }
}
