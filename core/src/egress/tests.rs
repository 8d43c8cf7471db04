//! The egress policy against the URLs that were measured getting through, and the spellings
//! that try to sneak past a naive check.

use super::*;

fn config(allow: &str) -> Config {
    Config {
        stream_allow_cidrs: allow.into(),
        ..Config::default()
    }
}

fn policy(allow: &str) -> EgressPolicy {
    EgressPolicy::new(&config(allow)).expect("policy")
}

fn default_policy() -> EgressPolicy {
    policy(DEFAULT_ALLOW_CIDRS)
}

/// The rule a literal URL is refused by, as its machine code.
fn refused(policy: &EgressPolicy, url: &str) -> &'static str {
    match policy.precheck(url) {
        Ok(ok) => panic!("{url} was accepted as {ok:?}"),
        Err(e) => e.code(),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn the_measured_urls_are_refused() {
    let p = default_policy();
    assert_eq!(refused(&p, "http://127.0.0.1:6379/"), "service");
    assert_eq!(refused(&p, "http://127.0.0.1:8554/"), "loopback");
    assert_eq!(
        refused(&p, "http://169.254.169.254/latest/meta-data/"),
        "cloud_metadata"
    );
    assert_eq!(refused(&p, "tcp://0.0.0.0:9999?listen=1"), "scheme");
}

#[test]
fn loopback_in_every_spelling_is_refused_by_default() {
    let p = default_policy();
    for url in [
        "http://127.0.0.1/",
        "http://127.1.2.3:8554/x",
        "rtsp://127.0.0.1:8554/live",
        "http://localhost:8554/",
        "rtsp://LOCALHOST./x",
        "rtsp://cam.localhost/x",
        "http://[::1]/",
        "rtsp://[::1]:8554/",
        "http://[::ffff:127.0.0.1]:8554/",
        "http://2130706433/",
        "rtsp://2130706433:8554/",
        "http://0x7f.1/",
        "rtsp://0x7f.1:8554/",
        "rtsp://017700000001/",
        "rtmp://127.1/app/key",
    ] {
        assert_eq!(refused(&p, url), "loopback", "{url}");
    }
}

#[test]
fn always_denied_ranges_are_refused_even_when_everything_is_allowed() {
    let p = policy("0.0.0.0/0,::/0");
    let cases = [
        ("http://0.0.0.0/", "this_network"),
        ("http://0/", "this_network"),
        ("http://[::]/", "this_network"),
        ("http://169.254.169.254/latest/meta-data/", "cloud_metadata"),
        ("http://0xa9fea9fe/", "cloud_metadata"),
        ("http://[::ffff:169.254.169.254]/", "cloud_metadata"),
        ("http://[fd00:ec2::254]/", "cloud_metadata"),
        ("http://100.100.100.200/", "cloud_metadata"),
        (
            "http://metadata.google.internal/computeMetadata/v1/",
            "cloud_metadata",
        ),
        ("http://169.254.1.1/", "link_local"),
        ("rtsp://[fe80::1]/", "link_local"),
        ("rtsp://239.1.1.1/", "multicast"),
        ("rtsp://[ff02::1]/", "multicast"),
        ("http://255.255.255.255/", "broadcast"),
        ("http://240.0.0.1/", "reserved"),
        // IPv6 forms that carry a denied IPv4 address.
        ("http://[::127.0.0.1]/", "embedded_ipv4"),
        ("http://[64:ff9b::a9fe:a9fe]/", "embedded_ipv4"),
        ("http://[2002:7f00:1::]/", "embedded_ipv4"),
        (
            "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
            "embedded_ipv4",
        ),
        // Loopback is only opened by naming a loopback range.
        ("http://127.0.0.1:8554/", "loopback"),
        ("http://[::1]:8554/", "loopback"),
    ];
    for (url, code) in cases {
        assert_eq!(refused(&p, url), code, "{url}");
    }
    // The allow-list makes public addresses reachable.
    assert!(p.precheck("https://8.8.8.8/live.ts").is_ok());
    assert!(p.precheck("http://[2a00:1450::1]/").is_ok());
}

#[test]
fn schemes_and_local_files_are_refused() {
    let p = default_policy();
    for (url, code) in [
        ("file:///etc/passwd", "scheme"),
        ("concat:/a.mp4|/b.mp4", "scheme"),
        ("udp://10.0.0.5:1234", "scheme"),
        ("udp://239.0.0.1:1234?localaddr=10.0.0.9", "scheme"),
        ("srt://10.0.0.5:9000?mode=listener", "scheme"),
        ("tcp://10.0.0.5:9999", "scheme"),
        ("hls+http://10.0.0.5/a.m3u8", "scheme"),
        ("subfile,,start,0,end,0,,:/etc/passwd", "invalid_url"),
        ("rtsps://10.0.0.5/live", "scheme"),
        ("/etc/passwd", "invalid_url"),
        ("/dev/video0", "devices_disabled"),
        ("v4l2:///dev/video0", "devices_disabled"),
        ("", "invalid_url"),
    ] {
        assert_eq!(refused(&p, url), code, "{url}");
    }
}

#[test]
fn options_ffmpeg_would_act_on_are_refused() {
    let p = default_policy();
    for (url, key) in [
        ("http://10.0.0.5/live?listen=1", "listen"),
        ("rtsp://10.0.0.5/live?LISTEN", "listen"),
        ("rtsp://10.0.0.5/live?udp", "udp"),
        ("rtsp://10.0.0.5/live?multicast", "multicast"),
        ("rtsp://10.0.0.5/live?http", "http"),
        ("rtmp://10.0.0.5/app/key?localaddr=10.0.0.9", "localaddr"),
    ] {
        assert_eq!(
            p.precheck(url).unwrap_err(),
            EgressError::ForbiddenOption(key.into()),
            "{url}"
        );
    }
    // Camera queries that mean nothing to FFmpeg stay.
    let ok = p
        .precheck("rtsp://10.0.0.5/cam/realmonitor?channel=1&subtype=0")
        .unwrap();
    assert_eq!(ok.scheme(), StreamScheme::Rtsp);
}

#[test]
fn ambiguous_syntax_is_refused() {
    let p = default_policy();
    for url in [
        "rtsp://a@b@10.0.0.5/live",
        "http://10.0.0.5\\@evil.example/",
        "http://10.0.0.5 /",
        "rtsp://cam%2elan/live",
        "rtsp://cam_lan:0/live",
        "rtsp:10.0.0.5/live",
    ] {
        assert_eq!(refused(&p, url), "invalid_url", "{url}");
    }
}

#[test]
fn private_cameras_pass() {
    let p = default_policy();
    for url in [
        "rtsp://admin:secret@10.0.0.5:554/Streaming/Channels/101",
        "rtsp://192.168.1.64/h264",
        "http://172.16.3.4:8080/video.mjpg",
        "rtmp://100.64.0.9/live/cam",
        "rtsp://[fd12:3456:789a::5]/live",
        "rtsp://camera-3.lan/live",
        "https://cam.example/live.ts?token=abc",
    ] {
        assert!(p.precheck(url).is_ok(), "{url}: {:?}", p.precheck(url));
    }
    // A public address is not on the default allow-list.
    assert_eq!(refused(&p, "http://8.8.8.8/live.ts"), "not_allowed");
    assert_eq!(refused(&p, "http://[2a00:1450::1]/"), "not_allowed");
    // An IPv6 form of an allowed IPv4 address still needs its IPv6 form allowed.
    assert_eq!(refused(&p, "http://[64:ff9b::a00:5]/"), "not_allowed");
}

#[test]
fn loopback_opens_only_by_naming_it_and_service_ports_stay_closed() {
    let p = policy(&format!("{DEFAULT_ALLOW_CIDRS},127.0.0.0/8,::1/128"));
    assert!(p.precheck("rtsp://127.0.0.1:8554/live").is_ok());
    assert!(p.precheck("http://localhost:8554/live").is_ok());
    assert!(p.precheck("http://[::1]:8554/").is_ok());
    // Default config: PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379, API on :8080.
    for (url, service) in [
        ("rtsp://127.0.0.1:6379/", "redis"),
        ("http://127.0.0.2:6379/", "redis"),
        ("http://[::ffff:127.0.0.1]:6379/", "redis"),
        ("http://localhost:5432/", "database"),
        ("http://[::1]:5432/", "database"),
        ("http://127.0.0.1:8080/api/v1/users", "API"),
    ] {
        let err = p.precheck(url).unwrap_err();
        assert!(
            matches!(err, EgressError::Denied { rule: DenyRule::Service(s), .. } if s == service),
            "{url}: {err:?}"
        );
    }
    // A narrower loopback range opens only itself.
    let narrow = policy("127.0.0.1/32");
    assert!(narrow.precheck("rtsp://127.0.0.1:8554/").is_ok());
    assert_eq!(refused(&narrow, "rtsp://127.0.0.2:8554/"), "loopback");
    assert_eq!(refused(&narrow, "rtsp://[::1]:8554/"), "loopback");
}

#[test]
fn deployment_services_are_refused_by_address_and_by_name() {
    let config = Config {
        redis_url: "redis://10.0.0.7:6379".into(),
        database_url: "postgres://vigil:pw@db.internal:5432/vigil".into(),
        s3_endpoint: Some("http://minio:9000".into()),
        smtp_url: Some("smtp://user:pw@[fd00::25]:587".into()),
        ..Config::default()
    };
    let p = EgressPolicy::new(&config).unwrap();
    // Off loopback, every port of a service host is denied.
    assert_eq!(refused(&p, "rtsp://10.0.0.7:554/live"), "service");
    assert_eq!(refused(&p, "http://[fd00::25]/"), "service");
    assert_eq!(refused(&p, "http://minio:9000/vigil/x.mp4"), "service");
    assert_eq!(refused(&p, "rtsp://MINIO.:554/"), "service");
    assert_eq!(refused(&p, "rtsp://db.internal/"), "service");
    assert!(p.precheck("rtsp://10.0.0.8:554/live").is_ok());
}

#[test]
fn every_resolved_address_must_pass() {
    let p = default_policy();
    let target = p.parse("rtsp://cam.lan:554/live").unwrap();
    let ok = p.check_resolved(&target, &[ip("10.0.0.5")]).unwrap();
    assert_eq!(ok.ffmpeg_url(), "rtsp://10.0.0.5:554/live");

    // A name that resolves to loopback: refused, and the user only hears "unavailable".
    let err = p.check_resolved(&target, &[ip("127.0.0.1")]).unwrap_err();
    assert_eq!(err.code(), "loopback");
    assert_eq!(err.user_message(), "stream unavailable");
    // One bad address among good ones is enough.
    let err = p
        .check_resolved(&target, &[ip("10.0.0.5"), ip("169.254.169.254")])
        .unwrap_err();
    assert_eq!(err.code(), "cloud_metadata");
    assert!(p.check_resolved(&target, &[]).is_err());

    // A literal address: the user wrote it, so they may be told it is not allowed.
    let err = p.precheck("rtsp://127.0.0.1/").unwrap_err();
    assert_eq!(
        err.user_message(),
        "streams from this address are not allowed"
    );
}

#[tokio::test]
async fn check_resolves_once_and_rewrites_to_the_address() {
    // `localhost` passes the name rules only where loopback is allowed, and then goes
    // through a real lookup whose every answer (127.0.0.1 and usually ::1) must pass.
    let p = policy("127.0.0.0/8,::1/128");
    let checked = p.check("rtsp://user:pw@localhost:8554/live").await.unwrap();
    let addr = checked.addr().unwrap();
    assert!(
        addr.ip().is_loopback() && addr.port() == 8554,
        "{checked:?}"
    );
    assert_eq!(
        checked.ffmpeg_url(),
        format!("rtsp://user:pw@{addr}/live"),
        "the URL names the checked address"
    );
    assert!(checked.ffmpeg_options().is_empty());

    let refused = default_policy()
        .check("rtsp://localhost:8554/live")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "loopback");
    let literal = default_policy()
        .check("http://0x7f.1:8554/")
        .await
        .unwrap_err();
    assert_eq!(literal.code(), "loopback");
    let unknown = default_policy()
        .check("rtsp://no-such-camera.invalid/live")
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), "unresolvable");
    assert!(unknown.is_transient());
    assert_eq!(unknown.user_message(), "stream unavailable");
}

#[test]
fn checked_http_keeps_the_host_header() {
    let p = default_policy();
    let target = p
        .parse("http://Cam.LAN:8080/live.ts?token=abc#frag")
        .unwrap();
    let checked = p.check_resolved(&target, &[ip("10.0.0.5")]).unwrap();
    assert_eq!(
        checked.ffmpeg_url(),
        "http://10.0.0.5:8080/live.ts?token=abc"
    );
    assert_eq!(
        checked.ffmpeg_options(),
        &[("headers", "Host: cam.lan:8080\r\n".to_string())]
    );
    assert_eq!(checked.redacted(), "http://cam.lan:8080/live.ts?token=***");
    assert!(!checked.tls_verified());

    // An address written literally keeps its Host header as written (without the port the
    // rewritten URL spells out).
    let target = p.parse("http://10.0.0.5/live.ts").unwrap();
    let checked = p.check_resolved(&target, &[ip("10.0.0.5")]).unwrap();
    assert_eq!(checked.ffmpeg_url(), "http://10.0.0.5:80/live.ts");
    assert_eq!(
        checked.ffmpeg_options(),
        &[("headers", "Host: 10.0.0.5\r\n".to_string())]
    );

    // IPv6 addresses are bracketed.
    let target = p.parse("http://cam6.lan/x").unwrap();
    let checked = p.check_resolved(&target, &[ip("fd00::5")]).unwrap();
    assert_eq!(checked.ffmpeg_url(), "http://[fd00::5]:80/x");
    let target = p.parse("http://[fd00::5]:8080/x").unwrap();
    let checked = p.check_resolved(&target, &[ip("fd00::5")]).unwrap();
    assert_eq!(
        checked.ffmpeg_options(),
        &[("headers", "Host: [fd00::5]:8080\r\n".to_string())]
    );
}

#[test]
fn checked_tls_verifies_the_original_host() {
    let dir = std::env::temp_dir().join(format!("vigil-egress-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, "not checked here").unwrap();
    let config = Config {
        stream_ca_file: Some(ca.clone()),
        ..config(DEFAULT_ALLOW_CIDRS)
    };
    let p = EgressPolicy::new(&config).unwrap();
    let target = p.parse("https://cam.lan/live.ts").unwrap();
    let checked = p.check_resolved(&target, &[ip("10.0.0.5")]).unwrap();
    assert_eq!(checked.ffmpeg_url(), "https://10.0.0.5:443/live.ts");
    let options: Vec<(&str, &str)> = checked
        .ffmpeg_options()
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    assert_eq!(
        options,
        [
            ("headers", "Host: cam.lan\r\n"),
            ("tls_verify", "1"),
            ("verifyhost", "cam.lan"),
            ("ca_file", ca.to_str().unwrap()),
        ]
    );
    assert!(checked.tls_verified());

    let target = p.parse("rtmps://live.lan/app/key").unwrap();
    let checked = p.check_resolved(&target, &[ip("10.0.0.6")]).unwrap();
    assert_eq!(checked.ffmpeg_url(), "rtmps://10.0.0.6:443/app/key");
    let keys: Vec<&str> = checked.ffmpeg_options().iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        [
            "tls_verify",
            "verifyhost",
            "ca_file",
            "rtmp_app",
            "rtmp_tcurl"
        ]
    );
    assert_eq!(checked.redacted(), "rtmps://live.lan/app/***");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_missing_ca_file_stops_the_worker() {
    let present = std::env::temp_dir().join(format!("vigil-egress-ca2-{}", std::process::id()));
    std::fs::write(&present, "pem").unwrap();
    let with = |path: PathBuf| Config {
        stream_ca_file: Some(path),
        ..Config::default()
    };
    assert!(EgressPolicy::load(&with(present.clone())).await.is_ok());
    std::fs::remove_file(&present).unwrap();
    // Not a silent fallback to the system store; the API (no CA mounted) is not affected.
    assert!(EgressPolicy::load(&with(present.clone())).await.is_err());
    assert!(EgressPolicy::new(&with(present)).is_ok());
}

#[test]
fn checked_rtmp_keeps_the_tc_url() {
    let p = default_policy();
    let target = p.parse("rtmp://live.lan/live/stream-key").unwrap();
    let checked = p.check_resolved(&target, &[ip("10.0.0.6")]).unwrap();
    assert_eq!(checked.ffmpeg_url(), "rtmp://10.0.0.6:1935/live/stream-key");
    assert_eq!(
        checked.ffmpeg_options(),
        &[
            ("rtmp_app", "live".to_string()),
            ("rtmp_tcurl", "rtmp://live.lan:1935/live".to_string()),
        ]
    );
    assert_eq!(rtmp_app("/app/inst/stream", None), "app/inst");
    assert_eq!(rtmp_app("/app/mp4:dir/file.mp4", None), "app");
    assert_eq!(rtmp_app("/stream", None), "");
    assert_eq!(rtmp_app("/ondemand/file", None), "ondemand");
    assert_eq!(rtmp_app("/app", Some("slist=stream")), "app");
}

#[test]
fn credentials_never_show() {
    let p = default_policy();
    let url = p
        .precheck("rtsp://admin:hunter2@10.0.0.5/live?password=hunter3")
        .unwrap();
    assert_eq!(
        url.as_str(),
        "rtsp://admin:hunter2@10.0.0.5/live?password=hunter3"
    );
    assert_eq!(url.redacted(), "rtsp://***@10.0.0.5/live?password=***");
    assert!(!format!("{url:?}").contains("hunter"));

    let target = p.parse("rtsp://admin:hunter2@cam.lan/live").unwrap();
    let checked = p.check_resolved(&target, &[ip("10.0.0.5")]).unwrap();
    assert_eq!(
        checked.ffmpeg_url(),
        "rtsp://admin:hunter2@10.0.0.5:554/live"
    );
    assert!(!format!("{checked:?}").contains("hunter"));
    assert_eq!(checked.redacted(), "rtsp://***@cam.lan/live");

    // Errors carry addresses and rules, never the URL.
    let err = p.precheck("rtsp://admin:hunter2@127.0.0.1/").unwrap_err();
    assert!(!err.to_string().contains("hunter"), "{err}");
}

#[test]
fn devices_only_when_enabled() {
    let config = Config {
        stream_allow_devices: true,
        ..Config::default()
    };
    let p = EgressPolicy::new(&config).unwrap();
    assert_eq!(
        p.precheck("/dev/video0").unwrap().scheme(),
        StreamScheme::Device
    );
    assert_eq!(
        p.precheck("v4l2:///dev/video12").unwrap().as_str(),
        "/dev/video12"
    );
    assert_eq!(refused(&p, "/dev/sda"), "invalid_url");
    assert_eq!(refused(&p, "/dev/video0/../sda"), "invalid_url");
}

#[test]
fn settings_are_validated() {
    let bad = |f: fn(&mut Config)| {
        let mut c = Config::default();
        f(&mut c);
        EgressSettings::from_config(&c).unwrap_err()
    };
    assert!(bad(|c| c.stream_allow_cidrs = "10.0.0.0/8,nonsense".into()).contains("nonsense"));
    assert!(bad(|c| c.stream_schemes = "rtsp,udp".into()).contains("listen"));
    assert!(bad(|c| c.stream_schemes = "rtsp,file".into()).contains("file"));
    let c = Config {
        stream_schemes: "RTSP, rtsps".into(),
        ..Config::default()
    };
    let p = EgressPolicy::new(&c).unwrap();
    assert_eq!(
        p.settings().schemes,
        [StreamScheme::Rtsp, StreamScheme::Rtsps]
    );
    assert!(p.precheck("rtsps://10.0.0.5/live").is_ok());
    assert_eq!(refused(&p, "http://10.0.0.5/live"), "scheme");
    assert_eq!(
        EgressSettings::from_config(&Config::default())
            .unwrap()
            .allow
            .len(),
        5
    );
}

#[test]
// figment's Jail closures return its large error type; that is its API, not ours.
#[allow(clippy::result_large_err)]
fn settings_come_from_the_environment() {
    figment::Jail::expect_with(|jail| {
        jail.set_env(
            "VIGIL_STREAM_ALLOW_CIDRS",
            "10.0.0.0/8, 0.0.0.0/0,::/0,127.0.0.1/32",
        );
        jail.set_env("VIGIL_STREAM_SCHEMES", "rtsp,rtsps");
        jail.set_env("VIGIL_STREAM_ALLOW_DEVICES", "true");
        let config = Config::from_env().expect("config");
        let p = EgressPolicy::new(&config).unwrap();
        assert_eq!(p.settings().allow.len(), 4);
        assert!(p.settings().allow_devices);
        assert!(p.precheck("rtsps://203.0.113.9/live").is_ok());
        assert!(p.precheck("rtsp://127.0.0.1:8554/live").is_ok());
        assert!(p.precheck("/dev/video0").is_ok());
        jail.set_env("VIGIL_STREAM_ALLOW_CIDRS", "10.0.0.0/8,10.0.0.0/33");
        assert!(Config::from_env().is_err(), "a bad range stops start-up");
        Ok(())
    });
}
