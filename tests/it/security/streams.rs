//! Stream URLs that point at internal hosts are refused when they are registered.

use serde_json::json;
use vigil_testkit::TestApp;

#[tokio::test(flavor = "multi_thread")]
async fn stream_urls_to_internal_hosts_are_refused() {
    let app = TestApp::spawn().await;
    let admin = app.as_user(&app.admin().await);
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
        "http://0xa9.0xfe.0xa9.0xfe/latest/meta-data/",
        "tcp://0.0.0.0:9999?listen=1",
        "udp://10.0.0.5:5000?listen=1",
        "http://[::1]:8080/",
        "file:///etc/passwd",
    ] {
        let resp = admin
            .post_json("/videos/live", json!({ "title": "probe", "url": bad }))
            .await
            .expect_error(422, "VALIDATION_ERROR");
        // The answer says what kind of URL is refused, not what the address is or answers.
        let message = resp.error()["message"].as_str().unwrap().to_string();
        assert!(
            !message.contains(&redis_port.to_string()),
            "{bad}: {message}"
        );
    }
    // A camera on the LAN is accepted, its credentials kept but never shown.
    let live = admin
        .post_json(
            "/videos/live",
            json!({ "title": "lobby", "url": "rtsp://admin:s3cret@192.168.1.20:554/stream1?token=abc" }),
        )
        .await
        .expect(201)
        .data();
    let shown = live["streamUrl"].as_str().unwrap();
    assert!(
        !shown.contains("s3cret") && !shown.contains("abc"),
        "{shown}"
    );
    // Sealed at rest: a database dump does not give the camera's password away.
    let stored: Vec<Stored> = {
        use diesel_async::RunQueryDsl;
        let mut conn = app.ctx.db.get().await.unwrap();
        diesel::sql_query("SELECT stream_url FROM videos")
            .load(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(stored.len(), 1);
    assert!(
        !stored[0].stream_url.contains("s3cret"),
        "{}",
        stored[0].stream_url
    );
}

#[derive(diesel::QueryableByName)]
struct Stored {
    #[diesel(sql_type = diesel::sql_types::Text)]
    stream_url: String,
}
