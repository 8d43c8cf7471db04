//! The reviewers' digest: one email listing what waits for review, sent only when something
//! new arrived since the last one (the scheduler's `review-digest` task calls the same
//! function on its cron).

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use vigil_testkit::TestApp;
use vigil_testkit::attendance::register_face;
use vigil_testkit::mail::wait_for_mail;

#[tokio::test(flavor = "multi_thread")]
async fn reviewers_get_one_digest_of_pending_sightings() {
    let app = TestApp::spawn_with_worker().await;
    let admin = app.as_new_user("ROLE-ADMIN").await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let reviewer = app.new_user("ROLE-REVIEWER").await;
    let name = format!("Digest-{}", uuid::Uuid::new_v4().simple());
    register_face(&admin, &[("name", &name), ("employeeId", "EMP-D1")], vec![])
        .await
        .expect(201);
    for hour in ["08", "09", "10"] {
        // An operator's manual entry waits for a reviewer.
        let e = operator
            .post_json(
                "/attendance/manual",
                json!({ "employeeId": "EMP-D1", "timestamp": format!("2026-11-02T{hour}:00:00Z"), "note": "badge" }),
            )
            .await
            .expect(201)
            .data();
        assert_eq!(e["status"], "pending");
    }
    let pending = vigil_core::attendance::digest::send(&app.ctx, Utc::now())
        .await
        .unwrap();
    assert_eq!(pending, 3);
    let mail = wait_for_mail(&name, Duration::from_secs(20))
        .await
        .expect("the digest email");
    // Quoted-printable: soft line breaks joined.
    let mail = mail.replace("=\r\n", "").replace("=\n", "");
    assert!(mail.contains(&reviewer.email), "{mail}");
    assert!(mail.contains("3 attendance sighting(s)"), "{mail}");
    assert!(mail.contains("entered by hand"), "{mail}");
    // Nothing new since: no second email.
    let again = vigil_core::attendance::digest::send(&app.ctx, Utc::now())
        .await
        .unwrap();
    assert_eq!(again, 0);
}
