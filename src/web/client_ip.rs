//! The client's address, as far as we can trust it.
//!
//! The socket peer is the truth unless the peer is one of our configured proxies; only
//! then is `X-Forwarded-For` read, from the right (the entry our proxy appended) leftwards,
//! skipping further trusted proxies. Entries to the left of the first untrusted hop were
//! written by the client and could say anything, so they are never used: a client that
//! sends `X-Forwarded-For: 1.2.3.4` straight to us is keyed by its real address.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

/// The resolved client address of the current request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ClientIp(pub IpAddr);

/// Resolves the client address from the socket peer and the forwarding header.
pub(crate) fn resolve(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    // Several X-Forwarded-For headers are one comma-separated list, in order.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => client = ip,
            Ok(ip) => return ip,
            // Garbage from here leftwards: the last trusted hop is the best we know.
            Err(_) => return client,
        }
    }
    client
}

/// The socket peer, or the unspecified address when a request did not come through a
/// real listener (in-process tests).
pub(crate) fn peer_of(parts_extensions: &axum::http::Extensions) -> IpAddr {
    parts_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Resolved once by the rate-limit middleware; fall back to the raw peer.
        Ok(parts
            .extensions
            .get::<ClientIp>()
            .copied()
            .unwrap_or_else(|| ClientIp(peer_of(&parts.extensions))))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(xff).expect("ascii"));
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forwarded_for_from_an_untrusted_peer_is_ignored() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("cidr")];
        assert_eq!(resolve(ip("203.0.113.9"), &headers("1.2.3.4"), &proxies), ip("203.0.113.9"));
        assert_eq!(resolve(ip("203.0.113.9"), &headers("1.2.3.4"), &[]), ip("203.0.113.9"));
    }

    #[test]
    fn a_trusted_proxy_chain_yields_the_first_untrusted_hop_from_the_right() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("cidr")];
        // The client claimed 1.2.3.4; our proxies saw 198.51.100.7 connect.
        let h = headers("1.2.3.4, 198.51.100.7, 10.1.1.1");
        assert_eq!(resolve(ip("10.0.0.5"), &h, &proxies), ip("198.51.100.7"));
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_hop() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("cidr")];
        assert_eq!(resolve(ip("10.0.0.5"), &headers("not-an-ip, 10.2.2.2"), &proxies), ip("10.2.2.2"));
        assert_eq!(resolve(ip("10.0.0.5"), &HeaderMap::new(), &proxies), ip("10.0.0.5"));
    }
}
