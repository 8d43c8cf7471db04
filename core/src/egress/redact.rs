//! Removing secrets from stream and storage locations before they reach a log line, an error
//! message or an API response.
//!
//! Camera URLs routinely carry credentials, and not only as `user:pass@`: tokens in the query
//! (`?token=`, `?key=`, presigned S3 signatures) and RTMP stream keys in the path are just as
//! secret. This works on raw text rather than on a parsed URL because the strings worth
//! redacting are often the malformed ones that a URL parser rejects.
//!
//! It lives in `vigil-core` because the API and the worker both need it and already depend
//! on core. `vigil-video` (which must not depend on core) never needs it: its messages only
//! show a stream's `scheme://address:port` and a storage URL without its query, so there is
//! nothing to redact there.

/// Query keys whose values are secret when the key contains any of these (lower-cased):
/// `token`, `access_token`, `api_key`, `X-Amz-Signature`, `password`, `sig`, ...
const SECRET_KEY_PARTS: &[&str] = &[
    "token", "key", "pass", "pwd", "secret", "sig", "auth", "cred", "session", "sid",
];

const HIDDEN: &str = "***";

/// Returns `location` with credentials, secret query values and RTMP stream keys replaced by
/// `***`. Anything that is not a `scheme://` URL (a file path) is returned unchanged.
///
/// ```
/// use vigil_core::egress::redact;
/// assert_eq!(redact("rtsp://admin:pw@10.0.0.5/live?token=abc&ch=1"),
///            "rtsp://***@10.0.0.5/live?token=***&ch=1");
/// assert_eq!(redact("rtmp://live.example/app/stream-key"), "rtmp://live.example/app/***");
/// ```
pub fn redact(location: &str) -> String {
    let Some(scheme_end) = location.find("://") else {
        return location.to_string();
    };
    let scheme = &location[..scheme_end];
    let rest = &location[scheme_end + 3..];

    // Split off the fragment and the query first: neither may hold the userinfo.
    let (rest, fragment) = match rest.find('#') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (before_query, query) = match rest.find('?') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (authority, path) = split_authority(before_query);

    let mut out = String::with_capacity(location.len());
    out.push_str(scheme);
    out.push_str("://");
    out.push_str(&authority);
    if is_rtmp(scheme) {
        out.push_str(&redact_rtmp_path(path));
    } else {
        out.push_str(path);
    }
    if let Some(query) = query {
        out.push('?');
        out.push_str(&redact_query(query));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// Splits `host-and-path` into the authority to show (userinfo replaced by `***@`) and the
/// path.
///
/// The authority normally ends at the first `/`; but a password containing a `/` (which
/// should have been percent-encoded, and which FFmpeg and URL parsers split differently)
/// would then leak, so an `@` further on still ends the userinfo when what precedes the first
/// `/` looks like `user:pass` rather than `host:port`.
fn split_authority(s: &str) -> (String, &str) {
    let slash = s.find('/').unwrap_or(s.len());
    let (authority, path) = s.split_at(slash);
    if let Some(at) = authority.rfind('@') {
        return (format!("{HIDDEN}@{}", &authority[at + 1..]), path);
    }
    let looks_like_userinfo = authority
        .split_once(':')
        .is_some_and(|(_, after)| !after.bytes().all(|b| b.is_ascii_digit()));
    if looks_like_userinfo && let Some(at) = s.rfind('@') {
        let rest = &s[at + 1..];
        let slash = rest.find('/').unwrap_or(rest.len());
        return (format!("{HIDDEN}@{}", &rest[..slash]), &rest[slash..]);
    }
    (authority.to_string(), path)
}

fn is_rtmp(scheme: &str) -> bool {
    matches!(
        scheme.to_ascii_lowercase().as_str(),
        "rtmp" | "rtmps" | "rtmpt" | "rtmpts" | "rtmpe" | "rtmpte"
    )
}

/// RTMP's path is `/app/stream-key` (or `/stream-key` alone): the key publishes or plays the
/// stream, so everything after the application name is hidden.
fn redact_rtmp_path(path: &str) -> String {
    let trimmed = path.trim_start_matches('/');
    if trimmed.is_empty() {
        return path.to_string();
    }
    match trimmed.split_once('/') {
        Some((app, rest)) if !rest.is_empty() => format!("/{app}/{HIDDEN}"),
        Some((app, _)) => format!("/{app}/"),
        None => format!("/{HIDDEN}"),
    }
}

fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_secret_key(key) => format!("{key}={HIDDEN}"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEY_PARTS.iter().any(|part| key.contains(part))
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn credentials_are_hidden() {
        assert_eq!(
            redact("rtsp://admin:secret@10.0.0.5:554/stream1"),
            "rtsp://***@10.0.0.5:554/stream1"
        );
        assert_eq!(redact("http://user@cam.lan/x"), "http://***@cam.lan/x");
        // A raw `/` in the password must not end the userinfo early.
        assert_eq!(
            redact("rtsp://admin:pa/ss@cam.lan/live"),
            "rtsp://***@cam.lan/live"
        );
        assert!(!redact("rtsp://a:b@c@cam.lan/").contains('b'));
    }

    #[test]
    fn paths_and_harmless_urls_are_unchanged() {
        assert_eq!(redact("http://host/a@b.mp4"), "http://host/a@b.mp4");
        assert_eq!(
            redact("http://host:8080/a@b.mp4"),
            "http://host:8080/a@b.mp4"
        );
        assert_eq!(redact("/videos/a@b.mp4"), "/videos/a@b.mp4");
        assert_eq!(
            redact("rtsp://10.0.0.5/live?channel=1&subtype=0"),
            "rtsp://10.0.0.5/live?channel=1&subtype=0"
        );
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn secret_query_values_are_hidden() {
        assert_eq!(
            redact("https://cam.example/live.ts?token=abc&ch=2&password=x&key=k&api_key=z"),
            "https://cam.example/live.ts?token=***&ch=2&password=***&key=***&api_key=***"
        );
        let presigned = redact(
            "http://minio:9000/vigil/videos/1/a.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIA%2F20261130&X-Amz-Signature=deadbeef&X-Amz-Security-Token=t",
        );
        assert!(!presigned.contains("AKIA"), "{presigned}");
        assert!(!presigned.contains("deadbeef"), "{presigned}");
        assert!(
            presigned.contains("X-Amz-Algorithm=AWS4-HMAC-SHA256"),
            "{presigned}"
        );
        assert_eq!(
            redact("http://h/x?flag&sig=1#frag"),
            "http://h/x?flag&sig=***#frag"
        );
    }

    #[test]
    fn rtmp_stream_keys_are_hidden() {
        assert_eq!(
            redact("rtmp://live.example/app/sk_live_123"),
            "rtmp://live.example/app/***"
        );
        assert_eq!(
            redact("rtmps://u:p@live.example:443/live/a/b"),
            "rtmps://***@live.example:443/live/***"
        );
        assert_eq!(
            redact("rtmp://live.example/sk_live_123"),
            "rtmp://live.example/***"
        );
        assert_eq!(
            redact("rtmp://live.example/app/"),
            "rtmp://live.example/app/"
        );
        assert_eq!(redact("rtmp://live.example"), "rtmp://live.example");
    }
}
