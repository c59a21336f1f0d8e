//! The client's IP address, for per-client limits.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed (`BLOG_TRUSTED_PROXIES`): all that the login
/// handler and the rate limiter need to know of the settings to tell who the client is. App
/// data, built once at startup.
#[derive(Debug, Clone)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub fn new(networks: &[IpNet]) -> Self {
        Self(networks.into())
    }

    /// The client's address: see [`client_ip`].
    pub fn client_ip(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        client_ip(peer, headers, &self.0)
    }
}

/// The peer address, unless the peer is a trusted proxy: then the nearest address in
/// `X-Forwarded-For` that is not itself a trusted proxy (walking right to left, since only the
/// entries our proxies appended can be believed; a client can write anything to the left).
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|entry| entry.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !is_trusted(ip))
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(xff: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(
            HeaderName::from_static("x-forwarded-for"),
            HeaderValue::from_str(xff).unwrap(),
        );
        map
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let spoofed = headers("1.2.3.4, 198.51.100.7, 10.0.0.3");
        assert_eq!(
            client_ip(Some(stranger), &spoofed, &trusted),
            Some(stranger),
            "untrusted peer"
        );
        assert_eq!(
            client_ip(Some(proxy), &spoofed, &trusted),
            Some("198.51.100.7".parse().unwrap()),
            "rightmost address not of a trusted proxy"
        );
        assert_eq!(
            client_ip(Some(proxy), &HeaderMap::new(), &trusted),
            Some(proxy),
            "no header"
        );
        assert_eq!(
            client_ip(Some(proxy), &spoofed, &[]),
            Some(proxy),
            "no trusted proxies"
        );
    }
}
