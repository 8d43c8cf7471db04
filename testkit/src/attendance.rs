//! The people registry, capture devices and attendance through the API: registering an
//! employee with photos, waiting for enrollment, registering a device and sending captures.

use std::time::Duration;

use reqwest::multipart::Form;
use serde_json::Value;

use crate::client::file_part;
use crate::{Caller, Response};

/// `POST /faces` with `fields` (name, employeeId, …) and `images` (file name, bytes) as
/// `images[]`; the answer is left to the caller.
pub async fn register_face(
    caller: &Caller,
    fields: &[(&str, &str)],
    images: Vec<(&str, Vec<u8>)>,
) -> Response {
    let form = fields.iter().fold(Form::new(), |form, (k, v)| {
        form.text(k.to_string(), v.to_string())
    });
    let form = images.into_iter().fold(form, |form, (name, bytes)| {
        form.part("images[]", file_part(name, None, bytes))
    });
    caller.multipart("/faces", form).await
}

/// Polls `{base}/{id}/images` until no photo is pending (2 minutes at most), and returns them.
pub async fn wait_images_processed(caller: &Caller, base: &str, id: &str) -> Vec<Value> {
    let images = caller
        .wait_for(
            format!("{base}/{id}/images"),
            Duration::from_secs(120),
            Duration::from_millis(200),
            |images| {
                images
                    .as_array()
                    .is_some_and(|all| all.iter().all(|p| p["status"] != "pending"))
            },
        )
        .await;
    images.as_array().unwrap().clone()
}

/// An employee `name` (`employee_id`) with `photo` enrolled (checked); returns their id.
pub async fn enroll_employee(
    caller: &Caller,
    name: &str,
    employee_id: &str,
    photo: Vec<u8>,
) -> String {
    let id = register_face(
        caller,
        &[
            ("name", name),
            ("employeeId", employee_id),
            ("department", "Research"),
        ],
        vec![("face.png", photo)],
    )
    .await
    .expect(201)
    .id();
    let images = wait_images_processed(caller, "/faces", &id).await;
    assert_eq!(images[0]["status"], "enrolled", "{images:?}");
    id
}

/// Registers a capture device in `classroom`; returns its id and API key.
pub async fn create_device(caller: &Caller, name: &str, classroom: &str) -> (String, String) {
    let data = caller
        .post_json(
            "/devices",
            serde_json::json!({ "name": name, "classroomId": classroom, "location": "Door" }),
        )
        .await
        .expect(201)
        .data();
    (
        data["id"].as_str().unwrap().to_string(),
        data["apiKey"].as_str().unwrap().to_string(),
    )
}

/// What a device sends to `POST /capture`.
pub struct Capture<'a> {
    pub device_id: &'a str,
    pub capture_id: &'a str,
    pub image: Vec<u8>,
    /// RFC 3339; the server's clock when `None`.
    pub timestamp: Option<&'a str>,
    pub classroom_id: Option<&'a str>,
}

/// Sends a capture as a device (`device` calls with the device key), waiting up to `wait`
/// (e.g. `"10s"`) for the decision; the answer is left to the caller.
pub async fn capture(device: &Caller, c: Capture<'_>, wait: Option<&str>) -> Response {
    let mut form = Form::new()
        .text("deviceId", c.device_id.to_string())
        .text("captureId", c.capture_id.to_string());
    if let Some(t) = c.timestamp {
        form = form.text("timestamp", t.to_string());
    }
    if let Some(room) = c.classroom_id {
        form = form.text("classroomId", room.to_string());
    }
    form = form.part("image", file_part("capture.jpg", None, c.image));
    let path = match wait {
        Some(w) => format!("/capture?wait={w}"),
        None => "/capture".to_string(),
    };
    device.multipart(path, form).await
}
