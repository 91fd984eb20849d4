//! The client's address. The TCP peer is the client unless it is one of
//! the configured trusted proxies; then `Forwarded` (RFC 7239) or
//! `X-Forwarded-For` name the chain, and the client is the right-most
//! address that is not itself a trusted proxy. Anything a client could
//! prepend to those headers lies to the left of that and is ignored.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use isms_domain::net::canonical;

/// The resolved client address, put in every request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Arc<Vec<IpNet>>);

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        isms_domain::net::in_any(&self.0, ip)
    }
}

/// One hop of `Forwarded: for=...`: strips quotes, brackets and port.
fn parse_node(raw: &str) -> Option<IpAddr> {
    let v = raw.trim().trim_matches('"');
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    if let Ok(ip) = v.parse() {
        return Some(ip);
    }
    // IPv4 with a port.
    let (host, _port) = v.rsplit_once(':')?;
    host.parse().ok()
}

/// The forwarding chain, client first; `None` when a header is present but
/// malformed (then nothing in it is trusted).
fn forwarded_chain(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        let mut chain = Vec::new();
        for element in forwarded.iter().flat_map(|v| v.split(',')) {
            for pair in element.split(';') {
                if let Some((k, v)) = pair.split_once('=')
                    && k.trim().eq_ignore_ascii_case("for")
                {
                    chain.push(parse_node(v)?);
                }
            }
        }
        return Some(chain);
    }
    let xff: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    xff.iter()
        .flat_map(|v| v.split(','))
        .map(parse_node)
        .collect()
}

/// The client address for a request from `peer`.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    if !trusted.trusts(peer) {
        return canonical(peer);
    }
    let Some(chain) = forwarded_chain(headers) else {
        return canonical(peer);
    };
    let mut client = canonical(peer);
    for hop in chain.into_iter().rev() {
        client = canonical(hop);
        if !trusted.trusts(hop) {
            break;
        }
    }
    client
}

pub async fn layer(State(trusted): State<TrustedProxies>, req: Request, next: Next) -> Response {
    around(&trusted, req, async |req| next.run(req).await).await
}

/// The layer's work around `inner` (the outer middleware runs it without
/// a `from_fn` layer of its own).
pub(crate) async fn around(
    trusted: &TrustedProxies,
    mut req: Request,
    inner: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    if let Some(peer) = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    {
        let ip = resolve(peer, req.headers(), trusted);
        req.extensions_mut().insert(ClientIp(ip));
        // Also on the response, for the outer layer's `request.completed`.
        let mut res = inner(req).await;
        res.extensions_mut().insert(ClientIp(ip));
        return res;
    }
    inner(req).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn trusted(nets: &[&str]) -> TrustedProxies {
        TrustedProxies(Arc::new(nets.iter().map(|n| n.parse().unwrap()).collect()))
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_the_headers_say() {
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(resolve(ip("9.9.9.9"), &h, &trusted(&[])), ip("9.9.9.9"));
        assert_eq!(
            resolve(ip("9.9.9.9"), &h, &trusted(&["10.0.0.0/8"])),
            ip("9.9.9.9")
        );
    }

    #[test]
    fn right_most_untrusted_address_wins() {
        let t = trusted(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.7")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &t), ip("1.2.3.4"));
    }

    #[test]
    fn forwarded_header_is_preferred_and_parsed() {
        let t = trusted(&["10.0.0.0/8"]);
        let h = headers(&[
            (
                "forwarded",
                "for=\"[2001:db8::1]:443\";proto=https, for=10.0.0.2",
            ),
            ("x-forwarded-for", "7.7.7.7"),
        ]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &t), ip("2001:db8::1"));
    }

    #[test]
    fn malformed_chain_falls_back_to_the_peer() {
        let t = trusted(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "1.2.3.4, not-an-ip")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &t), ip("10.0.0.1"));
    }

    #[test]
    fn mapped_ipv6_peer_compares_as_ipv4() {
        let t = trusted(&["127.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "5.5.5.5")]);
        assert_eq!(resolve(ip("::ffff:127.0.0.1"), &h, &t), ip("5.5.5.5"));
    }
}
