//! `search.live`: watches one live stream for the searched persons until the search stops it
//! (then it succeeds) or it is cancelled. Detections are keyed by wall-clock time, so a
//! restarted watch never collides with what an earlier one stored; appearances are rebuilt
//! every few seconds so matches show up while the stream runs. A dropped stream is reopened.

use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;
use vigil_core::jobs::kinds;
use vigil_core::searches::{self, ChildCounters, LiveWatchJob};
use vigil_video::SampleOptions;

use super::{ChildSetup, FrameStore, build_matcher, record_appearances, setup};
use crate::context::{JobContext, JobError, Outcome};
use crate::frames::scan::{self, Event};
use crate::registry::Handler;
use crate::{media, vision};

/// How long to wait for a frame before doing the periodic work anyway.
const TICK: Duration = Duration::from_millis(500);
/// How often appearances are rebuilt from the recent detections (and the stop flag read).
const REVIEW_EVERY: Duration = Duration::from_secs(3);
/// How far back each rebuild looks.
const REVIEW_WINDOW_MS: i64 = 120_000;
/// Reconnects to a dropped stream, waiting this long between attempts...
const RECONNECT_DELAY: Duration = Duration::from_secs(2);
/// ...and giving up (the job retries later) after this many failures in a row.
const MAX_RECONNECTS: u32 = 5;

#[derive(Default)]
pub struct SearchLive;

/// What a stopped watch reports.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct WatchResult {
    video_id: Uuid,
    frames_processed: u64,
    hits: u64,
    watched_secs: f64,
}

fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

#[async_trait::async_trait]
impl Handler for SearchLive {
    type Payload = LiveWatchJob;

    async fn run(&self, job: &JobContext, p: LiveWatchJob) -> Result<Outcome, JobError> {
        let (setup, matcher) = setup(job, p.search_id, p.video_id).await?;
        let url = setup
            .video
            .stream_url(job.app.secrets.sealer())?
            .ok_or_else(|| JobError::Permanent("not a live stream".into()))?;
        let mut first_matcher = Some(matcher);
        let watch_started = Instant::now();
        let (mut frames, mut hits, mut failures) = (0u64, 0u64, 0u32);
        let mut last_error = String::new();
        loop {
            if stopped(job, &p).await? {
                break;
            }
            // The matcher goes to the inference thread: each reconnection builds a fresh one
            // (which also picks up photos enrolled meanwhile).
            let matcher = match first_matcher.take() {
                Some(m) => m,
                None => {
                    build_matcher(job, setup.search.id, &setup.settings)
                        .await?
                        .0
                }
            };
            let options = SampleOptions {
                fps: setup.settings.sample_fps,
                skip_non_reference: true,
                max_pixels: job.app.config.max_video_pixels,
                ..SampleOptions::live()
            };
            job.progress(0.0, "connecting");
            let persons = matcher.persons().to_vec();
            // Checked before every connection: the name may resolve elsewhere by now.
            let opened = match media::stream(job, &url).await {
                Ok(input) => scan::start(
                    input,
                    options,
                    vision::faces().await?,
                    matcher,
                    setup.settings.small_faces,
                    vision::model_threads(&job.app.config, kinds::SEARCH_LIVE.queue),
                )
                .await
                .map_err(media::stream_error),
                Err(e) => Err(e),
            };
            let mut scan = match opened {
                Ok(scan) => scan,
                Err(JobError::Retryable(reason)) => {
                    failures += 1;
                    last_error = reason;
                    if failures > MAX_RECONNECTS {
                        return Err(JobError::Retryable(last_error));
                    }
                    job.sleep(RECONNECT_DELAY).await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let opened = scan.opened_at.unwrap_or_else(SystemTime::now);
            let mut store = FrameStore::new(&setup, persons);
            let mut last_review = Instant::now();
            let outcome: Result<bool, JobError> = loop {
                job.check()?;
                match tokio::time::timeout(TICK, scan.events.recv()).await {
                    Ok(Some(Event::Frame(frame))) => {
                        failures = 0;
                        let at = opened + Duration::from_secs_f64(frame.timestamp_secs);
                        let observed: DateTime<Utc> = at.into();
                        let stored = store
                            .store(job, epoch_ms(at), Some(observed), frame)
                            .await?;
                        hits += stored as u64;
                        frames += 1;
                    }
                    Ok(Some(Event::Error(e))) => {
                        tracing::warn!(video = %p.video_id, error = %e, "live stream failed");
                        last_error = e.user_message().to_string();
                        break Ok(false);
                    }
                    Ok(Some(Event::End(..)) | None) => {
                        last_error = "the stream ended".into();
                        break Ok(false);
                    }
                    Ok(Some(Event::ModelError(e))) => break Err(JobError::Retryable(e)),
                    // No frame this tick: fall through to the periodic work.
                    Err(_) => {}
                }
                if last_review.elapsed() >= REVIEW_EVERY {
                    last_review = Instant::now();
                    review(job, &setup).await?;
                    job.progress(0.0, "watching");
                    job.counters(&ChildCounters {
                        video_id: Some(p.video_id),
                        frames_processed: frames,
                        frames_analysed: 0,
                        hits,
                        seconds_processed: watch_started.elapsed().as_secs_f64(),
                        live: true,
                    });
                    if stopped(job, &p).await? {
                        break Ok(true);
                    }
                }
            };
            drop(scan);
            store.finish(job).await?;
            review(job, &setup).await?;
            if outcome? {
                break;
            }
            failures += 1;
            if failures > MAX_RECONNECTS {
                return Err(JobError::Retryable(format!(
                    "stream keeps failing: {last_error}"
                )));
            }
            tracing::warn!(video = %p.video_id, error = %last_error, "live stream dropped; reconnecting");
            job.sleep(RECONNECT_DELAY).await?;
        }
        Ok(Outcome::done(&WatchResult {
            video_id: p.video_id,
            frames_processed: frames,
            hits,
            watched_secs: watch_started.elapsed().as_secs_f64(),
        }))
    }
}

async fn stopped(job: &JobContext, p: &LiveWatchJob) -> Result<bool, JobError> {
    let mut conn = job.db().await?;
    Ok(searches::stop_requested(&mut conn, p.search_id, p.video_id).await?)
}

/// Rebuilds the appearances of the last couple of minutes.
async fn review(job: &JobContext, setup: &ChildSetup) -> Result<(), JobError> {
    let now = epoch_ms(SystemTime::now());
    record_appearances(job, setup, now - REVIEW_WINDOW_MS, now).await?;
    Ok(())
}
