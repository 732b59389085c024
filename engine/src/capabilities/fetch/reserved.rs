//! The control plane is closed to charms: the socket addresses of the
//! daemon's own API and of its database are never reachable from a
//! charm's `fetch`, whatever its allow-list says.
//!
//! The allow-list decides what a charm may reach; this is the host's own
//! exception, applied after it, on literal addresses (with the URL's port)
//! before the request and on every redirect, and on the addresses a name
//! resolves to. A resolver does not see the port a name will be dialled on,
//! so a name that resolves to a reserved address is refused when its
//! allow-list entries let it be fetched on a reserved port (an entry with
//! no port does); `localhost:9000` still reaches another service on the
//! machine.
//!
//! An address listened on as unspecified (`0.0.0.0`, `[::]`) stands for
//! every address of the machine: loopback, unspecified, and each
//! interface's (read once, when the set is made).

use std::net::{IpAddr, SocketAddr};

/// One reserved socket address and what it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reserved {
    /// `None`: any address of this machine.
    ip: Option<IpAddr>,
    port: u16,
    what: String,
}

/// The daemon's own addresses, which no charm may reach. Empty by default
/// (`charm-host run` has no control plane).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReservedAddrs {
    reserved: Vec<Reserved>,
    /// This machine's addresses, when an unspecified address is reserved.
    local: Vec<IpAddr>,
}

impl ReservedAddrs {
    /// No reserved addresses.
    pub fn none() -> ReservedAddrs {
        ReservedAddrs::default()
    }

    /// Reserves `addr`, described as `what` (e.g. "this daemon's API") in
    /// refusals. An unspecified IP reserves the port on every address of
    /// the machine.
    pub fn reserve(&mut self, addr: SocketAddr, what: impl Into<String>) {
        let ip = (!addr.ip().is_unspecified()).then(|| canonical(addr.ip()));
        if ip.is_none() && self.local.is_empty() {
            self.local = machine_addresses();
        }
        self.reserved.push(Reserved {
            ip,
            port: addr.port(),
            what: what.into(),
        });
    }

    /// Whether nothing is reserved.
    pub fn is_empty(&self) -> bool {
        self.reserved.is_empty()
    }

    fn is_local(&self, ip: IpAddr) -> bool {
        ip.is_loopback() || ip.is_unspecified() || self.local.contains(&ip)
    }

    fn covers(&self, entry: &Reserved, ip: IpAddr) -> bool {
        match entry.ip {
            Some(reserved) => reserved == ip,
            None => self.is_local(ip),
        }
    }

    /// What `ip:port` serves, when it is reserved.
    pub fn serves(&self, ip: IpAddr, port: u16) -> Option<&str> {
        let ip = canonical(ip);
        self.reserved
            .iter()
            .find(|r| r.port == port && self.covers(r, ip))
            .map(|r| r.what.as_str())
    }

    /// The reserved ports at `ip`, with what each serves.
    pub fn ports_at(&self, ip: IpAddr) -> impl Iterator<Item = (u16, &str)> {
        let ip = canonical(ip);
        self.reserved
            .iter()
            .filter(move |r| self.covers(r, ip))
            .map(|r| (r.port, r.what.as_str()))
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    // A connection to the unspecified address goes to this host's loopback
    // (Linux dials 127.0.0.1 for 0.0.0.0, and ::1 for ::), so it reaches a
    // listener on loopback: compare it as loopback.
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        other => other,
    }
}

/// Every address of this machine's interfaces (none when they cannot be
/// read: loopback and unspecified are covered regardless).
fn machine_addresses() -> Vec<IpAddr> {
    match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces.iter().map(|i| canonical(i.ip())).collect(),
        Err(error) => {
            tracing::warn!(%error, "could not list this machine's addresses; reserving loopback only");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_specific_address_is_reserved_on_its_port_only() {
        let mut r = ReservedAddrs::none();
        r.reserve("127.0.0.1:8080".parse().unwrap(), "this daemon's API");
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(r.serves(lo, 8080), Some("this daemon's API"));
        assert_eq!(r.serves(lo, 9000), None);
        assert_eq!(r.serves("127.0.0.2".parse().unwrap(), 8080), None);
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(r.serves(mapped, 8080), Some("this daemon's API"));
        assert_eq!(
            r.ports_at(lo).collect::<Vec<_>>(),
            [(8080, "this daemon's API")]
        );
    }

    #[test]
    fn the_unspecified_address_reaches_a_loopback_listener() {
        let mut r = ReservedAddrs::none();
        r.reserve("127.0.0.1:8080".parse().unwrap(), "this daemon's API");
        r.reserve("[::1]:9090".parse().unwrap(), "its database");
        assert!(r.serves("0.0.0.0".parse().unwrap(), 8080).is_some());
        assert!(r.serves("::".parse().unwrap(), 9090).is_some());
        assert!(r.serves("::ffff:0.0.0.0".parse().unwrap(), 8080).is_some());
        assert!(r.serves("0.0.0.0".parse().unwrap(), 8081).is_none());
    }

    #[test]
    fn an_unspecified_address_reserves_the_port_on_every_local_address() {
        let mut r = ReservedAddrs::none();
        r.reserve("0.0.0.0:8080".parse().unwrap(), "this daemon's API");
        for ip in ["127.0.0.1", "127.9.9.9", "0.0.0.0", "::1", "::"] {
            assert!(r.serves(ip.parse().unwrap(), 8080).is_some(), "{ip}");
        }
        for local in machine_addresses() {
            assert!(r.serves(local, 8080).is_some(), "{local}");
        }
        assert_eq!(r.serves("93.184.216.34".parse().unwrap(), 8080), None);
    }
}
