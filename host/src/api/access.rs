//! The access guard: which requests reach the service at all.
//!
//! Two checks run before routing, on every route: the dashboard, `/healthz`,
//! `/metrics`, the API, the fallback, and any route added later
//! ([`super::router`] puts the guard around all of them at once).
//!
//! 1. **Host.** The `Host` header must name this service: an IP address
//!    (IPv4, or IPv6 in brackets), `localhost` or a name under `.localhost`,
//!    each with or without a port, or a name the operator gave with
//!    `--allowed-host`. This stops DNS rebinding: a web page that points its
//!    own domain at 127.0.0.1 reaches the daemon with that domain in `Host`,
//!    never with an IP address, and `.localhost` names never leave the
//!    machine. A request without `Host` (HTTP/1.0) is refused too.
//! 2. **Origin.** A request whose method can change something (anything but
//!    GET, HEAD, OPTIONS and TRACE) and that carries an `Origin` must come
//!    from the service's own origin (`http://` or `https://` followed by the
//!    request's `Host`) or from one named with `--allowed-origin`.
//!    `Origin: null` (sandboxed frames, local files) is refused. Requests
//!    without `Origin` (the CLI, curl, other servers) pass: browsers send it
//!    on every such request, so a page in the operator's browser cannot drop
//!    it.
//!
//! Both checks hold whether or not a token is set. CORS headers are sent
//! only for origins named with `--allowed-origin` ([`AccessPolicy::cors`]).
//! Refusals are 403 JSON errors naming the flag that would admit the request.
//!
//! Entries are parsed once, at start, into [`AccessPolicy`]; checking a
//! request is the pure [`AccessPolicy::check`].

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::ApiError;

/// The flag that admits more host names.
const ALLOWED_HOST_FLAG: &str = "--allowed-host";
/// The flag that admits web pages of other origins.
const ALLOWED_ORIGIN_FLAG: &str = "--allowed-origin";

/// How long a browser may cache a preflight answer: ten minutes, Chromium's
/// own ceiling (it caps longer values at 7200 s; ten minutes bounds how long
/// a revoked origin keeps working in an open tab).
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// How much of a refused `Host` or `Origin` an error quotes.
const QUOTE_CHARS: usize = 100;

/// A host name or origin the operator gave that is refused at start. Each
/// message quotes the value and names its flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// An `--allowed-host` value that is not a host name.
    #[error(
        "{ALLOWED_HOST_FLAG} takes a host name such as charms.example.com, not `{value}`: {why}"
    )]
    Host {
        /// The value given.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// An `--allowed-origin` value that is not an origin.
    #[error("{ALLOWED_ORIGIN_FLAG} takes an origin such as https://charms.example.com, not `{value}`: {why}")]
    Origin {
        /// The value given.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// The host names and origins this service answers to, besides its defaults.
///
/// By default (no flags) it answers to IP addresses, `localhost` and
/// `*.localhost`, and accepts changes only from its own origin, with no
/// CORS headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessPolicy {
    /// `--allowed-host` names: lowercase ASCII (IDNA applied), no trailing dot.
    hosts: BTreeSet<String>,
    /// `--allowed-origin` origins, serialised as browsers send them
    /// (`https://name` or `http://name:port`, lowercase, no default port).
    origins: BTreeSet<String>,
}

impl AccessPolicy {
    /// Parses the operator's `--allowed-host` and `--allowed-origin` values.
    /// Empty values (from `a,,b` in an environment variable) are skipped; an
    /// IP address given as a host adds nothing, as every IP address is
    /// already admitted.
    ///
    /// # Errors
    /// [`AccessError`] for the first value that is not a host name or an
    /// origin, quoting it.
    pub fn new(hosts: &[String], origins: &[String]) -> Result<AccessPolicy, AccessError> {
        let mut policy = AccessPolicy::default();
        for value in hosts {
            if let Some(name) = parse_allowed_host(value)? {
                policy.hosts.insert(name);
            }
        }
        for value in origins {
            if let Some(origin) = parse_allowed_origin(value)? {
                policy.origins.insert(origin);
            }
        }
        Ok(policy)
    }

    /// Checks a request's `Host` and, for a method that changes something,
    /// its `Origin`.
    ///
    /// # Errors
    /// [`ApiError::HostNotAllowed`] or [`ApiError::OriginNotAllowed`], whose
    /// message names the flag that would admit the request.
    pub fn check(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<(), ApiError> {
        let mut hosts = headers.get_all(header::HOST).iter();
        let (Some(host), None) = (hosts.next(), hosts.next()) else {
            return Err(ApiError::HostNotAllowed(
                "send exactly one Host header naming this service (HTTP/1.1 requires it)"
                    .to_string(),
            ));
        };
        let host = host.to_str().ok().filter(|h| self.admits_host(h));
        let Some(host) = host else {
            return Err(self.host_refused(headers.get(header::HOST)));
        };
        // An absolute-form request line (`POST http://name/ HTTP/1.1`) names
        // a host too; it must be one of ours as well.
        if let Some(authority) = uri.authority() {
            if !self.admits_host(authority.as_str()) {
                return Err(
                    self.host_refused(HeaderValue::from_str(authority.as_str()).ok().as_ref())
                );
            }
        }
        if is_safe(method) {
            return Ok(());
        }
        let mut origins = headers.get_all(header::ORIGIN).iter();
        match (origins.next(), origins.next()) {
            (None, _) => Ok(()),
            (Some(origin), None) => {
                let text = origin.to_str().unwrap_or_default();
                if text == "null" {
                    return Err(ApiError::OriginNotAllowed(
                        "`Origin: null` (a sandboxed frame or a local file) cannot change anything here"
                            .to_string(),
                    ));
                }
                if is_same_origin(text, host) || self.names_origin(text) {
                    return Ok(());
                }
                let named = origin_of(text).map(|o| o.ascii_serialization());
                Err(ApiError::OriginNotAllowed(format!(
                    "cross-origin request refused: `Origin: {}` is not this service's own origin (http://{host}); \
                     to let web pages of that origin change charms, start the service with \
                     {ALLOWED_ORIGIN_FLAG} {} (or CHARM_HOST_ALLOWED_ORIGINS)",
                    quote(origin),
                    named.as_deref().unwrap_or("ORIGIN")
                )))
            }
            (Some(_), Some(_)) => Err(ApiError::OriginNotAllowed(
                "send at most one Origin header".to_string(),
            )),
        }
    }

    /// Whether `value` (a `Host` header or an authority: a host and an
    /// optional port) names this service.
    fn admits_host(&self, value: &str) -> bool {
        match parse_host_header(value) {
            Some(RequestHost::Ip) => true,
            Some(RequestHost::Name(name)) => {
                name == "localhost" || name.ends_with(".localhost") || self.hosts.contains(&name)
            }
            None => false,
        }
    }

    fn host_refused(&self, host: Option<&HeaderValue>) -> ApiError {
        let shown = host.map(quote).unwrap_or_default();
        let name = host
            .and_then(|h| h.to_str().ok())
            .and_then(host_part)
            .filter(|n| is_dns_name(n))
            .unwrap_or("NAME");
        ApiError::HostNotAllowed(format!(
            "this service does not answer to the host `{shown}`: it answers to IP addresses, \
             localhost and *.localhost (a guard against DNS rebinding); to reach it by this name, \
             start it with {ALLOWED_HOST_FLAG} {name} (or CHARM_HOST_ALLOWED_HOSTS)"
        ))
    }

    /// Whether the operator named this origin with `--allowed-origin`.
    fn names_origin(&self, origin: &str) -> bool {
        !self.origins.is_empty()
            && origin_of(origin).is_some_and(|o| self.origins.contains(&o.ascii_serialization()))
    }

    /// The CORS layer for the origins named with `--allowed-origin`, or
    /// `None` when there are none: then no CORS header is ever sent, and
    /// browsers keep other origins from reading any answer.
    ///
    /// For a named origin it answers preflights for the API's methods with
    /// `Authorization` and `Content-Type`, and adds
    /// `Access-Control-Allow-Origin` (with `Vary: Origin`) to answers.
    /// Credentials (cookies) are not allowed: the API uses a bearer token.
    pub fn cors(self: &Arc<Self>) -> Option<CorsLayer> {
        if self.origins.is_empty() {
            return None;
        }
        let policy = Arc::clone(self);
        Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::predicate(move |origin, _| {
                    origin.to_str().is_ok_and(|o| policy.names_origin(o))
                }))
                .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
                .max_age(PREFLIGHT_MAX_AGE),
        )
    }
}

/// The guard as axum middleware: [`AccessPolicy::check`], then the route.
pub(super) async fn guard(
    State(policy): State<Arc<AccessPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    match policy.check(request.method(), request.uri(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refused) => refused.into_response(),
    }
}

/// GET, HEAD, OPTIONS and TRACE: the methods RFC 9110 calls safe. Every
/// other method, known or not, is treated as one that changes something.
fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// A header value for an error message: at most [`QUOTE_CHARS`] characters,
/// control characters and bytes that are not UTF-8 replaced.
fn quote(value: &HeaderValue) -> String {
    String::from_utf8_lossy(value.as_bytes())
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .take(QUOTE_CHARS)
        .collect()
}

/// What a `Host` header names.
#[derive(Debug, PartialEq, Eq)]
enum RequestHost {
    /// An IPv4 address in dotted-decimal form, or an IPv6 address in brackets.
    Ip,
    /// A name: lowercase, without a trailing dot.
    Name(String),
}

/// The host of `host[:port]` or `[v6]:port`, without the port; `None` if
/// the port is not a number.
fn host_part(value: &str) -> Option<&str> {
    let (host, port) = match value.strip_prefix('[') {
        Some(rest) => {
            let end = rest.find(']')?;
            (&value[..end + 2], &rest[end + 1..])
        }
        None => match value.rsplit_once(':') {
            Some((host, _)) => (host, &value[host.len()..]),
            None => (value, ""),
        },
    };
    if !port.is_empty() {
        let digits = port.strip_prefix(':')?;
        let valid = (1..=5).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && digits.parse::<u16>().is_ok();
        if !valid {
            return None;
        }
    }
    Some(host)
}

/// Parses a `Host` header strictly: an IPv4 address in dotted-decimal form,
/// an IPv6 address in brackets, or a name of dot-separated labels of ASCII
/// letters, digits, `-` and `_`; then an optional port. Browsers send this
/// canonical form; anything else is refused.
fn parse_host_header(value: &str) -> Option<RequestHost> {
    let host = host_part(value)?;
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().ok().map(|_| RequestHost::Ip);
    }
    if host.parse::<Ipv4Addr>().is_ok() {
        return Some(RequestHost::Ip);
    }
    let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    is_dns_name(&name).then_some(RequestHost::Name(name))
}

/// Dot-separated labels of ASCII letters, digits, `-` and `_`, each 1 to 63
/// characters, 253 in all.
fn is_dns_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The origin an `Origin` header (or an `--allowed-origin` value) names:
/// `http` or `https`, a host, an optional port, and nothing else.
fn origin_of(text: &str) -> Option<url::Origin> {
    let url = url::Url::parse(text).ok()?;
    let bare = matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    bare.then(|| url.origin())
}

/// Whether `origin` is the origin of a page served by this service under
/// the name in `host` (the request's checked `Host`): over plain HTTP, or
/// over HTTPS through a proxy that keeps the `Host`.
fn is_same_origin(origin: &str, host: &str) -> bool {
    let Some(origin) = origin_of(origin) else {
        return false;
    };
    let url::Origin::Tuple(scheme, _, _) = &origin else {
        return false;
    };
    url::Url::parse(&format!("{scheme}://{host}")).is_ok_and(|own| own.origin() == origin)
}

/// One `--allowed-host` value: `Some(name)`, or `None` for an empty value or
/// an IP address (admitted anyway).
fn parse_allowed_host(raw: &str) -> Result<Option<String>, AccessError> {
    let value = raw.trim();
    let refuse = |why| AccessError::Host {
        value: value.to_string(),
        why,
    };
    if value.is_empty() {
        return Ok(None);
    }
    if value.contains("://") {
        return Err(refuse("it looks like a URL; give the name only"));
    }
    if value.contains('/') {
        return Err(refuse("a host name has no path; give the name only"));
    }
    if value.starts_with('*') || value.starts_with('.') {
        return Err(refuse("wildcards are not supported; list each name"));
    }
    if matches!(parse_host_header(value), Some(RequestHost::Ip))
        || value.parse::<Ipv6Addr>().is_ok()
    {
        return Ok(None);
    }
    if host_part(value) != Some(value) || value.contains(':') {
        return Err(refuse(
            "give the name without a port; it is admitted on every port",
        ));
    }
    match url::Host::parse(value) {
        Ok(url::Host::Domain(name)) => {
            let name = name.strip_suffix('.').unwrap_or(&name).to_string();
            if is_dns_name(&name) {
                Ok(Some(name))
            } else {
                Err(refuse(
                    "a host name is dot-separated labels of letters, digits, `-` and `_`",
                ))
            }
        }
        Ok(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => Ok(None),
        Err(_) => Err(refuse("it is not a valid host name")),
    }
}

/// One `--allowed-origin` value, serialised as browsers send it; `None` for
/// an empty value.
fn parse_allowed_origin(raw: &str) -> Result<Option<String>, AccessError> {
    let value = raw.trim();
    let refuse = |why| AccessError::Origin {
        value: value.to_string(),
        why,
    };
    if value.is_empty() {
        return Ok(None);
    }
    if value.contains('*') {
        return Err(refuse(
            "wildcards are not supported (one would let every web page change charms); list each origin",
        ));
    }
    if value == "null" {
        return Err(refuse(
            "`null` is the origin of sandboxed frames and local files, which any page can create",
        ));
    }
    let url =
        url::Url::parse(value).map_err(|_| refuse("it is not a URL; give scheme://host[:port]"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse("only http:// and https:// origins are supported"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("an origin has no user name or password"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(refuse(
            "an origin has no path, query or fragment; give scheme://host[:port]",
        ));
    }
    Ok(Some(url.origin().ascii_serialization()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(hosts: &[&str], origins: &[&str]) -> AccessPolicy {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        AccessPolicy::new(&strings(hosts), &strings(origins)).unwrap()
    }

    fn request(method: &str, host: Option<&str>, origin: Option<&str>) -> (Method, Uri, HeaderMap) {
        let mut headers = HeaderMap::new();
        if let Some(host) = host {
            headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        }
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        (
            method.parse().unwrap(),
            Uri::from_static("/api/charms"),
            headers,
        )
    }

    fn check(
        p: &AccessPolicy,
        method: &str,
        host: Option<&str>,
        origin: Option<&str>,
    ) -> Result<(), String> {
        let (m, u, h) = request(method, host, origin);
        p.check(&m, &u, &h)
            .map_err(|e| format!("{}: {e}", e.code()))
    }

    #[test]
    fn the_service_answers_to_ip_addresses_and_localhost_names_on_any_port() {
        let p = AccessPolicy::default();
        for host in [
            "127.0.0.1",
            "127.0.0.1:8080",
            "10.1.2.3:80",
            "0.0.0.0:8080",
            "[::1]",
            "[::1]:8080",
            "[fe80::1]:1",
            "localhost",
            "localhost:8080",
            "LOCALHOST:1",
            "localhost.",
            "app.localhost",
            "a.b.localhost:8080",
            "charm_dev.localhost",
        ] {
            assert_eq!(check(&p, "GET", Some(host), None), Ok(()), "{host}");
        }
    }

    #[test]
    fn other_names_and_malformed_hosts_are_refused() {
        let p = AccessPolicy::default();
        for host in [
            "evil.example.com",
            "evil.example.com:8080",
            "localhost.evil.com",
            "127.0.0.1.nip.io",
            "localhost:http",
            "localhost:",
            "localhost:99999",
            "localhost:+80",
            "[::1",
            "::1",
            "[::1]x",
            "[v1.fe]",
            "127.1",
            "2130706433",
            "0x7f000001",
            ".localhost",
            "a..localhost",
            "",
            "evil.com/x",
            "user@localhost",
            "localhost:80:80",
            "[::1]:8080:1",
        ] {
            let refused = check(&p, "GET", Some(host), None).unwrap_err();
            assert!(refused.starts_with("host_not_allowed"), "{host}: {refused}");
        }
        let refused = check(&p, "GET", Some("evil.example.com:8080"), None).unwrap_err();
        assert!(
            refused.contains("--allowed-host evil.example.com ")
                && refused.contains("CHARM_HOST_ALLOWED_HOSTS"),
            "{refused}"
        );
        let refused = check(&p, "GET", None, None).unwrap_err();
        assert!(refused.contains("Host header"), "{refused}");
    }

    #[test]
    fn allowed_hosts_are_admitted_by_name_on_any_port() {
        let p = policy(
            &[
                "Charms.Example.com",
                "proxy",
                "bücher.example",
                "10.0.0.5",
                "",
            ],
            &[],
        );
        for host in [
            "charms.example.com",
            "CHARMS.example.com:443",
            "proxy:8080",
            "xn--bcher-kva.example",
        ] {
            assert_eq!(check(&p, "POST", Some(host), None), Ok(()), "{host}");
        }
        for host in ["example.com", "www.charms.example.com", "proxy.evil"] {
            assert!(check(&p, "GET", Some(host), None).is_err(), "{host}");
        }
    }

    #[test]
    fn an_absolute_request_target_must_name_this_service_too() {
        let p = AccessPolicy::default();
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        let uri: Uri = "http://evil.example.com/api/charms".parse().unwrap();
        assert!(p.check(&Method::GET, &uri, &headers).is_err());
        let uri: Uri = "http://localhost:8080/api/charms".parse().unwrap();
        assert!(p.check(&Method::GET, &uri, &headers).is_ok());
    }

    #[test]
    fn changes_from_another_origin_are_refused_and_from_the_own_origin_admitted() {
        let p = AccessPolicy::default();
        let host = Some("127.0.0.1:8080");
        for method in ["POST", "PATCH", "PUT", "DELETE", "PURGE"] {
            let refused = check(&p, method, host, Some("http://evil.example.com")).unwrap_err();
            assert!(
                refused.starts_with("origin_not_allowed"),
                "{method}: {refused}"
            );
            assert!(
                refused.contains("--allowed-origin http://evil.example.com "),
                "{refused}"
            );
            assert!(
                check(&p, method, host, Some("null")).is_err(),
                "{method} null"
            );
            assert_eq!(
                check(&p, method, host, None),
                Ok(()),
                "{method} without Origin"
            );
            assert_eq!(
                check(&p, method, host, Some("http://127.0.0.1:8080")),
                Ok(())
            );
        }
        for method in ["GET", "HEAD", "OPTIONS"] {
            assert_eq!(
                check(&p, method, host, Some("http://evil.example.com")),
                Ok(()),
                "{method}"
            );
        }
        // Same origin: scheme, host and port, default ports included.
        let same = [
            ("localhost:8080", "http://localhost:8080"),
            ("LocalHost:8080", "http://localhost:8080"),
            ("[::1]:8080", "http://[::1]:8080"),
            ("localhost", "http://localhost"),
            ("localhost:80", "http://localhost"),
            ("charms.localhost", "https://charms.localhost"),
        ];
        for (host, origin) in same {
            assert_eq!(
                check(&p, "POST", Some(host), Some(origin)),
                Ok(()),
                "{host} {origin}"
            );
        }
        let other = [
            ("localhost:8080", "http://localhost:8081"),
            ("localhost:8080", "http://127.0.0.1:8080"),
            ("127.0.0.1:8080", "http://localhost:8080"),
            ("localhost", "http://localhost:8080"),
            ("localhost:8080", "ftp://localhost:8080"),
            ("localhost:8080", "http://user@localhost:8080"),
            ("localhost:8080", "http://localhost:8080/path"),
            ("localhost:8080", "not an origin"),
        ];
        for (host, origin) in other {
            assert!(
                check(&p, "POST", Some(host), Some(origin)).is_err(),
                "{host} {origin}"
            );
        }
    }

    #[test]
    fn named_origins_may_change_things_and_get_cors() {
        let p = Arc::new(policy(
            &[],
            &["https://Dash.Example.com:443", "http://localhost:3000"],
        ));
        let host = Some("127.0.0.1:8080");
        assert_eq!(
            check(&p, "DELETE", host, Some("https://dash.example.com")),
            Ok(())
        );
        assert_eq!(
            check(&p, "POST", host, Some("http://localhost:3000")),
            Ok(())
        );
        assert!(check(&p, "POST", host, Some("http://dash.example.com")).is_err());
        assert!(check(&p, "POST", host, Some("http://localhost:3001")).is_err());
        assert!(p.cors().is_some());
        assert!(Arc::new(AccessPolicy::default()).cors().is_none());
    }

    #[test]
    fn bad_flag_values_are_refused_quoting_them() {
        let hosts = [
            ("http://charms.example.com", "looks like a URL"),
            ("charms.example.com/api", "no path"),
            ("charms.example.com:8080", "without a port"),
            ("*.example.com", "wildcards"),
            (".example.com", "wildcards"),
            ("a b", "not a valid host name"),
            ("a!b", "labels of letters"),
        ];
        for (value, why) in hosts {
            let e = AccessPolicy::new(&[value.to_string()], &[])
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with(&format!(
                    "--allowed-host takes a host name such as charms.example.com, not `{value}`"
                )),
                "{e}"
            );
            assert!(e.contains(why), "{value}: {e}");
        }
        let origins = [
            ("*", "wildcards"),
            ("null", "sandboxed"),
            ("dash.example.com", "not a URL"),
            ("ftp://dash.example.com", "only http"),
            ("https://u:p@dash.example.com", "user name"),
            ("https://dash.example.com/app", "no path"),
            ("https://dash.example.com/?x", "no path"),
        ];
        for (value, why) in origins {
            let e = AccessPolicy::new(&[], &[value.to_string()])
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("--allowed-origin takes an origin"), "{e}");
            assert!(e.contains(why), "{value}: {e}");
        }
        assert_eq!(
            AccessPolicy::new(
                &[" ".into(), "127.0.0.1".into(), "[::1]".into(), "::1".into()],
                &["".into()]
            ),
            Ok(AccessPolicy::default())
        );
    }
}
