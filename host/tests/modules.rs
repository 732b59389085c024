//! Charms of several files (issue 14): relative imports are put together
//! with the entry, each module keeps its name, line and column, and what
//! cannot be bundled (packages, cycles, missing files, paths outside the
//! folder) is a compile error that says why. The real binary and daemon.

mod support;

use std::path::{Path, PathBuf};

use serde_json::json;
use support::{charm_host, warm_cache, Daemon, Ran};

/// The fixture folder `host/tests/data/modules/NAME`.
fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/modules")
        .join(name)
}

/// A fresh folder holding `files` (path, source).
fn folder(test: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("modules")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    for (path, source) in files {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().expect("a parent")).expect("make the folder");
        std::fs::write(file, source).expect("write a module");
    }
    dir
}

fn run(entry: &Path, args: &[&str]) -> Ran {
    warm_cache();
    charm_host()
        .arg("run")
        .arg(entry)
        .args(args)
        .output()
        .expect("run the binary")
        .into()
}

/// The 1-based (line, column) where `needle` first occurs in `file`.
fn position_in(file: &Path, needle: &str) -> (usize, usize) {
    let text = std::fs::read_to_string(file).expect("read the module");
    text.lines()
        .enumerate()
        .find_map(|(i, line)| line.find(needle).map(|col| (i + 1, col + 1)))
        .unwrap_or_else(|| panic!("`{needle}` is not in {}", file.display()))
}

#[test]
fn a_javascript_entry_runs_with_its_relative_imports() {
    let ran = run(
        &fixture_dir("js").join("main.js"),
        &["--state", r#"{"count": 41}"#],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.state(), json!({"count": 42}), "{ran:?}");
}

#[test]
fn a_typescript_import_runs_and_its_error_names_its_file_line_and_column() {
    let entry = fixture_dir("ts").join("main.ts");
    let ran = run(&entry, &["--input", r#""x,y""#]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        ran.state(),
        json!({"items": [{"name": "x"}, {"name": "y"}]})
    );

    let ran = run(&entry, &["--input", r#""boom""#]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.contains("Error: cannot parse boom"), "{ran:?}");
    let parse = fixture_dir("ts").join("parse.ts");
    let (line, column) = position_in(&parse, "Error(reason)");
    let in_parse = format!("at parse ({}:{line}:{column})", parse.display());
    assert!(ran.stderr.contains(&in_parse), "{in_parse} in {ran:?}");
    // The caller's frame: QuickJS puts its column at the last position it
    // recorded before the call (here the argument), on the call's line.
    let (line, column) = position_in(&entry, "text);");
    let in_main = format!("at bgUpdater ({}:{line}:{column})", entry.display());
    assert!(ran.stderr.contains(&in_main), "{in_main} in {ran:?}");
}

#[test]
fn a_syntax_error_in_an_imported_file_names_that_file() {
    let dir = folder(
        "syntax",
        &[
            (
                "main.js",
                "import { f } from './lib/f.js';\nexport function bgUpdater() { return { v: f() }; }\n",
            ),
            ("lib/f.js", "export function f() {\n  return 1 +* 2;\n}\n"),
        ],
    );
    let ran = run(&dir.join("main.js"), &[]);
    assert_eq!(ran.code, 3, "{ran:?}");
    let file = dir.join("lib/f.js");
    let (line, column) = position_in(&file, "* 2");
    let expected = format!("{}:{line}:{column}: SyntaxError", file.display());
    assert!(ran.stderr.contains(&expected), "{expected} in {ran:?}");
}

#[test]
fn a_cycle_is_refused_with_its_chain() {
    let dir = folder(
        "cycle",
        &[
            (
                "main.ts",
                "import { a } from './a.ts';\nexport function bgUpdater() { return { a }; }\n",
            ),
            ("a.ts", "import './b.ts';\nexport const a = 1;\n"),
            ("b.ts", "import { a } from './a.ts';\nexport const b = a;\n"),
        ],
    );
    let ran = run(&dir.join("main.ts"), &[]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(
        ran.stderr
            .contains("main.ts -> a.ts -> b.ts -> a.ts is a cycle"),
        "{ran:?}"
    );
    let expected = format!(
        "{}:1:19: cannot import \"./a.ts\"",
        dir.join("b.ts").display()
    );
    assert!(ran.stderr.contains(&expected), "{expected} in {ran:?}");
}

#[test]
fn a_missing_file_names_its_importers() {
    let dir = folder(
        "missing",
        &[
            (
                "main.js",
                "import './lib/a.js';\nexport function bgUpdater() {}\n",
            ),
            ("lib/a.js", "import { x } from './gone.js';\n"),
        ],
    );
    let ran = run(&dir.join("main.js"), &[]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(
        ran.stderr
            .contains("there is no module `lib/gone.js` (main.js -> lib/a.js -> lib/gone.js)"),
        "{ran:?}"
    );
}

#[test]
fn packages_and_urls_are_refused_with_how_to_bundle_them() {
    for (test, specifier) in [
        ("bare", "lodash"),
        ("npm", "npm:lodash@4"),
        ("url", "https://esm.sh/lodash"),
    ] {
        let source = format!(
            "import _ from '{specifier}';\nexport function bgUpdater() {{ return {{}}; }}\n"
        );
        let dir = folder(test, &[("main.js", &source)]);
        let ran = run(&dir.join("main.js"), &[]);
        assert_eq!(ran.code, 3, "{specifier}: {ran:?}");
        assert!(
            ran.stderr
                .contains(&format!("cannot import \"{specifier}\"")),
            "{ran:?}"
        );
        assert!(
            ran.stderr
                .contains("npx esbuild main.js --bundle --format=esm --outfile=charm.js"),
            "{ran:?}"
        );
    }
}

#[test]
fn a_path_outside_the_folder_is_refused() {
    let dir = folder(
        "outside",
        &[
            (
                "charm/main.js",
                "import '../secret.js';\nexport function bgUpdater() {}\n",
            ),
            ("secret.js", "export {};\n"),
        ],
    );
    let ran = run(&dir.join("charm/main.js"), &[]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(
        ran.stderr
            .contains("cannot import \"../secret.js\": it is outside the charm's folder"),
        "{ran:?}"
    );
}

#[test]
fn a_registered_charm_of_several_files_survives_a_restart_and_an_update_of_one_module() {
    let dir = folder(
        "daemon",
        &[
            (
                "main.ts",
                "import { step } from './lib/step.ts';\n\
                 export function bgUpdater(state: { n?: number }) { return { n: (state.n ?? 0) + step() }; }\n",
            ),
            ("lib/step.ts", "export const step = (): number => 1;\n"),
        ],
    );
    let mut d = Daemon::start(&[]);
    let ran = d.cli(&["add", dir.join("main.ts").to_str().expect("utf-8 path")]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let id = ran.stdout.trim().to_string();
    assert_eq!(d.run_now(&id, json!(null))["outcome"], "ok");
    let (status, source) = d.get(&format!("/api/charms/{id}/source"));
    assert_eq!(status, 200, "{source}");
    assert_eq!(source["name"], "main.ts");
    assert_eq!(
        source["modules"],
        json!({"lib/step.ts": "export const step = (): number => 1;\n"})
    );

    d.signal("-TERM");
    assert_eq!(d.wait_exit(20), Some(0));
    let data = d.dir.clone();
    drop(d);
    let d = Daemon::start_in(data, &[]);
    assert_eq!(d.run_now(&id, json!(null))["outcome"], "ok");
    assert_eq!(
        d.get(&format!("/api/charms/{id}/state")).1["state"],
        json!({"n": 2})
    );

    // One module changes; the entry stays.
    let (status, changed) = d.patch(
        &format!("/api/charms/{id}"),
        &json!({"modules": {"lib/step.ts": "export const step = (): number => 10;\n"}}),
    );
    assert_eq!(status, 200, "{changed}");
    assert_eq!(d.run_now(&id, json!(null))["outcome"], "ok");
    assert_eq!(
        d.get(&format!("/api/charms/{id}/state")).1["state"],
        json!({"n": 12})
    );

    // The playground tries an edited module without storing it.
    let (status, tried) = d.post(
        &format!("/api/charms/{id}/try"),
        &json!({"modules": {"lib/step.ts": "export const step = (): number => 100;\n"}}),
    );
    assert_eq!(status, 200, "{tried}");
    assert_eq!(tried["state"], json!({"n": 112}), "{tried}");
    assert_eq!(
        d.get(&format!("/api/charms/{id}/state")).1["state"],
        json!({"n": 12})
    );

    // A bad module map is a 400 with a message, never a 500.
    for modules in [
        json!({"../x.ts": "export {};"}),
        json!({"lib/step.ts": "export const step = (: number => 1;"}),
        json!({"lib/step.ts": "import 'npm:left-pad'; export const step = () => 1;"}),
    ] {
        let (status, answer) =
            d.patch(&format!("/api/charms/{id}"), &json!({ "modules": modules }));
        assert_eq!(status, 400, "{modules}: {answer}");
        assert_eq!(answer["code"], "compile_error", "{answer}");
    }
    let (status, answer) = d.patch(&format!("/api/charms/{id}"), &json!({ "modules": ["x"] }));
    assert_eq!(status / 100, 4, "{answer}");
}
