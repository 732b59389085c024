//! Shared helpers for the integration tests: the real `charm-host` binary,
//! the fixture charms, and a real HTTP server on loopback.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, Once};
use std::thread;

/// The compiled runtime is cached here for every test process, so only the
/// first test pays for pre-initialisation.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("runtime-cache")
}

/// Path of a fixture charm.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../charms-fixtures")
        .join(name)
}

/// The folder given to test processes as `XDG_RUNTIME_DIR` (and
/// `XDG_DATA_HOME`) unless a test sets its own: the tests never read or
/// write the real ones of whoever runs them.
pub fn test_home() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("xdg")
}

/// The binary, with the shared cache, no inherited log, token, server or
/// access settings, and the XDG folders under [`test_home`].
pub fn charm_host() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_charm-host"));
    cmd.env("CHARM_HOST_CACHE_DIR", cache_dir())
        .env("XDG_RUNTIME_DIR", test_home().join("runtime"))
        .env("XDG_DATA_HOME", test_home().join("data"));
    for inherited in [
        "CHARM_HOST_LOG",
        "CHARM_HOST_LOG_FORMAT",
        "CHARM_HOST_TOKEN",
        "CHARM_HOST_URL",
        "CHARM_HOST_LISTEN",
        "CHARM_HOST_DATA_DIR",
        "CHARM_HOST_DB",
        "CHARM_HOST_ALLOWED_HOSTS",
        "CHARM_HOST_ALLOWED_ORIGINS",
    ] {
        cmd.env_remove(inherited);
    }
    cmd
}

/// Fills the runtime cache once per test process, so parallel tests do not
/// all pre-initialise the runtime at the same time.
pub fn warm_cache() {
    static WARM: Once = Once::new();
    WARM.call_once(|| {
        let out = charm_host()
            .arg("run")
            .arg(fixture("counter.js"))
            .output()
            .expect("run the binary");
        assert!(
            out.status.success(),
            "warming the cache failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// `unshare` running `sh -c SCRIPT sh ARGS...` (add the ARGS) in a private
/// mount namespace, with the environment of [`charm_host`]: for tests that
/// need their own `/etc/hosts` or a small file system. Needs root, as CI has.
pub fn in_mount_namespace(script: &str) -> Command {
    let mut command = Command::new("unshare");
    command.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
    ]);
    for (key, value) in charm_host().get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    command
}

/// The result of running the binary.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Ran {
    fn from(out: Output) -> Ran {
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Ran {
    /// The state printed on stdout, parsed.
    pub fn state(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    /// The fuel the run used, from `--stats`.
    pub fn fuel(&self) -> u64 {
        let line = self
            .stderr
            .lines()
            .find(|l| l.starts_with("stats: fuel "))
            .unwrap_or_else(|| panic!("no stats line: {self:?}"));
        line["stats: fuel ".len()..]
            .split(',')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unreadable stats line: {line}"))
    }
}

/// `charm-host run FIXTURE ARGS...`
pub fn run_fixture(name: &str, args: &[&str]) -> Ran {
    warm_cache();
    charm_host()
        .arg("run")
        .arg(fixture(name))
        .args(args)
        .output()
        .expect("run the binary")
        .into()
}

/// One request as the test server saw it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// What a route answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub fn redirect(location: &str) -> Reply {
        Reply {
            status: 302,
            headers: vec![("location".into(), location.into())],
            body: Vec::new(),
        }
    }
}

type Handler = dyn Fn(&SeenRequest) -> Reply + Send + Sync;

/// A real HTTP/1.1 server on 127.0.0.1 with an ephemeral port. Routes are
/// matched on the path; unknown paths get 404. Every request is recorded.
pub struct TestServer {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
}

impl TestServer {
    pub fn start(routes: Vec<(&str, Box<Handler>)>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let routes: Arc<HashMap<String, Box<Handler>>> = Arc::new(
            routes
                .into_iter()
                .map(|(p, h)| (p.to_string(), h))
                .collect(),
        );
        let seen_in = Arc::clone(&seen);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (routes, seen) = (Arc::clone(&routes), Arc::clone(&seen_in));
                thread::spawn(move || serve(stream, &routes, &seen));
            }
        });
        TestServer { addr, seen }
    }

    /// `http://127.0.0.1:PORT{path}`
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `127.0.0.1:PORT`, as an allow-list entry.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(
    stream: TcpStream,
    routes: &HashMap<String, Box<Handler>>,
    seen: &Mutex<Vec<SeenRequest>>,
) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request = SeenRequest {
            method,
            path: path.clone(),
            headers,
            body,
        };
        seen.lock().unwrap().push(request.clone());
        let route = path.split('?').next().unwrap_or("");
        let reply = match routes.get(route) {
            Some(handler) => handler(&request),
            None => Reply {
                status: 404,
                headers: vec![],
                body: b"not found".to_vec(),
            },
        };
        let mut head = format!(
            "HTTP/1.1 {} X\r\ncontent-length: {}\r\n",
            reply.status,
            reply.body.len()
        );
        for (k, v) in &reply.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if writer
            .write_all(head.as_bytes())
            .and_then(|_| writer.write_all(&reply.body))
            .is_err()
        {
            return;
        }
    }
}

/// An HTTP answer: status, headers (names lowercase, in order) and the
/// body parsed as JSON (or the raw text as a JSON string).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

impl Answer {
    /// The values of header `name` (lowercase), joined with `, `; `None`
    /// if absent.
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// Whether any `access-control-*` header was sent.
    pub fn has_cors_headers(&self) -> bool {
        self.headers
            .iter()
            .any(|(k, _)| k.starts_with("access-control-"))
    }
}

/// Sends `request` (raw bytes, then `body`) to a loopback server and reads
/// the whole answer.
pub fn send_raw(addr: &str, request: &[u8], body: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).expect("connect to the daemon");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request).unwrap();
    // The server may answer (413) before reading a large body.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, payload) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = serde_json::from_str(payload)
        .unwrap_or_else(|_| serde_json::Value::String(payload.to_string()));
    Answer {
        status,
        headers,
        body,
    }
}

/// A blocking HTTP/1.1 request to a loopback server. `Host` is `addr`
/// unless `headers` has one.
pub fn http_answer(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Answer {
    let body = body.unwrap_or_default();
    let mut request = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        request.push_str(&format!("host: {addr}\r\n"));
    }
    request.push_str(&format!(
        "connection: close\r\ncontent-length: {}\r\n",
        body.len()
    ));
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    send_raw(addr, request.as_bytes(), body)
}

/// [`http_answer`]'s status and body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> (u16, serde_json::Value) {
    let answer = http_answer(addr, method, path, headers, body);
    (answer.status, answer.body)
}

/// `http` with a JSON body.
pub fn http_json(
    addr: &str,
    method: &str,
    path: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    http(
        addr,
        method,
        path,
        &[("content-type", "application/json")],
        Some(body.to_string().as_bytes()),
    )
}

/// Polls `check` until it returns Some, or panics after `secs` seconds.
pub fn wait_for<T>(what: &str, secs: u64, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A loopback server whose `/slow` answers after `?ms=N` milliseconds, or
/// after `default_ms` without one.
pub fn slow_server(default_ms: u64) -> TestServer {
    TestServer::start(vec![(
        "/slow",
        Box::new(move |req| {
            let ms: u64 = req
                .path
                .split("ms=")
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default_ms);
            thread::sleep(std::time::Duration::from_millis(ms));
            Reply::ok("text/plain", "slow")
        }),
    )])
}

/// A `charm-host serve` process on a random loopback port with its own
/// data directory (SQLite file) and runtime directory (server file),
/// killed when dropped. Its request helpers send the daemon's token: the
/// one given with `--token`, or the one it made in its data directory;
/// none with `--no-token`.
pub struct Daemon {
    pub child: Option<std::process::Child>,
    pub dir: PathBuf,
    pub addr: String,
    pub log: PathBuf,
    pub token: Option<String>,
}

/// The token a daemon started with `args` requires: `--token`'s value, none
/// with `--no-token`, else the one `read` finds in its data directory.
fn token_of(args: &[&str], read: impl FnOnce() -> Option<String>) -> Option<String> {
    if let Some(at) = args.iter().position(|a| *a == "--token") {
        return args.get(at + 1).map(|t| t.to_string());
    }
    if args.contains(&"--no-token") {
        return None;
    }
    let token = read().expect("the daemon keeps its token in DATA_DIR/api-token");
    Some(token.trim().to_string())
}

impl Daemon {
    /// Starts a daemon on a new temporary data directory.
    pub fn start(args: &[&str]) -> Daemon {
        Daemon::start_in(Daemon::new_dir(), args)
    }

    /// Starts a daemon on an existing data directory (a restart).
    pub fn start_in(dir: PathBuf, args: &[&str]) -> Daemon {
        Daemon::start_in_with_env(dir, args, &[])
    }

    /// [`Daemon::start`] with environment variables set (such as
    /// `CHARM_HOST_LOG`).
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Daemon {
        Daemon::start_in_with_env(Daemon::new_dir(), args, env)
    }

    /// [`Daemon::start_in`] with environment variables set (such as
    /// `CHARM_HOST_LOG`).
    pub fn start_in_with_env(dir: PathBuf, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut command = charm_host();
        command.envs(env.iter().copied());
        command.arg("serve").arg("--data-dir").arg(&dir);
        let mut daemon = Daemon::spawn(command, dir, args);
        let token_file = daemon.dir.join("api-token");
        daemon.token = token_of(args, || std::fs::read_to_string(token_file).ok());
        daemon
    }

    /// Starts a daemon whose data directory is a fresh tmpfs of `size`
    /// (e.g. `4m`), mounted in a private mount namespace: a disk that can
    /// really fill up. The addr file and log stay outside it.
    pub fn start_on_tmpfs(size: &str, args: &[&str]) -> Daemon {
        let dir = Daemon::new_dir();
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        let mut command =
            in_mount_namespace(r#"mount -t tmpfs -o size="$1" tmpfs "$2" && shift 2 && exec "$@""#);
        command
            .arg(size)
            .arg(&data)
            .arg(charm_host().get_program())
            .args(["serve", "--data-dir"])
            .arg(&data);
        let mut daemon = Daemon::spawn(command, dir, args);
        // The data directory is only visible inside the namespace.
        let read = daemon.in_namespace(&format!("cat '{}/api-token'", data.display()));
        daemon.token = token_of(args, || {
            read.status
                .success()
                .then(|| String::from_utf8_lossy(&read.stdout).into_owned())
        });
        daemon
    }

    /// Runs a shell script inside the daemon's mount namespace (as root).
    pub fn in_namespace(&self, script: &str) -> std::process::Output {
        let pid = self.child.as_ref().unwrap().id().to_string();
        Command::new("nsenter")
            .args(["-t", &pid, "-m", "sh", "-c", script])
            .output()
            .expect("run nsenter")
    }

    fn new_dir() -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "daemon-{}-{}",
            std::process::id(),
            NEXT_DAEMON.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn spawn(mut command: Command, dir: PathBuf, args: &[&str]) -> Daemon {
        warm_cache();
        let addr_file = dir.join("addr");
        let _ = std::fs::remove_file(&addr_file);
        let log = dir.join(format!(
            "daemon-{}.log",
            NEXT_DAEMON.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        let child = command
            .env("XDG_RUNTIME_DIR", dir.join("runtime"))
            .args(["--listen", "127.0.0.1:0", "--summary-interval-s", "3600"])
            .arg("--addr-file")
            .arg(&addr_file)
            .args(args)
            .stdout(std::fs::File::create(log.with_extension("stdout")).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start charm-host serve");
        let mut daemon = Daemon {
            child: Some(child),
            dir,
            addr: String::new(),
            log,
            token: None,
        };
        daemon.addr = wait_for("the daemon to listen", 60, || {
            if let Some(status) = daemon
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("the daemon exited early ({status}): {}", daemon.log_text());
            }
            std::fs::read_to_string(&addr_file)
                .ok()
                .filter(|a| !a.is_empty())
        });
        daemon
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// What the daemon wrote to stdout.
    pub fn stdout_text(&self) -> String {
        std::fs::read_to_string(self.log.with_extension("stdout")).unwrap_or_default()
    }

    /// The daemon's runtime directory (`XDG_RUNTIME_DIR`): its server file
    /// is under it.
    pub fn runtime_dir(&self) -> PathBuf {
        self.dir.join("runtime")
    }

    /// `http://ADDR`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `charm-host charms ARGS` against this daemon, as a user on the same
    /// machine runs it: `CHARM_HOST_URL` set, no token given (the client
    /// finds it in the server file under [`Daemon::runtime_dir`]).
    pub fn cli(&self, args: &[&str]) -> Ran {
        charm_host()
            .arg("charms")
            .args(args)
            .env("CHARM_HOST_URL", self.url())
            .env("XDG_RUNTIME_DIR", self.runtime_dir())
            .output()
            .expect("run the binary")
            .into()
    }

    /// A request with `headers` and the daemon's token, if it has one.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Answer {
        let bearer = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut all = headers.to_vec();
        if let Some(bearer) = &bearer {
            all.push(("authorization", bearer.as_str()));
        }
        http_answer(&self.addr, method, path, &all, body)
    }

    /// A JSON request with the daemon's token, if it has one.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let body = body.map(|b| b.to_string());
        let answer = self.send(
            method,
            path,
            &[("content-type", "application/json")],
            body.as_deref().map(str::as_bytes),
        );
        (answer.status, answer.body)
    }

    pub fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.request("GET", path, None)
    }

    pub fn post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        self.request("POST", path, Some(body))
    }

    pub fn patch(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        self.request("PATCH", path, Some(body))
    }

    pub fn delete(&self, path: &str) -> (u16, serde_json::Value) {
        self.request("DELETE", path, None)
    }

    /// Registers a fixture charm; returns its id.
    pub fn register(&self, fixture_name: &str, extra: serde_json::Value) -> String {
        let source = std::fs::read_to_string(fixture(fixture_name)).unwrap();
        let mut body = serde_json::json!({ "source": source, "name": fixture_name });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let (status, charm) = self.post("/api/charms", &body);
        assert_eq!(status, 201, "registering {fixture_name}: {charm}");
        charm["id"].as_str().unwrap().to_string()
    }

    /// Triggers a run and waits until it is done; returns the run.
    pub fn run_now(&self, id: &str, input: serde_json::Value) -> serde_json::Value {
        let (status, queued) = self.post(
            &format!("/api/charms/{id}/run"),
            &serde_json::json!({ "input": input }),
        );
        assert_eq!(status, 202, "{queued}");
        self.wait_run(queued["run_id"].as_i64().unwrap())
    }

    /// Waits until a run has started.
    pub fn wait_running(&self, run_id: i64) {
        wait_for(&format!("run {run_id} to start"), 30, || {
            let (_, run) = self.get(&format!("/api/runs/{run_id}"));
            (run["status"] == "running").then_some(())
        });
    }

    /// Waits until a run is done; returns it.
    pub fn wait_run(&self, run_id: i64) -> serde_json::Value {
        wait_for(&format!("run {run_id} to finish"), 60, || {
            let (_, run) = self.get(&format!("/api/runs/{run_id}"));
            (run["status"] == "done").then_some(run)
        })
    }

    pub fn state(&self, id: &str) -> serde_json::Value {
        let (status, state) = self.get(&format!("/api/charms/{id}/state"));
        assert_eq!(status, 200, "{state}");
        state
    }

    /// Sends a signal to the daemon.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let ok = Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {signal} {pid}");
    }

    /// Waits for the daemon to exit; returns its exit code.
    pub fn wait_exit(&mut self, secs: u64) -> Option<i32> {
        let child = self.child.as_mut().unwrap();
        let status = wait_for("the daemon to exit", secs, || {
            child.try_wait().ok().flatten()
        });
        self.child = None;
        status.code()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

static NEXT_DAEMON: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A loopback server that reads a request head and hands the raw connection
/// to `behave`, for servers that misbehave below HTTP (hang, trickle, lie).
pub struct RawServer {
    pub addr: SocketAddr,
}

impl RawServer {
    pub fn start(behave: impl Fn(TcpStream) + Send + Sync + 'static) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let behave = Arc::new(behave);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let behave = Arc::clone(&behave);
                thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                        line.clear();
                    }
                    behave(stream);
                });
            }
        });
        RawServer { addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}
