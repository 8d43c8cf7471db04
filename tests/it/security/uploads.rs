//! Uploads are authorized before their body is read, and their parts are bounded.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use reqwest::multipart::Form;
use serde_json::json;
use vigil_testkit::TestApp;
use vigil_testkit::client::file_part;

const MIB: u64 = 1024 * 1024;

/// A 2 GiB multipart body generated as it is sent; counts the bytes handed to the socket.
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
    let admin = app.as_user(&app.admin().await);
    let viewer = app.as_new_user("ROLE-VIEWER").await;
    let person = admin
        .post_json("/missing-persons", json!({ "name": "Upload Target" }))
        .await
        .expect(201)
        .id();
    for path in [
        "/videos".to_string(),
        format!("/missing-persons/{person}/photos"),
    ] {
        let sent = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        viewer
            .post(&path)
            .body("multipart/form-data; boundary=x", huge_body(sent.clone()))
            .await
            .expect_error(403, "FORBIDDEN");
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(1), "{path}: took {elapsed:?}");
        // Socket buffers take a few MiB before the refusal arrives; the server read none.
        let taken = sent.load(Ordering::Relaxed);
        assert!(taken < 64 * MIB, "{path}: {} MiB were sent", taken / MIB);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn form_text_fields_are_bounded() {
    let app = TestApp::spawn().await;
    let admin = app.as_user(&app.admin().await);
    let clip = || file_part("clip.mp4", Some("video/mp4"), vec![1u8; 1024]);
    let form = Form::new()
        .text("description", "d".repeat(MIB as usize))
        .part("file", clip());
    admin
        .multipart("/videos", form)
        .await
        .expect_error(413, "PAYLOAD_TOO_LARGE");
    let form = Form::new().text("title", "nul\0byte").part("file", clip());
    admin
        .multipart("/videos", form)
        .await
        .expect_error(422, "VALIDATION_ERROR");
    let form = Form::new().text("other", "x");
    admin
        .multipart("/videos", form)
        .await
        .expect_error(422, "VALIDATION_ERROR");
    // Nothing was stored for any of them.
    assert_eq!(admin.get("/videos").await.expect(200).meta()["total"], 0);
}
