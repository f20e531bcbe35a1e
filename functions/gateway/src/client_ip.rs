//! The client's address, for limits per address. By default it is the address the
//! request came from: the TCP peer, or under Lambda the source IP API Gateway or the
//! function URL reports. A header that names another client address is believed only
//! when configured (`TRUSTED_PROXIES`), since anyone can send it:
//! - `cloudfront`: CloudFront's `CloudFront-Viewer-Address`, believed only on requests
//!   that carry the origin secret CloudFront adds (`X-Origin-Verify`, the value of
//!   `CLOUDFRONT_ORIGIN_SECRET[_ARN]`): anyone may call the function URL directly, with
//!   any header but that one;
//! - a list of proxy addresses and CIDR blocks (`10.0.0.0/8, 192.0.2.7`): when the
//!   request comes from one of them, `X-Forwarded-For` is read from the right, skipping
//!   the listed proxies; the first other address is the client's.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use service_kit::config::ConfigError;

#[derive(Clone, Default, PartialEq, Eq)]
pub enum TrustedProxies {
    /// No header is believed.
    #[default]
    None,
    /// `CloudFront-Viewer-Address`, on requests with the origin secret (none is believed
    /// until the secret is known: see [`TrustedProxies::with_origin_secret`]).
    CloudFront {
        origin_secret: Option<Arc<str>>,
    },
    Hops(Vec<Cidr>),
}

/// The header CloudFront adds to each request it sends to the gateway.
pub const ORIGIN_SECRET_HEADER: &str = "x-origin-verify";

/// Shorter origin secrets are refused: the header must not be guessable.
pub const MIN_ORIGIN_SECRET_BYTES: usize = 32;

impl std::fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            // Never the secret itself.
            Self::CloudFront { origin_secret } => f
                .debug_struct("CloudFront")
                .field("origin_secret", &origin_secret.as_ref().map(|_| "<set>"))
                .finish(),
            Self::Hops(hops) => f.debug_tuple("Hops").field(hops).finish(),
        }
    }
}

/// An address block: `address/prefix`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (address, prefix) = match raw.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (raw, None),
        };
        let network: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("{raw:?} is not an address or a CIDR block"))?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("{raw:?} has an invalid prefix length"))?,
            None => bits,
        };
        Ok(Self { network, prefix })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                masked(u128::from(u32::from(network)), 32, self.prefix)
                    == masked(u128::from(u32::from(address)), 32, self.prefix)
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                masked(u128::from(network), 128, self.prefix)
                    == masked(u128::from(address), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// The top `prefix` bits of a `bits`-wide address.
fn masked(address: u128, bits: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        address >> (bits - prefix)
    }
}

impl TrustedProxies {
    /// `TRUSTED_PROXIES`: empty, `cloudfront`, or a comma-separated list of addresses
    /// and CIDR blocks.
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(Self::None);
        }
        if raw.eq_ignore_ascii_case("cloudfront") {
            return Ok(Self::CloudFront {
                origin_secret: None,
            });
        }
        raw.split(',')
            .map(|part| Cidr::parse(part.trim()))
            .collect::<Result<Vec<_>, _>>()
            .map(Self::Hops)
            .map_err(|error| ConfigError::new(format!("TRUSTED_PROXIES: {error}")))
    }

    /// With `cloudfront`, the origin secret that proves a request came through
    /// CloudFront; refused when shorter than [`MIN_ORIGIN_SECRET_BYTES`].
    pub fn with_origin_secret(self, secret: Arc<str>) -> Result<Self, ConfigError> {
        match self {
            Self::CloudFront { .. } if secret.trim().len() >= MIN_ORIGIN_SECRET_BYTES => {
                Ok(Self::CloudFront {
                    origin_secret: Some(Arc::from(secret.trim())),
                })
            }
            Self::CloudFront { .. } => Err(ConfigError::new(format!(
                "CLOUDFRONT_ORIGIN_SECRET must be at least {MIN_ORIGIN_SECRET_BYTES} bytes"
            ))),
            other => Ok(other),
        }
    }

    /// The client's address, as far as the configuration lets us believe.
    pub fn client_ip(&self, request: &Request) -> Option<IpAddr> {
        let peer = peer_ip(request);
        match self {
            Self::None => peer,
            Self::CloudFront { origin_secret } => {
                let through_cloudfront = origin_secret.as_deref().is_some_and(|secret| {
                    request
                        .headers()
                        .get(ORIGIN_SECRET_HEADER)
                        .is_some_and(|presented| same_secret(presented.as_bytes(), secret))
                });
                if !through_cloudfront {
                    return peer;
                }
                request
                    .headers()
                    .get("cloudfront-viewer-address")
                    .and_then(|v| v.to_str().ok())
                    .and_then(viewer_address)
                    .or(peer)
            }
            Self::Hops(proxies) => {
                let trusted = |ip: &IpAddr| proxies.iter().any(|p| p.contains(*ip));
                match peer {
                    Some(peer) if trusted(&peer) => {
                        let forwarded = request
                            .headers()
                            .get_all("x-forwarded-for")
                            .iter()
                            .filter_map(|v| v.to_str().ok())
                            .flat_map(|v| v.split(','))
                            .map(str::trim)
                            .collect::<Vec<_>>();
                        client_from_hops(&forwarded, trusted).or(Some(peer))
                    }
                    other => other,
                }
            }
        }
    }
}

/// What limits per address count a client as: its IPv4 address, or its IPv6 /64, the
/// block one subscriber is given (RFC 6177), in which it may use any of 2^64 addresses.
pub fn address_block(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let network = u128::from(v6) & !(u128::from(u64::MAX));
                format!("{}/64", Ipv6Addr::from(network))
            }
        },
    }
}

/// Compares in time that does not depend on where the values differ.
fn same_secret(presented: &[u8], secret: &str) -> bool {
    let secret = secret.as_bytes();
    presented.len() == secret.len()
        && presented
            .iter()
            .zip(secret)
            .fold(0u8, |differ, (a, b)| differ | (a ^ b))
            == 0
}

/// Reads the hops from the right: the first address that is not a trusted proxy.
fn client_from_hops(hops: &[&str], trusted: impl Fn(&IpAddr) -> bool) -> Option<IpAddr> {
    for hop in hops.iter().rev() {
        let ip: IpAddr = hop.parse().ok()?;
        if !trusted(&ip) {
            return Some(ip);
        }
    }
    None
}

/// `CloudFront-Viewer-Address`: the viewer's address and port, `198.51.100.10:46532`
/// or `2001:db8::1:46532` (IPv6 without brackets: the port follows the last colon).
fn viewer_address(value: &str) -> Option<IpAddr> {
    let (address, port) = value.trim().rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    address.trim_matches(['[', ']']).parse().ok()
}

/// Where the request came from: under Lambda, the source IP the event reports; else
/// the TCP peer.
fn peer_ip(request: &Request) -> Option<IpAddr> {
    let lambda = request
        .extensions()
        .get::<lambda_http::request::RequestContext>()
        .and_then(|context| match context {
            lambda_http::request::RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.clone(),
            lambda_http::request::RequestContext::ApiGatewayV1(ctx) => {
                ctx.identity.source_ip.clone()
            }
            lambda_http::request::RequestContext::WebSocket(ctx) => ctx.identity.source_ip.clone(),
            _ => None,
        })
        .and_then(|ip| ip.parse().ok());
    lambda.or_else(|| {
        request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(peer: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = axum::http::Request::builder();
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder.body(axum::body::Body::empty()).expect("request");
        let peer: SocketAddr = format!("{peer}:40000").parse().expect("address");
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    }

    fn ip(raw: &str) -> Option<IpAddr> {
        Some(raw.parse().expect("ip"))
    }

    #[test]
    fn by_default_no_header_is_believed() {
        let request = request(
            "203.0.113.9",
            &[
                ("x-forwarded-for", "1.2.3.4"),
                ("cloudfront-viewer-address", "5.6.7.8:443"),
            ],
        );
        assert_eq!(TrustedProxies::None.client_ip(&request), ip("203.0.113.9"));
    }

    const ORIGIN_SECRET: &str = "an-origin-secret-of-32-bytes-or-more";

    #[test]
    fn cloudfront_gives_the_viewer_address_of_requests_with_the_origin_secret() {
        let trust = TrustedProxies::parse("cloudfront")
            .expect("valid")
            .with_origin_secret(ORIGIN_SECRET.into())
            .expect("long enough");
        let through = |viewer: &str| {
            request(
                "10.0.0.1",
                &[
                    ("cloudfront-viewer-address", viewer),
                    (ORIGIN_SECRET_HEADER, ORIGIN_SECRET),
                ],
            )
        };
        assert_eq!(
            trust.client_ip(&through("198.51.100.10:46532")),
            ip("198.51.100.10")
        );
        assert_eq!(
            trust.client_ip(&through("2001:db8::1:46532")),
            ip("2001:db8::1")
        );
        assert_eq!(trust.client_ip(&through("nonsense")), ip("10.0.0.1"));
    }

    #[test]
    fn without_the_origin_secret_the_viewer_address_is_not_believed() {
        let viewer = ("cloudfront-viewer-address", "198.51.100.10:46532");
        let trust = TrustedProxies::parse("cloudfront")
            .expect("valid")
            .with_origin_secret(ORIGIN_SECRET.into())
            .expect("long enough");
        for headers in [
            vec![viewer],
            vec![viewer, (ORIGIN_SECRET_HEADER, "a-guess")],
            vec![viewer, (ORIGIN_SECRET_HEADER, &ORIGIN_SECRET[1..])],
        ] {
            assert_eq!(
                trust.client_ip(&request("10.0.0.1", &headers)),
                ip("10.0.0.1")
            );
        }
        // Not yet given its secret, `cloudfront` believes nobody.
        let unresolved = TrustedProxies::parse("cloudfront").expect("valid");
        let with_secret = request("10.0.0.1", &[viewer, (ORIGIN_SECRET_HEADER, ORIGIN_SECRET)]);
        assert_eq!(unresolved.client_ip(&with_secret), ip("10.0.0.1"));
        assert!(
            TrustedProxies::parse("cloudfront")
                .expect("valid")
                .with_origin_secret("short".into())
                .is_err()
        );
        assert!(!format!("{trust:?}").contains(ORIGIN_SECRET));
    }

    #[test]
    fn forwarded_hops_are_read_from_the_right_and_only_from_trusted_proxies() {
        let trust = TrustedProxies::parse("10.0.0.0/8, 192.0.2.7").expect("valid");
        let through = request(
            "10.1.2.3",
            &[("x-forwarded-for", "6.6.6.6, 198.51.100.4, 192.0.2.7")],
        );
        // 6.6.6.6 could be anything the client wrote: the last untrusted hop counts.
        assert_eq!(trust.client_ip(&through), ip("198.51.100.4"));
        let direct = request("203.0.113.9", &[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(trust.client_ip(&direct), ip("203.0.113.9"));
        let only_proxies = request("10.1.2.3", &[("x-forwarded-for", "10.9.9.9")]);
        assert_eq!(trust.client_ip(&only_proxies), ip("10.1.2.3"));
    }

    #[test]
    fn blocks_match_by_prefix() {
        let block = Cidr::parse("192.168.0.0/16").expect("valid");
        assert!(block.contains("192.168.200.1".parse().expect("ip")));
        assert!(!block.contains("192.169.0.1".parse().expect("ip")));
        assert!(!block.contains("::1".parse().expect("ip")));
        assert!(
            Cidr::parse("::/0")
                .expect("valid")
                .contains("2001:db8::1".parse().expect("ip"))
        );
        for bad in ["10.0.0.0/33", "nope", "10.0.0.0/x"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_count_an_ipv6_client_by_its_64_and_an_ipv4_one_by_its_address() {
        let block = |raw: &str| address_block(raw.parse().expect("ip"));
        assert_eq!(block("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            block("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            "2001:db8:1:2::/64"
        );
        assert_ne!(block("2001:db8:1:3::1"), block("2001:db8:1:2::1"));
        assert_eq!(block("198.51.100.7"), "198.51.100.7");
        assert_ne!(block("198.51.100.7"), block("198.51.100.8"));
        assert_eq!(block("::ffff:198.51.100.7"), "198.51.100.7");
    }
}
