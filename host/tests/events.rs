//! Events through the real binary and a real SQLite file: the inbox,
//! retries and dead letters, idempotency, webhooks, delayed runs, cancel
//! and cron schedules; the inbox's ordering, dead letters and crash
//! recovery again on PostgreSQL. (The store's own cases, on both backends,
//! are in store/tests/conformance/inbox.rs.) Tests wait for conditions,
//! never for a fixed time.

#[path = "../../store/tests/support/pg.rs"]
mod pg;
mod support;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use support::{wait_for, Daemon};

/// A schedule that never fires during a test (New Year, UTC): a scheduled
/// run would join the runs a test makes, or add to the state it checks.
fn quiet() -> Value {
    json!({ "cron": "0 0 1 1 *", "tz": "UTC" })
}

fn trigger(d: &Daemon, id: &str, body: Value) -> Value {
    let (status, queued) = d.post(&format!("/api/charms/{id}/run"), &body);
    assert_eq!(status, 202, "{queued}");
    queued
}

fn charm(d: &Daemon, id: &str) -> Value {
    let (status, body) = d.get(&format!("/api/charms/{id}"));
    assert_eq!(status, 200, "{body}");
    body
}

fn events(d: &Daemon, id: &str, status: &str) -> Vec<Value> {
    let (code, body) = d.get(&format!("/api/charms/{id}/events?status={status}"));
    assert_eq!(code, 200, "{body}");
    body["events"].as_array().unwrap().clone()
}

fn runs_of(d: &Daemon, id: &str) -> Vec<Value> {
    let (status, body) = d.get(&format!("/api/charms/{id}/runs?limit=1000"));
    assert_eq!(status, 200, "{body}");
    body["runs"].as_array().unwrap().clone()
}

/// Starts a run that waits on a slow fetch, and waits until it runs and
/// holds its event: the charm is busy, so what is triggered next queues
/// behind it. (On PostgreSQL a run reads its events just after its claim
/// commits, and takes every event pending then: an event delivered in
/// between would be this run's, not the next one's.)
fn occupy(d: &Daemon, id: &str, slow_url: &str) -> i64 {
    let run = trigger(d, id, json!({ "input": { "n": 0, "slow": slow_url } }))["run_id"]
        .as_i64()
        .unwrap();
    wait_for(&format!("run {run} to start with its event"), 30, || {
        let (_, record) = d.get(&format!("/api/runs/{run}"));
        let given = record["events"].as_array().is_some_and(|e| !e.is_empty());
        (record["status"] == "running" && given).then_some(())
    });
    run
}

#[test]
fn two_triggers_before_a_run_both_reach_it_in_order() {
    two_triggers_reach_one_run(&[]);
}

#[test]
fn two_triggers_before_a_run_both_reach_it_in_order_on_postgresql() {
    let db = pg::fresh_database();
    two_triggers_reach_one_run(&["--db", &db.url]);
}

fn two_triggers_reach_one_run(db: &[&str]) {
    let server = support::slow_server(1500);
    let d = Daemon::start(db);
    let id = d.register(
        "inbox.js",
        json!({ "schedule": quiet(), "allowed_hosts": [server.host_port()] }),
    );
    let busy = occupy(&d, &id, &server.url("/slow"));
    let first = trigger(&d, &id, json!({ "input": { "n": 1 } }));
    let second = trigger(&d, &id, json!({ "input": { "n": 2 } }));
    assert_eq!(first["run_id"], second["run_id"], "one queued run");
    assert_eq!(second["coalesced"], true);
    assert_ne!(first["event_id"], second["event_id"]);
    d.wait_run(busy);
    let run = d.wait_run(first["run_id"].as_i64().unwrap());
    assert_eq!(run["outcome"], "ok", "{run}");
    assert_eq!(
        run["events"],
        json!([first["event_id"], second["event_id"]])
    );
    let state = d.state(&id)["state"].clone();
    assert_eq!(state["seen"], json!([[0], [1, 2]]), "{state}");
    assert_eq!(state["input"], json!({ "n": 2 }), "ctx.input is the newest");
    assert_eq!(state["sources"], json!(["manual", "manual"]));
    assert!(events(&d, &id, "pending").is_empty());
    assert_eq!(events(&d, &id, "acked").len(), 3);
}

#[test]
fn a_poison_event_is_retried_then_dead_lettered_and_later_events_flow() {
    poison_is_dead_lettered(&[]);
}

#[test]
fn a_poison_event_is_dead_lettered_on_postgresql() {
    let db = pg::fresh_database();
    poison_is_dead_lettered(&["--db", &db.url]);
}

fn poison_is_dead_lettered(db: &[&str]) {
    // Retries wait at most --max-backoff-s.
    let mut args = vec!["--max-backoff-s", "1"];
    args.extend_from_slice(db);
    let d = Daemon::start(&args);
    let id = d.register(
        "inbox.js",
        json!({ "schedule": quiet(), "max_attempts": 2 }),
    );
    let poison = trigger(&d, &id, json!({ "input": { "poison": true } }));
    let dead = wait_for("the poison event to be dead-lettered", 30, || {
        let dead = events(&d, &id, "dead");
        (!dead.is_empty()).then_some(dead)
    });
    assert_eq!(dead[0]["id"], poison["event_id"]);
    assert_eq!(dead[0]["attempts"], 2);
    assert!(
        dead[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("poison event"),
        "{}",
        dead[0]
    );
    let runs = runs_of(&d, &id);
    let tried: Vec<(Value, Value, Value)> = runs
        .iter()
        .rev()
        .map(|r| {
            (
                r["trigger"].clone(),
                r["attempt"].clone(),
                r["outcome"].clone(),
            )
        })
        .collect();
    assert_eq!(
        tried,
        vec![
            (json!("manual"), json!(1), json!("error")),
            (json!("retry"), json!(2), json!("error")),
        ]
    );
    assert_eq!(d.state(&id)["version"], 0, "failed runs never write");

    // Later events flow past the dead letter.
    let later = d.run_now(&id, json!({ "n": 7 }));
    assert_eq!(later["outcome"], "ok", "{later}");
    assert_eq!(d.state(&id)["state"]["seen"], json!([[7]]));
    let c = charm(&d, &id);
    assert_eq!(
        (c["dead_events"].clone(), c["enabled"].clone()),
        (json!(1), json!(true))
    );

    // The CLI shows it, and discards it.
    let shown = d.cli(&["events", &id, "--status", "dead"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(shown.stdout.contains("poison event"), "{}", shown.stdout);
    let discarded = d.cli(&["discard", &id]);
    assert_eq!(
        (discarded.code, discarded.stdout.trim()),
        (0, "1"),
        "{}",
        discarded.stderr
    );
    assert!(events(&d, &id, "dead").is_empty());
}

#[test]
fn a_dead_letter_redriven_runs_again() {
    let d = Daemon::start(&["--max-backoff-s", "1"]);
    let id = d.register(
        "inbox.js",
        json!({ "schedule": quiet(), "max_attempts": 1 }),
    );
    let failed = d.run_now(&id, json!({ "poison": true }));
    assert_eq!(failed["outcome"], "error");
    let dead = events(&d, &id, "dead");
    assert_eq!(dead.len(), 1);
    // The author fixes the charm: poison is now fine.
    let source = std::fs::read_to_string(support::fixture("inbox.js"))
        .unwrap()
        .replace(
            "if (event.data?.poison)",
            "if (event.data?.poison && false)",
        );
    let (status, body) = d.patch(&format!("/api/charms/{id}"), &json!({ "source": source }));
    assert_eq!(status, 200, "{body}");
    let redriven = d.cli(&["redrive", &id, &dead[0]["id"].to_string()]);
    assert_eq!(redriven.stdout.trim(), "1", "{}", redriven.stderr);
    wait_for("the re-driven event to be acknowledged", 30, || {
        events(&d, &id, "acked").len().eq(&1).then_some(())
    });
    let state = d.state(&id)["state"].clone();
    assert_eq!(state["seen"], json!([[{ "poison": true }]]), "{state}");
    assert_eq!(runs_of(&d, &id)[0]["trigger"], "inbox");
}

#[test]
fn a_killed_daemon_retries_a_runs_events_and_applies_them_once() {
    killed_daemon_retries_events(&[]);
}

#[test]
fn a_killed_node_retries_a_runs_events_on_postgresql() {
    let db = pg::fresh_database();
    // A short time to live: the restarted node rescues its old self's run.
    killed_daemon_retries_events(&["--db", &db.url, "--node-ttl-ms", "3000"]);
}

fn killed_daemon_retries_events(db: &[&str]) {
    let server = support::slow_server(1500);
    let mut d = Daemon::start(db);
    let id = d.register(
        "inbox.js",
        json!({ "schedule": quiet(), "allowed_hosts": [server.host_port()] }),
    );
    let queued = trigger(
        &d,
        &id,
        json!({ "input": { "n": 1, "slow": server.url("/slow") } }),
    );
    let run = queued["run_id"].as_i64().unwrap();
    d.wait_running(run);
    d.signal("-KILL");
    assert_eq!(d.wait_exit(10), None, "killed by a signal");
    let dir = d.dir.clone();
    drop(d);
    let d = Daemon::start_in(dir, db);
    let interrupted = d.wait_run(run);
    assert_eq!(interrupted["outcome"], "interrupted", "{interrupted}");
    let retry = wait_for("the retry to succeed", 60, || {
        runs_of(&d, &id)
            .into_iter()
            .find(|r| r["trigger"] == "recovery" && r["status"] == "done")
    });
    assert_eq!(retry["outcome"], "ok", "{retry}");
    assert_eq!(
        retry["events"],
        json!([queued["event_id"]]),
        "the same event"
    );
    let state = d.state(&id);
    assert_eq!(
        state["state"]["seen"],
        json!([[1]]),
        "applied once: {state}"
    );
    assert_eq!(state["version"], 1);
}

#[test]
fn a_duplicate_idempotency_key_is_accepted_and_ignored() {
    let d = Daemon::start(&[]);
    let id = d.register("inbox.js", json!({ "schedule": quiet() }));
    let first = d.cli(&[
        "trigger",
        &id,
        "--input",
        "{\"n\":1}",
        "--key",
        "msg-1",
        "--wait",
    ]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let again = trigger(
        &d,
        &id,
        json!({ "input": { "n": 2 }, "idempotency_key": "msg-1" }),
    );
    assert_eq!(
        (again["duplicate"].clone(), again["run_id"].clone()),
        (json!(true), Value::Null),
        "{again}"
    );
    let cli = d.cli(&["trigger", &id, "--input", "{\"n\":3}", "--key", "msg-1"]);
    assert_eq!(cli.code, 0, "{}", cli.stderr);
    assert!(cli.stderr.contains("kept already"), "{}", cli.stderr);
    assert_eq!(d.state(&id)["state"]["seen"], json!([[1]]));
    let (status, body) = d.post(
        &format!("/api/charms/{id}/run"),
        &json!({ "input": 1, "idempotency_key": "" }),
    );
    assert_eq!(status, 400, "{body}");
}

fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn deliver(d: &Daemon, path: &str, secret: &str, body: &[u8]) -> support::Answer {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let signature = sign(secret, &now, body);
    support::http_answer(
        &d.addr,
        "POST",
        path,
        &[
            ("content-type", "application/json"),
            ("x-github-event", "push"),
            ("x-charm-timestamp", &now),
            ("x-charm-signature", &signature),
        ],
        Some(body),
    )
}

#[test]
fn webhooks_check_signatures_limits_rates_and_the_charms_status() {
    let d = Daemon::start(&["--max-hook-body-bytes", "1024", "--hook-rate", "6"]);
    let id = d.register("inbox.js", json!({ "schedule": quiet() }));
    let path = format!("/hooks/{id}");
    let none = deliver(&d, &path, "x", b"{}");
    assert_eq!(none.status, 404, "no webhook yet: {}", none.body);

    let (status, hook) = d.post(&format!("/api/charms/{id}/hook"), &json!({}));
    assert_eq!(status, 201, "{hook}");
    assert_eq!(hook["path"], path);
    let secret = hook["secret"].as_str().unwrap().to_string();
    assert_eq!(charm(&d, &id)["webhook"], true);

    let forged = deliver(&d, &path, "not-the-secret", br#"{"n":1}"#);
    assert_eq!(forged.status, 401, "{}", forged.body);
    assert_eq!(forged.body["code"], "bad_signature");
    let unsigned = support::http_answer(&d.addr, "POST", &path, &[], Some(b"{}"));
    assert_eq!(unsigned.status, 401, "{}", unsigned.body);
    assert!(events(&d, &id, "pending").is_empty() && events(&d, &id, "acked").is_empty());

    let get = support::http_answer(&d.addr, "GET", &path, &[], None);
    assert_eq!(
        (get.status, get.body["code"].clone()),
        (405, json!("method_not_allowed")),
        "a JSON 405: {}",
        get.body
    );
    let huge = vec![b' '; 3 * 1024 * 1024];
    let trigger_too_big = d.send(
        "POST",
        &format!("/api/charms/{id}/run"),
        &[("content-type", "application/json")],
        Some(&huge),
    );
    assert_eq!(
        (trigger_too_big.status, trigger_too_big.body["code"].clone()),
        (413, json!("payload_too_large")),
        "a JSON 413: {}",
        trigger_too_big.body
    );
    let big = vec![b' '; 2048];
    let too_big = deliver(&d, &path, &secret, &big);
    assert_eq!(too_big.status, 413, "{}", too_big.body);
    assert_eq!(too_big.body["code"], "payload_too_large");

    let accepted = deliver(&d, &path, &secret, br#"{"n":5}"#);
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let run = d.wait_run(accepted.body["run_id"].as_i64().unwrap());
    assert_eq!(run["trigger"], "webhook");
    let state = d.state(&id)["state"].clone();
    assert_eq!(state["sources"], json!(["webhook"]));
    assert_eq!(
        state["input"],
        json!({ "body": { "n": 5 }, "headers": { "content-type": "application/json", "x-github-event": "push" } }),
        "{state}"
    );

    // Six a minute: the budget is spent; the answer says when to retry.
    let limited = deliver(&d, &path, &secret, br#"{"n":6}"#);
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.header("retry-after").is_some());

    let (status, _) = d.patch(&format!("/api/charms/{id}"), &json!({ "enabled": false }));
    assert_eq!(status, 200);
    let disabled = deliver(&d, &path, &secret, br#"{"n":7}"#);
    assert_eq!(disabled.status, 409, "{}", disabled.body);
    assert_eq!(events(&d, &id, "pending").len(), 0, "nothing stored");
}

#[test]
fn cancel_removes_a_queued_run_and_stops_a_running_one_keeping_its_events() {
    let server = support::slow_server(20_000);
    let d = Daemon::start(&[]);
    let id = d.register(
        "inbox.js",
        json!({ "schedule": quiet(), "allowed_hosts": [server.host_port()] }),
    );
    let busy = occupy(&d, &id, &server.url("/slow"));
    let waiting = trigger(&d, &id, json!({ "input": { "n": 1 } }))["run_id"]
        .as_i64()
        .unwrap();
    let (status, body) = d.post(&format!("/api/runs/{waiting}/cancel"), &json!({}));
    assert_eq!(
        (status, body["cancelled"].clone()),
        (200, json!("dequeued")),
        "{body}"
    );
    assert_eq!(d.wait_run(waiting)["outcome"], "cancelled");

    let started = std::time::Instant::now();
    let cancelled = d.cli(&["cancel", &busy.to_string()]);
    assert_eq!(cancelled.code, 0, "{}", cancelled.stderr);
    let run = d.wait_run(busy);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "stopped at once, not after the 20 s fetch"
    );
    assert_eq!(
        (run["outcome"].clone(), run["error"].clone()),
        (json!("cancelled"), json!("cancelled by a user"))
    );
    assert!(run["duration_ms"].as_i64().unwrap() > 0, "{run}");
    assert_eq!(d.state(&id)["version"], 0, "state untouched");
    let pending = events(&d, &id, "pending");
    assert_eq!(
        pending
            .iter()
            .map(|e| e["attempts"].clone())
            .collect::<Vec<_>>(),
        [json!(0), json!(0)],
        "both runs' events are kept, no attempt counted"
    );
    let (status, body) = d.post(&format!("/api/runs/{busy}/cancel"), &json!({}));
    assert_eq!(status, 409, "finished already: {body}");
    let (status, body) = d.post("/api/runs/999999/cancel", &json!({}));
    assert_eq!(status, 404, "{body}");
}

#[test]
fn a_run_asked_for_later_waits_for_its_time() {
    let d = Daemon::start(&[]);
    // Scheduled every second: they neither take its place nor start it early.
    let id = d.register("inbox.js", json!({ "interval_s": 1 }));
    let asked_at = d.get(&format!("/api/charms/{id}")).1["created_at"]
        .as_i64()
        .unwrap();
    let asked = d.cli(&["trigger", &id, "--in", "3s"]);
    assert_eq!(asked.code, 0, "{}", asked.stderr);
    assert!(asked.stderr.contains("asked for at"), "{}", asked.stderr);
    assert!(charm(&d, &id)["next_wakeup_at"].as_i64().is_some());
    let run = wait_for("the run asked for", 30, || {
        runs_of(&d, &id)
            .into_iter()
            .find(|r| r["trigger"] == "manual" && r["status"] == "done")
    });
    let waited = run["queued_at"].as_i64().unwrap() - asked_at;
    assert!(waited >= 2_900, "queued {waited} ms after it was asked for");
    assert_eq!(run["outcome"], "ok", "{run}");
    assert!(
        runs_of(&d, &id).iter().any(|r| r["trigger"] == "schedule"),
        "the schedule went on meanwhile"
    );
    assert!(charm(&d, &id)["next_wakeup_at"].is_null());
    let (status, body) = d.post(
        &format!("/api/charms/{id}/run"),
        &json!({ "at": "tomorrow at noon" }),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("RFC 3339"),
        "{body}"
    );
    let (status, body) = d.post(
        &format!("/api/charms/{id}/run"),
        &json!({ "at": "9999-12-30T00:00:00Z" }),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("within a year"),
        "{body}"
    );
}

#[test]
fn a_cron_charm_is_due_on_the_minute_and_runs_then() {
    let d = Daemon::start(&[]);
    let added = d.cli(&[
        "add",
        support::fixture("inbox.js").to_str().unwrap(),
        "--cron",
        "* * * * *",
        "--tz",
        "Europe/Berlin",
    ]);
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert!(
        added.stderr.contains("at `* * * * *` (Europe/Berlin)"),
        "{}",
        added.stderr
    );
    let id = added.stdout.trim().to_string();
    let c = charm(&d, &id);
    assert_eq!(
        c["schedule"],
        json!({ "cron": "* * * * *", "tz": "Europe/Berlin" })
    );
    let due = c["next_run_at"].as_i64().unwrap();
    assert_eq!(due % 60_000, 0, "due on a minute: {due}");
    let run = wait_for("the scheduled run", 75, || {
        runs_of(&d, &id)
            .into_iter()
            .find(|r| r["trigger"] == "schedule" && r["status"] == "done")
    });
    assert!(run["queued_at"].as_i64().unwrap() >= due, "{run}");
    assert_eq!(charm(&d, &id)["next_run_at"].as_i64().unwrap() % 60_000, 0);

    let (status, body) = d.post(
        "/api/charms",
        &json!({ "source": "export function bgUpdater() {}", "schedule": { "cron": "0 7 * * MON-FRI", "tz": "Mars/Olympus" } }),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("IANA"), "{body}");
    let (status, body) = d.post(
        "/api/charms",
        &json!({ "source": "export function bgUpdater() {}", "schedule": { "cron": "0 0 30 2 *" } }),
    );
    assert_eq!(status, 400, "{body}");
}

#[test]
fn a_charm_asks_for_its_next_run_within_the_operators_bounds() {
    let d = Daemon::start(&["--max-requested-next-s", "7200"]);
    let id = d.register("next-run.js", json!({ "interval_s": 60 }));
    // A success first restarts the schedule (a minute on): no scheduled run
    // moves next_run_at between a run and the look at it.
    assert_eq!(d.run_now(&id, Value::Null)["outcome"], "ok");
    let gap = |input: Value| {
        let run = d.run_now(&id, input);
        assert_eq!(run["outcome"], "ok", "{run}");
        charm(&d, &id)["next_run_at"].as_i64().unwrap() - run["finished_at"].as_i64().unwrap()
    };
    assert_eq!(gap(json!({ "next": 3_600_000 })), 3_600_000, "as asked");
    assert_eq!(
        gap(json!({ "next": 1e12 })),
        7_200_000,
        "the operator's maximum"
    );
    assert_eq!(
        gap(json!({ "next": 5 })),
        10_000,
        "the default minimum, 10 s"
    );
    let unasked = gap(json!(null));
    assert!(
        (54_000..=66_000).contains(&unasked),
        "the interval: {unasked}"
    );
    let state = d.state(&id)["state"].clone();
    assert_eq!(
        state["refused"],
        "RangeError: ctx.scheduleNext takes a number of milliseconds, 0 or more; got -1"
    );
    assert!(
        !state["keys"]
            .as_array()
            .unwrap()
            .contains(&json!("scheduleNext")),
        "not enumerable: {state}"
    );
}
