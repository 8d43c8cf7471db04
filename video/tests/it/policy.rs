//! The input policy against real FFmpeg: uploads that would make FFmpeg fetch URLs, the
//! checked HTTP and RTSP forms the egress policy produces, redirects, and TLS verification.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vigil_video::synth::{self, ClipBuilder, Motion};
use vigil_video::{FrameSampler, Input, SampleOptions, VideoError, probe, probe_with};

use crate::common::{TempDir, clip, path_str, photo, remux_ts, standard_clip};

const NONE: &[(&str, &str)] = &[];

/// A loopback port that records who connected to it and what they sent.
struct Watch {
    listener: TcpListener,
    port: u16,
}

impl Watch {
    fn new() -> Watch {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        Watch { listener, port }
    }

    /// The bytes each connection made so far sent (until it closed or went quiet).
    fn connections(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Ok((mut stream, _)) = self.listener.accept() {
            stream.set_nonblocking(false).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            let mut bytes = Vec::new();
            let mut chunk = [0u8; 1024];
            while let Ok(n) = stream.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                bytes.extend_from_slice(&chunk[..n]);
            }
            out.push(bytes);
        }
        out
    }

    fn wait_for_connection(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok((stream, _)) = self.listener.accept() {
                drop(stream);
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

/// Answers one HTTP request with `head` and `body`; the handle returns the request.
fn http_once(head: String, body: Vec<u8>) -> (u16, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let request = read_head(&mut stream);
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(&body);
        request
    });
    (port, handle)
}

fn read_head(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        buf.push(byte[0]);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn live_options() -> SampleOptions {
    SampleOptions {
        open_timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(5),
        ..SampleOptions::live()
    }
}

fn small_clip() -> PathBuf {
    clip(
        &ClipBuilder::new(640, 360, 25.0)
            .colour("gray", 1.0)
            .still(photo(), 2.0)
            .motion(Motion::Pan)
            .keyint(25),
    )
}

/// Whether the `ffmpeg` tool, without Vigil's whitelists, contacts `watch` when reading
/// `location`: proof that a test's "nothing connected" means something. `None` when the tool
/// cannot run.
fn unrestricted_ffmpeg_connects(location: &str, watch: &Watch) -> Option<bool> {
    let mut child = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "quiet",
            "-nostdin",
            "-i",
            location,
        ])
        .args(["-f", "null", "-"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let connected = watch.wait_for_connection(Duration::from_secs(10));
    let _ = child.kill();
    let _ = child.wait();
    Some(connected)
}

fn expect_unsupported(result: Result<impl std::fmt::Debug, VideoError>, what: &str) {
    match result {
        Err(VideoError::UnsupportedContainer) => {}
        other => panic!("{what}: expected an unsupported container, got {other:?}"),
    }
}

/// Serves `body` with `200 OK` to every request, like an object store serving an upload.
fn http_serve(body: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            read_head(&mut stream);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    port
}

fn playlist(segment_port: u16) -> String {
    format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n\
         #EXTINF:10.0,\nhttp://127.0.0.1:{segment_port}/segment.ts\n#EXT-X-ENDLIST\n"
    )
}

#[test]
fn an_uploaded_hls_playlist_is_refused_without_touching_the_network() {
    let dir = TempDir::new("policy-hls");
    let watch = Watch::new();
    let file = dir.path("upload.m3u8");
    std::fs::write(&file, playlist(watch.port)).unwrap();

    let err = probe(Input::file(&file)).unwrap_err();
    assert!(matches!(err, VideoError::UnsupportedContainer), "{err:?}");
    assert_eq!(err.user_message(), "not a supported video container");
    assert!(!err.is_transient());
    expect_unsupported(
        FrameSampler::open(
            Input::upload(path_str(&file)).unwrap(),
            SampleOptions::default(),
        )
        .map(|s| s.info().clone()),
        "sampler",
    );
    // The worker's current string call gets the same policy.
    expect_unsupported(probe(path_str(&file)), "legacy string");

    // Read through object storage (a presigned URL), a playlist may fetch any http URL in
    // plain FFmpeg; under the storage policy it opens nothing.
    let storage = format!(
        "http://127.0.0.1:{}/vigil/videos/1/upload.m3u8",
        http_serve(playlist(watch.port).into_bytes())
    );
    expect_unsupported(probe(Input::upload(&storage).unwrap()), "storage URL");
    assert!(
        watch.connections().is_empty(),
        "FFmpeg connected to the playlist's URL"
    );
    if let Some(connected) = unrestricted_ffmpeg_connects(&storage, &watch) {
        assert!(
            connected,
            "plain ffmpeg should have fetched the playlist's segment"
        );
    }
}

#[test]
fn an_uploaded_concat_list_is_refused_without_touching_the_network() {
    let dir = TempDir::new("policy-concat");
    let watch = Watch::new();
    let list = dir.path("upload.ffconcat");
    std::fs::write(
        &list,
        format!(
            "ffconcat version 1.0\nfile 'http://127.0.0.1:{}/a.mp4'\nfile 'other-upload.mp4'\n",
            watch.port
        ),
    )
    .unwrap();
    // Under a video file name too: FFmpeg recognises the list by its content.
    let disguised = dir.path("upload.mp4");
    std::fs::copy(&list, &disguised).unwrap();
    for path in [&list, &disguised] {
        expect_unsupported(probe(Input::file(path)), "concat list");
    }
    assert!(watch.connections().is_empty(), "FFmpeg followed the list");
}

#[test]
fn paths_are_never_read_as_protocols() {
    // `concat:` and `subfile,` are FFmpeg protocol syntax; as upload paths they are just
    // (missing) file names.
    for location in [
        "concat:/etc/hostname|/etc/hostname",
        "subfile,,start,0,end,10,,:/etc/hostname",
    ] {
        let err = probe(Input::file(location)).unwrap_err();
        assert!(
            matches!(&err, VideoError::Open { reason, .. } if reason == "no such file"),
            "{location}: {err:?}"
        );
    }
}

#[test]
fn real_videos_open_whatever_their_name() {
    let dir = TempDir::new("policy-names");
    let named = dir.path("looks-like-a-playlist.m3u8");
    std::fs::copy(standard_clip(), &named).unwrap();
    assert_eq!(probe(Input::file(&named)).unwrap().width, 1280);
    let ts = dir.path("clip.txt");
    remux_ts(&standard_clip(), &ts);
    assert_eq!(probe(Input::file(&ts)).unwrap().container, "mpegts");
}

#[test]
fn the_checked_http_form_opens_with_the_original_host_header() {
    let dir = TempDir::new("policy-http");
    let ts = dir.path("clip.ts");
    remux_ts(&small_clip(), &ts);
    let body = std::fs::read(&ts).unwrap();
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    let (port, request) = http_once(head, body);
    // What `EgressPolicy::check` makes of `http://cam.example:{port}/live.ts`.
    let host = format!("Host: cam.example:{port}\r\n");
    let input = Input::stream(
        &format!("http://127.0.0.1:{port}/live.ts"),
        &[("headers", host.as_str())],
    )
    .unwrap();
    let info = probe(input).expect("the checked form opens");
    assert_eq!(
        (info.width, info.height, info.container.as_str()),
        (640, 360, "mpegts")
    );
    let request = request.join().unwrap();
    assert!(
        request.starts_with("GET /live.ts HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(request.contains(&format!("\r\n{host}")), "{request}");
    assert_eq!(request.matches("Host:").count(), 1, "{request}");
}

#[test]
fn an_http_redirect_is_not_followed() {
    let watch = Watch::new();
    let (port, request) = http_once(
        format!(
            "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{}/latest/meta-data/\r\n\
             Content-Length: 0\r\n\r\n",
            watch.port
        ),
        Vec::new(),
    );
    let camera = Input::stream(&format!("http://127.0.0.1:{port}/cam"), NONE).unwrap();
    let err = probe_with(camera, &live_options()).unwrap_err();
    request.join().unwrap();
    assert_eq!(err.user_message(), "stream unavailable", "{err:?}");
    assert!(watch.connections().is_empty(), "the redirect was followed");
}

#[test]
fn the_checked_rtsp_form_opens_and_decodes() {
    let server = synth::serve_rtsp(small_clip(), 0).expect("start RTSP server");
    let camera = Input::stream(
        &format!("rtsp://viewer:secret@127.0.0.1:{}/live", server.port()),
        NONE,
    )
    .unwrap();
    assert_eq!(
        camera.shown(),
        format!("rtsp://127.0.0.1:{}", server.port())
    );
    let mut sampler = FrameSampler::open(camera, live_options()).expect("open RTSP");
    assert_eq!(sampler.info().container, "rtsp");
    for _ in 0..3 {
        let frame = sampler.next().expect("a frame").expect("no error");
        assert_eq!((frame.width(), frame.height()), (640, 360));
    }
    let requests = server.requests();
    let describe = format!("DESCRIBE rtsp://127.0.0.1:{}/live RTSP/1.0", server.port());
    assert!(requests.contains(&describe), "{requests:?}");
    assert!(
        requests.iter().any(|r| r.starts_with("PLAY ")),
        "{requests:?}"
    );
}

#[test]
fn the_checked_rtmp_form_opens_with_the_original_tc_url() {
    let server = synth::serve_rtmp(small_clip(), 0).expect("start RTMP server");
    let port = server
        .url()
        .trim_start_matches("rtmp://127.0.0.1:")
        .trim_end_matches("/live/stream");
    // What `EgressPolicy::check` makes of `rtmp://cam.example:{port}/live/stream`.
    let tc_url = format!("rtmp://cam.example:{port}/live");
    let camera = Input::stream(
        server.url(),
        &[("rtmp_app", "live"), ("rtmp_tcurl", tc_url.as_str())],
    )
    .unwrap();
    assert_eq!(
        camera.shown(),
        format!("rtmp://127.0.0.1:{port}"),
        "no stream key shown"
    );
    let mut sampler = FrameSampler::open(camera, live_options()).expect("open RTMP");
    let frame = sampler.next().expect("a frame").expect("no error");
    assert_eq!((frame.width(), frame.height()), (640, 360));
}

/// Answers every RTSP request with a redirect to `location`.
fn rtsp_redirect(location: String) -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let request = read_head(&mut stream);
        let cseq = request
            .lines()
            .find_map(|l| l.strip_prefix("CSeq: "))
            .unwrap_or("1")
            .to_string();
        let _ = stream.write_all(
            format!("RTSP/1.0 302 Moved\r\nCSeq: {cseq}\r\nLocation: {location}\r\n\r\n")
                .as_bytes(),
        );
        // Keep the connection open until the client leaves.
        let _ = stream.read(&mut [0u8; 1]);
    });
    (port, handle)
}

#[test]
fn an_rtsp_redirect_is_stopped_before_anything_is_sent() {
    let watch = Watch::new();
    let (port, server) = rtsp_redirect(format!("rtsp://127.0.0.1:{}/internal", watch.port));
    let camera = Input::stream(&format!("rtsp://127.0.0.1:{port}/cam"), NONE).unwrap();
    let err = probe_with(camera, &live_options()).unwrap_err();
    assert!(
        matches!(&err, VideoError::Refused(m) if m.contains("redirect")),
        "{err:?}"
    );
    assert_eq!(err.user_message(), "stream unavailable");
    // FFmpeg may have completed a TCP handshake with the new target, but not one byte of
    // RTSP went there.
    for sent in watch.connections() {
        assert!(sent.is_empty(), "sent {:?}", String::from_utf8_lossy(&sent));
    }
    server.join().unwrap();
}

/// A test CA and a server certificate for `cam.example` signed by it, made with the
/// `openssl` tool; `None` when the tool is missing.
struct Certs {
    _dir: TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Certs {
    fn generate() -> Option<Certs> {
        let dir = TempDir::new("policy-tls");
        let openssl = |args: &[&str]| {
            Command::new("openssl")
                .args(args)
                .current_dir(dir.path(""))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        std::fs::write(
            dir.path("server.ext"),
            "subjectAltName=DNS:cam.example\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        let made = openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Vigil test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]) && openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=cam.example",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]) && openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ]);
        made.then(|| Certs {
            ca: dir.path("ca.pem"),
            cert: dir.path("server.pem"),
            key: dir.path("server.key"),
            _dir: dir,
        })
    }
}

#[test]
fn tls_streams_are_verified() {
    let Some(certs) = Certs::generate() else {
        eprintln!("openssl is not installed; skipping the TLS verification test");
        return;
    };
    let clip = small_clip();
    let ca = path_str(&certs.ca).to_string();
    // One server per attempt: FFmpeg's HTTPS listener serves a single client.
    let open = |verifyhost: &str, ca_file: Option<&str>| {
        let server = synth::serve_live_tls(&clip, 0, &certs.cert, &certs.key).unwrap();
        let mut options = vec![
            ("headers", "Host: cam.example\r\n"),
            ("tls_verify", "1"),
            ("verifyhost", verifyhost),
        ];
        if let Some(ca) = ca_file {
            options.push(("ca_file", ca));
        }
        let input = Input::stream(&format!("{}/live", server.url()), &options).unwrap();
        probe_with(input, &live_options())
    };

    // A certificate from a CA the system does not trust: refused.
    let err = open("cam.example", None).unwrap_err();
    assert_eq!(err.user_message(), "stream unavailable", "{err:?}");
    // The same with the CA configured (VIGIL_STREAM_CA_FILE): opens.
    let info = open("cam.example", Some(&ca)).expect("verified stream");
    assert_eq!((info.width, info.height), (640, 360));
    // The CA is known but the certificate is for another name: refused.
    assert!(open("other.example", Some(&ca)).is_err());
}
