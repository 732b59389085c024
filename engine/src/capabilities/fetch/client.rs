//! The HTTP client behind a charm's `fetch`.
//!
//! Owns the reqwest clients and the rules applied on the wire: the URL is
//! checked against the charm's [`AllowList`] before the request and on every
//! redirect; the addresses a name resolves to are checked by a resolver that
//! carries the same allow-list, so the check happens after DNS and on the
//! address actually dialled; proxies from the environment are ignored;
//! hop-by-hop headers and `Host` from the charm are dropped; response bodies
//! are read with a size cap that applies after decompression (gzip bombs);
//! and each fetch has a time limit.
//!
//! Clients are cached per distinct allow-list and redirect mode, so that
//! connection pools are reused across runs of the same charm while a
//! client's resolver never serves a charm with a different list.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::redirect;
use url::Url;

use super::allow_list::{AllowList, Denied};
use super::reserved::ReservedAddrs;

/// Redirects followed before a fetch fails.
pub const MAX_REDIRECTS: usize = 10;
/// Clients kept for distinct allow-lists before the cache is cleared.
const MAX_CACHED_CLIENTS: usize = 1024;
/// Largest request body a charm may send, in bytes.
pub const MAX_REQUEST_BODY_BYTES: usize = 1024 * 1024;
/// Time allowed to set up a connection (TCP and TLS).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Headers a charm may not set: they would change where or how the request
/// goes rather than what it says.
const DROPPED_REQUEST_HEADERS: &[&str] = &[
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-connection",
];

/// What a request does with a redirect: the fetch standard's `redirect`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedirectMode {
    /// Follow up to [`MAX_REDIRECTS`] hops, each checked against the
    /// allow-list and the address rules.
    #[default]
    Follow,
    /// Return the 3xx response itself, with its `Location`.
    Manual,
    /// Fail on a redirect.
    Error,
}

/// What the guest asked for: the request envelope's metadata, and its body.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchRequest {
    /// The URL, absolute.
    pub url: String,
    /// The method, as the charm spelled it (upper-cased by the guest for
    /// the standard's methods).
    #[serde(default = "default_method")]
    pub method: String,
    /// Header names and values, in order.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The redirect mode.
    #[serde(default)]
    pub redirect: RedirectMode,
    /// Whether the request has a body (an empty one included).
    #[serde(default)]
    pub has_body: bool,
    /// The body's bytes, exactly as the charm gave them.
    #[serde(skip)]
    pub body: Vec<u8>,
}

fn default_method() -> String {
    "GET".to_string()
}

/// A complete response.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchResponse {
    /// The HTTP status.
    pub status: u16,
    /// The status's reason phrase.
    pub status_text: String,
    /// The URL of the response, after redirects.
    pub url: String,
    /// Whether a redirect was followed.
    pub redirected: bool,
    /// Header names (lower case) and values, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body, decompressed.
    #[serde(skip)]
    pub body: Vec<u8>,
}

/// Why a fetch did not produce a response. The `Display` text is what the
/// charm sees as the message of the `TypeError` that `fetch` throws.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchFailure {
    /// Refused by the allow-list (before connecting, after DNS, or on a redirect).
    #[error("{0}")]
    Denied(#[from] Denied),
    /// The body grew past the response size limit.
    #[error("fetch from `{host}` failed: the response body exceeded the limit of {limit} bytes (max_fetch_response_bytes)")]
    TooLarge {
        /// The request's host.
        host: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The fetch took longer than its time limit.
    #[error(
        "fetch from `{host}` failed: no complete response within {limit_ms} ms (fetch_timeout_ms)"
    )]
    TimedOut {
        /// The request's host.
        host: String,
        /// The limit, in ms.
        limit_ms: u64,
    },
    /// More fetches were in flight than the run allows.
    #[error("fetch refused: {limit} fetches are already in flight, the concurrent fetch limit (max_concurrent_fetches)")]
    TooMany {
        /// The limit, in fetches.
        limit: u32,
    },
    /// The request itself is malformed (bad URL, method or header).
    #[error("fetch failed: {0}")]
    Invalid(String),
    /// The network or the server failed.
    #[error("fetch from `{host}` failed: {reason}")]
    Network {
        /// The request's host.
        host: String,
        /// What failed, briefly.
        reason: String,
    },
}

/// Per-fetch limits, taken from the task's limits.
#[derive(Debug, Clone, Copy)]
pub struct FetchLimits {
    /// One response body, in bytes, after decompression.
    pub max_response_bytes: u64,
    /// One fetch, request to last body byte.
    pub timeout: Duration,
}

/// Performs charms' HTTP requests. One per process; cheap to share.
pub struct HttpGateway {
    clients: Mutex<HashMap<(String, RedirectMode), reqwest::Client>>,
    reserved: Arc<ReservedAddrs>,
}

impl std::fmt::Debug for HttpGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpGateway").finish_non_exhaustive()
    }
}

impl Default for HttpGateway {
    fn default() -> Self {
        Self::new(ReservedAddrs::none())
    }
}

/// Refuses a literal address that is reserved (the daemon's own), on the
/// URL's port: the control plane is closed whatever the allow-list says.
fn check_reserved(reserved: &ReservedAddrs, url: &Url) -> Result<(), Denied> {
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => std::net::IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => std::net::IpAddr::V6(v6),
        _ => return Ok(()),
    };
    let port = url.port_or_known_default().unwrap_or(0);
    match reserved.serves(ip, port) {
        Some(what) => Err(control_plane(&ip.to_string(), ip, port, what)),
        None => Ok(()),
    }
}

fn control_plane(host: &str, ip: std::net::IpAddr, port: u16, what: &str) -> Denied {
    Denied {
        target: host.to_string(),
        reason: format!(
            "{ip} port {port} is {what}; a charm never reaches the control plane, whatever its allow-list says"
        ),
    }
}

impl HttpGateway {
    /// A gateway with no clients yet, refusing `reserved` addresses.
    pub fn new(reserved: ReservedAddrs) -> HttpGateway {
        // reqwest is built without a default TLS provider; install ring once
        // per process (a second install is a harmless no-op).
        let _ = rustls::crypto::ring::default_provider().install_default();
        HttpGateway {
            clients: Mutex::new(HashMap::new()),
            reserved: Arc::new(reserved),
        }
    }

    fn client_for(
        &self,
        allow: &Arc<AllowList>,
        mode: RedirectMode,
    ) -> Result<reqwest::Client, FetchFailure> {
        let key = (allow.to_string(), mode);
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        if clients.len() >= MAX_CACHED_CLIENTS {
            clients.clear();
        }
        let redirect_allow = Arc::clone(allow);
        let redirect_reserved = Arc::clone(&self.reserved);
        let policy = match mode {
            RedirectMode::Follow => redirect::Policy::custom(move |attempt| {
                // `previous` holds every URL requested so far, the first included.
                if attempt.previous().len() > MAX_REDIRECTS {
                    let error = format!("more than {MAX_REDIRECTS} redirects");
                    return attempt.error(error);
                }
                let checked = redirect_allow
                    .check_url(attempt.url())
                    .and_then(|_| check_reserved(&redirect_reserved, attempt.url()));
                match checked {
                    Ok(()) => attempt.follow(),
                    Err(denied) => attempt.error(denied),
                }
            }),
            RedirectMode::Manual => redirect::Policy::none(),
            RedirectMode::Error => redirect::Policy::custom(|attempt| {
                attempt.error("the request's redirect mode is \"error\"")
            }),
        };
        let client = reqwest::Client::builder()
            .user_agent(charm_host_abi::USER_AGENT)
            .no_proxy()
            .referer(false)
            .connect_timeout(CONNECT_TIMEOUT)
            .dns_resolver(PolicyResolver {
                allow: Arc::clone(allow),
                reserved: Arc::clone(&self.reserved),
            })
            .redirect(policy)
            .build()
            .map_err(|e| FetchFailure::Invalid(format!("HTTP client unavailable: {e}")))?;
        clients.insert(key, client.clone());
        Ok(client)
    }

    /// Performs one request under `allow` and `limits`.
    ///
    /// # Errors
    /// A [`FetchFailure`] whose message names the host and what went wrong.
    pub async fn fetch(
        &self,
        allow: &Arc<AllowList>,
        request: FetchRequest,
        limits: FetchLimits,
    ) -> Result<FetchResponse, FetchFailure> {
        let url = Url::parse(&request.url)
            .map_err(|e| FetchFailure::Invalid(format!("invalid URL `{}`: {e}", request.url)))?;
        allow.check_url(&url)?;
        check_reserved(&self.reserved, &url)?;
        let host = url.host_str().unwrap_or_default().to_string();
        let client = self.client_for(allow, request.redirect)?;
        let built = build_request(&client, url.clone(), request)?;
        let exchange = async {
            let response = client
                .execute(built)
                .await
                .map_err(|e| classify(&host, &e))?;
            read_response(&host, &url, response, limits.max_response_bytes).await
        };
        match tokio::time::timeout(limits.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(FetchFailure::TimedOut {
                host,
                limit_ms: u64::try_from(limits.timeout.as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }
}

fn build_request(
    client: &reqwest::Client,
    url: Url,
    request: FetchRequest,
) -> Result<reqwest::Request, FetchFailure> {
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .map_err(|_| FetchFailure::Invalid(format!("invalid method `{}`", request.method)))?;
    let mut builder = client.request(method, url);
    for (name, value) in &request.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| FetchFailure::Invalid(format!("invalid header name `{name}`")))?;
        if DROPPED_REQUEST_HEADERS.contains(&name.as_str()) {
            tracing::debug!(header = %name, "dropped a header the charm may not set");
            continue;
        }
        let value = isomorphic_encode(value)
            .and_then(|bytes| HeaderValue::from_bytes(&bytes).ok())
            .ok_or_else(|| FetchFailure::Invalid(format!("invalid value for header `{name}`")))?;
        builder = builder.header(name, value);
    }
    if request.has_body {
        if request.body.len() > MAX_REQUEST_BODY_BYTES {
            return Err(FetchFailure::Invalid(format!(
                "request body of {} bytes is over the limit of {MAX_REQUEST_BODY_BYTES}",
                request.body.len()
            )));
        }
        builder = builder.body(request.body);
    }
    builder
        .build()
        .map_err(|e| FetchFailure::Invalid(e.to_string()))
}

async fn read_response(
    host: &str,
    requested: &Url,
    mut response: reqwest::Response,
    limit: u64,
) -> Result<FetchResponse, FetchFailure> {
    let too_large = || FetchFailure::TooLarge {
        host: host.to_string(),
        limit,
    };
    if response.content_length().is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let status = response.status();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), isomorphic_decode(v.as_bytes())))
        .collect();
    let url = response.url().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(host, &e))? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(FetchResponse {
        status: status.as_u16(),
        status_text: status.canonical_reason().unwrap_or_default().to_string(),
        redirected: url != *requested,
        url: url.to_string(),
        headers,
        body,
    })
}

/// Finds a denial anywhere in a reqwest error's chain; otherwise describes
/// the network failure briefly (the innermost cause says most).
fn classify(host: &str, error: &reqwest::Error) -> FetchFailure {
    let mut source: Option<&(dyn StdError + 'static)> = Some(error);
    let mut innermost = error.to_string();
    while let Some(e) = source {
        if let Some(denied) = e.downcast_ref::<Denied>() {
            return FetchFailure::Denied(denied.clone());
        }
        innermost = e.to_string();
        source = e.source();
    }
    let reason = if error.is_redirect() {
        format!("redirect failed: {innermost}")
    } else if error.is_connect() {
        format!("could not connect: {innermost}")
    } else if error.is_decode() || error.is_body() {
        format!("could not read the body: {innermost}")
    } else {
        innermost
    };
    FetchFailure::Network {
        host: host.to_string(),
        reason,
    }
}

/// Resolves names with the system resolver, then keeps only the addresses
/// the allow-list lets this host reach, less the reserved ones it could be
/// dialled on (see `reserved`).
struct PolicyResolver {
    allow: Arc<AllowList>,
    reserved: Arc<ReservedAddrs>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = Arc::clone(&self.allow);
        let reserved = Arc::clone(&self.reserved);
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed = allow.filter_resolved(&host, resolved)?;
            let allowed = without_reserved(&allow, &reserved, &host, allowed)?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Drops the addresses of `host` that are reserved on a port the
/// allow-list lets `host` be fetched on.
fn without_reserved(
    allow: &AllowList,
    reserved: &ReservedAddrs,
    host: &str,
    addresses: Vec<SocketAddr>,
) -> Result<Vec<SocketAddr>, Denied> {
    if reserved.is_empty() {
        return Ok(addresses);
    }
    let name = url::Host::Domain(host);
    let mut refused = None;
    let kept: Vec<SocketAddr> = addresses
        .into_iter()
        .filter(|a| {
            let hit = reserved
                .ports_at(a.ip())
                .find(|(port, _)| allow.match_host(&name, *port).is_some());
            if let Some((port, what)) = hit {
                refused.get_or_insert_with(|| control_plane(host, a.ip(), port, what));
                false
            } else {
                true
            }
        })
        .collect();
    match (kept.is_empty(), refused) {
        (true, Some(denied)) => Err(denied),
        _ => Ok(kept),
    }
}

/// A header value is a byte sequence; JavaScript sees it as a ByteString, one
/// character U+0000 to U+00FF per byte (the fetch standard's "isomorphic
/// decode"). UTF-8 would turn a server's Latin-1 `é` into U+FFFD, which the
/// guest's `Headers` then refuses as not a byte string.
fn isomorphic_decode(bytes: &[u8]) -> String {
    bytes.iter().copied().map(char::from).collect()
}

/// The inverse of [`isomorphic_decode`]; `None` for a character above U+00FF
/// (the guest's `Headers` never lets one through).
fn isomorphic_encode(text: &str) -> Option<Vec<u8>> {
    text.chars().map(|c| u8::try_from(c).ok()).collect()
}
