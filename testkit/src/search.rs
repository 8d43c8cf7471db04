//! Searches through the API: starting one and following its status until it gets somewhere.

use std::time::Duration;

use serde_json::Value;

use crate::{Caller, Response};

/// POSTs `/searches` with `body`; the answer (202 or a refusal) is left to the caller.
pub async fn start_search(caller: &Caller, body: Value) -> Response {
    caller.post_json("/searches", body).await
}

/// Starts a search that must be accepted (202), and returns its id.
pub async fn submit_search(caller: &Caller, body: Value) -> String {
    start_search(caller, body).await.expect(202).id()
}

/// Polls `/searches/{id}/status` until `done` accepts it or `timeout` passes; returns it.
pub async fn wait_search(
    caller: &Caller,
    id: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let every = Duration::from_millis(250);
    caller
        .wait_for(format!("/searches/{id}/status"), timeout, every, done)
        .await
}

/// Controls a search — `action` is `pause`, `resume`, `cancel` or `stop` — and returns it.
pub async fn control(caller: &Caller, id: &str, action: &str) -> Value {
    let path = format!("/searches/{id}/{action}");
    caller.put(path).await.expect(200).data()
}
