//! Address arithmetic for the egress policy: CIDR ranges, the ranges no stream may reach
//! whatever the allow-list says, the IPv6 forms that smuggle an IPv4 address, and the lenient
//! IPv4 spellings (`2130706433`, `0x7f.1`) that resolvers accept — so that a URL cannot dodge
//! a check by writing an address oddly.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IPv4 or IPv6 network, e.g. `10.0.0.0/8` or `fc00::/7`.
///
/// Host bits are cleared on parsing (`192.168.1.10/16` is `192.168.0.0/16`): an admin who
/// writes that means the network, and masking keeps `contains` a single comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a CIDR range (expected e.g. 10.0.0.0/8 or fc00::/7)")]
pub struct CidrError {
    input: String,
}

impl Cidr {
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Cidr> {
        let network = match addr {
            IpAddr::V4(a) if prefix <= 32 => {
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask32(prefix)))
            }
            IpAddr::V6(a) if prefix <= 128 => {
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask128(prefix)))
            }
            _ => return None,
        };
        Some(Cidr { network, prefix })
    }

    /// `const` constructor for the built-in ranges; the caller guarantees clear host bits.
    const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Cidr {
        Cidr {
            network: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            prefix,
        }
    }

    const fn v6(segments: [u16; 8], prefix: u8) -> Cidr {
        let [a, b, c, d, e, f, g, h] = segments;
        Cidr {
            network: IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)),
            prefix,
        }
    }

    pub fn network(&self) -> IpAddr {
        self.network
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in this network. Families never mix: `0.0.0.0/0` does not contain
    /// `::1`, and IPv4-mapped IPv6 addresses must be unwrapped first ([`canonical`]).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                u32::from(ip) & mask32(self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                u128::from(ip) & mask128(self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }

    /// Whether every address of `self` is also in `other`.
    pub fn is_within(&self, other: &Cidr) -> bool {
        self.prefix >= other.prefix && other.contains(self.network)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || CidrError {
            input: s.to_string(),
        };
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| err())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            // Digits only: `u8::from_str` would also take a leading `+`.
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| err())?
            }
            Some(_) => return Err(err()),
            None => max,
        };
        Cidr::new(addr, prefix).ok_or_else(err)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

pub const LOOPBACK_V4: Cidr = Cidr::v4(127, 0, 0, 0, 8);
pub const LOOPBACK_V6: Cidr = Cidr::v6([0, 0, 0, 0, 0, 0, 0, 1], 128);

/// Why an address is refused whatever the allow-list says (or, for [`Loopback`], unless the
/// allow-list names a loopback range itself).
///
/// [`Loopback`]: Denied::Loopback
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// `0.0.0.0/8` and `::`: "this host" — Linux connects `0.0.0.0` to the local machine.
    ThisNetwork,
    Loopback,
    /// `169.254.0.0/16`, `fe80::/10`: link-local, where cloud metadata and other
    /// host-only services live.
    LinkLocal,
    /// Instance metadata services (169.254.169.254, AWS `fd00:ec2::/64`, Alibaba
    /// 100.100.100.200) — the prize of server-side request forgery in a cloud.
    CloudMetadata,
    Multicast,
    Broadcast,
    /// `240.0.0.0/4`, deprecated site-local `fec0::/10` and the discard prefix `100::/64`.
    Reserved,
    /// An IPv6 form that carries an IPv4 address (IPv4-compatible, NAT64, 6to4, Teredo)
    /// whose IPv4 address is denied, or that cannot be checked at all.
    EmbeddedIpv4,
}

impl Denied {
    pub fn code(self) -> &'static str {
        match self {
            Denied::ThisNetwork => "this_network",
            Denied::Loopback => "loopback",
            Denied::LinkLocal => "link_local",
            Denied::CloudMetadata => "cloud_metadata",
            Denied::Multicast => "multicast",
            Denied::Broadcast => "broadcast",
            Denied::Reserved => "reserved",
            Denied::EmbeddedIpv4 => "embedded_ipv4",
        }
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Denied::ThisNetwork => "the unspecified / this-host range",
            Denied::Loopback => "loopback (not in the allow-list)",
            Denied::LinkLocal => "link-local",
            Denied::CloudMetadata => "a cloud metadata service",
            Denied::Multicast => "multicast",
            Denied::Broadcast => "broadcast",
            Denied::Reserved => "a reserved range",
            Denied::EmbeddedIpv4 => "an IPv6 form of a denied or uncheckable IPv4 address",
        })
    }
}

// Most specific first: the metadata addresses sit inside link-local and CGNAT.
const DENIED_V4: &[(Cidr, Denied)] = &[
    (Cidr::v4(169, 254, 169, 254, 32), Denied::CloudMetadata),
    (Cidr::v4(100, 100, 100, 200, 32), Denied::CloudMetadata),
    (Cidr::v4(255, 255, 255, 255, 32), Denied::Broadcast),
    (Cidr::v4(0, 0, 0, 0, 8), Denied::ThisNetwork),
    (LOOPBACK_V4, Denied::Loopback),
    (Cidr::v4(169, 254, 0, 0, 16), Denied::LinkLocal),
    (Cidr::v4(224, 0, 0, 0, 4), Denied::Multicast),
    (Cidr::v4(240, 0, 0, 0, 4), Denied::Reserved),
];

const DENIED_V6: &[(Cidr, Denied)] = &[
    (Cidr::v6([0; 8], 128), Denied::ThisNetwork),
    (LOOPBACK_V6, Denied::Loopback),
    (
        Cidr::v6([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0], 64),
        Denied::CloudMetadata,
    ),
    (
        Cidr::v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
        Denied::LinkLocal,
    ),
    (
        Cidr::v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        Denied::Reserved,
    ),
    (
        Cidr::v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),
        Denied::Multicast,
    ),
    (Cidr::v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), Denied::Reserved),
    // Teredo hides the client's IPv4 address XOR-ed in the low bits, and local-use NAT64
    // (RFC 8215) maps to addresses only its operator knows: neither can be checked.
    (
        Cidr::v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32),
        Denied::EmbeddedIpv4,
    ),
    (
        Cidr::v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
        Denied::EmbeddedIpv4,
    ),
];

/// The always-denied range `ip` falls in, if any (loopback included; the caller decides
/// whether the allow-list lifts that one). `ip` must be [`canonical`].
pub fn denied_range(ip: IpAddr) -> Option<Denied> {
    let table = if ip.is_ipv4() { DENIED_V4 } else { DENIED_V6 };
    table
        .iter()
        .find(|(range, _)| range.contains(ip))
        .map(|&(_, why)| why)
}

/// Unwraps IPv4-mapped IPv6 addresses (`::ffff:10.0.0.5`): the kernel sends those to the IPv4
/// address, so they must be judged as it.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

/// The IPv4 address an IPv6 address routes to by construction: IPv4-compatible
/// (`::a.b.c.d`, deprecated), the NAT64 well-known prefix (`64:ff9b::/96`), SIIT
/// (`::ffff:0:a.b.c.d`) and 6to4 (`2002:aabb:ccdd::/48`).
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // `::` and `::1` are themselves, not IPv4-compatible forms.
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, _, _] => Some(low),
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

/// Parses an IPv4 address the way `inet_aton` (and so `getaddrinfo`, and FFmpeg) does: one to
/// four parts, each decimal, octal (leading `0`) or hex (`0x`), the last part filling the
/// remaining bytes — `2130706433`, `0x7f.1`, `017700000001` and `127.1` are all 127.0.0.1.
pub fn parse_ipv4_lenient(host: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for part in &parts {
        values.push(parse_ipv4_part(part)?);
    }
    let (last, leading) = values.split_last()?;
    let mut addr: u64 = 0;
    for (i, &v) in leading.iter().enumerate() {
        if v > 0xff {
            return None;
        }
        addr |= v << (24 - 8 * i);
    }
    let remaining_bits = 32 - 8 * leading.len() as u32;
    if *last >= 1u64 << remaining_bits {
        return None;
    }
    Some(Ipv4Addr::from((addr | last) as u32))
}

fn parse_ipv4_part(part: &str) -> Option<u64> {
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() {
        // `0x` alone is 0 for inet_aton; a lone empty part (`1..2`) is invalid.
        return (radix == 16).then_some(0);
    }
    if !digits.chars().all(|c| c.is_digit(radix)) || digits.len() > 12 {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_parsing_and_membership() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.255.1.2")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(!net.contains(ip("::ffff:10.0.0.1")), "families never mix");
        assert_eq!(
            "192.168.1.10/16".parse::<Cidr>().unwrap().to_string(),
            "192.168.0.0/16"
        );
        assert_eq!("127.0.0.1".parse::<Cidr>().unwrap().prefix(), 32);
        assert_eq!("::1".parse::<Cidr>().unwrap().prefix(), 128);
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")) && all.contains(ip("127.0.0.1")));
        let ula: Cidr = "fc00::/7".parse().unwrap();
        assert!(ula.contains(ip("fd12:3456::1")) && !ula.contains(ip("fe80::1")));
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "::/129",
            "host/8",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        let lo: Cidr = "127.0.0.1/32".parse().unwrap();
        assert!(lo.is_within(&LOOPBACK_V4));
        assert!(!all.is_within(&LOOPBACK_V4));
    }

    #[test]
    fn always_denied_ranges() {
        let cases = [
            ("0.0.0.0", Denied::ThisNetwork),
            ("0.1.2.3", Denied::ThisNetwork),
            ("127.0.0.1", Denied::Loopback),
            ("127.255.0.9", Denied::Loopback),
            ("169.254.169.254", Denied::CloudMetadata),
            ("169.254.170.2", Denied::LinkLocal),
            ("100.100.100.200", Denied::CloudMetadata),
            ("224.0.0.1", Denied::Multicast),
            ("239.255.255.250", Denied::Multicast),
            ("255.255.255.255", Denied::Broadcast),
            ("240.0.0.1", Denied::Reserved),
            ("::", Denied::ThisNetwork),
            ("::1", Denied::Loopback),
            ("fe80::1", Denied::LinkLocal),
            ("fd00:ec2::254", Denied::CloudMetadata),
            ("ff02::1", Denied::Multicast),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", Denied::EmbeddedIpv4),
        ];
        for (addr, why) in cases {
            assert_eq!(denied_range(ip(addr)), Some(why), "{addr}");
        }
        for fine in [
            "10.0.0.5",
            "192.168.1.1",
            "100.64.0.1",
            "8.8.8.8",
            "fd12::1",
            "2a00:1450::1",
        ] {
            assert_eq!(denied_range(ip(fine)), None, "{fine}");
        }
    }

    #[test]
    fn ipv6_forms_of_ipv4_are_unwrapped() {
        assert_eq!(canonical(ip("::ffff:127.0.0.1")), ip("127.0.0.1"));
        assert_eq!(canonical(ip("::ffff:a9fe:a9fe")), ip("169.254.169.254"));
        let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        assert_eq!(embedded_ipv4(v6("::127.0.0.1")), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(
            embedded_ipv4(v6("64:ff9b::7f00:1")),
            Some(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(
            embedded_ipv4(v6("2002:7f00:1::")),
            Some(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(
            embedded_ipv4(v6("::ffff:0:a9fe:a9fe")),
            Some(Ipv4Addr::new(169, 254, 169, 254))
        );
        assert_eq!(embedded_ipv4(v6("::1")), None);
        assert_eq!(embedded_ipv4(v6("::")), None);
        assert_eq!(embedded_ipv4(v6("fd12::1")), None);
    }

    #[test]
    fn lenient_ipv4_spellings() {
        let lo = Some(Ipv4Addr::LOCALHOST);
        for s in [
            "127.0.0.1",
            "2130706433",
            "0x7f.1",
            "0x7f000001",
            "017700000001",
            "127.1",
            "0177.0.0.01",
            "127.0.1",
        ] {
            assert_eq!(parse_ipv4_lenient(s), lo, "{s}");
        }
        assert_eq!(parse_ipv4_lenient("0"), Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(
            parse_ipv4_lenient("0xa9fea9fe"),
            Some(Ipv4Addr::new(169, 254, 169, 254))
        );
        for s in [
            "camera",
            "1.2.3.4.5",
            "256.1.1.1",
            "1..2",
            "09",
            "0x1g",
            "4294967296",
            "cam-1.lan",
            "",
        ] {
            assert_eq!(parse_ipv4_lenient(s), None, "{s}");
        }
    }
}
