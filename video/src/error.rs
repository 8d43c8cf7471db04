//! The one error type of the crate, with a detailed text for logs and a short one for users.

use std::time::Duration;

/// Everything that can go wrong while opening, decoding or encoding media.
///
/// `Display` is the detailed text for logs: it says what went wrong and where, including the
/// transport's answer ("connection refused"). Show users [`VideoError::user_message`]
/// instead: a stream URL is user input, and telling its author whether a port answered turns
/// Vigil into a port scanner. Locations in messages never hold secrets: they are
/// [`Input::shown`](crate::Input::shown) (a path, a storage URL without its signature, or a
/// stream's `scheme://address:port`).
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// The location could not be reached or read at all (missing file, refused connection,
    /// HTTP error, unknown protocol).
    #[error("cannot open {location}: {reason}")]
    Open { location: String, reason: String },
    /// The input was read but is not a video (unknown format, no video stream, empty file).
    #[error("not a video: {0}")]
    NotVideo(String),
    /// The input claims to be a video but its frames cannot be decoded.
    #[error("cannot decode: {0}")]
    Decode(String),
    /// Opening or reading made no progress within the configured time.
    #[error("timed out: {what} took longer than {}", fmt_duration(*.after))]
    Timeout { what: String, after: Duration },
    /// A live stream closed its connection or reached its end.
    #[error("live stream ended: {0}")]
    StreamEnded(String),
    /// Reading stopped because [`CancelHandle::cancel`](crate::CancelHandle::cancel) was called.
    #[error("cancelled")]
    Cancelled,
    /// The caller passed options that cannot work together.
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// The input policy refused the input (a scheme, host or option it may not use), or
    /// FFmpeg tried to leave it (a redirect).
    #[error("input refused: {0}")]
    Refused(String),
    /// The container is outside the whitelist for the input's kind: an HLS playlist, a
    /// concat list, an image sequence... (FFmpeg does not say which.)
    #[error("not a supported video container")]
    UnsupportedContainer,
    /// The picture is larger than [`SampleOptions::max_pixels`](crate::SampleOptions).
    #[error("picture too large: {width}x{height} is more than {max_pixels} pixels")]
    TooLarge {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
    /// JPEG encoding of a thumbnail failed.
    #[error("cannot encode image: {0}")]
    Image(#[from] image::ImageError),
    /// The `ffmpeg` command-line tool (used only by [`synth`](crate::synth)) failed.
    #[error("ffmpeg tool: {0}")]
    Tool(String),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl VideoError {
    /// Whether retrying the same input later can succeed. Network trouble and timeouts are
    /// transient; a file that is not a video stays that way, so a job should fail at once
    /// instead of burning its retries.
    pub fn is_transient(&self) -> bool {
        match self {
            VideoError::Open { .. }
            | VideoError::Timeout { .. }
            | VideoError::StreamEnded(_)
            | VideoError::Io(_) => true,
            VideoError::NotVideo(_)
            | VideoError::Decode(_)
            | VideoError::Cancelled
            | VideoError::InvalidOptions(_)
            | VideoError::Refused(_)
            | VideoError::UnsupportedContainer
            | VideoError::TooLarge { .. }
            | VideoError::Image(_)
            | VideoError::Tool(_) => false,
        }
    }

    /// A short message for any user: what is wrong with their input, without the transport's
    /// detail. Every way of not getting a stream (refused connection, timeout, a refused
    /// address or redirect, a dropped connection) reads "stream unavailable".
    pub fn user_message(&self) -> &'static str {
        match self {
            VideoError::Open { .. }
            | VideoError::Timeout { .. }
            | VideoError::StreamEnded(_)
            | VideoError::Refused(_)
            | VideoError::Io(_) => "stream unavailable",
            VideoError::NotVideo(_) => "not a video",
            VideoError::UnsupportedContainer => "not a supported video container",
            VideoError::Decode(_) => "the video cannot be decoded",
            VideoError::TooLarge { .. } => "the video's picture is too large",
            VideoError::Cancelled => "cancelled",
            VideoError::InvalidOptions(_) => "invalid options",
            VideoError::Image(_) | VideoError::Tool(_) => "internal error",
        }
    }
}

fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 1.0 && secs.fract() == 0.0 {
        format!("{secs:.0} s")
    } else {
        format!("{secs:.1} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_message_is_readable() {
        let e = VideoError::Timeout {
            what: "reading the stream".into(),
            after: Duration::from_secs(5),
        };
        assert_eq!(
            e.to_string(),
            "timed out: reading the stream took longer than 5 s"
        );
    }

    #[test]
    fn users_get_no_transport_detail() {
        let refused = VideoError::Open {
            location: "rtsp://10.0.0.5:554".into(),
            reason: "connection refused".into(),
        };
        assert_eq!(refused.user_message(), "stream unavailable");
        assert!(refused.to_string().contains("connection refused"));
        let timeout = VideoError::Timeout {
            what: "opening rtsp://10.0.0.5:554".into(),
            after: Duration::from_secs(5),
        };
        assert_eq!(timeout.user_message(), refused.user_message());
        assert_eq!(
            VideoError::UnsupportedContainer.user_message(),
            "not a supported video container"
        );
    }
}
