use std::time::{Duration, Instant};

use vigil_video::synth::{self, ClipBuilder};
use vigil_video::{Input, SampleOptions, VideoError, VideoInfo, probe, probe_with};

use crate::common::{TempDir, clip, path_str, remux_ts, standard_clip};

#[test]
fn probe_reports_the_generated_clip() {
    let clip = standard_clip();
    let info = probe(path_str(&clip)).expect("probe");
    let duration = info.duration_secs.expect("duration");
    assert!((duration - 10.0).abs() <= 0.1, "duration {duration}");
    assert!(
        (info.fps.expect("fps") - 25.0).abs() < 1e-6,
        "fps {:?}",
        info.fps
    );
    assert_eq!((info.width, info.height), (1280, 720));
    assert_eq!(info.codec, "h264");
    assert!(
        info.container.contains("mp4"),
        "container {}",
        info.container
    );
    assert_eq!(info.frame_count, Some(250));
    assert!(info.bit_rate.is_some_and(|b| b > 0));

    let json = serde_json::to_string(&info).unwrap();
    assert!(json.contains("\"durationSecs\""), "{json}");
    let back: VideoInfo = serde_json::from_str(&json).unwrap();
    assert_eq!(back, info);
}

#[test]
fn probe_reads_mpegts_with_audio_and_relative_duration() {
    let dir = TempDir::new("probe-ts");
    let mp4 = clip(
        &ClipBuilder::new(320, 240, 10.0)
            .colour("blue", 3.0)
            .audio(true),
    );
    let ts = dir.path("clip.ts");
    remux_ts(&mp4, &ts);
    let info = probe(path_str(&ts)).expect("probe ts");
    assert_eq!(info.container, "mpegts");
    assert_eq!((info.width, info.height), (320, 240));
    let duration = info.duration_secs.expect("duration");
    assert!((duration - 3.0).abs() <= 0.15, "duration {duration}");
}

fn expect_not_video(result: Result<VideoInfo, VideoError>, what: &str) -> String {
    let err = result.expect_err(what);
    let message = err.to_string();
    assert!(
        matches!(err, VideoError::NotVideo(_) | VideoError::Decode(_)),
        "{what}: unexpected error kind {err:?}"
    );
    assert!(!err.is_transient(), "{what}: must not be retried");
    assert!(
        message.starts_with("not a video: ") || message.starts_with("cannot decode: "),
        "{what}: {message}"
    );
    message
}

#[test]
fn probe_rejects_a_text_file() {
    let dir = TempDir::new("probe-text");
    let path = dir.path("notes.mp4");
    std::fs::write(&path, "these are meeting notes, not a video\n".repeat(200)).unwrap();
    expect_not_video(probe(path_str(&path)), "text file");
}

#[test]
fn probe_rejects_an_empty_file() {
    let dir = TempDir::new("probe-empty");
    let path = dir.path("empty.mp4");
    std::fs::write(&path, b"").unwrap();
    let message = expect_not_video(probe(path_str(&path)), "empty file");
    assert_eq!(message, "not a video: the file is empty");
}

#[test]
fn probe_rejects_a_file_truncated_before_its_index() {
    let dir = TempDir::new("probe-truncated");
    let path = dir.path("cut.mp4");
    // Without faststart the MP4 index sits at the end, so half a file has none.
    synth::truncated_copy(standard_clip(), &path, 0.5).unwrap();
    let message = expect_not_video(probe(path_str(&path)), "truncated file");
    assert!(
        message.contains("cut off") || message.contains("damaged"),
        "{message}"
    );
}

#[test]
fn probe_rejects_audio_only_media() {
    let dir = TempDir::new("probe-audio");
    let path = dir.path("tone.m4a");
    synth::write_audio_only(&path, 2.0).unwrap();
    let message = expect_not_video(probe(path_str(&path)), "audio file");
    assert_eq!(message, "not a video: no video stream found");
}

#[test]
fn probe_reports_missing_files_and_refused_connections() {
    let err = probe("/nonexistent/dir/video.mp4").expect_err("missing file");
    assert_eq!(
        err.to_string(),
        "cannot open /nonexistent/dir/video.mp4: no such file"
    );

    // Port 1 (tcpmux): nothing listens there. Not a port that was free a moment ago: the
    // tests beside this one bind ephemeral ports, and one took that port between the check and
    // the connection once (the probe then saw "connection reset").
    let port = 1;
    let started = Instant::now();
    let camera = Input::stream(
        &format!("http://user:secret@127.0.0.1:{port}/cam"),
        &[] as &[(&str, &str)],
    )
    .unwrap();
    let err = probe(camera).expect_err("refused");
    assert!(matches!(err, VideoError::Open { .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(!err.to_string().contains("secret"), "{err}");
    // The detail is for logs; users learn nothing about the port.
    assert!(err.to_string().contains("connection refused"), "{err}");
    assert_eq!(err.user_message(), "stream unavailable");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn probe_times_out_on_a_silent_server() {
    // Accepts connections (the kernel completes the handshake) but never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let options = SampleOptions {
        open_timeout: Duration::from_secs(2),
        ..SampleOptions::default()
    };
    let started = Instant::now();
    let silent = Input::stream(&format!("http://127.0.0.1:{port}/"), &[] as &[(&str, &str)]);
    let err = probe_with(silent.unwrap(), &options).expect_err("timeout");
    let elapsed = started.elapsed();
    assert!(matches!(err, VideoError::Timeout { .. }), "{err:?}");
    assert!(
        elapsed >= Duration::from_millis(1900) && elapsed < Duration::from_secs(4),
        "took {elapsed:?}"
    );
    drop(listener);
}
