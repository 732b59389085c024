//! Which IP addresses a charm may reach without an exact allow-list entry.
//!
//! Owns the classification of addresses into "public" and the named kinds of
//! non-public ranges. A charm may reach a non-public address only through an
//! exact allow-list entry for that host; see [`super::allow_list`].
//!
//! Embedded IPv4 addresses (IPv4-mapped, IPv4-compatible, NAT64 and 6to4
//! IPv6 forms) are judged by the IPv4 address they carry, so `[::ffff:127.0.0.1]`
//! is loopback.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Returns `None` for a public unicast address, or the name of the
/// non-public range the address belongs to.
pub fn non_public_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_range(v4),
        IpAddr::V6(v6) => v6_range(v6),
    }
}

fn v4_range(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let range = match (a, b, c) {
        (0, _, _) => "unspecified (0.0.0.0/8)",
        (127, _, _) => "loopback",
        (10, _, _) => "private (10.0.0.0/8)",
        (172, 16..=31, _) => "private (172.16.0.0/12)",
        (192, 168, _) => "private (192.168.0.0/16)",
        (169, 254, _) => "link-local (169.254.0.0/16, cloud metadata)",
        (100, 64..=127, _) => "shared address space (100.64.0.0/10)",
        (192, 0, 0) => "IETF protocol assignments (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking (198.18.0.0/15)",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved (240.0.0.0/4)",
        _ => return None,
    };
    Some(range)
}

fn v6_range(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = embedded_v4(ip) {
        return v4_range(v4);
    }
    let segments = ip.segments();
    let range = match segments {
        [0, 0, 0, 0, 0, 0, 0, 0] => "unspecified (::)",
        [0, 0, 0, 0, 0, 0, 0, 1] => "loopback",
        [0x100, 0, 0, 0, ..] => "discard (100::/64)",
        [0x2001, 0x0db8, ..] => "documentation",
        [0x2001, 0, ..] => "Teredo (2001::/32)",
        [s, ..] if s & 0xfe00 == 0xfc00 => "unique local (fc00::/7)",
        [s, ..] if s & 0xffc0 == 0xfe80 => "link-local (fe80::/10)",
        [s, ..] if s & 0xffc0 == 0xfec0 => "site-local (fec0::/10)",
        [s, ..] if s & 0xff00 == 0xff00 => "multicast",
        _ => return None,
    };
    Some(range)
}

/// The IPv4 address carried by an IPv6 address, for the forms that route to
/// that IPv4 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated);
        // `::` and `::1` are handled by the caller's own cases.
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        [0, 0, 0, 0, 0, 0, hi, _] if hi != 0 => Some(tail),
        // 64:ff9b::a.b.c.d (NAT64)
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        // 2002:AABB:CCDD::/48 (6to4)
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(s: &str) -> Option<&'static str> {
        non_public_range(s.parse().unwrap())
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "93.184.215.14",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "8.8.8.8",
            "172.32.0.1",
        ] {
            assert_eq!(range(ip), None, "{ip}");
        }
    }

    #[test]
    fn every_non_public_form_is_caught() {
        for ip in [
            "127.0.0.1",
            "127.255.255.254",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
        ] {
            assert!(range(ip).is_some(), "{ip} should be non-public");
        }
    }

    #[test]
    fn mapped_addresses_are_judged_by_their_ipv4() {
        assert_eq!(range("::ffff:127.0.0.1"), Some("loopback"));
        assert_eq!(range("::ffff:8.8.8.8"), None);
    }
}
