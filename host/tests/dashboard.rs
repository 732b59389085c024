//! The dashboard in a real browser: headless Chromium (Debian's package)
//! driven by playwright-core (`host/tests/e2e`, installed by `make test`),
//! against a real daemon with the token it made, which the page takes from
//! the URL the daemon logs. Missing prerequisites fail the test with the
//! command that installs them; the case is never skipped.

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::json;
use support::{wait_for, Daemon};

#[test]
fn an_operator_finds_a_failing_charm_disables_it_and_runs_another() {
    let e2e = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
    assert!(
        e2e.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `make e2e-deps` (npm ci in host/tests/e2e)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: run `make e2e-deps` (apt-get install chromium)"
    );

    let d = Daemon::start(&[]);
    let token = d.token.clone().expect("a token is made by default");
    // The URL the operator is given, from the daemon's log.
    let logged = wait_for("the daemon to log the dashboard's URL", 30, || {
        d.log_text().lines().find_map(|line| {
            let url = line
                .split("dashboard: ")
                .nth(1)?
                .split_whitespace()
                .next()?;
            Some(url.to_string())
        })
    });
    assert_eq!(logged, format!("http://{}/#token={token}", d.addr));
    let register =
        |fixture: &str| d.register(fixture, json!({ "interval_s": 3600, "space": "e2e" }));
    let failing = register("thrower.js");
    let good = register("counter.js");
    let xss = register("xss.js");
    for id in [&failing, &good, &xss] {
        d.run_now(id, json!(null));
    }
    // A secret: the charm page lists its name, never its value.
    let secret_value = "dash-secret-5f4e3d2c1b";
    let (status, body) = d.request(
        "PUT",
        &format!("/api/charms/{good}/secrets/API_KEY"),
        Some(&json!({ "value": secret_value })),
    );
    assert_eq!(status, 201, "{body}");
    // A cron charm with a dead letter, whose fixed source takes it when
    // re-driven from the page.
    let inbox = d.register(
        "inbox.js",
        json!({ "schedule": { "cron": "0 7 * * MON-FRI", "tz": "Europe/Berlin" }, "max_attempts": 1, "space": "e2e" }),
    );
    assert_eq!(
        d.run_now(&inbox, json!({ "poison": true }))["outcome"],
        "error"
    );
    let fixed = std::fs::read_to_string(support::fixture("inbox.js"))
        .unwrap()
        .replace(
            "if (event.data?.poison)",
            "if (event.data?.poison && false)",
        );
    let (status, body) = d.patch(&format!("/api/charms/{inbox}"), &json!({ "source": fixed }));
    assert_eq!(status, 200, "{body}");

    // Another space's charm, and a token for the space "e2e" only.
    let other = d.register(
        "counter.js",
        json!({ "interval_s": 3600, "space": "elsewhere" }),
    );
    let (status, made) = d.post(
        "/api/tokens",
        &json!({ "space": "e2e", "name": "e2e team" }),
    );
    assert_eq!(status, 201, "{made}");
    let space_token = made["token"].as_str().unwrap().to_string();

    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e");
    std::fs::create_dir_all(&out_dir).unwrap();
    let screenshot = out_dir.join("dashboard-overview.png");
    let _ = std::fs::remove_file(&screenshot);
    let out = Command::new("node")
        .arg(e2e.join("dashboard.mjs"))
        .env("DASHBOARD_URL", format!("http://{}/", d.addr))
        .env("LOGGED_URL", &logged)
        .env("TOKEN", &token)
        .env("FAILING_ID", &failing)
        .env("GOOD_ID", &good)
        .env("XSS_ID", &xss)
        .env("INBOX_ID", &inbox)
        .env("OTHER_ID", &other)
        .env("SPACE_TOKEN", &space_token)
        .env("SECRET_VALUE", secret_value)
        .env("SCREENSHOT", &screenshot)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("run node (install Node.js to run the dashboard tests)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}\ndaemon log:\n{}",
        d.log_text()
    );
    assert!(stdout.contains("dashboard: all checks passed"), "{stdout}");
    let png = std::fs::read(&screenshot).expect("the overview screenshot is kept");
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    eprintln!("overview screenshot: {}", screenshot.display());
}
