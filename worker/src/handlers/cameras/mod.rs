//! Camera jobs: a connection test and a snapshot (short jobs on the `cameras` queue) and the
//! long-running watcher (`live` queue). Every stream is opened through `crate::media`, i.e.
//! the egress gate, right before connecting.

pub mod analyser;
pub mod check;
pub mod faces;
mod session;
pub mod snapshot;
pub mod watch;

use vigil_core::cameras::{self, Camera};
use vigil_video::{Frame, FrameSampler, SampleOptions};

use crate::context::{JobContext, JobError, OrSkip};
use crate::{media, vision};

/// The camera a job is about, and the URL to connect with (credentials included).
pub(crate) async fn load(job: &JobContext, id: &str) -> Result<(Camera, String), JobError> {
    let mut conn = job.db().await?;
    let camera = cameras::get(&mut conn, id)
        .await
        .or_skip("camera deleted")?;
    drop(conn);
    let url = camera.connect_url(job.app.secrets.sealer())?;
    Ok((camera, url))
}

/// One decoded frame of a camera's stream (opened through the egress gate).
pub(crate) async fn grab_frame(job: &JobContext, url: &str) -> Result<Frame, JobError> {
    let input = media::stream(job, url).await?;
    let options = SampleOptions {
        fps: 1.0,
        open_timeout: check::OPEN_TIMEOUT,
        read_timeout: check::READ_TIMEOUT,
        max_pixels: job.app.config.max_video_pixels,
        ..SampleOptions::live()
    };
    vision::blocking(move || match FrameSampler::open(input, options)?.next() {
        Some(frame) => frame,
        None => Err(vigil_video::VideoError::StreamEnded(
            "the stream ended before a frame".into(),
        )),
    })
    .await?
    .map_err(media::stream_error)
}
