//! The way tests talk to the API: a [`Caller`] (one identity, bearer token or none) builds
//! [`Request`]s whose awaited [`Response`] is read whole, so a failed expectation can say which
//! request it was and what came back. Tests then read like the API they exercise, and a new
//! endpoint's test costs a line per call instead of a hand-built reqwest chain.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// The base path every API route lives under (DESIGN §4).
pub const API_ROOT: &str = "/api/v1";

/// One identity calling the API: a user's bearer token, or nobody.
///
/// Paths are relative to the API root: `caller.get("/users")` requests `/api/v1/users`.
/// Routes outside it (`/health/live`, `/metrics`, `/docs`) and links the API hands out
/// (download and thumbnail URLs) are passed as absolute URLs, e.g. `app.url("/health/live")`.
#[derive(Clone)]
pub struct Caller {
    client: reqwest::Client,
    server: String,
    token: Option<String>,
}

impl Caller {
    /// A caller of the server at `server` (`http://host:port`, no trailing slash).
    pub fn new(client: reqwest::Client, server: String, token: Option<String>) -> Self {
        Self {
            client,
            server,
            token,
        }
    }

    /// The bearer token this caller sends, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The absolute URL of `path` (relative to the API root) or `path` itself if absolute.
    pub fn url(&self, path: impl AsRef<str>) -> String {
        let path = path.as_ref();
        if path.starts_with("http://") || path.starts_with("https://") {
            return path.to_string();
        }
        // Writing the root twice would silently request `/api/v1/api/v1/…` and fail as a 404
        // far from the mistake.
        assert!(
            !path.starts_with(API_ROOT),
            "paths are relative to {API_ROOT}: write {:?}",
            &path[API_ROOT.len()..]
        );
        assert!(path.starts_with('/'), "paths start with '/': {path:?}");
        format!("{}{API_ROOT}{path}", self.server)
    }

    /// GETs `path` every `every` until `done` accepts its `data`, and returns that `data`;
    /// panics after `timeout`, showing the last one. Jobs, probes and searches are followed
    /// this way.
    pub async fn wait_for(
        &self,
        path: impl AsRef<str>,
        timeout: Duration,
        every: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let path = path.as_ref();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let data = self.get_data(path).await;
            if done(&data) {
                return data;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "GET {path} did not get there in {timeout:?}; last: {data}"
            );
            tokio::time::sleep(every).await;
        }
    }

    /// A request of any method (OPTIONS, HEAD, …).
    pub fn request(&self, method: Method, path: impl AsRef<str>) -> Request {
        let mut builder = self.client.request(method.clone(), self.url(path));
        if let Some(token) = &self.token {
            builder = builder.bearer_auth(token);
        }
        Request { method, builder }
    }

    pub fn get(&self, path: impl AsRef<str>) -> Request {
        self.request(Method::GET, path)
    }

    /// Reads a resource: GETs `path`, expects 200 and returns the envelope's `data`.
    pub async fn get_data(&self, path: impl AsRef<str>) -> Value {
        self.get(path).await.expect(200).data()
    }

    /// A POST without a body (commands such as `/jobs/{id}/cancel`).
    pub fn post(&self, path: impl AsRef<str>) -> Request {
        self.request(Method::POST, path)
    }

    pub fn post_json(&self, path: impl AsRef<str>, body: Value) -> Request {
        self.post(path).json(body)
    }

    /// A PUT without a body (commands such as `/searches/{id}/pause`).
    pub fn put(&self, path: impl AsRef<str>) -> Request {
        self.request(Method::PUT, path)
    }

    pub fn put_json(&self, path: impl AsRef<str>, body: Value) -> Request {
        self.put(path).json(body)
    }

    pub fn patch_json(&self, path: impl AsRef<str>, body: Value) -> Request {
        self.request(Method::PATCH, path).json(body)
    }

    pub fn delete(&self, path: impl AsRef<str>) -> Request {
        self.request(Method::DELETE, path)
    }

    /// A multipart/form-data POST; build `form` from [`Form::text`] and [`file_part`]s.
    pub fn multipart(&self, path: impl AsRef<str>, form: Form) -> Request {
        let request = self.post(path);
        Request {
            builder: request.builder.multipart(form),
            ..request
        }
    }
}

/// A request being built; `.await` sends it and reads the whole response.
#[must_use = "a request does nothing until it is awaited"]
pub struct Request {
    method: Method,
    builder: reqwest::RequestBuilder,
}

impl Request {
    pub fn json(self, body: Value) -> Self {
        self.map(|b| b.json(&body))
    }

    /// Query parameters, encoded (`.query(&[("search", "Reviewer 1")])`).
    pub fn query(self, pairs: &[(&str, &str)]) -> Self {
        self.map(|b| b.query(pairs))
    }

    pub fn header(self, name: &str, value: &str) -> Self {
        let (name, value) = (name.to_string(), value.to_string());
        self.map(|b| b.header(name, value))
    }

    /// Makes a resubmission return the first job (DESIGN §4).
    pub fn idempotency_key(self, key: &str) -> Self {
        self.header("Idempotency-Key", key)
    }

    /// A body sent as is with `content_type`: malformed JSON, a [`chunked`] stream, …
    pub fn body(self, content_type: &str, body: impl Into<reqwest::Body>) -> Self {
        let content_type = content_type.to_string();
        self.map(|b| b.header("content-type", content_type).body(body))
    }

    fn map(self, f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder) -> Self {
        Self {
            method: self.method,
            builder: f(self.builder),
        }
    }

    pub async fn send(self) -> Response {
        let (client, request) = self.builder.build_split();
        let request = request.expect("a well-formed request");
        let url = request.url();
        let target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        let what = format!("{} {target}", self.method);
        let resp = client
            .execute(request)
            .await
            .unwrap_or_else(|e| panic!("{what}: no response: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{what}: reading the body: {e}"))
            .to_vec();
        Response {
            what,
            status,
            headers,
            body,
        }
    }
}

impl IntoFuture for Request {
    type Output = Response;
    type IntoFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// A response read whole, remembering which request it answers for failure messages.
pub struct Response {
    what: String,
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Response {
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Panics, naming the request and showing the body, unless the status is `status`.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert!(
            self.status == status,
            "{}: expected {status}, got {}\nbody: {}",
            self.what,
            self.status,
            self.text()
        );
        self
    }

    /// Expects `status` with the error envelope carrying `code` (see [`assert_error_envelope`]).
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        let resp = self.expect(status);
        assert_error_envelope(&resp.json(), code);
        resp
    }

    /// The body as JSON; panics (naming the request) if it is not JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} ({}): body is not JSON ({e}): {}",
                self.what,
                self.status,
                self.text()
            )
        })
    }

    /// The envelope's `data`.
    #[track_caller]
    pub fn data(&self) -> Value {
        self.json()["data"].clone()
    }

    /// The envelope's `data` as a list.
    #[track_caller]
    pub fn items(&self) -> Vec<Value> {
        match self.data() {
            Value::Array(items) => items,
            other => panic!("{}: data is not a list: {other}", self.what),
        }
    }

    /// The `id` of the envelope's `data`: what a create or submit returns.
    #[track_caller]
    pub fn id(&self) -> String {
        match &self.data()["id"] {
            Value::String(id) => id.clone(),
            other => panic!("{}: data has no string id ({other})", self.what),
        }
    }

    /// The envelope's `meta` (page, pageSize, total, totalPages).
    #[track_caller]
    pub fn meta(&self) -> Value {
        self.json()["meta"].clone()
    }

    /// The error envelope's `error` object (code, message, details).
    #[track_caller]
    pub fn error(&self) -> Value {
        self.json()["error"].clone()
    }

    /// The error envelope's `error.code`, or "" when there is none.
    #[track_caller]
    pub fn error_code(&self) -> String {
        self.error()["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII header"))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.body
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Asserts the error envelope (DESIGN §4) with `code` and returns its `error` object.
#[track_caller]
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

/// A file for a multipart form; `mime` None leaves reqwest's default.
pub fn file_part(file_name: &str, mime: Option<&str>, bytes: Vec<u8>) -> Part {
    let part = Part::bytes(bytes).file_name(file_name.to_string());
    match mime {
        Some(mime) => part.mime_str(mime).expect("a valid MIME type"),
        None => part,
    }
}

/// A streamed body of `bytes` in `chunk`-sized pieces, sent without Content-Length (chunked),
/// so a server cannot check its size before reading it.
pub fn chunked(bytes: Vec<u8>, chunk: usize) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(chunk).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures::stream::iter(chunks))
}
