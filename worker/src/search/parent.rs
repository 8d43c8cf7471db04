//! `search`: fans a search out into child jobs (segments of recorded videos, live streams) and,
//! once they are all done, summarises them onto the search and emails its creator. Runs twice:
//! the first run spawns and waits; the job system re-queues it when the children finish.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;
use vigil_core::jobs::{Job, NewJob, kinds, store};
use vigil_core::searches::{self, SearchJob, SearchVideoState, SegmentJob, results};
use vigil_core::videos::{self, Video};

use super::notify;
use crate::context::{Handler, JobContext, JobError, Outcome};

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Checkpoint {
    /// Children were spawned; a later run only waits or summarises.
    spawned: bool,
}

pub struct Search;

#[async_trait::async_trait]
impl Handler for Search {
    async fn run(&self, job: &JobContext) -> Result<Outcome, JobError> {
        let p: SearchJob = job.payload()?;
        let mut conn = job.app.db.get().await.map_err(vigil_core::Error::from)?;
        let search = match searches::get(&mut conn, p.search_id).await {
            Ok(s) => s,
            Err(vigil_core::Error::NotFound(_)) => {
                return Ok(Outcome::Done(json!({ "skipped": "search deleted" })));
            }
            Err(e) => return Err(e.into()),
        };
        // Until the checkpoint says so, (re)spawn every child: a run that died half-way
        // through spawning is completed, and the idempotency keys skip what exists.
        let spawned = job.checkpoint::<Checkpoint>().is_some_and(|c| c.spawned);
        if spawned {
            let children = store::children(&mut conn, job.job.id).await?;
            if children.iter().any(|c| !c.status().is_terminal()) {
                searches::set_status(&mut conn, search.id, "running", None).await?;
                return Ok(Outcome::AwaitChildren);
            }
            drop(conn);
            return summarise(job, &search, &children).await;
        }
        searches::set_status(&mut conn, search.id, "running", None).await?;
        let settings = search.settings();
        let lines = searches::videos(&mut conn, search.id).await?;
        let ids: Vec<Uuid> = lines.iter().map(|l| l.video_id).collect();
        let videos = videos::get_many(&mut conn, &ids).await?;
        drop(conn);
        let priority = settings.job_priority().unwrap_or(0);
        let mut spawned_any = false;
        for video in &videos {
            let plan = plan(video, settings.segment_secs);
            let mut state = SearchVideoState {
                status: "running".into(),
                segments: plan.len() as i32,
                ..Default::default()
            };
            if plan.is_empty() {
                state.status = "failed".into();
                state.error = Some(match (&video.status[..], &video.error) {
                    (_, Some(e)) => format!("the video cannot be searched: {e}"),
                    (status, None) => format!("the video is not ready ({status})"),
                });
            }
            for (index, (start, end)) in plan.into_iter().enumerate() {
                let kind = if video.is_live() {
                    &kinds::SEARCH_LIVE
                } else {
                    &kinds::SEARCH_SEGMENT
                };
                let payload = SegmentJob {
                    search_id: search.id,
                    video_id: video.id,
                    index: index as u32,
                    start_secs: start,
                    end_secs: end,
                };
                let child = NewJob::new(kind, json!(payload))
                    .priority(priority)
                    .idempotency_key(Some(format!("search:{}:{}:{index}", search.id, video.id)));
                job.spawn_child(child).await?;
                spawned_any = true;
            }
            let mut conn = job.app.db.get().await.map_err(vigil_core::Error::from)?;
            searches::set_video_state(&mut conn, search.id, video.id, &state).await?;
        }
        job.save_checkpoint(json!(Checkpoint { spawned: true }))
            .await?;
        if spawned_any {
            job.progress(0.0, "searching");
            Ok(Outcome::AwaitChildren)
        } else {
            summarise(job, &search, &[]).await
        }
    }
}

/// The time ranges a video is searched in: segments of `segment_secs` for a probed file, one
/// open-ended range for a live stream, none for a video that cannot be read.
fn plan(video: &Video, segment_secs: f64) -> Vec<(f64, Option<f64>)> {
    if video.is_live() {
        return vec![(0.0, None)];
    }
    if video.status != videos::status::READY {
        return Vec::new();
    }
    match video.duration_secs.filter(|d| *d > 0.0) {
        Some(duration) => {
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

/// Per-video outcome from the children; the search's status, summary and email.
async fn summarise(
    job: &JobContext,
    search: &searches::Search,
    children: &[Job],
) -> Result<Outcome, JobError> {
    job.progress(99.0, "summarising");
    let mut conn = job.app.db.get().await.map_err(vigil_core::Error::from)?;
    let lines = searches::videos(&mut conn, search.id).await?;
    let ids: Vec<Uuid> = lines.iter().map(|l| l.video_id).collect();
    let titles: HashMap<Uuid, String> = videos::get_many(&mut conn, &ids)
        .await?
        .into_iter()
        .map(|v| (v.id, v.title))
        .collect();
    let appearances = results::appearances(&mut conn, search.id).await?;
    let (mut ok, mut failed, mut cancelled) = (0, 0, 0);
    let mut email_lines = Vec::new();
    for line in &lines {
        let state = SearchVideoState::from_children(children, line.video_id).unwrap_or_else(|| {
            SearchVideoState {
                status: line.status.clone(),
                error: line.error.clone(),
                segments: line.segments,
                ..Default::default()
            }
        });
        match state.status.as_str() {
            "succeeded" => ok += 1,
            "cancelled" => cancelled += 1,
            _ => failed += 1,
        }
        let found: Vec<_> = appearances
            .iter()
            .filter(|a| a.video_id == line.video_id)
            .collect();
        let title = titles.get(&line.video_id).cloned().unwrap_or_default();
        let mut text = format!(
            "- {title}: {} ({} appearance{})",
            state.status,
            found.len(),
            if found.len() == 1 { "" } else { "s" }
        );
        if let Some(e) = &state.error {
            text.push_str(&format!(" — {e}"));
        }
        for a in found {
            text.push_str(&format!(
                "\n    {}–{} (similarity {:.2})",
                notify::clock(a.start_secs),
                notify::clock(a.end_secs),
                a.best_score
            ));
        }
        email_lines.push(text);
        searches::set_video_state(&mut conn, search.id, line.video_id, &state).await?;
    }
    let status = if ok > 0 || lines.is_empty() {
        "succeeded"
    } else if cancelled > 0 && failed == 0 {
        "cancelled"
    } else {
        "failed"
    };
    let summary = json!({
        "videos": lines.len(),
        "videosSucceeded": ok,
        "videosFailed": failed,
        "videosCancelled": cancelled,
        "appearances": appearances.len(),
    });
    searches::set_status(&mut conn, search.id, status, Some(summary.clone())).await?;
    drop(conn);
    notify::summary(job, search, status, &email_lines).await?;
    match status {
        "succeeded" => Ok(Outcome::Done(summary)),
        "cancelled" => Err(JobError::Cancelled),
        _ => Err(JobError::Permanent(format!(
            "no video could be searched ({failed} failed)"
        ))),
    }
}
