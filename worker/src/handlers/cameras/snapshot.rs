//! `camera.snapshot`: one decoded frame as a JPEG at `snapshots/{camera}/{unix ms}.jpg`,
//! recorded (`cameras::snapshots`) so it goes with its camera and with retention; the camera's
//! thumbnail follows the latest snapshot.

use chrono::Utc;
use vigil_core::cameras::{SnapshotJob, SnapshotResult, observed, snapshots};
use vigil_core::storage::ObjectKey;

use super::load;
use crate::context::{JobContext, JobError, Outcome};
use crate::registry::Handler;
use crate::vision;

const JPEG_QUALITY: u8 = 85;

#[derive(Default)]
pub struct Snapshot;

#[async_trait::async_trait]
impl Handler for Snapshot {
    type Payload = SnapshotJob;

    async fn run(&self, job: &JobContext, p: SnapshotJob) -> Result<Outcome, JobError> {
        let (camera, url) = load(job, &p.camera_id).await?;
        job.progress(10.0, "connecting");
        let frame = super::grab_frame(job, &url).await?;
        let at = Utc::now();
        job.progress(60.0, "encoding");
        let (width, height) = (frame.width(), frame.height());
        let jpeg = vision::blocking(move || vigil_video::encode_jpeg(&frame.image, JPEG_QUALITY))
            .await?
            .map_err(|e| JobError::Retryable(format!("JPEG encoding failed: {e}")))?;
        let key = ObjectKey::Snapshot {
            camera: camera.id.clone(),
            at,
        }
        .to_string();
        job.app.storage.put_bytes(&key, jpeg, "image/jpeg").await?;
        let mut conn = job.db().await?;
        snapshots::record(&mut conn, &camera.id, &key, at, Some(job.job.id)).await?;
        observed::set_thumbnail(&mut conn, &camera.id, &key, at).await?;
        drop(conn);
        let url = job
            .app
            .storage
            .download_url(&key, job.app.config.download_url_ttl())
            .await?;
        Ok(Outcome::done(&SnapshotResult {
            asset_id: key,
            url,
            timestamp: at,
            width,
            height,
        }))
    }
}
