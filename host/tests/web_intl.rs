//! RegExp inside the sandbox: regular expressions that do not compile (at
//! run time, and as literals with their position), and the recent features
//! QuickJS-ng has. (The runtime has no `Intl` yet: README.)

mod support;

use serde_json::json;
use support::run_fixture;

#[test]
fn a_bad_regexp_literal_at_module_level_is_a_compile_error_with_its_position() {
    let ran = run_fixture("regexp-syntax.js", &[]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(
        ran.stderr
            .contains("regexp-syntax.js:3:16: SyntaxError: expecting ')'"),
        "{ran:?}"
    );
}

#[test]
fn a_bad_regexp_literal_in_a_function_is_a_compile_error_with_its_position() {
    let ran = run_fixture("regexp-syntax-in-function.js", &[]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(
        ran.stderr
            .contains("regexp-syntax-in-function.js:4:22: SyntaxError: invalid class range"),
        "{ran:?}"
    );
}

#[test]
fn regexps_at_run_time() {
    let ran = run_fixture("regexp-features.js", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        ran.state(),
        json!({
            "runtime": "SyntaxError: expecting ')'",
            "runtimeFlags": "SyntaxError: invalid regular expression flags",
            "vFlag": [true, "v", true],
            // quickjs-ng 0.15.1 has no set notation (README).
            "vSetOperations": "SyntaxError: invalid class range",
            "named": "30.11.2026",
            "lookbehind": "17",
            // Pattern modifiers (ES2025) are not in quickjs-ng 0.15.1.
            "modifiers": "SyntaxError: invalid group",
            "escape": "\\x61\\.b",
        })
    );
}
