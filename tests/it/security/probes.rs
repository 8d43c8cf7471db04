//! Health and metrics endpoints: unauthenticated and polled by everything, so what they cost
//! is computed once per two seconds whatever the number of callers; with
//! `VIGIL_METRICS_TOKEN` set, metrics and the readiness details need that token.

use vigil_testkit::TestApp;

const TOKEN: &str = "metrics-scraper-token-0123456789";

#[tokio::test(flavor = "multi_thread")]
async fn readiness_and_metrics_are_computed_once_per_interval() {
    let app = TestApp::spawn().await;
    let anonymous = app.anonymous();
    let ready = app.url("/health/ready");
    let metrics = app.url("/metrics");
    anonymous.get(&ready).await.expect(200);
    anonymous.get(&metrics).await.expect(200);
    let before = app.ctx.db_queries.get();
    for _ in 0..25 {
        anonymous.get(&ready).await.expect(200);
        let text = anonymous.get(&metrics).await.expect(200).text();
        assert!(text.contains("vigil_queue_depth"));
    }
    // Each check pings PostgreSQL once and each gauge reading costs two queries: 75 queries
    // uncached. Within the interval, none; crossing it once, three.
    let cost = app.ctx.db_queries.get() - before;
    assert!(
        cost <= 6,
        "25 readiness checks and scrapes ran {cost} queries"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_metrics_token_guards_metrics_and_readiness_details() {
    let app = TestApp::spawn_with(|c| c.metrics_token = Some(TOKEN.into())).await;
    let anonymous = app.anonymous();
    anonymous
        .get(app.url("/metrics"))
        .await
        .expect_error(401, "UNAUTHORIZED");
    app.as_user("metrics-scraper-token-0123456780")
        .get(app.url("/metrics"))
        .await
        .expect_error(401, "UNAUTHORIZED");
    let scraper = app.as_user(TOKEN);
    let text = scraper.get(app.url("/metrics")).await.expect(200).text();
    assert!(text.contains("vigil_queue_depth"), "{text}");
    // Probes still get the verdict; the components (hosts in errors, latencies) need the token.
    let bare = anonymous.get_data(app.url("/health/ready")).await;
    assert_eq!(bare["ready"], true);
    assert_eq!(bare["components"].as_array().unwrap().len(), 0);
    let full = scraper.get_data(app.url("/health/ready")).await;
    assert_eq!(full["components"].as_array().unwrap().len(), 4);
    anonymous.get(app.url("/health/live")).await.expect(200);
}
