//! The event loop charms run on: timers, overlapping fetches, abort,
//! unhandled rejections, byte-exact bodies, redirect modes, Set-Cookie,
//! deep data, and the fetch standard's Request and Response. Each case runs
//! the real binary against real servers on loopback.

mod support;

use std::io::Read;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use support::{run_fixture, slow_server, RawServer, Reply, TestServer};

fn input(value: Value) -> String {
    value.to_string()
}

#[test]
fn timers_fire_in_the_standards_order_and_cleared_ones_never_do() {
    let ran = run_fixture("timers.js", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        ran.state()["order"],
        json!(["a@10", "c@10", "b@20", "tick0", "tick1", "tick2", "wrapped"])
    );
}

#[test]
fn waiting_on_a_timer_burns_no_fuel() {
    let short = run_fixture(
        "sleeper.js",
        &["--stats", "--input", &input(json!({"ms": 20}))],
    );
    let long = run_fixture(
        "sleeper.js",
        &["--stats", "--input", &input(json!({"ms": 600}))],
    );
    assert_eq!((short.code, long.code), (0, 0), "{short:?} {long:?}");
    assert_eq!(long.state()["slept"], 600);
    let (a, b) = (short.fuel(), long.fuel());
    // The same code runs either way; only the wait differs. Allow for the
    // timer firing on a different turn of the loop.
    assert!(
        b <= a + a / 20,
        "a 600 ms wait used {b} fuel, a 20 ms one {a}"
    );
}

#[test]
fn an_interval_that_never_stops_ends_at_the_time_limit() {
    let ran = run_fixture("endless-interval.js", &["--timeout-ms", "300"]);
    assert_eq!(ran.code, 4, "{ran:?}");
    assert!(
        ran.stderr
            .contains("exceeded the time limit (300 ms; raise it with --timeout-ms)"),
        "{ran:?}"
    );
}

#[test]
fn the_pending_timer_limit_is_a_catchable_error_and_a_limit_uncaught() {
    let ran = run_fixture(
        "timer-flood.js",
        &[
            "--max-timers",
            "50",
            "--input",
            &input(json!({"catch": true})),
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.state()["set"], 50);
    assert!(
        ran.state()["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("RangeError: too many pending timers: the limit is 50")),
        "{ran:?}"
    );
    let ran = run_fixture(
        "timer-flood.js",
        &[
            "--max-timers",
            "50",
            "--input",
            &input(json!({"catch": false})),
        ],
    );
    assert_eq!(ran.code, 4, "{ran:?}");
    assert!(
        ran.stderr.contains(
            "set more timers than the pending timer limit (50; raise it with --max-timers)"
        ),
        "{ran:?}"
    );
}

#[test]
fn fetches_in_promise_all_overlap() {
    let server = slow_server(500);
    let urls: Vec<String> = (0..10)
        .map(|i| server.url(&format!("/slow?ms=500&n={i}")))
        .collect();
    let ran = run_fixture(
        "parallel-fetch.js",
        &[
            "--allow-host",
            &server.host_port(),
            "--input",
            &input(json!({ "urls": urls })),
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.state()["statuses"], json!(vec![200; 10]));
    let elapsed = ran.state()["elapsedMs"].as_u64().unwrap();
    // One after another they would take 5 s.
    assert!(elapsed < 2_000, "ten 500 ms fetches took {elapsed} ms");
    assert_eq!(server.requests().len(), 10);
}

#[test]
fn the_concurrent_fetch_limit_refuses_the_extra_fetches_catchably() {
    let server = slow_server(300);
    let urls: Vec<String> = (0..6)
        .map(|i| server.url(&format!("/slow?n={i}")))
        .collect();
    let ran = run_fixture(
        "parallel-fetch.js",
        &[
            "--allow-host",
            &server.host_port(),
            "--max-concurrent-fetches",
            "4",
            "--input",
            &input(json!({ "urls": urls })),
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.state()["statuses"], json!([200, 200, 200, 200]));
    let refused = ran.state()["refused"].as_array().unwrap().clone();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused[0]
            .as_str()
            .unwrap()
            .contains("4 fetches are already in flight, the concurrent fetch limit"),
        "{refused:?}"
    );
    assert_eq!(server.requests().len(), 4, "the refused fetches never left");
}

/// A server that holds each request without answering and records whether
/// the client closed the connection first.
fn hanging_server() -> (RawServer, Arc<Mutex<Vec<&'static str>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let server = RawServer::start(move |mut stream: TcpStream| {
        log.lock().unwrap().push("request");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 64];
        let outcome = match stream.read(&mut buf) {
            Ok(0) => "closed by the client",
            Ok(_) => "more data",
            Err(_) => "still open after 10 s",
        };
        log.lock().unwrap().push(outcome);
    });
    (server, seen)
}

#[test]
fn an_aborted_signal_stops_a_fetch_before_it_leaves() {
    let (server, seen) = hanging_server();
    let ran = run_fixture(
        "abort.js",
        &[
            "--allow-host",
            &server.addr.to_string(),
            "--input",
            &input(json!({ "url": server.url("/hang"), "when": "before" })),
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        ran.state(),
        json!({ "error": "AbortError", "isDOMException": true, "code": 20, "same": true })
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(seen.lock().unwrap().is_empty(), "no request left: {seen:?}");
}

#[test]
fn aborting_during_a_fetch_closes_the_connection() {
    let (server, seen) = hanging_server();
    let ran = run_fixture(
        "abort.js",
        &[
            "--allow-host",
            &server.addr.to_string(),
            "--input",
            &input(json!({ "url": server.url("/hang"), "when": "during" })),
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    // The server never answers: only the abort can have ended the fetch
    // (otherwise the run would end at its timeout, with another outcome).
    assert_eq!(ran.state()["error"], "AbortError");
    support::wait_for("the server to see the connection end", 10, || {
        (seen.lock().unwrap().len() == 2).then_some(())
    });
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["request", "closed by the client"]
    );
}

#[test]
fn an_unhandled_rejection_fails_the_run_and_a_late_handler_does_not() {
    let ran = run_fixture("unhandled-rejection.js", &[]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr
            .contains("TypeError: unhandled promise rejection: nobody handles this"),
        "{ran:?}"
    );
    assert!(
        ran.stderr.contains("unhandled-rejection.js:4"),
        "the charm's frame: {ran:?}"
    );
    let ran = run_fixture("late-handler.js", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.state()["caught"], "handled soon");
}

#[test]
fn binary_request_bodies_arrive_byte_for_byte() {
    let server = TestServer::start(vec![(
        "/upload",
        Box::new(|_| Reply::ok("text/plain", "ok")),
    )]);
    let ran = run_fixture(
        "binary-body.js",
        &[
            "--allow-host",
            &server.host_port(),
            "--input",
            &input(json!({ "url": server.url("/upload") })),
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        ran.state(),
        json!({ "statuses": [200, 200, 200], "getWithBody": "TypeError" })
    );
    let bodies: Vec<Vec<u8>> = server.requests().into_iter().map(|r| r.body).collect();
    assert_eq!(bodies, vec![vec![0xff, 0x00, 0x80, 0x41]; 3]);
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn each_redirect_mode_behaves_and_followed_hops_are_checked() {
    let target = TestServer::start(vec![(
        "/final",
        Box::new(|_| Reply::ok("text/plain", "here")),
    )]);
    let final_url = target.url("/final");
    let redirecting =
        TestServer::start(vec![("/r", Box::new(move |_| Reply::redirect(&final_url)))]);
    let args = |allow_target: bool| {
        let mut args = vec!["--allow-host".to_string(), redirecting.host_port()];
        if allow_target {
            args.extend(["--allow-host".to_string(), target.host_port()]);
        }
        args.extend([
            "--input".to_string(),
            input(json!({ "url": redirecting.url("/r") })),
        ]);
        args
    };

    let with_target = args(true);
    let ran = run_fixture("redirects.js", &strs(&with_target));
    assert_eq!(ran.code, 0, "{ran:?}");
    let out = ran.state();
    assert_eq!(out["follow"]["status"], 200);
    assert_eq!(out["follow"]["redirected"], true);
    assert_eq!(out["follow"]["url"], target.url("/final"));
    assert_eq!(out["manual"]["status"], 302);
    assert_eq!(out["manual"]["location"], target.url("/final"));
    assert_eq!(out["manual"]["redirected"], false);
    assert!(
        out["error"]["error"]
            .as_str()
            .unwrap()
            .starts_with("TypeError: "),
        "{out}"
    );
    assert_eq!(target.requests().len(), 1, "only follow reached the target");

    // Without the target on the list, following is refused on the hop;
    // manual still returns the redirect itself.
    let without_target = args(false);
    let ran = run_fixture("redirects.js", &strs(&without_target));
    let out = ran.state();
    assert!(
        out["follow"]["error"].as_str().unwrap().contains("denied"),
        "{out}"
    );
    assert_eq!(out["manual"]["status"], 302);
    assert_eq!(target.requests().len(), 1);
}

#[test]
fn set_cookie_values_stay_apart_and_headers_follow_the_standard() {
    let server = TestServer::start(vec![(
        "/cookies",
        Box::new(|_| Reply {
            status: 200,
            headers: vec![
                (
                    "Set-Cookie".into(),
                    "a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT".into(),
                ),
                ("X-Zed".into(), "z".into()),
                ("Set-Cookie".into(), "b=2; Path=/".into()),
            ],
            body: b"ok".to_vec(),
        }),
    )]);
    let ran = run_fixture(
        "cookies.js",
        &[
            "--allow-host",
            &server.host_port(),
            "--input",
            &input(json!({ "url": server.url("/cookies") })),
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let out = ran.state();
    assert_eq!(
        out["cookies"],
        json!(["a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT", "b=2; Path=/"])
    );
    let names: Vec<&str> = out["names"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "sorted, lower case");
    assert_eq!(names.iter().filter(|n| **n == "set-cookie").count(), 2);
    assert!(names.contains(&"x-zed"));
    assert_eq!(out["trimmed"], "spaced");
    assert_eq!(out["invalid"], "TypeError");
    assert_eq!(out["immutable"], "TypeError");
}

#[test]
fn deep_data_is_a_range_error_the_charm_catches() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let server = TestServer::start(vec![(
        "/deep.json",
        Box::new(move |_| Reply::ok("application/json", deep.clone())),
    )]);
    let ran = run_fixture(
        "deep-json.js",
        &[
            "--allow-host",
            &server.host_port(),
            "--input",
            &input(json!({ "url": server.url("/deep.json") })),
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let out = ran.state();
    assert!(
        out["json"]
            .as_str()
            .unwrap()
            .starts_with("RangeError: JSON.parse: the text is nested deeper"),
        "{out}"
    );
    assert_eq!(out["string"], "RangeError");
    assert_eq!(
        out["recursion"],
        "RangeError: Maximum call stack size exceeded"
    );
}

#[test]
fn request_and_response_follow_the_fetch_standard() {
    let ran = run_fixture("web-fetch-api.js", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        ran.state(),
        json!({
            "method": "POST",
            "url": "https://example.com/a?b=1",
            "body": { "x": 1 },
            "copyBody": "{\"x\":1}",
            "used": [true, true],
            "res": [201, true, "default", "text/plain;charset=UTF-8", "héllo"],
            "bytes": [104, 195, 169, 108, 108, 111],
            "json": ["application/json", { "ok": true }],
            "redirect": [307, "https://example.com/next"],
            "error": ["error", 0],
            "badStatus": "RangeError"
        })
    );
}

#[test]
fn stack_traces_show_the_charms_frames_not_the_runtimes() {
    let ran = run_fixture("thrower.js", &[]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(!ran.stderr.contains("charm-host:prelude"), "{ran:?}");
    assert!(!ran.stderr.contains("eval_script"), "{ran:?}");
    let ran = run_fixture("unhandled-rejection.js", &[]);
    assert!(!ran.stderr.contains("charm-host:prelude"), "{ran:?}");
}
