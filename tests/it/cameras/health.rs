//! A camera whose stream stops goes offline with one alert; when video returns it is online
//! again and the alert is resolved.

use std::time::Duration;

use vigil_testkit::TestApp;
use vigil_testkit::cameras::{create_stream_camera, test_pattern, wait_camera};

#[tokio::test(flavor = "multi_thread")]
async fn stream_loss_marks_the_camera_offline_once_and_return_online() {
    let mut app = TestApp::spawn_with(|c| {
        c.camera_count_window_secs = 10;
        c.camera_offline_secs = 3;
    })
    .await;
    app.start_worker();
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let mut server = vigil_video::synth::serve_live(test_pattern(), 0).unwrap();
    let port: u16 = server.url().rsplit(':').next().unwrap().parse().unwrap();
    let camera = create_stream_camera(&operator, "Gate", server.url(), true).await;
    let id = camera["id"].as_str().unwrap();
    let online = |c: &serde_json::Value| c["status"] == "online";
    wait_camera(&operator, id, Duration::from_secs(90), online).await;

    server.kill().unwrap();
    wait_camera(&operator, id, Duration::from_secs(60), |c| {
        c["status"] == "offline"
    })
    .await;
    // Still down a while later: the alert is not raised again.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(alerts(&app, id).await, (1, 1), "one alert, open");

    let server = vigil_video::synth::serve_live(test_pattern(), port).unwrap();
    wait_camera(&operator, id, Duration::from_secs(60), online).await;
    assert_eq!(alerts(&app, id).await, (1, 0), "the alert is resolved");
    drop(server);
}

/// (alerts raised, alerts still open) for the camera.
async fn alerts(app: &TestApp, camera: &str) -> (i64, i64) {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use vigil_core::db::schema::alerts;
    let mut conn = app.ctx.db.get().await.unwrap();
    let all: Vec<Option<chrono::DateTime<chrono::Utc>>> = alerts::table
        .filter(alerts::kind.eq("camera.offline"))
        .filter(alerts::source.eq(camera))
        .select(alerts::resolved_at)
        .load(&mut conn)
        .await
        .unwrap();
    let open = all.iter().filter(|r| r.is_none()).count();
    (all.len() as i64, open as i64)
}
