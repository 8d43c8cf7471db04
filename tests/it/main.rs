//! End-to-end tests against real PostgreSQL, Redis, S3 (s3s-fs) and SMTP (aiosmtpd) servers.
//! Start them with `scripts/test.sh` (which then runs this suite).

mod api_conventions;
mod audit;
mod auth;
mod durability;
mod email;
mod health;
mod jobs;
mod metrics;
mod query_counts;
mod scheduler;
mod search;
mod security;
mod storage;
mod users;

use serde_json::Value;

/// Asserts the error envelope and returns its `error` object.
pub fn assert_error_envelope(body: &Value, code: &str) -> Value {
    assert_eq!(body["success"], false, "body: {body}");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "body: {body}"
    );
    assert!(
        body["requestId"].as_str().is_some_and(|r| !r.is_empty()),
        "body: {body}"
    );
    body["error"].clone()
}
