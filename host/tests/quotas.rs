//! Quotas per space (issue 13), through the real binary: registration over
//! the charms quota, the cap on runs in flight, the fuel budget per hour,
//! the state quota (the charm not blamed), and run history kept per space.
//! Tests wait for conditions, never for a fixed time.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use support::{charm_host, wait_for, Daemon, Reply, TestServer};

fn runs_of(d: &Daemon, id: &str) -> Vec<Value> {
    let (status, body) = d.get(&format!("/api/charms/{id}/runs?limit=1000"));
    assert_eq!(status, 200, "{body}");
    body["runs"].as_array().unwrap().clone()
}

fn space(d: &Daemon, name: &str) -> Value {
    let (status, body) = d.get(&format!("/api/spaces/{name}"));
    assert_eq!(status, 200, "{body}");
    body
}

fn set_quota(d: &Daemon, name: &str, quota: Value) -> Value {
    let (status, body) = d.request("PUT", &format!("/api/spaces/{name}/quota"), Some(&quota));
    assert_eq!(status, 200, "{body}");
    body
}

/// `charm-host spaces ARGS` against `d`, as an operator on its machine.
fn spaces_cli(d: &Daemon, args: &[&str]) -> (bool, String, String) {
    let out = charm_host()
        .arg("spaces")
        .args(args)
        .env("CHARM_HOST_URL", d.url())
        .env("XDG_RUNTIME_DIR", d.runtime_dir())
        .output()
        .expect("run the binary");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn counter_source() -> String {
    std::fs::read_to_string(support::fixture("counter.js")).unwrap()
}

/// Queues a manual run; returns its id.
fn trigger(d: &Daemon, id: &str) -> i64 {
    let (status, queued) = d.post(&format!("/api/charms/{id}/run"), &json!({}));
    assert_eq!(status, 202, "{queued}");
    queued["run_id"].as_i64().unwrap()
}

#[test]
fn registration_over_the_charms_quota_is_refused_with_403_naming_the_quota() {
    let d = Daemon::start(&["--space-max-charms", "2"]);
    let interval = json!({ "space": "team-a", "interval_s": 3600 });
    d.register("counter.js", interval.clone());
    d.register("counter.js", interval.clone());
    let body = json!({ "source": counter_source(), "space": "team-a" });
    let (status, refused) = d.post("/api/charms", &body);
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["code"], "quota_exceeded");
    let message = refused["error"].as_str().unwrap();
    assert!(
        message.starts_with(
            "space `team-a` is at its quota of 2 charms (max_charms); a new charm would make 3; \
             delete one of the space's charms, or have an operator raise max_charms \
             (`charm-host spaces quota team-a --max-charms N`"
        ),
        "{message}"
    );
    let (_, listed) = d.get("/api/charms?space=team-a");
    assert_eq!(listed["total"], 2, "nothing was registered: {listed}");
    // Another space counts its own.
    d.register(
        "counter.js",
        json!({ "space": "team-b", "interval_s": 3600 }),
    );
    // The operator raises one space's quota with the CLI.
    let (ok, out, err) = spaces_cli(&d, &["quota", "team-a", "--max-charms", "3"]);
    assert!(ok, "{out}{err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            &shown["overrides"]["max_charms"],
            &shown["quota"]["max_charms"]
        ),
        (&json!(3), &json!(3))
    );
    d.register("counter.js", interval.clone());
    let (status, _) = d.post("/api/charms", &body);
    assert_eq!(status, 403, "the raised quota is full too");
    let (ok, table, err) = spaces_cli(&d, &["list"]);
    assert!(ok, "{err}");
    let row = table
        .lines()
        .find(|l| l.starts_with("team-a "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains(" 3/3 "), "{table}");
    let b = table.lines().find(|l| l.starts_with("team-b ")).unwrap();
    assert!(b.contains(" 1/2 "), "team-b has the default: {table}");
    // null returns it to the default; bad values are 400s naming the field.
    let back = set_quota(&d, "team-a", json!({ "max_charms": null }));
    assert_eq!(back["quota"]["max_charms"], 2);
    let (status, bad) = d.request(
        "PUT",
        "/api/spaces/team-a/quota",
        Some(&json!({ "keep_runs": 0 })),
    );
    assert_eq!(
        (status, bad["error"].as_str()),
        (
            400,
            Some("keep_runs must be at least 1 (null returns it to the default)")
        )
    );
    let (status, bad) = d.request(
        "PUT",
        "/api/spaces/team-a/quota",
        Some(&json!({ "max_charm": 1 })),
    );
    assert_eq!(status, 400, "{bad}");
    let (status, _) = d.get("/api/spaces/nobody");
    assert_eq!(status, 404);
}

#[test]
fn a_space_with_one_run_in_flight_never_has_two_running() {
    // How many requests of each space the server holds at once, and the
    // most it ever held.
    let held: Arc<[AtomicUsize; 4]> = Arc::new(Default::default());
    type Route = Box<dyn Fn(&support::SeenRequest) -> Reply + Send + Sync>;
    let route = |i: usize| -> Route {
        let held = Arc::clone(&held);
        Box::new(move |_| {
            let now = held[i].fetch_add(1, Ordering::SeqCst) + 1;
            held[i + 2].fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(400));
            held[i].fetch_sub(1, Ordering::SeqCst);
            Reply::ok("text/plain", "slow")
        })
    };
    let server = TestServer::start(vec![("/capped", route(0)), ("/free", route(1))]);
    let d = Daemon::start(&["--max-concurrent", "8"]);
    set_quota(&d, "capped", json!({ "max_runs_in_flight": 1 }));
    let charm = |space: &str, path: &str| {
        d.register(
            "slow-counter.js",
            json!({
                "space": space,
                "interval_s": 3600,
                "allowed_hosts": [server.host_port()],
                "state": { "url": server.url(path) },
            }),
        )
    };
    let capped: Vec<String> = (0..4).map(|_| charm("capped", "/capped")).collect();
    let free: Vec<String> = (0..3).map(|_| charm("free", "/free")).collect();
    for id in capped.iter().chain(&free) {
        trigger(&d, id);
    }
    let mut seen_in_flight = 0;
    wait_for("every charm to have run", 60, || {
        let usage = space(&d, "capped")["usage"]["runs_in_flight"]
            .as_u64()
            .unwrap();
        seen_in_flight = seen_in_flight.max(usage);
        capped
            .iter()
            .chain(&free)
            .all(|id| {
                runs_of(&d, id)
                    .iter()
                    .any(|r| r["status"] == "done" && r["outcome"] == "ok")
            })
            .then_some(())
    });
    assert_eq!(
        held[2].load(Ordering::SeqCst),
        1,
        "the capped space's runs never overlapped"
    );
    assert!(
        seen_in_flight <= 1,
        "the API never showed two running: {seen_in_flight}"
    );
    assert!(
        held[3].load(Ordering::SeqCst) >= 2,
        "the other space is not capped: its runs overlapped"
    );
    // The runs waited, queued; none failed.
    for id in &capped {
        for run in runs_of(&d, id) {
            assert_ne!(run["outcome"], "error", "{run}");
        }
    }
    // Nothing ran two at a time by the records either.
    let mut spans: Vec<(i64, i64)> = capped
        .iter()
        .flat_map(|id| runs_of(&d, id))
        .filter(|r| r["status"] == "done")
        .map(|r| {
            (
                r["started_at"].as_i64().unwrap(),
                r["finished_at"].as_i64().unwrap(),
            )
        })
        .collect();
    spans.sort_unstable();
    for w in spans.windows(2) {
        assert!(
            w[1].0 >= w[0].1,
            "overlapping runs of the capped space: {spans:?}"
        );
    }
}

#[test]
fn a_space_over_its_fuel_per_hour_waits_and_shows_blocked_unblamed() {
    let d = Daemon::start(&["--max-failures", "1"]);
    let hot = d.register("counter.js", json!({ "space": "hot", "interval_s": 3600 }));
    let cool = d.register("counter.js", json!({ "space": "cool", "interval_s": 3600 }));
    let first = d.run_now(&hot, Value::Null);
    let fuel = first["fuel"].as_u64().unwrap();
    assert!(fuel > 0, "{first}");
    // A budget one and a half runs big: the second run passes it.
    let budget = fuel + fuel / 2;
    set_quota(&d, "hot", json!({ "max_fuel_per_hour": budget }));
    assert!(space(&d, "hot")["blocked"].is_null());
    let second = d.run_now(&hot, Value::Null);
    assert_eq!(second["outcome"], "ok");
    let shown = space(&d, "hot");
    assert_eq!(shown["blocked"]["quota"], "max_fuel_per_hour", "{shown}");
    assert_eq!(shown["blocked"]["limit"], budget);
    assert_eq!(shown["usage"]["fuel_last_hour"], shown["blocked"]["used"]);
    // Its next run waits, queued; another space's runs meanwhile.
    let waiting = trigger(&d, &hot);
    let other = d.run_now(&cool, Value::Null);
    assert_eq!(other["outcome"], "ok");
    let (_, run) = d.get(&format!("/api/runs/{waiting}"));
    assert_eq!(run["status"], "queued", "{run}");
    let (_, list) = d.get("/api/spaces");
    let listed = list["spaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["space"] == "hot")
        .cloned()
        .unwrap();
    assert!(!listed["blocked"].is_null(), "{list}");
    // The metric and one log line name the space.
    wait_for("the blocked-space metric", 20, || {
        let metrics = d.send("GET", "/metrics", &[], None).body;
        metrics
            .as_str()
            .is_some_and(|t| {
                t.contains(
                    "charm_host_space_quota_blocked{space=\"hot\",quota=\"max_fuel_per_hour\"} 1",
                )
            })
            .then_some(())
    });
    assert!(
        d.log_text().contains("space `hot` is over its quota of"),
        "{}",
        d.log_text()
    );
    // Not blamed: no failure counted, not disabled, no alert.
    let (_, charm) = d.get(&format!("/api/charms/{hot}"));
    assert_eq!(
        (
            charm["consecutive_failures"].as_u64(),
            charm["enabled"].as_bool()
        ),
        (Some(0), Some(true)),
        "{charm}"
    );
    let (_, alerts) = d.get("/api/alerts");
    assert_eq!(alerts["alerts"], json!([]), "{alerts}");
    // Back to the default (unlimited): the waiting run starts.
    set_quota(&d, "hot", json!({ "max_fuel_per_hour": null }));
    let done = d.wait_run(waiting);
    assert_eq!(done["outcome"], "ok", "{done}");
    wait_for("the metric to clear", 20, || {
        let metrics = d.send("GET", "/metrics", &[], None).body;
        metrics
            .as_str()
            .is_some_and(|t| !t.contains("space_quota_blocked{space=\"hot\""))
            .then_some(())
    });
}

#[test]
fn a_state_over_the_space_quota_keeps_the_old_state_and_does_not_blame_the_charm() {
    // One failure would disable a charm: a quota outcome must not.
    let d = Daemon::start(&["--max-failures", "1"]);
    // `{"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}` is 50 bytes; a run
    // adds `,"count":1` (60 bytes).
    let pad = "x".repeat(40);
    set_quota(&d, "tight", json!({ "max_state_bytes": 55 }));
    let id = d.register(
        "counter.js",
        json!({ "space": "tight", "interval_s": 3600, "state": { "pad": pad } }),
    );
    for _ in 0..2 {
        let run = d.run_now(&id, Value::Null);
        assert_eq!(run["outcome"], "quota", "{run}");
        assert_eq!(
            run["error"],
            "space `tight` is over its state quota of 55 bytes (max_state_bytes): this state \
             would bring its charms' states to 60 bytes; the old state is kept"
        );
        assert!(run["state_version"].is_null(), "{run}");
    }
    let state = d.state(&id);
    assert_eq!(
        (&state["state"], &state["version"]),
        (&json!({ "pad": pad }), &json!(0))
    );
    let (_, charm) = d.get(&format!("/api/charms/{id}"));
    assert_eq!(
        (
            charm["enabled"].as_bool(),
            charm["consecutive_failures"].as_u64()
        ),
        (Some(true), Some(0)),
        "{charm}"
    );
    assert_eq!(charm["last_run"]["outcome"], "quota");
    let (_, alerts) = d.get("/api/alerts");
    assert_eq!(alerts["alerts"], json!([]), "{alerts}");
    assert_eq!(space(&d, "tight")["usage"]["state_bytes"], 50);
    let metrics = d.send("GET", "/metrics", &[], None).body;
    assert!(
        metrics
            .as_str()
            .is_some_and(|t| t.contains("charm_host_runs_total{outcome=\"quota\"} 2")),
        "{metrics}"
    );
    // Registering a charm whose own state does not fit is refused.
    let (status, refused) = d.post(
        "/api/charms",
        &json!({ "source": counter_source(), "space": "tight", "state": { "pad": pad } }),
    );
    assert_eq!(
        (status, refused["code"].as_str()),
        (403, Some("quota_exceeded")),
        "{refused}"
    );
    // With room, the next run writes.
    set_quota(&d, "tight", json!({ "max_state_bytes": 1000 }));
    let run = d.run_now(&id, Value::Null);
    assert_eq!(run["outcome"], "ok", "{run}");
    assert_eq!(d.state(&id)["state"]["count"], 1);
}

#[test]
fn run_history_is_pruned_to_each_spaces_quota() {
    let d = Daemon::start(&["--prune-interval-s", "1", "--keep-runs", "50"]);
    let short = d.register(
        "counter.js",
        json!({ "space": "short", "interval_s": 3600 }),
    );
    let long = d.register("counter.js", json!({ "space": "long", "interval_s": 3600 }));
    set_quota(&d, "short", json!({ "keep_runs": 2 }));
    for _ in 0..5 {
        d.run_now(&short, Value::Null);
        d.run_now(&long, Value::Null);
    }
    wait_for("the short space's history to be pruned to 2", 30, || {
        (runs_of(&d, &short).len() == 2).then_some(())
    });
    let kept: Vec<i64> = runs_of(&d, &short)
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert!(kept[0] > kept[1], "the newest are kept: {kept:?}");
    assert_eq!(d.state(&short)["state"]["count"], 5);
    assert!(runs_of(&d, &long).len() >= 5, "--keep-runs 50 for the rest");
    assert_eq!(space(&d, "short")["quota"]["keep_runs"], 2);
    assert_eq!(space(&d, "long")["quota"]["keep_runs"], 50);
}
