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

async fn login_status(
    app: &TestApp,
    username: &str,
    password: &str,
    forwarded: &str,
) -> (u16, Option<String>) {
    let resp = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", forwarded)
        .json(&serde_json::json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (resp.status().as_u16(), retry)
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_wrong_passwords_lock_the_account_and_then_the_address() {
    let app = TestApp::spawn_with(|c| c.trusted_proxy_count = 1).await;
    let (email, password) = app.create_user("ROLE-VIEWER").await;
    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(login_status(&app, &email, "wrong password", "10.9.9.1").await);
    }
    assert!(statuses[..5].iter().all(|(s, _)| *s == 401), "{statuses:?}");
    let refused: Vec<_> = statuses.iter().filter(|(s, _)| *s == 429).collect();
    assert!(refused.len() >= 20, "{statuses:?}");
    assert!(
        refused.iter().all(|(_, retry)| retry.is_some()),
        "{statuses:?}"
    );
    // Locked: the right password is refused too, from anywhere.
    let (status, _) = login_status(&app, &email, &password, "10.9.9.2").await;
    assert_eq!(status, 429);

    // An unknown account is counted (and answered) the same way.
    for _ in 0..5 {
        let (status, _) = login_status(&app, "nobody@example.test", "x", "10.9.9.3").await;
        assert_eq!(status, 401);
    }
    assert_eq!(
        login_status(&app, "nobody@example.test", "x", "10.9.9.3")
            .await
            .0,
        429
    );

    // One address guessing many accounts is locked after 20 failures, whatever it claims to
    // be on the left of X-Forwarded-For (only the entry the trusted proxy wrote counts).
    let mut last = 0;
    for i in 0..25 {
        let spoofed = format!("203.0.113.{i}, 10.8.8.8");
        last = login_status(&app, &format!("user{i}@example.test"), "x", &spoofed)
            .await
            .0;
    }
    assert_eq!(last, 429);
    // Another address is not affected.
    let (other, _) = app.create_user("ROLE-VIEWER").await;
    assert_eq!(
        login_status(&app, &other, &password, "10.7.7.7").await.0,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_end_on_suspension_and_after_their_absolute_lifetime() {
    let app = TestApp::spawn_with(|c| c.session_max_secs = 60).await;
    let admin = app.admin().await;
    let (email, password) = app.create_user("ROLE-VIEWER").await;
    let session = app.login(&email, &password).await;
    let refresh = |token: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/auth/refresh"))
                .json(&serde_json::json!({ "refreshToken": token }))
                .send()
                .await
                .unwrap()
        }
    };
    let resp = app
        .client
        .put(app.url(&format!(
            "/api/v1/users/{}",
            session["user"]["id"].as_str().unwrap()
        )))
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "status": "suspended" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = refresh(session["refreshToken"].as_str().unwrap().to_string()).await;
    assert_eq!(resp.status(), 401);

    // A session refreshed again and again still ends at its absolute lifetime.
    let (email, password) = app.create_user("ROLE-VIEWER").await;
    let session = app.login(&email, &password).await;
    {
        let mut conn = app.ctx.db.get().await.unwrap();
        use diesel_async::RunQueryDsl;
        diesel::sql_query(
            "UPDATE refresh_tokens SET family_expires_at = now() - interval '1 second'",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let resp = refresh(session["refreshToken"].as_str().unwrap().to_string()).await;
    assert_eq!(resp.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_ones_own_password_needs_the_current_one_even_for_admins() {
    let app = TestApp::spawn().await;
    let (email, password) = app.create_user("ROLE-ADMIN").await;
    let session = app.login(&email, &password).await;
    let token = session["accessToken"].as_str().unwrap();
    let id = session["user"]["id"].as_str().unwrap();
    let change = |body: Value| {
        let app = &app;
        async move {
            app.client
                .patch(app.url(&format!("/api/v1/users/{id}/password")))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        change(serde_json::json!({ "password": "a new long password" })).await,
        422
    );
    assert_eq!(
        change(
            serde_json::json!({ "password": "a new long password", "currentPassword": "wrong" })
        )
        .await,
        403
    );
    assert_eq!(
        change(
            serde_json::json!({ "password": "a new long password", "currentPassword": password })
        )
        .await,
        204
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_urls_to_internal_hosts_are_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let redis_port = app
        .ctx
        .config
        .redis_url
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse::<u16>().ok())
        .unwrap_or(6379);
    let redis = format!("http://127.0.0.1:{redis_port}/");
    for bad in [
        redis.as_str(),
        "http://169.254.169.254/latest/meta-data/",
        "tcp://0.0.0.0:9999?listen=1",
        "http://[::1]:8080/",
        "http://0xa9.0xfe.0xa9.0xfe/latest/meta-data/",
        "file:///etc/passwd",
        "udp://10.0.0.5:5000?listen=1",
    ] {
        let resp = app
            .client
            .post(app.url("/api/v1/videos/live"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({ "title": "probe", "url": bad }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 422, "{bad}");
        let body: Value = resp.json().await.unwrap();
        let err = assert_error_envelope(&body, "VALIDATION_ERROR");
        // The answer says what kind of URL is refused, not what the address is or answers.
        assert!(!err["message"].as_str().unwrap().contains("6379"), "{body}");
    }
    // A camera on the LAN is accepted, its credentials kept but never shown.
    let resp = app
        .client
        .post(app.url("/api/v1/videos/live"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({
            "title": "lobby",
            "url": "rtsp://admin:s3cret@192.168.1.20:554/stream1?token=abc"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    let shown = body["data"]["streamUrl"].as_str().unwrap();
    assert!(
        !shown.contains("s3cret") && !shown.contains("abc"),
        "{shown}"
    );
}

/// Waits until the video's probe has finished and returns the video.
async fn probed(app: &TestApp, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let video: Value = app
            .client
            .get(app.url(&format!("/api/v1/videos/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let video = video["data"].clone();
        if video["status"] == "ready" || video["status"] == "failed" {
            return video;
        }
        assert!(Instant::now() < deadline, "probe did not finish: {video}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn upload(app: &TestApp, token: &str, name: &str, bytes: Vec<u8>) -> Value {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
    );
    let resp = app
        .client
        .post(app.url("/api/v1/videos"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    resp.json::<Value>().await.unwrap()["data"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_media_fails_its_probe_with_a_reason() {
    let mut app = TestApp::spawn_with(|c| c.max_video_duration_secs = 5).await;
    app.start_worker();
    let admin = app.admin().await;
    let dir = tempfile::tempdir().unwrap();

    // Longer than a search may fan out over.
    let clip = dir.path().join("long.mp4");
    vigil_video::synth::ClipBuilder::new(320, 240, 10.0)
        .colour("gray", 8.0)
        .write_h264(&clip)
        .unwrap();
    let video = upload(&app, &admin, "long.mp4", std::fs::read(&clip).unwrap()).await;
    let video = probed(&app, &admin, video["id"].as_str().unwrap()).await;
    assert_eq!(video["status"], "failed", "{video}");
    assert!(
        video["error"].as_str().unwrap().contains("at most"),
        "{video}"
    );

    // A playlist that would make FFmpeg fetch other URLs, uploaded as a video.
    let playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nhttp://127.0.0.1:1/seg.ts\n#EXT-X-ENDLIST\n";
    let video = upload(&app, &admin, "clip.m3u8", playlist.to_vec()).await;
    let video = probed(&app, &admin, video["id"].as_str().unwrap()).await;
    assert_eq!(video["status"], "failed", "{video}");
    assert!(video["error"].as_str().unwrap().contains("not"), "{video}");
}
