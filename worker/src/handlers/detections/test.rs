//! `detections.test`: is the provider there, and how fast? Loads the built-in models (the
//! first call in a worker pays for it) and runs face detection and description on a probe
//! picture — or sends the probe to the external provider and checks its answer — and records
//! the latency as the provider's heartbeat. A provider that cannot
//! answer is a finished test with status `offline` and the reason, not a failed job.

use std::time::Instant;

use chrono::Utc;
use image::{Rgb, RgbImage};
use vigil_core::detections::calls::{self, NewCall};
use vigil_core::detections::{
    CallKind, CallStatus, ProviderReport, ProviderStatus, ProviderTestJob, provider,
};

use crate::context::{JobContext, JobError, Outcome};
use crate::registry::Handler;
use crate::vision;

/// The probe: a 1280×720 picture with texture, the size of a typical camera frame.
fn probe() -> RgbImage {
    RgbImage::from_fn(1280, 720, |x, y| {
        let v = ((x / 16 + y / 16) % 2 * 60 + 90) as u8;
        Rgb([v, v.wrapping_add((x % 50) as u8), v])
    })
}

#[derive(Default)]
pub struct TestProvider;

#[async_trait::async_trait]
impl Handler for TestProvider {
    type Payload = ProviderTestJob;

    async fn run(&self, job: &JobContext, _: ProviderTestJob) -> Result<Outcome, JobError> {
        let mut conn = job.db().await?;
        let settings = provider::get(&mut conn).await?;
        drop(conn);
        let measured = if !settings.enabled {
            Err("the detection provider is disabled".to_string())
        } else if settings.is_builtin() {
            measure().await
        } else {
            measure_external(job, &settings).await?
        };
        let report = match &measured {
            Ok(ms) => ProviderReport {
                status: provider::status_for(*ms),
                latency_ms: Some(*ms),
                message: format!(
                    "Provider healthy: {} answered in {ms} ms on a 1280x720 frame",
                    if settings.is_builtin() {
                        "the built-in models"
                    } else {
                        "the external provider"
                    }
                ),
                tested_at: Utc::now(),
            },
            Err(reason) => ProviderReport {
                status: ProviderStatus::Offline,
                latency_ms: None,
                message: reason.clone(),
                tested_at: Utc::now(),
            },
        };
        let mut conn = job.db().await?;
        calls::record(
            &mut conn,
            NewCall {
                camera: None,
                kind: CallKind::Test,
                status: if measured.is_ok() {
                    CallStatus::Received
                } else {
                    CallStatus::Error
                },
                latency_ms: report.latency_ms,
                payload: Some(serde_json::to_value(&report).unwrap_or_default()),
                error_message: measured.as_ref().err().cloned(),
                job_id: Some(job.job.id),
                occurred_at: report.tested_at,
            },
        )
        .await?;
        provider::heartbeat(&mut conn, report.latency_ms).await?;
        Ok(Outcome::done(&report))
    }
}

/// Milliseconds for the external provider to answer on the probe, sent as a frame is.
async fn measure_external(
    job: &JobContext,
    settings: &provider::Provider,
) -> Result<Result<u64, String>, JobError> {
    let jpeg = vision::blocking(|| vigil_video::encode_jpeg(&probe(), 90))
        .await?
        .map_err(|e| JobError::Retryable(format!("JPEG encoding failed: {e}")))?;
    Ok(
        super::external::detect(job, settings, None, jpeg, (1280, 720))
            .await?
            .map(|(_, ms)| ms),
    )
}

/// Milliseconds for one frame's detection and description.
async fn measure() -> Result<u64, String> {
    let pipeline = vision::faces()
        .await
        .map_err(|e| format!("the face models did not load: {e}"))?;
    let image = probe();
    let started = Instant::now();
    vision::blocking(move || pipeline.detect_faces(&image))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("face detection failed: {e}"))?;
    Ok(started.elapsed().as_millis() as u64)
}
