//! Tenants: space tokens reach their own space only, the operator's tokens
//! and audit log, and who may grant private network addresses (issue #13).
//! Each test runs the real daemon and talks to it over loopback HTTP.

mod support;

use serde_json::{json, Value};
use support::{http_answer, Daemon};

/// A JSON request with `token` as the bearer.
fn call(d: &Daemon, token: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let bearer = format!("Bearer {token}");
    let body = body.map(Value::to_string);
    let answer = http_answer(
        &d.addr,
        method,
        path,
        &[
            ("authorization", &bearer),
            ("content-type", "application/json"),
        ],
        body.as_deref().map(str::as_bytes),
    );
    (answer.status, answer.body)
}

/// Makes a token through the API with the daemon's operator token; returns
/// (token, id).
fn make_token(d: &Daemon, body: Value) -> (String, String) {
    let (status, made) = d.post("/api/tokens", &body);
    assert_eq!(status, 201, "{made}");
    let token = made["token"].as_str().expect("the token, shown once");
    assert!(token.starts_with("chs_") && token.len() == 68, "{token}");
    (token.to_string(), made["id"].as_str().unwrap().to_string())
}

fn counter_source() -> String {
    std::fs::read_to_string(support::fixture("counter.js")).unwrap()
}

#[test]
fn each_space_token_sees_and_changes_only_its_own_space() {
    let d = Daemon::start(&[]);
    let (alpha, alpha_id) = make_token(&d, json!({ "space": "alpha", "name": "alpha's CI" }));
    let (beta, _) = make_token(
        &d,
        json!({ "kind": "space", "space": "beta", "name": "beta" }),
    );
    let register = |token: &str, extra: Value| {
        let mut body =
            json!({ "source": counter_source(), "name": "counter.js", "interval_s": 3600 });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        call(&d, token, "POST", "/api/charms", Some(&body))
    };

    // A space token registers into its own space, whatever it leaves out.
    let (status, a) = register(&alpha, json!({}));
    assert_eq!((status, a["space"].as_str()), (201, Some("alpha")), "{a}");
    let (status, b) = register(&beta, json!({ "space": "beta" }));
    assert_eq!(status, 201, "{b}");
    let (status, refused) = register(&alpha, json!({ "space": "beta" }));
    assert_eq!(
        (status, refused["code"].as_str()),
        (403, Some("forbidden")),
        "{refused}"
    );
    assert!(
        refused["error"].as_str().unwrap().contains("`alpha` only"),
        "{refused}"
    );
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());

    // Runs for both, so that run routes have something to find.
    let (_, queued) = call(
        &d,
        &beta,
        "POST",
        &format!("/api/charms/{b}/run"),
        Some(&json!({ "input": {"n": 1} })),
    );
    let b_run = queued["run_id"].as_i64().expect("a run");
    d.wait_run(b_run);

    // Listings: each sees its own; asking for another space finds nothing.
    let ids = |token: &str, query: &str| -> Vec<String> {
        let (status, page) = call(&d, token, "GET", &format!("/api/charms{query}"), None);
        assert_eq!(status, 200, "{page}");
        page["charms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&alpha, ""), [a]);
    assert_eq!(ids(&beta, ""), [b]);
    assert!(ids(&alpha, "?space=beta").is_empty());
    assert_eq!(
        ids(d.token.as_deref().unwrap(), "").len(),
        2,
        "the operator sees both"
    );

    // Every request that names the other space's charm or run is a 404,
    // worded as for an id that does not exist.
    let missing = "f".repeat(32);
    let (_, nothing) = call(&d, &alpha, "GET", &format!("/api/charms/{missing}"), None);
    for (method, path, body) in [
        ("GET", format!("/api/charms/{b}"), None),
        ("GET", format!("/api/charms/{b}/state"), None),
        ("GET", format!("/api/charms/{b}/runs"), None),
        ("GET", format!("/api/charms/{b}/source"), None),
        ("GET", format!("/api/charms/{b}/events"), None),
        (
            "PATCH",
            format!("/api/charms/{b}"),
            Some(json!({ "enabled": false })),
        ),
        ("POST", format!("/api/charms/{b}/run"), Some(json!({}))),
        ("POST", format!("/api/charms/{b}/hook"), Some(json!({}))),
        (
            "POST",
            format!("/api/charms/{b}/events/redrive"),
            Some(json!({ "ids": [1] })),
        ),
        ("DELETE", format!("/api/charms/{b}"), None),
        ("GET", format!("/api/runs/{b_run}"), None),
        ("POST", format!("/api/runs/{b_run}/cancel"), Some(json!({}))),
        ("GET", format!("/api/alerts?charm={b}"), None),
        ("GET", format!("/api/charms/{b}/secrets"), None),
        (
            "PUT",
            format!("/api/charms/{b}/secrets/API_KEY"),
            Some(json!({ "value": "stolen" })),
        ),
        ("DELETE", format!("/api/charms/{b}/secrets/API_KEY"), None),
        ("GET", format!("/api/charms/{b}/state/versions"), None),
        (
            "POST",
            format!("/api/charms/{b}/state/rollback"),
            Some(json!({ "version": 0 })),
        ),
        ("POST", format!("/api/charms/{b}/try"), Some(json!({}))),
    ] {
        let (status, answer) = call(&d, &alpha, method, &path, body.as_ref());
        assert_eq!(status, 404, "{method} {path}: {answer}");
        assert_eq!(
            answer["error"]
                .as_str()
                .unwrap()
                .replace(b, &missing)
                .replace(&b_run.to_string(), &missing),
            nothing["error"].as_str().unwrap().replace(
                "charm",
                if path.starts_with("/api/runs") {
                    "run"
                } else {
                    "charm"
                }
            ),
            "{method} {path}: no existence leak"
        );
    }
    // Any spelling of the id is checked as the handlers read it (a
    // percent-encoded first digit once slipped past the scope).
    let encoded = format!("%{:02X}{}", b.as_bytes()[0], &b[1..]);
    let run_encoded: String = b_run
        .to_string()
        .bytes()
        .map(|c| format!("%{c:02X}"))
        .collect();
    for (method, path, body) in [
        ("GET", format!("/api/charms/{encoded}"), None),
        ("GET", format!("/api/charms/{encoded}/state"), None),
        (
            "PUT",
            format!("/api/charms/{encoded}/secrets/API_KEY"),
            Some(json!({ "value": "stolen" })),
        ),
        (
            "POST",
            format!("/api/charms/{encoded}/hook"),
            Some(json!({})),
        ),
        ("DELETE", format!("/api/charms/{encoded}"), None),
        ("GET", format!("/api/runs/{run_encoded}"), None),
        (
            "POST",
            format!("/api/runs/{run_encoded}/cancel"),
            Some(json!({})),
        ),
        ("GET", format!("/api/charms/{}", b.to_uppercase()), None),
    ] {
        let (status, answer) = call(&d, &alpha, method, &path, body.as_ref());
        assert_eq!(status, 404, "{method} {path}: {answer}");
    }
    let (status, _) = call(&d, &beta, "GET", &format!("/api/charms/{encoded}"), None);
    assert_eq!(status, 200, "its own space reads it in any spelling");

    // Beta's charm is untouched by all of that.
    let (_, still) = call(&d, &beta, "GET", &format!("/api/charms/{b}"), None);
    assert_eq!(still["enabled"], true, "{still}");
    assert_eq!(d.state(b)["version"], 1);

    // Spaces: a space token reads its own quotas only and sets none.
    let (status, spaces) = call(&d, &alpha, "GET", "/api/spaces", None);
    assert_eq!(status, 200, "{spaces}");
    let names: Vec<&str> = spaces["spaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["space"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha"]);
    let (status, _) = call(&d, &alpha, "GET", "/api/spaces/beta", None);
    assert_eq!(status, 404, "another space's quotas are not found");
    let (status, refused) = call(
        &d,
        &alpha,
        "PUT",
        "/api/spaces/alpha/quota",
        Some(&json!({ "max_charms": 1000 })),
    );
    assert_eq!(status, 403, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("operator token"),
        "{refused}"
    );
    let (status, _) = d.request(
        "PUT",
        "/api/spaces/alpha/quota",
        Some(&json!({ "max_charms": 1000 })),
    );
    assert_eq!(status, 200, "the operator sets it");

    // The operator's routes are closed to space tokens, with a reason.
    for path in ["/api/tokens", "/api/audit", "/api/stats", "/api/alerts"] {
        let (status, answer) = call(&d, &alpha, "GET", path, None);
        assert_eq!(status, 403, "{path}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains("operator token"),
            "{answer}"
        );
    }
    let (_, me) = call(&d, &alpha, "GET", "/api/whoami", None);
    assert_eq!(
        me,
        json!({ "kind": "space", "space": "alpha", "actor": alpha_id })
    );

    // Revoked: refused on the very next request.
    let (status, _) = d.delete(&format!("/api/tokens/{alpha_id}"));
    assert_eq!(status, 204);
    let (status, answer) = call(&d, &alpha, "GET", "/api/charms", None);
    assert_eq!(
        (status, answer["code"].as_str()),
        (401, Some("unauthorized")),
        "{answer}"
    );
    let (status, _) = d.delete(&format!("/api/tokens/{alpha_id}"));
    assert_eq!(status, 404, "revoked once");

    // Tokens are listed without themselves; the audit log names who did what.
    let (_, list) = d.get("/api/tokens");
    let text = list.to_string();
    assert!(
        !text.contains(&alpha) && !text.contains(&beta) && !text.contains("hash"),
        "{text}"
    );
    let (_, log) = d.get("/api/audit?limit=100");
    let entries = log["audit"].as_array().unwrap();
    let find = |actor: &str, action: &str, status: u64| {
        entries
            .iter()
            .find(|e| e["actor"] == actor && e["action"] == action && e["status"] == status)
    };
    let made = find(&alpha_id, "POST /api/charms", 201).expect("alpha's registration");
    assert_eq!(
        (made["space"].as_str(), made["target"].as_str()),
        (Some("alpha"), Some(a))
    );
    let tried =
        find(&alpha_id, "PATCH /api/charms/{id}", 404).expect("the refused change is kept too");
    assert_eq!(
        tried["space"], "alpha",
        "the other space is not named: {tried}"
    );
    assert!(
        find("operator", "DELETE /api/tokens/{id}", 204).is_some(),
        "{log}"
    );
    assert!(
        entries
            .iter()
            .all(|e| e["action"].as_str().is_some_and(|a| !a.starts_with("GET"))),
        "reads are not audited"
    );
    let (_, beta_only) = d.get("/api/audit?space=beta");
    assert!(
        beta_only["audit"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["space"] == "beta"),
        "{beta_only}"
    );
}

#[test]
fn the_tokens_and_audit_commands_work_against_the_daemon() {
    let d = Daemon::start(&[]);
    let cli = |args: &[&str]| {
        support::charm_host()
            .args(args)
            .env("CHARM_HOST_URL", d.url())
            .env("XDG_RUNTIME_DIR", d.runtime_dir())
            .output()
            .expect("run the binary")
    };
    let made = cli(&[
        "tokens",
        "create",
        "--space",
        "gamma",
        "--name",
        "gamma's sync",
    ]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let token = String::from_utf8(made.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("chs_"), "{token}");
    let (status, me) = call(&d, &token, "GET", "/api/whoami", None);
    assert_eq!((status, me["space"].as_str()), (200, Some("gamma")));

    let listed = cli(&["tokens", "list"]);
    let text = String::from_utf8(listed.stdout).unwrap();
    assert!(
        text.contains("gamma") && text.contains("gamma's sync") && !text.contains(&token),
        "{text}"
    );
    let id = me["actor"].as_str().unwrap();
    assert!(cli(&["tokens", "revoke", id]).status.success());
    let (status, _) = call(&d, &token, "GET", "/api/whoami", None);
    assert_eq!(status, 401);

    let audit = cli(&["audit", "--limit", "10"]);
    let text = String::from_utf8(audit.stdout).unwrap();
    assert!(
        text.contains("POST /api/tokens") && text.contains("DELETE /api/tokens/{id}"),
        "{text}"
    );

    // A space token cannot make tokens: the CLI says why and exits 1.
    let (other, _) = make_token(&d, json!({ "space": "delta", "name": "d" }));
    let refused = support::charm_host()
        .args([
            "tokens",
            "create",
            "--operator",
            "--name",
            "escalate",
            "--token",
            &other,
        ])
        .env("CHARM_HOST_URL", d.url())
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("needs an operator token"));
}

#[test]
fn only_an_operator_grants_loopback_and_private_addresses() {
    let server = support::TestServer::start(vec![(
        "/",
        Box::new(|_| support::Reply::ok("text/plain", "inside")),
    )]);
    let d = Daemon::start(&["--allow-private-hosts-for", "lab"]);
    let (alpha, _) = make_token(&d, json!({ "space": "alpha", "name": "a" }));
    let (lab, _) = make_token(&d, json!({ "space": "lab", "name": "l" }));
    let probe = std::fs::read_to_string(support::fixture("probe.js")).unwrap();
    let body = |hosts: Value| json!({ "source": probe, "name": "probe.js", "interval_s": 3600, "allowed_hosts": hosts });

    for entry in [
        server.host_port(),
        "localhost".to_string(),
        "10.0.0.8".to_string(),
        "[::1]:80".to_string(),
        "169.254.169.254".to_string(),
    ] {
        let (status, refused) = call(
            &d,
            &alpha,
            "POST",
            "/api/charms",
            Some(&body(json!(["example.com", entry]))),
        );
        assert_eq!(status, 403, "{entry}: {refused}");
        let message = refused["error"].as_str().unwrap();
        assert!(
            message.contains(&format!("`{entry}`")) && message.contains("only an operator"),
            "{message}"
        );
        assert!(
            message.contains("--allow-private-hosts-for alpha"),
            "{message}"
        );
    }

    // A public list is fine for a space token; making it private is not.
    let (status, charm) = call(
        &d,
        &alpha,
        "POST",
        "/api/charms",
        Some(&body(json!(["example.com"]))),
    );
    assert_eq!(status, 201, "{charm}");
    let id = charm["id"].as_str().unwrap();
    assert_eq!(charm["private_network"], false, "{charm}");
    let (status, _) = call(
        &d,
        &alpha,
        "PATCH",
        &format!("/api/charms/{id}"),
        Some(&json!({ "allowed_hosts": [server.host_port()] })),
    );
    assert_eq!(status, 403);

    // The operator grants it; the charm reaches the loopback server.
    let (status, granted) = d.patch(
        &format!("/api/charms/{id}"),
        &json!({ "allowed_hosts": [server.host_port()] }),
    );
    assert_eq!(
        (status, &granted["private_network"]),
        (200, &json!(true)),
        "{granted}"
    );
    let url = server.url("/");
    let run = d.run_now(id, json!({ "urls": [url] }));
    assert_eq!(d.state(id)["state"]["seen"][&url], "HTTP 200", "{run}");

    // The space named by --allow-private-hosts-for may ask for itself.
    let (status, charm) = call(
        &d,
        &lab,
        "POST",
        "/api/charms",
        Some(&body(json!([server.host_port()]))),
    );
    assert_eq!(
        (status, &charm["private_network"]),
        (201, &json!(true)),
        "{charm}"
    );
}
