//! A charm's network allow-list: which hosts it may fetch from.
//!
//! Owns parsing of allow-list entries and the pure decision "may this URL be
//! fetched, and may its host resolve to non-public addresses". It performs no
//! I/O; the HTTP client calls [`AllowList::check_url`] before each request and
//! on every redirect, and [`AllowList::check_addresses`] after DNS.
//!
//! The default is to deny: an empty list allows nothing. Entries are
//!
//! | entry              | allows                                           |
//! |--------------------|--------------------------------------------------|
//! | `example.com`      | that host, any port                              |
//! | `example.com:8443` | that host on that port                           |
//! | `*.example.com`    | any subdomain (not `example.com` itself)         |
//! | `127.0.0.1:8080`   | that address and port                            |
//! | `[::1]:8080`       | an IPv6 address (brackets required)              |
//!
//! Loopback, private, link-local (cloud metadata) and other non-public
//! addresses are reachable only through an *exact* entry for that host (a
//! name or an address, never a wildcard), and this is checked on the
//! resolved addresses, so a public-looking name that resolves to 127.0.0.1
//! is refused unless that name itself is listed. There is no allow-all entry:
//! `*` is rejected with a message saying what to write instead.
//!
//! # Example
//! ```
//! use charm_engine::AllowList;
//! let list = AllowList::parse(["*.example.com", "127.0.0.1:8080"]).unwrap();
//! let ok = url::Url::parse("https://feeds.example.com/rss").unwrap();
//! assert!(list.check_url(&ok).is_ok());
//! let meta = url::Url::parse("http://169.254.169.254/latest").unwrap();
//! assert!(list.check_url(&meta).is_err());
//! ```

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use url::{Host, Url};

use super::address::non_public_range;

/// An allow-list entry that does not parse. The message quotes the entry and
/// shows the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid allow-list entry `{entry}`: {reason} (write `host`, `host:port`, `*.domain` or `[ipv6]:port`)")]
pub struct InvalidEntry {
    /// The entry as given.
    pub entry: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Why a request was refused. The message names the host and is what the
/// charm sees as the `TypeError` thrown by `fetch`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fetch to `{target}` denied: {reason}")]
pub struct Denied {
    /// The host (or address) that was refused.
    pub target: String,
    /// Why: not on the list, or a non-public address reached by a wildcard.
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum HostPattern {
    /// A host name, lowercase, without a trailing dot.
    Name(String),
    /// `*.suffix`: matches names ending in `.suffix`.
    Subdomains(String),
    Ip(IpAddr),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    host: HostPattern,
    port: Option<u16>,
}

/// How a host matched the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Match {
    /// Only through a `*.` entry: public addresses only.
    Wildcard,
    /// Through an exact name or address entry: any address.
    Exact,
}

/// A parsed allow-list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowList {
    entries: Vec<Entry>,
    source: Vec<String>,
    /// Refuse non-public addresses even through exact entries: the list
    /// was set by a tenant, not granted by the operator.
    public_only: bool,
}

impl AllowList {
    /// Parses every entry, failing on the first one that does not parse.
    ///
    /// # Errors
    /// [`InvalidEntry`] quotes the entry and says what is wrong with it.
    pub fn parse<I, S>(entries: I) -> Result<AllowList, InvalidEntry>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list = AllowList::default();
        for raw in entries {
            let raw = raw.as_ref().trim();
            list.entries.push(parse_entry(raw)?);
            list.source.push(raw.to_string());
        }
        Ok(list)
    }

    /// The same list, reaching public addresses only: loopback, private,
    /// link-local and other non-public addresses are refused even through
    /// an exact entry. For lists a tenant set; an operator's grant lifts it.
    #[must_use]
    pub fn public_only(mut self) -> AllowList {
        self.public_only = true;
        self
    }

    /// The entries that name a non-public place outright: an address in a
    /// loopback, private, link-local or other non-public range, or
    /// `localhost` and names under `.localhost` (which never leave the
    /// machine), each with why. A tenant may not ask for these; names that
    /// merely resolve to such addresses are caught after DNS instead.
    pub fn non_public_entries(&self) -> Vec<(&str, &'static str)> {
        self.entries
            .iter()
            .zip(&self.source)
            .filter_map(|(entry, written)| {
                let why = match &entry.host {
                    HostPattern::Ip(ip) => non_public_range(*ip)?,
                    HostPattern::Name(n) | HostPattern::Subdomains(n)
                        if n == "localhost" || n.ends_with(".localhost") =>
                    {
                        "loopback"
                    }
                    _ => return None,
                };
                Some((written.as_str(), why))
            })
            .collect()
    }

    /// The entries as they were written.
    pub fn entries(&self) -> &[String] {
        &self.source
    }

    /// How `host` (with `port`) matches the list, if at all.
    pub fn match_host(&self, host: &Host<&str>, port: u16) -> Option<Match> {
        self.matches(host, Some(port))
    }

    /// Like [`AllowList::match_host`]; `None` for the port matches entries
    /// for any port (the resolver does not know the port).
    fn matches(&self, host: &Host<&str>, port: Option<u16>) -> Option<Match> {
        let name = match host {
            Host::Domain(d) => Some(normalize_name(d)),
            _ => None,
        };
        self.entries
            .iter()
            .filter(|e| match (e.port, port) {
                (Some(want), Some(got)) => want == got,
                _ => true,
            })
            .filter_map(|e| match (&e.host, host, &name) {
                (HostPattern::Name(n), Host::Domain(_), Some(name)) if n == name => {
                    Some(Match::Exact)
                }
                (HostPattern::Subdomains(suffix), Host::Domain(_), Some(name))
                    if name.len() > suffix.len() + 1
                        && name.ends_with(suffix.as_str())
                        && name.as_bytes()[name.len() - suffix.len() - 1] == b'.' =>
                {
                    Some(Match::Wildcard)
                }
                (HostPattern::Ip(ip), Host::Ipv4(v4), _) if *ip == IpAddr::V4(*v4) => {
                    Some(Match::Exact)
                }
                (HostPattern::Ip(ip), Host::Ipv6(v6), _) if *ip == IpAddr::V6(*v6) => {
                    Some(Match::Exact)
                }
                _ => None,
            })
            .max()
    }

    /// Decides whether `url` may be fetched, before any connection is made.
    /// For a host name, the resolved addresses must still pass
    /// [`AllowList::check_addresses`].
    ///
    /// # Errors
    /// [`Denied`] names the host (or the URL, when it has none) and the rule.
    pub fn check_url(&self, url: &Url) -> Result<Match, Denied> {
        let shown = || url.host_str().unwrap_or(url.as_str()).to_string();
        let deny = |reason: String| Denied {
            target: shown(),
            reason,
        };
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(Denied {
                target: url.as_str().chars().take(80).collect(),
                reason: format!(
                    "the `{}:` scheme is not allowed; charms may fetch http and https URLs only",
                    url.scheme()
                ),
            });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(deny(
                "URLs with credentials (user@host) are not allowed; send an Authorization header"
                    .to_string(),
            ));
        }
        let host = url
            .host()
            .ok_or_else(|| deny("the URL has no host".to_string()))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| deny("the URL has no port".to_string()))?;
        let matched = self.match_host(&host, port).ok_or_else(|| {
            // Say which part is missing: the host, or only this port of it.
            let missing = if self.matches(&host, None).is_some() {
                format!("port {port} of this host is")
            } else {
                "this host is".to_string()
            };
            deny(format!(
                "{missing} not on the charm's allow-list ({})",
                self.describe()
            ))
        })?;
        let literal = match host {
            Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
            Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
            Host::Domain(_) => None,
        };
        if let Some(ip) = literal {
            self.check_addresses(&shown(), matched, [ip])?;
        }
        Ok(matched)
    }

    /// Decides whether a host that matched as `matched` may connect to
    /// `addresses`. Non-public addresses need an exact entry, and a list
    /// that is not [`AllowList::public_only`].
    ///
    /// # Errors
    /// [`Denied`] when a non-public address was reached through a wildcard,
    /// or at all by a public-only list.
    pub fn check_addresses(
        &self,
        host: &str,
        matched: Match,
        addresses: impl IntoIterator<Item = IpAddr>,
    ) -> Result<(), Denied> {
        if matched == Match::Exact && !self.public_only {
            return Ok(());
        }
        for ip in addresses {
            if let Some(range) = non_public_range(ip) {
                let reason = if self.public_only {
                    format!(
                        "it is {ip}, a {range} address, and this charm's allow-list reaches \
                         public addresses only: an operator grants private ones"
                    )
                } else {
                    format!(
                        "it resolves to {ip}, a {range} address, which only an exact \
                         allow-list entry for this host may reach"
                    )
                };
                return Err(Denied {
                    target: host.to_string(),
                    reason,
                });
            }
        }
        Ok(())
    }

    /// Filters resolved socket addresses for a host, keeping those allowed.
    ///
    /// # Errors
    /// [`Denied`] when the host is not on the list, or when none of its
    /// addresses may be reached.
    pub fn filter_resolved(
        &self,
        host: &str,
        resolved: Vec<SocketAddr>,
    ) -> Result<Vec<SocketAddr>, Denied> {
        let name = normalize_name(host);
        // The URL check already matched the port; here any entry for the
        // name decides how far its addresses may reach.
        let matched = self
            .matches(&Host::Domain(name.as_str()), None)
            .ok_or_else(|| Denied {
                target: name.clone(),
                reason: "not on the charm's allow-list".to_string(),
            })?;
        let mut first_denial = None;
        let allowed: Vec<SocketAddr> = resolved
            .into_iter()
            .filter(|a| match self.check_addresses(&name, matched, [a.ip()]) {
                Ok(()) => true,
                Err(d) => {
                    first_denial.get_or_insert(d);
                    false
                }
            })
            .collect();
        match (allowed.is_empty(), first_denial) {
            (true, Some(denial)) => Err(denial),
            (true, None) => Err(Denied {
                target: name,
                reason: "the name did not resolve to any address".to_string(),
            }),
            (false, _) => Ok(allowed),
        }
    }

    fn describe(&self) -> String {
        if self.source.is_empty() {
            "which is empty".to_string()
        } else {
            self.source.join(", ")
        }
    }
}

impl fmt::Display for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source.join(","))
    }
}

fn normalize_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn parse_entry(raw: &str) -> Result<Entry, InvalidEntry> {
    let invalid = |reason: &str| InvalidEntry {
        entry: raw.to_string(),
        reason: reason.to_string(),
    };
    if raw.is_empty() {
        return Err(invalid("it is empty"));
    }
    if raw.contains("://") || raw.contains('/') {
        return Err(invalid("give a host, not a URL or path"));
    }
    if raw == "*" || raw.starts_with("*:") {
        return Err(invalid(
            "allow-all is not supported; list the hosts the charm needs, or use `*.domain`",
        ));
    }
    if raw.contains('@') {
        return Err(invalid("credentials do not belong in an allow-list"));
    }
    // Split off the port: `[v6]:port`, `[v6]`, `host:port`, `host`.
    let (host_part, port_part) = if let Some(rest) = raw.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or_else(|| invalid("an IPv6 address needs a closing `]`"))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| invalid("expected `:port` after `]`"))?,
            ),
        };
        let ip: std::net::Ipv6Addr = inside
            .parse()
            .map_err(|_| invalid("not an IPv6 address inside `[...]`"))?;
        (HostPattern::Ip(IpAddr::V6(ip)), port)
    } else {
        if raw.matches(':').count() > 1 {
            return Err(invalid(
                "an IPv6 address must be written in brackets, e.g. `[::1]:8080`",
            ));
        }
        let (host, port) = match raw.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (raw, None),
        };
        let pattern = if let Some(suffix) = host.strip_prefix("*.") {
            if suffix.contains('*') {
                return Err(invalid("`*` may only stand at the start, as `*.domain`"));
            }
            match Host::parse(suffix).map_err(|e| invalid(&format!("bad domain: {e}")))? {
                Host::Domain(d) if d.contains('.') => HostPattern::Subdomains(normalize_name(&d)),
                Host::Domain(_) => {
                    return Err(invalid(
                        "a wildcard needs a domain with a dot, e.g. `*.example.com`",
                    ))
                }
                _ => return Err(invalid("a wildcard cannot cover an IP address")),
            }
        } else {
            if host.contains('*') {
                return Err(invalid("`*` may only stand at the start, as `*.domain`"));
            }
            match Host::parse(host).map_err(|e| invalid(&format!("bad host: {e}")))? {
                Host::Domain(d) => HostPattern::Name(normalize_name(&d)),
                Host::Ipv4(v4) => HostPattern::Ip(IpAddr::V4(v4)),
                Host::Ipv6(v6) => HostPattern::Ip(IpAddr::V6(v6)),
            }
        };
        (pattern, port)
    };
    let port = match port_part {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err(invalid("the port must be a number from 1 to 65535")),
            Ok(port) => Some(port),
        },
    };
    Ok(Entry {
        host: host_part,
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> AllowList {
        AllowList::parse(entries).unwrap()
    }

    fn check(list: &AllowList, url: &str) -> Result<Match, Denied> {
        list.check_url(&Url::parse(url).unwrap())
    }

    #[test]
    fn empty_list_denies_everything() {
        let err = check(&AllowList::default(), "https://example.com/").unwrap_err();
        assert_eq!(err.target, "example.com");
        assert!(err.to_string().contains("denied"), "{err}");
    }

    #[test]
    fn a_denial_says_whether_the_host_or_only_its_port_is_missing() {
        let l = list(&["api.io:8443"]);
        let port = check(&l, "https://api.io/").unwrap_err().to_string();
        assert!(port.contains("port 443 of this host is not on"), "{port}");
        let host = check(&l, "https://example.com/").unwrap_err().to_string();
        assert!(host.contains("this host is not on"), "{host}");
        assert!(!host.contains("port"), "{host}");
    }

    #[test]
    fn exact_wildcard_and_port_entries() {
        let l = list(&["example.com", "*.feeds.net", "api.io:8443"]);
        assert_eq!(check(&l, "https://example.com/x").unwrap(), Match::Exact);
        assert_eq!(check(&l, "http://EXAMPLE.com./x").unwrap(), Match::Exact);
        assert_eq!(
            check(&l, "https://a.b.feeds.net/").unwrap(),
            Match::Wildcard
        );
        assert!(
            check(&l, "https://feeds.net/").is_err(),
            "wildcard excludes the apex"
        );
        assert!(check(&l, "https://evilfeeds.net/").is_err());
        assert!(check(&l, "https://api.io:8443/").is_ok());
        assert!(
            check(&l, "https://api.io/").is_err(),
            "port 443 is not 8443"
        );
        assert!(check(&l, "https://example.com.evil.org/").is_err());
    }

    #[test]
    fn loopback_literals_in_every_spelling_are_denied_without_an_exact_entry() {
        let l = list(&["*.example.com"]);
        for url in [
            "http://127.0.0.1/",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://169.254.169.254/latest/meta-data",
            "http://allowed.example.com@127.0.0.1/",
        ] {
            assert!(check(&l, url).is_err(), "{url} should be denied");
        }
    }

    #[test]
    fn a_public_only_list_refuses_non_public_addresses_even_exactly() {
        let list = AllowList::parse(["127.0.0.1:8080", "intranet.example"])
            .unwrap()
            .public_only();
        let url = Url::parse("http://127.0.0.1:8080/").unwrap();
        let err = list.check_url(&url).unwrap_err();
        assert!(err.reason.contains("public addresses only"), "{err}");
        let resolved = vec![
            "10.0.0.7:80".parse().unwrap(),
            "93.184.216.34:80".parse().unwrap(),
        ];
        let kept = list.filter_resolved("intranet.example", resolved).unwrap();
        assert_eq!(kept, vec!["93.184.216.34:80".parse().unwrap()]);
    }

    #[test]
    fn non_public_entries_are_named_with_their_range() {
        let list = AllowList::parse([
            "example.com",
            "10.1.2.3",
            "[::1]:80",
            "localhost:8080",
            "*.x.localhost",
        ])
        .unwrap();
        assert_eq!(
            list.non_public_entries(),
            [
                ("10.1.2.3", "private (10.0.0.0/8)"),
                ("[::1]:80", "loopback"),
                ("localhost:8080", "loopback"),
                ("*.x.localhost", "loopback")
            ]
        );
    }

    #[test]
    fn exact_address_entry_reaches_loopback() {
        let l = list(&["127.0.0.1:8080", "[::1]:9000"]);
        assert_eq!(
            check(&l, "http://127.0.0.1:8080/feed").unwrap(),
            Match::Exact
        );
        assert_eq!(check(&l, "http://127.1:8080/feed").unwrap(), Match::Exact);
        assert!(check(&l, "http://127.0.0.1:8081/").is_err());
        assert_eq!(check(&l, "http://[::1]:9000/").unwrap(), Match::Exact);
    }

    #[test]
    fn other_schemes_and_credentials_are_denied() {
        let l = list(&["example.com"]);
        for url in [
            "file:///etc/passwd",
            "ftp://example.com/",
            "data:text/plain,hi",
        ] {
            let err = check(&l, url).unwrap_err();
            assert!(err.reason.contains("scheme"), "{url}: {err}");
        }
        let err = check(&l, "https://user:pw@example.com/").unwrap_err();
        assert!(err.reason.contains("credentials"), "{err}");
    }

    #[test]
    fn resolved_addresses_are_checked_for_wildcards_only() {
        let l = list(&["*.example.com", "intranet.corp"]);
        let lo: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let public: SocketAddr = "93.184.215.14:0".parse().unwrap();
        let err = l.filter_resolved("evil.example.com", vec![lo]).unwrap_err();
        assert!(err.reason.contains("loopback"), "{err}");
        assert_eq!(
            l.filter_resolved("a.example.com", vec![lo, public])
                .unwrap(),
            vec![public]
        );
        assert_eq!(
            l.filter_resolved("intranet.corp", vec![lo]).unwrap(),
            vec![lo]
        );
        assert!(l.filter_resolved("other.org", vec![public]).is_err());
    }

    #[test]
    fn bad_entries_are_quoted_with_the_accepted_forms() {
        for (entry, needle) in [
            ("*", "allow-all"),
            ("https://example.com", "not a URL"),
            ("ex*ample.com", "start"),
            ("example.com:0", "port"),
            ("example.com:http", "port"),
            ("::1", "brackets"),
            ("*.com:1:2", "brackets"),
            ("*.localhost", "dot"),
            ("", "empty"),
        ] {
            let err = AllowList::parse([entry]).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(needle), "{entry}: {text}");
            assert!(text.contains(&format!("`{entry}`")), "{text}");
        }
    }
}
