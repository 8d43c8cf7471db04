//! `video.probe`: reads an uploaded video's duration, frame rate, size and codec, or marks the
//! video failed with a reason users can read (not a video, cannot be decoded).

use vigil_core::videos::{self, ProbeRequest, ProbeResult};

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
        let (input, is_stream) = match (&video.object_key, &video.stream_url) {
            (Some(key), _) => (media::upload(job, key).await?, false),
            (None, Some(url)) => (media::stream(job, url).await?, true),
            (None, None) => return Err(JobError::Permanent("video has no source".into())),
        };
        job.progress(20.0, "probing");
        let probed = vision::blocking(move || vigil_video::probe(input)).await?;
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
            Err(e) => match if is_stream {
                media::stream_error(e)
            } else {
                media::file_error(e)
            } {
                JobError::Permanent(reason) => {
                    videos::set_failed(&mut conn, video.id, &reason).await?;
                    // The video is marked failed; the job fails too, so it shows in the dead
                    // letters with the same reason.
                    Err(JobError::Permanent(reason))
                }
                other => Err(other),
            },
        }
    }
}
