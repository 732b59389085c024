//! Who may reach `charm-host serve` (issue 17: any web page could drive a
//! local daemon through DNS rebinding): the Host allow-list, the Origin
//! check on changes, CORS for named origins, and the token made by default
//! with the server file the CLI reads. Through the real binary; tests wait
//! for conditions, never for a fixed time.

mod support;

use serde_json::{json, Value};
use support::{charm_host, http_answer, send_raw, wait_for, Answer, Daemon, Ran};

const EVIL: &str = "evil.example.com";

fn assert_refused(answer: &Answer, code: &str, flag: &str, what: &str) {
    assert_eq!(answer.status, 403, "{what}: {answer:?}");
    assert_eq!(answer.body["code"], code, "{what}: {answer:?}");
    let error = answer.body["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(flag),
        "{what}: the error names {flag}: {error}"
    );
}

/// The charms the daemon holds, read with a good request.
fn charms(d: &Daemon) -> Vec<Value> {
    let (status, page) = d.get("/api/charms");
    assert_eq!(status, 200, "{page}");
    page["charms"].as_array().unwrap().clone()
}

/// `serve ARGS` with `envs` exits 2 before making any file, and says
/// `expected`.
fn serve_refuses(args: &[&str], envs: &[(&str, &str)], expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = charm_host();
    command
        .args(["serve", "--no-cache", "--data-dir"])
        .arg(dir.path())
        .args(args);
    for (k, v) in envs {
        command.env(k, v);
    }
    let ran: Ran = command.output().unwrap().into();
    assert_eq!(ran.code, 2, "{args:?} {envs:?}: {ran:?}");
    assert!(
        !dir.path().join("api-token").exists(),
        "settings are checked before any file is made"
    );
    assert!(ran.stderr.contains(expected), "{args:?} {envs:?}: {ran:?}");
}

#[test]
fn regression_17_a_foreign_host_is_refused_on_every_route() {
    let d = Daemon::start(&[]);
    let id = d.register("counter.js", json!({ "interval_s": 3600 }));
    let paths = [
        "/".to_string(),
        "/assets/app.js".to_string(),
        "/healthz".to_string(),
        "/metrics".to_string(),
        "/api/charms".to_string(),
        format!("/api/charms/{id}"),
        format!("/api/charms/{id}/state"),
        "/api/stats".to_string(),
        "/no/such/path".to_string(),
    ];
    for host in [
        EVIL.to_string(),
        format!("{EVIL}:{}", d.addr.split(':').nth(1).unwrap()),
        "10.0.0.5.nip.io".into(),
    ] {
        for path in &paths {
            for method in ["GET", "OPTIONS"] {
                let answer = d.send(method, path, &[("host", host.as_str())], None);
                assert_refused(
                    &answer,
                    "host_not_allowed",
                    "--allowed-host",
                    &format!("{method} {path} Host: {host}"),
                );
                assert!(!answer.has_cors_headers(), "{answer:?}");
            }
        }
    }
    // The two requests, with the token even: refused, nothing made.
    let body = json!({
        "source": std::fs::read_to_string(support::fixture("counter.js")).unwrap(),
        "allowed_hosts": ["10.0.0.5"],
    })
    .to_string();
    let answer = d.send(
        "POST",
        "/api/charms",
        &[("host", EVIL), ("content-type", "application/json")],
        Some(body.as_bytes()),
    );
    assert_refused(
        &answer,
        "host_not_allowed",
        "--allowed-host evil.example.com",
        "POST",
    );
    assert_eq!(charms(&d).len(), 1, "no charm was registered");
    // No Host at all (HTTP/1.0), two of them, or an absolute request target
    // that names another host.
    let addr = &d.addr;
    let raw = [
        ("HTTP/1.0 without Host", "GET /healthz HTTP/1.0\r\n\r\n".to_string(), "exactly one Host header"),
        ("two Host headers", format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\nhost: {EVIL}\r\nconnection: close\r\n\r\n"), "exactly one Host header"),
        ("absolute form", format!("GET http://{EVIL}/healthz HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"), "--allowed-host evil.example.com"),
    ];
    for (what, request, says) in raw {
        let answer = send_raw(addr, request.as_bytes(), b"");
        assert_refused(&answer, "host_not_allowed", says, what);
    }
    assert!(!d.log_text().contains("panicked"));
}

#[test]
fn the_daemons_own_names_work_in_each_form() {
    let d = Daemon::start(&[]);
    let port = d.addr.rsplit(':').next().unwrap().to_string();
    let hosts = [
        "localhost".to_string(),
        format!("localhost:{port}"),
        format!("LocalHost:{port}"),
        "127.0.0.1".to_string(),
        format!("127.0.0.1:{port}"),
        "[::1]".to_string(),
        format!("[::1]:{port}"),
        format!("charms.localhost:{port}"),
        "charms.localhost".to_string(),
    ];
    for host in &hosts {
        for path in ["/", "/healthz", "/metrics", "/api/charms"] {
            let answer = d.send("GET", path, &[("host", host.as_str())], None);
            assert_eq!(answer.status, 200, "GET {path} Host: {host}: {answer:?}");
        }
        // A change from the dashboard served under that name.
        let origin = format!("http://{}", host.to_ascii_lowercase());
        let (status, body) = {
            let a = d.send(
                "POST",
                "/api/charms",
                &[("host", host.as_str()), ("origin", origin.as_str()), ("content-type", "application/json")],
                Some(json!({ "source": "export function bgUpdater(s) { return s }", "interval_s": 3600 }).to_string().as_bytes()),
            );
            (a.status, a.body)
        };
        assert_eq!(
            status, 201,
            "same-origin POST, Host: {host}, Origin: {origin}: {body}"
        );
    }
    assert_eq!(charms(&d).len(), hosts.len());
}

#[test]
fn allowed_hosts_admit_names_given_by_flag_and_bad_ones_are_refused_at_start() {
    let d = Daemon::start(&[
        "--allowed-host",
        "charms.example.com",
        "--allowed-host",
        "Proxy.Internal",
    ]);
    for host in [
        "charms.example.com",
        "charms.example.com:8443",
        "proxy.internal:80",
    ] {
        let answer = d.send("GET", "/api/charms", &[("host", host)], None);
        assert_eq!(answer.status, 200, "Host: {host}: {answer:?}");
        let page = d.send("GET", "/", &[("host", host)], None);
        assert_eq!(page.status, 200, "the dashboard under {host}");
    }
    for host in ["example.com", "www.charms.example.com", EVIL] {
        let answer = d.send("GET", "/api/charms", &[("host", host)], None);
        assert_refused(&answer, "host_not_allowed", "--allowed-host", host);
    }

    // Refused at start, naming the flag, from the flag or the environment.
    serve_refuses(&["--allowed-host", "https://charms.example.com/"], &[], "--allowed-host takes a host name such as charms.example.com, not `https://charms.example.com/`: it looks like a URL");
    serve_refuses(
        &[],
        &[(
            "CHARM_HOST_ALLOWED_HOSTS",
            "ok.example.com,charms.example.com/api",
        )],
        "not `charms.example.com/api`: a host name has no path",
    );
    serve_refuses(
        &["--allowed-host", "*.example.com"],
        &[],
        "wildcards are not supported",
    );
    serve_refuses(
        &["--allowed-origin", "https://dash.example.com/app"],
        &[],
        "--allowed-origin takes an origin",
    );
    serve_refuses(&[], &[("CHARM_HOST_ALLOWED_ORIGINS", "null")], "`null`");
}

#[test]
fn regression_17_cross_origin_changes_are_refused_and_change_nothing() {
    let d = Daemon::start(&[]);
    let id = d.register(
        "counter.js",
        json!({ "interval_s": 3600, "state": { "count": 7 } }),
    );
    let charm_path = format!("/api/charms/{id}");
    let json_ct = ("content-type", "application/json");
    let source = std::fs::read_to_string(support::fixture("counter.js")).unwrap();
    let register = json!({ "source": source, "allowed_hosts": ["10.0.0.5"] }).to_string();
    let disable = json!({ "enabled": false, "allowed_hosts": ["10.0.0.5"] }).to_string();
    let changes: [(&str, String, Option<&[u8]>); 5] = [
        ("POST", "/api/charms".into(), Some(register.as_bytes())),
        ("PATCH", charm_path.clone(), Some(disable.as_bytes())),
        ("DELETE", charm_path.clone(), None),
        ("POST", format!("{charm_path}/run"), Some(b"{}")),
        ("PUT", charm_path.clone(), Some(b"{}")),
    ];
    // From another site, from a sandboxed frame, and from the same host on
    // another port: each is another origin. With the token, even.
    let port: u16 = d.addr.rsplit(':').next().unwrap().parse().unwrap();
    let other_port = format!("http://127.0.0.1:{}", port.wrapping_add(1));
    for origin in [
        "http://evil.example.com",
        "null",
        other_port.as_str(),
        "http://localhost",
    ] {
        for (method, path, body) in &changes {
            let answer = d.send(method, path, &[json_ct, ("origin", origin)], *body);
            let flag = if origin == "null" {
                "null"
            } else {
                "--allowed-origin"
            };
            assert_refused(
                &answer,
                "origin_not_allowed",
                flag,
                &format!("{method} {path} Origin: {origin}"),
            );
            assert!(!answer.has_cors_headers(), "{answer:?}");
        }
    }
    // Nothing changed: one charm, enabled, its allow-list and state as
    // registered, no run queued.
    let all = charms(&d);
    assert_eq!(all.len(), 1, "{all:?}");
    let (status, charm) = d.get(&charm_path);
    assert_eq!(status, 200, "{charm}");
    assert_eq!(charm["enabled"], true);
    assert_eq!(charm["allowed_hosts"], json!([]));
    assert_eq!(d.state(&id)["state"], json!({ "count": 7 }));
    let (_, runs) = d.get(&format!("{charm_path}/runs"));
    assert_eq!(runs["runs"], json!([]), "no run was triggered");

    // Reads from another origin are answered (they carry no CORS header, so
    // a browser keeps them from the page), and the same changes without an
    // Origin (the CLI, curl) or from the daemon's own origin go through.
    let read = d.send(
        "GET",
        &charm_path,
        &[("origin", "http://evil.example.com")],
        None,
    );
    assert_eq!(read.status, 200);
    assert!(!read.has_cors_headers(), "{read:?}");
    let own = d.url();
    let answer = d.send(
        "PATCH",
        &charm_path,
        &[json_ct, ("origin", &own)],
        Some(b"{\"enabled\": false}"),
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    let (status, _) = d.delete(&charm_path);
    assert_eq!(status, 204);
    assert!(charms(&d).is_empty());
}

#[test]
fn a_named_origin_gets_cors_and_its_preflight_works() {
    let dash = "https://dash.example.com";
    let d = Daemon::start(&[
        "--allowed-origin",
        dash,
        "--allowed-origin",
        "http://localhost:3000",
    ]);
    let preflight = d.send(
        "OPTIONS",
        "/api/charms",
        &[
            ("origin", dash),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization, content-type",
            ),
        ],
        None,
    );
    assert_eq!(preflight.status, 200, "{preflight:?}");
    assert_eq!(
        preflight.header("access-control-allow-origin").as_deref(),
        Some(dash)
    );
    let methods = preflight
        .header("access-control-allow-methods")
        .unwrap_or_default();
    for method in ["GET", "POST", "PATCH", "DELETE"] {
        assert!(methods.contains(method), "{methods}");
    }
    let headers = preflight
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
    assert!(
        preflight
            .header("vary")
            .unwrap_or_default()
            .to_ascii_lowercase()
            .contains("origin"),
        "{preflight:?}"
    );
    assert!(
        preflight
            .header("access-control-allow-credentials")
            .is_none(),
        "no cookies"
    );

    let body = json!({ "source": "export function bgUpdater(s) { return s }" }).to_string();
    let created = d.send(
        "POST",
        "/api/charms",
        &[("origin", dash), ("content-type", "application/json")],
        Some(body.as_bytes()),
    );
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(
        created.header("access-control-allow-origin").as_deref(),
        Some(dash)
    );
    assert!(created
        .header("vary")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .contains("origin"));
    // The error of a request without the token is readable by that page too.
    let unauthorized = http_answer(&d.addr, "GET", "/api/charms", &[("origin", dash)], None);
    assert_eq!(unauthorized.status, 401);
    assert_eq!(
        unauthorized
            .header("access-control-allow-origin")
            .as_deref(),
        Some(dash)
    );

    // Other origins get no CORS header and still cannot change anything.
    let preflight = d.send(
        "OPTIONS",
        "/api/charms",
        &[
            ("origin", "https://evil.example.com"),
            ("access-control-request-method", "DELETE"),
        ],
        None,
    );
    assert!(
        preflight.header("access-control-allow-origin").is_none(),
        "{preflight:?}"
    );
    let refused = d.send(
        "POST",
        "/api/charms",
        &[
            ("origin", "https://evil.example.com"),
            ("content-type", "application/json"),
        ],
        Some(body.as_bytes()),
    );
    assert_refused(
        &refused,
        "origin_not_allowed",
        "--allowed-origin",
        "unnamed origin",
    );
    assert!(refused.header("access-control-allow-origin").is_none());
    assert_eq!(charms(&d).len(), 1);
}

#[test]
fn without_named_origins_no_cors_header_is_ever_sent() {
    let d = Daemon::start(&[]);
    for (method, path) in [
        ("GET", "/api/charms"),
        ("OPTIONS", "/api/charms"),
        ("GET", "/"),
        ("GET", "/healthz"),
    ] {
        let answer = d.send(
            method,
            path,
            &[
                ("origin", "https://dash.example.com"),
                ("access-control-request-method", "POST"),
            ],
            None,
        );
        assert!(answer.status < 500, "{answer:?}");
        assert!(!answer.has_cors_headers(), "{method} {path}: {answer:?}");
    }
}

#[test]
fn a_token_is_made_at_first_start_private_kept_and_published_for_the_cli() {
    let mut d = Daemon::start(&[]);
    let token_file = d.dir.join("api-token");
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(token.len(), 64, "32 random bytes in hex: {token}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let health = http_answer(&d.addr, "GET", "/healthz", &[], None);
    assert_eq!(
        (health.status, health.body["token_required"].clone()),
        (200, json!(true))
    );
    assert_eq!(
        http_answer(&d.addr, "GET", "/api/charms", &[], None).status,
        401
    );
    assert_eq!(d.get("/api/charms").0, 200);
    // The log gives the dashboard's URL with the token in its fragment.
    let url = format!("dashboard: http://{}/#token={token}", d.addr);
    wait_for("the dashboard URL in the log", 30, || {
        d.log_text().contains(&url).then_some(())
    });

    // The server file: the URL, the token and the pid, private.
    let port = d.addr.rsplit(':').next().unwrap().to_string();
    let server_file = d
        .runtime_dir()
        .join(format!("charm-host/server-{port}.json"));
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(&server_file).unwrap()).unwrap();
    assert_eq!(info["url"], d.url());
    assert_eq!(info["token"], token.as_str());
    assert_eq!(info["pid"], d.child.as_ref().unwrap().id());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&server_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    // The CLI finds it with no flag, as `http://localhost:PORT` too.
    let cli_with = |runtime: &std::path::Path, args: &[&str]| -> Ran {
        charm_host()
            .arg("charms")
            .args(args)
            .env("CHARM_HOST_URL", d.url())
            .env("XDG_RUNTIME_DIR", runtime)
            .output()
            .unwrap()
            .into()
    };
    let listed = d.cli(&["list"]);
    assert_eq!(listed.code, 0, "{listed:?}");
    let by_name = cli_with(
        &d.runtime_dir(),
        &["list", "--server", &format!("http://localhost:{port}")],
    );
    assert_eq!(by_name.code, 0, "{by_name:?}");
    // Without the server file, it says where it looked and what to do.
    let elsewhere = tempfile::tempdir().unwrap();
    let lost = cli_with(elsewhere.path(), &["list"]);
    assert_eq!(lost.code, 1, "{lost:?}");
    assert!(
        lost.stderr.contains("HTTP 401")
            && lost.stderr.contains("--token")
            && lost.stderr.contains("server-"),
        "{lost:?}"
    );
    // --token still wins over the file.
    let given = cli_with(elsewhere.path(), &["list", "--token", &token]);
    assert_eq!(given.code, 0, "{given:?}");

    // A clean stop removes the server file; a restart keeps the token.
    d.signal("-TERM");
    assert_eq!(d.wait_exit(30), Some(0), "{}", d.log_text());
    assert!(
        !server_file.exists(),
        "the server file is removed at shutdown"
    );
    let dir = d.dir.clone();
    drop(d);
    let d = Daemon::start_in(dir, &[]);
    assert_eq!(
        d.token.as_deref(),
        Some(token.as_str()),
        "the same token after a restart"
    );
    assert_eq!(d.get("/api/charms").0, 200);
    assert_eq!(d.cli(&["list"]).code, 0);
}

#[test]
fn no_token_works_on_loopback_and_is_refused_off_it() {
    let d = Daemon::start(&["--no-token"]);
    assert_eq!(
        http_answer(&d.addr, "GET", "/api/charms", &[], None).status,
        200
    );
    let health = http_answer(&d.addr, "GET", "/healthz", &[], None);
    assert_eq!(health.body["token_required"], false, "{health:?}");
    assert!(!d.dir.join("api-token").exists(), "no token file is made");
    assert_eq!(d.cli(&["list"]).code, 0);
    // The Host and Origin checks hold without a token too.
    let answer = http_answer(&d.addr, "GET", "/api/charms", &[("host", EVIL)], None);
    assert_refused(
        &answer,
        "host_not_allowed",
        "--allowed-host",
        "no token, foreign Host",
    );
    let answer = http_answer(
        &d.addr,
        "POST",
        "/api/charms",
        &[
            ("origin", "http://evil.example.com"),
            ("content-type", "application/json"),
        ],
        Some(b"{}"),
    );
    assert_refused(
        &answer,
        "origin_not_allowed",
        "--allowed-origin",
        "no token, foreign Origin",
    );

    serve_refuses(
        &["--listen", "0.0.0.0:0", "--no-token"],
        &[],
        "refusing to listen on 0.0.0.0:0 with --no-token",
    );
    serve_refuses(
        &["--no-token"],
        &[("CHARM_HOST_TOKEN", "s3cret")],
        "--no-token conflicts with --token",
    );
    serve_refuses(
        &["--token", "two words"],
        &[],
        "--token must be printable ASCII",
    );
}

/// Issue 13, "tried as a new user would": a charm allowed `127.0.0.1:PORT`
/// of the daemon listed every charm through the API. The daemon's own
/// address is closed to charms whatever their allow-list says, by address
/// and by name; other services on the machine stay reachable.
#[test]
fn regression_13_a_charm_never_reaches_the_daemons_own_api() {
    let other = support::TestServer::start(vec![(
        "/",
        Box::new(|_| support::Reply::ok("text/plain", "other")),
    )]);
    let d = Daemon::start(&["--no-token"]);
    let port = d.addr.rsplit(':').next().unwrap().to_string();
    let id = d.register(
        "probe.js",
        json!({
            "interval_s": 3600,
            "allowed_hosts": [d.addr.clone(), "localhost", "[::1]", "0.0.0.0", other.host_port()],
        }),
    );
    let own = format!("http://{}/api/charms", d.addr);
    let by_name = format!("http://localhost:{port}/api/charms");
    // Linux dials loopback for the unspecified address.
    let unspecified = format!("http://0.0.0.0:{port}/healthz");
    let other_url = other.url("/");
    let run = d.run_now(
        &id,
        json!({ "urls": [own, by_name, unspecified, other_url] }),
    );
    assert_eq!(run["outcome"], "ok", "{run}");
    let seen = d.state(&id)["state"]["seen"].clone();
    for url in [&own, &by_name, &unspecified] {
        let said = seen[url.as_str()].as_str().unwrap();
        assert!(
            said.contains("this daemon's API") && said.contains("never reaches the control plane"),
            "{url}: {said}"
        );
    }
    assert_eq!(seen[other_url.as_str()], "HTTP 200", "{seen}");
}
