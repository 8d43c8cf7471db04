//! Jobs through the API: what a submission must answer (202, the job, its Location) and
//! waiting for a job to get somewhere. Every feature that runs work in a worker needs these.

use std::time::Duration;

use serde_json::Value;

use crate::{Caller, Response};

/// Checks a submission's answer — 202 Accepted, the job in the envelope, `Location` naming
/// it — and returns the job.
#[track_caller]
pub fn accepted(resp: Response) -> Value {
    let resp = resp.expect(202);
    let body = resp.json();
    assert_eq!(body["success"], true);
    assert_eq!(
        resp.header("location").expect("a Location header"),
        format!("/api/v1/jobs/{}", body["data"]["id"].as_str().unwrap())
    );
    body["data"].clone()
}

/// Submits a canary job (the job system's test kind: sleeps, checkpoints, fails or panics as
/// `body` asks) and returns its id.
pub async fn submit_canary(caller: &Caller, body: Value) -> String {
    let job = accepted(caller.post_json("/jobs/canary", body).await);
    job["id"].as_str().expect("job id").to_string()
}

/// Polls `/jobs/{id}` until `done` accepts the job or `timeout` passes; returns the job.
pub async fn wait_job(
    caller: &Caller,
    id: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let every = Duration::from_millis(100);
    caller
        .wait_for(format!("/jobs/{id}"), timeout, every, done)
        .await
}

/// Whether a job (or anything with a job's status: a search) has finished.
pub fn is_finished(job: &Value) -> bool {
    matches!(
        job["status"].as_str(),
        Some("succeeded" | "failed" | "cancelled")
    )
}

/// Waits until the job is finished and asserts that it succeeded; returns it.
pub async fn wait_succeeded(caller: &Caller, id: &str, timeout: Duration) -> Value {
    let job = wait_finished(caller, id, timeout).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    job
}

/// Waits until the job is finished (succeeded, failed or cancelled).
pub async fn wait_finished(caller: &Caller, id: &str, timeout: Duration) -> Value {
    wait_job(caller, id, timeout, is_finished).await
}
