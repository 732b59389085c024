//! State history through the real daemon (issue #14): kept versions, one
//! version read back, the diff between two, rollback (audited, refused
//! while a run is running) and the CLI.

mod support;

use serde_json::json;
use support::Daemon;

#[test]
fn versions_are_kept_diffed_and_rolled_back() {
    let d = Daemon::start(&["--keep-state-versions", "5"]);
    let id = d.register(
        "counter.js",
        json!({ "interval_s": 3600, "state": { "note": "first" } }),
    );
    for _ in 0..3 {
        assert_eq!(d.run_now(&id, json!(null))["outcome"], "ok");
    }
    // A failed run writes no version.
    let (status, _) = d.patch(
        &format!("/api/charms/{id}"),
        &json!({ "source": "export function bgUpdater() { throw new Error('nope'); }" }),
    );
    assert_eq!(status, 200);
    assert_eq!(d.run_now(&id, json!(null))["outcome"], "error");

    let (status, kept) = d.get(&format!("/api/charms/{id}/state/versions"));
    assert_eq!(status, 200, "{kept}");
    let versions: Vec<i64> = kept["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [3, 2, 1, 0]);
    assert!(kept["versions"][0]["run_id"].is_i64() && kept["versions"][3]["run_id"].is_null());

    let (status, one) = d.get(&format!("/api/charms/{id}/state?version=1"));
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["state"], json!({ "note": "first", "count": 1 }));
    assert_eq!(one["version"], 1);
    let (status, missing) = d.get(&format!("/api/charms/{id}/state?version=9"));
    assert_eq!(status, 404);
    assert!(
        missing["error"]
            .as_str()
            .unwrap()
            .contains("the current version is 3"),
        "{missing}"
    );

    let (status, diff) = d.get(&format!("/api/charms/{id}/state/diff?from=0&to=2"));
    assert_eq!(status, 200, "{diff}");
    assert_eq!(
        diff["patch"],
        json!([{ "op": "add", "path": "/count", "value": 2 }])
    );
    let (_, to_now) = d.get(&format!("/api/charms/{id}/state/diff?from=1"));
    assert_eq!(
        (to_now["from"].as_i64(), to_now["to"].as_i64()),
        (Some(1), Some(3))
    );
    assert_eq!(
        to_now["patch"],
        json!([{ "op": "replace", "path": "/count", "value": 3 }])
    );
    let (status, _) = d.get(&format!("/api/charms/{id}/state/diff?from=x"));
    assert_eq!(status, 400, "a malformed query is a 400");

    // Roll back to version 1: a new version 4 equal to it, audited.
    let (status, rolled) = d.post(
        &format!("/api/charms/{id}/state/rollback"),
        &json!({ "version": 1 }),
    );
    assert_eq!(status, 200, "{rolled}");
    assert_eq!(
        (rolled["version"].as_i64(), &rolled["state"]),
        (Some(4), &one["state"])
    );
    assert_eq!(d.state(&id)["state"], one["state"]);
    let (_, log) = d.get("/api/audit");
    assert!(
        log["audit"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "POST /api/charms/{id}/state/rollback"
                && e["target"] == id.as_str()
                && e["status"] == 200),
        "{log}"
    );
    let (status, _) = d.post(
        &format!("/api/charms/{id}/state/rollback"),
        &json!({ "version": 77 }),
    );
    assert_eq!(status, 404);

    // The CLI shows the same.
    let history = d.cli(&["history", &id]);
    assert!(
        history
            .stdout
            .lines()
            .nth(1)
            .is_some_and(|l| l.trim_start().starts_with('4')),
        "{}",
        history.stdout
    );
    let diff = d.cli(&["diff", &id, "3", "4"]);
    assert!(
        diff.stdout.contains("\"replace\"") && diff.stdout.contains("/count"),
        "{}",
        diff.stdout
    );
    let back = d.cli(&["rollback", &id, "3"]);
    assert!(
        back.stderr.contains("now version 5, a copy of version 3"),
        "{}",
        back.stderr
    );
    let old = d.cli(&["state", &id, "--version", "2"]);
    assert!(old.stdout.contains("\"count\": 2"), "{}", old.stdout);
}

#[test]
fn a_rollback_waits_for_the_running_run() {
    let d = Daemon::start(&[]);
    let id = d.register("dawdler.js", json!({ "interval_s": 3600 }));
    assert_eq!(d.run_now(&id, json!({ "ms": 0 }))["outcome"], "ok");
    let (_, queued) = d.post(
        &format!("/api/charms/{id}/run"),
        &json!({ "input": { "ms": 20000 } }),
    );
    let run = queued["run_id"].as_i64().unwrap();
    d.wait_running(run);
    let (status, refused) = d.post(
        &format!("/api/charms/{id}/state/rollback"),
        &json!({ "version": 0 }),
    );
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("conflict")),
        "{refused}"
    );
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains(&format!("run {run}")),
        "{refused}"
    );
    let (status, _) = d.post(&format!("/api/runs/{run}/cancel"), &json!({}));
    assert_eq!(status, 202);
    d.wait_run(run);
    let (status, rolled) = d.post(
        &format!("/api/charms/{id}/state/rollback"),
        &json!({ "version": 0 }),
    );
    assert_eq!(
        (status, rolled["version"].as_i64()),
        (200, Some(2)),
        "{rolled}"
    );
}

#[test]
fn keep_state_versions_must_keep_at_least_the_current_one() {
    let out = support::charm_host()
        .args([
            "serve",
            "--keep-state-versions",
            "0",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--keep-state-versions"));
}
