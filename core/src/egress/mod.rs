//! The egress policy: whether a worker may open a stream URL, and how to open it so that what
//! FFmpeg connects to is exactly what was checked.
//!
//! Users register camera and live-stream URLs; workers open them with FFmpeg from inside the
//! deployment's network, next to its database, Redis, object storage and the cloud's metadata
//! service. Without a gate, a stream URL is a request-forgery and port-scanning tool
//! (`http://169.254.169.254/…`, `http://127.0.0.1:6379/`, `tcp://0.0.0.0:9999?listen=1`).
//!
//! The rules (docs/security.md, "Egress policy"):
//!
//! * Schemes: `VIGIL_STREAM_SCHEMES` (default `rtsp,http,https,rtmp,rtmps`); `rtsps` only when
//!   listed, because FFmpeg 5.1's RTSP client cannot verify certificates. Never `file`,
//!   `concat`, `tcp`, `udp`, `srt` or any other FFmpeg protocol: raw `tcp`/`udp`/`srt` URLs
//!   turn their query string into FFmpeg options (`?listen=1`, `?localaddr=`, `?mode=listener`)
//!   and no camera needs them. Local capture devices (`/dev/videoN`) only with
//!   `VIGIL_STREAM_ALLOW_DEVICES`.
//! * Addresses: every address the host resolves to must be in `VIGIL_STREAM_ALLOW_CIDRS`
//!   (default: the private LAN ranges) and in none of the always-denied ranges (this-network,
//!   link-local and cloud metadata, multicast, broadcast, reserved, IPv6 forms that hide such
//!   an IPv4 address) nor be one of this deployment's own services (database, Redis, S3,
//!   SMTP, the API). Loopback is denied unless the allow-list names a loopback range itself,
//!   and even then the ports of the deployment's own services on loopback stay denied.
//! * Opening: [`EgressPolicy::check`] resolves the name once and returns a [`CheckedStream`]
//!   whose URL names the checked IP address, plus the FFmpeg options that keep the request
//!   correct without the name (`Host` header, TLS `verifyhost`, RTMP `tcUrl`). FFmpeg never
//!   resolves the name again, so DNS rebinding cannot swap the address after the check.
//!
//! The API calls [`EgressPolicy::precheck`] (no DNS) to turn obviously bad URLs away at once;
//! the worker's [`EgressPolicy::check`] right before opening is the real gate. `vigil-video`
//! then adds FFmpeg's own protocol and container whitelists (see its `Input` type).

mod addr;
mod error;
mod redact;
mod stream;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use url::{Host, Url};

use crate::config::Config;

pub use addr::{Cidr, CidrError, Denied};
pub use error::{DenyRule, EgressError};
pub use redact::redact;
pub use stream::{CheckedStream, StreamUrl};

use addr::{LOOPBACK_V4, LOOPBACK_V6, canonical, denied_range, embedded_ipv4, parse_ipv4_lenient};
#[cfg(test)]
use stream::rtmp_app;
use stream::{Target, TargetHost};

/// Default of `VIGIL_STREAM_ALLOW_CIDRS`: the private LAN ranges (RFC 1918), carrier-grade
/// NAT and IPv6 unique-local addresses — where IP cameras live. Internet cameras need
/// `0.0.0.0/0,::/0` added by the admin.
pub const DEFAULT_ALLOW_CIDRS: &str =
    "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7";

/// Default of `VIGIL_STREAM_SCHEMES`.
pub const DEFAULT_SCHEMES: &str = "rtsp,http,https,rtmp,rtmps";

/// A lookup that takes longer is reported as unresolvable; a camera whose name takes five
/// seconds to resolve is broken anyway, and the check must not hold a worker slot forever.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// Longer URLs are refused outright (the API stores at most 2000 characters).
const MAX_URL_LEN: usize = 2048;

/// Query keys refused for every scheme: FFmpeg protocols read these from a URL's query as
/// options, and they turn a client into a listener or pick its source address.
const FORBIDDEN_QUERY_KEYS: &[&str] = &[
    "listen",
    "listen_timeout",
    "localaddr",
    "local_addr",
    "localport",
    "local_port",
    "reuse",
    "reuse_socket",
];

/// RTSP reads bare `?udp`, `?multicast`, `?http` and `?tcp` from the URL to pick its transport:
/// UDP and multicast make the worker accept packets from anywhere, `http` tunnels through a
/// second protocol. Vigil always uses interleaved TCP.
const FORBIDDEN_RTSP_KEYS: &[&str] = &["udp", "multicast", "http", "tcp"];

/// Host names that are loopback by definition (RFC 6761), refused without asking DNS.
fn is_loopback_name(name: &str) -> bool {
    name == "localhost" || name.ends_with(".localhost")
}

/// Cloud metadata host names, refused without asking DNS.
fn is_metadata_name(name: &str) -> bool {
    matches!(name, "metadata.google.internal" | "metadata.goog")
}

/// A URL scheme workers may open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamScheme {
    Rtsp,
    /// RTSP over TLS. FFmpeg 5.1's RTSP client does not pass TLS options to its TLS layer, so
    /// the certificate is not verified: allowed only when listed in `VIGIL_STREAM_SCHEMES`.
    Rtsps,
    Http,
    Https,
    Rtmp,
    Rtmps,
    /// A local V4L2 capture device (`/dev/videoN`); only with `VIGIL_STREAM_ALLOW_DEVICES`.
    Device,
}

impl StreamScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamScheme::Rtsp => "rtsp",
            StreamScheme::Rtsps => "rtsps",
            StreamScheme::Http => "http",
            StreamScheme::Https => "https",
            StreamScheme::Rtmp => "rtmp",
            StreamScheme::Rtmps => "rtmps",
            StreamScheme::Device => "v4l2",
        }
    }

    /// The port FFmpeg uses when the URL names none.
    pub fn default_port(self) -> Option<u16> {
        match self {
            StreamScheme::Rtsp => Some(554),
            StreamScheme::Rtsps => Some(322),
            StreamScheme::Http => Some(80),
            StreamScheme::Https | StreamScheme::Rtmps => Some(443),
            StreamScheme::Rtmp => Some(1935),
            StreamScheme::Device => None,
        }
    }

    pub fn uses_tls(self) -> bool {
        matches!(
            self,
            StreamScheme::Rtsps | StreamScheme::Https | StreamScheme::Rtmps
        )
    }

    /// Whether FFmpeg verifies the server certificate for this scheme (with the options
    /// [`EgressPolicy::check`] sets). False for `rtsps`, see [`StreamScheme::Rtsps`].
    pub fn tls_verified(self) -> bool {
        matches!(self, StreamScheme::Https | StreamScheme::Rtmps)
    }

    fn is_rtsp(self) -> bool {
        matches!(self, StreamScheme::Rtsp | StreamScheme::Rtsps)
    }

    fn is_http(self) -> bool {
        matches!(self, StreamScheme::Http | StreamScheme::Https)
    }

    fn is_rtmp(self) -> bool {
        matches!(self, StreamScheme::Rtmp | StreamScheme::Rtmps)
    }

    /// A network scheme by name; `Err` explains why an FFmpeg protocol is not offered.
    fn from_name(name: &str) -> Result<StreamScheme, String> {
        Ok(match name {
            "rtsp" => StreamScheme::Rtsp,
            "rtsps" => StreamScheme::Rtsps,
            "http" => StreamScheme::Http,
            "https" => StreamScheme::Https,
            "rtmp" => StreamScheme::Rtmp,
            "rtmps" => StreamScheme::Rtmps,
            "tcp" | "udp" | "srt" | "rtp" | "tls" => {
                return Err(format!(
                    "{name:?} is not supported: FFmpeg reads its URL query as options \
                     (listen, localaddr, mode=listener) and cameras do not need it"
                ));
            }
            other => {
                return Err(format!(
                    "{other:?} is not a stream scheme (supported: rtsp, rtsps, http, https, \
                     rtmp, rtmps)"
                ));
            }
        })
    }
}

impl fmt::Display for StreamScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The egress settings of the configuration, parsed and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct EgressSettings {
    /// `VIGIL_STREAM_ALLOW_CIDRS`.
    pub allow: Vec<Cidr>,
    /// `VIGIL_STREAM_SCHEMES`.
    pub schemes: Vec<StreamScheme>,
    /// `VIGIL_STREAM_CA_FILE`: PEM bundle FFmpeg verifies TLS streams against *instead of*
    /// the system store (GnuTLS takes one or the other).
    pub ca_file: Option<PathBuf>,
    /// `VIGIL_STREAM_ALLOW_DEVICES`.
    pub allow_devices: bool,
}

impl EgressSettings {
    pub fn from_config(config: &Config) -> Result<EgressSettings, String> {
        let allow = config
            .stream_allow_cidrs
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<Cidr>()
                    .map_err(|e| format!("VIGIL_STREAM_ALLOW_CIDRS: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut schemes = Vec::new();
        for name in config
            .stream_schemes
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
        {
            let scheme =
                StreamScheme::from_name(&name).map_err(|e| format!("VIGIL_STREAM_SCHEMES: {e}"))?;
            if !schemes.contains(&scheme) {
                schemes.push(scheme);
            }
        }
        Ok(EgressSettings {
            allow,
            schemes,
            ca_file: config.stream_ca_file.clone(),
            allow_devices: config.stream_allow_devices,
        })
    }

    /// The allow-list entries that lift the loopback denial: only ranges inside
    /// `127.0.0.0/8` or `::1/128`, so `0.0.0.0/0` alone never opens loopback.
    fn loopback_ranges(&self) -> impl Iterator<Item = &Cidr> {
        self.allow
            .iter()
            .filter(|c| c.is_within(&LOOPBACK_V4) || c.is_within(&LOOPBACK_V6))
    }
}

/// One of the deployment's own services, as far as the egress policy is concerned.
#[derive(Debug, Clone, PartialEq)]
struct ServiceAddr {
    name: &'static str,
    ip: IpAddr,
    /// Loopback (and unspecified) service addresses are shared with test and dev streams, so
    /// only the service's ports are denied there; any other address is denied entirely.
    ports: Option<Vec<u16>>,
}

/// A service endpoint named in the configuration.
#[derive(Debug, Clone, PartialEq)]
struct ServiceEndpoint {
    name: &'static str,
    host: String,
    ports: Vec<u16>,
}

/// The policy, built once per process from the configuration and shared (it is cheap to
/// clone and `Send + Sync`).
#[derive(Debug, Clone)]
pub struct EgressPolicy {
    settings: EgressSettings,
    /// Host names of the deployment's services, refused by name before any lookup.
    service_names: Vec<ServiceEndpoint>,
    services: Vec<ServiceAddr>,
}

impl EgressPolicy {
    /// The policy from the configuration, without DNS: services configured by IP address (or
    /// `localhost`) are denied at once, services configured by name only by that name until
    /// [`resolve_services`](Self::resolve_services) runs. Enough for the API's
    /// [`precheck`](Self::precheck); workers use [`load`](Self::load).
    ///
    /// Logs a warning when the allow-list opens loopback or `rtsps` (unverified TLS) is
    /// allowed, so build it once at start-up.
    pub fn new(config: &Config) -> crate::Result<EgressPolicy> {
        let settings = EgressSettings::from_config(config).map_err(crate::Error::Config)?;
        let endpoints = service_endpoints(config);
        let mut policy = EgressPolicy {
            settings,
            service_names: Vec::new(),
            services: Vec::new(),
        };
        for endpoint in endpoints {
            let host = endpoint.host.trim_end_matches('.').to_ascii_lowercase();
            if let Some(ip) = literal_ip(&host) {
                policy.add_service(endpoint.name, ip, &endpoint.ports);
            } else if is_loopback_name(&host) {
                policy.add_service(
                    endpoint.name,
                    IpAddr::V4(Ipv4Addr::LOCALHOST),
                    &endpoint.ports,
                );
                policy.add_service(
                    endpoint.name,
                    IpAddr::V6(Ipv6Addr::LOCALHOST),
                    &endpoint.ports,
                );
            } else {
                policy
                    .service_names
                    .push(ServiceEndpoint { host, ..endpoint });
            }
        }
        policy.log_warnings();
        Ok(policy)
    }

    /// [`new`](Self::new) plus [`resolve_services`](Self::resolve_services): what a worker
    /// builds at start-up.
    ///
    /// Also checks that `VIGIL_STREAM_CA_FILE` exists: a missing bundle must stop the worker
    /// rather than leave FFmpeg without the CA. (Only here: API pods need not mount it.)
    pub async fn load(config: &Config) -> crate::Result<EgressPolicy> {
        let mut policy = EgressPolicy::new(config)?;
        if let Some(ca) = &policy.settings.ca_file
            && !tokio::fs::metadata(ca).await.is_ok_and(|m| m.is_file())
        {
            return Err(crate::Error::Config(format!(
                "VIGIL_STREAM_CA_FILE: {} is not a readable file",
                ca.display()
            )));
        }
        policy.resolve_services().await;
        Ok(policy)
    }

    /// Resolves the service host names of the configuration and denies their addresses.
    /// A name that does not resolve is logged and skipped: it cannot be reached by a stream
    /// either, and the worker's network policy is the second line (docs/scaling.md).
    pub async fn resolve_services(&mut self) {
        for endpoint in self.service_names.clone() {
            let port = endpoint.ports.first().copied().unwrap_or(0);
            match lookup(&endpoint.host, port).await {
                Ok(ips) => {
                    for ip in ips {
                        self.add_service(endpoint.name, ip, &endpoint.ports);
                    }
                }
                Err(e) => tracing::warn!(
                    service = endpoint.name,
                    host = %endpoint.host,
                    error = %e,
                    "cannot resolve a service host; streams are denied its name but not its address"
                ),
            }
        }
    }

    pub fn settings(&self) -> &EgressSettings {
        &self.settings
    }

    /// The cheap synchronous check for the API: syntax, scheme, options, and addresses
    /// written literally (`127.0.0.1`, `2130706433`, `[::ffff:169.254.169.254]`) or names
    /// that need no lookup (`localhost`, metadata and service names). No DNS, so a name
    /// passing here can still be refused by [`check`](Self::check).
    pub fn precheck(&self, raw: &str) -> Result<StreamUrl, EgressError> {
        let target = self.parse(raw)?;
        match &target.host {
            TargetHost::Ip(ip) => self.check_ip(*ip, target.port, false)?,
            TargetHost::Name(name) => self.check_name(name, target.port)?,
            TargetHost::Device(_) => {}
        }
        Ok(target.stream_url())
    }

    /// The gate a worker passes right before opening a stream: [`precheck`](Self::precheck),
    /// then one DNS lookup whose every address must pass, then the URL rewritten to the first
    /// address with the FFmpeg options that keep it correct.
    pub async fn check(&self, raw: &str) -> Result<CheckedStream, EgressError> {
        let target = self.parse(raw)?;
        let ips = match &target.host {
            TargetHost::Device(path) => {
                return Ok(CheckedStream {
                    scheme: StreamScheme::Device,
                    addr: None,
                    url: path.clone(),
                    options: Vec::new(),
                    shown: path.clone(),
                });
            }
            TargetHost::Ip(ip) => vec![*ip],
            TargetHost::Name(name) => {
                self.check_name(name, target.port)?;
                lookup(name, target.port)
                    .await
                    .map_err(|detail| EgressError::Unresolvable {
                        host: name.clone(),
                        detail,
                    })?
            }
        };
        self.check_resolved(&target, &ips)
    }

    /// Every address must pass: a name that resolves to a camera *and* to loopback is
    /// refused, since the resolver's order is not ours to choose.
    fn check_resolved(
        &self,
        target: &Target,
        ips: &[IpAddr],
    ) -> Result<CheckedStream, EgressError> {
        let resolved = matches!(target.host, TargetHost::Name(_));
        let Some(&first) = ips.first() else {
            return Err(EgressError::Unresolvable {
                host: target.host_text(),
                detail: "no addresses".into(),
            });
        };
        for &ip in ips {
            self.check_ip(ip, target.port, resolved)?;
        }
        Ok(target.checked(canonical(first), self.settings.ca_file.as_deref()))
    }

    fn check_name(&self, name: &str, port: u16) -> Result<(), EgressError> {
        let bare = name.trim_end_matches('.');
        if is_loopback_name(bare) {
            // Judged like the address it is, so a loopback-allowing config can use it.
            return self.check_ip(IpAddr::V4(Ipv4Addr::LOCALHOST), port, false);
        }
        let rule = if is_metadata_name(bare) {
            Some(DenyRule::Range(Denied::CloudMetadata))
        } else {
            self.service_names
                .iter()
                .find(|s| s.host == bare)
                .map(|s| DenyRule::Service(s.name))
        };
        if let Some(rule) = rule {
            return Err(EgressError::DeniedName {
                host: bare.to_string(),
                rule,
            });
        }
        Ok(())
    }

    fn check_ip(&self, original: IpAddr, port: u16, resolved: bool) -> Result<(), EgressError> {
        let deny = |rule| {
            Err(EgressError::Denied {
                addr: original,
                port,
                rule,
                resolved,
            })
        };
        let ip = canonical(original);
        if let Some(name) = self.service_at(ip, port) {
            return deny(DenyRule::Service(name));
        }
        match denied_range(ip) {
            Some(Denied::Loopback) => {
                return if self.settings.loopback_ranges().any(|c| c.contains(ip)) {
                    Ok(())
                } else {
                    deny(DenyRule::Range(Denied::Loopback))
                };
            }
            Some(why) => return deny(DenyRule::Range(why)),
            None => {}
        }
        if let IpAddr::V6(v6) = ip
            && let Some(v4) = embedded_ipv4(v6)
        {
            // The hidden IPv4 address must pass on its own, and never as loopback: nothing
            // legitimate spells a camera on this machine as `::127.0.0.1` or `2002:7f00:1::`.
            let v4 = IpAddr::V4(v4);
            if self.service_at(v4, port).is_some()
                || denied_range(v4).is_some()
                || !self.in_allow_list(v4)
            {
                return deny(DenyRule::Range(Denied::EmbeddedIpv4));
            }
        }
        if !self.in_allow_list(ip) {
            return deny(DenyRule::NotAllowed);
        }
        Ok(())
    }

    fn in_allow_list(&self, ip: IpAddr) -> bool {
        self.settings.allow.iter().any(|c| c.contains(ip))
    }

    fn service_at(&self, ip: IpAddr, port: u16) -> Option<&'static str> {
        let on_loopback = denied_range(ip) == Some(Denied::Loopback);
        self.services
            .iter()
            .find(|s| match &s.ports {
                None => s.ip == ip,
                // A service on loopback answers on every loopback address when it binds
                // 0.0.0.0, so its port is denied on all of them.
                Some(ports) => on_loopback && ports.contains(&port),
            })
            .map(|s| s.name)
    }

    fn add_service(&mut self, name: &'static str, ip: IpAddr, ports: &[u16]) {
        let ip = canonical(ip);
        let local = ip.is_unspecified() || denied_range(ip) == Some(Denied::Loopback);
        let entry = ServiceAddr {
            name,
            ip,
            ports: local.then(|| ports.to_vec()),
        };
        if !self.services.contains(&entry) {
            self.services.push(entry);
        }
    }

    fn log_warnings(&self) {
        let loopback: Vec<String> = self
            .settings
            .loopback_ranges()
            .map(ToString::to_string)
            .collect();
        if !loopback.is_empty() {
            tracing::warn!(
                ranges = %loopback.join(","),
                "VIGIL_STREAM_ALLOW_CIDRS allows loopback: workers may open streams served on \
                 their own machine (meant for tests and development; the ports of this \
                 deployment's services stay denied)"
            );
        }
        if self.settings.schemes.contains(&StreamScheme::Rtsps) {
            tracing::warn!(
                "VIGIL_STREAM_SCHEMES allows rtsps: FFmpeg does not verify RTSP-over-TLS \
                 certificates, so rtsps streams are encrypted but not authenticated"
            );
        }
    }

    fn parse(&self, raw: &str) -> Result<Target, EgressError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(EgressError::InvalidUrl("empty"));
        }
        if raw.len() > MAX_URL_LEN {
            return Err(EgressError::InvalidUrl("too long"));
        }
        // Characters that URL parsers and FFmpeg's own splitter read differently.
        if raw
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return Err(EgressError::InvalidUrl(
                "contains spaces, control characters or backslashes",
            ));
        }
        if let Some(device) = raw
            .strip_prefix("v4l2://")
            .or_else(|| raw.starts_with("/dev/").then_some(raw))
        {
            return self.parse_device(device);
        }
        let url = Url::parse(raw).map_err(|e| match e {
            url::ParseError::RelativeUrlWithoutBase => {
                EgressError::InvalidUrl("a stream URL starts with a scheme such as rtsp://")
            }
            _ => EgressError::InvalidUrl("not a URL"),
        })?;
        let scheme = StreamScheme::from_name(url.scheme())
            .ok()
            .filter(|s| self.settings.schemes.contains(s))
            .ok_or_else(|| EgressError::SchemeNotAllowed(url.scheme().to_string()))?;

        let Some(after_scheme) = raw.split_once("://").map(|(_, rest)| rest) else {
            return Err(EgressError::InvalidUrl("expected scheme://host"));
        };
        let authority = &after_scheme[..after_scheme
            .find(['/', '?', '#'])
            .unwrap_or(after_scheme.len())];
        if authority.matches('@').count() > 1 {
            return Err(EgressError::InvalidUrl(
                "more than one '@' (percent-encode '@' in user names and passwords)",
            ));
        }

        let host = match url.host() {
            None => return Err(EgressError::InvalidUrl("no host")),
            Some(Host::Ipv4(ip)) => TargetHost::Ip(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => TargetHost::Ip(IpAddr::V6(ip)),
            Some(Host::Domain(name)) => {
                let name = name.to_ascii_lowercase();
                match parse_ipv4_lenient(name.trim_end_matches('.')) {
                    Some(ip) => TargetHost::Ip(IpAddr::V4(ip)),
                    None if valid_host_name(&name) => TargetHost::Name(name),
                    None => return Err(EgressError::InvalidUrl("the host name is not valid")),
                }
            }
        };
        let port = match url.port().or_else(|| scheme.default_port()) {
            Some(0) | None => return Err(EgressError::InvalidUrl("port 0")),
            Some(p) => p,
        };
        for (key, _) in url.query_pairs() {
            let key = key.to_ascii_lowercase();
            if FORBIDDEN_QUERY_KEYS.contains(&key.as_str())
                || (scheme.is_rtsp() && FORBIDDEN_RTSP_KEYS.contains(&key.as_str()))
            {
                return Err(EgressError::ForbiddenOption(key));
            }
        }
        Ok(Target {
            scheme,
            url: Some(url),
            host,
            port,
        })
    }

    fn parse_device(&self, path: &str) -> Result<Target, EgressError> {
        if !self.settings.allow_devices {
            return Err(EgressError::DevicesDisabled);
        }
        let ok = path.strip_prefix("/dev/video").is_some_and(|n| {
            !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit())
        });
        if !ok {
            return Err(EgressError::InvalidUrl("devices must be /dev/videoN"));
        }
        Ok(Target {
            scheme: StreamScheme::Device,
            url: None,
            host: TargetHost::Device(path.to_string()),
            port: 0,
        })
    }
}

/// Names FFmpeg and the resolver read the same way: letters, digits, `-`, `_` and dots.
/// (Special-scheme hosts arrive IDNA-encoded from the URL parser; `rtsp://` hosts arrive as
/// written, and anything percent-encoded or otherwise exotic is refused.)
fn valid_host_name(name: &str) -> bool {
    let bare = name.strip_suffix('.').unwrap_or(name);
    !bare.is_empty()
        && bare.len() <= 253
        && bare.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// An IP address written in any form a resolver accepts (`[::1]`, `::1`, `2130706433`).
fn literal_ip(host: &str) -> Option<IpAddr> {
    let unbracketed = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    unbracketed
        .parse::<IpAddr>()
        .ok()
        .or_else(|| parse_ipv4_lenient(unbracketed).map(IpAddr::V4))
}

async fn lookup(host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
    match tokio::time::timeout(DNS_TIMEOUT, tokio::net::lookup_host((host, port))).await {
        Err(_) => Err(format!("no answer within {} s", DNS_TIMEOUT.as_secs())),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(addrs)) => {
            let mut ips: Vec<IpAddr> = Vec::new();
            for addr in addrs {
                if !ips.contains(&addr.ip()) {
                    ips.push(addr.ip());
                }
            }
            Ok(ips)
        }
    }
}

/// The endpoints of the deployment's own services named in the configuration: the database,
/// Redis, S3 (internal and public endpoints), SMTP, and the API's and metrics' listen
/// addresses.
fn service_endpoints(config: &Config) -> Vec<ServiceEndpoint> {
    let mut out = Vec::new();
    let mut from_url = |name: &'static str, raw: Option<&str>, default_ports: &[u16]| {
        let Some(url) = raw.and_then(|r| Url::parse(r).ok()) else {
            return;
        };
        let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
            return; // e.g. a Unix-socket database URL: nothing to reach over the network
        };
        let ports = match url.port_or_known_default() {
            Some(p) => vec![p],
            None => default_ports.to_vec(),
        };
        out.push(ServiceEndpoint {
            name,
            host: host.to_string(),
            ports,
        });
    };
    from_url("database", Some(&config.database_url), &[5432]);
    from_url("redis", Some(&config.redis_url), &[6379]);
    from_url("object storage", config.s3_endpoint.as_deref(), &[80, 443]);
    from_url(
        "object storage",
        config.s3_public_endpoint.as_deref(),
        &[80, 443],
    );
    // lettre picks 587 or 465 by TLS mode when the URL names no port; deny all three.
    from_url("mail server", config.smtp_url.as_deref(), &[25, 465, 587]);
    for (name, addr) in [
        ("API", Some(config.http_addr)),
        ("metrics endpoint", config.metrics_addr),
    ] {
        let Some(addr) = addr else { continue };
        let hosts = if addr.ip().is_unspecified() {
            vec![
                Ipv4Addr::LOCALHOST.to_string(),
                Ipv6Addr::LOCALHOST.to_string(),
            ]
        } else {
            vec![addr.ip().to_string()]
        };
        for host in hosts {
            out.push(ServiceEndpoint {
                name,
                host,
                ports: vec![addr.port()],
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
