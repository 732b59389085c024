//! The WinterTC Minimum Common Web API (Ecma TC55, 2025 snapshot) probe:
//! `charms-fixtures/wintertc-probe.js` walks every entry of the list (82
//! rows, `crypto` split into its behaviours) and checks each exists and
//! gives its standard's result on a small example. The `WebAssembly`
//! namespace is the documented exception (a QuickJS sandbox has no
//! WebAssembly engine, as the README says); every other row must pass,
//! except those in [`PENDING`].

mod support;

use support::run_fixture;

/// Rows another family of the web APIs provides, not yet in this runtime:
/// each may fail. A pending row that passes fails the test, so that the
/// list only ever shrinks; once every family is in, it is empty.
const PENDING: &[&str] = &[];

#[test]
fn every_wintertc_entry_but_webassembly_is_present_and_behaves() {
    let ran = run_fixture("wintertc-probe.js", &[]);
    assert_eq!(ran.code, 0, "the probe itself failed: {ran:?}");
    let out = ran.state();
    assert_eq!(out["rows"], 82, "the list has 82 rows: {out}");
    let results = out["results"].as_object().expect("results by row");
    assert_eq!(results.len(), 82);
    for name in PENDING {
        assert!(results.contains_key(*name), "{name} is not a row");
    }
    let (mut failing, mut pending, mut arrived) = (Vec::new(), Vec::new(), Vec::new());
    for (name, result) in results {
        let result = result.as_str().unwrap_or("not a string");
        if name.starts_with("WebAssembly.") {
            // The documented exception: there is no WebAssembly here.
            assert_ne!(result, "ok", "{name} is unexpectedly present");
        } else if PENDING.contains(&name.as_str()) {
            if result == "ok" {
                arrived.push(name.as_str());
            } else {
                pending.push(format!("{name}: {result}"));
            }
        } else if result != "ok" {
            failing.push(format!("{name}: {result}"));
        }
    }
    eprintln!("pending rows ({}):\n{}", pending.len(), pending.join("\n"));
    assert!(
        failing.is_empty(),
        "{} rows fail:\n{}",
        failing.len(),
        failing.join("\n")
    );
    assert!(
        arrived.is_empty(),
        "these rows pass now: take them out of PENDING: {arrived:?}"
    );
}
