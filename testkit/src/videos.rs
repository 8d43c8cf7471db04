//! Videos through the API: uploading a file and waiting for the worker's probe, which every
//! feature analysing recorded footage starts from.

use std::path::Path;
use std::time::Duration;

use reqwest::multipart::Form;
use serde_json::Value;

use crate::Caller;
use crate::client::file_part;

/// Uploads the file at `path` as an MP4 titled `title`; expects 202 and returns the video.
pub async fn upload_video(caller: &Caller, path: &Path, title: &str) -> Value {
    let bytes = std::fs::read(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy();
    let form = Form::new()
        .text("title", title.to_string())
        .part("file", file_part(&name, Some("video/mp4"), bytes));
    caller.multipart("/videos", form).await.expect(202).data()
}

/// Polls the video until its probe has finished, `ready` or `failed` (2 minutes at most),
/// and returns it.
pub async fn wait_probed(caller: &Caller, id: &str) -> Value {
    caller
        .wait_for(
            format!("/videos/{id}"),
            Duration::from_secs(120),
            Duration::from_millis(200),
            |video| video["status"] == "ready" || video["status"] == "failed",
        )
        .await
}

/// Uploads the file and waits for its probe: the video as the probe left it.
pub async fn upload_probed(caller: &Caller, path: &Path, title: &str) -> Value {
    let video = upload_video(caller, path, title).await;
    wait_probed(caller, video["id"].as_str().unwrap()).await
}
