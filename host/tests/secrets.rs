//! Per-charm secrets through the real daemon (issue 13): set from stdin and
//! through the API, handed to the charm as `ctx.secrets`, sent only where
//! its allow-list says, rotated at the next run, kept under a key file made
//! private and reused across restarts, and found byte for byte nowhere
//! else: not in any API answer, log line, run record, dashboard asset or
//! the database file itself.

mod support;

use std::io::Write;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use support::{charm_host, fixture, Daemon, Ran, Reply, TestServer};

/// The value the leak test hunts for: lower case, so that a host name
/// holding it is still the same bytes.
const LEAKY: &str = "sk-live-zq8xv3lr5tn2wp7y";
/// A numeric secret, which the charm returns as a number.
const PIN: &str = "73519246";

/// `charm-host charms ARGS` against `d` with `stdin` piped in.
fn cli_with_stdin(d: &Daemon, args: &[&str], stdin: &str) -> Ran {
    let mut child = charm_host()
        .arg("charms")
        .args(args)
        .env("CHARM_HOST_URL", d.url())
        .env("XDG_RUNTIME_DIR", d.runtime_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the binary");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap().into()
}

fn put_secret(d: &Daemon, id: &str, name: &str, value: &str) -> (u16, Value) {
    d.request(
        "PUT",
        &format!("/api/charms/{id}/secrets/{name}"),
        Some(&json!({ "value": value })),
    )
}

/// A server whose `/check` answers 200 when the bearer token is the one
/// `expected` holds now, and 401 otherwise.
fn checking_server(expected: Arc<Mutex<String>>) -> TestServer {
    TestServer::start(vec![(
        "/check",
        Box::new(move |req| {
            let want = format!("Bearer {}", expected.lock().unwrap());
            if req.headers.get("authorization") == Some(&want) {
                Reply::ok("text/plain", "ok")
            } else {
                Reply {
                    status: 401,
                    headers: vec![],
                    body: b"wrong key".to_vec(),
                }
            }
        }),
    )])
}

#[test]
fn a_secret_set_from_stdin_reaches_the_charm_and_a_rotation_counts_at_the_next_run() {
    let expected = Arc::new(Mutex::new("first-key-0a1b2c3d".to_string()));
    let server = checking_server(Arc::clone(&expected));
    let d = Daemon::start(&[]);
    let id = d.register(
        "secret-fetch.js",
        json!({ "allowed_hosts": [server.host_port()], "enabled": false }),
    );
    d.patch(&format!("/api/charms/{id}"), &json!({ "enabled": true }));

    // From stdin, with the newline `echo` adds dropped.
    let set = cli_with_stdin(
        &d,
        &["secret", "set", &id, "API_KEY"],
        "first-key-0a1b2c3d\n",
    );
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert!(!set.stdout.contains("first-key") && !set.stderr.contains("first-key"));
    let input = json!({ "url": server.url("/check") });
    let run = d.run_now(&id, input.clone());
    assert_eq!(run["outcome"], "ok", "{run}");
    let state = d.state(&id);
    assert_eq!(
        state["state"],
        json!({ "status": 200, "names": ["API_KEY"], "type": "object" })
    );

    // Rotated through the API: the next run sends the new value.
    let (status, answer) = put_secret(&d, &id, "API_KEY", "second-key-4e5f6a7b");
    assert_eq!(
        (status, &answer),
        (200, &json!({"name": "API_KEY", "created": false}))
    );
    *expected.lock().unwrap() = "second-key-4e5f6a7b".to_string();
    let run = d.run_now(&id, input.clone());
    assert_eq!(run["outcome"], "ok", "{run}");
    assert_eq!(d.state(&id)["state"]["status"], 200);
    let sent: Vec<String> = server
        .requests()
        .iter()
        .filter_map(|r| r.headers.get("authorization").cloned())
        .collect();
    assert_eq!(
        sent,
        ["Bearer first-key-0a1b2c3d", "Bearer second-key-4e5f6a7b"]
    );

    // Listed by name and time, never by value.
    let list = d.cli(&["secret", "list", &id]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(list.stdout.contains("API_KEY"), "{}", list.stdout);
    assert!(!list.stdout.contains("key-"), "{}", list.stdout);
    let (_, listed) = d.get(&format!("/api/charms/{id}/secrets"));
    let entry = &listed["secrets"][0];
    assert_eq!(entry["name"], "API_KEY");
    assert!(entry["updated_at"].as_i64().is_some(), "{listed}");
    assert_eq!(entry.as_object().unwrap().len(), 2, "{listed}");

    // Removed: the next run has an empty ctx.secrets and sends no key.
    let rm = d.cli(&["secret", "rm", &id, "API_KEY"]);
    assert_eq!(rm.code, 0, "{}", rm.stderr);
    let run = d.run_now(&id, input);
    assert_eq!(run["outcome"], "ok", "{run}");
    assert_eq!(
        d.state(&id)["state"],
        json!({ "status": 401, "names": [], "type": "object" })
    );
    let rm_again = d.cli(&["secret", "rm", &id, "API_KEY"]);
    assert_eq!(rm_again.code, 1, "a missing secret is an error");
}

/// Every answer of the API about `id` and its runs, as text.
fn api_answers(d: &Daemon, id: &str) -> Vec<(String, String)> {
    let mut paths: Vec<String> = [
        "",
        "/state",
        "/runs?limit=100",
        "/source",
        "/events",
        "/secrets",
        "/state/versions",
        "/state?version=1",
        "/state/diff?from=0",
    ]
    .iter()
    .map(|rest| format!("/api/charms/{id}{rest}"))
    .collect();
    paths.extend(
        [
            "/api/charms",
            "/api/alerts",
            "/api/stats",
            "/api/audit?limit=1000",
            "/api/spaces",
            "/healthz",
            "/metrics",
        ]
        .map(String::from),
    );
    let (_, runs) = d.get(&format!("/api/charms/{id}/runs?limit=100"));
    for run in runs["runs"].as_array().unwrap() {
        paths.push(format!("/api/runs/{}", run["id"]));
    }
    paths
        .into_iter()
        .map(|path| {
            let answer = d.send("GET", &path, &[], None);
            assert!(answer.status < 500, "{path}: {}", answer.status);
            let headers: String = answer
                .headers
                .iter()
                .map(|(k, v)| format!("{k}: {v}\n"))
                .collect();
            (path, format!("{headers}{}", answer.body))
        })
        .collect()
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn a_charm_that_logs_throws_and_returns_its_secret_leaves_it_nowhere() {
    let d = Daemon::start_in_with_env(
        {
            let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("secrets-leak-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            dir
        },
        &[],
        // Debug too: fetch refusals are traced at debug.
        &[("CHARM_HOST_LOG", "debug")],
    );
    let id = d.register(
        "secret-leaker.js",
        json!({ "enabled": false, "max_attempts": 1 }),
    );
    assert_eq!(put_secret(&d, &id, "API_KEY", LEAKY).0, 201);
    assert_eq!(put_secret(&d, &id, "PIN", PIN).0, 201);
    d.patch(&format!("/api/charms/{id}"), &json!({ "enabled": true }));

    // It returns the secret in its state: the run succeeds, redacted.
    let run = d.run_now(&id, json!(null));
    assert_eq!(run["outcome"], "ok", "{run}");
    let state = d.state(&id)["state"].clone();
    assert_eq!(state["key"], "[redacted]", "{state}");
    assert_eq!(state["pin"], "[redacted]", "{state}");
    assert_eq!(state["names"], json!(["API_KEY", "PIN"]));
    assert_eq!(state["runs"], 1);
    assert!(
        run["log"]
            .as_str()
            .unwrap()
            .contains("the key is [redacted]"),
        "{run}"
    );
    // It throws with it, puts it in a host name, rejects with it.
    for (mode, outcome) in [("throw", "error"), ("fetch", "denied"), ("reject", "error")] {
        let run = d.run_now(&id, json!({ "mode": mode }));
        assert_eq!(run["outcome"], outcome, "{mode}: {run}");
        assert!(
            run["error"].as_str().unwrap().contains("[redacted]"),
            "{mode}: {run}"
        );
    }
    let run = d.run_now(&id, json!(null));
    assert_eq!(run["outcome"], "ok", "{run}");
    assert_eq!(
        d.state(&id)["state"]["runs"],
        2,
        "the redacted state is read back"
    );

    // A playground tryout of the same charm is redacted as a run is.
    let (status, tried) = d.post(&format!("/api/charms/{id}/try"), &json!({}));
    assert_eq!(status, 200, "{tried}");
    assert_eq!(tried["state"]["key"], "[redacted]", "{tried}");
    let tried = tried.to_string();

    for secret in [LEAKY, PIN] {
        assert!(
            !holds(tried.as_bytes(), secret),
            "the tryout holds a secret: {tried}"
        );
        for (path, text) in api_answers(&d, &id) {
            assert!(
                !holds(text.as_bytes(), secret),
                "{path} holds a secret: {text}"
            );
        }
        for asset in ["/", "/assets/app.js", "/assets/app.css"] {
            let page = d.send("GET", asset, &[], None);
            assert!(!holds(page.body.to_string().as_bytes(), secret), "{asset}");
        }
        let log = d.log_text();
        assert!(
            log.contains("the key is [redacted]"),
            "console lines are logged"
        );
        assert!(!holds(log.as_bytes(), secret), "the daemon's log: {log}");
        assert!(!holds(d.stdout_text().as_bytes(), secret), "its stdout");
        for file in ["charm-host.db", "charm-host.db-wal", "charm-host.db-shm"] {
            let bytes = std::fs::read(d.dir.join(file)).unwrap_or_default();
            assert!(!holds(&bytes, secret), "{file} holds a secret");
        }
    }
    let wal = std::fs::read(d.dir.join("charm-host.db-wal")).unwrap_or_default();
    assert!(
        holds(&wal, "[redacted]")
            || holds(
                &std::fs::read(d.dir.join("charm-host.db")).unwrap(),
                "[redacted]"
            ),
        "the search looked where the runs were written"
    );

    // Deleting the charm deletes its secrets.
    assert_eq!(d.delete(&format!("/api/charms/{id}")).0, 204);
    assert_eq!(d.get(&format!("/api/charms/{id}/secrets")).0, 404);
}

#[test]
fn the_key_file_is_private_and_reused_and_a_wrong_key_names_the_secret() {
    let expected = Arc::new(Mutex::new("kept-key-9c8d7e6f".to_string()));
    let server = checking_server(Arc::clone(&expected));
    let mut d = Daemon::start(&[]);
    let id = d.register(
        "secret-fetch.js",
        json!({ "allowed_hosts": [server.host_port()], "enabled": false }),
    );
    assert_eq!(put_secret(&d, &id, "API_KEY", "kept-key-9c8d7e6f").0, 201);
    let key_file = d.dir.join("secrets-key");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let key = std::fs::read(&key_file).unwrap();
    assert_eq!(key.len(), 65, "64 hex digits and a newline");

    // A restart reuses the key: the secret still opens.
    d.signal("-TERM");
    assert_eq!(d.wait_exit(30), Some(0));
    let dir = d.dir.clone();
    let d = Daemon::start_in(dir.clone(), &[]);
    assert_eq!(std::fs::read(&key_file).unwrap(), key, "the same key");
    d.patch(&format!("/api/charms/{id}"), &json!({ "enabled": true }));
    let input = json!({ "url": server.url("/check") });
    let run = d.run_now(&id, input.clone());
    assert_eq!(run["outcome"], "ok", "{run}");
    assert_eq!(d.state(&id)["state"]["status"], 200);
    drop(d);

    // Another key: the run fails, naming the secret, and nothing panics.
    let other = dir.join("other-key");
    std::fs::write(&other, format!("{}\n", "ab".repeat(32))).unwrap();
    let d = Daemon::start_in(
        dir.clone(),
        &["--secrets-key-file", other.to_str().unwrap()],
    );
    let run = d.run_now(&id, input);
    assert_eq!(run["outcome"], "fault", "{run}");
    let error = run["error"].as_str().unwrap();
    assert!(error.contains("secret `API_KEY`"), "{error}");
    assert!(error.contains("--secrets-key-file"), "{error}");
    assert!(!d.log_text().contains("panicked"), "{}", d.log_text());
    assert_eq!(server.requests().len(), 1, "no request without its key");
    drop(d);

    // A key file that looks like a URL, or is missing, is refused at start.
    let url = charm_host()
        .args(["serve", "--data-dir"])
        .arg(&dir)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--secrets-key-file",
            "https://vault.example/k",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&url.stderr);
    assert_eq!(url.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--secrets-key-file"), "{stderr}");
    let missing = charm_host()
        .args(["serve", "--data-dir"])
        .arg(&dir)
        .args(["--listen", "127.0.0.1:0", "--secrets-key-file"])
        .arg(dir.join("no-such-key"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_ne!(missing.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("no-such-key"), "{stderr}");
}

#[test]
fn malformed_secret_requests_get_4xx_json_errors() {
    let d = Daemon::start(&[]);
    let id = d.register("counter.js", json!({ "enabled": false }));
    let path = |name: &str| format!("/api/charms/{id}/secrets/{name}");
    let cases: Vec<(&str, String, Option<&[u8]>, u16)> = vec![
        ("PUT", path("1abc"), Some(br#"{"value":"v4lue"}"#), 400),
        ("PUT", path("a-b"), Some(br#"{"value":"v4lue"}"#), 400),
        (
            "PUT",
            path(&"A".repeat(65)),
            Some(br#"{"value":"v4lue"}"#),
            400,
        ),
        ("PUT", path("OK"), Some(br#"{"value":""}"#), 400),
        ("PUT", path("OK"), Some(br#"{"value":12345678}"#), 400),
        ("PUT", path("OK"), Some(br#"{"value":"x","extra":1}"#), 400),
        ("PUT", path("OK"), Some(b"not json"), 400),
        ("PUT", path("OK"), None, 400),
        (
            "PUT",
            "/api/charms/0123/secrets/OK".to_string(),
            Some(br#"{"value":"v4lue"}"#),
            404,
        ),
        ("GET", "/api/charms/nope/secrets".to_string(), None, 404),
        ("DELETE", path("MISSING"), None, 404),
        ("DELETE", path("bad%20name"), None, 400),
        ("GET", path("OK"), None, 405),
        ("POST", format!("/api/charms/{id}/secrets"), None, 405),
    ];
    for (method, path, body, want) in cases {
        let answer = d.send(method, &path, &[("content-type", "application/json")], body);
        assert_eq!(answer.status, want, "{method} {path}: {}", answer.body);
        assert!(
            answer.body["code"].is_string(),
            "{method} {path}: {}",
            answer.body
        );
        assert!(
            !answer.body.to_string().contains("12345678"),
            "a malformed value is not echoed: {}",
            answer.body
        );
    }
    let plain = d.send(
        "PUT",
        &path("OK"),
        &[("content-type", "text/plain")],
        Some(br#"{"value":"v4lue"}"#),
    );
    assert_eq!(plain.status, 415, "only JSON: {}", plain.body);
    let big = json!({ "value": "x".repeat(8 * 1024 + 1) }).to_string();
    let answer = d.send(
        "PUT",
        &path("BIG"),
        &[("content-type", "application/json")],
        Some(big.as_bytes()),
    );
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body["error"].as_str().unwrap().contains("8192"));

    // At most 50 a charm; rotating one at the limit is fine.
    for n in 0..50 {
        assert_eq!(put_secret(&d, &id, &format!("S{n}"), "v4lue").0, 201);
    }
    let (status, full) = put_secret(&d, &id, "S50", "v4lue");
    assert_eq!(status, 409, "{full}");
    assert!(full["error"].as_str().unwrap().contains("50"), "{full}");
    assert_eq!(put_secret(&d, &id, "S7", "n3w-value").0, 200);
    // Without the token, nothing.
    let anonymous = support::http(
        &d.addr,
        "GET",
        &format!("/api/charms/{id}/secrets"),
        &[],
        None,
    );
    assert_eq!(anonymous.0, 401);
}

#[test]
fn charm_host_run_takes_secrets_from_files_and_redacts_them() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, format!("{LEAKY}\n")).unwrap();
    let pin = dir.path().join("pin");
    std::fs::write(&pin, PIN).unwrap();
    let leaker = fixture("secret-leaker.js");
    let run = |extra: &[&str]| -> Ran {
        charm_host()
            .arg("run")
            .arg(&leaker)
            .args(extra)
            .output()
            .unwrap()
            .into()
    };
    let key_arg = format!("API_KEY=@{}", key.display());
    let pin_arg = format!("PIN=@{}", pin.display());
    let ok = run(&["--secret", &key_arg, "--secret", &pin_arg]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let state = ok.state();
    assert_eq!(state["key"], "[redacted]");
    assert_eq!(state["names"], json!(["API_KEY", "PIN"]));
    assert_eq!(state["frozen"], true, "ctx.secrets is read only");
    assert!(ok.stderr.contains("the key is [redacted]"), "{}", ok.stderr);
    let failed = run(&["--secret", &key_arg, "--input", r#"{"mode":"throw"}"#]);
    assert_eq!(failed.code, 1);
    for out in [&ok, &failed] {
        for secret in [LEAKY, PIN] {
            assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret));
        }
    }
    assert!(
        failed.stderr.contains("refused with key [redacted]"),
        "{}",
        failed.stderr
    );
    // A value on the command line is refused, and not repeated.
    let inline = run(&["--secret", &format!("API_KEY={LEAKY}")]);
    assert_eq!(inline.code, 2, "{}", inline.stderr);
    assert!(!inline.stderr.contains(LEAKY), "{}", inline.stderr);
}
