//! The cost of a registered, idle charm: disk and the daemon's RSS, from
//! 1,000 and 10,000 charms. The difference divided by 9,000 is what one
//! more charm costs; fixed costs (the runtime, warm pool slots, SQLite's
//! page cache) cancel out.
//!
//! The RSS is one daemon's growth, not two daemons' difference: two
//! daemons warm different numbers of pool slots (up to 16 MiB each) as
//! their first runs happen to overlap, which once made the difference
//! -85 MB. One daemon with one run slot, on an empty store, is given
//! 1,000 charms through its API, runs them, is measured, is given 9,000
//! more the same way (so the same compile slots are warm), runs them, and
//! is measured again.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::Arc;

use charm_engine::limits::SandboxLimits;
use charm_engine::Sandbox;
use charm_host::service::{Caller, CharmSpec, Registry, SchedulePolicy};
use charm_store::sqlite::SqliteStore;
use charm_store::Store;
use futures_util::stream::{self, StreamExt};

use crate::rows::{wait_until, BenchResult};
use crate::stats::{percentile, proc_status_bytes};

pub struct Idle {
    pub small: usize,
    pub large: usize,
    /// Database bytes per registered charm beyond its source and state.
    pub disk_per_charm: f64,
    pub source_bytes: usize,
    /// Database bytes one finished run adds (run history, pruned to
    /// `--keep-runs` per charm).
    pub disk_per_run: f64,
    /// Daemon RSS per charm, after every charm ran once and went idle.
    pub rss_per_charm: f64,
    pub rss_large: u64,
    /// Median time of the dashboard's first page (50 charms, sorted by
    /// name) with `large` charms registered.
    pub list_page_ms: f64,
    /// Median time to read a charm's bytecode and settings for a run.
    pub load_for_run_us: f64,
}

fn db_bytes(db: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            std::fs::metadata(PathBuf::from(name)).ok()
        })
        .map(|m| m.len())
        .sum()
}

/// Removes a store left by an earlier run, with its WAL and index.
fn remove_db(db: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

async fn register(
    sandbox: &Sandbox,
    db: &Path,
    source: &str,
    range: std::ops::Range<usize>,
) -> BenchResult<()> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(db).await?);
    let registry = Registry::new(
        Arc::clone(&store),
        sandbox.clone(),
        SandboxLimits::default(),
        SchedulePolicy::default(),
    );
    let total = range.len();
    let mut done = 0;
    let mut results = stream::iter(range)
        .map(|i| {
            let registry = registry.clone();
            async move {
                registry
                    .register(
                        CharmSpec {
                            source: source.to_string(),
                            name: Some(format!("counter-{i:05}.js")),
                            modules: None,
                            space: Some(format!("space-{}", i % 100)),
                            integration: None,
                            // Idle for a day after the first run.
                            interval_s: Some(86_400),
                            schedule: None,
                            max_attempts: None,
                            allowed_hosts: None,
                            limits: None,
                            state: None,
                            enabled: Some(true),
                        },
                        &Caller::operator("bench"),
                    )
                    .await
            }
        })
        .buffer_unordered(8);
    while let Some(result) = results.next().await {
        result?;
        done += 1;
        if done % 2000 == 0 {
            eprintln!("      registered {done}/{total}");
        }
    }
    store.close().await;
    Ok(())
}

/// The token the bench's daemons require: given, so that no token file is
/// made in a data directory the bench does not own.
const TOKEN: &str = "bench-token";

struct Daemon {
    child: Child,
    base: String,
}

impl Daemon {
    async fn start(binary: &Path, db: &Path, cache: &Path, scratch: &Path) -> BenchResult<Daemon> {
        let addr_file = scratch.join(format!(
            "{}.addr",
            db.file_name().unwrap_or_default().to_string_lossy()
        ));
        let _ = std::fs::remove_file(&addr_file);
        let child = Command::new(binary)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--summary-interval-s",
                "3600",
            ])
            .arg("--db")
            .arg(db)
            .arg("--cache-dir")
            .arg(cache)
            .arg("--addr-file")
            .arg(&addr_file)
            .args(["--token", TOKEN])
            // One run at a time: the same one warm pool slot at both sizes.
            .args(["--max-concurrent", "1"])
            // Its server file goes to the scratch folder.
            .env("XDG_RUNTIME_DIR", scratch)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut daemon = Daemon {
            child,
            base: String::new(),
        };
        wait_until("the daemon to listen", Duration::from_secs(60), || {
            let ready = std::fs::read_to_string(&addr_file)
                .ok()
                .filter(|a| !a.is_empty());
            async move { ready.is_some() }
        })
        .await?;
        daemon.base = format!("http://{}", std::fs::read_to_string(&addr_file)?.trim());
        Ok(daemon)
    }

    /// Resident bytes: the median of five samples 200 ms apart, once the
    /// last run's memory has settled.
    async fn rss(&self) -> u64 {
        let mut samples = Vec::new();
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            samples.push(proc_status_bytes(&self.child.id().to_string(), "VmRSS").unwrap_or(0));
        }
        samples.sort_unstable();
        samples[samples.len() / 2]
    }

    /// Registers charms `range` through the daemon's API, as
    /// [`register`] does through the store (which a running daemon's
    /// writes would refuse with `SQLITE_BUSY_SNAPSHOT`).
    async fn register(
        &self,
        client: &reqwest::Client,
        source: &str,
        range: std::ops::Range<usize>,
    ) -> BenchResult<()> {
        let mut posts = stream::iter(range)
            .map(|i| {
                let body = serde_json::json!({
                    "source": source,
                    "name": format!("counter-{i:05}.js"),
                    "space": format!("space-{}", i % 100),
                    "interval_s": 86_400,
                });
                let request = client
                    .post(format!("{}/api/charms", self.base))
                    .bearer_auth(TOKEN)
                    .header("content-type", "application/json")
                    .body(body.to_string());
                async move { request.send().await?.error_for_status().map(|_| ()) }
            })
            .buffer_unordered(8);
        while let Some(posted) = posts.next().await {
            posted?;
        }
        Ok(())
    }

    /// Waits until `charms` runs have finished and nothing is queued.
    async fn wait_all_ran(&self, client: &reqwest::Client, charms: usize) -> BenchResult<()> {
        let url = format!("{}/api/stats", self.base);
        wait_until("every charm's first run", Duration::from_secs(300), || {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let Ok(response) = client.get(&url).bearer_auth(TOKEN).send().await else {
                    return false;
                };
                let Ok(body) = response.bytes().await else {
                    return false;
                };
                let Ok(stats) = serde_json::from_slice::<serde_json::Value>(&body) else {
                    return false;
                };
                let runs: u64 = stats["per_minute"]
                    .as_array()
                    .map(|m| m.iter().filter_map(|x| x["runs"].as_u64()).sum())
                    .unwrap_or(0);
                runs >= charms as u64
                    && stats["counts"]["queued"] == 0
                    && stats["counts"]["running"] == 0
            }
        })
        .await
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn idle_charms(
    sandbox: &Sandbox,
    binary: &Path,
    source_path: &Path,
    scratch: &Path,
    small: usize,
    large: usize,
) -> BenchResult<Idle> {
    let source = std::fs::read_to_string(source_path)?;
    let client = reqwest::Client::new();
    let cache = scratch.join("daemon-cache");
    let small_db = scratch.join("idle-small.db");
    let large_db = scratch.join("idle-large.db");
    remove_db(&small_db);
    remove_db(&large_db);

    eprintln!("      registering {large} charms");
    register(sandbox, &small_db, &source, 0..small).await?;
    std::fs::copy(&small_db, &large_db)?;
    register(sandbox, &large_db, &source, small..large).await?;
    let (small_disk, large_disk) = (db_bytes(&small_db), db_bytes(&large_db));
    let extra = (large - small) as f64;
    let state_bytes = 2; // `{}` until the first run
    let disk_per_charm =
        (large_disk - small_disk) as f64 / extra - (source.len() + state_bytes) as f64;

    // Disk per run: a daemon on the large store runs every charm once.
    eprintln!("      daemon with {large} charms: waiting for every first run");
    let daemon = Daemon::start(binary, &large_db, &cache, scratch).await?;
    daemon.wait_all_ran(&client, large).await?;
    let mut list_ms = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        let page = client
            .get(format!(
                "{}/api/charms?limit=50&sort=last_run&order=desc",
                daemon.base
            ))
            .bearer_auth(TOKEN)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        list_ms.push(started.elapsed().as_secs_f64() * 1e3);
        if page.is_empty() {
            return Err("the charm listing was empty".into());
        }
    }
    // Killed, the daemon leaves its WAL behind: up to `WAL_CHECKPOINT_PAGES`
    // of pages, a bound on the WAL rather than a cost a run (it gave 34 KB
    // a run). The store opened below checkpoints it when it closes, and the
    // runs' disk is read after that.
    drop(daemon);

    // RSS: one daemon, on an empty store, grows from `small` charms to
    // `large`, every charm registered through its API in the same way (see
    // the module's comment).
    eprintln!("      one daemon given {small}, then {large} charms through its API");
    let grown_db = scratch.join("idle-grown.db");
    remove_db(&grown_db);
    let daemon = Daemon::start(binary, &grown_db, &cache, scratch).await?;
    daemon.register(&client, &source, 0..small).await?;
    daemon.wait_all_ran(&client, small).await?;
    let rss_small = daemon.rss().await;
    daemon.register(&client, &source, small..large).await?;
    daemon.wait_all_ran(&client, large).await?;
    let rss_large = daemon.rss().await;
    drop(daemon);
    // What a run reads before it starts: bytecode and settings.
    let store = SqliteStore::open(&large_db).await?;
    let (page, _) = store
        .charms(&charm_store::CharmFilter {
            limit: 500,
            ..Default::default()
        })
        .await?;
    let mut load_us = Vec::new();
    for charm in &page {
        let started = Instant::now();
        store
            .charm_for_run(&charm.id)
            .await?
            .ok_or("a listed charm vanished")?;
        load_us.push(started.elapsed().as_secs_f64() * 1e6);
    }
    store.close().await;
    let after_runs = db_bytes(&large_db);

    Ok(Idle {
        small,
        large,
        disk_per_charm,
        source_bytes: source.len(),
        disk_per_run: after_runs.saturating_sub(large_disk) as f64 / large as f64,
        rss_per_charm: (rss_large as f64 - rss_small as f64) / extra,
        rss_large,
        list_page_ms: percentile(&mut list_ms, 50.0),
        load_for_run_us: percentile(&mut load_us, 50.0),
    })
}
