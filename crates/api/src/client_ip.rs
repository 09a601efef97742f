//! Who is asking: the client's IP address, for the per-IP rate limits and the sessions list.
//!
//! The client is the TCP peer. `X-Forwarded-For` is believed only when the peer is a trusted
//! proxy (`PORTCULLIS_TRUSTED_PROXIES`, none by default): then the header is read from the
//! right — each proxy appends the address it saw — and the first address that is not itself
//! a trusted proxy is the client. Anything left of it was written by the client and could be
//! forged, so it is never looked at.

use std::net::{IpAddr, SocketAddr};

use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::http::header::HeaderName;
use ipnet::{IpNet, Ipv6Net};
use portcullis_domain::SessionMetadata;

/// The `X-Forwarded-For` header.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Parses the trusted-proxy list: CIDRs (`10.0.0.0/8`, `fd00::/8`) or single addresses.
///
/// # Errors
/// The first entry that is neither, as a message.
pub fn parse_trusted_proxies(entries: &[String]) -> Result<Vec<IpNet>, String> {
    entries
        .iter()
        .map(|entry| {
            let entry = entry.trim();
            entry
                .parse::<IpNet>()
                .map(|net| net.trunc())
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{entry} is not a CIDR or an IP address"))
        })
        .collect()
}

/// The client's address: the TCP peer, or the right-most `X-Forwarded-For` address that is
/// not a trusted proxy when the peer is one. `None` only when the connection has no peer
/// address (as in some in-process tests).
pub fn client_ip(req: &HttpRequest, trusted_proxies: &[IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if trusted_proxies.is_empty() {
        return Some(peer.to_canonical());
    }
    let values: Vec<&str> =
        req.headers().get_all(X_FORWARDED_FOR).map(|value| value.to_str().unwrap_or("invalid")).collect();
    let hops: Vec<&str> = values.iter().flat_map(|value| value.split(',')).collect();
    Some(resolve(peer, &hops, trusted_proxies))
}

/// The rate-limit key of a client address: the address itself for IPv4, its `/64` network
/// for IPv6 (one host or subnet usually holds a whole `/64`, so counting single addresses
/// there would let one client rotate through billions of them).
pub fn rate_limit_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => Ipv6Net::new(v6, 64).map(|net| net.trunc().to_string()).unwrap_or_else(|_| v6.to_string()),
    }
}

/// Walks `hops` (the `X-Forwarded-For` entries, left to right) from the right, starting at
/// the peer, while the address in hand is a trusted proxy. An entry that is not an address
/// stops the walk: the last trusted address is the best one known.
fn resolve(peer: IpAddr, hops: &[&str], trusted_proxies: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    let mut client = peer.to_canonical();
    for hop in hops.iter().rev() {
        if !is_trusted(&client) {
            break;
        }
        match parse_hop(hop) {
            Some(ip) => client = ip.to_canonical(),
            None => break,
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:80`,
/// `[2001:db8::1]:80`) or in brackets.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
        .or_else(|| hop.strip_prefix('[')?.strip_suffix(']')?.parse::<IpAddr>().ok())
}

/// Where a login comes from: its `User-Agent` and client IP, kept with the new session.
pub fn session_metadata(req: &HttpRequest, trusted_proxies: &[IpNet]) -> SessionMetadata {
    SessionMetadata {
        user_agent: req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
        ip: client_ip(req, trusted_proxies).map(|ip| ip.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        parse_trusted_proxies(&list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).expect("valid list")
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn request(peer: &str, forwarded_for: &[&str]) -> HttpRequest {
        let mut request = TestRequest::default().peer_addr(SocketAddr::new(ip(peer), 40_000));
        for value in forwarded_for {
            request = request.append_header(("X-Forwarded-For", *value));
        }
        request.to_http_request()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(client_ip(&request("203.0.113.9", &["198.51.100.1"]), &trusted), Some(ip("203.0.113.9")));
        assert_eq!(client_ip(&request("203.0.113.9", &["198.51.100.1"]), &[]), Some(ip("203.0.113.9")));
    }

    #[test]
    fn a_trusted_peer_hands_over_to_the_right_most_untrusted_address() {
        let trusted = nets(&["10.0.0.0/8", "192.0.2.1"]);
        // The client forged the left-most entry; the proxies appended the rest.
        let forwarded = ["1.1.1.1, 198.51.100.7, 192.0.2.1"];
        assert_eq!(client_ip(&request("10.1.2.3", &forwarded), &trusted), Some(ip("198.51.100.7")));
        // Repeated headers are one list, in order.
        let split = ["1.1.1.1", "198.51.100.7", "192.0.2.1"];
        assert_eq!(client_ip(&request("10.1.2.3", &split), &trusted), Some(ip("198.51.100.7")));
    }

    #[test]
    fn a_trusted_peer_without_a_usable_header_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(client_ip(&request("10.1.2.3", &[]), &trusted), Some(ip("10.1.2.3")));
        assert_eq!(client_ip(&request("10.1.2.3", &["unknown"]), &trusted), Some(ip("10.1.2.3")));
        assert_eq!(client_ip(&request("10.1.2.3", &["198.51.100.7, garbage"]), &trusted), Some(ip("10.1.2.3")));
        // Only trusted hops: the left-most is as far as can be known.
        assert_eq!(client_ip(&request("10.1.2.3", &["10.9.9.9, 10.8.8.8"]), &trusted), Some(ip("10.9.9.9")));
    }

    #[test]
    fn hops_may_carry_ports_and_brackets_and_mapped_addresses_are_ipv4() {
        let trusted = nets(&["::1/128", "127.0.0.1/32"]);
        assert_eq!(client_ip(&request("::1", &["198.51.100.7:5000"]), &trusted), Some(ip("198.51.100.7")));
        assert_eq!(client_ip(&request("::1", &["[2001:db8::5]:443"]), &trusted), Some(ip("2001:db8::5")));
        assert_eq!(client_ip(&request("::1", &["[2001:db8::5]"]), &trusted), Some(ip("2001:db8::5")));
        assert_eq!(client_ip(&request("::ffff:127.0.0.1", &["198.51.100.7"]), &trusted), Some(ip("198.51.100.7")));
    }

    #[test]
    fn ipv6_clients_are_limited_per_64() {
        assert_eq!(rate_limit_key(ip("203.0.113.9")), "203.0.113.9");
        assert_eq!(rate_limit_key(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(rate_limit_key(ip("2001:db8:1:2:bbbb::9")), "2001:db8:1:2::/64");
        assert_eq!(rate_limit_key(ip("::ffff:203.0.113.9")), "203.0.113.9");
    }

    #[test]
    fn the_trusted_list_takes_cidrs_and_single_addresses() {
        assert_eq!(
            nets(&["10.1.2.3/8", "192.0.2.1", "fd00::/8"]),
            vec![
                "10.0.0.0/8".parse::<IpNet>().expect("net"),
                "192.0.2.1/32".parse().expect("net"),
                "fd00::/8".parse().expect("net"),
            ]
        );
        assert!(parse_trusted_proxies(&["10.0.0.0/99".to_owned()]).is_err());
        assert!(parse_trusted_proxies(&["example.com".to_owned()]).is_err());
    }
}
