//! An external detection provider over HTTP (seed 004's "third-party detection provider"):
//! a frame goes out as a JPEG, the faces it found and whom it recognised come back. The
//! contract (docs/attendance.md "External provider"):
//!
//! * `POST {endpoint}`, body the JPEG (`Content-Type: image/jpeg`), `Authorization: Bearer
//!   {apiKey}` when a key is set, `X-Vigil-Camera: {cameraId}` for frames of a camera.
//! * `200` with `{"faces": [{"box": {"x", "y", "width", "height"}, "personId": "EMP-001" |
//!   null, "confidence": 0.0–1.0}]}`: boxes in the frame's pixels, `personId` the employee id
//!   or student number Vigil knows the person by.
//!
//! The endpoint passes the same egress gate as camera streams right before each call (the
//! name resolved once, every address checked, the connection pinned to the checked address),
//! redirects are not followed, and the answer is bounded. Failures come back as reasons an
//! operator can act on; their detail goes to the log only.

use std::time::{Duration, Instant};

use serde::Deserialize;
use vigil_core::detections::provider::Provider;
use vigil_core::egress::StreamScheme;
use vigil_models::BBox;

use crate::context::{JobContext, JobError};

/// A provider slower than this has failed the call.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer read (bytes).
const MAX_ANSWER: usize = 1024 * 1024;
/// Most faces taken from one answer.
const MAX_FACES: usize = 100;

/// One face as the provider reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderFace {
    pub bbox: BBox,
    /// The employee id or student number it recognised.
    pub person_number: Option<String>,
    pub confidence: Option<f32>,
}

#[derive(Deserialize)]
struct Answer {
    faces: Vec<AnswerFace>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerFace {
    #[serde(rename = "box")]
    bbox: AnswerBox,
    person_id: Option<String>,
    confidence: Option<f32>,
}

#[derive(Deserialize)]
struct AnswerBox {
    x: f32,
    y: f32,
    width: f32,
    height: f32,
}

/// Sends `jpeg` (a `width`×`height` frame) to the provider; returns its faces and the time
/// it took. `Err` is a reason to show: the call failed or the answer broke the contract.
pub async fn detect(
    job: &JobContext,
    provider: &Provider,
    camera: Option<&str>,
    jpeg: Vec<u8>,
    (width, height): (u32, u32),
) -> Result<Result<(Vec<ProviderFace>, u64), String>, JobError> {
    let key = provider.api_key(job.app.secrets.sealer())?;
    let client = match client(job, &provider.endpoint).await {
        Ok(client) => client,
        Err(reason) => return Ok(Err(reason)),
    };
    let mut request = client
        .post(&provider.endpoint)
        .header(reqwest::header::CONTENT_TYPE, "image/jpeg")
        .body(jpeg);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(camera) = camera {
        request = request.header("X-Vigil-Camera", camera);
    }
    let started = Instant::now();
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::info!(error = %e, "detection provider call failed");
            let why = if e.is_timeout() {
                format!("no answer within {} s", TIMEOUT.as_secs())
            } else {
                "the connection failed".to_string()
            };
            return Ok(Err(format!(
                "the detection provider could not be reached: {why}"
            )));
        }
    };
    let status = answer.status();
    let body = match read_bounded(answer).await {
        Ok(body) => body,
        Err(reason) => return Ok(Err(reason)),
    };
    let ms = started.elapsed().as_millis() as u64;
    if !status.is_success() {
        return Ok(Err(format!(
            "the detection provider answered HTTP {}{}",
            status.as_u16(),
            match status.as_u16() {
                401 | 403 => " (check the API key)",
                404 => " (check the endpoint URL)",
                _ => "",
            }
        )));
    }
    Ok(parse(&body, width, height).map(|faces| (faces, ms)))
}

/// An HTTP client for the endpoint, its address checked now and pinned.
async fn client(job: &JobContext, endpoint: &str) -> Result<reqwest::Client, String> {
    let checked = job.egress.check(endpoint).await.map_err(|e| {
        tracing::info!(error = %e, "detection provider refused by the egress policy");
        format!(
            "the detection provider's address is not allowed: {}",
            e.user_message()
        )
    })?;
    if !matches!(checked.scheme(), StreamScheme::Http | StreamScheme::Https) {
        return Err("the detection provider's endpoint must be an http(s) URL".into());
    }
    let mut builder = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none());
    let host = url::Url::parse(endpoint)
        .ok()
        .and_then(|u| u.domain().map(str::to_string));
    if let (Some(host), Some(addr)) = (host, checked.addr()) {
        builder = builder.resolve(&host, addr);
    }
    builder
        .build()
        .map_err(|e| format!("no HTTP client for the detection provider: {e}"))
}

async fn read_bounded(mut answer: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        match answer.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_ANSWER {
                    return Err(format!(
                        "the detection provider's answer is larger than {} KiB",
                        MAX_ANSWER / 1024
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                tracing::info!(error = %e, "detection provider answer cut short");
                return Err("the detection provider's answer was cut short".into());
            }
        }
    }
}

/// The faces of an answer, checked against the contract and clipped to the frame.
fn parse(body: &[u8], width: u32, height: u32) -> Result<Vec<ProviderFace>, String> {
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| format!("the detection provider's answer is not the expected JSON ({e})"))?;
    let (w, h) = (width as f32, height as f32);
    let mut faces = Vec::with_capacity(answer.faces.len().min(MAX_FACES));
    for (i, f) in answer.faces.into_iter().take(MAX_FACES).enumerate() {
        let b = f.bbox;
        let finite = [b.x, b.y, b.width, b.height].iter().all(|v| v.is_finite());
        if !finite || b.width <= 0.0 || b.height <= 0.0 {
            return Err(format!("face {}: its box is not a box", i + 1));
        }
        let (x0, y0) = (b.x.clamp(0.0, w), b.y.clamp(0.0, h));
        let (x1, y1) = (
            (b.x + b.width).clamp(0.0, w),
            (b.y + b.height).clamp(0.0, h),
        );
        if x1 - x0 < 1.0 || y1 - y0 < 1.0 {
            return Err(format!("face {}: its box lies outside the frame", i + 1));
        }
        if let Some(c) = f.confidence
            && !(0.0..=1.0).contains(&c)
        {
            return Err(format!(
                "face {}: confidence {c} is not between 0 and 1",
                i + 1
            ));
        }
        let number = f
            .person_id
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty());
        if number.as_ref().is_some_and(|p| p.chars().count() > 50) {
            return Err(format!(
                "face {}: personId is longer than 50 characters",
                i + 1
            ));
        }
        faces.push(ProviderFace {
            bbox: BBox {
                x: x0,
                y: y0,
                width: x1 - x0,
                height: y1 - y0,
            },
            person_number: number,
            confidence: f.confidence,
        });
    }
    Ok(faces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_held_to_the_contract() {
        let ok = br#"{"faces": [
            {"box": {"x": 10, "y": 20, "width": 100, "height": 120}, "personId": "EMP-1", "confidence": 0.93},
            {"box": {"x": 1250, "y": 700, "width": 100, "height": 100}, "personId": null}
        ]}"#;
        let faces = parse(ok, 1280, 720).unwrap();
        assert_eq!(faces[0].person_number.as_deref(), Some("EMP-1"));
        assert_eq!(faces[0].confidence, Some(0.93));
        // Clipped to the frame.
        assert_eq!((faces[1].bbox.width, faces[1].bbox.height), (30.0, 20.0));
        assert_eq!(faces[1].person_number, None);

        assert!(parse(b"<html>", 1280, 720).unwrap_err().contains("JSON"));
        assert!(parse(br#"{"detections": []}"#, 1280, 720).is_err());
        let outside = br#"{"faces": [{"box": {"x": 2000, "y": 0, "width": 10, "height": 10}}]}"#;
        assert!(parse(outside, 1280, 720).unwrap_err().contains("outside"));
        let negative = br#"{"faces": [{"box": {"x": 0, "y": 0, "width": -5, "height": 10}}]}"#;
        assert!(parse(negative, 1280, 720).is_err());
        let sure = br#"{"faces": [{"box": {"x": 0, "y": 0, "width": 5, "height": 10}, "confidence": 93}]}"#;
        assert!(
            parse(sure, 1280, 720)
                .unwrap_err()
                .contains("between 0 and 1")
        );
        assert!(parse(br#"{"faces": []}"#, 1280, 720).unwrap().is_empty());
    }
}
