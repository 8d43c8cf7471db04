//! Who a search may email (face thumbnails of whoever was found): few addresses, inside the
//! deployment's domains when it names them.

use serde_json::json;
use uuid::Uuid;
use vigil_testkit::TestApp;

#[tokio::test(flavor = "multi_thread")]
async fn a_searchs_notify_list_is_short_and_inside_the_allowed_domains() {
    let app = TestApp::spawn_with(|c| {
        c.notify_max_recipients = 2;
        c.notify_allowed_domains = "police.example".into();
    })
    .await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let search = |notify: Vec<&str>| {
        operator.post_json(
            "/searches",
            json!({
                "missingPersonIds": [Uuid::now_v7()],
                "videoIds": [Uuid::now_v7()],
                "notify": notify,
            }),
        )
    };
    let resp = search(vec![
        "a@police.example",
        "b@police.example",
        "c@police.example",
    ])
    .await
    .expect_error(422, "VALIDATION_ERROR");
    assert_eq!(resp.error()["details"]["field"], "notify");
    assert!(
        resp.error()["message"]
            .as_str()
            .unwrap()
            .contains("at most 2")
    );
    let resp = search(vec!["duty@police.example", "someone@evil.example"])
        .await
        .expect_error(422, "VALIDATION_ERROR");
    assert!(
        resp.error()["message"]
            .as_str()
            .unwrap()
            .contains("someone@evil.example is outside"),
        "{}",
        resp.text()
    );
    // Allowed (duplicates count once): the request gets as far as the persons it names.
    let resp = search(vec![
        "duty@police.example",
        "Duty@police.example",
        "x@unit.police.example",
    ])
    .await
    .expect_error(422, "VALIDATION_ERROR");
    assert_eq!(resp.error()["details"]["field"], "missingPersonIds");
}
