//! `face.enroll`: one photo → one embedding, or a rejection users can act on ("no face",
//! "several faces", "face too small", "too blurry").

use image::RgbImage;
use serde_json::json;
use vigil_core::faces::{self, EnrollRequest, PhotoStatus};
use vigil_models::Face;

use crate::context::{JobContext, JobError, OrSkip, Outcome};
use crate::registry::Handler;
use crate::vision::{self, FACE_MODEL_ID};

/// A face whose box is smaller than this (shorter side, pixels) is too small to enroll:
/// the recognition net sees a 150 px crop and small faces lose the detail it needs.
pub const MIN_FACE_PX: f32 = 64.0;
/// Faces at least this fraction of the largest face's size count as "another person in the
/// photo"; smaller ones (people far in the background) are ignored.
const OTHER_FACE_RATIO: f32 = 0.5;
/// Detector confidence below which a face is not clear enough to enroll.
const MIN_SCORE: f32 = 0.7;
/// Variance of the Laplacian of the face (grey, scaled to 128 px) below which it is too
/// blurry. Sharp photos of the face-api samples measure 150–900; a 4 px Gaussian blur of
/// them measures under 20 (see `sharpness` tests).
pub const MIN_SHARPNESS: f32 = 40.0;

#[derive(Default)]
pub struct Enroll;

#[async_trait::async_trait]
impl Handler for Enroll {
    type Payload = EnrollRequest;

    async fn run(&self, job: &JobContext, req: EnrollRequest) -> Result<Outcome, JobError> {
        let mut conn = job.db().await?;
        let photo = faces::get_photo(&mut conn, req.photo_id)
            .await
            .or_skip("photo deleted")?;
        drop(conn);
        job.progress(10.0, "reading photo");
        let bytes = job.app.storage.get_bytes(&photo.object_key).await?;
        let limits = vigil_models::decode::DecodeLimits::new(job.app.config.max_image_pixels);
        let decoded =
            vision::blocking(move || vigil_models::decode::decode_rgb_with(&bytes, &limits))
                .await?;
        let image = match decoded {
            Ok(image) => image,
            Err(e) => {
                let reason = format!("not a readable image: {e}");
                return reject(job, photo.id, PhotoStatus::Failed, &reason, None).await;
            }
        };
        job.progress(30.0, "finding the face");
        let pipeline = vision::faces().await?;
        let img = image.clone();
        let found = vision::blocking(move || pipeline.detect_faces(&img))
            .await?
            .map_err(|e| JobError::Retryable(format!("face detection failed: {e}")))?;
        let verdict = judge(&image, &found);
        let mut conn = job.db().await?;
        match verdict {
            Verdict::Accept { face, info } => {
                faces::enroll(
                    &mut conn,
                    &photo,
                    FACE_MODEL_ID,
                    &face.descriptor,
                    info.clone(),
                )
                .await?;
                Ok(Outcome::Done(json!({
                    "photoId": photo.id,
                    "status": PhotoStatus::Enrolled,
                    "face": info,
                })))
            }
            Verdict::Reject { reason, info } => {
                drop(conn);
                reject(job, photo.id, PhotoStatus::Rejected, &reason, info).await
            }
        }
    }
}

async fn reject(
    job: &JobContext,
    photo: uuid::Uuid,
    status: PhotoStatus,
    reason: &str,
    info: Option<serde_json::Value>,
) -> Result<Outcome, JobError> {
    let mut conn = job.db().await?;
    faces::reject(&mut conn, photo, status, reason, info).await?;
    // The job did its work: the photo's status carries the verdict.
    Ok(Outcome::Done(
        json!({ "photoId": photo, "status": status, "reason": reason }),
    ))
}

#[derive(Debug)]
pub enum Verdict<'a> {
    Accept {
        face: &'a Face,
        info: serde_json::Value,
    },
    Reject {
        reason: String,
        info: Option<serde_json::Value>,
    },
}

fn face_info(face: &Face, sharpness: Option<f32>) -> serde_json::Value {
    json!({
        "box": face.bbox,
        "score": face.score,
        "sizePx": face.bbox.width.min(face.bbox.height).round(),
        "sharpness": sharpness,
    })
}

/// Decides whether a photo enrolls: exactly one clear, large enough, sharp enough face.
pub fn judge<'a>(image: &RgbImage, found: &'a [Face]) -> Verdict<'a> {
    let side = |f: &Face| f.bbox.width.min(f.bbox.height);
    let Some(main) = found.iter().max_by(|a, b| side(a).total_cmp(&side(b))) else {
        return Verdict::Reject {
            reason: "no face found: upload a photo where the person's face is clearly visible"
                .into(),
            info: None,
        };
    };
    let others = found
        .iter()
        .filter(|f| !std::ptr::eq(*f, main) && side(f) >= OTHER_FACE_RATIO * side(main))
        .count();
    if others > 0 {
        return Verdict::Reject {
            reason: format!(
                "several faces found ({}): upload a photo of this person alone",
                others + 1
            ),
            info: Some(json!({ "faces": others + 1 })),
        };
    }
    if side(main) < MIN_FACE_PX {
        return Verdict::Reject {
            reason: format!(
                "face too small ({:.0} px; at least {MIN_FACE_PX:.0} px needed): upload a closer or larger photo",
                side(main)
            ),
            info: Some(face_info(main, None)),
        };
    }
    if main.score < MIN_SCORE {
        return Verdict::Reject {
            reason: format!(
                "face not clear enough (detector confidence {:.2}): upload a photo facing the camera",
                main.score
            ),
            info: Some(face_info(main, None)),
        };
    }
    let sharp = sharpness(image, main);
    if sharp < MIN_SHARPNESS {
        return Verdict::Reject {
            reason: format!(
                "face too blurry (sharpness {sharp:.0}; at least {MIN_SHARPNESS:.0}): upload a sharper photo"
            ),
            info: Some(face_info(main, Some(sharp))),
        };
    }
    Verdict::Accept {
        face: main,
        info: face_info(main, Some(sharp)),
    }
}

/// Variance of the 4-neighbour Laplacian over the face box, in grey levels, after scaling the
/// face to 128 px: a standard focus measure, independent of the photo's resolution.
pub fn sharpness(image: &RgbImage, face: &Face) -> f32 {
    const N: u32 = 128;
    let b = face.bbox;
    let x0 = b.x.max(0.0) as u32;
    let y0 = b.y.max(0.0) as u32;
    let w = (b.width as u32).min(image.width().saturating_sub(x0));
    let h = (b.height as u32).min(image.height().saturating_sub(y0));
    if w < 3 || h < 3 {
        return 0.0;
    }
    let crop = image::imageops::crop_imm(image, x0, y0, w, h).to_image();
    let grey = image::imageops::grayscale(&crop);
    let grey = image::imageops::resize(&grey, N, N, image::imageops::FilterType::Triangle);
    let px = |x: u32, y: u32| f32::from(grey.get_pixel(x, y).0[0]);
    let mut values = Vec::with_capacity(((N - 2) * (N - 2)) as usize);
    for y in 1..N - 1 {
        for x in 1..N - 1 {
            values.push(px(x - 1, y) + px(x + 1, y) + px(x, y - 1) + px(x, y + 1) - 4.0 * px(x, y));
        }
    }
    let mean = values.iter().sum::<f32>() / values.len() as f32;
    values.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / values.len() as f32
}
