//! Network-address rules shared by every place that matches a client
//! address against configured networks (trusted proxies, the tenant access
//! policy, the metrics allow-list).

use std::net::IpAddr;

use ipnet::IpNet;

/// IPv4-mapped IPv6 addresses (dual-stack sockets) are their IPv4 selves.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip`, canonicalised, lies in any of `nets`.
pub fn in_any(nets: &[IpNet], ip: IpAddr) -> bool {
    let ip = canonical(ip);
    nets.iter().any(|net| net.contains(&ip))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn mapped_v6_matches_v4_networks() {
        let nets: Vec<IpNet> = vec![
            "10.0.0.0/8".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ];
        assert!(in_any(&nets, "::ffff:10.1.2.3".parse().unwrap()));
        assert!(in_any(&nets, "10.1.2.3".parse().unwrap()));
        assert!(in_any(&nets, "2001:db8::1".parse().unwrap()));
        assert!(!in_any(&nets, "::ffff:11.1.2.3".parse().unwrap()));
        assert!(!in_any(&[], "10.1.2.3".parse().unwrap()));
    }
}
