//! The playground through the real daemon (issue #14): a tryout runs in
//! the sandbox with the charm's allow-list and limits, reports the state it
//! would leave (diffed), the log, the error with its position and the cost,
//! and stores nothing.

mod support;

use serde_json::{json, Value};
use support::Daemon;

fn try_out(d: &Daemon, id: &str, body: Value) -> (u16, Value) {
    d.post(&format!("/api/charms/{id}/try"), &body)
}

#[test]
fn a_tryout_reports_what_a_run_would_do_and_stores_nothing() {
    let server = support::TestServer::start(vec![(
        "/feed",
        Box::new(|_| support::Reply::ok("application/json", r#"{"items": 3}"#)),
    )]);
    let d = Daemon::start(&[]);
    // On a yearly cron, not an interval: an interval charm's first run
    // comes within 10 s, and a loaded machine can take that long here.
    let id = d.register(
        "counter.js",
        json!({ "schedule": { "cron": "0 0 1 1 *", "tz": "UTC" }, "state": { "count": 5 }, "allowed_hosts": [server.host_port()] }),
    );

    // As it is: the counter would count.
    let (status, report) = try_out(&d, &id, json!({}));
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["outcome"], "ok");
    assert_eq!(report["state"], json!({ "count": 6 }));
    assert_eq!(
        report["patch"],
        json!([{ "op": "replace", "path": "/count", "value": 6 }])
    );
    assert!(
        report["log"].as_str().unwrap().contains("count 6"),
        "{report}"
    );
    assert!(report["fuel"].as_u64().unwrap() > 0 && report["duration_ms"].is_u64());

    // An edited source, state and input; its fetch goes through the charm's
    // allow-list.
    let source = format!(
        "export async function bgUpdater(state, ctx) {{\n\
           const res = await fetch('{}');\n\
           const {{ items }} = await res.json();\n\
           return {{ count: state.count + items, from: ctx.input.who }};\n\
         }}",
        server.url("/feed")
    );
    let (status, report) = try_out(
        &d,
        &id,
        json!({ "source": source, "state": { "count": 100 }, "input": { "who": "me" } }),
    );
    assert_eq!(
        (status, &report["outcome"]),
        (200, &json!("ok")),
        "{report}"
    );
    assert_eq!(report["state"], json!({ "count": 103, "from": "me" }));
    assert_eq!(server.requests().len(), 1);

    // A failing source: the error, its stack, and where it is (QuickJS
    // places the frame that threw at its function's first line).
    let thrower = "// parses\nfunction parse(entry) {\n  return entry.title.trim();\n}\nexport function bgUpdater(state) {\n  return { n: parse({}) };\n}";
    let (status, report) = try_out(&d, &id, json!({ "source": thrower }));
    assert_eq!(
        (status, &report["outcome"]),
        (200, &json!("error")),
        "{report}"
    );
    let error = report["error"].as_str().unwrap();
    assert!(
        error.contains("TypeError") && error.contains("at bgUpdater (counter.js:6:"),
        "{report}"
    );
    assert_eq!(
        report["position"],
        json!({ "line": 2, "column": 1 }),
        "{report}"
    );
    assert_eq!(
        report["state"],
        json!({ "count": 5 }),
        "a failure leaves the state"
    );
    assert_eq!(report["patch"], json!([]));

    // A fetch outside the allow-list is denied, as in a run.
    let denied =
        "export async function bgUpdater() { await fetch('https://example.com/'); return {}; }";
    let (_, report) = try_out(&d, &id, json!({ "source": denied }));
    assert_eq!(report["outcome"], "denied", "{report}");

    // A syntax error is a 400 with line and column, as at registration.
    let (status, report) = try_out(&d, &id, json!({ "source": "export function bgUpdater( {" }));
    assert_eq!(
        (status, report["code"].as_str()),
        (400, Some("compile_error")),
        "{report}"
    );
    assert_eq!(report["line"], 1, "{report}");

    // Nothing was stored: the state, its version and the runs are as before.
    let state = d.state(&id);
    assert_eq!(
        (state["state"].clone(), state["version"].as_i64()),
        (json!({ "count": 5 }), Some(0))
    );
    let (_, runs) = d.get(&format!("/api/charms/{id}/runs"));
    assert_eq!(runs["runs"], json!([]), "a tryout is not a run");
    let (_, source_now) = d.get(&format!("/api/charms/{id}/source"));
    assert!(
        source_now["source"].as_str().unwrap().contains("count"),
        "the source is unchanged"
    );

    // Malformed requests are 4xx; another space cannot try this charm.
    let (status, _) = try_out(&d, &id, json!({ "sauce": "x" }));
    assert_eq!(status, 400);
    let (status, made) = d.post("/api/tokens", &json!({ "space": "other", "name": "o" }));
    assert_eq!(status, 201);
    let bearer = format!("Bearer {}", made["token"].as_str().unwrap());
    let answer = support::http_answer(
        &d.addr,
        "POST",
        &format!("/api/charms/{id}/try"),
        &[
            ("authorization", &bearer),
            ("content-type", "application/json"),
        ],
        Some(b"{}"),
    );
    assert_eq!(answer.status, 404);
}

#[test]
fn tryouts_take_turns_per_space_and_deep_states_are_answered() {
    let d = Daemon::start(&[]);
    let id = d.register(
        "counter.js",
        json!({ "interval_s": 3600, "limits": { "timeout_ms": 3000, "fuel": 1_000_000_000_000u64 } }),
    );
    // One tryout of a space at a time: a second one while the first spins
    // is refused with 409 and says why.
    let spin = || {
        let (addr, token, id) = (d.addr.clone(), d.token.clone().unwrap(), id.clone());
        std::thread::spawn(move || {
            let bearer = format!("Bearer {token}");
            support::http_answer(
                &addr,
                "POST",
                &format!("/api/charms/{id}/try"),
                &[
                    ("authorization", &bearer),
                    ("content-type", "application/json"),
                ],
                Some(br#"{"source": "export function bgUpdater() { for (;;) {} }"}"#),
            )
        })
    };
    let mut spinner = spin();
    let refused = support::wait_for("the second tryout to be refused", 60, || {
        if spinner.is_finished() {
            // It came while one of the tryouts below held the space's
            // turn, and was refused itself (or it ran out before one
            // came): it spins again.
            spinner = spin();
            return None;
        }
        let (status, answer) = try_out(&d, &id, json!({}));
        (status == 409).then_some(answer)
    });
    assert!(
        refused["error"].as_str().unwrap().contains("is running"),
        "{refused}"
    );
    let first = spinner.join().unwrap();
    assert_eq!(first.body["outcome"], "timeout", "{}", first.body);
    let (status, _) = try_out(&d, &id, json!({}));
    assert_eq!(status, 200, "its turn came back");

    // A state nested deeper than a diff reads is still answered.
    let deep = "export function bgUpdater(s) { let d = []; for (let i = 0; i < 300; i++) d = [d]; return { d, n: (s.n || 0) + 1 }; }";
    let (status, report) = try_out(&d, &id, json!({ "source": deep }));
    // Too deep for this test's JSON reader too: the answer comes back as text.
    let text = report.as_str().unwrap_or_default();
    assert_eq!(status, 200, "{report}");
    assert!(
        text.contains(r#""outcome":"ok""#) && text.contains(r#""patch":null"#),
        "{text}"
    );
    let (status, _) = d.patch(&format!("/api/charms/{id}"), &json!({ "source": deep }));
    assert_eq!(status, 200);
    assert_eq!(d.run_now(&id, json!(null))["outcome"], "ok");
    let (status, answer) = d.get(&format!("/api/charms/{id}/state/diff?from=0"));
    assert_eq!(
        (status, answer["code"].as_str()),
        (409, Some("conflict")),
        "{answer}"
    );
}
