//! What an attacker would try first: uploads from callers without the permission, oversized
//! form fields.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;
use vigil_testkit::TestApp;

use crate::assert_error_envelope;

const MIB: u64 = 1024 * 1024;

/// A 2 GiB multipart body generated as it is sent; counts the bytes the server took.
fn huge_body(sent: Arc<AtomicU64>) -> reqwest::Body {
    let head = Bytes::from_static(
        b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n\r\n",
    );
    let chunks = futures::stream::iter(
        std::iter::once(head).chain((0..2048).map(|_| Bytes::from(vec![0u8; MIB as usize]))),
    )
    .map(move |chunk| {
        sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        Ok::<_, std::io::Error>(chunk)
    });
    reqwest::Body::wrap_stream(chunks)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_viewers_huge_upload_is_refused_before_its_body_is_read() {
    let app = TestApp::spawn().await;
    let viewer = app.token_for("ROLE-VIEWER").await;
    let admin = app.admin().await;
    let person: Value = app
        .client
        .post(app.url("/api/v1/missing-persons"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "name": "Upload Target" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let person = person["data"]["id"].as_str().unwrap().to_string();
    for path in [
        "/api/v1/videos".to_string(),
        format!("/api/v1/missing-persons/{person}/photos"),
    ] {
        let sent = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let resp = app
            .client
            .post(app.url(&path))
            .bearer_auth(&viewer)
            .header("content-type", "multipart/form-data; boundary=x")
            .body(huge_body(sent.clone()))
            .send()
            .await
            .expect("the server answers before the body is sent");
        let elapsed = started.elapsed();
        assert_eq!(resp.status(), 403, "{path}");
        assert_error_envelope(&resp.json().await.unwrap(), "FORBIDDEN");
        assert!(elapsed < Duration::from_secs(1), "{path}: took {elapsed:?}");
        // Socket buffers take a few MiB before the refusal arrives; the server read none.
        let taken = sent.load(Ordering::Relaxed);
        assert!(taken < 64 * MIB, "{path}: {} MiB were sent", taken / MIB);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn form_text_fields_are_bounded() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let form = reqwest::multipart::Form::new()
        .text("description", "d".repeat(MIB as usize))
        .part(
            "file",
            reqwest::multipart::Part::bytes(vec![1u8; 1024]).file_name("clip.mp4"),
        );
    let resp = app
        .client
        .post(app.url("/api/v1/videos"))
        .bearer_auth(&admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_error_envelope(&resp.json().await.unwrap(), "PAYLOAD_TOO_LARGE");

    let form = reqwest::multipart::Form::new()
        .text("title", "nul\0byte")
        .part(
            "file",
            reqwest::multipart::Part::bytes(vec![1u8; 1024]).file_name("clip.mp4"),
        );
    let resp = app
        .client
        .post(app.url("/api/v1/videos"))
        .bearer_auth(&admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    assert_error_envelope(&resp.json().await.unwrap(), "VALIDATION_ERROR");

    let form = reqwest::multipart::Form::new().text("other", "x");
    let resp = app
        .client
        .post(app.url("/api/v1/videos"))
        .bearer_auth(&admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    // Nothing was stored for any of them.
    let list: Value = app
        .client
        .get(app.url("/api/v1/videos"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["meta"]["total"], 0, "{list}");
}
