//! The job system through the API: idempotent submission, exports, cancel, retries and the
//! dead letter, pause and resume, queue control, progress as server-sent events.

use std::time::Duration;

use serde_json::{Value, json};
use vigil_testkit::jobs::{accepted, submit_canary, wait_finished, wait_job, wait_succeeded};
use vigil_testkit::{TestApp, wait_for_mail};

#[tokio::test(flavor = "multi_thread")]
async fn email_job_is_sent_once_even_when_resubmitted() {
    let app = TestApp::spawn_with_worker().await;
    let admin = app.as_new_user("ROLE-ADMIN").await;
    let subject = format!("Job mail {}", uuid::Uuid::new_v4());
    let body =
        json!({ "to": ["ops@example.test"], "subject": subject, "text": "Queue says hello." });
    let send = || {
        admin
            .post_json("/mail/send", body.clone())
            .idempotency_key("mail-1")
    };
    let first = accepted(send().await);
    let second = accepted(send().await);
    assert_eq!(
        first["id"], second["id"],
        "the Idempotency-Key must return the first job"
    );
    assert_eq!(first["kind"], "email");
    let id = first["id"].as_str().unwrap();
    let job = wait_succeeded(&admin, id, Duration::from_secs(20)).await;
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
    let mail_to = |to: &str| json!({ "to": [to], "subject": "x", "text": "x" });
    admin
        .post_json("/mail/send", mail_to("nope"))
        .await
        .expect(422);
    let viewer = app.as_new_user("ROLE-VIEWER").await;
    let mail = mail_to("a@example.test");
    viewer.post_json("/mail/send", mail).await.expect(403);
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_exports_to_csv_and_pdf_with_download_links() {
    let app = TestApp::spawn_with_worker().await;
    let admin = app.as_new_user("ROLE-ADMIN").await;
    for i in 0..3 {
        admin
            .post_json(
                "/users",
                json!({ "name": format!("U{i}"), "email": format!("u{i}@example.test"), "roleId": "ROLE-VIEWER" }),
            )
            .await
            .expect(201);
    }
    let export = |body: Value| admin.post_json("/audit/export", body);
    let csv_job = accepted(export(json!({ "format": "csv", "action": "users.create" })).await);
    let csv_id = csv_job["id"].as_str().unwrap();
    let job = wait_succeeded(&admin, csv_id, Duration::from_secs(20)).await;
    assert_eq!(job["result"]["rows"], 3);
    let url = job["result"]["downloadUrl"].as_str().unwrap();
    let csv = app.anonymous().get(url).await.text();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(reader.headers().unwrap().get(3), Some("action"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| &r[3] == "users.create"));

    let pdf_job = accepted(export(json!({ "format": "pdf" })).await);
    let pdf_id = pdf_job["id"].as_str().unwrap();
    let job = wait_succeeded(&admin, pdf_id, Duration::from_secs(20)).await;
    assert!(job["result"]["pages"].as_u64().unwrap() >= 1);
    let pdf = app
        .anonymous()
        .get(job["result"]["downloadUrl"].as_str().unwrap())
        .await;
    let pdf = pdf.bytes();
    assert!(pdf.starts_with(b"%PDF"));
    assert_eq!(
        app.ctx
            .storage
            .head(&format!("exports/{pdf_id}.pdf"))
            .await
            .unwrap()
            .unwrap()
            .size,
        pdf.len() as u64
    );

    export(json!({ "format": "xlsx" })).await.expect(422);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_stops_a_running_job_quickly_and_it_is_never_retried() {
    let app = TestApp::spawn_with_worker().await;
    let admin = app.as_new_user("ROLE-ADMIN").await;
    let id = &submit_canary(&admin, json!({ "durationMs": 60000 })).await;
    wait_job(&admin, id, Duration::from_secs(20), |j| {
        j["status"] == "running"
    })
    .await;
    let asked = std::time::Instant::now();
    let cancel = format!("/jobs/{id}/cancel");
    admin.post(&cancel).await.expect(200);
    let job = wait_job(&admin, id, Duration::from_secs(5), |j| {
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
    let job = wait_job(&admin, id, Duration::from_secs(1), |_| true).await;
    assert_eq!(job["status"], "cancelled");
    assert_eq!(job["attempts"], 1, "a cancelled job must not run again");
    // Cancelling again is a conflict; an admin may retry it, and then it runs to the end.
    admin.post(&cancel).await.expect_error(409, "CONFLICT");
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_retry_with_backoff_then_dead_letter_and_admin_retry() {
    let app = TestApp::spawn_with_worker().await;
    let admin = app.as_new_user("ROLE-ADMIN").await;
    let failing = submit_canary(&admin, json!({ "fail": true })).await;
    let panicking = submit_canary(&admin, json!({ "panic": true })).await;
    for (id, message) in [
        (&failing, "canary asked to fail"),
        (&panicking, "handler panicked"),
    ] {
        let done = wait_finished(&admin, id, Duration::from_secs(30)).await;
        assert_eq!(done["status"], "failed", "{done}");
        assert_eq!(done["attempts"], 3);
        assert!(done["error"].as_str().unwrap().contains(message), "{done}");
        assert!(
            done["error"].as_str().unwrap().contains("after 3 attempts"),
            "{done}"
        );
    }
    // The worker survived the panics and takes the next job.
    let ok = submit_canary(&admin, json!({ "durationMs": 100 })).await;
    wait_succeeded(&admin, &ok, Duration::from_secs(20)).await;

    // Admin retry puts the dead-lettered job back with fresh attempts.
    let id = &failing;
    let retry = format!("/jobs/{id}/retry");
    let retried = admin.post(&retry).await.expect(200).data();
    assert_eq!(retried["status"], "queued");
    assert_eq!(retried["attempts"], 0);
    let again = wait_job(&admin, id, Duration::from_secs(20), |j| {
        j["attempts"].as_i64() >= Some(1)
    })
    .await;
    assert!(again["attempts"].as_i64().unwrap() >= 1);
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    operator.post(&retry).await.expect(403);
}

#[tokio::test(flavor = "multi_thread")]
async fn pause_and_resume_continue_from_the_checkpoint() {
    let app = TestApp::spawn_with_worker().await;
    let admin = app.as_new_user("ROLE-ADMIN").await;
    let id = &submit_canary(&admin, json!({ "durationMs": 4000 })).await;
    wait_job(&admin, id, Duration::from_secs(20), |j| {
        j["progress"].as_f64() > Some(20.0)
    })
    .await;
    admin.post(format!("/jobs/{id}/pause")).await.expect(200);
    let paused = wait_job(&admin, id, Duration::from_secs(5), |j| {
        j["status"] == "paused"
    })
    .await;
    let progress_at_pause = paused["progress"].as_f64().unwrap();
    assert!(
        progress_at_pause > 20.0 && progress_at_pause < 100.0,
        "{paused}"
    );
    admin.post(format!("/jobs/{id}/resume")).await.expect(200);
    let done = wait_succeeded(&admin, id, Duration::from_secs(20)).await;
    let resumed_from = done["result"]["resumedFromMs"].as_u64().unwrap();
    assert!(
        resumed_from >= 800,
        "resumed from {resumed_from} ms, expected the checkpoint"
    );
    // Kinds without checkpoints cannot pause.
    let mail = accepted(
        admin
            .post_json(
                "/mail/send",
                json!({ "to": ["a@example.test"], "subject": "p", "text": "p" }),
            )
            .await,
    );
    let pause = format!("/jobs/{}/pause", mail["id"].as_str().unwrap());
    admin.post(pause).await.expect(409);
}

#[tokio::test(flavor = "multi_thread")]
async fn queues_show_workers_and_pause_holds_jobs_back() {
    let app = TestApp::spawn_with_worker().await;
    let admin = app.as_new_user("ROLE-ADMIN").await;
    admin.post("/queues/default/pause").await.expect(200);
    let id = &submit_canary(&admin, json!({ "durationMs": 10 })).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let held = wait_job(&admin, id, Duration::from_secs(1), |_| true).await;
    assert_eq!(
        held["status"], "queued",
        "a paused queue must hold its jobs: {held}"
    );
    let queues = admin.get("/queues").await.items();
    let default = queues.iter().find(|q| q["name"] == "default").unwrap();
    assert_eq!(default["paused"], true);
    assert_eq!(default["queued"], 1);
    assert!(default["oldestQueuedAgeSecs"].as_i64().unwrap() >= 2);
    assert!(default["workers"].as_u64().unwrap() >= 1, "{default}");
    admin.post("/queues/default/resume").await.expect(200);
    wait_succeeded(&admin, id, Duration::from_secs(20)).await;
    admin.post("/queues/nope/pause").await.expect(404);

    // Listing filters.
    let list = admin.get("/jobs?kind=canary&status=succeeded").await;
    assert_eq!(list.meta()["total"], 1);
    admin.get("/jobs?status=bogus").await.expect(422);
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_streams_as_server_sent_events() {
    let app = TestApp::spawn_with_worker().await;
    let admin = app.as_new_user("ROLE-ADMIN").await;
    let id = &submit_canary(&admin, json!({ "durationMs": 1500 })).await;
    let resp = tokio::time::timeout(
        Duration::from_secs(20),
        admin.get(format!("/jobs/{id}/events")),
    )
    .await
    .expect("stream ends when the job finishes")
    .expect(200);
    assert!(
        resp.header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = resp.text();
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
