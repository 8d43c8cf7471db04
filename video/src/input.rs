//! What FFmpeg may open, and with which of its features: every open in this crate goes
//! through an [`Input`], which fixes FFmpeg's protocol and container whitelists for the kind
//! of source instead of letting FFmpeg follow whatever a file or a server asks for.
//!
//! Without whitelists FFmpeg is a general-purpose network client: an uploaded `.m3u8` is an
//! HLS playlist that fetches any URL it lists, an ffconcat file reads other local files, an
//! `http://` stream can redirect anywhere, and URL options such as `?listen=1` turn a client
//! into a server. The whitelists here allow exactly what each kind of source needs:
//!
//! | source | protocols | containers |
//! |---|---|---|
//! | uploaded file (local storage) | `file` | real video containers ([`UPLOAD_FORMATS`]) |
//! | uploaded file (presigned S3 URL) | `http,tcp` or `https,tls,tcp`, no redirects | the same |
//! | RTSP camera | `rtsp,tcp` (`rtsps,tls,tcp`), interleaved TCP | `rtsp` |
//! | HTTP(S) live stream | `http,tcp` (`https,tls,tcp`), no redirects, TLS verified | [`HTTP_STREAM_FORMATS`] |
//! | RTMP(S) stream | `rtmp,tcp` (`rtmps,tls,tcp`), TLS verified | `flv,live_flv` |
//! | V4L2 device | `file` (the demuxer opens the device itself) | `video4linux2`, forced |
//!
//! Stream URLs must come from `vigil_core::egress::EgressPolicy::check`, which resolves and
//! checks the address: [`Input::stream`] accepts only URLs that name an IP address, so FFmpeg
//! never resolves a name itself (no DNS rebinding between check and open).

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use url::{Host, Url};

use crate::error::VideoError;

/// Containers an upload may be in: formats that describe one video in one file. Left out on
/// purpose: playlists and manifests (`hls`, `dash`), lists of other files (`concat`,
/// ffconcat), image sequences (`image2`), synthetic sources (`lavfi`), session descriptions
/// (`sdp`, `rtp`), `tee`, `data` — each of which opens further files or URLs.
///
/// FFmpeg matches this against every name of a demuxer, so `mov` admits the
/// `mov,mp4,m4a,3gp,3g2,mj2` demuxer and `matroska` the `matroska,webm` one.
pub const UPLOAD_FORMATS: &str =
    "mov,matroska,avi,mpegts,flv,asf,mpeg,mpegvideo,h264,hevc,m4v,ivf,mxf,ogg";

/// Containers an HTTP(S) camera or live stream may send: MPEG-TS, multipart JPEG (`mpjpeg`,
/// what most IP cameras serve), raw MJPEG/H.264/HEVC, FLV, fragmented MP4, Matroska, ASF.
/// No HLS or DASH: their playlists name further URLs that no check has seen.
pub const HTTP_STREAM_FORMATS: &str = "mpegts,mpjpeg,mjpeg,flv,live_flv,matroska,mov,h264,hevc,asf";

const RTSP_FORMATS: &str = "rtsp";
const RTMP_FORMATS: &str = "flv,live_flv";
const DEVICE_FORMAT: &str = "video4linux2";

/// Query keys FFmpeg protocols act on as options (listening, local address); refused here
/// even though the egress policy refuses them first, so this crate is safe on its own.
const FORBIDDEN_QUERY_KEYS: &[&str] = &[
    "listen",
    "listen_timeout",
    "localaddr",
    "local_addr",
    "localport",
    "local_port",
];
/// RTSP's transport selectors in the URL query (`?udp`, `?multicast`, `?http`, `?tcp`).
const FORBIDDEN_RTSP_KEYS: &[&str] = &["udp", "multicast", "http", "tcp"];

/// A network protocol a stream may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamProtocol {
    Rtsp,
    Rtsps,
    Http,
    Https,
    Rtmp,
    Rtmps,
}

impl StreamProtocol {
    fn from_scheme(scheme: &str) -> Option<StreamProtocol> {
        Some(match scheme {
            "rtsp" => StreamProtocol::Rtsp,
            "rtsps" => StreamProtocol::Rtsps,
            "http" => StreamProtocol::Http,
            "https" => StreamProtocol::Https,
            "rtmp" => StreamProtocol::Rtmp,
            "rtmps" => StreamProtocol::Rtmps,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StreamProtocol::Rtsp => "rtsp",
            StreamProtocol::Rtsps => "rtsps",
            StreamProtocol::Http => "http",
            StreamProtocol::Https => "https",
            StreamProtocol::Rtmp => "rtmp",
            StreamProtocol::Rtmps => "rtmps",
        }
    }

    /// FFmpeg protocols this one needs underneath, and nothing else: an HTTP stream cannot
    /// switch to TLS or to a local file, an RTSP stream cannot fall back to UDP.
    fn protocol_whitelist(self) -> &'static str {
        match self {
            StreamProtocol::Rtsp => "rtsp,tcp",
            StreamProtocol::Rtsps => "rtsps,tls,tcp",
            StreamProtocol::Http => "http,tcp",
            StreamProtocol::Https => "https,tls,tcp",
            StreamProtocol::Rtmp => "rtmp,tcp",
            StreamProtocol::Rtmps => "rtmps,tls,tcp",
        }
    }

    fn format_whitelist(self) -> &'static str {
        match self {
            StreamProtocol::Rtsp | StreamProtocol::Rtsps => RTSP_FORMATS,
            StreamProtocol::Http | StreamProtocol::Https => HTTP_STREAM_FORMATS,
            StreamProtocol::Rtmp | StreamProtocol::Rtmps => RTMP_FORMATS,
        }
    }

    fn is_http(self) -> bool {
        matches!(self, StreamProtocol::Http | StreamProtocol::Https)
    }

    fn is_rtmp(self) -> bool {
        matches!(self, StreamProtocol::Rtmp | StreamProtocol::Rtmps)
    }

    /// Whether FFmpeg's TLS options reach the TLS layer for this protocol. FFmpeg 5.1's RTSP
    /// client opens its TLS connection without them, so `rtsps` cannot be verified.
    fn verifies_tls(self) -> bool {
        matches!(self, StreamProtocol::Https | StreamProtocol::Rtmps)
    }
}

/// The kind of source an [`Input`] opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// An uploaded file on the local storage backend.
    File,
    /// An uploaded file read through a presigned URL of the deployment's object storage.
    Storage,
    /// A camera or live stream URL checked by the egress policy.
    Stream(StreamProtocol),
    /// A local V4L2 capture device.
    Device,
}

#[derive(Debug, Clone)]
enum Source {
    File(PathBuf),
    Storage {
        url: String,
        tls: bool,
        ca_file: Option<PathBuf>,
    },
    Stream {
        url: String,
        protocol: StreamProtocol,
        options: Vec<(String, String)>,
    },
    Device(PathBuf),
    /// A location given as a bare string that is neither a path nor a storage URL; opening
    /// it fails with this reason. Lets the `From<&str>` compatibility conversions stay
    /// infallible.
    Refused(String),
}

/// Something to decode, with the FFmpeg policy that goes with its kind. Cheap to clone.
///
/// ```no_run
/// # use vigil_video::{Input, FrameSampler, SampleOptions, probe};
/// // An upload, wherever storage keeps it (a path, or a presigned URL):
/// let info = probe(Input::upload("/var/lib/vigil/storage/videos/1/original.mp4")?)?;
/// // A camera, from the egress policy's `CheckedStream` (URL with the checked IP literal,
/// // plus its options):
/// let options = [("headers", "Host: cam.lan\r\n")];
/// let camera = Input::stream("http://10.0.0.5:80/live.ts", &options)?;
/// let sampler = FrameSampler::open(camera, SampleOptions::live())?;
/// # Ok::<(), vigil_video::VideoError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Input {
    source: Source,
    /// The location without anything secret, for messages and logs.
    shown: String,
}

impl Input {
    /// An uploaded file on local disk.
    pub fn file(path: impl Into<PathBuf>) -> Input {
        let path = path.into();
        Input {
            shown: path.display().to_string(),
            source: Source::File(path),
        }
    }

    /// An uploaded file read through an `http(s)://` URL of the deployment's own object
    /// storage (a presigned URL). Not for user-supplied URLs: no address check happens here.
    pub fn storage_url(url: &str) -> Result<Input, VideoError> {
        let parsed = Url::parse(url)
            .map_err(|_| VideoError::Refused("the storage location is not a URL".into()))?;
        let tls = match parsed.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(VideoError::Refused(format!(
                    "storage is read over http or https, not {other}"
                )));
            }
        };
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| VideoError::Refused("the storage URL has no host".into()))?;
        // Path only: the query of a presigned URL is its signature.
        let shown = match parsed.port() {
            Some(port) => format!("{}://{host}:{port}{}", parsed.scheme(), parsed.path()),
            None => format!("{}://{host}{}", parsed.scheme(), parsed.path()),
        };
        Ok(Input {
            source: Source::Storage {
                url: url.to_string(),
                tls,
                ca_file: None,
            },
            shown,
        })
    }

    /// An upload as `Storage::media_location` returns it: a local path (optionally
    /// `file:`-prefixed) or a presigned `http(s)://` URL. Anything else is refused.
    pub fn upload(location: &str) -> Result<Input, VideoError> {
        if let Some(path) = location
            .strip_prefix("file://")
            .or_else(|| location.strip_prefix("file:"))
        {
            return Ok(Input::file(path));
        }
        match location.split_once("://") {
            Some((scheme, _))
                if matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") =>
            {
                Input::storage_url(location)
            }
            Some((scheme, _)) => Err(VideoError::Refused(format!(
                "uploads are read from a file or from object storage, not over {scheme}"
            ))),
            None => Ok(Input::file(location)),
        }
    }

    /// A camera or live stream that passed `vigil_core::egress::EgressPolicy::check`: pass
    /// `checked.ffmpeg_url()` and `checked.ffmpeg_options()` unchanged.
    ///
    /// Refused here as well (so this crate stays safe whoever calls it): schemes other than
    /// rtsp, rtsps, http, https, rtmp and rtmps; host names instead of IP addresses; query
    /// options FFmpeg acts on (`listen`, RTSP's `udp`); options other than those the egress
    /// policy sets (`headers` with a `Host` line, `verifyhost`, `ca_file`, `rtmp_app`,
    /// `rtmp_tcurl`). `/dev/videoN` opens a V4L2 device.
    pub fn stream<K: AsRef<str>, V: AsRef<str>>(
        url: &str,
        options: &[(K, V)],
    ) -> Result<Input, VideoError> {
        if url.starts_with("/dev/") {
            if !options.is_empty() {
                return Err(VideoError::Refused("devices take no options".into()));
            }
            return Input::device(url);
        }
        let refused = |m: String| Err(VideoError::Refused(m));
        let parsed = Url::parse(url)
            .map_err(|_| VideoError::Refused("the stream location is not a URL".into()))?;
        let Some(protocol) = StreamProtocol::from_scheme(parsed.scheme()) else {
            return refused(format!("{} streams are not supported", parsed.scheme()));
        };
        let ip = match parsed.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            // Non-special schemes (rtsp, rtmp) keep the host as text; it must still be an
            // address written the one strict way.
            Some(Host::Domain(d)) => match d.parse::<IpAddr>() {
                Ok(ip) => ip,
                Err(_) => {
                    return refused(
                        "a stream URL must name the IP address the egress policy checked, \
                         not a host name"
                            .into(),
                    );
                }
            },
            None => return refused("the stream URL has no host".into()),
        };
        for (key, _) in parsed.query_pairs() {
            let key = key.to_ascii_lowercase();
            if FORBIDDEN_QUERY_KEYS.contains(&key.as_str())
                || (!protocol.is_http()
                    && !protocol.is_rtmp()
                    && FORBIDDEN_RTSP_KEYS.contains(&key.as_str()))
            {
                return refused(format!("the URL option {key:?} is not allowed"));
            }
        }
        let mut checked = Vec::with_capacity(options.len());
        for (key, value) in options {
            let (key, value) = (key.as_ref(), value.as_ref());
            allowed_option(protocol, key, value).map_err(VideoError::Refused)?;
            checked.push((key.to_string(), value.to_string()));
        }
        let port = parsed.port_or_known_default();
        let shown = match (ip, port) {
            (IpAddr::V6(v6), Some(p)) => format!("{}://[{v6}]:{p}", protocol.as_str()),
            (ip, Some(p)) => format!("{}://{ip}:{p}", protocol.as_str()),
            (ip, None) => format!("{}://{ip}", protocol.as_str()),
        };
        Ok(Input {
            source: Source::Stream {
                url: url.to_string(),
                protocol,
                options: checked,
            },
            shown,
        })
    }

    /// A local V4L2 capture device, `/dev/videoN`.
    pub fn device(path: impl AsRef<Path>) -> Result<Input, VideoError> {
        let path = path.as_ref();
        let ok = path
            .to_str()
            .and_then(|p| p.strip_prefix("/dev/video"))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            return Err(VideoError::Refused("devices must be /dev/videoN".into()));
        }
        Ok(Input {
            shown: path.display().to_string(),
            source: Source::Device(path.to_path_buf()),
        })
    }

    /// For an `https://` storage URL: verify the server against this PEM bundle instead of
    /// the system store (a private CA in front of MinIO, say). No effect on other inputs.
    pub fn with_ca_file(mut self, ca_file: impl Into<PathBuf>) -> Input {
        if let Source::Storage { ca_file: ca, .. } = &mut self.source {
            *ca = Some(ca_file.into());
        }
        self
    }

    pub fn kind(&self) -> Option<InputKind> {
        Some(match &self.source {
            Source::File(_) => InputKind::File,
            Source::Storage { .. } => InputKind::Storage,
            Source::Stream { protocol, .. } => InputKind::Stream(*protocol),
            Source::Device(_) => InputKind::Device,
            Source::Refused(_) => return None,
        })
    }

    /// The location with nothing secret in it: a path, `scheme://host/path` of a storage
    /// URL (no signature), `scheme://address:port` of a stream (no credentials, path or
    /// query — RTMP paths hold stream keys).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// A local file, to check for emptiness before FFmpeg calls it "invalid data".
    pub(crate) fn local_path(&self) -> Option<&Path> {
        match &self.source {
            Source::File(p) => Some(p),
            _ => None,
        }
    }

    /// The URL, options and whitelists to hand to FFmpeg.
    pub(crate) fn ffmpeg(&self) -> Result<FfmpegInput, VideoError> {
        let mut setup = FfmpegInput {
            container_whitelist: true,
            ..FfmpegInput::default()
        };
        match &self.source {
            Source::Refused(reason) => return Err(VideoError::Refused(reason.clone())),
            Source::File(path) => {
                setup.set("protocol_whitelist", "file");
                setup.set("format_whitelist", UPLOAD_FORMATS);
                // `file:` always: a path such as `concat:a|b` or `clips/12:30.mp4` would
                // otherwise be read as a protocol name.
                setup.url = format!("file:{}", path.display());
            }
            Source::Storage { url, tls, ca_file } => {
                setup.set(
                    "protocol_whitelist",
                    if *tls { "https,tls,tcp" } else { "http,tcp" },
                );
                setup.set("format_whitelist", UPLOAD_FORMATS);
                setup.set_critical("max_redirects", "0");
                if *tls {
                    setup.set_critical("tls_verify", "1");
                    if let Some(ca) = ca_file {
                        setup.set("ca_file", &ca.display().to_string());
                    }
                }
                setup.url = url.clone();
            }
            Source::Stream {
                url,
                protocol,
                options,
            } => {
                setup.set("protocol_whitelist", protocol.protocol_whitelist());
                setup.set("format_whitelist", protocol.format_whitelist());
                if protocol.is_http() {
                    // A redirect would send FFmpeg to an address no check has seen.
                    setup.set_critical("max_redirects", "0");
                }
                if matches!(protocol, StreamProtocol::Rtsp | StreamProtocol::Rtsps) {
                    // Interleaved TCP: UDP transport would accept packets from anyone, and it
                    // loses packets behind NAT, which shows up as smeared frames.
                    setup.set("rtsp_transport", "tcp");
                    // RTSP follows 3xx redirects with no option to stop it; the open is
                    // aborted as soon as FFmpeg changes the URL (see `source.rs`).
                    setup.guard_redirects = true;
                }
                if protocol.verifies_tls() {
                    setup.set_critical("tls_verify", "1");
                }
                for (k, v) in options {
                    setup.set(k, v);
                }
                setup.url = url.clone();
            }
            Source::Device(path) => {
                setup.set("protocol_whitelist", "file");
                setup.set("format_whitelist", DEVICE_FORMAT);
                setup.forced_format = Some(DEVICE_FORMAT);
                setup.container_whitelist = false;
                setup.url = path.display().to_string();
            }
        }
        Ok(setup)
    }
}

/// An option the egress policy sets, with a value that cannot smuggle anything else in.
fn allowed_option(protocol: StreamProtocol, key: &str, value: &str) -> Result<(), String> {
    let plain = |v: &str| {
        !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_graphic() && b != b'\\' && b != b'"' && b != b'\'')
    };
    let ok = match key {
        // Exactly one `Host:` line: other headers (or a second line) could carry anything.
        "headers" if protocol.is_http() => value
            .strip_prefix("Host: ")
            .and_then(|v| v.strip_suffix("\r\n"))
            .is_some_and(|host| {
                plain(host)
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))
            }),
        "verifyhost" if protocol.verifies_tls() => {
            plain(value)
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        }
        "ca_file" if protocol.verifies_tls() => plain(value),
        "tls_verify" if protocol.verifies_tls() => value == "1",
        "rtmp_app" | "rtmp_tcurl" if protocol.is_rtmp() => plain(value),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the option {key:?} (with this value) is not allowed for {} streams",
            protocol.as_str()
        ))
    }
}

/// What `Source::open` hands to FFmpeg.
#[derive(Debug, Default)]
pub(crate) struct FfmpegInput {
    pub url: String,
    pub options: Vec<(String, String)>,
    /// Options FFmpeg must consume; one left over means this FFmpeg build cannot enforce it,
    /// and the input is refused rather than opened without it.
    pub critical: Vec<&'static str>,
    /// A demuxer to use without probing (devices cannot be probed).
    pub forced_format: Option<&'static str>,
    /// Abort the open when FFmpeg changes the URL (an RTSP redirect).
    pub guard_redirects: bool,
    /// A format whitelist is set: FFmpeg reports a container outside it as `EINVAL`.
    pub container_whitelist: bool,
}

impl FfmpegInput {
    fn set(&mut self, key: &str, value: &str) {
        self.options.push((key.to_string(), value.to_string()));
    }

    /// Sets an option whose absence would leave the input unsafe (see `critical`).
    fn set_critical(&mut self, key: &'static str, value: &str) {
        self.set(key, value);
        self.critical.push(key);
    }
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

// Compatibility with callers that pass a location string (the worker before it adopts
// `Input`): such a string is read as an upload (`Input::upload`), never as a stream, so it
// gets the strict upload whitelists. Remove once every caller builds an `Input`.
impl From<&str> for Input {
    fn from(location: &str) -> Input {
        Input::upload(location).unwrap_or_else(|e| Input {
            shown: location
                .split_once("://")
                .map_or(location, |(scheme, _)| scheme)
                .to_string(),
            source: Source::Refused(match e {
                VideoError::Refused(reason) => reason,
                other => other.to_string(),
            }),
        })
    }
}

impl From<&String> for Input {
    fn from(location: &String) -> Input {
        Input::from(location.as_str())
    }
}

impl From<String> for Input {
    fn from(location: String) -> Input {
        Input::from(location.as_str())
    }
}

impl From<&Path> for Input {
    fn from(path: &Path) -> Input {
        Input::file(path)
    }
}

impl From<PathBuf> for Input {
    fn from(path: PathBuf) -> Input {
        Input::file(path)
    }
}

impl From<&PathBuf> for Input {
    fn from(path: &PathBuf) -> Input {
        Input::file(path)
    }
}

impl From<&Input> for Input {
    fn from(input: &Input) -> Input {
        input.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(r: Result<Input, VideoError>) -> String {
        match r {
            Err(VideoError::Refused(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    const NONE: &[(&str, &str)] = &[];

    #[test]
    fn uploads_are_files_or_storage_urls() {
        assert_eq!(
            Input::upload("/data/v.mp4").unwrap().kind(),
            Some(InputKind::File)
        );
        assert_eq!(
            Input::upload("file:/data/v.mp4").unwrap().shown(),
            "/data/v.mp4"
        );
        let s3 = Input::upload("https://minio:9000/vigil/v.mp4?X-Amz-Signature=abc").unwrap();
        assert_eq!(s3.kind(), Some(InputKind::Storage));
        assert_eq!(s3.shown(), "https://minio:9000/vigil/v.mp4");
        refused(Input::upload("rtsp://10.0.0.5/live"));
        refused(Input::upload("ftp://host/v.mp4"));
        // A string that FFmpeg would read as a protocol stays a file name.
        let concat = Input::upload("concat:/a.mp4|/b.mp4").unwrap();
        assert_eq!(concat.ffmpeg().unwrap().url, "file:concat:/a.mp4|/b.mp4");
    }

    #[test]
    fn streams_must_name_an_address() {
        let ok = Input::stream("rtsp://admin:pw@10.0.0.5:554/live?channel=1", NONE).unwrap();
        assert_eq!(ok.kind(), Some(InputKind::Stream(StreamProtocol::Rtsp)));
        assert_eq!(ok.shown(), "rtsp://10.0.0.5:554");
        let v6 = Input::stream("http://[fd00::5]:8080/live.ts", NONE).unwrap();
        assert_eq!(v6.shown(), "http://[fd00::5]:8080");
        assert!(refused(Input::stream("rtsp://cam.lan/live", NONE)).contains("IP address"));
        assert!(refused(Input::stream("http://localhost:80/", NONE)).contains("IP address"));
        refused(Input::stream("rtsp://2130706433/live", NONE));
        refused(Input::stream("tcp://10.0.0.5:9999", NONE));
        refused(Input::stream("udp://10.0.0.5:9999", NONE));
        refused(Input::stream("file:///etc/passwd", NONE));
        refused(Input::stream("http://10.0.0.5/?listen=1", NONE));
        refused(Input::stream("rtsp://10.0.0.5/live?udp", NONE));
        refused(Input::stream("/dev/sda", NONE));
    }

    #[test]
    fn only_the_egress_options_pass() {
        let host = [("headers", "Host: cam.lan:8080\r\n")];
        assert!(Input::stream("http://10.0.0.5:8080/x", &host).is_ok());
        for (url, key, value) in [
            ("http://10.0.0.5/x", "headers", "Host: a\r\nX-Evil: 1\r\n"),
            ("http://10.0.0.5/x", "headers", "Cookie: a\r\n"),
            ("http://10.0.0.5/x", "listen", "1"),
            ("http://10.0.0.5/x", "max_redirects", "5"),
            ("http://10.0.0.5/x", "protocol_whitelist", "file,http"),
            ("https://10.0.0.5/x", "tls_verify", "0"),
            ("http://10.0.0.5/x", "verifyhost", "cam.lan"),
            ("rtsp://10.0.0.5/x", "rtsp_transport", "udp"),
            ("rtsp://10.0.0.5/x", "headers", "Host: a\r\n"),
            ("rtmp://10.0.0.5/app/key", "rtmp_listen", "1"),
        ] {
            let message = refused(Input::stream(url, &[(key, value)]));
            assert!(message.contains(key), "{message}");
        }
    }

    #[test]
    fn whitelists_follow_the_kind() {
        let get = |input: &Input, key: &str| {
            input
                .ffmpeg()
                .unwrap()
                .options
                .into_iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
        };
        let file = Input::file("/data/v.mp4");
        assert_eq!(get(&file, "protocol_whitelist").as_deref(), Some("file"));
        assert_eq!(
            get(&file, "format_whitelist").as_deref(),
            Some(UPLOAD_FORMATS)
        );
        for banned in [
            "hls", "concat", "image2", "lavfi", "dash", "sdp", "tee", "data",
        ] {
            assert!(!UPLOAD_FORMATS.split(',').any(|f| f == banned), "{banned}");
            assert!(
                !HTTP_STREAM_FORMATS.split(',').any(|f| f == banned),
                "{banned}"
            );
        }
        let rtsp = Input::stream("rtsp://10.0.0.5/live", NONE).unwrap();
        assert_eq!(
            get(&rtsp, "protocol_whitelist").as_deref(),
            Some("rtsp,tcp")
        );
        assert_eq!(get(&rtsp, "rtsp_transport").as_deref(), Some("tcp"));
        let https = Input::stream("https://10.0.0.5/live.ts", NONE).unwrap();
        assert_eq!(get(&https, "tls_verify").as_deref(), Some("1"));
        assert_eq!(get(&https, "max_redirects").as_deref(), Some("0"));
        assert_eq!(
            get(&https, "protocol_whitelist").as_deref(),
            Some("https,tls,tcp")
        );
        let storage = Input::upload("http://minio:9000/v.mp4").unwrap();
        assert_eq!(
            get(&storage, "protocol_whitelist").as_deref(),
            Some("http,tcp")
        );
        assert_eq!(get(&storage, "max_redirects").as_deref(), Some("0"));
    }

    #[test]
    fn strings_convert_to_uploads() {
        assert_eq!(Input::from("/data/v.mp4").kind(), Some(InputKind::File));
        let live = Input::from("rtsp://admin:pw@10.0.0.5/live");
        assert_eq!(live.kind(), None);
        assert!(!live.shown().contains("pw"));
        assert!(matches!(live.ffmpeg(), Err(VideoError::Refused(_))));
    }
}
