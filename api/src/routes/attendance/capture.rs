//! `POST /capture`: a capture device sends a photo; an `attendance.recognize` job decides who
//! it shows. The answer is the decision when it is ready within the wait the device asks for
//! (`?wait=2s`), else 202 with the job. `GET /capture/{id}` lets the device read it later.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::multipart::Upload;
use poem_openapi::{ApiResponse, Multipart, OpenApi};
use uuid::Uuid;
use vigil_core::attendance::captures::{
    self, Capture, CaptureStatus, NewCapture, RecognizeCapture,
};
use vigil_core::devices::{self, Device};
use vigil_core::jobs::{self, NewJob};
use vigil_core::storage::ObjectKey;

use super::dto::{CaptureDto, capture_dtos};
use crate::auth::DeviceAuth;
use crate::envelope::{self, Envelope, Ok};
use crate::error::{ApiError, ApiResult};
use crate::middleware::note;
use crate::routes::Tag;
use crate::routes::face_photos::sniff_image;
use crate::state::ApiState;
use crate::upload::{FormLimits, MultipartBody};

/// How often a waiting capture request looks at its capture.
const WAIT_POLL: Duration = Duration::from_millis(40);

/// `POST /capture` (multipart).
#[derive(Debug, Multipart)]
#[oai(rename_all = "camelCase")]
pub struct CaptureForm {
    /// The photo (JPEG or PNG), at most `VIGIL_MAX_CAPTURE_BYTES`.
    pub image: Upload,
    /// The sending device's id (the one its key belongs to).
    pub device_id: String,
    /// Where the photo was taken; the device's classroom when absent.
    pub classroom_id: Option<String>,
    /// When the photo was taken (RFC 3339); the time of receipt when absent.
    pub timestamp: Option<String>,
    /// Chosen by the device, unique per device: sending the same id again (a retry from the
    /// device's offline buffer) returns the first capture instead of adding one.
    pub capture_id: String,
}

#[derive(ApiResponse)]
pub enum CaptureResponse {
    /// Decided: `status` is `authorized` (see `reviewStatus`), `unknown`, `no_face` or
    /// `failed` (with `reason`).
    #[oai(status = 200)]
    Decided(Json<Envelope<CaptureDto>>),
    /// Accepted, still being recognised: read it again with `GET /capture/{id}`.
    #[oai(status = 202)]
    Accepted(Json<Envelope<CaptureDto>>),
}

impl CaptureResponse {
    fn of(dto: CaptureDto) -> Self {
        if dto.status == CaptureStatus::Processing {
            Self::Accepted(envelope::ok(dto))
        } else {
            Self::Decided(envelope::ok(dto))
        }
    }
}

/// `2s`, `1500ms` or plain seconds (`2`, `0.5`).
fn parse_wait(text: &str) -> Result<Duration, ApiError> {
    let text = text.trim();
    let bad = || ApiError::validation("wait", "wait must be like 2s, 1500ms or 2");
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    if !value.is_finite() || value < 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64((value * scale).min(3600.0)))
}

struct Fields {
    image: Option<(bytes::Bytes, &'static str, &'static str)>,
    device_id: Option<String>,
    classroom_id: Option<String>,
    timestamp: Option<String>,
    capture_id: Option<String>,
}

pub struct CaptureApi {
    pub state: Arc<ApiState>,
}

impl CaptureApi {
    async fn read_form(&self, body: MultipartBody<CaptureForm>) -> ApiResult<Fields> {
        let max = self.state.ctx.config.max_capture_bytes;
        let mut form = body.read(FormLimits {
            text_fields: &["deviceId", "classroomId", "timestamp", "captureId"],
            file_fields: &["image"],
            max_parts: 5,
            max_file_bytes: max,
            max_total_bytes: max + 64 * 1024,
        });
        let mut f = Fields {
            image: None,
            device_id: None,
            classroom_id: None,
            timestamp: None,
            capture_id: None,
        };
        while let Some(part) = form.next().await? {
            match part.name() {
                "image" => {
                    let bytes = part.bytes().await?;
                    let Some((content_type, ext)) = sniff_image(&bytes) else {
                        return Err(ApiError::validation(
                            "image",
                            "the image is not a JPEG or PNG image",
                        ));
                    };
                    f.image = Some((bytes, content_type, ext));
                }
                "deviceId" => f.device_id = Some(part.text().await?),
                "classroomId" => f.classroom_id = Some(part.text().await?),
                "timestamp" => f.timestamp = Some(part.text().await?),
                "captureId" => f.capture_id = Some(part.text().await?),
                _ => {}
            }
        }
        Ok(f)
    }

    /// The device the form names must be the one whose key sent it.
    async fn check_device(&self, device: &Device, named: Option<&str>) -> ApiResult<()> {
        let named = named
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::validation("deviceId", "deviceId is required"))?;
        let id = Uuid::parse_str(named)
            .map_err(|_| ApiError::not_found(format!("unknown device {named:?}")))?;
        if id == device.id {
            return Ok(());
        }
        let mut conn = crate::routes::conn(&self.state).await?;
        match devices::get(&mut conn, id).await {
            Result::Ok(_) => Err(ApiError::forbidden(
                "deviceId names another device than the one this key belongs to",
            )),
            Err(_) => Err(ApiError::not_found(format!("unknown device {named}"))),
        }
    }

    async fn dto(&self, capture: Capture, duplicate: bool) -> ApiResult<CaptureDto> {
        let mut dtos = capture_dtos(&self.state, vec![capture]).await?;
        let mut dto = dtos.pop().ok_or_else(ApiError::internal)?;
        dto.duplicate = duplicate;
        Ok(dto)
    }

    /// Waits until the capture is decided or `wait` has passed.
    async fn wait_decided(&self, capture: Capture, wait: Duration) -> ApiResult<Capture> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut capture = capture;
        while capture.status == CaptureStatus::Processing && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(WAIT_POLL.min(deadline - tokio::time::Instant::now())).await;
            let mut conn = crate::routes::conn(&self.state).await?;
            capture = captures::get(&mut conn, capture.id).await?;
        }
        Ok(capture)
    }
}

#[OpenApi(prefix_path = "/api/v1/capture", tag = "Tag::Attendance")]
impl CaptureApi {
    /// Send a photo from a capture device (device key). Multipart: `image`, `deviceId`,
    /// `classroomId`, `timestamp`, `captureId`. With `?wait=2s` the answer waits up to that
    /// long for the decision (at most `VIGIL_CAPTURE_MAX_WAIT_MS`): 200 with it, or 202 while
    /// it is still being recognised. A photo without a usable face is a capture with status
    /// `no_face` and a reason, not an error.
    #[oai(path = "/", method = "post", operation_id = "capture.create")]
    async fn create(
        &self,
        req: &Request,
        device: DeviceAuth,
        wait: Query<Option<String>>,
        body: MultipartBody<CaptureForm>,
    ) -> ApiResult<CaptureResponse> {
        let device = device.0;
        let wait = wait
            .0
            .as_deref()
            .map(parse_wait)
            .transpose()?
            .unwrap_or_default()
            .min(Duration::from_millis(
                self.state.ctx.config.capture_max_wait_ms,
            ));
        let _slot = self.state.uploads.take()?;
        let fields = self.read_form(body).await?;
        self.check_device(&device, fields.device_id.as_deref())
            .await?;
        let capture_id = fields
            .capture_id
            .map(|c| c.trim().to_string())
            .ok_or_else(|| ApiError::validation("captureId", "captureId is required"))?;
        captures::validate_capture_id(&capture_id)?;
        let captured_at = match fields.timestamp.as_deref().map(str::trim) {
            None | Some("") => Utc::now(),
            Some(t) => DateTime::parse_from_rfc3339(t)
                .map_err(|_| {
                    ApiError::validation("timestamp", "timestamp must be an RFC 3339 date-time")
                })?
                .with_timezone(&Utc),
        };
        if captured_at > Utc::now() + chrono::Duration::minutes(5) {
            return Err(ApiError::validation(
                "timestamp",
                "timestamp is in the future: check the device's clock",
            ));
        }
        let classroom = fields
            .classroom_id
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .or(device.classroom_id.clone());
        if classroom.as_ref().is_some_and(|c| c.chars().count() > 200) {
            return Err(ApiError::validation(
                "classroomId",
                "classroomId must be at most 200 characters",
            ));
        }
        let (bytes, content_type, ext) = fields
            .image
            .ok_or_else(|| ApiError::validation("image", "image is required"))?;

        // A retry of a capture already received: the first one answers, nothing is stored.
        let mut conn = crate::routes::conn(&self.state).await?;
        if let Some(existing) = captures::find(&mut conn, device.id, &capture_id).await? {
            drop(conn);
            note(req, |n| {
                n.resource_id = Some(existing.id.to_string());
                n.context = Some(serde_json::json!({ "captureId": capture_id, "duplicate": true }));
            });
            let existing = self.wait_decided(existing, wait).await?;
            return Ok(CaptureResponse::of(self.dto(existing, true).await?));
        }
        drop(conn);

        let id = Uuid::now_v7();
        let key = ObjectKey::Capture {
            capture: id,
            at: Utc::now(),
            extension: ext,
        }
        .to_string();
        let size = bytes.len() as i64;
        self.state
            .ctx
            .storage
            .put_bytes(&key, bytes.to_vec(), content_type)
            .await?;
        let mut conn = crate::routes::conn(&self.state).await?;
        let (capture, created) = captures::insert(
            &mut conn,
            NewCapture {
                id,
                device_id: device.id,
                capture_id: &capture_id,
                classroom_id: classroom.as_deref(),
                captured_at,
                object_key: &key,
                content_type,
                size_bytes: size,
            },
        )
        .await?;
        drop(conn);
        let capture = if created {
            let job = NewJob::of(&RecognizeCapture {
                capture: capture.id,
            })
            .idempotency_key(Some(format!("capture:{}", capture.id)));
            let (job, _) = jobs::enqueue(&self.state.ctx, job).await?;
            let mut conn = crate::routes::conn(&self.state).await?;
            captures::set_job(&mut conn, capture.id, job.id).await?;
            Capture {
                job_id: Some(job.id),
                ..capture
            }
        } else {
            // The same capture arrived twice at once: the other request stored it.
            self.state.ctx.storage.delete(&key).await.ok();
            capture
        };
        note(req, |n| {
            n.resource_id = Some(capture.id.to_string());
            n.context = Some(serde_json::json!({ "captureId": capture_id, "duplicate": !created }));
        });
        let capture = self.wait_decided(capture, wait).await?;
        Ok(CaptureResponse::of(self.dto(capture, !created).await?))
    }

    /// A capture this device sent, with its decision (device key).
    #[oai(path = "/:id", method = "get")]
    async fn get(&self, device: DeviceAuth, id: Path<Uuid>) -> ApiResult<Ok<CaptureDto>> {
        let mut conn = crate::routes::conn(&self.state).await?;
        let capture = captures::get(&mut conn, id.0).await?;
        drop(conn);
        if capture.device_id != Some(device.0.id) {
            return Err(ApiError::not_found("no such capture of this device"));
        }
        Ok(envelope::ok(self.dto(capture, false).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_parse_in_seconds_or_milliseconds() {
        assert_eq!(parse_wait("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_wait("1500ms").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_wait("0.5").unwrap(), Duration::from_millis(500));
        assert!(parse_wait("soon").is_err());
        assert!(parse_wait("-1s").is_err());
    }
}
