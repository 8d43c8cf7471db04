//! `video.probe`: reads an uploaded video's duration, frame rate, size and codec, or marks the
//! video failed with a reason users can read (not a video, cannot be decoded).

use vigil_core::videos::{self, ProbeRequest, ProbeResult};
use vigil_video::{FrameSampler, SampleOptions, VideoInfo};

use crate::context::{JobContext, JobError, OrSkip, Outcome};
use crate::media;
use crate::registry::Handler;
use crate::vision;

#[derive(Default)]
pub struct Probe;

#[async_trait::async_trait]
impl Handler for Probe {
    type Payload = ProbeRequest;

    async fn run(&self, job: &JobContext, req: ProbeRequest) -> Result<Outcome, JobError> {
        let mut conn = job.db().await?;
        let video = videos::get(&mut conn, req.video_id)
            .await
            .or_skip("video deleted")?;
        drop(conn);
        let stream_url = video.stream_url(job.app.secrets.sealer())?;
        let (input, is_stream) = match (&video.object_key, &stream_url) {
            (Some(key), _) => (media::upload(job, key).await?, false),
            (None, Some(url)) => (media::stream(job, url).await?, true),
            (None, None) => return Err(JobError::Permanent("video has no source".into())),
        };
        job.progress(20.0, "probing");
        let options = SampleOptions {
            max_pixels: job.app.config.max_video_pixels,
            ..SampleOptions::default()
        };
        let probed = vision::blocking(move || vigil_video::probe_with(input, &options)).await?;
        let probed = match (probed, &video.object_key) {
            (Ok(info), Some(key)) => {
                match duration_problem(job, key, &info, video.size_bytes).await? {
                    Some(reason) => Err(reason),
                    None => Ok(info),
                }
            }
            (probed, _) => probed.map_err(|e| {
                if is_stream {
                    media::stream_error(e)
                } else {
                    media::file_error(e)
                }
            }),
        };
        let mut conn = job.db().await?;
        match probed {
            Ok(info) => {
                let result = ProbeResult {
                    duration_secs: info.duration_secs,
                    fps: info.fps,
                    width: info.width,
                    height: info.height,
                    codec: info.codec,
                    container: info.container,
                    bit_rate: info.bit_rate,
                };
                videos::set_probed(&mut conn, video.id, &result).await?;
                Ok(Outcome::done(&result))
            }
            Err(JobError::Permanent(reason)) => {
                videos::set_failed(&mut conn, video.id, &reason).await?;
                // The video is marked failed; the job fails too, so it shows in the dead
                // letters with the same reason.
                Err(JobError::Permanent(reason))
            }
            Err(other) => Err(other),
        }
    }
}

/// Data rate below which a claimed duration is implausible for real footage (bits per
/// second); such a file is checked by seeking to the end it claims.
const MIN_PLAUSIBLE_BITRATE: f64 = 4_000.0;

/// Why the video's duration makes it unusable, if it does: longer than searches may fan out
/// over, or a length its data cannot back (a kilobyte claiming ten hours would otherwise
/// become thousands of search segments).
async fn duration_problem(
    job: &JobContext,
    key: &str,
    info: &VideoInfo,
    size_bytes: Option<i64>,
) -> Result<Option<JobError>, JobError> {
    let Some(duration) = info.duration_secs.filter(|d| *d > 0.0) else {
        return Ok(None);
    };
    let max = job.app.config.max_video_duration_secs as f64;
    if duration > max {
        return Ok(Some(JobError::Permanent(format!(
            "the video lasts {:.1} h; at most {:.1} h can be searched (VIGIL_MAX_VIDEO_DURATION_SECS)",
            duration / 3600.0,
            max / 3600.0
        ))));
    }
    let bits = size_bytes.unwrap_or(i64::MAX) as f64 * 8.0;
    if duration < 60.0 || bits / duration >= MIN_PLAUSIBLE_BITRATE {
        return Ok(None);
    }
    let input = media::upload(job, key).await?;
    let options = SampleOptions {
        fps: 1.0,
        start_secs: (duration - 5.0).max(0.0),
        max_pixels: job.app.config.max_video_pixels,
        ..SampleOptions::default()
    };
    let reached = vision::blocking(move || {
        FrameSampler::open(input, options)
            .ok()
            .and_then(|mut frames| frames.next())
            .and_then(Result::ok)
            .map(|frame| frame.timestamp_secs)
    })
    .await?;
    Ok(match reached {
        Some(at) if at >= duration - 60.0 => None,
        _ => Some(JobError::Permanent(format!(
            "the file says it lasts {duration:.0} s but its data ends far earlier: not a usable video"
        ))),
    })
}
