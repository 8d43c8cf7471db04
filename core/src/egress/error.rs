//! Why a stream URL was refused, in two voices: a detailed one for logs (`Display`,
//! [`EgressError::code`]) and a short one for users ([`EgressError::user_message`]) that never
//! tells them whether a port is open, what an internal name resolves to, or what a host
//! answered.

use std::fmt;
use std::net::IpAddr;

use super::addr::Denied;

/// Why the egress policy refused a URL. `Display` is for logs: it names the address and the
/// rule, never credentials (the URL itself is not part of the error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    /// Not a URL, or one whose syntax is ambiguous between parsers (backslashes, spaces,
    /// several `@`, a host FFmpeg would read differently).
    #[error("not a valid stream URL: {0}")]
    InvalidUrl(&'static str),
    /// The scheme is not one of `VIGIL_STREAM_SCHEMES` (or is never allowed: `file`, `tcp`,
    /// `udp`, `concat`, ...).
    #[error("scheme {0:?} is not allowed for streams")]
    SchemeNotAllowed(String),
    /// A local capture device while `VIGIL_STREAM_ALLOW_DEVICES` is off.
    #[error("local video devices are disabled (VIGIL_STREAM_ALLOW_DEVICES)")]
    DevicesDisabled,
    /// A query parameter that FFmpeg would act on (`listen`, RTSP's `udp`/`multicast`, ...).
    #[error("URL option {0:?} is not allowed")]
    ForbiddenOption(String),
    /// The host name did not resolve (or took too long).
    #[error("cannot resolve {host}: {detail}")]
    Unresolvable { host: String, detail: String },
    /// An address the policy refuses. `resolved` says whether it came from DNS (the user
    /// wrote a name) or was written literally in the URL.
    #[error("{addr} port {port} is denied: {rule}")]
    Denied {
        addr: IpAddr,
        port: u16,
        rule: DenyRule,
        resolved: bool,
    },
    /// A host name refused without a lookup: a metadata service's or one of this
    /// deployment's services' name.
    #[error("{host} is denied: {rule}")]
    DeniedName { host: String, rule: DenyRule },
}

/// The rule that refused an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyRule {
    /// One of the always-denied ranges.
    Range(Denied),
    /// Outside `VIGIL_STREAM_ALLOW_CIDRS`.
    NotAllowed,
    /// The address (and, on loopback, the port) of one of this deployment's own services.
    Service(&'static str),
}

impl fmt::Display for DenyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenyRule::Range(why) => write!(f, "{why}"),
            DenyRule::NotAllowed => f.write_str("not in VIGIL_STREAM_ALLOW_CIDRS"),
            DenyRule::Service(name) => write!(f, "this deployment's {name}"),
        }
    }
}

impl EgressError {
    /// A stable machine-readable reason for logs and metrics, e.g. `loopback`,
    /// `cloud_metadata`, `not_allowed`, `service`, `scheme`.
    pub fn code(&self) -> &'static str {
        match self {
            EgressError::InvalidUrl(_) => "invalid_url",
            EgressError::SchemeNotAllowed(_) => "scheme",
            EgressError::DevicesDisabled => "devices_disabled",
            EgressError::ForbiddenOption(_) => "forbidden_option",
            EgressError::Unresolvable { .. } => "unresolvable",
            EgressError::Denied { rule, .. } | EgressError::DeniedName { rule, .. } => match rule {
                DenyRule::Range(why) => why.code(),
                DenyRule::NotAllowed => "not_allowed",
                DenyRule::Service(_) => "service",
            },
        }
    }

    /// A short message safe to show to any user.
    ///
    /// Problems with what the user typed (syntax, scheme, options, an address written
    /// literally) are named, since they reveal nothing the user did not write. Anything learnt
    /// from DNS is reported as "stream unavailable", like a camera that is down, so the
    /// answer does not tell which internal names exist or where they point.
    pub fn user_message(&self) -> &'static str {
        match self {
            EgressError::InvalidUrl(_) => "not a valid stream URL",
            EgressError::SchemeNotAllowed(_) => "this kind of stream URL is not allowed",
            EgressError::DevicesDisabled => "local video devices are not enabled",
            EgressError::ForbiddenOption(_) => {
                "the stream URL contains an option that is not allowed"
            }
            EgressError::Unresolvable { .. } => "stream unavailable",
            EgressError::Denied { resolved: true, .. } => "stream unavailable",
            EgressError::Denied {
                resolved: false, ..
            }
            | EgressError::DeniedName { .. } => "streams from this address are not allowed",
        }
    }

    /// Whether the same URL can pass later: only a failed lookup can (DNS may recover).
    pub fn is_transient(&self) -> bool {
        matches!(self, EgressError::Unresolvable { .. })
    }
}
