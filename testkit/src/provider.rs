//! A detection provider double: an HTTP service on loopback that behaves like a third-party
//! provider under the contract of docs/attendance.md ("External provider") — the bearer key
//! checked (401), a JPEG body required (415), a body that is not a decodable picture refused
//! (400) — and answers with the faces a test tells it to report. It keeps the frames it was
//! sent, so a test can check what Vigil sent.

use std::sync::{Arc, Mutex};

use poem::http::StatusCode;
use poem::listener::TcpAcceptor;
use poem::web::{Data, Json};
use poem::{EndpointExt, IntoResponse, Request, Response, Route, Server, handler, post};
use serde_json::{Value, json};

#[derive(Default)]
struct State {
    key: String,
    faces: Mutex<Value>,
    /// (camera header, frame width, frame height) of each frame received.
    frames: Mutex<Vec<(Option<String>, u32, u32)>>,
}

pub struct ProviderDouble {
    /// The endpoint to configure: `http://127.0.0.1:{port}/detect`.
    pub url: String,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl ProviderDouble {
    /// Starts a provider that accepts `key` and reports no face until told otherwise.
    pub async fn start(key: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            key: key.to_string(),
            faces: Mutex::new(json!([])),
            ..State::default()
        });
        let app = Route::new().at("/detect", post(detect)).data(state.clone());
        let acceptor = TcpAcceptor::from_tokio(listener).unwrap();
        let task = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(app).await;
        });
        Self {
            url: format!("http://{addr}/detect"),
            state,
            task,
        }
    }

    /// The faces the next answers report (the contract's `faces` array).
    pub fn answer(&self, faces: Value) {
        *self.state.faces.lock().unwrap() = faces;
    }

    /// (camera header, width, height) of every frame received so far.
    pub fn frames(&self) -> Vec<(Option<String>, u32, u32)> {
        self.state.frames.lock().unwrap().clone()
    }
}

impl Drop for ProviderDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(json!({ "error": message }).to_string())
}

#[handler]
async fn detect(req: &Request, body: Vec<u8>, state: Data<&Arc<State>>) -> Response {
    let bearer = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(state.key.as_str()) {
        return refuse(StatusCode::UNAUTHORIZED, "invalid API key");
    }
    if req.content_type() != Some("image/jpeg") {
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send image/jpeg");
    }
    let Ok(picture) = image::load_from_memory_with_format(&body, image::ImageFormat::Jpeg) else {
        return refuse(StatusCode::BAD_REQUEST, "not a JPEG picture");
    };
    let camera = req
        .headers()
        .get("x-vigil-camera")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    state
        .frames
        .lock()
        .unwrap()
        .push((camera, picture.width(), picture.height()));
    let faces = state.faces.lock().unwrap().clone();
    Json(json!({ "faces": faces })).into_response()
}
