//! `detections.frame`: one decoded frame of a camera → its faces detected, described and
//! matched against everyone enrolled (or, with an external provider, sent to it and its
//! answer mapped to the people Vigil knows) → one detection per face (one frame is a track of one:
//! a stranger seen once stays `unknown`, see `detections::classify`), enrolled people's
//! attendance events, and a call in the provider's log with its latency.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use image::RgbImage;
use serde::Serialize;
use uuid::Uuid;
use vigil_core::attendance::decision::Recognition;
use vigil_core::cameras::{Camera, CameraStatus, frames};
use vigil_core::detections::calls::{self, NewCall};
use vigil_core::detections::{
    CallKind, CallStatus, DetectionSource, DetectionStatus, FrameJob, provider,
};
use vigil_core::geometry::BoxPx;
use vigil_core::people::{self, PersonStatus};

use crate::context::{JobContext, JobError, Outcome};
use crate::frames::matcher::Matcher;
use crate::frames::scan::thumbnail;
use crate::handlers::attendance::recognize::MIN_FACE_PX;
use crate::handlers::cameras::faces::nearest;
use crate::handlers::cameras::{grab_frame, load};
use crate::handlers::detections::external;
use crate::handlers::detections::record::{self, Seen};
use crate::registry::Handler;
use crate::vision::{self, FACE_MODEL_ID};

/// How long to wait for a camera's watcher to hand over its current frame.
const HANDOVER_WAIT: Duration = Duration::from_secs(8);
/// JPEG quality of frames sent to an external provider.
const PROVIDER_JPEG_QUALITY: u8 = 90;

#[derive(Default)]
pub struct SendFrame;

/// The camera's current frame: from its watcher when one holds the stream (cameras take few
/// sessions; see `cameras::frames`), else from a connection of our own.
async fn current_frame(job: &JobContext, camera: &Camera, url: &str) -> Result<RgbImage, JobError> {
    let redis = &job.app.redis;
    if camera.enabled && camera.watcher_job_id.is_some() && camera.status == CameraStatus::Online {
        frames::request(redis, &camera.id).await?;
        if let Some(jpeg) = frames::wait(redis, &camera.id, HANDOVER_WAIT).await? {
            let limits = vigil_models::decode::DecodeLimits::new(job.app.config.max_image_pixels);
            return vision::blocking(move || vigil_models::decode::decode_rgb_with(&jpeg, &limits))
                .await?
                .map_err(|e| {
                    JobError::Retryable(format!("the watcher's frame did not decode: {e}"))
                });
        }
        tracing::info!(camera = %camera.id, "the watcher did not hand over a frame; connecting");
    }
    Ok(grab_frame(job, url).await?.image)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FrameResult {
    camera_id: String,
    faces: usize,
    detections: Vec<Uuid>,
    /// Detection, description and matching of the frame.
    latency_ms: u64,
    /// Connecting and decoding the frame.
    grab_ms: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FaceSeen {
    detection_id: Uuid,
    status: DetectionStatus,
    person_id: Option<Uuid>,
    confidence: Option<f32>,
    #[serde(rename = "box")]
    bbox: BoxPx,
}

#[async_trait::async_trait]
impl Handler for SendFrame {
    type Payload = FrameJob;

    async fn run(&self, job: &JobContext, p: FrameJob) -> Result<Outcome, JobError> {
        let (camera, url) = load(job, &p.camera_id).await?;
        let cam = (camera.id.as_str(), camera.name.as_str());
        let log = async |status: CallStatus,
                         latency_ms: Option<u64>,
                         payload: Option<serde_json::Value>,
                         error: Option<String>| {
            let mut conn = job.db().await?;
            calls::record(
                &mut conn,
                NewCall {
                    camera: Some(cam),
                    kind: CallKind::Frame,
                    status,
                    latency_ms,
                    payload,
                    error_message: error,
                    job_id: Some(job.job.id),
                    occurred_at: Utc::now(),
                },
            )
            .await?;
            Ok::<_, JobError>(())
        };
        let mut conn = job.db().await?;
        let settings = provider::get(&mut conn).await?;
        drop(conn);
        if !settings.enabled {
            let reason = "the detection provider is disabled".to_string();
            log(CallStatus::Error, None, None, Some(reason.clone())).await?;
            return Err(JobError::Permanent(reason));
        }
        job.progress(10.0, "getting the frame");
        let grab_started = Instant::now();
        let frame = match current_frame(job, &camera, &url).await {
            Ok(frame) => frame,
            Err(e) => {
                log(CallStatus::Error, None, None, Some(e.to_string())).await?;
                return Err(e);
            }
        };
        let grab_ms = grab_started.elapsed().as_millis() as u64;
        let at = Utc::now();
        job.progress(50.0, "detecting");
        let found = if settings.is_builtin() {
            Ok(builtin(job, &camera, frame, at).await?)
        } else {
            external(job, &camera, &settings, frame, at).await?
        };
        let (seen, latency_ms) = match found {
            Ok(found) => found,
            Err(reason) => {
                log(CallStatus::Error, None, None, Some(reason.clone())).await?;
                let mut conn = job.db().await?;
                provider::heartbeat(&mut conn, None).await?;
                return Err(JobError::Permanent(reason));
            }
        };
        let payload = serde_json::json!({
            "faces": seen,
            "grabMs": grab_ms,
        });
        log(CallStatus::Received, Some(latency_ms), Some(payload), None).await?;
        let mut conn = job.db().await?;
        provider::heartbeat(&mut conn, Some(latency_ms)).await?;
        Ok(Outcome::done(&FrameResult {
            camera_id: camera.id.clone(),
            faces: seen.len(),
            detections: seen.iter().map(|s| s.detection_id).collect(),
            latency_ms,
            grab_ms,
        }))
    }
}

/// The frame's faces by the workers' own models: detected, described, matched against
/// everyone enrolled, and stored.
async fn builtin(
    job: &JobContext,
    camera: &Camera,
    frame: RgbImage,
    at: DateTime<Utc>,
) -> Result<(Vec<FaceSeen>, u64), JobError> {
    let mut conn = job.db().await?;
    let gallery = people::gallery(&mut conn, FACE_MODEL_ID).await?;
    drop(conn);
    let matcher = Matcher::for_people(&gallery, MIN_FACE_PX)?;
    let pipeline = vision::faces().await?;
    let started = Instant::now();
    let (faces, distances, thumbnails, matcher) = vision::blocking(move || {
        let frame = vigil_models::exposure::lift_dark(&frame);
        let faces = pipeline.detect_faces(&frame)?;
        let thumbnails: Vec<_> = faces.iter().map(|f| thumbnail(&frame, f.bbox)).collect();
        Ok::<_, vigil_models::Error>((faces, thumbnails, matcher))
    })
    .await?
    .map_err(|e| JobError::Retryable(format!("face detection failed: {e}")))
    .and_then(|(faces, thumbnails, mut matcher)| {
        let distances = match matcher.as_mut() {
            Some(m) => m.frame(&faces)?.distances,
            None => vec![Vec::new(); faces.len()],
        };
        Ok((faces, distances, thumbnails, matcher))
    })?;
    let latency_ms = started.elapsed().as_millis() as u64;
    let persons = matcher.as_ref().map(|m| m.persons()).unwrap_or_default();
    let mut seen = Vec::with_capacity(faces.len());
    for (i, ((face, distances), thumbnail)) in
        faces.iter().zip(&distances).zip(thumbnails).enumerate()
    {
        let face_seen = Seen {
            track_id: track_id(job, i),
            source: DetectionSource::Frame,
            recognition: nearest(persons, distances),
            face_px: face.bbox.width.min(face.bbox.height),
            frames: 1,
            bbox: face.bbox,
            first_seen: at,
            last_seen: at,
            thumbnail,
            descriptor: Some(face.descriptor),
        };
        seen.push(store(job, camera, face_seen).await?);
    }
    Ok((seen, latency_ms))
}

/// The frame's faces by the external provider: sent as a JPEG, its answer mapped to the
/// people Vigil knows by number and stored. `Ok(Err(reason))` when the provider failed.
async fn external(
    job: &JobContext,
    camera: &Camera,
    settings: &provider::Provider,
    frame: RgbImage,
    at: DateTime<Utc>,
) -> Result<Result<(Vec<FaceSeen>, u64), String>, JobError> {
    let size = (frame.width(), frame.height());
    let (jpeg, frame) = vision::blocking(move || {
        let jpeg = vigil_video::encode_jpeg(&frame, PROVIDER_JPEG_QUALITY);
        (jpeg, frame)
    })
    .await?;
    let jpeg = jpeg.map_err(|e| JobError::Retryable(format!("JPEG encoding failed: {e}")))?;
    let (faces, latency_ms) =
        match external::detect(job, settings, Some(&camera.id), jpeg, size).await? {
            Ok(answer) => answer,
            Err(reason) => return Ok(Err(reason)),
        };
    let mut seen = Vec::with_capacity(faces.len());
    for (i, face) in faces.into_iter().enumerate() {
        let recognition = match (&face.person_number, face.confidence) {
            (Some(number), Some(confidence)) => {
                let mut conn = job.db().await?;
                // A number nobody has is a face nobody enrolled; a failed lookup is an error.
                let person = match people::find_by_number(&mut conn, number).await {
                    Ok(person) => Some(person),
                    Err(vigil_core::Error::NotFound(_)) => None,
                    Err(e) => return Err(e.into()),
                };
                person
                    .filter(|p| p.status != PersonStatus::Archived)
                    .map(|p| Recognition {
                        person: p.id,
                        distance: None,
                        confidence,
                        margin: None,
                        nearest_negative: None,
                    })
            }
            _ => None,
        };
        let face_seen = Seen {
            track_id: track_id(job, i),
            source: DetectionSource::Frame,
            recognition,
            face_px: face.bbox.width.min(face.bbox.height),
            frames: 1,
            bbox: face.bbox,
            first_seen: at,
            last_seen: at,
            thumbnail: thumbnail(&frame, face.bbox),
            descriptor: None,
        };
        seen.push(store(job, camera, face_seen).await?);
    }
    Ok(Ok((seen, latency_ms)))
}

fn track_id(job: &JobContext, i: usize) -> String {
    format!("FRAME-{}-{}", job.job.id.simple(), i + 1)
}

async fn store(job: &JobContext, camera: &Camera, seen: Seen) -> Result<FaceSeen, JobError> {
    let detection = record::record(job, camera, seen).await?;
    Ok(FaceSeen {
        detection_id: detection.id,
        status: detection.status,
        person_id: detection.person_id,
        confidence: detection.confidence,
        bbox: detection.bbox,
    })
}
