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

/// The binary, with the shared cache and no inherited log settings.
pub fn charm_host() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_charm-host"));
    cmd.env("CHARM_HOST_CACHE_DIR", cache_dir())
        .env_remove("CHARM_HOST_LOG")
        .env_remove("CHARM_HOST_LOG_FORMAT");
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
