//! `charm-host run` against every fixture charm, through the real binary.
//!
//! Exit codes: 0 success, 1 charm failed, 2 usage, 3 compile error, 4 limit.

mod support;

use serde_json::json;
use support::{run_fixture, Reply, TestServer};

const FEED_V1: &str = r#"<?xml version="1.0"?><rss><channel><title>t</title>
<item><title>First</title><link>https://news.example/1</link><guid>g1</guid></item>
<item><title><![CDATA[Second & more]]></title><link>https://news.example/2</link><guid>g2</guid></item>
</channel></rss>"#;

const FEED_V2: &str = r#"<?xml version="1.0"?><rss><channel><title>t</title>
<item><title>Third</title><link>https://news.example/3</link><guid>g3</guid></item>
<item><title>First</title><link>https://news.example/1</link><guid>g1</guid></item>
<item><title><![CDATA[Second & more]]></title><link>https://news.example/2</link><guid>g2</guid></item>
</channel></rss>"#;

#[test]
fn counter_increments_its_state_and_logs() {
    let ran = run_fixture("counter.js", &["--state", r#"{"count": 41, "keep": "me"}"#]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.state(), json!({"count": 42, "keep": "me"}));
    assert!(
        ran.stderr.contains("count 42"),
        "console output goes to stderr: {ran:?}"
    );
    assert_eq!(ran.stdout.lines().count(), 1, "one line of JSON on stdout");
}

#[test]
fn rss_keeps_new_items_deduplicated_across_runs() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let server = TestServer::start(vec![(
        "/feed.xml",
        Box::new(move |_| {
            let feed = if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                FEED_V1
            } else {
                FEED_V2
            };
            Reply::ok("application/rss+xml", feed)
        }),
    )]);
    let input = json!({ "feedUrl": server.url("/feed.xml") }).to_string();
    let allow = server.host_port();

    let first = run_fixture("rss.js", &["--input", &input, "--allow-host", &allow]);
    assert_eq!(first.code, 0, "{first:?}");
    let state = first.state();
    let titles: Vec<&str> = state["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["First", "Second & more"]);

    let second = run_fixture(
        "rss.js",
        &[
            "--state",
            &state.to_string(),
            "--input",
            &input,
            "--allow-host",
            &allow,
        ],
    );
    assert_eq!(second.code, 0, "{second:?}");
    let state = second.state();
    let ids: Vec<&str> = state["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["g3", "g1", "g2"], "the new item first, no duplicates");
    assert!(
        second.stderr.contains("3 items in the feed, 1 new"),
        "{second:?}"
    );

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].headers.get("accept").map(String::as_str),
        Some("application/rss+xml")
    );
}

#[test]
fn loopback_without_an_allow_entry_is_denied_before_any_connection() {
    let server = TestServer::start(vec![(
        "/feed.xml",
        Box::new(|_| Reply::ok("text/xml", FEED_V1)),
    )]);
    let input = json!({ "feedUrl": server.url("/feed.xml") }).to_string();
    let ran = run_fixture("rss.js", &["--input", &input]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr.contains("fetch to `127.0.0.1` denied"),
        "{ran:?}"
    );
    assert!(
        ran.stdout.is_empty(),
        "a failed run prints no state: {ran:?}"
    );
    assert_eq!(
        server.requests().len(),
        0,
        "the server must never be reached"
    );
}

#[test]
fn a_host_not_on_the_list_is_denied_and_the_denial_is_catchable() {
    let ran = run_fixture("fetch-not-allowed.js", &[]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr
            .contains("TypeError: fetch to `example.com` denied"),
        "{ran:?}"
    );

    let caught = run_fixture("fetch-not-allowed.js", &["--input", r#"{"catch": true}"#]);
    assert_eq!(caught.code, 0, "{caught:?}");
    let message = caught.state()["caught"].as_str().unwrap().to_string();
    assert!(
        message.starts_with("TypeError: fetch to `example.com` denied"),
        "{message}"
    );
}

#[test]
fn the_metadata_address_is_denied() {
    let ran = run_fixture("fetch-metadata.js", &[]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr.contains("fetch to `169.254.169.254` denied"),
        "{ran:?}"
    );
    // Even a wildcard for another domain does not open it.
    let ran = run_fixture("fetch-metadata.js", &["--allow-host", "*.example.com"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr.contains("fetch to `169.254.169.254` denied"),
        "{ran:?}"
    );
}

#[test]
fn a_redirect_to_a_forbidden_host_is_denied_on_the_hop() {
    let forbidden = TestServer::start(vec![(
        "/secret",
        Box::new(|_| Reply::ok("text/plain", "secret")),
    )]);
    let target = forbidden.url("/secret");
    let allowed = TestServer::start(vec![
        (
            "/to-metadata",
            Box::new(|_| Reply::redirect("http://169.254.169.254/latest")),
        ),
        (
            "/to-other-port",
            Box::new(move |_| Reply::redirect(&target)),
        ),
    ]);
    for path in ["/to-metadata", "/to-other-port"] {
        let input = json!({ "url": allowed.url(path) }).to_string();
        let ran = run_fixture(
            "fetch-not-allowed.js",
            &["--input", &input, "--allow-host", &allowed.host_port()],
        );
        assert_eq!(ran.code, 1, "{path}: {ran:?}");
        assert!(ran.stderr.contains("denied"), "{path}: {ran:?}");
    }
    assert_eq!(allowed.requests().len(), 2);
    assert_eq!(
        forbidden.requests().len(),
        0,
        "the redirect target must never be reached"
    );
}

#[test]
fn request_headers_and_body_arrive_and_host_cannot_be_overridden() {
    let server = TestServer::start(vec![(
        "/echo",
        Box::new(|req| {
            let mut reply = Reply::ok("application/json", req.body.clone());
            reply.headers.push((
                "x-seen-host".into(),
                req.headers.get("host").cloned().unwrap_or_default(),
            ));
            reply
        }),
    )]);
    let input = json!({ "url": server.url("/echo") }).to_string();
    let ran = run_fixture(
        "fetch-headers.js",
        &["--input", &input, "--allow-host", &server.host_port()],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        ran.state(),
        json!({ "status": 200, "ok": true, "echoedHost": server.host_port(), "echoedBody": {"hello": "world"} })
    );
    let seen = &server.requests()[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.headers.get("x-charm").map(String::as_str), Some("yes"));
    assert_eq!(seen.headers.get("host"), Some(&server.host_port()));
}

#[test]
fn async_chains_settle_before_the_run_ends() {
    let ran = run_fixture("async-chain.js", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        ran.state(),
        json!({ "doubled": [2, 4, 6], "sum": 12, "settled": ["rejected", "fulfilled"] })
    );
}

#[test]
fn a_thrown_error_fails_the_run_with_message_and_stack() {
    let ran = run_fixture("thrower.js", &["--state", r#"{"untouched": true}"#]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.contains("TypeError"), "{ran:?}");
    assert!(
        ran.stderr
            .contains("cannot read property 'trim' of undefined"),
        "{ran:?}"
    );
    assert!(
        ran.stderr.contains("at parse ("),
        "the stack names the function: {ran:?}"
    );
    assert!(
        ran.stderr.contains("thrower.js:8:45)"),
        "the stack names file, line and column: {ran:?}"
    );
    assert!(
        ran.stdout.is_empty(),
        "a failed run prints no state: {ran:?}"
    );
}

#[test]
fn a_rejected_promise_with_a_plain_value_fails_the_run() {
    let ran = run_fixture("rejecter.js", &[]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.contains("uncaught upstream said no"), "{ran:?}");
}

#[test]
fn a_promise_that_never_settles_fails_instead_of_finishing_early() {
    let ran = run_fixture("never-settles.js", &[]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.contains("never settled"), "{ran:?}");
}

#[test]
fn a_value_json_cannot_represent_fails_the_run() {
    let ran = run_fixture("not-serialisable.js", &[]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.contains("not JSON-serialisable"), "{ran:?}");
}

#[test]
fn a_syntax_error_names_file_line_and_column() {
    let ran = run_fixture("syntax-error.js", &[]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(
        ran.stderr.contains("syntax-error.js:5:5: SyntaxError"),
        "{ran:?}"
    );
    assert!(!ran.stderr.contains("panicked"), "{ran:?}");
}

#[test]
fn a_module_without_bg_updater_is_a_compile_error() {
    let ran = run_fixture("no-bgupdater.js", &[]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(
        ran.stderr
            .contains("does not export a function named `bgUpdater`"),
        "{ran:?}"
    );
}

#[test]
fn fetch_at_module_top_level_is_refused_at_compile_time() {
    let ran = run_fixture("top-level-fetch.js", &[]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(
        ran.stderr
            .contains("fetch is only available while bgUpdater runs"),
        "{ran:?}"
    );
}

#[test]
fn an_infinite_loop_runs_out_of_fuel() {
    let ran = run_fixture("infinite-loop.js", &["--fuel", "100000000"]);
    assert_eq!(ran.code, 4, "{ran:?}");
    assert!(
        ran.stderr.contains("ran out of fuel (limit 100000000"),
        "{ran:?}"
    );
}

#[test]
fn an_infinite_loop_hits_the_wall_clock_when_fuel_is_plentiful() {
    let ran = run_fixture(
        "infinite-loop.js",
        &["--fuel", "1000000000000000", "--timeout-ms", "200"],
    );
    assert_eq!(ran.code, 4, "{ran:?}");
    assert!(
        ran.stderr.contains("exceeded the time limit (200 ms"),
        "{ran:?}"
    );
}

#[test]
fn a_memory_bomb_hits_the_memory_limit_and_cannot_catch_it() {
    let ran = run_fixture("memory-bomb.js", &["--memory-mb", "32"]);
    assert_eq!(ran.code, 4, "{ran:?}");
    assert!(
        ran.stderr.contains("exceeded the memory limit (32 MiB"),
        "{ran:?}"
    );
    assert!(!ran.stdout.contains("escaped"), "{ran:?}");
}

#[test]
fn a_giant_string_that_catches_every_error_still_ends_at_the_memory_limit() {
    let ran = run_fixture("limit-catcher.js", &["--memory-mb", "32"]);
    assert_eq!(ran.code, 4, "{ran:?}");
    assert!(
        ran.stderr.contains("exceeded the memory limit (32 MiB"),
        "{ran:?}"
    );
}

#[test]
fn thousands_of_fetches_stop_at_the_fetch_count_even_when_caught() {
    let server = TestServer::start(vec![("/", Box::new(|_| Reply::ok("text/plain", "hi")))]);
    let input = json!({ "url": server.url("/") }).to_string();
    let allow = server.host_port();
    let ran = run_fixture(
        "fetch-flood.js",
        &[
            "--input",
            &input,
            "--allow-host",
            &allow,
            "--max-fetches",
            "20",
        ],
    );
    assert_eq!(ran.code, 4, "{ran:?}");
    assert!(ran.stderr.contains("20"), "the limit is named: {ran:?}");
    assert!(ran.stdout.is_empty(), "{ran:?}");
    assert_eq!(
        server.requests().len(),
        20,
        "not one request past the limit"
    );
}

#[test]
fn deep_recursion_is_stopped_cleanly_and_ordinary_depths_work() {
    let ran = run_fixture("deep-recursion.js", &["--input", r#"{"depth": 5000}"#]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.state(), json!({ "depth": 5000 }));

    // Unbounded recursion is a RangeError, as in V8; uncaught, it fails
    // the run with the charm's own frames in the stack.
    let ran = run_fixture("deep-recursion.js", &[]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr
            .contains("RangeError: Maximum call stack size exceeded"),
        "{ran:?}"
    );
    assert!(
        ran.stderr.contains("at down (") && ran.stderr.contains("deep-recursion.js:5"),
        "{ran:?}"
    );
}

#[test]
fn a_huge_return_value_hits_the_output_limit() {
    let ran = run_fixture("huge-return.js", &[]);
    assert_eq!(ran.code, 4, "{ran:?}");
    assert!(
        ran.stderr.contains("over the output limit (1048576 bytes"),
        "{ran:?}"
    );
}

#[test]
fn log_flooding_hits_the_log_volume_limit() {
    let ran = run_fixture("log-flood.js", &["--max-log-bytes", "10000"]);
    assert_eq!(ran.code, 4, "{ran:?}");
    assert!(
        ran.stderr.contains("log volume limit (10000 bytes"),
        "{ran:?}"
    );
    let echoed = ran
        .stderr
        .lines()
        .filter(|l| l.starts_with("line "))
        .count();
    assert!(
        (50..=120).contains(&echoed),
        "only the budget's worth of lines is logged, got {echoed}"
    );
}

#[test]
fn bad_input_is_a_usage_error() {
    let cases: &[(&[&str], &str)] = &[
        (&["--state", "{not json"], "--state is not valid JSON"),
        (
            &["--input", "@/nonexistent/input.json"],
            "cannot read `/nonexistent/input.json`",
        ),
        (&["--allow-host", "*"], "allow-all is not supported"),
        (&["--memory-mb", "0"], "limit `memory_mb` must be between"),
        (&["--fuel", "lots"], "invalid value 'lots'"),
    ];
    for (args, needle) in cases {
        let ran = run_fixture("counter.js", args);
        assert_eq!(ran.code, 2, "{args:?}: {ran:?}");
        assert!(ran.stderr.contains(needle), "{args:?}: {ran:?}");
    }
    let ran = run_fixture("does-not-exist.js", &[]);
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("cannot read"), "{ran:?}");
}

#[test]
fn regression_a_closed_stdout_ends_quietly_instead_of_panicking() {
    support::warm_cache();
    let mut child = support::charm_host()
        .arg("run")
        .arg(support::fixture("counter.js"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end before the charm has even compiled.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
