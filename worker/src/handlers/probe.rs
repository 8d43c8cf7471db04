//! `video.probe`: reads an uploaded video's duration, frame rate, size and codec, or marks the
//! video failed with a reason users can read (not a video, cannot be decoded).

use std::time::Duration;

use vigil_core::videos::{self, ProbeRequest, ProbeResult};

use crate::context::{JobContext, JobError, OrSkip, Outcome};
use crate::registry::Handler;
use crate::vision;

/// How long the worker may read an object through its presigned URL.
pub const MEDIA_URL_TTL: Duration = Duration::from_secs(12 * 3600);

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
        let location = match (&video.object_key, &video.stream_url) {
            (Some(key), _) => job.app.storage.media_location(key, MEDIA_URL_TTL).await?,
            (None, Some(url)) => url.clone(),
            (None, None) => return Err(JobError::Permanent("video has no source".into())),
        };
        job.progress(20.0, "probing");
        let probed = vision::blocking(move || vigil_video::probe(&location)).await?;
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
            Err(e) if e.is_transient() => Err(JobError::Retryable(e.to_string())),
            Err(e) => {
                let reason = e.to_string();
                videos::set_failed(&mut conn, video.id, &reason).await?;
                // The video is marked failed; the job fails too, so it shows in the dead
                // letters with the same reason.
                Err(JobError::Permanent(reason))
            }
        }
    }
}
