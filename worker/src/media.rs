//! How a job opens media, in one place: uploads through the storage whitelists, stream URLs
//! through the egress gate right before each (re)connect (so a name that now resolves to an
//! internal address is refused, and FFmpeg connects to the address that was checked). What
//! users read of a failure is the short, safe message; the detail (addresses, the transport's
//! own error) goes to the log only.

use std::time::Duration;

use vigil_core::egress;
use vigil_video::{Input, VideoError};

use crate::context::{JobContext, JobError};

/// How long the worker may read an object through its presigned URL.
pub const MEDIA_URL_TTL: Duration = Duration::from_secs(12 * 3600);

/// An uploaded object, as FFmpeg may open it (a file, or the storage's own URL).
pub async fn upload(job: &JobContext, key: &str) -> Result<Input, JobError> {
    let location = job.app.storage.media_location(key, MEDIA_URL_TTL).await?;
    Input::upload(&location).map_err(file_error)
}

/// A stream URL, checked against the egress policy now.
pub async fn stream(job: &JobContext, url: &str) -> Result<Input, JobError> {
    let checked = job.egress.check(url).await.map_err(|e| {
        tracing::warn!(
            job = %job.job.id,
            reason = e.code(),
            error = %e,
            url = %egress::redact(url),
            "stream refused by the egress policy"
        );
        if e.is_transient() {
            JobError::Retryable(e.user_message().into())
        } else {
            JobError::Permanent(e.user_message().into())
        }
    })?;
    Input::stream(checked.ffmpeg_url(), checked.ffmpeg_options()).map_err(stream_error)
}

/// A stream that failed: users read only "stream unavailable" (or another short reason);
/// what the network answered (refused, timed out, an internal host's reply) is logged only,
/// so the API cannot be used to scan ports.
pub fn stream_error(e: VideoError) -> JobError {
    tracing::warn!(error = %e, "stream could not be read");
    classify(&e, e.user_message().to_string())
}

/// An uploaded file that failed: its reason is about the file itself ("not a video: no video
/// stream", "truncated"), and worth showing whole. (Storage URLs appear without their signed
/// query.)
pub fn file_error(e: VideoError) -> JobError {
    classify(&e, e.to_string())
}

/// Bad footage fails for good; network trouble retries.
fn classify(e: &VideoError, message: String) -> JobError {
    if e.is_transient() {
        JobError::Retryable(message)
    } else {
        JobError::Permanent(message)
    }
}
