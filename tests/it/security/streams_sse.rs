//! Progress streams (server-sent events): a few per user, and none outliving the access token
//! that opened it.

use std::time::Duration;

use serde_json::json;
use vigil_testkit::TestApp;
use vigil_testkit::jobs::submit_canary;

#[tokio::test(flavor = "multi_thread")]
async fn progress_streams_are_capped_per_user_and_end_with_their_token() {
    let mut app = TestApp::spawn_with(|c| {
        c.sse_max_streams_per_user = 2;
        c.access_token_ttl_secs = 3;
    })
    .await;
    app.start_worker();
    let admin = app.new_user("ROLE-ADMIN").await;
    let job = submit_canary(&admin.caller, json!({ "durationMs": 30000 })).await;
    let url = app.url(&format!("/api/v1/jobs/{job}/events"));
    let token = admin.login["accessToken"].as_str().unwrap().to_string();
    let open = |token: String| {
        let (client, url) = (app.client.clone(), url.clone());
        async move { client.get(url).bearer_auth(token).send().await.unwrap() }
    };
    let first = open(token.clone()).await;
    let second = open(token.clone()).await;
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let third = open(token.clone()).await;
    assert_eq!(third.status().as_u16(), 429);
    let body: serde_json::Value = third.json().await.unwrap();
    assert_eq!(body["error"]["code"], "RATE_LIMITED");

    // The job runs for 30 s; the streams end when the 3 s token expires.
    for stream in [first, second] {
        let ended = tokio::time::timeout(Duration::from_secs(10), stream.text()).await;
        let text = ended.expect("the stream outlived its token").unwrap();
        assert!(text.contains("event: job"), "{text}");
    }
    // Their slots are free again: a fresh token opens a stream.
    let fresh = app.login(&admin.email, &admin.password).await;
    let again = open(fresh["accessToken"].as_str().unwrap().to_string()).await;
    assert_eq!(again.status().as_u16(), 200);
}
