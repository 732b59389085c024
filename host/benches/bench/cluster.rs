//! The cluster rows: charm-host nodes on one PostgreSQL database (issue 12),
//! through the real binary. Needs `CHARM_HOST_TEST_PG` (an admin URL;
//! `make bench` starts a throwaway cluster with PostgreSQL's default
//! settings and sets it); without it the rows are skipped.
//!
//! - claim-to-start: the queue wait (started − queued, the database's
//!   clock) of manual triggers on an idle node, SQLite and PostgreSQL;
//! - runs per second with 1 and 3 nodes under a standing backlog of manual
//!   runs, I/O-bound (each run awaits a 200 ms loopback fetch) and
//!   CPU-bound (50,000 loop iterations each);
//! - rescue after `kill -9`: from the kill to the last of the node's runs
//!   marked interrupted, and to the last retry started.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::loopback::SlowServer;
use crate::rows::{wait_until, BenchResult};
use crate::stats::percentile;

/// Concurrent runs per node in the throughput rows.
pub const PER_NODE: usize = 8;
/// The fetch delay of the I/O-bound throughput rows, in ms.
pub const IO_MS: u64 = 200;

pub struct Cluster {
    pub sqlite_wait: Wait,
    pub pg_wait: Wait,
    pub io_1: f64,
    pub io_3: f64,
    pub cpu_1: f64,
    pub cpu_3: f64,
    pub rescue: Rescue,
}

/// Queue waits in ms.
pub struct Wait {
    pub p50: f64,
    pub p99: f64,
    pub samples: usize,
}

pub struct Rescue {
    /// Runs the killed node held.
    pub lost: i64,
    /// Kill to the last one marked interrupted, ms.
    pub interrupted_ms: i64,
    /// Kill to the last retry started, ms.
    pub retried_ms: i64,
}

struct Node {
    child: Child,
    base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Env<'a> {
    binary: &'a Path,
    cache: PathBuf,
    scratch: &'a Path,
    admin: String,
    client: reqwest::Client,
    next: std::cell::Cell<usize>,
}

async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
}

fn psql(url: &str, sql: &str) -> BenchResult<String> {
    let out = Command::new("psql")
        .args([url, "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()?;
    if !out.status.success() {
        return Err(format!("psql `{sql}`: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn psql_i64(url: &str, sql: &str) -> BenchResult<i64> {
    let text = psql(url, sql)?;
    text.parse()
        .map_err(|_| format!("`{sql}` gave `{text}`").into())
}

/// Creates the empty database `name` through the admin URL `admin` and
/// returns its URL.
pub fn create_database(admin: &str, name: &str) -> BenchResult<String> {
    psql(admin, &format!("CREATE DATABASE {name}"))?;
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    Ok(format!("{base}/{name}"))
}

impl Env<'_> {
    fn database(&self) -> BenchResult<String> {
        let n = self.next.get();
        self.next.set(n + 1);
        create_database(
            &self.admin,
            &format!("charm_bench_{}_{n}", std::process::id()),
        )
    }

    async fn node(&self, db: &str, max_concurrent: usize) -> BenchResult<Node> {
        let n = self.next.get();
        self.next.set(n + 1);
        let addr_file = self.scratch.join(format!("cluster-node-{n}.addr"));
        let _ = std::fs::remove_file(&addr_file);
        let child = Command::new(self.binary)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--summary-interval-s",
                "3600",
                // The bench's nodes are on loopback and its requests carry no
                // token: each node would otherwise make a token of its own.
                "--no-token",
            ])
            .args(["--db", db, "--max-concurrent", &max_concurrent.to_string()])
            .arg("--cache-dir")
            .arg(&self.cache)
            .arg("--data-dir")
            .arg(self.scratch.join(format!("cluster-node-{n}")))
            .arg("--addr-file")
            .arg(&addr_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut node = Node {
            child,
            base: String::new(),
        };
        wait_until("a node to listen", Duration::from_secs(60), || {
            let ready = std::fs::read_to_string(&addr_file).is_ok_and(|a| !a.is_empty());
            async move { ready }
        })
        .await?;
        node.base = format!("http://{}", std::fs::read_to_string(&addr_file)?.trim());
        Ok(node)
    }

    async fn post(
        &self,
        node: &Node,
        path: &str,
        body: serde_json::Value,
    ) -> BenchResult<serde_json::Value> {
        let response = post_json(&self.client, &format!("{}{path}", node.base), &body)
            .await?
            .error_for_status()?;
        Ok(serde_json::from_slice(&response.bytes().await?)?)
    }

    async fn register(
        &self,
        node: &Node,
        file: &Path,
        extra: serde_json::Value,
    ) -> BenchResult<String> {
        let mut body = serde_json::json!({
            "source": std::fs::read_to_string(file)?,
            "name": file.file_name().map(|f| f.to_string_lossy().into_owned()),
            "interval_s": 86_400,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let charm = self.post(node, "/api/charms", body).await?;
        Ok(charm["id"].as_str().ok_or("no charm id")?.to_string())
    }
}

/// Queue waits of `triggers` manual runs, one after another, on an idle node.
async fn claim_to_start(
    env: &Env<'_>,
    node: &Node,
    counter: &Path,
    triggers: usize,
) -> BenchResult<Wait> {
    let id = env.register(node, counter, serde_json::json!({})).await?;
    let mut waits = Vec::with_capacity(triggers);
    for i in 0..=triggers {
        let queued = env
            .post(
                node,
                &format!("/api/charms/{id}/run"),
                serde_json::json!({}),
            )
            .await?;
        let run_id = queued["run_id"].as_i64().ok_or("no run id")?;
        let url = format!("{}/api/runs/{run_id}", node.base);
        let run = loop {
            let run: serde_json::Value =
                serde_json::from_slice(&env.client.get(&url).send().await?.bytes().await?)?;
            if run["status"] == "done" {
                break run;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        // The first one may meet the charm's first scheduled run.
        if i > 0 {
            let started = run["started_at"].as_i64().ok_or("not started")?;
            let queued_at = run["queued_at"].as_i64().ok_or("not queued")?;
            waits.push((started - queued_at) as f64);
        }
    }
    Ok(Wait {
        p50: percentile(&mut waits, 50.0),
        p99: percentile(&mut waits, 99.0),
        samples: waits.len(),
    })
}

/// Ok runs per second with `nodes` nodes under a standing backlog of manual
/// runs of `charms` charms (`file`, with `input` as ctx.input).
async fn throughput(
    env: &Env<'_>,
    nodes: usize,
    charms: usize,
    file: &Path,
    extra: serde_json::Value,
    input: serde_json::Value,
) -> BenchResult<f64> {
    let db = env.database()?;
    let mut running = Vec::new();
    for _ in 0..nodes {
        running.push(env.node(&db, PER_NODE).await?);
    }
    let mut ids = Vec::new();
    for _ in 0..charms {
        ids.push(env.register(&running[0], file, extra.clone()).await?);
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let feeder = {
        let (client, base, stop) = (env.client.clone(), running[0].base.clone(), stop.clone());
        let (ids, input) = (ids.clone(), input.clone());
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for id in &ids {
                    let body = serde_json::json!({ "input": input });
                    let _ = post_json(&client, &format!("{base}/api/charms/{id}/run"), &body).await;
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let from = psql_i64(&db, "SELECT charm_host_now_ms()")?;
    let window = Instant::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let to = psql_i64(&db, "SELECT charm_host_now_ms()")?;
    let elapsed = window.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = feeder.await;
    let ok = psql_i64(
        &db,
        &format!("SELECT count(*) FROM runs WHERE outcome = 'ok' AND finished_at >= {from} AND finished_at < {to}"),
    )?;
    drop(running);
    Ok(ok as f64 / elapsed.as_secs_f64())
}

/// Kills one of three busy nodes and times the rescue of its runs.
async fn rescue_after_kill(env: &Env<'_>, io: &Path, server: &SlowServer) -> BenchResult<Rescue> {
    let db = env.database()?;
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(env.node(&db, 16).await?);
    }
    let allowed = serde_json::json!({ "allowed_hosts": [server.addr.to_string()] });
    let input = serde_json::json!({ "input": { "url": format!("{}?ms=4000", server.url()) } });
    for _ in 0..45 {
        let id = env.register(&nodes[0], io, allowed.clone()).await?;
        env.post(&nodes[0], &format!("/api/charms/{id}/run"), input.clone())
            .await?;
    }
    let victim = nodes[2].child.id();
    let victim_id = loop {
        let id = psql(&db, &format!("SELECT id FROM nodes WHERE pid = {victim}"))?;
        let held = psql_i64(
            &db,
            &format!("SELECT count(*) FROM runs WHERE owner = '{id}' AND status = 'running'"),
        )?;
        if !id.is_empty() && held >= 10 {
            break id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    nodes[2].child.kill()?;
    let killed = psql_i64(&db, "SELECT charm_host_now_ms()")?;
    let lost = psql(&db, &format!("SELECT string_agg(id::text, ',') FROM runs WHERE owner = '{victim_id}' AND status = 'running'"))?;
    let retried = format!(
        "SELECT count(*) FROM runs l WHERE l.id IN ({lost}) AND NOT (l.outcome = 'interrupted' AND EXISTS ( \
           SELECT 1 FROM runs r WHERE r.origin_run_id = COALESCE(l.origin_run_id, l.id) \
             AND r.attempt = l.attempt + 1 AND r.started_at IS NOT NULL))"
    );
    wait_until(
        "the lost runs to be retried",
        Duration::from_secs(60),
        || {
            let pending = psql_i64(&db, &retried).unwrap_or(1);
            async move { pending == 0 }
        },
    )
    .await?;
    Ok(Rescue {
        lost: psql_i64(&db, &format!("SELECT count(*) FROM runs WHERE id IN ({lost})"))?,
        interrupted_ms: psql_i64(&db, &format!("SELECT max(finished_at) - {killed} FROM runs WHERE id IN ({lost})"))?,
        retried_ms: psql_i64(
            &db,
            &format!(
                "SELECT max(r.started_at) - {killed} FROM runs l JOIN runs r \
                   ON r.origin_run_id = COALESCE(l.origin_run_id, l.id) AND r.attempt = l.attempt + 1 \
                 WHERE l.id IN ({lost})"
            ),
        )?,
    })
}

/// Every cluster row, or `None` without `CHARM_HOST_TEST_PG`.
pub async fn cluster_rows(
    binary: &Path,
    benches: &Path,
    root: &Path,
    scratch: &Path,
    server: &SlowServer,
) -> BenchResult<Option<Cluster>> {
    let Ok(admin) = std::env::var("CHARM_HOST_TEST_PG") else {
        eprintln!("      no CHARM_HOST_TEST_PG: skipping the cluster rows (make bench sets it)");
        return Ok(None);
    };
    let env = Env {
        binary,
        cache: scratch.join("cache"),
        scratch,
        admin,
        client: reqwest::Client::new(),
        next: std::cell::Cell::new(0),
    };
    let counter = root.join("charms-fixtures/counter.js");
    let io = benches.join("charms/io.js");
    let cpu = benches.join("charms/cpu.js");

    eprintln!("      claim-to-start, SQLite and PostgreSQL");
    let sqlite_db = scratch.join("cluster-sqlite.db");
    for suffix in ["", "-wal", "-shm", ".node-lock"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", sqlite_db.display()));
    }
    let sqlite = env.node(&sqlite_db.to_string_lossy(), 64).await?;
    let sqlite_wait = claim_to_start(&env, &sqlite, &counter, 200).await?;
    drop(sqlite);
    let pg = env.node(&env.database()?, 64).await?;
    let pg_wait = claim_to_start(&env, &pg, &counter, 200).await?;
    drop(pg);

    let allowed = serde_json::json!({ "allowed_hosts": [server.addr.to_string()] });
    let input = serde_json::json!({ "url": format!("{}?ms={IO_MS}", server.url()) });
    eprintln!("      runs/s, I/O-bound, 1 and 3 nodes");
    let io_1 = throughput(&env, 1, 200, &io, allowed.clone(), input.clone()).await?;
    let io_3 = throughput(&env, 3, 200, &io, allowed, input).await?;
    eprintln!("      runs/s, CPU-bound, 1 and 3 nodes");
    let cpu_1 = throughput(
        &env,
        1,
        100,
        &cpu,
        serde_json::json!({}),
        serde_json::Value::Null,
    )
    .await?;
    let cpu_3 = throughput(
        &env,
        3,
        100,
        &cpu,
        serde_json::json!({}),
        serde_json::Value::Null,
    )
    .await?;
    eprintln!("      rescue after kill -9");
    let rescue = rescue_after_kill(&env, &io, server).await?;
    Ok(Some(Cluster {
        sqlite_wait,
        pg_wait,
        io_1,
        io_3,
        cpu_1,
        cpu_3,
        rescue,
    }))
}
