//! PostgreSQL for tests: a database of its own for each test, in the
//! cluster that `scripts/pg-cluster.sh run` started (`make test` does; its
//! URL is in `CHARM_HOST_TEST_PG`), or else in a cluster this test starts
//! in a temporary folder and stops when done. Nothing outside that folder
//! is touched. Shared by the store's tests and the host's (`#[path]`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pg-cluster.sh")
}

/// A cluster this process started, stopped (and its folder removed) on drop.
pub struct PgCluster {
    pub dir: PathBuf,
    /// `postgres://postgres@127.0.0.1:PORT/postgres`
    pub admin_url: String,
}

impl PgCluster {
    /// Creates and starts a cluster in a fresh folder under the system's
    /// temporary folder (which the `postgres` user can reach).
    pub fn start() -> PgCluster {
        let dir = std::env::temp_dir().join(format!(
            "charm-host-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let admin_url = run_script(&["start", &dir.to_string_lossy()], "-c fsync=off");
        PgCluster { dir, admin_url }
    }

    /// Stops the server (a clean, fast shutdown).
    pub fn stop(&self) {
        run_script(&["stop", &self.dir.to_string_lossy(), "fast"], "");
    }

    /// Starts it again on the same port.
    pub fn restart(&self) {
        run_script(&["start", &self.dir.to_string_lossy()], "-c fsync=off");
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .args(["stop", &self.dir.to_string_lossy(), "immediate"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run_script(args: &[&str], settings: &str) -> String {
    let out = Command::new(script())
        .args(args)
        .env("PG_SETTINGS", settings)
        .output()
        .expect("run scripts/pg-cluster.sh");
    assert!(
        out.status.success(),
        "pg-cluster.sh {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A fresh, empty database, and the cluster it lives in when this test
/// started one (keep it alive as long as the database is used).
pub struct PgDatabase {
    pub url: String,
    pub cluster: Option<PgCluster>,
}

/// `admin_url` with the database name replaced.
pub fn with_database(admin_url: &str, name: &str) -> String {
    match admin_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => format!("{admin_url}/{name}"),
    }
}

/// Creates a database named after this process and a counter.
pub fn fresh_database() -> PgDatabase {
    let (admin, cluster) = match std::env::var("CHARM_HOST_TEST_PG") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            let cluster = PgCluster::start();
            (cluster.admin_url.clone(), Some(cluster))
        }
    };
    let name = format!(
        "charm_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let out = Command::new("psql")
        .args([admin.as_str(), "-q", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "CREATE DATABASE failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PgDatabase {
        url: with_database(&admin, &name),
        cluster,
    }
}

/// Runs one SQL statement with psql; returns its unaligned output.
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql `{sql}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
