use std::time::Duration;

use serde_json::{Value, json};
use vigil_testkit::{TestApp, wait_for_mail};

use crate::assert_error_envelope;

pub(crate) async fn post(
    app: &TestApp,
    token: &str,
    path: &str,
    body: Value,
    key: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body);
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    req.send().await.unwrap()
}

pub(crate) async fn accepted(resp: reqwest::Response) -> Value {
    assert_eq!(resp.status(), 202);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["success"], true);
    assert_eq!(
        location,
        format!("/api/v1/jobs/{}", body["data"]["id"].as_str().unwrap())
    );
    body["data"].clone()
}

pub(crate) async fn submit_canary(app: &TestApp, token: &str, body: Value) -> Value {
    accepted(post(app, token, "/api/v1/jobs/canary", body, None).await).await
}

#[tokio::test(flavor = "multi_thread")]
async fn email_job_is_sent_once_even_when_resubmitted() {
    let app = TestApp::spawn_with_worker().await;
    let admin = app.admin().await;
    let subject = format!("Job mail {}", uuid::Uuid::new_v4());
    let body =
        json!({ "to": ["ops@example.test"], "subject": subject, "text": "Queue says hello." });
    let first = accepted(
        post(
            &app,
            &admin,
            "/api/v1/mail/send",
            body.clone(),
            Some("mail-1"),
        )
        .await,
    )
    .await;
    let second =
        accepted(post(&app, &admin, "/api/v1/mail/send", body, Some("mail-1")).await).await;
    assert_eq!(
        first["id"], second["id"],
        "the Idempotency-Key must return the first job"
    );
    assert_eq!(first["kind"], "email");
    let id = first["id"].as_str().unwrap();
    let job = app.wait_finished(&admin, id, Duration::from_secs(20)).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["progress"], 100.0);
    assert!(
        wait_for_mail(&subject, Duration::from_secs(5))
            .await
            .is_some()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let copies = vigil_testkit::received_mail()
        .into_iter()
        .filter(|m| m.contains(&subject))
        .count();
    assert_eq!(copies, 1);

    // Bad addresses are refused up front; non-admins may not send.
    let resp = post(
        &app,
        &admin,
        "/api/v1/mail/send",
        json!({ "to": ["nope"], "subject": "x", "text": "x" }),
        None,
    )
    .await;
    assert_eq!(resp.status(), 422);
    let viewer = app.token_for("ROLE-VIEWER").await;
    let resp = post(
        &app,
        &viewer,
        "/api/v1/mail/send",
        json!({ "to": ["a@example.test"], "subject": "x", "text": "x" }),
        None,
    )
    .await;
    assert_eq!(resp.status(), 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_exports_to_csv_and_pdf_with_download_links() {
    let app = TestApp::spawn_with_worker().await;
    let admin = app.admin().await;
    for i in 0..3 {
        let resp = post(&app, &admin, "/api/v1/users", json!({ "name": format!("U{i}"), "email": format!("u{i}@example.test"), "roleId": "ROLE-VIEWER" }), None).await;
        assert_eq!(resp.status(), 201);
    }
    let csv_job = accepted(
        post(
            &app,
            &admin,
            "/api/v1/audit/export",
            json!({ "format": "csv", "action": "users.create" }),
            None,
        )
        .await,
    )
    .await;
    let job = app
        .wait_finished(
            &admin,
            csv_job["id"].as_str().unwrap(),
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["result"]["rows"], 3);
    let url = job["result"]["downloadUrl"].as_str().unwrap();
    let csv = app
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(reader.headers().unwrap().get(3), Some("action"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| &r[3] == "users.create"));

    let pdf_job = accepted(
        post(
            &app,
            &admin,
            "/api/v1/audit/export",
            json!({ "format": "pdf" }),
            None,
        )
        .await,
    )
    .await;
    let job = app
        .wait_finished(
            &admin,
            pdf_job["id"].as_str().unwrap(),
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert!(job["result"]["pages"].as_u64().unwrap() >= 1);
    let pdf = app
        .client
        .get(job["result"]["downloadUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    assert_eq!(
        app.ctx
            .storage
            .head(&format!("exports/{}.pdf", pdf_job["id"].as_str().unwrap()))
            .await
            .unwrap()
            .unwrap()
            .size,
        pdf.len() as u64
    );

    let resp = post(
        &app,
        &admin,
        "/api/v1/audit/export",
        json!({ "format": "xlsx" }),
        None,
    )
    .await;
    assert_eq!(resp.status(), 422);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_stops_a_running_job_quickly_and_it_is_never_retried() {
    let app = TestApp::spawn_with_worker().await;
    let admin = app.admin().await;
    let job = submit_canary(&app, &admin, json!({ "durationMs": 60000 })).await;
    let id = job["id"].as_str().unwrap();
    app.wait_job(&admin, id, Duration::from_secs(20), |j| {
        j["status"] == "running"
    })
    .await;
    let asked = std::time::Instant::now();
    let resp = post(
        &app,
        &admin,
        &format!("/api/v1/jobs/{id}/cancel"),
        json!({}),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let job = app
        .wait_job(&admin, id, Duration::from_secs(5), |j| {
            j["status"] == "cancelled"
        })
        .await;
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "cancel took {:?}",
        asked.elapsed()
    );
    assert_eq!(job["attempts"], 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let job = app
        .wait_job(&admin, id, Duration::from_secs(1), |_| true)
        .await;
    assert_eq!(job["status"], "cancelled");
    assert_eq!(job["attempts"], 1, "a cancelled job must not run again");
    // Cancelling again is a conflict; an admin may retry it, and then it runs to the end.
    let resp = post(
        &app,
        &admin,
        &format!("/api/v1/jobs/{id}/cancel"),
        json!({}),
        None,
    )
    .await;
    assert_eq!(resp.status(), 409);
    assert_error_envelope(&resp.json().await.unwrap(), "CONFLICT");
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_retry_with_backoff_then_dead_letter_and_admin_retry() {
    let app = TestApp::spawn_with_worker().await;
    let admin = app.admin().await;
    let failing = submit_canary(&app, &admin, json!({ "fail": true })).await;
    let panicking = submit_canary(&app, &admin, json!({ "panic": true })).await;
    for (job, message) in [
        (&failing, "canary asked to fail"),
        (&panicking, "handler panicked"),
    ] {
        let done = app
            .wait_finished(&admin, job["id"].as_str().unwrap(), Duration::from_secs(30))
            .await;
        assert_eq!(done["status"], "failed", "{done}");
        assert_eq!(done["attempts"], 3);
        assert!(done["error"].as_str().unwrap().contains(message), "{done}");
        assert!(
            done["error"].as_str().unwrap().contains("after 3 attempts"),
            "{done}"
        );
    }
    // The worker survived the panics and takes the next job.
    let ok = submit_canary(&app, &admin, json!({ "durationMs": 100 })).await;
    let done = app
        .wait_finished(&admin, ok["id"].as_str().unwrap(), Duration::from_secs(20))
        .await;
    assert_eq!(done["status"], "succeeded", "{done}");

    // Admin retry puts the dead-lettered job back with fresh attempts.
    let id = failing["id"].as_str().unwrap();
    let resp = post(
        &app,
        &admin,
        &format!("/api/v1/jobs/{id}/retry"),
        json!({}),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["status"], "queued");
    assert_eq!(body["data"]["attempts"], 0);
    let again = app
        .wait_job(&admin, id, Duration::from_secs(20), |j| {
            j["attempts"].as_i64() >= Some(1)
        })
        .await;
    assert!(again["attempts"].as_i64().unwrap() >= 1);
    let operator = app.token_for("ROLE-OPERATOR").await;
    let resp = post(
        &app,
        &operator,
        &format!("/api/v1/jobs/{id}/retry"),
        json!({}),
        None,
    )
    .await;
    assert_eq!(resp.status(), 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn pause_and_resume_continue_from_the_checkpoint() {
    let app = TestApp::spawn_with_worker().await;
    let admin = app.admin().await;
    let job = submit_canary(&app, &admin, json!({ "durationMs": 4000 })).await;
    let id = job["id"].as_str().unwrap();
    app.wait_job(&admin, id, Duration::from_secs(20), |j| {
        j["progress"].as_f64() > Some(20.0)
    })
    .await;
    let resp = post(
        &app,
        &admin,
        &format!("/api/v1/jobs/{id}/pause"),
        json!({}),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let paused = app
        .wait_job(&admin, id, Duration::from_secs(5), |j| {
            j["status"] == "paused"
        })
        .await;
    let progress_at_pause = paused["progress"].as_f64().unwrap();
    assert!(
        progress_at_pause > 20.0 && progress_at_pause < 100.0,
        "{paused}"
    );
    let resp = post(
        &app,
        &admin,
        &format!("/api/v1/jobs/{id}/resume"),
        json!({}),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let done = app.wait_finished(&admin, id, Duration::from_secs(20)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let resumed_from = done["result"]["resumedFromMs"].as_u64().unwrap();
    assert!(
        resumed_from >= 800,
        "resumed from {resumed_from} ms, expected the checkpoint"
    );
    // Kinds without checkpoints cannot pause.
    let mail = accepted(
        post(
            &app,
            &admin,
            "/api/v1/mail/send",
            json!({ "to": ["a@example.test"], "subject": "p", "text": "p" }),
            None,
        )
        .await,
    )
    .await;
    let resp = post(
        &app,
        &admin,
        &format!("/api/v1/jobs/{}/pause", mail["id"].as_str().unwrap()),
        json!({}),
        None,
    )
    .await;
    assert!(resp.status() == 409, "{}", resp.status());
}

#[tokio::test(flavor = "multi_thread")]
async fn queues_show_workers_and_pause_holds_jobs_back() {
    let app = TestApp::spawn_with_worker().await;
    let admin = app.admin().await;
    let resp = post(
        &app,
        &admin,
        "/api/v1/queues/default/pause",
        json!({}),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let job = submit_canary(&app, &admin, json!({ "durationMs": 10 })).await;
    let id = job["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let held = app
        .wait_job(&admin, id, Duration::from_secs(1), |_| true)
        .await;
    assert_eq!(
        held["status"], "queued",
        "a paused queue must hold its jobs: {held}"
    );
    let queues: Value = app
        .client
        .get(app.url("/api/v1/queues"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let default = queues["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "default")
        .unwrap()
        .clone();
    assert_eq!(default["paused"], true);
    assert_eq!(default["queued"], 1);
    assert!(default["oldestQueuedAgeSecs"].as_i64().unwrap() >= 2);
    assert!(default["workers"].as_u64().unwrap() >= 1, "{default}");
    let resp = post(
        &app,
        &admin,
        "/api/v1/queues/default/resume",
        json!({}),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let done = app.wait_finished(&admin, id, Duration::from_secs(20)).await;
    assert_eq!(done["status"], "succeeded");
    let resp = post(&app, &admin, "/api/v1/queues/nope/pause", json!({}), None).await;
    assert_eq!(resp.status(), 404);

    // Listing filters.
    let list: Value = app
        .client
        .get(app.url("/api/v1/jobs?kind=canary&status=succeeded"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["meta"]["total"], 1);
    let resp = app
        .client
        .get(app.url("/api/v1/jobs?status=bogus"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_streams_as_server_sent_events() {
    let app = TestApp::spawn_with_worker().await;
    let admin = app.admin().await;
    let job = submit_canary(&app, &admin, json!({ "durationMs": 1500 })).await;
    let id = job["id"].as_str().unwrap();
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/jobs/{id}/events")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = tokio::time::timeout(Duration::from_secs(20), resp.text())
        .await
        .expect("stream ends when the job finishes")
        .unwrap();
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(events.len() >= 3, "{text}");
    assert_eq!(events.last().unwrap()["status"], "succeeded");
    assert!(
        events
            .iter()
            .any(|e| e["status"] == "running" && e["progress"].as_f64() > Some(0.0)),
        "{text}"
    );
    assert!(text.contains("event: job"));
}
