//! Cameras through the API: registering one and waiting for what its watcher or a job does to
//! it. Later features (attendance, recordings) start from a registered camera too.

use std::time::Duration;

use serde_json::{Value, json};

use crate::Caller;

/// The body of a camera at `url` (an RTSP camera on the LAN when the test needs no stream).
pub fn camera_body(name: &str, stream_type: &str, url: &str) -> Value {
    json!({ "name": name, "location": "Building A", "streamType": stream_type, "streamUrl": url })
}

/// A LAN RTSP camera that nothing serves: for registry tests.
pub fn lan_camera(name: &str, host: u8) -> Value {
    camera_body(
        name,
        "RTSP",
        &format!("rtsp://192.168.1.{host}:554/stream1"),
    )
}

/// Registers `body`; expects 201 and returns the camera.
pub async fn create_camera(caller: &Caller, body: Value) -> Value {
    caller.post_json("/cameras", body).await.expect(201).data()
}

/// Registers a camera reading the loopback stream at `url` (a `vigil_video::synth` server).
pub async fn create_stream_camera(caller: &Caller, name: &str, url: &str, enabled: bool) -> Value {
    let stream_type = if url.starts_with("rtsp") {
        "RTSP"
    } else {
        "HTTP"
    };
    let mut body = camera_body(name, stream_type, url);
    body["enabled"] = json!(enabled);
    create_camera(caller, body).await
}

/// Waits until the camera's watcher job holds its stream (stage `watching`); `caller` must
/// see jobs (an admin). A loopback server starts its clip when the watcher connects, so this
/// moment is the clip's zero, seen from the test.
pub async fn wait_watching(caller: &Caller, id: &str) {
    let watcher = caller
        .wait_for(
            format!("/cameras/{id}"),
            Duration::from_secs(30),
            Duration::from_millis(100),
            |c| c["watcherJobId"].is_string(),
        )
        .await["watcherJobId"]
        .as_str()
        .unwrap()
        .to_string();
    caller
        .wait_for(
            format!("/jobs/{watcher}"),
            Duration::from_secs(90),
            Duration::from_millis(50),
            |j| j["stage"] == "watching",
        )
        .await;
}

/// Polls the camera until `done` accepts it (or panics after `timeout`); returns it.
pub async fn wait_camera(
    caller: &Caller,
    id: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    caller
        .wait_for(
            format!("/cameras/{id}"),
            timeout,
            Duration::from_millis(250),
            done,
        )
        .await
}

/// A 6 s 640×360 H.264 clip at 25 fps with a little noise (so it has a real bit rate), made
/// once per test process: for stream tests that need no people.
pub fn test_pattern() -> std::path::PathBuf {
    static CLIP: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    CLIP.get_or_init(|| {
        let out = std::env::temp_dir().join(format!(
            "vigil-it-camera-pattern-{}.mp4",
            std::process::id()
        ));
        vigil_video::synth::ClipBuilder::new(640, 360, 25.0)
            .colour("0x3060a0", 3.0)
            .colour("0xa06030", 3.0)
            .noise(20)
            .write_h264(&out)
            .expect("test pattern clip");
        out
    })
    .clone()
}

/// Submits a camera job (`test-connection`, `snapshot`) and waits for it to finish; returns
/// the finished job.
pub async fn run_camera_job(caller: &Caller, id: &str, action: &str, timeout: Duration) -> Value {
    let job = crate::jobs::accepted(caller.post(format!("/cameras/{id}/{action}")).await);
    crate::jobs::wait_finished(caller, job["id"].as_str().unwrap(), timeout).await
}

/// A 10 s H.264 clip at 25 fps of face-api's sample `n` at the photo's own size (a still
/// photo, so the persons on screen are the photo's, as big as in the reference run), made
/// once per sample per test process.
pub fn people_clip(n: usize) -> std::path::PathBuf {
    static CLIPS: std::sync::Mutex<Vec<(usize, std::path::PathBuf)>> =
        std::sync::Mutex::new(Vec::new());
    let mut clips = CLIPS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, path)) = clips.iter().find(|(k, _)| *k == n) {
        return path.clone();
    }
    let media = crate::media::media();
    let out = media.path(&format!("camera-people-{n}.mp4"));
    let (width, height) = image::image_dimensions(media.sample(n)).expect("sample size");
    vigil_video::synth::ClipBuilder::new(width & !1, height & !1, 25.0)
        .still(media.sample(n), 10.0)
        .write_h264(&out)
        .expect("people clip");
    clips.push((n, out.clone()));
    out
}

/// Polls the camera's counts until `done` accepts the list (newest first); returns it.
pub async fn wait_counts(
    caller: &Caller,
    id: &str,
    timeout: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let counts = caller
            .get(format!("/cameras/{id}/counts"))
            .query(&[("limit", "100")])
            .await
            .expect(200)
            .items();
        if done(&counts) {
            return counts;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "camera {id}: counts did not get there in {timeout:?}; last: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Whether a count window was seen whole.
pub fn is_whole(count: &Value) -> bool {
    count["partial"] == false
}
