//! Per-client-IP rate limits on the login endpoints, in front of core's per-phone limits: one
//! address cannot walk through many phone numbers.
//!
//! The client is the socket peer, unless the peer is one of the trusted proxies
//! (`OTTSONLY_TRUSTED_PROXIES`): then `X-Forwarded-For` (or, without it, `Forwarded`) is read
//! from the right, and the client is the right-most hop that is not itself a trusted proxy.
//! Hops left of that were written by the client and are never believed. IPv6 clients are keyed
//! per /64, the block one subscriber usually gets.

use crate::frontends::rest::error::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::{IpNet, Ipv6Net};
use poem::Addr;
use poem::http::HeaderMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

/// Checks between two sweeps of idle per-IP state, so memory stays bounded.
const SWEEP_EVERY: u64 = 4096;

pub struct IpRateLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    checks: AtomicU64,
    trusted_proxies: Vec<IpNet>,
}

impl IpRateLimiter {
    /// `per_minute` requests per minute per IP (burst of the same size); `None` when 0 (off).
    pub fn per_minute(per_minute: u32, trusted_proxies: Vec<IpNet>) -> Option<IpRateLimiter> {
        let n = NonZeroU32::new(per_minute)?;
        Some(IpRateLimiter {
            limiter: RateLimiter::keyed(Quota::per_minute(n)),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
            trusted_proxies,
        })
    }

    /// Counts one request from the client of `addr` / `headers`; a 429 `rate_limited` with
    /// `Retry-After` when over.
    pub fn check(&self, addr: &Addr, headers: &HeaderMap) -> Result<(), ApiError> {
        // Clients without an IP (in-process tests, Unix sockets) share one bucket.
        let peer = addr.as_socket_addr().map(|a| a.ip());
        let key = rate_key(client_ip(peer, headers, &self.trusted_proxies));
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::rate_limited(secs, "too many login requests from this address; retry later")
        })
    }
}

/// The client's address: the peer, or behind trusted proxies the right-most untrusted hop.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let Some(peer) = peer.map(canonical) else { return IpAddr::V4(Ipv4Addr::UNSPECIFIED) };
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops = forwarded_hops(headers);
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop {
            // A hop we cannot read: stop at the last one we could, never look further left.
            None => break,
            Some(ip) => {
                client = *ip;
                if !is_trusted(ip) {
                    break;
                }
            }
        }
    }
    client
}

/// The bucket of an address: itself for IPv4, its /64 for IPv6.
pub fn rate_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => Ipv6Net::new(v6, 64).map(|n| IpAddr::V6(n.network())).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// `::ffff:1.2.3.4` is the IPv4 client 1.2.3.4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The hops, left to right, of every `X-Forwarded-For` line or, when there is none, of every
/// `Forwarded` line (`for=` parameters). `None` for a hop that is not an address (`unknown`,
/// an obfuscated name, garbage).
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let xff: Vec<&str> = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
    if !xff.is_empty() {
        return xff.iter().flat_map(|line| line.split(',')).map(parse_hop).collect();
    }
    let mut out = Vec::new();
    for line in headers.get_all("forwarded").iter() {
        let Ok(line) = line.to_str() else {
            out.push(None);
            continue;
        };
        for element in line.split(',') {
            let value = element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then_some(v)
            });
            out.push(value.and_then(parse_hop));
        }
    }
    out
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:4711`, optionally quoted.
fn parse_hop(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(canonical(sa.ip()));
    }
    s.strip_prefix('[').and_then(|r| r.strip_suffix(']')).and_then(|r| r.parse().ok()).map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "2001:db8:ffff::/48".parse().unwrap()];
        let xff = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.2")]);
        // An untrusted peer: its headers are ignored.
        assert_eq!(client_ip(Some(ip("198.51.100.1")), &xff, &trusted), ip("198.51.100.1"));
        assert_eq!(client_ip(Some(ip("198.51.100.1")), &xff, &[]), ip("198.51.100.1"));
        // A trusted peer: the right-most untrusted hop, not the client-written left-most one.
        assert_eq!(client_ip(Some(ip("10.0.0.1")), &xff, &trusted), ip("203.0.113.7"));
        // Several header lines are one list.
        let two = headers(&[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(client_ip(Some(ip("10.0.0.1")), &two, &trusted), ip("203.0.113.9"));
        // No header: the proxy itself.
        assert_eq!(client_ip(Some(ip("10.0.0.1")), &HeaderMap::new(), &trusted), ip("10.0.0.1"));
        // Garbage stops the walk at the last readable hop.
        let bad = headers(&[("x-forwarded-for", "6.6.6.6, nonsense, 10.0.0.3")]);
        assert_eq!(client_ip(Some(ip("10.0.0.1")), &bad, &trusted), ip("10.0.0.3"));
        // RFC 7239 `Forwarded`, with ports and IPv6.
        let fwd = headers(&[("forwarded", r#"for=6.6.6.6, for="[2001:db8:1:2::5]:4711";proto=https"#)]);
        assert_eq!(client_ip(Some(ip("10.0.0.1")), &fwd, &trusted), ip("2001:db8:1:2::5"));
        let fwd = headers(&[("forwarded", "for=192.0.2.60:8080;by=10.0.0.1")]);
        assert_eq!(client_ip(Some(ip("10.0.0.1")), &fwd, &trusted), ip("192.0.2.60"));
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        assert_eq!(rate_key(ip("2001:db8:1:2:aaaa::1")), rate_key(ip("2001:db8:1:2:bbbb::2")));
        assert_ne!(rate_key(ip("2001:db8:1:2::1")), rate_key(ip("2001:db8:1:3::1")));
        assert_eq!(rate_key(ip("::ffff:203.0.113.7")), ip("203.0.113.7"));
        assert_eq!(rate_key(ip("203.0.113.7")), ip("203.0.113.7"));
    }

    #[test]
    fn a_client_behind_a_trusted_proxy_gets_its_own_bucket() {
        let l = IpRateLimiter::per_minute(1, vec!["10.0.0.0/8".parse().unwrap()]).unwrap();
        let proxy = Addr::SocketAddr("10.0.0.1:443".parse().unwrap());
        let a = headers(&[("x-forwarded-for", "203.0.113.1")]);
        let b = headers(&[("x-forwarded-for", "203.0.113.2")]);
        assert!(l.check(&proxy, &a).is_ok());
        assert!(l.check(&proxy, &b).is_ok(), "another client behind the same proxy");
        assert!(l.check(&proxy, &a).is_err(), "the first one again");
        // A spoofed left-most hop does not buy a new bucket.
        let spoof = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.1")]);
        assert!(l.check(&proxy, &spoof).is_err());
        // IPv6 neighbours in one /64 share a bucket.
        let direct = |s: &str| Addr::SocketAddr(SocketAddr::new(ip(s), 1234));
        assert!(l.check(&direct("2001:db8:1:2::1"), &HeaderMap::new()).is_ok());
        assert!(l.check(&direct("2001:db8:1:2::2"), &HeaderMap::new()).is_err());
    }
}
