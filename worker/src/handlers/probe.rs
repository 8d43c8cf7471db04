//! `video.probe`: reads an uploaded video's duration, frame rate, size and codec, or marks the
//! video failed with a reason users can read (not a video, cannot be decoded).

use std::time::Duration;

use serde_json::json;
use vigil_core::videos::{self, ProbeRequest, ProbeResult};

use crate::context::{Handler, JobContext, JobError, Outcome};
use crate::vision;

/// How long the worker may read an object through its presigned URL.
pub const MEDIA_URL_TTL: Duration = Duration::from_secs(12 * 3600);

pub struct Probe;

#[async_trait::async_trait]
impl Handler for Probe {
    async fn run(&self, job: &JobContext) -> Result<Outcome, JobError> {
        let req: ProbeRequest = job.payload()?;
        let mut conn = job.app.db.get().await.map_err(vigil_core::Error::from)?;
        let video = match videos::get(&mut conn, req.video_id).await {
            Ok(v) => v,
            Err(vigil_core::Error::NotFound(_)) => {
                return Ok(Outcome::Done(json!({ "skipped": "video deleted" })));
            }
            Err(e) => return Err(e.into()),
        };
        drop(conn);
        let location = match (&video.object_key, &video.stream_url) {
            (Some(key), _) => job.app.storage.media_location(key, MEDIA_URL_TTL).await?,
            (None, Some(url)) => url.clone(),
            (None, None) => return Err(JobError::Permanent("video has no source".into())),
        };
        job.progress(20.0, "probing");
        let probed = vision::blocking(move || vigil_video::probe(&location)).await?;
        let mut conn = job.app.db.get().await.map_err(vigil_core::Error::from)?;
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
                Ok(Outcome::Done(json!(result)))
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
