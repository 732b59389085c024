//! Alerts through the real binary: a scripted charm goes silent, fails,
//! is disabled and recovers; a loopback receiver sees exactly one alert of
//! each, and a dead receiver delays nothing. Tests wait for conditions,
//! never for a fixed time.

mod support;

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use support::{wait_for, Daemon, Reply, TestServer};

/// The kinds of the alerts `receiver` got, in order.
fn received(receiver: &TestServer) -> Vec<Value> {
    receiver
        .requests()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("an alert is JSON"))
        .collect()
}

fn kinds(alerts: &[Value]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| a["kind"].as_str().unwrap_or("?").to_string())
        .collect()
}

#[test]
fn a_charm_that_goes_silent_fails_is_disabled_and_recovers_raises_one_alert_each() {
    let mode = Arc::new(Mutex::new("slow-fail".to_string()));
    let served = Arc::clone(&mode);
    let feed = TestServer::start(vec![(
        "/mode",
        Box::new(move |_| {
            let mode = served.lock().unwrap().clone();
            if mode == "slow-fail" {
                std::thread::sleep(std::time::Duration::from_secs(9));
                return Reply::ok("text/plain", "fail");
            }
            Reply::ok("text/plain", mode)
        }),
    )]);
    let receiver = TestServer::start(vec![("/alerts", Box::new(|_| Reply::ok("text/plain", "")))]);
    let d = Daemon::start(&[
        "--alert-webhook",
        &receiver.url("/alerts"),
        "--alert-webhook",
        "http://127.0.0.1:9/nobody-listens",
        "--alert-silent-intervals",
        "2",
        "--max-failures",
        "2",
        "--dashboard-url",
        "https://charms.example",
    ]);
    let id = d.register(
        "moody.js",
        json!({
            "interval_s": 1,
            "allowed_hosts": [feed.host_port()],
            "state": { "url": feed.url("/mode") },
            "limits": { "fetch_timeout_ms": 20000 },
        }),
    );
    // The first run waits 9 s on the feed: no success in two intervals.
    wait_for("a silent alert", 30, || {
        (kinds(&received(&receiver)) == ["silent"]).then_some(())
    });
    *mode.lock().unwrap() = "fail".into();
    let alerts = wait_for("failing, then disabled", 60, || {
        let alerts = received(&receiver);
        (alerts.len() >= 3).then_some(alerts)
    });
    assert_eq!(
        kinds(&alerts),
        ["silent", "failing", "disabled"],
        "{alerts:?}"
    );
    let failing = &alerts[1];
    assert_eq!(failing["charm"]["id"], id);
    assert_eq!(failing["outcome"], "error");
    assert!(
        failing["error"]
            .as_str()
            .unwrap()
            .contains("the feed answered: fail\n    at bgUpdater (moody.js:"),
        "the error with its stack: {failing}"
    );
    assert_eq!(
        failing["dashboard"],
        format!("https://charms.example/#/charms/{id}")
    );
    let (_, run) = d.get(&format!("/api/runs/{}", failing["run_id"]));
    assert_eq!(run["outcome"], "error", "the failing run: {run}");
    assert_eq!(alerts[2]["fingerprint"], failing["fingerprint"]);

    *mode.lock().unwrap() = "ok".into();
    let (status, body) = d.patch(
        &format!("/api/charms/{id}"),
        &json!({ "enabled": true, "interval_s": 3600 }),
    );
    assert_eq!(status, 200, "{body}");
    let alerts = wait_for("recovered", 60, || {
        let alerts = received(&receiver);
        (alerts.len() >= 4).then_some(alerts)
    });
    assert_eq!(
        kinds(&alerts),
        ["silent", "failing", "disabled", "recovered"],
        "exactly one of each: {alerts:?}"
    );

    // The dead receiver's alerts are recorded, pending retries; runs went on.
    let (status, recorded) = d.get(&format!("/api/alerts?charm={id}"));
    assert_eq!(status, 200, "{recorded}");
    let recorded = recorded["alerts"].as_array().unwrap().clone();
    assert_eq!(
        recorded.len(),
        8,
        "four alerts to two channels: {recorded:?}"
    );
    let dead: Vec<&Value> = recorded
        .iter()
        .filter(|a| a["channel"] == "webhook-2 (127.0.0.1)")
        .collect();
    assert_eq!(dead.len(), 4);
    assert!(
        dead.iter()
            .all(|a| a["status"] == "pending" && a["delivered_at"].is_null()),
        "{dead:?}"
    );
    assert!(
        dead.iter().any(|a| a["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("sending failed"))),
        "{dead:?}"
    );
    assert!(recorded
        .iter()
        .filter(|a| a["channel"] == "webhook-1 (127.0.0.1)")
        .all(|a| a["status"] == "delivered"));
    assert!(
        !recorded.iter().any(
            |a| a["payload"].as_str().unwrap().contains("nobody-listens")
                || a["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("nobody-listens"))
        ),
        "neither payloads nor errors carry a channel's URL (a Slack webhook's path is its secret)"
    );
    assert!(!d.log_text().contains("nobody-listens"), "nor the log");
}
