//! Record and replay (issue 14): every run records what it received; `runs
//! export` writes it with the source; `replay` re-runs it offline, the same
//! way byte for byte, or with a fixed source; a charm that asks for a
//! request the run did not make is stopped, naming it.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use serde_json::{json, Value};
use support::{charm_host, fixture, warm_cache, Daemon, Ran, Reply, TestServer};

/// A loopback HTTP server that answers every request with one body, and
/// that a test can stop: its port is closed afterwards, so anything that
/// still reaches for it fails.
struct StoppableServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    served: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl StoppableServer {
    fn start(content_type: &'static str, body: &'static str) -> StoppableServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, served) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
        );
        let (stop_in, served_in) = (Arc::clone(&stop), Arc::clone(&served));
        let thread = std::thread::spawn(move || {
            while !stop_in.load(Ordering::SeqCst) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                let mut seen = Vec::new();
                let mut buf = [0u8; 1024];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes());
                served_in.fetch_add(1, Ordering::SeqCst);
            }
        });
        StoppableServer {
            addr,
            stop,
            served,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops it and closes its port.
    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
        assert!(
            std::net::TcpStream::connect(self.addr).is_err(),
            "the port is closed"
        );
    }
}

/// `charm-host runs export RUN` against `d`, written to a file; returns it.
fn export(d: &Daemon, run: i64) -> PathBuf {
    let out: Ran = charm_host()
        .args(["runs", "export", &run.to_string()])
        .env("CHARM_HOST_URL", d.url())
        .env("XDG_RUNTIME_DIR", d.runtime_dir())
        .output()
        .unwrap()
        .into();
    assert_eq!(out.code, 0, "{out:?}");
    let path = d.dir.join(format!("run-{run}.json"));
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

/// `charm-host replay FILE ARGS...`
fn replay(file: &Path, args: &[&str]) -> Ran {
    warm_cache();
    charm_host()
        .arg("replay")
        .arg(file)
        .args(args)
        .output()
        .unwrap()
        .into()
}

fn register(d: &Daemon, fixture_name: &str, allowed: &str, state: Value) -> String {
    d.register(
        fixture_name,
        json!({ "interval_s": 86400, "allowed_hosts": [allowed], "state": state }),
    )
}

#[test]
fn a_failed_run_replays_offline_the_same_way_and_a_fixed_source_succeeds() {
    let mut server = StoppableServer::start("application/json", "{\"items\": [1, 2,");
    let d = Daemon::start(&[]);
    let id = register(
        &d,
        "replay-feed.js",
        &server.addr.to_string(),
        json!({ "url": server.url("/feed") }),
    );
    let (status, _) = d.request(
        "PUT",
        &format!("/api/charms/{id}/secrets/TOKEN"),
        Some(&json!({ "value": "tok-5f3a9c1e77" })),
    );
    assert!((200..300).contains(&status), "{status}");
    let run = d.run_now(&id, Value::Null);
    assert_eq!(run["outcome"], "error", "{run}");
    let error = run["error"].as_str().unwrap().to_string();
    assert!(error.contains("SyntaxError"), "{error}");
    let file = export(&d, run["id"].as_i64().unwrap());
    server.stop();
    let served = server.served.load(Ordering::SeqCst);

    // The file: versioned, self-contained, no secret value.
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("tok-5f3a9c1e77"), "{text}");
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format"], "charm-host-run/1");
    assert_eq!(doc["run"]["error"], error.as_str());
    assert_eq!(doc["redactedSecrets"], json!(["TOKEN"]));
    assert_eq!(doc["inputs"]["ctx"]["secrets"]["TOKEN"], "[redacted]");
    assert_eq!(
        doc["charm"]["source"],
        std::fs::read_to_string(fixture("replay-feed.js")).unwrap()
    );
    let fetched = &doc["inputs"]["recording"]["fetches"][0];
    assert_eq!(fetched["url"], server.url("/feed"));
    assert_eq!(fetched["response"]["body"]["text"], "{\"items\": [1, 2,");

    // Offline, the same failure, byte for byte.
    let again = replay(&file, &[]);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(
        again
            .stderr
            .contains(&format!("error: charm `replay-feed.js` failed: {error}\n")),
        "{again:?}"
    );
    assert!(
        again.stderr.contains("(TOKEN) are \"[redacted]\""),
        "{again:?}"
    );

    // A fixed charm shows what it would have done.
    let fixed = replay(
        &file,
        &[
            "--source",
            fixture("replay-feed-fixed.js").to_str().unwrap(),
        ],
    );
    assert_eq!(fixed.code, 0, "{fixed:?}");
    assert_eq!(
        fixed.state(),
        json!({ "url": server.url("/feed"), "items": 0, "malformed": "{\"items\": [1, 2," })
    );
    assert_eq!(
        server.served.load(Ordering::SeqCst),
        served,
        "no request reached the server"
    );
}

#[test]
fn clocks_random_values_and_timers_replay_identically() {
    let server = TestServer::start(vec![("/t", Box::new(|_| Reply::ok("text/plain", "tea")))]);
    let d = Daemon::start(&[]);
    let id = register(
        &d,
        "replay-clocks.js",
        &server.host_port(),
        json!({ "url": server.url("/t") }),
    );
    let run = d.run_now(&id, Value::Null);
    assert_eq!(run["outcome"], "ok", "{run}");
    let stored = d.state(&id)["state"].clone();
    let file = export(&d, run["id"].as_i64().unwrap());

    let first = replay(&file, &[]);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(first.state(), stored, "the replay's state is the run's");
    let second = replay(&file, &[]);
    assert_eq!(second.stdout, first.stdout, "byte for byte");
    assert_eq!(server.requests().len(), 1, "replays never fetch");

    // The values are the run's own: another run draws others.
    let other = d.run_now(&id, Value::Null);
    assert_eq!(other["outcome"], "ok", "{other}");
    let next = d.state(&id)["state"].clone();
    assert_ne!(next["seen"]["uuid"], stored["seen"]["uuid"]);
    assert_ne!(next["seen"]["random"], stored["seen"]["random"]);
}

#[test]
fn a_diverging_replay_names_the_first_unrecorded_request() {
    let server = TestServer::start(vec![
        ("/a", Box::new(|_| Reply::ok("text/plain", "A"))),
        ("/b", Box::new(|_| Reply::ok("text/plain", "B"))),
    ]);
    let d = Daemon::start(&[]);
    let base = format!("http://{}", server.host_port());
    let id = register(
        &d,
        "replay-two.js",
        &server.host_port(),
        json!({ "base": base }),
    );
    let run = d.run_now(&id, Value::Null);
    assert_eq!(run["outcome"], "ok", "{run}");
    let file = export(&d, run["id"].as_i64().unwrap());
    let same = replay(&file, &[]);
    assert_eq!(same.code, 0, "{same:?}");
    assert_eq!(same.state()["got"], json!(["A", "B"]));

    let diverged = replay(
        &file,
        &[
            "--source",
            fixture("replay-two-diverged.js").to_str().unwrap(),
        ],
    );
    assert_eq!(diverged.code, 1, "{diverged:?}");
    assert!(
        diverged.stderr.contains(&format!(
            "the charm's fetch #1 (GET {base}/c?page=2) was not recorded: the recorded run's fetch #1 was GET {base}/b"
        )),
        "{diverged:?}"
    );
    assert_eq!(server.requests().len(), 2, "replays never fetch");
}

#[test]
fn a_body_over_the_cap_is_marked_truncated_and_its_replay_says_so() {
    let server = TestServer::start(vec![(
        "/big",
        Box::new(|_| Reply::ok("application/json", vec![b' '; 4000])),
    )]);
    let d = Daemon::start(&["--record-bytes-per-run", "2048"]);
    let id = register(
        &d,
        "replay-feed.js",
        &server.host_port(),
        json!({ "url": server.url("/big") }),
    );
    let run = d.run_now(&id, Value::Null);
    let file = export(&d, run["id"].as_i64().unwrap());
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["inputs"]["recording"]["truncated"], true);
    assert_eq!(
        doc["inputs"]["recording"]["fetches"][0]["response"]["body"]["truncated"],
        4000
    );
    let again = replay(&file, &[]);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("left its body of 4000 bytes out for the cap of 2048 bytes per run (`--record-bytes-per-run`)"), "{again:?}");
}

#[test]
fn a_run_is_exported_only_to_its_own_space() {
    let d = Daemon::start(&[]);
    let id = d.register("counter.js", json!({ "interval_s": 86400 }));
    let run = d.run_now(&id, Value::Null)["id"].as_i64().unwrap();
    let (status, made) = d.post(
        "/api/tokens",
        &json!({ "kind": "space", "space": "elsewhere", "name": "x" }),
    );
    assert_eq!(status, 201, "{made}");
    let bearer = format!("Bearer {}", made["token"].as_str().unwrap());
    let path = format!("/api/runs/{run}/export");
    let answer = support::http_answer(&d.addr, "GET", &path, &[("authorization", &bearer)], None);
    assert_eq!(answer.status, 404, "{:?}", answer.body);
    let (status, file) = d.get(&path);
    assert_eq!((status, &file["format"]), (200, &json!("charm-host-run/1")));
    let (status, missing) = d.get("/api/runs/999999/export");
    assert_eq!(status, 404, "{missing}");
}
