//! The service row (issue 18): trivial runs end to end through
//! `charm-host serve` (schedule -> queue -> claim -> sandbox -> finish) on
//! its embedded SQLite, and the daemon's CPU per run beside the sandbox's
//! own cost per task (row 1), so the service's overhead is measured, not
//! guessed.
//!
//! `charms` trivial charms are registered at `interval_s`, more than the
//! node can run, so the queue never empties: the rate it finishes runs at
//! is its capacity. The daemon's CPU (user + system, from
//! `/proc/PID/stat`) over a window, divided by the runs it finished in the
//! window, is the CPU per run; the daemon's queue-wait histogram, scraped
//! at both ends of the window, gives the runs' lag. `BENCH_ONLY=service`
//! runs it alone; `SERVICE_CHARMS` and `SERVICE_INTERVAL_S` change the
//! load. With `CHARM_HOST_TEST_PG` it runs again on PostgreSQL.
//!
//! The registrations are paced to take a whole number of intervals (see
//! [`Load::register_per_s`]), so the charms' due times are spread evenly
//! over the interval, as in a service whose charms have run for a while.
//!
//! Each store runs it twice: with the trivial charm as it is, and with a
//! comment of `SERVICE_LARGE_KB` (default 52) KB appended to its source, the
//! size of a real charm with its parser or client bundled in. A comment
//! leaves the bytecode and the sandbox's work as they were, so what the
//! second column adds is the service's cost of storing a large charm.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};

use crate::rows::{wait_until, BenchResult};

/// What the service row measured.
#[derive(Debug, Clone, Copy)]
pub struct Service {
    /// Charms registered.
    pub charms: usize,
    /// Their interval, s.
    pub interval_s: u64,
    /// Runs due per second (charms over interval).
    pub due_per_s: f64,
    /// Successful runs finished per second in the window.
    pub runs_per_s: f64,
    /// The daemon's CPU per finished run, µs.
    pub cpu_us_per_run: f64,
    /// The daemon's CPU use in the window, in cores.
    pub cores_busy: f64,
    /// Queue wait (start minus queue time; a scheduled run is queued at its
    /// due time, so this is its lag) of the window's runs: p50 and p99, s.
    /// Upper bounds of the daemon's histogram buckets (×2 apart).
    pub wait_p50_s: f64,
    /// See [`Service::wait_p50_s`].
    pub wait_p99_s: f64,
    /// Runs queued 12 s after the last registration: the backlog the
    /// registrations left (see [`service_row`]).
    pub backlog: f64,
    /// Seconds from then until the queue was down to one second's due
    /// runs, when the window starts; `None` if it was not within one
    /// interval (the window then starts anyway).
    pub caught_up_s: Option<f64>,
    /// Registrations a second, paced (see [`Load::register_per_s`]).
    pub register_pace: f64,
    /// Intervals the paced registrations were planned to take.
    pub register_intervals: u64,
    /// Seconds they were planned to take (`register_intervals` × the
    /// interval).
    pub register_planned_s: f64,
    /// Seconds the registrations took (longer than planned when the daemon
    /// could not keep the pace, and then the phases are no longer even).
    pub registered_s: f64,
    /// The store: `SQLite` or `PostgreSQL`.
    pub store: &'static str,
    /// KB of comment appended to each charm's source (0: the trivial charm).
    pub padding_kb: usize,
}

/// The load the service row puts on the daemon.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Charms registered.
    pub charms: usize,
    /// Their interval, s.
    pub interval_s: u64,
    /// KB of comment appended to each charm's source (0: none).
    pub padding_kb: usize,
    /// How long the runs are counted, after a 12 s warm-up and the
    /// registrations' backlog.
    pub window: Duration,
    /// The most registrations a second (`SERVICE_REGISTER_PER_S`, default
    /// 300). They are paced evenly over the fewest whole intervals this
    /// allows. A new charm first runs within ten seconds of its
    /// registration, and a success restarts its interval, so a run that
    /// starts late moves its charm's phase. At the daemon's full speed
    /// (about 500 a second on PostgreSQL for 100,000 charms every 60 s)
    /// the registrations came unevenly (6,413 to 12,014 charms per 5 s of
    /// the minute, 8,333 even) and left 8,048 to 19,956 runs queued, so
    /// the window measured a catch-up and uneven due times rather than the
    /// steady due rate (issue 18's twenty-fifth and twenty-sixth rounds).
    /// Pacing keeps the phases even only while the daemon keeps the pace
    /// and the runs: registrations that fall behind go at full speed until
    /// they catch up with the plan.
    pub register_per_s: f64,
}

/// `n` characters of a comment that does not compress, as real code does
/// not below 2 KB: PostgreSQL would compress a repeated one to a few
/// hundred bytes and keep it in the row. The hex of a chain of SHA-256
/// digests, the same every run.
fn incompressible(n: usize) -> String {
    use sha2::Digest as _;
    let mut text = String::with_capacity(n + 64);
    let mut digest = sha2::Sha256::digest(b"charm-bench");
    while text.len() < n {
        text.push_str(&hex::encode(digest));
        digest = sha2::Sha256::digest(digest);
    }
    text.truncate(n);
    text
}

/// The daemon's `/metrics` page.
async fn metrics(client: &reqwest::Client, base: &str) -> BenchResult<String> {
    Ok(client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?)
}

/// The daemon's `charm_host_queue_wait_seconds` histogram: cumulative
/// counts by upper bound (s), `+Inf` last.
async fn queue_waits(client: &reqwest::Client, base: &str) -> BenchResult<Vec<(f64, f64)>> {
    let text = metrics(client, base).await?;
    let mut buckets = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("charm_host_queue_wait_seconds_bucket{") else {
            continue;
        };
        let le = rest
            .split("le=\"")
            .nth(1)
            .and_then(|v| v.split('"').next())
            .ok_or("a bucket without le")?;
        let bound = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse::<f64>()?
        };
        let count = line.rsplit(' ').next().ok_or("no value")?.parse::<f64>()?;
        buckets.push((bound, count));
    }
    if buckets.is_empty() {
        return Err("no charm_host_queue_wait_seconds in /metrics".into());
    }
    Ok(buckets)
}

/// The bucket bound under which a `q` share of the waits between two
/// scrapes fell.
fn quantile(from: &[(f64, f64)], to: &[(f64, f64)], q: f64) -> f64 {
    let total = to.last().map_or(0.0, |b| b.1) - from.last().map_or(0.0, |b| b.1);
    for (i, (bound, count)) in to.iter().enumerate() {
        let before = from.get(i).map_or(0.0, |b| b.1);
        if count - before >= q * total {
            return *bound;
        }
    }
    f64::INFINITY
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// User + system CPU of process `pid` so far, in ms (clock ticks of 10 ms).
fn cpu_ms(pid: u32) -> BenchResult<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').ok_or("odd /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> BenchResult<f64> {
        Ok(fields.get(i).ok_or("short /proc stat")?.parse::<f64>()?)
    };
    // utime and stime are fields 14 and 15 (1-based) of the whole line.
    Ok((ticks(11)? + ticks(12)?) * 10.0)
}

/// The value of the first `/metrics` sample whose line starts with
/// `prefix` and contains `label` (`""`: any).
async fn sample(
    client: &reqwest::Client,
    base: &str,
    prefix: &str,
    label: &str,
) -> BenchResult<f64> {
    let text = metrics(client, base).await?;
    let line = text
        .lines()
        .find(|l| l.starts_with(prefix) && l.contains(label))
        .ok_or_else(|| format!("no {prefix}{label} in /metrics"))?;
    Ok(line.rsplit(' ').next().ok_or("no value")?.parse::<f64>()?)
}

/// The daemon's count of successful runs, from `/metrics`.
async fn ok_runs(client: &reqwest::Client, base: &str) -> BenchResult<f64> {
    sample(client, base, "charm_host_runs_total{", "outcome=\"ok\"").await
}

/// Runs queued now (`charm_host_queue_depth`, a gauge without labels).
async fn queue_depth(client: &reqwest::Client, base: &str) -> BenchResult<f64> {
    sample(client, base, "charm_host_queue_depth ", "").await
}

/// Runs the service row.
pub async fn service_row(
    binary: &Path,
    trivial: &Path,
    scratch: &Path,
    load: Load,
    database: Option<&str>,
) -> BenchResult<Service> {
    let Load {
        charms,
        interval_s,
        padding_kb,
        window,
        register_per_s,
    } = load;
    let data = scratch.join(format!("service-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data)?;
    let addr_file = data.join("addr");
    let child = Command::new(binary)
        .args(["serve", "--listen", "127.0.0.1:0", "--no-token"])
        .args(["--summary-interval-s", "3600"])
        .arg("--data-dir")
        .arg(&data)
        .arg("--addr-file")
        .arg(&addr_file)
        .args(database.map(|url| ["--db", url]).into_iter().flatten())
        .env("CHARM_HOST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = child.id();
    let _daemon = Daemon(child);
    wait_until("the daemon to listen", Duration::from_secs(60), || {
        let ready = std::fs::read_to_string(&addr_file).is_ok_and(|a| !a.is_empty());
        async move { ready }
    })
    .await?;
    let base = format!("http://{}", std::fs::read_to_string(&addr_file)?.trim());
    let client = reqwest::Client::builder().no_proxy().build()?;
    let mut source = std::fs::read_to_string(trivial)?;
    if padding_kb > 0 {
        source = format!("{source}\n/*{}*/\n", incompressible(padding_kb * 1000));
    }
    let kind = if padding_kb > 0 { "padded" } else { "trivial" };
    let due_per_s = charms as f64 / interval_s.max(1) as f64;
    let register_intervals = (due_per_s / register_per_s.max(1.0)).ceil().max(1.0) as u64;
    let planned_s = (register_intervals * interval_s.max(1)) as f64;
    let register_pace = charms as f64 / planned_s;
    eprintln!(
        "      registering {charms} {kind} charms of {} KB at {interval_s} s, \
         {register_pace:.0} a second over {register_intervals} intervals ({planned_s:.0} s)",
        source.len().div_ceil(1000)
    );
    let started = tokio::time::Instant::now();
    let mut registered = stream::iter(0..charms)
        .map(|i| {
            let (client, base, source) = (client.clone(), base.clone(), source.clone());
            let due = started + Duration::from_secs_f64(i as f64 / register_pace);
            async move {
                tokio::time::sleep_until(due).await;
                let body = serde_json::json!({
                    "source": source,
                    "name": format!("trivial-{i}.js"),
                    "space": format!("space-{}", i % 10),
                    "interval_s": interval_s,
                });
                client
                    .post(format!("{base}/api/charms"))
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await?
                    .error_for_status()
                    .map(|_| ())
            }
        })
        .buffer_unordered(8);
    let mut done = 0;
    while let Some(result) = registered.next().await {
        result?;
        done += 1;
        if done % 1000 == 0 {
            eprintln!("      registered {done}/{charms}");
        }
    }
    let registered_s = started.elapsed().as_secs_f64();
    eprintln!("      registered in {registered_s:.1} s (planned {planned_s:.0} s); warming up");
    // New charms first run within ten seconds; then every interval.
    tokio::time::sleep(Duration::from_secs(12)).await;
    // The window measures the schedule kept, not the registrations: when
    // 100,000 of them went in at full speed over 3.3 minutes on
    // PostgreSQL (before they were paced), the runs of the charms already
    // in fell behind, and 11,450 were still queued here (31.5 s to come
    // down to one second's due runs). So the window starts
    // once the queue is down to that, and the backlog and the time to get
    // there are reported beside the lag.
    let backlog = queue_depth(&client, &base).await?;
    let one_second = (charms as f64 / interval_s as f64).max(1.0);
    let catching_up = Instant::now();
    let caught_up_s = loop {
        if queue_depth(&client, &base).await? <= one_second {
            break Some(catching_up.elapsed().as_secs_f64());
        }
        if catching_up.elapsed() > Duration::from_secs(interval_s) {
            break None;
        }
        // Each scrape counts the queue in the store: once a second
        // keeps that load small beside the catch-up being timed.
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    match caught_up_s {
        Some(s) => eprintln!(
            "      {backlog:.0} runs queued after the warm-up; down to {one_second:.0} in {s:.1} s"
        ),
        None => eprintln!(
            "      {backlog:.0} runs queued after the warm-up; still above {one_second:.0} after one interval ({interval_s} s): measuring anyway"
        ),
    }
    let (runs_from, cpu_from, from) =
        (ok_runs(&client, &base).await?, cpu_ms(pid)?, Instant::now());
    let waits_from = queue_waits(&client, &base).await?;
    // A line every 30 s: `make bench-scale` watches for minutes.
    while from.elapsed() < window {
        let left = window.saturating_sub(from.elapsed());
        tokio::time::sleep(left.min(Duration::from_secs(30))).await;
        if from.elapsed() < window {
            let runs = ok_runs(&client, &base).await? - runs_from;
            let secs = from.elapsed().as_secs_f64();
            eprintln!(
                "      {secs:.0}/{} s: {runs:.0} runs, {:.0} a second",
                window.as_secs(),
                runs / secs
            );
        }
    }
    let (runs_to, cpu_to, elapsed) = (ok_runs(&client, &base).await?, cpu_ms(pid)?, from.elapsed());
    let waits_to = queue_waits(&client, &base).await?;
    let runs = (runs_to - runs_from).max(1.0);
    let cpu = cpu_to - cpu_from;
    Ok(Service {
        charms,
        interval_s,
        due_per_s: charms as f64 / interval_s as f64,
        runs_per_s: runs / elapsed.as_secs_f64(),
        cpu_us_per_run: cpu * 1000.0 / runs,
        cores_busy: cpu / elapsed.as_secs_f64() / 1000.0,
        wait_p50_s: quantile(&waits_from, &waits_to, 0.5),
        wait_p99_s: quantile(&waits_from, &waits_to, 0.99),
        backlog,
        caught_up_s,
        register_pace,
        register_intervals,
        register_planned_s: planned_s,
        registered_s,
        store: if database.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        padding_kb,
    })
}
