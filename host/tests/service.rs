//! `charm-host serve`: the real binary, a real SQLite file in a temporary
//! directory, real HTTP on loopback. Tests wait for conditions, never for a
//! fixed time.

mod support;

use serde_json::{json, Value};
use support::{charm_host, http, wait_for, Daemon, TestServer};

fn slow_server() -> TestServer {
    support::slow_server(1000)
}

fn runs_of(d: &Daemon, id: &str) -> Vec<Value> {
    let (status, body) = d.get(&format!("/api/charms/{id}/runs?limit=1000"));
    assert_eq!(status, 200, "{body}");
    body["runs"].as_array().unwrap().clone()
}

fn charm(d: &Daemon, id: &str) -> Value {
    let (status, body) = d.get(&format!("/api/charms/{id}"));
    assert_eq!(status, 200, "{body}");
    body
}

fn trigger(d: &Daemon, id: &str) -> Value {
    let (status, queued) = d.post(&format!("/api/charms/{id}/run"), &json!({}));
    assert_eq!(status, 202, "{queued}");
    queued
}

#[test]
fn registered_charms_update_on_their_schedule() {
    let d = Daemon::start(&[]);
    let id = d.register(
        "counter.js",
        json!({ "interval_s": 1, "space": "team-a", "state": { "count": 100 } }),
    );
    let state = wait_for("three scheduled updates", 30, || {
        let state = d.state(&id);
        (state["version"].as_i64() >= Some(3)).then_some(state)
    });
    assert_eq!(
        state["state"]["count"].as_i64().unwrap(),
        100 + state["version"].as_i64().unwrap()
    );
    let c = charm(&d, &id);
    assert_eq!(c["space"], "team-a");
    assert_eq!(
        c["integration"], "counter",
        "taken from the module's export"
    );
    assert_eq!(c["interval_s"], 1);
    assert_eq!(c["enabled"], true);
    assert_eq!(c["disabled_reason"], Value::Null);
    assert_eq!(c["last_run"]["outcome"], "ok");
    let runs = runs_of(&d, &id);
    assert!(
        runs.iter()
            .all(|r| r["trigger"] == "schedule" && r["outcome"] == "ok"),
        "{runs:?}"
    );
    let (_, list) = d.get("/api/charms?space=team-a");
    assert_eq!(list["total"], 1);
    assert!(d.get("/api/charms?space=team-b").1["charms"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn manual_runs_go_before_scheduled_work_and_triggers_coalesce() {
    let server = slow_server();
    let d = Daemon::start(&["--max-concurrent", "1"]);
    let allow = json!([server.host_port()]);
    let slow = d.register("slow-counter.js", json!({ "interval_s": 3600, "allowed_hosts": allow, "state": { "url": server.url("/slow?ms=2000") } }));
    let a = d.register("counter.js", json!({ "interval_s": 1 }));
    let b = d.register("counter.js", json!({ "interval_s": 1 }));
    let m = d.register("counter.js", json!({ "interval_s": 3600 }));
    let c = d.register("counter.js", json!({ "interval_s": 3600 }));
    // One completed run each moves their next scheduled run an hour out, so
    // nothing of theirs is queued when the test triggers them.
    for id in [&m, &c] {
        assert_eq!(d.run_now(id, Value::Null)["outcome"], "ok");
    }
    wait_for("a and b to have run", 30, || {
        (d.state(&a)["version"] != 0 && d.state(&b)["version"] != 0).then_some(())
    });

    // Occupy the only slot, let scheduled runs pile up behind it.
    let blocker = trigger(&d, &slow)["run_id"].as_i64().unwrap();
    d.wait_running(blocker);
    let queued_scheduled = |id: &str| {
        runs_of(&d, id)
            .into_iter()
            .find(|r| r["status"] == "queued")
    };
    let (qa, qb) = wait_for("scheduled runs of a and b to queue", 30, || {
        Some((queued_scheduled(&a)?, queued_scheduled(&b)?))
    });

    let manual = trigger(&d, &m);
    assert_eq!(manual["coalesced"], false);
    let first = trigger(&d, &c);
    let again: Vec<Value> = (0..2).map(|_| trigger(&d, &c)).collect();
    assert_eq!(first["coalesced"], false);
    for t in &again {
        assert_eq!(
            t["run_id"], first["run_id"],
            "triggers while one is queued coalesce"
        );
        assert_eq!(t["coalesced"], true);
    }

    let manual_run = d.wait_run(manual["run_id"].as_i64().unwrap());
    let c_run = d.wait_run(first["run_id"].as_i64().unwrap());
    let started = |run: &Value| run["started_at"].as_i64().unwrap();
    let a_run = d.wait_run(qa["id"].as_i64().unwrap());
    let b_run = d.wait_run(qb["id"].as_i64().unwrap());
    assert!(
        started(&manual_run) <= started(&c_run),
        "manual runs in the order they came"
    );
    assert!(
        started(&c_run) <= started(&a_run),
        "manual before scheduled: {c_run} {a_run}"
    );
    assert!(
        started(&c_run) <= started(&b_run),
        "manual before scheduled: {c_run} {b_run}"
    );
    assert_eq!(
        runs_of(&d, &c)
            .iter()
            .filter(|r| r["trigger"] == "manual")
            .count(),
        2,
        "one run for three triggers (and the warm-up)"
    );
}

#[test]
fn failures_back_off_then_disable_the_charm_until_re_enabled() {
    let d = Daemon::start(&["--max-backoff-s", "100000"]);
    // One attempt per event: each failing input is a dead letter at once,
    // so every run below sees only its own input (retries are tested in
    // tests/events.rs).
    let id = d.register(
        "flaky.js",
        json!({ "interval_s": 3600, "state": { "count": 5 }, "max_attempts": 1 }),
    );
    // A success first: it restarts the schedule, so no scheduled run comes
    // during the test.
    assert_eq!(d.run_now(&id, Value::Null)["outcome"], "ok");
    for attempt in 1..=5 {
        let run = d.run_now(&id, json!({ "fail": format!("attempt {attempt}") }));
        assert_eq!(run["outcome"], "error", "{run}");
        assert!(
            run["error"]
                .as_str()
                .unwrap()
                .contains(&format!("TypeError: asked to fail: attempt {attempt}")),
            "{run}"
        );
        assert_eq!(run["state_version"], Value::Null);
        let state = d.state(&id);
        assert_eq!(
            state["state"],
            json!({ "count": 6 }),
            "a failed run never touches the state"
        );
        assert_eq!(state["version"], 1);
        let c = charm(&d, &id);
        assert_eq!(c["consecutive_failures"], attempt);
        if attempt == 1 {
            let delay = c["next_run_at"].as_i64().unwrap() - run["finished_at"].as_i64().unwrap();
            assert!(
                (7_100_000..=7_300_000).contains(&delay),
                "backoff doubles the interval: {delay} ms"
            );
        }
        if attempt < 5 {
            assert_eq!(c["enabled"], true);
        }
    }
    let c = charm(&d, &id);
    assert_eq!(c["enabled"], false);
    assert_eq!(
        (c["dead_events"].clone(), c["pending_events"].clone()),
        (json!(5), json!(0)),
        "each failing input is a dead letter"
    );
    let reason = c["disabled_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("disabled after 5 consecutive failures"),
        "{reason}"
    );
    assert!(reason.contains("asked to fail: attempt 5"), "{reason}");

    let (status, refused) = d.post(&format!("/api/charms/{id}/run"), &json!({}));
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("enable it first"),
        "{refused}"
    );

    let (status, c) = d.patch(&format!("/api/charms/{id}"), &json!({ "enabled": true }));
    assert_eq!(status, 200, "{c}");
    assert_eq!(
        (
            c["enabled"].clone(),
            c["consecutive_failures"].clone(),
            c["disabled_reason"].clone()
        ),
        (json!(true), json!(0), Value::Null)
    );
    let run = d.run_now(&id, Value::Null);
    assert_eq!(run["outcome"], "ok", "{run}");
    let state = d.state(&id);
    assert_eq!(
        (state["state"].clone(), state["version"].clone()),
        (json!({ "count": 7 }), json!(2))
    );

    let (_, metrics) = http(&d.addr, "GET", "/metrics", &[], None);
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(
        metrics.contains("charm_host_runs_total{outcome=\"error\"} 5"),
        "{metrics}"
    );
    assert!(
        metrics.contains("charm_host_runs_total{outcome=\"ok\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("charm_host_charms{status=\"enabled\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("charm_host_queue_depth 0"), "{metrics}");
    assert!(
        metrics.contains("charm_host_run_duration_seconds_count 7"),
        "{metrics}"
    );
}

#[test]
fn a_killed_daemon_recovers_interrupted_runs_without_losing_or_duplicating_state() {
    let server = slow_server();
    let mut d = Daemon::start(&[]);
    let id = d.register(
        "slow-counter.js",
        json!({ "interval_s": 3600, "allowed_hosts": [server.host_port()], "state": { "url": server.url("/slow?ms=1500") } }),
    );
    assert_eq!(d.run_now(&id, Value::Null)["outcome"], "ok");
    let in_flight = trigger(&d, &id)["run_id"].as_i64().unwrap();
    d.wait_running(in_flight);
    d.signal("-KILL");
    assert_eq!(d.wait_exit(10), None, "killed by a signal");

    let dir = d.dir.clone();
    drop(d);
    let d = Daemon::start_in(dir, &[]);
    let interrupted = d.get(&format!("/api/runs/{in_flight}")).1;
    assert_eq!(interrupted["outcome"], "interrupted", "{interrupted}");
    assert!(interrupted["error"]
        .as_str()
        .unwrap()
        .contains("stopped while this run was in flight"));
    let state = wait_for("the recovery run to write the state", 30, || {
        let state = d.state(&id);
        (state["version"] == 2).then_some(state)
    });
    assert_eq!(
        state["state"]["count"], 2,
        "one increment per successful run, none lost, none twice"
    );
    let runs = runs_of(&d, &id);
    let ok_versions: Vec<i64> = runs
        .iter()
        .filter(|r| r["outcome"] == "ok")
        .filter_map(|r| r["state_version"].as_i64())
        .collect();
    assert_eq!(ok_versions, [2, 1]);
    assert_eq!(
        runs.iter().filter(|r| r["trigger"] == "recovery").count(),
        1
    );
}

#[test]
fn the_sqlite_profile_logs_the_write_connections_statements() {
    let d = Daemon::start(&["--sqlite-profile-s", "1"]);
    let marker = "a-value-the-profile-never-shows";
    let id = d.register(
        "counter.js",
        json!({ "interval_s": 1, "state": { "count": 0, "marker": marker } }),
    );
    wait_for("two scheduled runs", 30, || {
        (d.state(&id)["version"].as_i64() >= Some(2)).then_some(())
    });
    let profile_lines = || -> Vec<String> {
        d.log_text()
            .lines()
            .filter(|line| line.contains("charm_store::sqlite::profile"))
            .map(str::to_string)
            .collect()
    };
    // Which statements a period shows depends on their times (SQLite's
    // clock counts whole milliseconds), so any write will do.
    let profile = wait_for("a period with the runs' writes", 30, || {
        let profile = profile_lines();
        let summary = profile
            .iter()
            .any(|line| line.contains("the write connection's statements in the last period"));
        let write = profile.iter().any(|line| {
            ["statement=UPDATE ", "statement=INSERT ", "statement=COMMIT"]
                .iter()
                .any(|write| line.contains(write))
        });
        (summary && write).then_some(profile)
    });
    // The state's write may not be among the statements shown; the store's
    // unit test binds a value and checks it stays out of the tally.
    assert!(
        profile.iter().all(|line| !line.contains(marker)),
        "statements are shown with their parameters unbound: {profile:#?}"
    );
}

#[test]
fn graceful_shutdown_lets_runs_finish_within_the_grace_period() {
    let server = slow_server();
    let mut d = Daemon::start(&["--shutdown-grace-ms", "20000"]);
    let id = d.register(
        "slow-counter.js",
        json!({ "interval_s": 3600, "allowed_hosts": [server.host_port()], "state": { "url": server.url("/slow?ms=1500") } }),
    );
    let run_id = trigger(&d, &id)["run_id"].as_i64().unwrap();
    d.wait_running(run_id);
    d.signal("-TERM");
    assert_eq!(d.wait_exit(30), Some(0), "{}", d.log_text());
    let log = d.log_text();
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("charm-host stopped"), "{log}");
    let dir = d.dir.clone();
    drop(d);
    let d = Daemon::start_in(dir, &[]);
    assert_eq!(d.get(&format!("/api/runs/{run_id}")).1["outcome"], "ok");
    assert_eq!(d.state(&id)["version"], 1);
}

#[test]
fn graceful_shutdown_cancels_runs_that_outlast_the_grace_period() {
    let server = slow_server();
    let mut d = Daemon::start(&["--shutdown-grace-ms", "200"]);
    let id = d.register(
        "slow-counter.js",
        json!({ "interval_s": 3600, "allowed_hosts": [server.host_port()], "state": { "url": server.url("/slow?ms=20000") } }),
    );
    let run_id = trigger(&d, &id)["run_id"].as_i64().unwrap();
    d.wait_running(run_id);
    d.signal("-TERM");
    assert_eq!(d.wait_exit(15), Some(0), "{}", d.log_text());
    let dir = d.dir.clone();
    drop(d);
    let d = Daemon::start_in(dir, &[]);
    let run = d.get(&format!("/api/runs/{run_id}")).1;
    assert_eq!(run["outcome"], "cancelled", "{run}");
    assert_eq!(
        d.state(&id)["version"],
        0,
        "a cancelled run writes no state"
    );
    assert_eq!(
        charm(&d, &id)["consecutive_failures"],
        0,
        "a shutdown is not the charm's failure"
    );
}

#[test]
fn a_given_token_guards_the_api() {
    let d = Daemon::start(&["--token", "s3cret"]);
    let (status, body) = http(&d.addr, "GET", "/api/charms", &[], None);
    assert_eq!(status, 401);
    assert!(
        body["error"].as_str().unwrap().contains("bearer token"),
        "{body}"
    );
    assert_eq!(
        http(
            &d.addr,
            "GET",
            "/api/charms",
            &[("authorization", "Bearer wrong")],
            None
        )
        .0,
        401
    );
    assert_eq!(
        http(
            &d.addr,
            "POST",
            "/api/charms",
            &[("content-type", "application/json")],
            Some(b"{}")
        )
        .0,
        401
    );
    assert_eq!(
        http(
            &d.addr,
            "GET",
            "/api/charms",
            &[("authorization", "Bearer s3cret")],
            None
        )
        .0,
        200
    );
    let (status, health) = http(&d.addr, "GET", "/healthz", &[], None);
    assert_eq!(
        (status, health["token_required"].clone()),
        (200, json!(true))
    );
    assert!(
        !d.dir.join("api-token").exists(),
        "a given token makes no token file"
    );
    assert!(
        !d.log_text().contains("s3cret"),
        "a given token is not repeated in the log"
    );
}

/// `charm_host_charm_reads_total{from}`: how many runs took their charm
/// from where (`kept` or `store`).
fn charm_reads(d: &Daemon, from: &str) -> u64 {
    let (_, metrics) = d.get("/metrics");
    let line = format!("charm_host_charm_reads_total{{from=\"{from}\"}} ");
    metrics
        .as_str()
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(line.as_str())?.trim().parse().ok())
        .unwrap_or(0)
}

/// `--charm-cache-mb` bounds the charms kept prepared: at 1 MiB (8 shards
/// of 128 KiB) a charm with 200 KB of bytecode is read from the store for
/// each run, and a small charm is still kept; at the default (256 MiB) the
/// large one is kept too.
#[test]
fn the_charm_cache_is_bounded_by_its_flag() {
    let big = format!(
        "const text = \"{}\";\nexport function bgUpdater() {{ return {{ length: text.length }}; }}\n",
        "x".repeat(200_000)
    );
    let small = "export function bgUpdater() { return { small: true }; }\n";
    // Where each of two runs of each charm took it from: `(store, kept)`.
    let second_runs = |flags: &[&str]| {
        let d = Daemon::start(flags);
        [("big.js", big.as_str()), ("small.js", small)].map(|(name, source)| {
            // On a yearly cron: an interval charm's first scheduled run,
            // within 10 s, could land between the counters' reads.
            let (status, charm) = d.post(
                "/api/charms",
                &json!({ "source": source, "name": name,
                         "schedule": { "cron": "0 0 1 1 *", "tz": "UTC" } }),
            );
            assert_eq!(status, 201, "{charm}");
            let id = charm["id"].as_str().unwrap().to_string();
            assert_eq!(d.run_now(&id, Value::Null)["outcome"], "ok");
            let (store, kept) = (charm_reads(&d, "store"), charm_reads(&d, "kept"));
            assert_eq!(d.run_now(&id, Value::Null)["outcome"], "ok");
            assert!(d.state(&id)["state"].is_object());
            (
                charm_reads(&d, "store") - store,
                charm_reads(&d, "kept") - kept,
            )
        })
    };
    assert_eq!(
        second_runs(&["--charm-cache-mb", "1"]),
        [(1, 0), (0, 1)],
        "at 1 MiB the large charm is too heavy for a shard, the small one is kept"
    );
    assert_eq!(second_runs(&[]), [(0, 1), (0, 1)], "the default keeps both");
}

/// A node keeps the charms it ran, prepared, and runs them again without
/// reading them while the store's revision of the charm is the same (issue
/// 18). Each kind of change a run reads, made between two runs, reaches the
/// next one: the source, a secret added and removed, and the limits.
#[test]
fn each_run_after_a_change_runs_the_charm_as_changed() {
    let d = Daemon::start(&[]);
    let source = |v: u32| {
        format!(
            "export function bgUpdater(state, ctx) {{\n  for (let i = 0; i < (ctx.input ?? 0); i++) {{}}\n  return {{ v: {v}, secrets: Object.keys(ctx.secrets) }};\n}}\n"
        )
    };
    let (status, charm) = d.post(
        "/api/charms",
        // On a yearly cron: an interval charm's first scheduled run, within
        // 10 s, could land between the counters' reads.
        &json!({ "source": source(1), "name": "versions.js",
                 "schedule": { "cron": "0 0 1 1 *", "tz": "UTC" } }),
    );
    assert_eq!(status, 201, "{charm}");
    let id = charm["id"].as_str().unwrap().to_string();
    let path = format!("/api/charms/{id}");
    let ran = |expected: Value| {
        let run = d.run_now(&id, Value::Null);
        assert_eq!(run["outcome"], "ok", "{run}");
        assert_eq!(d.state(&id)["state"], expected);
    };
    let reads = |from: &str| charm_reads(&d, from);
    ran(json!({ "v": 1, "secrets": [] }));
    let (store, kept) = (reads("store"), reads("kept"));
    ran(json!({ "v": 1, "secrets": [] }));
    assert_eq!(
        (reads("store"), reads("kept")),
        (store, kept + 1),
        "the second run takes the charm as the first prepared it"
    );

    let (status, reply) = d.patch(&path, &json!({ "source": source(2) }));
    assert_eq!(status, 200, "{reply}");
    ran(json!({ "v": 2, "secrets": [] }));

    let (status, reply) = d.request(
        "PUT",
        &format!("{path}/secrets/TOKEN"),
        Some(&json!({ "value": "t-1" })),
    );
    assert_eq!(status, 201, "{reply}");
    ran(json!({ "v": 2, "secrets": ["TOKEN"] }));
    let (status, reply) = d.request("DELETE", &format!("{path}/secrets/TOKEN"), None);
    assert!(status < 300, "{status} {reply}");
    ran(json!({ "v": 2, "secrets": [] }));

    // A million turns of the loop: about 10^8 fuel, well within the
    // default and far past the least a charm may set.
    let busy = json!(1_000_000);
    assert_eq!(d.run_now(&id, busy.clone())["outcome"], "ok");
    let (status, reply) = d.patch(&path, &json!({ "limits": { "fuel": 1_000_000 } }));
    assert_eq!(status, 200, "{reply}");
    let starved = d.run_now(&id, busy);
    assert_eq!(starved["outcome"], "fuel", "the new limit: {starved}");
}

#[test]
fn malformed_requests_get_json_4xx_and_never_500() {
    let d = Daemon::start(&["--max-body-bytes", "1000000"]);
    let ok_source = std::fs::read_to_string(support::fixture("counter.js")).unwrap();
    let id = d.register("counter.js", json!({ "interval_s": 3600 }));
    let json_ct = [("content-type", "application/json")];
    let with_source = |extra: Value| {
        let mut body = json!({ "source": ok_source });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body.to_string().into_bytes()
    };
    let big = vec![b'x'; 1_500_000];
    /// Method, path, headers, body, expected status.
    type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, Vec<u8>, u16);
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/api/charms".into(),
            json_ct.to_vec(),
            br#"{"source": "#.to_vec(),
            400,
        ),
        (
            "POST",
            "/api/charms".into(),
            json_ct.to_vec(),
            br#"{"source": 5}"#.to_vec(),
            400,
        ),
        (
            "POST",
            "/api/charms".into(),
            json_ct.to_vec(),
            br#"[1, 2]"#.to_vec(),
            400,
        ),
        (
            "POST",
            "/api/charms".into(),
            json_ct.to_vec(),
            with_source(json!({ "interval_s": -1 })),
            400,
        ),
        (
            "POST",
            "/api/charms".into(),
            json_ct.to_vec(),
            with_source(json!({ "interval_s": 0 })),
            400,
        ),
        (
            "POST",
            "/api/charms".into(),
            json_ct.to_vec(),
            with_source(json!({ "interval_s": 99_999_999_999u64 })),
            400,
        ),
        (
            "POST",
            "/api/charms".into(),
            json_ct.to_vec(),
            with_source(json!({ "limits": { "memory_mb": 1 } })),
            400,
        ),
        (
            "POST",
            "/api/charms".into(),
            json_ct.to_vec(),
            with_source(json!({ "limits": { "fuel": "lots" } })),
            400,
        ),
        (
            "POST",
            "/api/charms".into(),
            json_ct.to_vec(),
            with_source(json!({ "limits": { "bogus": 1 } })),
            400,
        ),
        (
            "POST",
            "/api/charms".into(),
            json_ct.to_vec(),
            with_source(json!({ "limits": [1] })),
            400,
        ),
        (
            "POST",
            "/api/charms".into(),
            json_ct.to_vec(),
            with_source(json!({ "allowed_hosts": ["*"] })),
            400,
        ),
        (
            "POST",
            "/api/charms".into(),
            json_ct.to_vec(),
            with_source(json!({ "space": "../etc" })),
            400,
        ),
        (
            "POST",
            "/api/charms".into(),
            json_ct.to_vec(),
            with_source(json!({ "unknown": true })),
            400,
        ),
        (
            "POST",
            "/api/charms".into(),
            json_ct.to_vec(),
            big.clone(),
            413,
        ),
        (
            "POST",
            "/api/charms".into(),
            vec![],
            with_source(json!({})),
            415,
        ),
        ("GET", "/api/charms/0123".into(), vec![], vec![], 404),
        (
            "GET",
            "/api/charms/..%2F..%2Fetc%2Fpasswd".into(),
            vec![],
            vec![],
            404,
        ),
        (
            "GET",
            format!("/api/charms/{}", "f".repeat(32)),
            vec![],
            vec![],
            404,
        ),
        (
            "GET",
            format!("/api/charms/{}/state", "e".repeat(32)),
            vec![],
            vec![],
            404,
        ),
        (
            "POST",
            format!("/api/charms/{}/run", "e".repeat(32)),
            json_ct.to_vec(),
            b"{}".to_vec(),
            404,
        ),
        ("GET", "/api/runs/abc".into(), vec![], vec![], 404),
        ("GET", "/api/runs/999999999".into(), vec![], vec![], 404),
        ("GET", "/api/charms?limit=abc".into(), vec![], vec![], 400),
        (
            "GET",
            "/api/charms?status=sideways".into(),
            vec![],
            vec![],
            400,
        ),
        (
            "PATCH",
            format!("/api/charms/{id}"),
            json_ct.to_vec(),
            br#"{"enabled": "yes"}"#.to_vec(),
            400,
        ),
        (
            "PATCH",
            format!("/api/charms/{id}"),
            json_ct.to_vec(),
            br#"{"interval_s": 0}"#.to_vec(),
            400,
        ),
        (
            "POST",
            format!("/api/charms/{id}/run"),
            json_ct.to_vec(),
            b"{bad".to_vec(),
            400,
        ),
        ("GET", "/nope".into(), vec![], vec![], 404),
        ("PUT", "/api/charms".into(), vec![], vec![], 405),
    ];
    for (method, path, headers, body, want) in cases {
        let answer = d.send(method, &path, &headers, Some(&body));
        let (status, reply) = (answer.status, answer.body);
        assert_eq!(
            status,
            want,
            "{method} {path} {}: {reply}",
            String::from_utf8_lossy(&body[..body.len().min(80)])
        );
        assert!(
            reply["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{method} {path}: a JSON error message: {reply}"
        );
    }

    let (status, reply) = d.post("/api/charms", &json!({ "source": "export function bgUpdater(s) {\n  return s +;\n}\n", "name": "bad.js" }));
    assert_eq!(status, 400);
    assert_eq!(
        (reply["line"].clone(), reply["column"].clone()),
        (json!(2), json!(13)),
        "{reply}"
    );
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .starts_with("bad.js:2:13: SyntaxError"),
        "{reply}"
    );

    assert_eq!(d.get("/healthz").0, 200, "still healthy");
    assert!(!d.log_text().contains("panicked"));
}

#[test]
fn the_cli_manages_charms_through_the_api() {
    // The daemon makes a token; the CLI finds it in the daemon's server file.
    let d = Daemon::start(&[]);
    let cli = |args: &[&str]| {
        let ran = d.cli(args);
        (ran.code, ran.stdout, ran.stderr)
    };
    let counter = support::fixture("counter.js");
    let (code, id, err) = cli(&[
        "add",
        counter.to_str().unwrap(),
        "--interval",
        "1h",
        "--space",
        "cli",
        "--state",
        r#"{"count": 1}"#,
    ]);
    assert_eq!(code, 0, "{err}");
    let id = id.trim().to_string();
    assert!(err.contains("every 3600s"), "{err}");

    let (code, out, err) = cli(&["trigger", &id, "--wait"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"outcome\": \"ok\""), "{out}");
    let (code, out, _) = cli(&["state", &id]);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["state"]["count"],
        2
    );
    let (_, out, _) = cli(&["list", "--space", "cli"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with(&id) && l.contains(" ok ")),
        "{out}"
    );
    let (_, out, _) = cli(&["runs", &id]);
    assert!(
        out.lines()
            .nth(1)
            .is_some_and(|l| l.contains("manual") && l.contains("ok")),
        "{out}"
    );

    assert_eq!(cli(&["disable", &id]).0, 0);
    let (code, _, err) = cli(&["trigger", &id]);
    assert_eq!(code, 1);
    assert!(err.contains("disabled"), "{err}");
    assert_eq!(cli(&["enable", &id]).0, 0);

    let bad = support::fixture("syntax-error.js");
    let (code, _, err) = cli(&["add", bad.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("syntax-error.js:5:5"), "{err}");

    assert_eq!(cli(&["rm", &id]).0, 0);
    let (code, _, err) = cli(&["show", &id]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no charm with id") && err.contains("HTTP 404"),
        "{err}"
    );

    let unreachable = charm_host()
        .args(["charms", "list", "--server", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(unreachable.status.code(), Some(5));
}

/// Issue 13's operator ceilings: a charm may raise its limits up to what the
/// operator allows, not to the engine's maximums.
#[test]
fn operator_ceilings_bound_what_a_charm_may_set() {
    let d = Daemon::start(&[
        "--fuel",
        "1000000000",
        "--ceiling-fuel",
        "2000000000",
        "--ceiling-timeout-ms",
        "60000",
    ]);
    let source = std::fs::read_to_string(support::fixture("counter.js")).unwrap();
    let (status, body) = d.post(
        "/api/charms",
        &json!({ "source": source, "limits": { "fuel": 3_000_000_000u64 } }),
    );
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("limits.fuel 3000000000") && error.contains("--ceiling-fuel"),
        "{error}"
    );
    let id = d.register(
        "counter.js",
        json!({ "interval_s": 3600, "limits": { "fuel": 2_000_000_000u64 } }),
    );
    let (status, body) = d.patch(
        &format!("/api/charms/{id}"),
        &json!({ "limits": { "timeout_ms": 120_000 } }),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("--ceiling-timeout-ms"),
        "{body}"
    );
    assert_eq!(d.run_now(&id, Value::Null)["outcome"], "ok");

    // A default over a ceiling is refused at start, naming both flags.
    let out = charm_host()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-token",
            "--ceiling-fuel",
            "1000",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--ceiling-fuel") && stderr.contains("--fuel"),
        "{stderr}"
    );
}
