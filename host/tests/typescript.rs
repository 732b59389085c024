//! TypeScript charms (issue 14): `.ts` sources run with their types
//! stripped, and every position an author sees is the TypeScript's.
//! The real binary, the real daemon; positions are checked against the
//! fixtures' own text, not written down twice.

mod support;

use serde_json::json;
use support::{charm_host, fixture, run_fixture, warm_cache, Daemon, Ran};

/// The 1-based (line, column) where `needle` first occurs in a fixture.
fn position_in(fixture_name: &str, needle: &str) -> (usize, usize) {
    let text = std::fs::read_to_string(fixture(fixture_name)).expect("read the fixture");
    text.lines()
        .enumerate()
        .find_map(|(i, line)| line.find(needle).map(|col| (i + 1, col + 1)))
        .unwrap_or_else(|| panic!("`{needle}` is not in {fixture_name}"))
}

/// Writes `source` to a fresh file named `name` and runs it.
fn run_source(name: &str, source: &str) -> Ran {
    warm_cache();
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("typescript");
    std::fs::create_dir_all(&dir).expect("make the folder");
    let file = dir.join(name);
    std::fs::write(&file, source).expect("write the charm");
    charm_host()
        .arg("run")
        .arg(&file)
        .output()
        .expect("run the binary")
        .into()
}

#[test]
fn typescript_features_strip_and_run() {
    let ran = run_fixture("ts-features.ts", &["--state", r#"{"count": 2}"#]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        ran.state(),
        json!({
            "count": 9,
            "titles": ["a"],
            "level": 2,
            "named": "named",
            "reverse": "Low",
            "kind": "counter",
            "same": "x",
            "typeofDeclared": "gone",
        }),
        "interfaces, generics, satisfies, as, !, type-only imports, overloads, \
         classes with typed fields and an enum: {ran:?}"
    );
}

#[test]
fn a_charm_typed_with_the_declarations_runs() {
    let ran = run_fixture("ts-typed.ts", &["--input", r#"{"hello": 1}"#]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let state = ran.state();
    assert_eq!(state["runs"], 1, "{state}");
    assert_eq!(state["events"], 1, "{state}");
    assert_eq!(state["integration"], "typed", "{state}");
}

#[test]
fn a_typescript_syntax_error_names_the_ts_file_line_and_column() {
    let ran = run_fixture("ts-syntax-error.ts", &[]);
    assert_eq!(ran.code, 3, "{ran:?}");
    let (line, column) = position_in("ts-syntax-error.ts", "= n + 1");
    assert!(
        ran.stderr
            .contains(&format!("ts-syntax-error.ts:{line}:{column}: SyntaxError")),
        "{ran:?}"
    );
    assert!(!ran.stderr.contains("panicked"), "{ran:?}");
}

#[test]
fn a_runtime_error_and_a_logged_stack_point_at_the_ts_line_and_column() {
    let ran = run_fixture("ts-thrower.ts", &[]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr
            .contains("TypeError: cannot read property 'text' of undefined"),
        "{ran:?}"
    );
    // Types stand before both calls on their lines: stripped to spaces,
    // they move no column.
    let (line, column) = position_in("ts-thrower.ts", "parse({} as Entry)");
    // The error's stack comes last, after the logged one.
    let frame = ran
        .stderr
        .lines()
        .rfind(|l| l.contains("at bgUpdater ("))
        .unwrap_or_else(|| panic!("no bgUpdater frame: {ran:?}"));
    assert!(
        frame.ends_with(&format!("ts-thrower.ts:{line}:{column})")),
        "the failing call is at {line}:{column}: {ran:?}"
    );
    // QuickJS places the innermost frame at its function's first line, as
    // for JavaScript (see run_command.rs).
    let (line, _) = position_in("ts-thrower.ts", "function parse(");
    assert!(
        ran.stderr.contains(&format!("ts-thrower.ts:{line}:1)")),
        "{ran:?}"
    );
    let (line, column) = position_in("ts-thrower.ts", "Error(\"logged here\")");
    assert!(
        ran.stderr
            .contains(&format!("ts-thrower.ts:{line}:{column})")),
        "the logged stack at {line}:{column}: {ran:?}"
    );
}

#[test]
fn code_that_would_move_is_refused_with_its_place_and_why() {
    for (name, source, place, why) in [
        (
            "namespace.ts",
            "// a namespace\nnamespace Feeds { export const n = 1; }\nexport function bgUpdater() {}\n",
            "namespace.ts:2:1:",
            "namespace is not supported",
        ),
        (
            "param-prop.ts",
            "class A {\n  constructor(private readonly n: number) {}\n}\nexport function bgUpdater() {}\n",
            "param-prop.ts:2:32:",
            "parameter property is not supported",
        ),
    ] {
        let ran = run_source(name, source);
        assert_eq!(ran.code, 3, "{ran:?}");
        assert!(ran.stderr.contains(place), "{place}: {ran:?}");
        assert!(ran.stderr.contains(why), "{why}: {ran:?}");
        assert!(
            ran.stderr.contains("without moving code"),
            "says why: {ran:?}"
        );
    }
}

#[test]
fn lines_after_an_enum_keep_their_numbers() {
    let source = "enum Kind {\n  A,\n  B = 5,\n}\nconst boom = (x: any) => x.boom;\n\
                  export function bgUpdater() {\n  return Kind.B + boom(null);\n}\n";
    let ran = run_source("after-enum.ts", source);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr.contains("at bgUpdater (") && ran.stderr.contains("after-enum.ts:7:"),
        "the call on line 7: {ran:?}"
    );
}

#[test]
fn deep_nesting_is_a_compile_error_not_a_crash() {
    let n = 100_000;
    for (name, source, says) in [
        (
            "parens.ts",
            format!("export const x = {}1{};\n", "(".repeat(n), ")".repeat(n)),
            "brackets nest deeper than 1000 levels",
        ),
        (
            "generics.ts",
            format!(
                "export const x: {}number{} = [];\n",
                "Array<".repeat(n),
                ">".repeat(n)
            ),
            "brackets nest deeper than 1000 levels",
        ),
        (
            "arrows.ts",
            format!("export const x = {}1;\n", "a => ".repeat(n)),
            "nests too deeply",
        ),
    ] {
        let source = format!("{source}export function bgUpdater() {{}}\n");
        let ran = run_source(name, &source);
        assert_eq!(ran.code, 3, "{name}: {ran:?}");
        assert!(ran.stderr.contains(says), "{name}: {ran:?}");
        assert!(ran.stderr.contains(name), "names the file: {ran:?}");
    }
}

#[test]
fn the_daemon_compiles_typescript_and_survives_hostile_sources() {
    let d = Daemon::start(&[]);
    // Through the API: the name decides the language.
    let id = d.register("ts-features.ts", json!({ "state": { "count": 0 } }));
    let run = d.run_now(&id, serde_json::Value::Null);
    assert_eq!(run["outcome"], "ok", "{run}");
    assert_eq!(d.state(&id)["state"]["count"], 7);
    let (status, source) = d.get(&format!("/api/charms/{id}/source"));
    assert_eq!(status, 200);
    assert!(
        source["source"]
            .as_str()
            .is_some_and(|s| s.contains("interface State")),
        "the TypeScript is what is stored: {source}"
    );

    // A runtime error's stack points at the TypeScript.
    let id = d.register("ts-thrower.ts", json!({}));
    let run = d.run_now(&id, serde_json::Value::Null);
    assert_eq!(run["outcome"], "error", "{run}");
    let (line, column) = position_in("ts-thrower.ts", "parse({} as Entry)");
    assert!(
        run["error"]
            .as_str()
            .is_some_and(|e| e.contains(&format!("ts-thrower.ts:{line}:{column})"))),
        "{run}"
    );

    // A syntax error is a 400 with the TypeScript's line and column.
    let source = std::fs::read_to_string(fixture("ts-syntax-error.ts")).expect("read");
    let (status, reply) = d.post(
        "/api/charms",
        &json!({ "source": source, "name": "feed.ts" }),
    );
    assert_eq!(status, 400, "{reply}");
    let (line, column) = position_in("ts-syntax-error.ts", "= n + 1");
    assert_eq!(
        (reply["line"].clone(), reply["column"].clone()),
        (json!(line), json!(column)),
        "{reply}"
    );
    assert!(
        reply["error"]
            .as_str()
            .is_some_and(|e| e.starts_with(&format!("feed.ts:{line}:{column}: SyntaxError"))),
        "{reply}"
    );
    // The same source named .js is JavaScript, and QuickJS refuses it.
    let (status, reply) = d.post(
        "/api/charms",
        &json!({ "source": source, "name": "feed.js" }),
    );
    assert_eq!(status, 400, "{reply}");

    // Hostile nesting: compile errors, and the daemon stays up.
    let n = 100_000;
    for source in [
        format!("export const x = {}1{};\n", "(".repeat(n), ")".repeat(n)),
        format!("export const x = {}1;\n", "a => ".repeat(n)),
        format!("export const x = {}1;\n", "a ? b : ".repeat(n)),
        format!("export const x = a{};\n", ".b".repeat(n)),
    ] {
        let (status, reply) = d.post(
            "/api/charms",
            &json!({ "source": source, "name": "deep.ts" }),
        );
        assert_eq!(status, 400, "{reply}");
        assert_eq!(reply["code"], "compile_error", "{reply}");
        assert_eq!(d.get("/healthz").0, 200, "the daemon is up");
    }

    // And through the CLI.
    let ran = d.cli(&["add", fixture("ts-typed.ts").to_str().expect("utf-8 path")]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(!d.log_text().contains("panicked"));
}

#[test]
fn charm_host_types_prints_declarations_that_parse() {
    let out = charm_host().arg("types").output().expect("run the binary");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.starts_with("// charm-host.d.ts"), "{text}");
    for name in [
        "CharmContext",
        "CharmUpdater",
        "CharmEvent",
        "scheduleNext",
        "webworker",
    ] {
        assert!(text.contains(name), "{name} is declared");
    }
    let stripped =
        charm_typescript::strip("charm-host.d.ts", &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stripped.lines().count(), text.lines().count());
}
