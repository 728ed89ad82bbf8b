//! The egress policy: which addresses a step's outbound HTTP may reach.
//!
//! A tenant writes the URL of an `http` step, so without a policy a step can reach the
//! platform's own network: loopback services, the VPC, the cloud's metadata service, the
//! Lambda Runtime API. The policy refuses every address that is not globally routable
//! (loopback, private, shared, link-local, unique-local, multicast, unspecified, and the
//! IPv6 forms that embed an IPv4 address) unless it lies in an allow-listed range.
//!
//! It is checked on the address actually connected to: host names go through a resolver
//! that drops refused addresses (so DNS cannot answer one thing to a check and another to
//! the connection), and literal addresses, which skip the resolver, are checked before
//! the request and at every redirect hop.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The variable that lists allowed ranges, comma-separated CIDRs.
pub const ALLOW_VARIABLE: &str = "SKEIN_HTTP_ALLOW";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    allow: Vec<IpNet>,
}

impl EgressPolicy {
    /// Only globally routable addresses.
    pub fn public_only() -> EgressPolicy {
        EgressPolicy::default()
    }

    /// Parses `SKEIN_HTTP_ALLOW`: comma-separated CIDRs (a bare address is a /32 or /128).
    pub fn parse(list: &str) -> Result<EgressPolicy, String> {
        let allow = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| {
                        format!(
                            "{ALLOW_VARIABLE}: `{entry}` is not an address range; write CIDRs such as 127.0.0.0/8 or ::1, comma-separated"
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(EgressPolicy { allow })
    }

    /// Why `ip` is refused, or None when it may be reached.
    pub fn refuses(&self, ip: IpAddr) -> Option<&'static str> {
        let ip = canonical(ip);
        if self.allow.iter().any(|net| net.contains(&ip)) {
            return None;
        }
        internal_kind(ip)
    }
}

impl fmt::Display for EgressPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ranges: Vec<String> = self.allow.iter().map(ToString::to_string).collect();
        f.write_str(&ranges.join(","))
    }
}

/// An address the policy refused; reqwest carries it as the source of its error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub host: String,
    pub ip: IpAddr,
    pub kind: &'static str,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = canonical(self.ip);
        let single = match ip {
            IpAddr::V4(_) => format!("{ip}/32"),
            IpAddr::V6(_) => format!("{ip}/128"),
        };
        write!(
            f,
            "{} ({ip}) is a {} address, which the egress policy refuses; to allow it, add its range to {ALLOW_VARIABLE} (e.g. {single})",
            self.host, self.kind
        )
    }
}

impl std::error::Error for Refused {}

impl EgressPolicy {
    /// Checks a URL whose host is a literal address (names are checked by the resolver).
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), Refused> {
        // The URL parser already normalised literal addresses (decimal, octal, hex).
        let host = url.host_str().unwrap_or_default();
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let Ok(ip) = literal.parse::<IpAddr>() else {
            return Ok(());
        };
        match self.refuses(ip) {
            Some(kind) => Err(Refused {
                host: url.host_str().unwrap_or_default().to_string(),
                ip,
                kind,
            }),
            None => Ok(()),
        }
    }
}

/// Resolves host names, keeping only the addresses the policy allows.
pub struct PolicyResolver {
    policy: Arc<EgressPolicy>,
}

impl PolicyResolver {
    pub fn new(policy: Arc<EgressPolicy>) -> PolicyResolver {
        PolicyResolver { policy }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        let lookup: Pin<Box<dyn Future<Output = Result<Addrs, BoxError>> + Send>> =
            Box::pin(async move {
                let found: Vec<SocketAddr> =
                    tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
                let mut refused = None;
                let allowed: Vec<SocketAddr> = found
                    .into_iter()
                    .filter(|addr| match policy.refuses(addr.ip()) {
                        Some(kind) => {
                            refused.get_or_insert(Refused {
                                host: host.clone(),
                                ip: addr.ip(),
                                kind,
                            });
                            false
                        }
                        None => true,
                    })
                    .collect();
                match (allowed.is_empty(), refused) {
                    (true, Some(refused)) => Err(Box::new(refused) as BoxError),
                    _ => Ok(Box::new(allowed.into_iter()) as Addrs),
                }
            });
        lookup
    }
}

/// IPv4-mapped and IPv4-compatible IPv6 addresses as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// What kind of non-public address `ip` is, or None for a globally routable one.
fn internal_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(match () {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_private() => "private",
        _ if ip.is_link_local() => "link-local (cloud metadata)",
        _ if a == 100 && (64..128).contains(&b) => "shared (carrier-grade NAT)",
        _ if a == 0 => "unspecified",
        _ if ip.is_multicast() || ip.is_broadcast() => "multicast or broadcast",
        _ if a >= 240 => "reserved",
        _ if a == 198 && (18..20).contains(&b) => "benchmarking",
        _ if a == 192 && b == 0 && ip.octets()[2] == 0 => "IETF protocol",
        _ => return None,
    })
}

fn internal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    let embedded_v4 = |high: usize| {
        let [a, b] = segments[high].to_be_bytes();
        let [c, d] = segments[high + 1].to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    Some(match () {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_multicast() => "multicast",
        _ if segments[0] & 0xfe00 == 0xfc00 => "unique-local",
        _ if segments[0] & 0xffc0 == 0xfe80 => "link-local",
        _ if segments[0] & 0xffc0 == 0xfec0 => "site-local",
        // ::a.b.c.d (IPv4-compatible), 64:ff9b::a.b.c.d (NAT64), 2002:ab:cd:: (6to4):
        // each reaches the IPv4 address inside it.
        _ if segments[..6] == [0; 6] => return internal_v4(embedded_v4(6)),
        _ if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] => return internal_v4(embedded_v4(6)),
        _ if segments[0] == 0x2002 => return internal_v4(embedded_v4(1)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(policy: &EgressPolicy, ip: &str) -> bool {
        policy.refuses(ip.parse().unwrap()).is_some()
    }

    #[test]
    fn internal_addresses_of_every_form_are_refused() {
        let policy = EgressPolicy::public_only();
        for ip in [
            "127.0.0.1",
            "127.0.0.2",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "::ffff:127.0.0.2",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
        ] {
            assert!(refused(&policy, ip), "{ip} should be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        let policy = EgressPolicy::public_only();
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(!refused(&policy, ip), "{ip} should pass");
        }
    }

    #[test]
    fn allow_listed_ranges_pass_and_nothing_else_does() {
        let policy = EgressPolicy::parse("127.0.0.1/32, ::1").unwrap();
        assert!(!refused(&policy, "127.0.0.1"));
        assert!(!refused(&policy, "::ffff:127.0.0.1"));
        assert!(!refused(&policy, "::1"));
        assert!(refused(&policy, "127.0.0.2"));
        assert!(refused(&policy, "10.0.0.1"));
    }

    #[test]
    fn a_bad_allow_list_says_what_to_write() {
        let err = EgressPolicy::parse("127.0.0.0/8,localhost").unwrap_err();
        assert!(err.contains("`localhost`") && err.contains("CIDR"), "{err}");
    }

    #[test]
    fn a_refusal_says_how_to_allow_the_address() {
        let url = reqwest::Url::parse("http://2130706434:8080/x").unwrap();
        let refusal = EgressPolicy::public_only().check_url(&url).unwrap_err();
        assert_eq!(refusal.ip, "127.0.0.2".parse::<IpAddr>().unwrap());
        let text = refusal.to_string();
        assert!(
            text.contains("SKEIN_HTTP_ALLOW") && text.contains("127.0.0.2/32"),
            "{text}"
        );
    }
}
