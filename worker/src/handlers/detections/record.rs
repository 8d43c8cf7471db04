//! Storing one seen face — a camera track, or a face of a frame sent on demand: the rule says
//! what it is (`detections::classify`), its thumbnail goes to storage, the detection and an
//! enrolled person's attendance event to the database, and a visitor raises the camera's
//! unknown-face alert.

use chrono::{DateTime, Utc};
use uuid::Uuid;
use vigil_core::attendance::decision::{Recognition, Thresholds};
use vigil_core::attendance::negatives;
use vigil_core::cameras::Camera;
use vigil_core::detections::classify::{self, Evidence};
use vigil_core::detections::store::{self, Detection, NewDetection};
use vigil_core::detections::{self, DetectionSource, DetectionStatus};
use vigil_core::faces::DESCRIPTOR_LEN;
use vigil_core::storage::ObjectKey;
use vigil_models::BBox;
use vigil_models::gallery::distance;

use crate::context::{JobContext, JobError};
use crate::vision::box_px;

/// A face as seen, before it is judged.
pub struct Seen {
    pub track_id: String,
    pub source: DetectionSource,
    /// The nearest enrolled person (over the track's best faces).
    pub recognition: Option<Recognition>,
    /// The largest face (shorter side, pixels) and the faces seen.
    pub face_px: f32,
    pub frames: u32,
    /// The latest face.
    pub bbox: BBox,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// JPEG of the largest face.
    pub thumbnail: Option<Vec<u8>>,
    /// The largest face's descriptor: compared with the rejected look-alikes of the person it
    /// resembles, and kept (sealed) so a reviewer's rejection becomes one.
    pub descriptor: Option<[f32; DESCRIPTOR_LEN]>,
}

pub async fn record(job: &JobContext, camera: &Camera, seen: Seen) -> Result<Detection, JobError> {
    let sealer = job.app.secrets.sealer();
    let mut recognition = seen.recognition.clone();
    if let (Some(r), Some(face)) = (recognition.as_mut(), seen.descriptor.as_ref()) {
        let mut conn = job.db().await?;
        r.nearest_negative = negatives::of_person(&mut conn, sealer, r.person)
            .await?
            .iter()
            .map(|n| distance(n, face))
            .reduce(f32::min);
    }
    let verdict = classify::classify(
        &Evidence {
            recognition: recognition.clone(),
            face_px: seen.face_px,
            frames: seen.frames,
        },
        Thresholds::from_config(&job.app.config),
    );
    let id = Uuid::now_v7();
    let thumbnail_key = match seen.thumbnail {
        Some(jpeg) => {
            let key = ObjectKey::DetectionFace {
                camera: camera.id.clone(),
                at: seen.first_seen,
                detection: id,
            }
            .to_string();
            job.app.storage.put_bytes(&key, jpeg, "image/jpeg").await?;
            Some(key)
        }
        None => None,
    };
    let status = verdict.status;
    let r = recognition.as_ref();
    let mut conn = job.db().await?;
    let detection = store::record(
        &mut conn,
        NewDetection {
            id,
            camera_id: &camera.id,
            track_id: seen.track_id,
            source: seen.source,
            verdict,
            confidence: r.map(|r| r.confidence),
            distance: r.and_then(|r| r.distance),
            margin: r.and_then(|r| r.margin),
            bbox: box_px(seen.bbox),
            face_px: seen.face_px,
            frames: seen.frames,
            first_seen: seen.first_seen,
            last_seen: seen.last_seen,
            thumbnail_key,
            job_id: Some(job.job.id),
            descriptor: seen
                .descriptor
                .map(|d| negatives::seal_descriptor(sealer, &d)),
        },
    )
    .await?;
    metrics::counter!("vigil_face_detections_total", "camera" => camera.id.clone(), "status" => status.as_str())
        .increment(1);
    if status == DetectionStatus::Visitor {
        detections::alert_unknown_face(
            &mut conn,
            (&camera.id, &camera.name),
            detection.id,
            job.app.config.unknown_face_alert_cooldown_secs,
        )
        .await?;
    }
    Ok(detection)
}
