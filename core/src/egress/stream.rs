//! A stream URL after the policy's syntax rules ([`Target`]) and the two forms handed out:
//! [`StreamUrl`] (pre-checked, for the API to store) and [`CheckedStream`] (resolved and
//! rewritten to the checked address, for FFmpeg).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use url::Url;

use super::{StreamScheme, redact};

#[derive(Debug, Clone)]
pub(super) enum TargetHost {
    Ip(IpAddr),
    Name(String),
    Device(String),
}

/// A parsed URL that passed the syntax, scheme and option rules.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub(super) scheme: StreamScheme,
    /// `None` for devices.
    pub(super) url: Option<Url>,
    pub(super) host: TargetHost,
    pub(super) port: u16,
}

impl Target {
    pub(super) fn host_text(&self) -> String {
        match &self.host {
            TargetHost::Ip(ip) => ip.to_string(),
            TargetHost::Name(n) => n.clone(),
            TargetHost::Device(p) => p.clone(),
        }
    }

    pub(super) fn normalized(&self) -> String {
        match &self.url {
            Some(url) => {
                let mut url = url.clone();
                url.set_fragment(None);
                url.to_string()
            }
            None => self.host_text(),
        }
    }

    pub(super) fn stream_url(&self) -> StreamUrl {
        let normalized = self.normalized();
        StreamUrl {
            scheme: self.scheme,
            shown: redact(&normalized),
            normalized,
        }
    }

    /// The URL with `ip` in place of the host, and the options that keep the request what
    /// it would have been with the name.
    pub(super) fn checked(&self, ip: IpAddr, ca_file: Option<&std::path::Path>) -> CheckedStream {
        let url = self.url.as_ref().expect("network targets have a URL");
        let scheme = self.scheme;
        let mut out = format!("{scheme}://");
        if !url.username().is_empty() || url.password().is_some() {
            out.push_str(url.username());
            if let Some(password) = url.password() {
                out.push(':');
                out.push_str(password);
            }
            out.push('@');
        }
        let addr = SocketAddr::new(ip, self.port);
        out.push_str(&addr.to_string());
        out.push_str(url.path());
        if let Some(query) = url.query() {
            out.push('?');
            out.push_str(query);
        }

        let mut options: Vec<(&'static str, String)> = Vec::new();
        let name = match &self.host {
            TargetHost::Name(n) => Some(n.trim_end_matches('.').to_string()),
            _ => None,
        };
        if scheme.is_http()
            && let Some(host) = url.host_str()
        {
            // The Host header FFmpeg would have sent for the URL as written (it writes none
            // of its own when `headers` has one): the name, or the address without the
            // default port the rewritten URL now spells out.
            let host = host.trim_end_matches('.');
            let host = match url.port() {
                Some(p) => format!("{host}:{p}"),
                None => host.to_string(),
            };
            options.push(("headers", format!("Host: {host}\r\n")));
        }
        if scheme.tls_verified() {
            options.push(("tls_verify", "1".into()));
            if let Some(name) = &name {
                options.push(("verifyhost", name.clone()));
            }
            if let Some(ca) = ca_file {
                options.push(("ca_file", ca.display().to_string()));
            }
        }
        if scheme.is_rtmp()
            && let Some(name) = &name
        {
            // RTMP servers route by the tcUrl's host (virtual hosts); FFmpeg would build it
            // from the IP now in the URL. Setting the app too keeps both consistent whatever
            // FFmpeg version splits the path.
            let app = rtmp_app(url.path(), url.query());
            if !app.is_empty() {
                options.push(("rtmp_app", app.clone()));
            }
            options.push((
                "rtmp_tcurl",
                format!("{scheme}://{name}:{}/{app}", self.port),
            ));
        }
        CheckedStream {
            scheme,
            addr: Some(addr),
            url: out,
            options,
            shown: redact(&self.normalized()),
        }
    }
}

/// The RTMP application name FFmpeg 5.1 derives from a URL path (`rtmp_open` in
/// `libavformat/rtmpproto.c`): the first path segment, or the first two when the second is an
/// application instance (`/app/instance/stream`), `ondemand` for `/ondemand/…`, and what
/// precedes the query when the query holds an `slist=`.
pub(super) fn rtmp_app(path: &str, query: Option<&str>) -> String {
    const APP_MAX: usize = 127;
    let cap = |s: &str| s.chars().take(APP_MAX).collect::<String>();
    if query.is_some_and(|q| q.contains("slist=")) {
        return cap(path.trim_start_matches('/'));
    }
    if path.starts_with("/ondemand/") {
        return "ondemand".into();
    }
    let next = path.strip_prefix('/').unwrap_or(path);
    let Some(p) = next.find('/') else {
        return String::new();
    };
    let rest = &next[p + 1..];
    let colon = rest.find(':');
    match rest.find('/') {
        Some(f) if colon.is_none_or(|c| c >= f) => cap(&next[..p + 1 + f]),
        _ => cap(&next[..p]),
    }
}

/// A stream URL that passed [`EgressPolicy::precheck`]: normalised, not yet resolved.
#[derive(Clone, PartialEq, Eq)]
pub struct StreamUrl {
    scheme: StreamScheme,
    normalized: String,
    shown: String,
}

impl StreamUrl {
    pub fn scheme(&self) -> StreamScheme {
        self.scheme
    }

    /// The normalised URL, credentials included: what to store (encrypted) and hand to
    /// [`EgressPolicy::check`] later. Never log or return it.
    pub fn as_str(&self) -> &str {
        &self.normalized
    }

    /// The URL with credentials and tokens replaced by `***`, for logs and API responses.
    pub fn redacted(&self) -> &str {
        &self.shown
    }
}

impl fmt::Debug for StreamUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StreamUrl").field(&self.shown).finish()
    }
}

/// How to open a stream that passed [`EgressPolicy::check`]: hand [`ffmpeg_url`] and
/// [`ffmpeg_options`] to `vigil_video::Input::stream` unchanged.
///
/// The URL names the checked IP address (never the host name), so FFmpeg does no lookup of
/// its own; the options carry what the name was needed for.
///
/// [`ffmpeg_url`]: CheckedStream::ffmpeg_url
/// [`ffmpeg_options`]: CheckedStream::ffmpeg_options
#[derive(Clone, PartialEq, Eq)]
pub struct CheckedStream {
    pub(super) scheme: StreamScheme,
    pub(super) addr: Option<SocketAddr>,
    pub(super) url: String,
    pub(super) options: Vec<(&'static str, String)>,
    pub(super) shown: String,
}

impl CheckedStream {
    pub fn scheme(&self) -> StreamScheme {
        self.scheme
    }

    /// The checked address and port; `None` for a local device.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// The URL for FFmpeg: scheme, credentials, the checked IP literal, port, path and query
    /// (or `/dev/videoN`). Contains credentials: never log it, use
    /// [`redacted`](Self::redacted).
    pub fn ffmpeg_url(&self) -> &str {
        &self.url
    }

    /// FFmpeg options that keep the request correct without the host name: `headers`
    /// (`Host:`) for HTTP, `tls_verify`/`verifyhost`/`ca_file` for HTTPS and RTMPS,
    /// `rtmp_app`/`rtmp_tcurl` for RTMP. `vigil-video` adds its own whitelists on top.
    pub fn ffmpeg_options(&self) -> &[(&'static str, String)] {
        &self.options
    }

    /// The URL as the user wrote it (normalised), with secrets replaced by `***`.
    pub fn redacted(&self) -> &str {
        &self.shown
    }

    /// Whether FFmpeg will verify the server's certificate (false for plain protocols and
    /// `rtsps`).
    pub fn tls_verified(&self) -> bool {
        self.scheme.tls_verified()
    }
}

impl fmt::Debug for CheckedStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self.options.iter().map(|(k, _)| *k).collect();
        f.debug_struct("CheckedStream")
            .field("scheme", &self.scheme)
            .field("addr", &self.addr)
            .field("url", &self.shown)
            .field("options", &keys)
            .finish()
    }
}
