//! `camera.test`: connects, decodes, and measures what the camera delivers. An unreachable
//! camera is a test that ran and failed (`success: false` with a short reason), not a job
//! error: that is the answer the operator asked for. It takes at most the open timeout plus
//! the read timeout plus the measuring period.

use std::time::{Duration, Instant};

use chrono::Utc;
use vigil_core::cameras::{ConnectionReport, TestConnectionJob, observed};
use vigil_video::{FrameSampler, Input, SampleOptions, VideoError};

use super::load;
use crate::context::{JobContext, JobError, OrSkip, Outcome};
use crate::media;
use crate::registry::Handler;
use crate::vision;

/// Time to connect and read the stream's header.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Time to wait for the first (and each later) decoded frame.
pub const READ_TIMEOUT: Duration = Duration::from_secs(6);
/// How long frames and bytes are counted after the first frame.
const MEASURE_FOR: Duration = Duration::from_secs(2);

#[derive(Default)]
pub struct TestConnection;

#[async_trait::async_trait]
impl Handler for TestConnection {
    type Payload = TestConnectionJob;

    async fn run(&self, job: &JobContext, p: TestConnectionJob) -> Result<Outcome, JobError> {
        let (camera, url) = load(job, &p.camera_id).await?;
        job.progress(10.0, "connecting");
        let started = Instant::now();
        let report = match media::stream(job, &url).await {
            Ok(input) => {
                let max_pixels = job.app.config.max_video_pixels;
                vision::blocking(move || measure(input, max_pixels, started)).await?
            }
            Err(e) => failure(e.to_string()),
        };
        tracing::info!(camera = %camera.id, success = report.success, message = %report.message, "connection test");
        let mut conn = job.db().await?;
        observed::record_check(&mut conn, &camera.id, &report, Utc::now())
            .await
            .or_skip("camera deleted")?;
        Ok(Outcome::done(&report))
    }
}

fn failure(reason: String) -> ConnectionReport {
    ConnectionReport {
        success: false,
        message: format!("Connection failed: {reason}"),
        ..ConnectionReport::default()
    }
}

/// Opens the stream, times the first frame, then counts decoded frames and bytes for
/// [`MEASURE_FOR`]. Blocking.
pub fn measure(input: Input, max_pixels: u64, started: Instant) -> ConnectionReport {
    let options = SampleOptions {
        fps: 2.0,
        open_timeout: OPEN_TIMEOUT,
        read_timeout: READ_TIMEOUT,
        max_pixels,
        ..SampleOptions::live()
    };
    let reason = |e: VideoError| failure(media::stream_error(e).to_string());
    let mut sampler = match FrameSampler::open(input, options) {
        Ok(s) => s,
        Err(e) => return reason(e),
    };
    let first = match sampler.next() {
        Some(Ok(frame)) => frame,
        Some(Err(e)) => return reason(e),
        None => return failure("the stream ended before a frame".into()),
    };
    let latency = started.elapsed();
    let info = sampler.info().clone();
    let before = sampler.stats();
    let window = Instant::now();
    while window.elapsed() < MEASURE_FOR {
        match sampler.next() {
            Some(Ok(_)) => {}
            // The figures so far still describe the stream.
            Some(Err(_)) | None => break,
        }
    }
    let secs = window.elapsed().as_secs_f64().max(0.001);
    let after = sampler.stats();
    let frames = after.decoded_frames.saturating_sub(before.decoded_frames);
    let bytes = after.bytes_read.saturating_sub(before.bytes_read);
    let round2 = |v: f64| (v * 100.0).round() / 100.0;
    ConnectionReport {
        success: true,
        latency_ms: Some(latency.as_millis() as u64),
        bitrate: Some(round2(bytes as f64 * 8.0 / secs / 1e6)),
        fps: Some(round2(frames as f64 / secs)),
        resolution: Some(format!("{}x{}", first.width(), first.height())),
        codec: Some(info.codec),
        message: "Connection OK".into(),
    }
}
