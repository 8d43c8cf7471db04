//! `search.segment`: one time range of one recorded video. Checkpoints after every stored
//! frame batch, so a pause, a crash or a SIGKILL resumes at the next unprocessed frame.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vigil_core::jobs::kinds;
use vigil_core::searches::{ChildCounters, SegmentJob};
use vigil_video::SampleOptions;

use super::{FrameStore, record_appearances, setup};
use crate::context::{JobContext, JobError, Outcome};
use crate::frames::scan::{self, Event};
use crate::registry::Handler;
use crate::{media, vision};

const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Checkpoint {
    /// The first grid point not yet processed, in seconds.
    next_secs: f64,
    frames: u64,
    /// Frames the models ran on (the others showed an unchanged scene).
    #[serde(default)]
    analysed: u64,
    hits: u64,
}

/// What a finished segment reports.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SegmentResult {
    video_id: Uuid,
    start_secs: f64,
    end_secs: Option<f64>,
    frames_processed: u64,
    frames_analysed: u64,
    hits: u64,
    appearances: usize,
}

#[derive(Default)]
pub struct SearchSegment;

#[async_trait::async_trait]
impl Handler for SearchSegment {
    type Payload = SegmentJob;

    async fn run(&self, job: &JobContext, p: SegmentJob) -> Result<Outcome, JobError> {
        let (setup, matcher) = setup(job, p.search_id, p.video_id).await?;
        let key = setup
            .video
            .object_key
            .clone()
            .ok_or_else(|| JobError::Permanent("not a recorded video".into()))?;
        let fps = setup.settings.sample_fps;
        let mut cp = job.checkpoint::<Checkpoint>().unwrap_or(Checkpoint {
            next_secs: p.start_secs,
            ..Default::default()
        });
        let end = p.end_secs;
        let span = end.map(|e| e - p.start_secs).filter(|s| *s > 0.0);
        let report = |cp: &Checkpoint, stage: &str| {
            if let Some(span) = span {
                job.progress((100.0 * (cp.next_secs - p.start_secs) / span) as f32, stage);
            }
            job.counters(&ChildCounters {
                video_id: Some(p.video_id),
                frames_processed: cp.frames,
                frames_analysed: cp.analysed,
                hits: cp.hits,
                seconds_processed: (cp.next_secs - p.start_secs).max(0.0),
                live: false,
            });
        };
        report(&cp, "scanning");
        let mut ended_early = None;
        if end.is_none_or(|e| cp.next_secs < e) {
            let input = media::upload(job, &key).await?;
            let options = SampleOptions {
                fps,
                start_secs: cp.next_secs,
                end_secs: end,
                // Skipping frames nothing references (most B-frames) saves a fifth to a third
                // of decoding; every segment of a video uses the same setting, so the sampled
                // frames still agree (docs/benchmarks.md "Video decoding").
                skip_non_reference: true,
                max_pixels: job.app.config.max_video_pixels,
                ..SampleOptions::default()
            };
            let mut frames = FrameStore::new(&setup, matcher.persons().to_vec());
            let mut scan = scan::start(
                input,
                options,
                vision::faces().await?,
                matcher,
                setup.settings.small_faces,
                vision::model_threads(&job.app.config, kinds::SEARCH_SEGMENT.queue),
            )
            .await
            .map_err(media::file_error)?;
            let mut last_save = Instant::now();
            loop {
                let event = tokio::select! {
                    event = scan.events.recv() => event,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {
                        if let Err(stop) = job.check() {
                            frames.finish(job).await.ok();
                            job.save_checkpoint(&cp).await.ok();
                            return Err(stop);
                        }
                        continue;
                    }
                };
                match event {
                    Some(Event::Frame(frame)) => {
                        let next = (frame.sample_index + 1) as f64 / fps;
                        let frame_ms = (frame.timestamp_secs * 1000.0).round() as i64;
                        cp.analysed += u64::from(frame.analysed);
                        cp.hits += frames.store(job, frame_ms, None, frame).await? as u64;
                        cp.frames += 1;
                        cp.next_secs = next.max(cp.next_secs);
                        report(&cp, "scanning");
                        if last_save.elapsed() >= CHECKPOINT_EVERY {
                            job.save_checkpoint(&cp).await?;
                            last_save = Instant::now();
                        }
                        if let Err(stop) = job.check() {
                            frames.finish(job).await.ok();
                            job.save_checkpoint(&cp).await.ok();
                            return Err(stop);
                        }
                    }
                    Some(Event::End(stats, times)) => {
                        tracing::info!(
                            video = %p.video_id,
                            start_secs = p.start_secs,
                            decode_ms = times.decode.as_millis() as u64,
                            detect_ms = times.detect.as_millis() as u64,
                            describe_ms = times.describe.as_millis() as u64,
                            matching_ms = times.matching.as_millis() as u64,
                            thumbnails_ms = times.thumbnails.as_millis() as u64,
                            "segment scanned"
                        );
                        if stats.ended_early {
                            ended_early = stats.last_timestamp_secs.or(Some(cp.next_secs));
                        }
                        break;
                    }
                    Some(Event::Error(e)) => {
                        frames.finish(job).await.ok();
                        job.save_checkpoint(&cp).await.ok();
                        return Err(media::file_error(e));
                    }
                    Some(Event::ModelError(e)) => return Err(JobError::Retryable(e)),
                    None => return Err(JobError::Retryable("frame pipeline stopped".into())),
                }
            }
            frames.finish(job).await?;
            if let Some(end) = end {
                cp.next_secs = cp.next_secs.max(end);
            }
            job.save_checkpoint(&cp).await?;
        }
        job.progress(99.0, "building appearances");
        let from_ms = (p.start_secs * 1000.0).round() as i64;
        let to_ms = end.map_or(i64::MAX / 2, |e| (e * 1000.0).round() as i64);
        let appearances = record_appearances(job, &setup, from_ms, to_ms).await?;
        if let Some(at) = ended_early {
            return Err(JobError::Permanent(format!(
                "the video's data ends at {at:.1} s, before the duration its header states ({:.1} s): the file looks truncated",
                setup.video.duration_secs.unwrap_or_default()
            )));
        }
        report(&cp, "done");
        Ok(Outcome::done(&SegmentResult {
            video_id: p.video_id,
            start_secs: p.start_secs,
            end_secs: end,
            frames_processed: cp.frames,
            frames_analysed: cp.analysed,
            hits: cp.hits,
            appearances,
        }))
    }
}
