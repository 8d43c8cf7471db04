//! Hostile media fails its probe with a reason, without fanning out or fetching anything.

use reqwest::multipart::Form;
use serde_json::Value;
use vigil_testkit::client::file_part;
use vigil_testkit::videos::wait_probed;
use vigil_testkit::{Caller, TestApp};

async fn upload(caller: &Caller, name: &str, bytes: Vec<u8>) -> Value {
    let form = Form::new().part("file", file_part(name, None, bytes));
    let video = caller.multipart("/videos", form).await.expect(202).data();
    wait_probed(caller, video["id"].as_str().unwrap()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_media_fails_its_probe_with_a_reason() {
    let mut app = TestApp::spawn_with(|c| c.max_video_duration_secs = 5).await;
    app.start_worker();
    let admin = app.as_user(&app.admin().await);
    let dir = tempfile::tempdir().unwrap();

    // Longer than a search may fan out over.
    let clip = dir.path().join("long.mp4");
    vigil_video::synth::ClipBuilder::new(320, 240, 10.0)
        .colour("gray", 8.0)
        .write_h264(&clip)
        .unwrap();
    let video = upload(&admin, "long.mp4", std::fs::read(&clip).unwrap()).await;
    assert_eq!(video["status"], "failed", "{video}");
    assert!(
        video["error"].as_str().unwrap().contains("at most"),
        "{video}"
    );

    // A playlist that would make FFmpeg fetch other URLs, uploaded as a video.
    let playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nhttp://127.0.0.1:1/seg.ts\n#EXT-X-ENDLIST\n";
    let video = upload(&admin, "clip.m3u8", playlist.to_vec()).await;
    assert_eq!(video["status"], "failed", "{video}");
    assert!(video["error"].as_str().unwrap().contains("not"), "{video}");
}
