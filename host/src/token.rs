//! The API token of a daemon on this machine, and how local clients find it.
//!
//! A daemon requires a bearer token on every `/api` request by default,
//! because a loopback port is open to every user and process of the
//! machine (and, without the Host and Origin checks of `api::access`, to
//! web pages in the operator's browser). This module owns the files that
//! make that painless, after Jupyter's design:
//!
//! * [`TokenSetting`]: where the token comes from: `--token`, the token
//!   file (the default), or nowhere (`--no-token`, loopback only).
//! * The token file, `DATA_DIR/api-token` ([`TOKEN_FILE`]): made on first
//!   start from [`TOKEN_BYTES`] bytes of the operating system's generator,
//!   hex-encoded, mode 0600; reused on later starts, so a restart does not
//!   sign anyone out.
//! * The server file, `RUNTIME_DIR/charm-host/server-<port>.json`
//!   ([`ServerInfo`], mode 0600): written while the daemon runs and removed
//!   when it stops; `charm-host charms` reads it to find the token of the
//!   daemon its `--server` names ([`find_token`]), so no flag is needed on
//!   the same machine. RUNTIME_DIR is `$XDG_RUNTIME_DIR`, else
//!   `$XDG_STATE_HOME` or `~/.local/state` (the command line decides).
//!
//! It never touches HTTP or the store.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The token file's name in the data directory.
pub const TOKEN_FILE: &str = "api-token";
/// Random bytes in a made token (256 bits; 64 hex digits).
pub const TOKEN_BYTES: usize = 32;
/// The longest token accepted, in characters: it travels in an HTTP header.
pub const MAX_TOKEN_CHARS: usize = 1024;
/// The server files' folder under RUNTIME_DIR.
pub const SERVER_DIR: &str = "charm-host";
/// The most a server file may hold, in bytes (it holds a URL, a token and
/// a pid).
const MAX_SERVER_FILE_BYTES: u64 = 64 * 1024;

/// Where the daemon's API token comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum TokenSetting {
    /// Given with `--token` or `CHARM_HOST_TOKEN`.
    Given(String),
    /// The default: read from this file (`DATA_DIR/api-token`), made there
    /// on first start.
    File(PathBuf),
    /// `--no-token`: the API answers without one (refused off loopback).
    Off,
}

impl fmt::Debug for TokenSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSetting::Given(_) => f.write_str("Given(<redacted>)"),
            TokenSetting::File(path) => f.debug_tuple("File").field(path).finish(),
            TokenSetting::Off => f.write_str("Off"),
        }
    }
}

/// Why the token could not be made or read. Each message names the file
/// and what to do.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token file could not be written.
    #[error("cannot create the API token file `{path}`: {source}; fix that, or pass --token")]
    Create {
        /// The file.
        path: String,
        /// What the operating system said.
        source: io::Error,
    },
    /// The token file exists but could not be read.
    #[error("cannot read the API token file `{path}`: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the operating system said.
        source: io::Error,
    },
    /// The token file holds something that is not a usable token.
    #[error(
        "the API token file `{path}` {why}: delete it to have a new token made, or pass --token"
    )]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The operating system's random number generator failed.
    #[error(
        "cannot make an API token: the operating system's random number generator failed: {0}"
    )]
    Random(String),
}

/// Checks that `token` can be sent in an `Authorization` header and a URL:
/// 1 to [`MAX_TOKEN_CHARS`] printable ASCII characters, no spaces.
///
/// # Errors
/// What is wrong, as a phrase ("is empty", ...).
pub fn check_token(token: &str) -> Result<(), &'static str> {
    if token.is_empty() {
        Err("is empty")
    } else if token.len() > MAX_TOKEN_CHARS {
        Err("is longer than 1024 characters")
    } else if !token.bytes().all(|b| b.is_ascii_graphic()) {
        Err("must be printable ASCII without spaces (it is sent in an HTTP header)")
    } else {
        Ok(())
    }
}

impl TokenSetting {
    /// The token to require, if any: the given one, or the token file's
    /// (made now if missing).
    ///
    /// # Errors
    /// [`TokenError`] when the token file cannot be read or made.
    pub fn resolve(&self) -> Result<Option<String>, TokenError> {
        match self {
            TokenSetting::Given(token) => Ok(Some(token.clone())),
            TokenSetting::File(path) => load_or_create(path).map(Some),
            TokenSetting::Off => Ok(None),
        }
    }
}

/// Reads the token in `path`, or makes one there if the file does not
/// exist. Two daemons starting at once on one data directory end up with
/// the same token: the file is published without replacing one that
/// appeared meanwhile.
fn load_or_create(path: &Path) -> Result<String, TokenError> {
    if let Some(token) = read_token_file(path)? {
        tracing::info!(file = %path.display(), "using the API token in the data directory");
        return Ok(token);
    }
    let token = new_token()?;
    let create = |source| TokenError::Create {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(create)?;
    }
    let published =
        write_private(path, format!("{token}\n").as_bytes(), Replace::No).map_err(create)?;
    if !published {
        // Another process made it first: use that one.
        return read_token_file(path)?.ok_or_else(|| TokenError::Invalid {
            path: path.display().to_string(),
            why: "vanished while it was being made",
        });
    }
    tracing::info!(file = %path.display(), "made a new API token (mode 0600); `charm-host charms` on this machine finds it by itself");
    Ok(token)
}

/// The token in `path`; `None` if there is no such file.
fn read_token_file(path: &Path) -> Result<Option<String>, TokenError> {
    let shown = || path.display().to_string();
    let mut bytes = Vec::new();
    match File::open(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(TokenError::Read {
                path: shown(),
                source,
            })
        }
        Ok(file) => {
            // Room for the longest token and a line ending, and one more
            // byte to tell a longer file.
            let cap = u64::try_from(MAX_TOKEN_CHARS + 3).unwrap_or(u64::MAX);
            file.take(cap)
                .read_to_end(&mut bytes)
                .map_err(|source| TokenError::Read {
                    path: shown(),
                    source,
                })?;
            warn_if_readable_by_others(path, file_mode(path));
        }
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| TokenError::Invalid {
        path: shown(),
        why: "is not text",
    })?;
    let token = text.trim();
    check_token(token).map_err(|why| TokenError::Invalid { path: shown(), why })?;
    Ok(Some(token.to_string()))
}

/// The permission bits of `path`, where the platform has them.
pub(crate) fn file_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// A token file others can read is made private (0600) with a warning: its
/// token may have been read, and deleting the file makes a new one.
fn warn_if_readable_by_others(path: &Path, mode: Option<u32>) {
    #[cfg(unix)]
    if let Some(mode) = mode.filter(|m| m & 0o077 != 0) {
        use std::os::unix::fs::PermissionsExt;
        let fixed = fs::set_permissions(path, fs::Permissions::from_mode(0o600));
        tracing::warn!(
            file = %path.display(),
            mode = format!("{mode:o}"),
            made_private = fixed.is_ok(),
            "the API token file was readable by other users; its token may be known: delete the file to have a new one made"
        );
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}

/// A new token: [`TOKEN_BYTES`] random bytes from the operating system, in
/// lowercase hex.
fn new_token() -> Result<String, TokenError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| TokenError::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether [`write_private`] may replace an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replace {
    Yes,
    No,
}

/// Writes `bytes` to `path` as a whole (readers never see half a file),
/// mode 0600 from the first byte. With `Replace::No` an existing file is
/// kept and `Ok(false)` returned.
pub(crate) fn write_private(path: &Path, bytes: &[u8], replace: Replace) -> io::Result<bool> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    let published = written.and_then(|()| match replace {
        Replace::Yes => fs::rename(&tmp, path).map(|()| true),
        // A hard link publishes the file only if no file has that name.
        Replace::No => match fs::hard_link(&tmp, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            // File systems without hard links: check, then rename.
            Err(_) if !path.exists() => fs::rename(&tmp, path).map(|()| true),
            Err(_) => Ok(false),
        },
    });
    let _ = fs::remove_file(&tmp);
    published
}

/// The URL a client on this machine uses for a daemon bound to `addr`: an
/// unspecified address (0.0.0.0, `::`) becomes the loopback address.
pub fn local_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// The dashboard's URL for a daemon bound to `addr`, with `token` (if any)
/// in the fragment, which browsers never send to a server: the page takes
/// it into its session storage and removes it from the address bar.
pub fn dashboard_url(addr: SocketAddr, token: Option<&str>) -> String {
    let base = local_url(addr);
    match token {
        Some(token) => {
            let encoded: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
            format!("{base}/#token={encoded}")
        }
        None => format!("{base}/"),
    }
}

/// Logs the dashboard's URL for a daemon bound to `addr`: with the token
/// in it when the token is the daemon's own (made or kept in its data
/// directory), without it when the operator gave it with `--token` (the
/// operator knows it, and a secret given on purpose is not repeated into
/// logs).
pub fn log_dashboard(setting: &TokenSetting, token: Option<&str>, addr: SocketAddr) {
    let shown = match setting {
        TokenSetting::File(_) => token,
        TokenSetting::Given(_) | TokenSetting::Off => None,
    };
    tracing::info!(
        token_required = token.is_some(),
        "dashboard: {}",
        dashboard_url(addr, shown)
    );
}

/// Writes the server file of a daemon bound to `addr` under `runtime_dir`
/// (if one is given). One that cannot be written is logged and the daemon
/// runs on: clients then need `--token`.
pub fn publish(
    token: Option<&str>,
    addr: SocketAddr,
    runtime_dir: Option<&Path>,
) -> Option<PublishedServer> {
    let dir = runtime_dir?;
    let info = ServerInfo {
        url: local_url(addr),
        token: token.map(str::to_string),
        pid: std::process::id(),
    };
    match PublishedServer::write(dir, addr.port(), &info) {
        Ok(published) => {
            tracing::info!(file = %published.path().display(), "wrote the server file `charm-host charms` reads");
            Some(published)
        }
        Err(error) => {
            tracing::warn!(
                file = %server_file(dir, addr.port()).display(),
                %error,
                "cannot write the server file; `charm-host charms` will need --token"
            );
            None
        }
    }
}

/// What a server file says: the daemon's URL, its token, its process id.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// The URL a client on this machine uses ([`local_url`]).
    pub url: String,
    /// The token every `/api` request needs; `None` with `--no-token`.
    pub token: Option<String>,
    /// The daemon's process id.
    pub pid: u32,
}

impl fmt::Debug for ServerInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerInfo")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("pid", &self.pid)
            .finish()
    }
}

/// `RUNTIME_DIR/charm-host/server-<port>.json`.
pub fn server_file(runtime_dir: &Path, port: u16) -> PathBuf {
    runtime_dir
        .join(SERVER_DIR)
        .join(format!("server-{port}.json"))
}

/// A server file written by this process, removed when dropped (at
/// shutdown) unless another daemon has written its own there since.
#[derive(Debug)]
pub struct PublishedServer {
    path: PathBuf,
}

impl PublishedServer {
    /// Writes the server file for a daemon on `port` (its folder is made
    /// with mode 0700 if missing).
    ///
    /// # Errors
    /// What the operating system said.
    pub fn write(runtime_dir: &Path, port: u16, info: &ServerInfo) -> io::Result<PublishedServer> {
        let path = server_file(runtime_dir, port);
        if let Some(dir) = path.parent() {
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o700);
            }
            builder.create(dir)?;
        }
        let json = serde_json::to_vec_pretty(info).map_err(io::Error::other)?;
        write_private(&path, &json, Replace::Yes)?;
        Ok(PublishedServer { path })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PublishedServer {
    fn drop(&mut self) {
        let ours = read_server_file(&self.path).is_ok_and(|info| info.pid == std::process::id());
        if ours {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn read_server_file(path: &Path) -> Result<ServerInfo, String> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(MAX_SERVER_FILE_BYTES).read_to_end(&mut bytes))
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => {
                "no daemon on this machine wrote one for that port".to_string()
            }
            _ => e.to_string(),
        })?;
    serde_json::from_slice(&bytes).map_err(|e| format!("it is not a server file ({e})"))
}

/// What [`find_token`] found for a server URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// The token of the daemon at that URL, from `file`.
    Token {
        /// The token.
        token: String,
        /// The server file it came from.
        file: PathBuf,
    },
    /// Nothing usable in `file` (missing, another daemon's, stale, a
    /// daemon without a token); `why` says which.
    Nothing {
        /// The server file looked at.
        file: PathBuf,
        /// Why it gave no token, for a hint after a 401.
        why: String,
    },
}

/// The token a client should send to `server`, read from the server file
/// of a daemon on this machine.
///
/// The file is used only when it names the same daemon: the same scheme
/// and port, and either the same host or two names of this machine
/// (loopback addresses, `localhost`, an unspecified address). A token is
/// never sent to another machine because a local daemon has the same port.
/// On Linux a file whose process is gone (a daemon killed with SIGKILL) is
/// ignored.
pub fn find_token(runtime_dir: &Path, server: &url::Url) -> Discovery {
    let port = server.port_or_known_default().unwrap_or(0);
    let file = server_file(runtime_dir, port);
    let nothing = |why: String| Discovery::Nothing {
        file: file.clone(),
        why,
    };
    let info = match read_server_file(&file) {
        Ok(info) => info,
        Err(why) => return nothing(why),
    };
    if !serves(&info.url, server) {
        return nothing(format!("it is for {}, not {server}", info.url));
    }
    if !process_alive(info.pid) {
        return nothing(format!(
            "its daemon (pid {}) is no longer running",
            info.pid
        ));
    }
    match info.token {
        Some(token) if check_token(&token).is_ok() => Discovery::Token { token, file },
        Some(_) => nothing("its token is not usable".to_string()),
        None => nothing("its daemon runs without a token".to_string()),
    }
}

/// Whether a server file's `url` and the client's `server` name the same
/// daemon.
fn serves(url: &str, server: &url::Url) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    url.scheme() == server.scheme()
        && url.port_or_known_default() == server.port_or_known_default()
        && match (url.host(), server.host()) {
            (Some(a), Some(b)) => a == b || (is_this_machine(&a) && is_this_machine(&b)),
            _ => false,
        }
}

/// A host that always means this machine.
fn is_this_machine(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Ipv4(ip) => ip.is_loopback() || ip.is_unspecified(),
        url::Host::Ipv6(ip) => ip.is_loopback() || ip.is_unspecified(),
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
    }
}

/// Whether a process with this id runs (Linux: `/proc/<pid>`; elsewhere
/// assumed).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_made_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join(TOKEN_FILE);
        let setting = TokenSetting::File(path.clone());
        let first = setting.resolve().unwrap().unwrap();
        assert_eq!(first.len(), 2 * TOKEN_BYTES);
        assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(file_mode(&path), Some(0o600));
        assert_eq!(setting.resolve().unwrap().unwrap(), first, "reused");
        assert_ne!(new_token().unwrap(), first, "random");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
    }

    #[test]
    fn a_token_file_written_by_hand_is_trimmed_checked_and_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TOKEN_FILE);
        fs::write(&path, "  my-own-token\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        }
        let setting = TokenSetting::File(path.clone());
        assert_eq!(setting.resolve().unwrap().as_deref(), Some("my-own-token"));
        assert_eq!(file_mode(&path), Some(0o600));
        for (content, why) in [
            (&b"\n"[..], "is empty"),
            (b"two words", "printable ASCII"),
            (b"\xff\xfe", "is not text"),
            (&[b'a'; 2000][..], "longer than 1024"),
        ] {
            fs::write(&path, content).unwrap();
            let e = setting.resolve().unwrap_err().to_string();
            assert!(e.contains(why) && e.contains("delete it"), "{e}");
        }
    }

    #[test]
    fn given_and_off_settings_touch_no_file_and_debug_hides_the_token() {
        assert_eq!(
            TokenSetting::Given("t0k".into())
                .resolve()
                .unwrap()
                .as_deref(),
            Some("t0k")
        );
        assert_eq!(TokenSetting::Off.resolve().unwrap(), None);
        assert!(!format!("{:?}", TokenSetting::Given("t0k".into())).contains("t0k"));
        let info = ServerInfo {
            url: "http://127.0.0.1:1".into(),
            token: Some("t0k".into()),
            pid: 1,
        };
        assert!(!format!("{info:?}").contains("t0k"));
    }

    #[test]
    fn tokens_must_fit_in_a_header() {
        assert!(check_token("abc-DEF_123.~+/=").is_ok());
        assert!(check_token("").is_err());
        assert!(check_token("a b").is_err());
        assert!(check_token("a\nb").is_err());
        assert!(check_token("é").is_err());
    }

    #[test]
    fn the_dashboard_url_carries_the_token_in_its_fragment() {
        let addr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(dashboard_url(addr, None), "http://127.0.0.1:8080/");
        assert_eq!(
            dashboard_url(addr, Some("ab12")),
            "http://127.0.0.1:8080/#token=ab12"
        );
        assert_eq!(
            dashboard_url(addr, Some("a&b#c%")),
            "http://127.0.0.1:8080/#token=a%26b%23c%25"
        );
    }

    #[test]
    fn the_local_url_of_an_unspecified_address_is_loopback() {
        assert_eq!(
            local_url("0.0.0.0:8080".parse().unwrap()),
            "http://127.0.0.1:8080"
        );
        assert_eq!(local_url("[::]:8080".parse().unwrap()), "http://[::1]:8080");
        assert_eq!(
            local_url("10.0.0.5:80".parse().unwrap()),
            "http://10.0.0.5:80"
        );
    }

    #[test]
    fn a_server_file_is_found_for_the_same_daemon_only_and_removed_when_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let info = ServerInfo {
            url: "http://127.0.0.1:18080".into(),
            token: Some("secret".into()),
            pid: std::process::id(),
        };
        let published = PublishedServer::write(dir, 18080, &info).unwrap();
        assert_eq!(published.path(), server_file(dir, 18080));
        assert_eq!(file_mode(published.path()), Some(0o600));
        assert_eq!(file_mode(&dir.join(SERVER_DIR)), Some(0o700));
        let found = |server: &str| find_token(dir, &url::Url::parse(server).unwrap());
        for server in [
            "http://127.0.0.1:18080",
            "http://localhost:18080/",
            "http://[::1]:18080",
            "http://0.0.0.0:18080",
        ] {
            assert!(
                matches!(found(server), Discovery::Token { ref token, .. } if token == "secret"),
                "{server}"
            );
        }
        for server in [
            "http://charms.example.com:18080",
            "https://127.0.0.1:18080",
            "http://127.0.0.1:18081",
        ] {
            assert!(
                matches!(found(server), Discovery::Nothing { .. }),
                "{server}"
            );
        }
        drop(published);
        assert!(!server_file(dir, 18080).exists(), "removed at shutdown");

        // Another daemon's file is left alone; a dead daemon's is ignored.
        let other = ServerInfo {
            pid: u32::MAX,
            ..info
        };
        let published = PublishedServer::write(dir, 18080, &other).unwrap();
        match found("http://127.0.0.1:18080") {
            Discovery::Nothing { why, .. } => assert!(why.contains("no longer running"), "{why}"),
            token => panic!("{token:?}"),
        }
        drop(published);
        assert!(server_file(dir, 18080).exists(), "not ours to remove");
        fs::write(server_file(dir, 18080), "{not json").unwrap();
        assert!(matches!(
            found("http://127.0.0.1:18080"),
            Discovery::Nothing { .. }
        ));
    }
}
