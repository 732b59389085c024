//! Console, JSON.stringify, performance, the small globals, events and
//! messaging, through the real binary: what a charm author sees printed,
//! what the standards' examples give, and what deep values cost.

mod support;

use serde_json::{json, Value};
use support::{run_fixture, Ran};

fn input(value: Value) -> String {
    value.to_string()
}

/// The console lines a run printed (stderr, without the `stats:` line).
fn console_lines(ran: &Ran) -> Vec<&str> {
    ran.stderr
        .lines()
        .filter(|l| !l.starts_with("stats: "))
        .collect()
}

/// Checks `lines` against `expected`, in order: an expected line is equal,
/// or, written `"…suffix"`, ends with the suffix (stack frames, whose paths
/// vary).
fn assert_lines(lines: &[&str], expected: &[&str]) {
    for (i, want) in expected.iter().enumerate() {
        let got = lines.get(i).copied().unwrap_or("<missing>");
        let ok = match want.strip_prefix('…') {
            Some(suffix) => got.ends_with(suffix),
            None => got == *want,
        };
        assert!(
            ok,
            "line {i}: got\n{got}\nexpected\n{want}\nall lines:\n{}",
            lines.join("\n")
        );
    }
    assert_eq!(lines.len(), expected.len(), "{}", lines.join("\n"));
}

#[test]
fn console_shows_values_as_a_person_needs_them() {
    let ran = run_fixture("web-console.js", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let lines = console_lines(&ran);
    let long = format!("  '{}'... 5 more characters", "x".repeat(10000));
    let numbers = [
        "[",
        "   0,  1,  2,  3,  4,  5,  6,  7,",
        "   8,  9, 10, 11, 12, 13, 14, 15,",
        "  16, 17, 18, 19, 20, 21, 22, 23,",
        "  24, 25, 26, 27, 28, 29, 30, 31,",
        "  32, 33, 34, 35, 36, 37, 38, 39,",
        "  40, 41, 42, 43, 44, 45, 46, 47,",
        "  48, 49, 50, 51, 52, 53, 54, 55,",
        "  56, 57, 58, 59, 60, 61, 62, 63,",
        "  64, 65, 66, 67, 68, 69, 70, 71,",
        "  72, 73, 74, 75, 76, 77, 78, 79,",
        "  80, 81, 82, 83, 84, 85, 86, 87,",
        "  88, 89, 90, 91, 92, 93, 94, 95,",
        "  96, 97, 98, 99,",
        "  ... 50 more items",
        "]",
    ];
    let mut expected = vec![
        // The standard's format specifiers; the extra argument follows.
        "Ann is 42 years and 12.5% done [ 1 ] extra",
        " styled %x %",
        // An error nested in an object keeps its message and stack.
        "{",
        "  err: TypeError: bad input",
        "…web-console.js:16:26)",
        "}",
        "<ref *1> { name: 'a', self: [Circular *1] }",
        "Map(1) { 'k' => { v: 1 } } Set(2) { 1, 2 }",
        "Uint8Array(3) [ 1, 2, 3 ] 1970-01-01T00:00:00.000Z /x+/gi Point { x: 1, y: 2 }",
        // Neither the getter nor toJSON ran.
        "{ boom: [Getter], toJSON: [Function: toJSON] }",
        "{ a: { b: { c: { d: { e: [Object] } } } } }",
        "{ a: [Object] }",
    ];
    expected.extend(numbers);
    expected.extend(["[", &long, "]"]);
    expected.extend([
        "outer",
        "  inside",
        "  second",
        "outside",
        "default: 1",
        "default: 2",
        "x: 1",
        "default: 1",
        "warn: Count for 'never' does not exist",
        "error: Assertion failed: thing failed",
        "┌─────────┬───┬───┐",
        "│ (index) │ a │ b │",
        "├─────────┼───┼───┤",
        "│ 0       │ 1 │ x │",
        "│ 1       │ 2 │   │",
        "└─────────┴───┴───┘",
        "warn: Timer 'nope' does not exist",
        "Trace: here 5",
        "…web-console.js:48:11)",
        // 20,000 levels, shown to the default depth.
        "[ [ [ [ [ [Array] ] ] ] ] ]",
        "Error: outer",
        "…web-console.js:52:47) {",
        "  [cause]: RangeError: inner",
        "…web-console.js:52:47)",
        "}",
        "Promise { 3 } Promise { <pending> }",
        "{ a: 1 }",
        "[Number: 3] [String: 's'] [BigInt: 1n]",
        "[Object: null prototype] {} [Object: null prototype] { k: 1 }",
        "[Function: foo] [class Bar] [Function (anonymous)] [AsyncFunction: baz]",
        "[ Symbol(s), -0, 1n, undefined, null ]",
        r#"[ "it's", 'say "hi"', 'tab\there' ]"#,
        "[ 1, <2 empty items>, 4 ]",
        "NaN Symbol(r)",
        "{",
        "  long: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',",
        "  other: 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'",
        "}",
        "debug: quiet",
        "info",
        "warn: careful",
        "error: broken 42",
        "lone \u{fffd} surrogate",
        // The runtime's own classes show their attributes (their state is
        // in private fields).
        "Response {",
        "  status: 201,",
        "  statusText: '',",
        "  url: '',",
        "  type: 'default',",
        "  redirected: false,",
        "  headers: Headers { 'content-type': 'application/json', 'x-id': '7' },",
        "  bodyUsed: false",
        "}",
        "[ CustomEvent { type: 'ping', defaultPrevented: false, detail: 1 } ]",
    ]);
    assert_lines(&lines, &expected);
    assert!(
        !ran.stderr.contains("charm-host:prelude"),
        "the runtime's frames are left out: {ran:?}"
    );
}

#[test]
fn json_stringify_gives_quickjs_results_on_a_wide_set_of_values() {
    // The expected file is the fixture's output under QuickJS's own
    // JSON.stringify (the runtime before this one replaced it).
    let quickjs: Value = serde_json::from_str(include_str!("data/json-stringify-quickjs.json"))
        .expect("the expected results parse");
    let ran = run_fixture("json-stringify.js", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let ours = ran.state();
    let (want, got) = (&quickjs["results"], &ours["results"]);
    let names = want.as_object().expect("results by case");
    assert_eq!(names.len(), 100);
    for (name, expected) in names {
        assert_eq!(&got[name], expected, "case {name}");
    }
    assert_eq!(got.as_object().map(|o| o.len()), Some(100));
    assert_eq!(
        (&ours["length"], &ours["name"]),
        (&json!(3), &json!("stringify"))
    );
}

/// The fuel of `deep-stringify.js` for one depth and operation.
fn deep_fuel(depth: u64, op: &str) -> u64 {
    let ran = run_fixture(
        "deep-stringify.js",
        &[
            "--stats",
            "--input",
            &input(json!({ "depth": depth, "op": op })),
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    ran.fuel()
}

#[test]
fn deep_values_cost_linear_fuel_in_json_stringify_and_console_log() {
    let build = [deep_fuel(10_000, "none"), deep_fuel(20_000, "none")];
    let stringify = [
        deep_fuel(10_000, "stringify") - build[0],
        deep_fuel(20_000, "stringify") - build[1],
    ];
    let log = [
        deep_fuel(10_000, "log") - build[0],
        deep_fuel(20_000, "log") - build[1],
    ];
    // Twice as deep costs about twice as much (QuickJS's own cost four
    // times as much: 3.65 G fuel for 10,000 levels, 14.5 G for 20,000).
    assert!(
        stringify[1] < stringify[0] * 5 / 2,
        "stringify: {stringify:?}"
    );
    assert!(stringify[1] < 200_000_000, "stringify: {stringify:?}");
    // console.log stops at the depth limit: the same small cost at any depth.
    assert!(
        log[1] < 5_000_000 && log[1] < log[0] + 1_000_000,
        "log: {log:?}"
    );
}

#[test]
fn events_and_the_global_objects_error_events_follow_html() {
    let ran = run_fixture("web-events.js", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let out = ran.state();
    assert_eq!(
        out["custom"],
        json!([[1], true, "q", true, "later", "[object CustomEvent]"])
    );
    // Each escaped exception fired `error` at the global object, in the
    // order it happened; cancelled, none failed the run.
    assert_eq!(
        out["errors"],
        json!([
            [
                "ErrorEvent",
                "Uncaught SyntaxError: from a listener",
                "from a listener",
                true,
                true
            ],
            [
                "ErrorEvent",
                "Uncaught EvalError: reported",
                "reported",
                true,
                true
            ],
            [
                "ErrorEvent",
                "Uncaught RangeError: from a microtask",
                "from a microtask",
                true,
                true
            ],
            [
                "ErrorEvent",
                "Uncaught TypeError: from a timer",
                "from a timer",
                true,
                true
            ]
        ])
    );
    assert_eq!(
        out["onerror"],
        json!([
            "Uncaught Error: via onerror",
            "string",
            "number",
            "number",
            "via onerror"
        ])
    );
    assert_eq!(
        out["rejections"],
        json!([["unhandled", "late", true, true], ["handled", "late"]])
    );
    assert_eq!(
        out["navigator"],
        json!(["charm-host/0.1.0", "[object Navigator]", true])
    );
    assert_eq!(out["weak"], json!(["function", "function", true]));
}

#[test]
fn message_ports_deliver_each_message_as_a_task_once_started() {
    let ran = run_fixture("web-events.js", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let out = ran.state();
    assert_eq!(
        out["messages"],
        json!([
            "sent",
            "not started",
            "started",
            ["first", "MessageEvent", true, 0],
            [2, "MessageEvent", true, 0]
        ])
    );
    assert_eq!(
        out["transfer"],
        json!(["through the moved port", true, "here is a port"])
    );
    assert_eq!(out["selfTransfer"], "DataCloneError");
    assert_eq!(out["closed"], json!(["before"]));
    // Objects travel as structured clones (34_clone.js's structuredClone).
    assert_eq!(out["objectMessage"], json!([true, true, true, true]));
    // A message to a port nobody started is not outstanding work.
    let ran = run_fixture(
        "web-events.js",
        &["--input", &input(json!({ "mode": "unstarted" }))],
    );
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr.contains("bgUpdater's promise never settled"),
        "{ran:?}"
    );
}

#[test]
fn an_error_no_listener_cancels_fails_the_run() {
    let ran = run_fixture(
        "web-events.js",
        &["--input", &input(json!({ "mode": "report" }))],
    );
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.contains("TypeError: nobody listens"), "{ran:?}");
    let ran = run_fixture(
        "web-events.js",
        &["--input", &input(json!({ "mode": "listener-throws" }))],
    );
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr.contains("RangeError: the listener broke"),
        "{ran:?}"
    );
}

#[test]
fn performance_marks_measures_and_the_clock_follow_the_standards() {
    let ran = run_fixture("web-performance.js", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        ran.state(),
        json!({
            "clock": [true, true, true],
            "origin": true,
            "originStable": true,
            "measure": ["measure", true, true],
            "fromA": 2,
            "fixed": [1, 3, null],
            "early": [0.5, null],
            "markDetail": "first",
            "order": ["early", "fixed", "a", "a to b", "from a", "b"],
            "types": ["fixed", "a to b", "from a"],
            "json": { "name": "fixed", "entryType": "measure", "startTime": 1, "duration": 3, "detail": null },
            "errors": {
                "unknownMark": "SyntaxError",
                "negative": "TypeError",
                "tooMuch": "TypeError",
                "constructor": "TypeError",
                "entry": "TypeError"
            },
            "afterClear": ["early", "b"],
            "markConstructor": 3
        })
    );
}

#[test]
fn logging_a_long_typed_array_costs_what_it_shows_not_its_length() {
    let log = |n: u64| {
        let ran = run_fixture(
            "console-long-array.js",
            &[
                "--stats",
                "--input",
                &input(json!({ "n": n, "kind": "typed" })),
            ],
        );
        assert_eq!(ran.code, 0, "{ran:?}");
        ran
    };
    let (short, long) = (log(1_000), log(1_000_000));
    assert!(
        long.stderr
            .contains("Uint8Array(1000000) [\n  0, 0, 0, 0, 0, 0, 0, 0, 0,"),
        "{long:?}"
    );
    assert!(long.stderr.contains("... 999900 more items"), "{long:?}");
    // Both show 100 entries; listing every key of the long one cost 1.3 G
    // fuel (and a million elements' keys in memory).
    let (a, b) = (short.fuel(), long.fuel());
    assert!(
        b < a * 3,
        "a million elements cost {b} fuel, a thousand {a}"
    );
}
