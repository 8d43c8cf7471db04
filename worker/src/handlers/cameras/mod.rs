//! Camera jobs: a connection test and a snapshot (short jobs on the `cameras` queue) and the
//! long-running watcher (`live` queue). Every stream is opened through `crate::media`, i.e.
//! the egress gate, right before connecting.

pub mod analyser;
pub mod check;
mod session;
pub mod snapshot;
pub mod watch;

use vigil_core::cameras::{self, Camera};

use crate::context::{JobContext, JobError, OrSkip};

/// The camera a job is about, and the URL to connect with (credentials included).
async fn load(job: &JobContext, id: &str) -> Result<(Camera, String), JobError> {
    let mut conn = job.db().await?;
    let camera = cameras::get(&mut conn, id)
        .await
        .or_skip("camera deleted")?;
    drop(conn);
    let url = camera.connect_url(job.app.secrets.sealer())?;
    Ok((camera, url))
}
