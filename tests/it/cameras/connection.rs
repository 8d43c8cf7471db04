//! Connection tests and snapshots against real streams served by ffmpeg on loopback (HTTP
//! MPEG-TS and RTSP), and against a closed port and a server that is not a camera.

use std::time::{Duration, Instant};

use vigil_testkit::TestApp;
use vigil_testkit::cameras::{create_stream_camera, run_camera_job, test_pattern};
use vigil_testkit::jobs::wait_succeeded;

#[tokio::test(flavor = "multi_thread")]
async fn a_live_stream_passes_the_test_with_measured_figures() {
    let app = TestApp::spawn_with_worker().await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let server = vigil_video::synth::serve_live(test_pattern(), 0).unwrap();
    let camera = create_stream_camera(&operator, "Pattern", server.url(), false).await;
    let id = camera["id"].as_str().unwrap();
    let job = run_camera_job(&operator, id, "test-connection", Duration::from_secs(60)).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let report = &job["result"];
    assert_eq!(report["success"], true, "{report}");
    assert_eq!(report["message"], "Connection OK");
    assert_eq!(report["resolution"], "640x360");
    let latency = report["latencyMs"].as_u64().unwrap();
    assert!(latency > 0 && latency < 15_000, "{report}");
    // Served in real time at 25 fps: the measured rate is close to it.
    let fps = report["fps"].as_f64().unwrap();
    assert!((15.0..=35.0).contains(&fps), "{report}");
    assert!(report["bitrate"].as_f64().unwrap() > 0.0, "{report}");
    // The figures are kept on the camera.
    let stored = operator.get_data(format!("/cameras/{id}")).await;
    assert_eq!(stored["resolution"], "640x360");
    assert_eq!(stored["latency"].as_f64().unwrap() as u64, latency);
    assert!(stored["lastChecked"].is_string() && stored["lastSeen"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_cameras_fail_the_test_with_a_reason_in_bounded_time() {
    let app = TestApp::spawn_with_worker().await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    // A closed port: bind one, note it, let it go.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    // A web server that is not a camera: it answers every request with a page.
    let page = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let page_url = format!("http://127.0.0.1:{}/", page.local_addr().unwrap().port());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = page.accept().await {
            let mut buf = [0u8; 2048];
            let _ = socket.read(&mut buf).await;
            let body = "<html><body>router login</body></html>".repeat(50);
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    for url in [format!("http://127.0.0.1:{port}/live.ts"), page_url] {
        let camera = create_stream_camera(&operator, "Broken", &url, false).await;
        let id = camera["id"].as_str().unwrap();
        let started = Instant::now();
        let job = run_camera_job(&operator, id, "test-connection", Duration::from_secs(60)).await;
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{url}: took {:?}",
            started.elapsed()
        );
        assert_eq!(job["status"], "succeeded", "{job}");
        let report = &job["result"];
        assert_eq!(report["success"], false, "{url}: {report}");
        let message = report["message"].as_str().unwrap();
        assert!(message.starts_with("Connection failed: "), "{message}");
        // The reason is short and safe: not what the port answered.
        assert!(
            !message.contains("router") && !message.contains(&port.to_string()),
            "{message}"
        );
        let stored = operator.get_data(format!("/cameras/{id}")).await;
        assert!(
            stored["lastChecked"].is_string() && stored["lastSeen"].is_null(),
            "{stored}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_lands_in_storage_and_becomes_the_thumbnail() {
    let app = TestApp::spawn_with_worker().await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let server = vigil_video::synth::serve_rtsp(test_pattern(), 0).unwrap();
    let camera = create_stream_camera(&operator, "Lobby", server.url(), false).await;
    let id = camera["id"].as_str().unwrap();
    assert!(camera["thumbnail"].is_null());
    let job = run_camera_job(&operator, id, "snapshot", Duration::from_secs(60)).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let snap = &job["result"];
    let key = snap["assetId"].as_str().unwrap();
    assert!(
        key.starts_with(&format!("snapshots/{id}/")) && key.ends_with(".jpg"),
        "{key}"
    );
    assert_eq!(
        (snap["width"].as_u64(), snap["height"].as_u64()),
        (Some(640), Some(360))
    );
    let jpeg = app
        .client
        .get(snap["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(jpeg.status(), 200);
    let bytes = jpeg.bytes().await.unwrap();
    assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF], "a JPEG");
    assert!(image::load_from_memory(&bytes).is_ok());
    // The camera's thumbnail is that snapshot.
    let stored = operator.get_data(format!("/cameras/{id}")).await;
    let thumb = app
        .client
        .get(stored["thumbnail"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.bytes().await.unwrap(), bytes);
    assert!(server.requests().iter().any(|r| r.starts_with("PLAY")));

    // Snapshots outlive retention only as the camera's thumbnail, and go with the camera.
    let job = run_camera_job(&operator, id, "snapshot", Duration::from_secs(60)).await;
    let latest = job["result"]["assetId"].as_str().unwrap().to_string();
    {
        use diesel_async::RunQueryDsl;
        let mut conn = app.ctx.db.get().await.unwrap();
        diesel::sql_query("UPDATE camera_snapshots SET taken_at = now() - interval '40 days'")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let admin = app.as_user(&app.admin().await);
    let cleanup = || async {
        let (job, _) = vigil_core::jobs::enqueue(
            &app.ctx,
            vigil_core::jobs::NewJob::of(&vigil_core::maintenance::CleanupJob { tick: None }),
        )
        .await
        .unwrap();
        wait_succeeded(&admin, &job.id.to_string(), Duration::from_secs(60)).await
    };
    let done = cleanup().await;
    assert_eq!(done["result"]["snapshotsDeleted"], 1, "{done}");
    let storage = &app.ctx.storage;
    assert!(
        storage.head(key).await.unwrap().is_none(),
        "the old snapshot"
    );
    assert!(
        storage.head(&latest).await.unwrap().is_some(),
        "the thumbnail"
    );
    operator.delete(format!("/cameras/{id}")).await.expect(204);
    cleanup().await;
    assert!(
        storage.head(&latest).await.unwrap().is_none(),
        "gone with its camera"
    );
}
