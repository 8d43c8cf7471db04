use std::time::Duration;

/// Everything that can go wrong while opening, decoding or encoding media.
///
/// The `Display` text is meant for end users (it ends up in a job's `error` field), so it
/// says what is wrong with the input rather than which ffmpeg call failed. Locations in
/// messages have any `user:password@` part removed, because camera URLs routinely carry
/// credentials.
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
            | VideoError::Image(_)
            | VideoError::Tool(_) => false,
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

/// Removes `user:password@` from URLs so error messages and logs never leak camera
/// credentials.
pub(crate) fn redact(location: &str) -> String {
    let Some(scheme_end) = location.find("://") else {
        return location.to_string();
    };
    let rest = &location[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}://***@{}", &location[..scheme_end], &rest[at + 1..]),
        None => location.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_credentials_only() {
        assert_eq!(
            redact("rtsp://admin:secret@10.0.0.5:554/stream1"),
            "rtsp://***@10.0.0.5:554/stream1"
        );
        assert_eq!(redact("http://host/a@b.mp4"), "http://host/a@b.mp4");
        assert_eq!(redact("/videos/a@b.mp4"), "/videos/a@b.mp4");
    }

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
}
