//! `attendance.recognize`: one capture → who it shows, with a confidence, and whether that is
//! approved at once or waits for a reviewer. Unreadable photos and photos without a usable face
//! are results with a reason (the device learns why), not job failures.

use serde::Serialize;
use uuid::Uuid;
use vigil_core::attendance::captures::{self, Capture, CaptureStatus, Measured, RecognizeCapture};
use vigil_core::attendance::decision::{self, Decision, Recognition, Thresholds};
use vigil_core::attendance::negatives;
use vigil_core::people;
use vigil_models::Face;
use vigil_models::gallery::{distance, similarity};

use crate::context::{JobContext, JobError, OrSkip, Outcome};
use crate::frames::matcher::Matcher;
use crate::registry::Handler;
use crate::vision::{self, FACE_MODEL_ID};

/// A face smaller than this (shorter side, pixels) is too small to recognise reliably: the
/// detector misses many faces under ~40 px and their descriptors drift (docs/search.md).
pub const MIN_FACE_PX: f32 = 40.0;

#[derive(Default)]
pub struct Recognize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    capture: Uuid,
    status: CaptureStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    person: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    confidence: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[async_trait::async_trait]
impl Handler for Recognize {
    type Payload = RecognizeCapture;

    async fn run(&self, job: &JobContext, p: RecognizeCapture) -> Result<Outcome, JobError> {
        let mut conn = job.db().await?;
        let capture = captures::get(&mut conn, p.capture)
            .await
            .or_skip("capture deleted")?;
        drop(conn);
        if capture.status != CaptureStatus::Processing {
            // Decided by an earlier attempt that stopped before finishing the job.
            return Ok(Outcome::done(&summary(&capture, None)));
        }
        let Some(key) = capture.object_key.clone() else {
            return Err(JobError::Skip("capture photo erased"));
        };
        let bytes = job.app.storage.get_bytes(&key).await?;
        let limits = vigil_models::decode::DecodeLimits::new(job.app.config.max_image_pixels);
        let decoded =
            vision::blocking(move || vigil_models::decode::decode_rgb_with(&bytes, &limits))
                .await?;
        let image = match decoded {
            Ok(image) => image,
            Err(e) => {
                let reason = format!("not a readable image: {e}");
                return unusable(job, &capture, CaptureStatus::Failed, reason, None).await;
            }
        };
        let pipeline = vision::faces().await?;
        // A dark capture is brightened first: the detector misses most faces at dusk.
        let found = vision::blocking(move || {
            pipeline.detect_faces(&vigil_models::exposure::lift_dark(&image))
        })
        .await?
        .map_err(|e| JobError::Retryable(format!("face detection failed: {e}")))?;
        let side = |f: &Face| f.bbox.width.min(f.bbox.height);
        // The device photographs the person in front of it: the largest face.
        let Some(face) = found.iter().max_by(|a, b| side(a).total_cmp(&side(b))) else {
            let reason = "no face found: the person should face the device".to_string();
            return unusable(job, &capture, CaptureStatus::NoFace, reason, None).await;
        };
        let info = serde_json::json!({
            "box": face.bbox,
            "score": face.score,
            "sizePx": side(face).round(),
            "faces": found.len(),
        });
        if side(face) < MIN_FACE_PX {
            let reason = format!(
                "face too small ({:.0} px; at least {MIN_FACE_PX:.0} px needed): the person should come closer",
                side(face)
            );
            return unusable(job, &capture, CaptureStatus::NoFace, reason, Some(info)).await;
        }

        let mut conn = job.db().await?;
        let gallery = people::gallery(&mut conn, FACE_MODEL_ID).await?;
        drop(conn);
        let recognition = nearest(&gallery, face)?;
        let recognition = match recognition {
            Some(mut r) => {
                let mut conn = job.db().await?;
                let negatives =
                    negatives::of_person(&mut conn, job.app.secrets.sealer(), r.person).await?;
                drop(conn);
                r.nearest_negative = negatives
                    .iter()
                    .map(|n| distance(n, &face.descriptor))
                    .reduce(f32::min);
                Some(r)
            }
            None => None,
        };
        let decided = decision::decide(
            recognition.as_ref(),
            Thresholds::from_config(&job.app.config),
        );
        let measured = Measured {
            nearest: recognition.as_ref().map(|r| r.person),
            distance: recognition.as_ref().and_then(|r| r.distance),
            confidence: recognition.as_ref().map(|r| r.confidence),
            margin: recognition.as_ref().and_then(|r| r.margin),
            face: info,
            descriptor: negatives::seal_descriptor(job.app.secrets.sealer(), &face.descriptor),
        };
        let mut conn = job.db().await?;
        captures::record_decision(&mut conn, &capture, measured, decided.clone()).await?;
        let capture = captures::get(&mut conn, capture.id).await?;
        let person = match decided {
            Decision::Match { person, .. } => Some(person),
            Decision::Unknown => None,
        };
        Ok(Outcome::done(&Summary {
            person,
            ..summary(&capture, None)
        }))
    }
}

/// The nearest enrolled person to `face`, with the margin to the next one.
fn nearest(gallery: &[people::GalleryEntry], face: &Face) -> Result<Option<Recognition>, JobError> {
    // Size was checked already: every face here is judged.
    let Some(mut matcher) = Matcher::for_people(gallery, 0.0)? else {
        return Ok(None);
    };
    let candidates = matcher.frame(std::slice::from_ref(face))?.candidates;
    Ok(candidates
        .into_iter()
        .min_by(|a, b| a.distance.total_cmp(&b.distance))
        .map(|c| Recognition {
            person: c.person,
            distance: Some(c.distance),
            confidence: similarity(c.distance),
            margin: c.margin,
            nearest_negative: None,
        }))
}

fn summary(capture: &Capture, reason: Option<String>) -> Summary {
    Summary {
        capture: capture.id,
        status: capture.status,
        person: capture.predicted_person_id,
        confidence: capture.confidence,
        reason: reason.or_else(|| capture.reason.clone()),
    }
}

async fn unusable(
    job: &JobContext,
    capture: &Capture,
    status: CaptureStatus,
    reason: String,
    face: Option<serde_json::Value>,
) -> Result<Outcome, JobError> {
    let mut conn = job.db().await?;
    captures::record_unusable(&mut conn, capture.id, status, &reason, face).await?;
    // The job did its work: the capture's status carries the verdict.
    Ok(Outcome::done(&Summary {
        capture: capture.id,
        status,
        person: None,
        confidence: None,
        reason: Some(reason),
    }))
}
