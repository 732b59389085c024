//! `make bench`: charm-host against the original service's Deno Web Workers,
//! measured side by side in one run on this machine.
//!
//! Prints one Markdown table and writes it to `$BENCH_OUT` (default
//! `target/bench/results.md`). Progress goes to stderr. Every figure comes
//! from the library paths the service uses (`compile`, `run`, `Registry`,
//! `Store`) or from the real `charm-host serve` binary; the baselines run
//! `benches/deno/baseline.js` under `$DENO`.
//!
//! Rows (see issue #4 for the targets):
//! 1. the trivial charm, a fresh sandbox per task, one thread: p50 and p99,
//!    and its instructions a task under callgrind (`instructions.rs`; needs
//!    valgrind, and the row is left out without it);
//! 2. the same on every core: tasks per second;
//! 3. 2,000 charms at once, each awaiting a 500 ms loopback fetch, then the
//!    same arriving at a steady 2,000 a second (an open loop);
//! 4. compile: the runtime's size, a cold start (wizer + Cranelift), the
//!    first task of a fresh process with no cache, a warm start from the
//!    cache, the RSS fixture's compile, and a charm's load before a run;
//! 5. 10,000 registered idle charms: disk and daemon RSS per charm, and the
//!    dashboard's first page;
//! 7. nodes on one PostgreSQL database: claim-to-start, runs per second with
//!    1 and 3 nodes, rescue after `kill -9` (`cluster.rs`; needs
//!    `CHARM_HOST_TEST_PG`, which `make bench` sets);
//! 8. Web Crypto inside a charm: one HMAC-SHA256 of 1 KiB, one RS256
//!    signature (2048-bit key).
//!
//! Sizes can be scaled down for a quick look with `BENCH_SCALE=0.1`.
//! `BENCH_ONLY=latency`, `throughput`, `io` or `crypto` runs row 1, 2, 3
//! or 8 alone (the first two many times longer), `idle` row 5's disk and
//! RSS per idle charm, and `start` row 4's
//! runtime size and starts: for comparing runtimes
//! (`CHARM_HOST_RUNTIME_WASM`) side by side, or for a profiler (`CHARM_HOST_PERFMAP=1 perf record -g ...` names guest functions);
//! `BENCH_ONLY=cluster` runs row 7 alone; `BENCH_ONLY=service` the service
//! row (trivial runs through `serve`, with row 1 beside it);
//! `BENCH_ONLY=instructions` row 1's count of instructions a task.

mod cluster;
mod deno;
mod idle;
mod instructions;
mod loopback;
mod rows;
mod service;
mod stats;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use charm_engine::{Sandbox, SandboxOptions};

use rows::BenchResult;

struct Sizes {
    trivial: usize,
    throughput: usize,
    io_charms: usize,
    deno_fresh: usize,
    deno_reused: usize,
    deno_pool: usize,
    idle_small: usize,
    idle_large: usize,
    crypto_rounds: usize,
    cold_starts: usize,
}

impl Sizes {
    fn scaled(scale: f64) -> Sizes {
        let s = |n: f64| ((n * scale).round() as usize).max(10);
        Sizes {
            trivial: s(5_000.0),
            throughput: s(50_000.0),
            io_charms: s(2_000.0),
            deno_fresh: s(200.0),
            deno_reused: s(5_000.0),
            deno_pool: s(100.0),
            idle_small: s(1_000.0),
            idle_large: s(10_000.0),
            crypto_rounds: s(100.0),
            cold_starts: ((3.0 * scale).round() as usize).max(1),
        }
    }
}

/// Row 6: a feed reader refreshing 30 feeds that each take a second.
const FANOUT_FETCHES: usize = 30;
const FANOUT_DELAY_MS: u64 = 1000;
const FANOUT_REPEATS: usize = 3;

/// Row 8: signatures per measured task. Enough that their cost stands well
/// above the task around them (an HMAC costs a few µs, an RS256 a few ms).
const HMAC_OPS: usize = 100;
const RS256_OPS: usize = 5;

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    if std::env::args().skip(1).any(|a| a != "--bench") {
        eprintln!(
            "usage: cargo bench --bench charm-bench  (settings: BENCH_OUT, BENCH_SCALE, DENO)"
        );
        return ExitCode::from(2);
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    if let Some(tasks) = std::env::var_os(instructions::CHILD_TASKS_ENV) {
        return callgrind_child(&tasks.to_string_lossy());
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bench: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What counting row 1's instructions takes, for the progress line.
const INSTRUCTIONS_PROGRESS: &str =
    "about 20 s, and minutes the first time, to compile the runtime for valgrind's CPU";

/// The child that [`instructions::per_task`] runs under callgrind: row 1's
/// trivial tasks on one thread, `tasks` of them and a tenth more, nothing
/// else. Two pool slots keep the reservations small (valgrind manages the
/// address space itself).
fn callgrind_child(tasks: &str) -> ExitCode {
    let child = async {
        let tasks: usize = tasks.parse()?;
        let (benches, root) = workspace()?;
        let sandbox = Sandbox::new(SandboxOptions {
            cache_dir: Some(scratch_dir(&root).join("cache")),
            max_instances: 2,
            // With it, the guest's functions can be named from the perf map.
            perf_map: std::env::var_os("CHARM_HOST_PERFMAP").is_some_and(|v| v == "1"),
            runtime_override: std::env::var_os("CHARM_HOST_RUNTIME_WASM").map(PathBuf::from),
            ..SandboxOptions::default()
        })
        .await?;
        let trivial = rows::compile_file(&sandbox, &benches.join("charms/trivial.js")).await?;
        rows::trivial_latency(&sandbox, &trivial, tasks).await?;
        BenchResult::Ok(())
    };
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Into::into)
        .and_then(|runtime| runtime.block_on(child));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench (callgrind child) failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Where the bench keeps its databases, caches and profiles.
fn scratch_dir(root: &Path) -> PathBuf {
    root.join("target/bench/scratch")
}

/// The bench's folder and the workspace's root.
fn workspace() -> BenchResult<(PathBuf, PathBuf)> {
    let benches = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("no workspace root")?
        .to_path_buf();
    Ok((benches, root))
}

/// Row 3's open loop: a run arrives every 500 µs (2,000 a second), as
/// issue 18 asks, rather than all at once. Tokio's timer ticks every
/// millisecond, so runs are released in pairs, up to 1 ms after they are
/// due: a floor of about 1 ms under the added delay.
const OPEN_LOOP_SPACING: Duration = Duration::from_micros(500);

/// The service row with its load from `SERVICE_CHARMS` (default 10,000)
/// and `SERVICE_INTERVAL_S` (default 1): 10,000 runs due a second, twice
/// issue 18's goal of 5,000 and more than two cores finish, so the queue
/// never empties and the rate is the node's capacity (at the 3,000 due a
/// second this row had before, SQLite kept up, and the row showed the due
/// rate), measured over
/// `SERVICE_WINDOW_S` (default 20 s; `make bench-scale` watches 300). On
/// SQLite, then on PostgreSQL when `CHARM_HOST_TEST_PG` names a server;
/// on each, with the trivial charm and then with its source padded to
/// `SERVICE_LARGE_KB` (default 52; 0 skips it). The registrations are
/// paced at up to `SERVICE_REGISTER_PER_S` (default 300) a second, over
/// whole intervals (see `service::Load::register_per_s`).
async fn service_row(
    binary: &Path,
    trivial_js: &Path,
    scratch: &Path,
) -> BenchResult<Vec<service::Service>> {
    let number = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let charms = usize::try_from(number("SERVICE_CHARMS", 10_000)).unwrap_or(10_000);
    let interval_s = number("SERVICE_INTERVAL_S", 1);
    let window = Duration::from_secs(number("SERVICE_WINDOW_S", 20).max(1));
    let large_kb = usize::try_from(number("SERVICE_LARGE_KB", 52)).unwrap_or(52);
    let register_per_s = number("SERVICE_REGISTER_PER_S", 300) as f64;
    let mut paddings = vec![0];
    if large_kb > 0 {
        paddings.push(large_kb);
    }
    let pg_admin = std::env::var("CHARM_HOST_TEST_PG").ok();
    let mut stores = vec![None];
    if let Some(admin) = pg_admin.as_deref() {
        stores.push(Some(admin));
    }
    let mut rows = Vec::new();
    for admin in stores {
        for &padding_kb in &paddings {
            let database = match admin {
                None => None,
                Some(admin) => {
                    eprintln!("      on PostgreSQL");
                    let name = format!("charm_bench_service_{}_{padding_kb}", std::process::id());
                    Some(cluster::create_database(admin, &name)?)
                }
            };
            rows.push(
                service::service_row(
                    binary,
                    trivial_js,
                    scratch,
                    service::Load {
                        charms,
                        interval_s,
                        padding_kb,
                        window,
                        register_per_s,
                    },
                    database.as_deref(),
                )
                .await?,
            );
        }
    }
    Ok(rows)
}

/// Appends the service rows: runs/s through `serve`, the runs' lag, and
/// the daemon's CPU per run beside the sandbox's own time per task (row
/// 1's p50), one column per store.
fn render_service(table: &mut String, rows: &[service::Service], sandbox_us: f64) {
    use std::fmt::Write as _;
    let Some(first) = rows.first() else { return };
    let cells = |f: &dyn Fn(&service::Service) -> String| {
        rows.iter().map(f).collect::<Vec<_>>().join(" | ")
    };
    let ms = |s: f64| {
        if s.is_finite() {
            format!("≤ {:.0} ms", s * 1000.0)
        } else {
            "over 65 s".to_string()
        }
    };
    let _ =
        writeln!(
        table,
        "\n| Service (issue 18): {} charms every {} s, {:.0} due/s | {} | goal |\n|---|{}---|\n\
         | trivial runs/s through `serve` | {} | ≥ 5,000 |\n\
         | lag (queue wait) p50 | {} | |\n\
         | lag (queue wait) p99 | {} | ≤ 1 s at 1,667 due/s (100,000 every 60 s) |\n\
         | registrations, paced over whole intervals: a second; planned / taken | {} | |\n\
         | before the window: runs queued 12 s after the registrations; time until one second's due runs | {} | |\n\
         | daemon CPU per run (user + system) | {} | |\n\
         | of which the sandbox task (row 1 p50, one thread) | {} | ≤ 15 µs |\n\
         | the service around it (the daemon's CPU per run − sandbox; a database server's is not in it) | {} | ≤ 150 µs |",
        first.charms,
        first.interval_s,
        first.due_per_s,
        cells(&|s| if s.padding_kb == 0 {
            s.store.to_string()
        } else {
            format!("{}, {} KB charms", s.store, s.padding_kb)
        }),
        "---|".repeat(rows.len()),
        cells(&|s| format!("{:.0}", s.runs_per_s)),
        cells(&|s| ms(s.wait_p50_s)),
        cells(&|s| ms(s.wait_p99_s)),
        cells(&|s| format!(
            "{:.0}; {:.0} s ({} intervals) / {:.0} s",
            s.register_pace,
            s.register_planned_s,
            s.register_intervals,
            s.registered_s
        )),
        cells(&|s| match s.caught_up_s {
            Some(t) => format!("{:.0}; {t:.1} s", s.backlog),
            None => format!("{:.0}; not within one interval", s.backlog),
        }),
        cells(&|s| format!("{:.0} µs ({:.2} cores busy)", s.cpu_us_per_run, s.cores_busy)),
        cells(&|_| format!("{sandbox_us:.1} µs")),
        cells(&|s| format!("{:.0} µs", (s.cpu_us_per_run - sandbox_us).max(0.0))),
    );
}

async fn bench() -> BenchResult<()> {
    let (benches, root) = workspace()?;
    let out = std::env::var_os("BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/bench/results.md"));
    let scratch = scratch_dir(&root);
    std::fs::create_dir_all(&scratch)?;
    let scale: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let sizes = Sizes::scaled(scale);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let trivial_js = benches.join("charms/trivial.js");
    let io_js = benches.join("charms/io.js");
    let fanout_js = benches.join("charms/fanout.js");
    let crypto_js = benches.join("charms/crypto.js");
    let binary = Path::new(env!("CARGO_BIN_EXE_charm-host"));
    if std::env::var("BENCH_ONLY").as_deref() == Ok("cluster") {
        let server = loopback::SlowServer::start()?;
        let mut table = String::new();
        let cluster = cluster::cluster_rows(binary, &benches, &root, &scratch, &server).await?;
        render_cluster(&mut table, cluster.as_ref());
        print!("{table}");
        return Ok(());
    }
    let runtime_bytes = match std::env::var_os("CHARM_HOST_RUNTIME_WASM") {
        Some(path) => std::fs::metadata(path)?.len(),
        None => charm_engine::EMBEDDED_RUNTIME.len() as u64,
    };
    if std::env::var("BENCH_ONLY").as_deref() == Ok("start") {
        let compile = rows::compile_costs(&root.join("charms-fixtures/rss.js"), &scratch).await?;
        let cold = rows::cold_first_task(binary, &trivial_js, sizes.cold_starts)?;
        println!(
            "runtime {runtime_bytes} bytes; first task of a fresh process, no cache: {:.0} ms \
             ({:.0} ms CPU); pre-initialise + compile: {:.0} ms; warm start {:.1} ms",
            cold.wall_ms, cold.cpu_ms, compile.runtime_cold_ms, compile.runtime_warm_ms
        );
        return Ok(());
    }

    if std::env::var("BENCH_ONLY").as_deref() == Ok("instructions") {
        eprintln!("row 1 under callgrind: {INSTRUCTIONS_PROGRESS}");
        match instructions::per_task(&scratch) {
            Some(counted) => println!(
                "{} instructions a trivial task in user space (profile: {})",
                counted.per_task,
                counted.profile.display()
            ),
            None => println!("no count: valgrind is not installed, or failed (see above)"),
        }
        return Ok(());
    }

    eprintln!("[1/11] starting a sandbox (runtime from the cache, or compiled once)");
    let sandbox = Sandbox::new(SandboxOptions {
        cache_dir: Some(scratch.join("cache")),
        max_instances: u32::try_from(sizes.io_charms + 16)?,
        perf_map: std::env::var_os("CHARM_HOST_PERFMAP").is_some_and(|v| v == "1"),
        // To compare runtime builds side by side without rebuilding the bench.
        runtime_override: std::env::var_os("CHARM_HOST_RUNTIME_WASM").map(PathBuf::from),
        ..SandboxOptions::default()
    })
    .await?;
    let trivial = rows::compile_file(&sandbox, &trivial_js).await?;
    if std::env::var("BENCH_ONLY").as_deref() == Ok("service") {
        let latency = rows::trivial_latency(&sandbox, &trivial, sizes.trivial).await?;
        let row = service_row(binary, &trivial_js, &scratch).await?;
        let mut table = String::new();
        render_service(&mut table, &row, latency.p50_us);
        print!("{table}");
        return Ok(());
    }
    let io_charm = rows::compile_file(&sandbox, &io_js).await?;
    let fanout_charm = rows::compile_file(&sandbox, &fanout_js).await?;
    let crypto_charm = rows::compile_file(&sandbox, &crypto_js).await?;
    if std::env::var("BENCH_ONLY").as_deref() == Ok("crypto") {
        let (hmac, rs256) = crypto_rows(&sandbox, &crypto_charm, sizes.crypto_rounds).await?;
        for (what, c) in [("HMAC-SHA256 of 1 KiB", hmac), ("RS256", rs256)] {
            println!(
                "{what}: {:.1} µs and {} fuel per op (p50 {:.0} µs with {} ops, {:.0} µs with none)",
                c.per_op_us, c.fuel_per_op, c.p50_us, c.ops, c.p50_base_us
            );
        }
        return Ok(());
    }
    let deno = deno::Deno::find(&benches)?;

    eprintln!(
        "[2/11] row 1: {} trivial tasks on one thread",
        sizes.trivial
    );
    if std::env::var("BENCH_ONLY").as_deref() == Ok("latency") {
        // For profilers: row 1 alone, many times over.
        let latency = rows::trivial_latency(&sandbox, &trivial, sizes.trivial * 20).await?;
        println!(
            "p50 {:.1} µs, p99 {:.1} µs, {} fuel, {:.2} MiB and {:.1} minor page faults per task",
            latency.p50_us,
            latency.p99_us,
            latency.fuel,
            latency.memory_bytes as f64 / (1 << 20) as f64,
            latency.faults_per_task
        );
        return Ok(());
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("idle") {
        let counter = root.join("charms-fixtures/counter.js");
        let (small, large) = (sizes.idle_small, sizes.idle_large);
        let idle = idle::idle_charms(&sandbox, binary, &counter, &scratch, small, large).await?;
        println!(
            "{:.2} KB of disk and {:.2} KB of daemon RSS per idle charm ({small} -> {large}); {:.1} MiB RSS at {large}; {:.2} KB of disk per finished run",
            idle.disk_per_charm / 1e3,
            idle.rss_per_charm / 1e3,
            idle.rss_large as f64 / (1 << 20) as f64,
            idle.disk_per_run / 1e3
        );
        return Ok(());
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("throughput") {
        let per_second =
            rows::trivial_throughput(&sandbox, &trivial, sizes.throughput * 10, cores * 2).await?;
        println!("{per_second:.0} tasks/s");
        return Ok(());
    }
    let server = loopback::SlowServer::start()?;
    if std::env::var("BENCH_ONLY").as_deref() == Ok("fanout") {
        let fanout = rows::fanout(
            &sandbox,
            &fanout_charm,
            &server,
            FANOUT_FETCHES,
            FANOUT_DELAY_MS,
            FANOUT_REPEATS,
        )
        .await?;
        let urls: Vec<String> = (0..FANOUT_FETCHES)
            .map(|i| format!("{}?ms={FANOUT_DELAY_MS}&i={i}", server.url()))
            .collect();
        let deno_ms = deno.fanout(&fanout_js, &urls, FANOUT_REPEATS)?;
        println!(
            "{} fetches of {} ms at once: charm-host {:.0} ms, Deno {deno_ms:.0} ms",
            fanout.fetches, fanout.delay_ms, fanout.wall_ms
        );
        return Ok(());
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("io") {
        for pass in ["cold", "warm", "open loop"] {
            let spacing = match pass {
                "open loop" => OPEN_LOOP_SPACING,
                _ => Duration::ZERO,
            };
            let io = rows::io_bound(&sandbox, &io_charm, &server, sizes.io_charms, spacing).await?;
            // An open loop finishes at the rate its runs arrive.
            let rate = match pass {
                "open loop" => String::from("arriving at a steady rate"),
                _ => format!("{:.0} charms/s", io.charms_per_s),
            };
            println!(
                "{pass}: {rate}, added p50 {:.0} ms p99 {:.0} ms, peak RSS {} MiB (private {} MiB)",
                io.p50_added_ms,
                io.p99_added_ms,
                io.peak_rss >> 20,
                io.peak_anon >> 20
            );
        }
        return Ok(());
    }
    let latency = {
        let (sandbox, trivial) = (sandbox.clone(), trivial.clone());
        let tasks = sizes.trivial;
        std::thread::spawn(move || -> BenchResult<rows::Latency> {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(rows::trivial_latency(&sandbox, &trivial, tasks))
        })
        .join()
        .map_err(|_| "the one-thread row panicked")??
    };
    eprintln!("      the same under callgrind: {INSTRUCTIONS_PROGRESS}");
    let instructions = instructions::per_task(&scratch);

    eprintln!(
        "[3/11] row 2: {} trivial tasks on {cores} threads",
        sizes.throughput
    );
    let per_second =
        rows::trivial_throughput(&sandbox, &trivial, sizes.throughput, cores * 2).await?;

    eprintln!(
        "[4/11] row 3: {} charms at once (twice), then arriving at a steady rate, each awaiting a 500 ms loopback fetch",
        sizes.io_charms
    );
    // The first pass finds every pool slot cold (copy-on-write faults on the
    // runtime image); a service that runs its charms again finds them warm.
    let io_cold = rows::io_bound(
        &sandbox,
        &io_charm,
        &server,
        sizes.io_charms,
        Duration::ZERO,
    )
    .await?;
    let io = rows::io_bound(
        &sandbox,
        &io_charm,
        &server,
        sizes.io_charms,
        Duration::ZERO,
    )
    .await?;
    eprintln!(
        "      the same {} charms arriving at a steady {:.0} a second",
        sizes.io_charms,
        1.0 / OPEN_LOOP_SPACING.as_secs_f64()
    );
    let io_open = rows::io_bound(
        &sandbox,
        &io_charm,
        &server,
        sizes.io_charms,
        OPEN_LOOP_SPACING,
    )
    .await?;

    eprintln!(
        "[5/11] row 6: one charm awaiting {FANOUT_FETCHES} fetches of {FANOUT_DELAY_MS} ms at once"
    );
    let fanout = rows::fanout(
        &sandbox,
        &fanout_charm,
        &server,
        FANOUT_FETCHES,
        FANOUT_DELAY_MS,
        FANOUT_REPEATS,
    )
    .await?;

    eprintln!(
        "[6/11] row 8: HMAC-SHA256 x{HMAC_OPS} and RS256 x{RS256_OPS} per task, {} tasks each",
        sizes.crypto_rounds
    );
    let (hmac, rs256) = crypto_rows(&sandbox, &crypto_charm, sizes.crypto_rounds).await?;

    eprintln!(
        "[7/11] row 4: cold and warm starts, the RSS fixture's compile, {} fresh processes",
        sizes.cold_starts
    );
    let compile = rows::compile_costs(&root.join("charms-fixtures/rss.js"), &scratch).await?;
    let cold_first_task = rows::cold_first_task(binary, &trivial_js, sizes.cold_starts)?;

    eprintln!(
        "[8/11] idle charms: {} and {} registered, each run once",
        sizes.idle_small, sizes.idle_large
    );
    let idle = idle::idle_charms(
        &sandbox,
        binary,
        &root.join("charms-fixtures/counter.js"),
        &scratch,
        sizes.idle_small,
        sizes.idle_large,
    )
    .await?;

    eprintln!(
        "[9/11] Deno baselines ({}): fresh worker x{}, reused worker x{}, pool of 5 x{}",
        deno.version(),
        sizes.deno_fresh,
        sizes.deno_reused,
        sizes.deno_pool
    );
    let fresh = deno.latency("fresh", sizes.deno_fresh, &trivial_js)?;
    let reused = deno.latency("reused", sizes.deno_reused, &trivial_js)?;
    let pool = deno.pool(sizes.deno_pool, &io_js, &server.url())?;
    let fanout_urls: Vec<String> = (0..FANOUT_FETCHES)
        .map(|i| format!("{}?ms={FANOUT_DELAY_MS}&i={i}", server.url()))
        .collect();
    let deno_fanout = deno.fanout(&fanout_js, &fanout_urls, FANOUT_REPEATS)?;

    eprintln!("[10/11] row 7: nodes on one PostgreSQL database");
    let cluster = cluster::cluster_rows(binary, &benches, &root, &scratch, &server).await?;

    let sandbox_p50_us = latency.p50_us;
    let mut table = render(&Results {
        latency,
        instructions,
        per_second,
        io,
        io_cold,
        io_open,
        compile,
        runtime_bytes,
        cold_first_task,
        hmac,
        rs256,
        idle,
        fresh,
        reused,
        pool,
        fanout,
        deno_fanout,
        deno_version: deno.version(),
        cores,
    });
    render_cluster(&mut table, cluster.as_ref());
    eprintln!("[11/11] the service row: trivial runs through `serve`");
    let service = service_row(binary, &trivial_js, &scratch).await?;
    render_service(&mut table, &service, sandbox_p50_us);
    print!("{table}");
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, &table)?;
    eprintln!("written to {}", out.display());
    Ok(())
}

/// Row 8: an HMAC and an RS256 signature, each against its own baseline.
async fn crypto_rows(
    sandbox: &Sandbox,
    charm: &charm_engine::CompiledCharm,
    rounds: usize,
) -> BenchResult<(rows::CryptoOp, rows::CryptoOp)> {
    let hmac = rows::crypto_op(sandbox, charm, "hmac", HMAC_OPS, rounds).await?;
    // An RS256 task takes about a thousand times longer: fewer rounds.
    let rs256 = rows::crypto_op(sandbox, charm, "rs256", RS256_OPS, (rounds / 5).max(10)).await?;
    Ok((hmac, rs256))
}

struct Results {
    latency: rows::Latency,
    /// `None` when valgrind is not installed.
    instructions: Option<instructions::Instructions>,
    per_second: f64,
    io: rows::Io,
    io_cold: rows::Io,
    /// Row 3's charms arriving at a steady rate (issue 18's open loop).
    io_open: rows::Io,
    compile: rows::Compile,
    runtime_bytes: u64,
    cold_first_task: rows::ColdStart,
    hmac: rows::CryptoOp,
    rs256: rows::CryptoOp,
    idle: idle::Idle,
    fresh: deno::DenoLatency,
    reused: deno::DenoLatency,
    pool: deno::DenoPool,
    fanout: rows::Fanout,
    deno_fanout: f64,
    deno_version: String,
    cores: usize,
}

/// A target: the bound and whether smaller is better.
enum Target {
    AtMost(f64),
    AtLeast(f64),
    None,
}

impl Target {
    fn show(&self, unit: &str) -> String {
        match self {
            Target::AtMost(v) => format!("≤ {} {unit}", num(*v)),
            Target::AtLeast(v) => format!("≥ {} {unit}", num(*v)),
            Target::None => String::new(),
        }
    }

    fn met(&self, value: f64) -> &'static str {
        match self {
            Target::AtMost(v) if value <= *v => "yes",
            Target::AtLeast(v) if value >= *v => "yes",
            Target::None => "",
            _ => "**no**",
        }
    }
}

fn num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn render(r: &Results) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "charm-host bench, {}: {}\n\nDeno: {}. Each row measured in the same run; ratios are charm-host / Deno.\n",
        today(),
        stats::machine(),
        r.deno_version
    );
    let _ = writeln!(
        t,
        "| Row | Measure | charm-host | Deno baseline | Deno | charm-host / Deno | Target | Met |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|---|---|---|");
    let mut row =
        |n: &str, what: &str, value: f64, unit: &str, base: Option<(&str, f64)>, target: Target| {
            let (how, deno, ratio) = match base {
                Some((how, d)) => (
                    how.to_string(),
                    format!("{} {unit}", num(d)),
                    format!("{:.3}", value / d),
                ),
                None => (String::new(), String::new(), String::new()),
            };
            let _ = writeln!(
                t,
                "| {n} | {what} | {} {unit} | {how} | {deno} | {ratio} | {} | {} |",
                num(value),
                target.show(unit),
                target.met(value)
            );
        };
    let l = &r.latency;
    row(
        "1",
        "trivial task p50, fresh sandbox, 1 thread",
        l.p50_us,
        "µs",
        Some(("fresh worker per task", r.fresh.p50_us)),
        Target::AtMost(20.0),
    );
    row(
        "1",
        "trivial task p50 (vs reused worker)",
        l.p50_us,
        "µs",
        Some(("reused worker, postMessage", r.reused.p50_us)),
        Target::None,
    );
    row(
        "1",
        "trivial task p99, fresh sandbox, 1 thread",
        l.p99_us,
        "µs",
        Some(("fresh worker per task", r.fresh.p99_us)),
        Target::AtMost(60.0),
    );
    row(
        "1",
        "trivial task p99 (vs reused worker)",
        l.p99_us,
        "µs",
        Some(("reused worker, postMessage", r.reused.p99_us)),
        Target::None,
    );
    if let Some(counted) = &r.instructions {
        row(
            "1",
            "trivial task: instructions executed in user space (callgrind; the kernel's work not counted)",
            counted.per_task as f64,
            "instructions",
            None,
            Target::None,
        );
    }
    row(
        "2",
        &format!("trivial tasks per second, {} cores", r.cores),
        r.per_second,
        "tasks/s",
        None,
        Target::AtLeast(50_000.0),
    );
    let io = &r.io;
    row(
        "3",
        &format!(
            "{} charms awaiting a 500 ms fetch, pool warm: completed per second",
            io.charms
        ),
        io.charms_per_s,
        "charms/s",
        Some((
            &format!("pool of 5 workers, {} charms", r.pool.charms),
            r.pool.charms_per_s,
        )),
        Target::AtLeast(3000.0),
    );
    row(
        "3",
        "p99 delay added beyond the 500 ms",
        io.p99_added_ms,
        "ms",
        Some(("pool of 5 workers", r.pool.p99_added_ms)),
        Target::AtMost(20.0),
    );
    row(
        "3",
        "p50 delay added beyond the 500 ms",
        io.p50_added_ms,
        "ms",
        None,
        Target::None,
    );
    row(
        "3",
        "peak RSS of the process",
        io.peak_rss as f64 / (1 << 20) as f64,
        "MiB",
        None,
        Target::AtMost(1536.0),
    );
    row(
        "3",
        "peak private RSS (RssAnon; the RSS above counts the shared runtime image once per instance)",
        io.peak_anon as f64 / (1 << 20) as f64,
        "MiB",
        None,
        Target::None,
    );
    let cold = &r.io_cold;
    row(
        "3",
        "first pass, every pool slot cold: completed per second",
        cold.charms_per_s,
        "charms/s",
        None,
        Target::None,
    );
    row(
        "3",
        "first pass: p99 delay added",
        cold.p99_added_ms,
        "ms",
        None,
        Target::None,
    );
    let open = &r.io_open;
    row(
        "3",
        &format!(
            "open loop: {} charms arriving at {:.0} a second, each awaiting a 500 ms fetch: p99 delay added",
            open.charms,
            1.0 / OPEN_LOOP_SPACING.as_secs_f64()
        ),
        open.p99_added_ms,
        "ms",
        None,
        Target::None,
    );
    row(
        "3",
        "open loop: p50 delay added",
        open.p50_added_ms,
        "ms",
        None,
        Target::None,
    );
    let c = &r.compile;
    row(
        "4",
        "runtime size (charm-runtime.wasm, before pre-initialisation)",
        r.runtime_bytes as f64 / 1e6,
        "MB",
        None,
        Target::None,
    );
    row(
        "4",
        &format!(
            "cold start: first task of a fresh process, no runtime cache (`charm-host run --no-cache`; {:.0} ms CPU)",
            r.cold_first_task.cpu_ms
        ),
        r.cold_first_task.wall_ms,
        "ms",
        None,
        Target::None,
    );
    row(
        "4",
        "cold start: pre-initialise + compile the runtime, cache it",
        c.runtime_cold_ms,
        "ms",
        None,
        Target::None,
    );
    row(
        "4",
        "warm start: compiled runtime from the cache",
        c.runtime_warm_ms,
        "ms",
        None,
        Target::None,
    );
    row(
        "4",
        &format!(
            "register the RSS fixture: compile to bytecode ({} bytes)",
            c.charm_bytecode_bytes
        ),
        c.charm_compile_ms,
        "ms",
        None,
        Target::None,
    );
    let i = &r.idle;
    row(
        "4",
        &format!(
            "warm load of a charm before a run (bytecode from the store, {} charms)",
            i.large
        ),
        i.load_for_run_us / 1e3,
        "ms",
        None,
        Target::AtMost(5.0),
    );
    row(
        "5",
        &format!(
            "disk per idle charm beyond its {}-byte source and state",
            i.source_bytes
        ),
        i.disk_per_charm / 1e3,
        "KB",
        None,
        Target::AtMost(200.0),
    );
    row(
        "5",
        &format!(
            "daemon RSS per idle charm (one daemon grown from {} to {} registered, each run once)",
            i.small, i.large
        ),
        i.rss_per_charm / 1e3,
        "KB",
        None,
        Target::AtMost(200.0),
    );
    row(
        "5",
        &format!("daemon RSS with {} charms", i.large),
        i.rss_large as f64 / (1 << 20) as f64,
        "MiB",
        None,
        Target::None,
    );
    row(
        "5",
        "disk per finished run kept in history (pruned to --keep-runs)",
        i.disk_per_run / 1e3,
        "KB",
        None,
        Target::None,
    );
    row(
        "5",
        &format!(
            "dashboard's first page of {} charms, by last run (p50)",
            i.large
        ),
        i.list_page_ms,
        "ms",
        None,
        Target::None,
    );
    let f = &r.fanout;
    row(
        "6",
        &format!(
            "one charm awaiting {} fetches of {} ms at once: wall time",
            f.fetches, f.delay_ms
        ),
        f.wall_ms,
        "ms",
        Some(("one worker, the same charm", r.deno_fanout)),
        Target::None,
    );
    for (what, c) in [
        ("one HMAC-SHA256 of 1 KiB", &r.hmac),
        (
            "one RS256 signature (RSASSA-PKCS1-v1_5, SHA-256, 2048-bit key)",
            &r.rs256,
        ),
    ] {
        row(
            "8",
            &format!(
                "{what} in a charm: p50 of a task with {} minus one with none, per signature ({} fuel)",
                c.ops, c.fuel_per_op
            ),
            c.per_op_us,
            "µs",
            None,
            Target::None,
        );
    }
    let _ = writeln!(
        t,
        "\nPer trivial task (row 1): {} fuel, {:.2} MiB of linear memory, {:.1} minor page faults of the process; {}. The Deno pool row ran {} charms (at 5 at a time, {} would take {:.0} s).",
        r.latency.fuel,
        r.latency.memory_bytes as f64 / (1 << 20) as f64,
        r.latency.faults_per_task,
        match &r.instructions {
            Some(counted) => format!(
                "instructions from the difference of {} and {} tasks under callgrind ({}; `callgrind_annotate` reads it)",
                instructions::SHORT,
                instructions::LONG,
                counted.profile.display()
            ),
            None => "no instruction count: valgrind is not installed".to_string(),
        },
        r.pool.charms,
        r.io.charms,
        r.io.charms as f64 / r.pool.charms_per_s
    );
    t
}

/// Row 7, as its own table: no Deno baseline compares.
fn render_cluster(t: &mut String, cluster: Option<&cluster::Cluster>) {
    let Some(c) = cluster else {
        let _ = writeln!(
            t,
            "\nRow 7 (nodes on PostgreSQL) was skipped: no CHARM_HOST_TEST_PG."
        );
        return;
    };
    let _ = writeln!(
        t,
        "\n| Row | Measure | SQLite, 1 node | PostgreSQL, 1 node | PostgreSQL, 3 nodes | Target | Met |\n|---|---|---|---|---|---|---|"
    );
    let _ = writeln!(
        t,
        "| 7 | claim-to-start: queue wait of a manual trigger on an idle node, p50 ({} triggers) | {} ms | {} ms |  |  |  |",
        c.pg_wait.samples,
        num(c.sqlite_wait.p50),
        num(c.pg_wait.p50)
    );
    let _ = writeln!(
        t,
        "| 7 | claim-to-start, p99 | {} ms | {} ms |  | ≤ 50 ms | {} |",
        num(c.sqlite_wait.p99),
        num(c.pg_wait.p99),
        if c.sqlite_wait.p99 <= 50.0 && c.pg_wait.p99 <= 50.0 {
            "yes"
        } else {
            "**no**"
        }
    );
    let _ = writeln!(
        t,
        "| 7 | runs/s, I/O-bound ({} ms fetch, {} per node, standing backlog) |  | {} | {} | 3 nodes ≥ 2.7 × 1 node ({:.2} ×) | {} |",
        cluster::IO_MS,
        cluster::PER_NODE,
        num(c.io_1),
        num(c.io_3),
        c.io_3 / c.io_1,
        if c.io_3 >= 2.7 * c.io_1 { "yes" } else { "**no**" }
    );
    let _ = writeln!(
        t,
        "| 7 | runs/s, CPU-bound (50,000 loop iterations each; 2 cores cannot scale it) |  | {} | {} |  |  |",
        num(c.cpu_1),
        num(c.cpu_3)
    );
    let _ = writeln!(
        t,
        "| 7 | rescue after kill -9 of a node holding {} runs: last one interrupted / last retry started |  |  | {} / {} ms | retried ≤ 15000 ms | {} |",
        c.rescue.lost,
        c.rescue.interrupted_ms,
        c.rescue.retried_ms,
        if c.rescue.retried_ms <= 15_000 { "yes" } else { "**no**" }
    );
}

/// Today's date (UTC), from the system's `date`.
fn today() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
