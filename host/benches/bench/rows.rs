//! charm-host's rows: the same `run()` path the service uses, on one sandbox.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use charm_engine::limits::SandboxLimits;
use charm_engine::{
    compile, run, AllowList, CompiledCharm, LogIdentity, RecordMode, RunContext, Sandbox,
    SandboxOptions, StateChange, TaskSpec,
};

use crate::loopback::{SlowServer, IO_DELAY};
use crate::stats::{
    children_cpu_ms, micros, minor_faults, percentile, proc_status_bytes, reset_peak_rss,
};

pub type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Row 1.
pub struct Latency {
    pub p50_us: f64,
    pub p99_us: f64,
    pub fuel: u64,
    /// The task's largest linear memory.
    pub memory_bytes: u64,
    /// The process's minor page faults over the measured tasks, per task.
    pub faults_per_task: f64,
}

/// Row 4: the first task of a fresh process with no runtime cache.
pub struct ColdStart {
    pub wall_ms: f64,
    pub cpu_ms: f64,
}

/// Row 8: one Web Crypto operation inside a charm.
pub struct CryptoOp {
    /// Operations per task in the measured runs.
    pub ops: usize,
    /// p50 of a task doing `ops` operations, and of the same charm doing
    /// none (it still imports the key).
    pub p50_us: f64,
    pub p50_base_us: f64,
    /// (p50 - p50 of the baseline) / ops.
    pub per_op_us: f64,
    /// (fuel - fuel of the baseline) / ops.
    pub fuel_per_op: u64,
}

/// Row 3.
pub struct Io {
    pub charms: usize,
    pub charms_per_s: f64,
    pub p50_added_ms: f64,
    pub p99_added_ms: f64,
    pub peak_rss: u64,
    /// The largest private part of the RSS seen while the charms ran
    /// (`RssAnon`, sampled every 10 ms). The RSS also counts the runtime
    /// image's pages once for every instance that maps them, though they
    /// are one shared copy in memory.
    pub peak_anon: u64,
}

/// Row 6: one charm fanning out to many slow fetches at once.
pub struct Fanout {
    /// How many fetches the charm makes at once.
    pub fetches: usize,
    /// How long each takes on the server.
    pub delay_ms: u64,
    /// The run's wall time, median of the repeats.
    pub wall_ms: f64,
}

/// Row 4.
pub struct Compile {
    /// A process's first start: wizer pre-initialisation plus Cranelift,
    /// written to the cache.
    pub runtime_cold_ms: f64,
    /// A process's later starts: the compiled runtime read from the cache.
    pub runtime_warm_ms: f64,
    /// Registering the RSS fixture: its source to bytecode (median).
    pub charm_compile_ms: f64,
    pub charm_bytecode_bytes: usize,
}

pub fn spec(allow: AllowList) -> TaskSpec {
    TaskSpec {
        limits: SandboxLimits::default(),
        allow: Arc::new(allow),
        identity: LogIdentity {
            charm_id: "bench".to_string(),
            ..LogIdentity::default()
        },
        redactor: Arc::default(),
        // Every run in the service records (issue 14); `BENCH_RECORD=0`
        // measures without, for comparison.
        recording: if std::env::var("BENCH_RECORD").as_deref() == Ok("0") {
            RecordMode::Off
        } else {
            RecordMode::Record {
                max_bytes: charm_engine::DEFAULT_RECORD_BYTES,
            }
        },
    }
}

fn context(input: serde_json::Value) -> RunContext {
    RunContext {
        charm_id: "bench".to_string(),
        space: "default".to_string(),
        integration: None,
        run_id: "0".to_string(),
        input,
        events: serde_json::json!([]),
        now: 0,
        attempt: 1,
        idempotency_key: "bench:0".to_string(),
        secrets: charm_engine::Secrets::none(),
    }
}

pub async fn compile_file(sandbox: &Sandbox, path: &Path) -> BenchResult<CompiledCharm> {
    let source = std::fs::read_to_string(path)?;
    let name = path
        .file_name()
        .map_or("charm.js".into(), |n| n.to_string_lossy());
    Ok(compile(sandbox, &name, &source).await?)
}

/// Row 1: `tasks` runs of the trivial charm one after another, each in a
/// fresh sandbox task, its state carried from one run to the next.
pub async fn trivial_latency(
    sandbox: &Sandbox,
    charm: &CompiledCharm,
    tasks: usize,
) -> BenchResult<Latency> {
    let spec = spec(AllowList::default());
    let ctx = context(serde_json::Value::Null);
    let mut state = "{}".to_string();
    let mut samples = Vec::with_capacity(tasks);
    let mut fuel = 0;
    let mut memory_bytes = 0;
    let mut faults_before = 0;
    for i in 0..tasks + tasks / 10 {
        if i == tasks / 10 {
            faults_before = minor_faults().unwrap_or(0);
        }
        let started = Instant::now();
        let report = run(sandbox, charm, &state, &ctx, &spec).await;
        let elapsed = started.elapsed();
        match report.outcome {
            Ok(StateChange::Replace(next)) => state = next,
            other => return Err(format!("the trivial charm failed: {other:?}").into()),
        }
        // The first tenth warms the pool's slots and the allocator.
        if i >= tasks / 10 {
            samples.push(micros(elapsed));
            fuel = report.stats.fuel;
            memory_bytes = report.stats.memory_bytes;
        }
    }
    let faults = minor_faults().unwrap_or(0).saturating_sub(faults_before);
    let expected = format!("{{\"count\":{}}}", tasks + tasks / 10);
    if state != expected {
        return Err(format!("the counter ended at {state}, expected {expected}").into());
    }
    Ok(Latency {
        p50_us: percentile(&mut samples, 50.0),
        p99_us: percentile(&mut samples, 99.0),
        fuel,
        memory_bytes,
        faults_per_task: faults as f64 / tasks as f64,
    })
}

/// Row 8: the crypto charm doing `ops` signatures of kind `op` per task,
/// against the same charm doing none, `tasks` runs of each, alternating so
/// that the machine's drift falls on both alike. A signature's cost is the
/// difference of the two p50s over `ops`: what a charm pays for
/// `await crypto.subtle.sign(...)`, promise included, without the key
/// import and the task around it.
pub async fn crypto_op(
    sandbox: &Sandbox,
    charm: &CompiledCharm,
    op: &str,
    ops: usize,
    tasks: usize,
) -> BenchResult<CryptoOp> {
    let spec = spec(AllowList::default());
    let runs = [0, ops].map(|n| (n, context(serde_json::json!({ "op": op, "n": n }))));
    let mut samples = [Vec::with_capacity(tasks), Vec::with_capacity(tasks)];
    let mut fuel = [0u64; 2];
    // One warm-up round, then the measured ones.
    for round in 0..=tasks {
        for (i, (n, ctx)) in runs.iter().enumerate() {
            let started = Instant::now();
            let report = run(sandbox, charm, "{}", ctx, &spec).await;
            let elapsed = started.elapsed();
            match report.outcome {
                Ok(StateChange::Replace(state)) if state.contains(&format!("\"signed\":{n},")) => {}
                other => {
                    return Err(format!("the crypto charm ({op} x{n}) failed: {other:?}").into())
                }
            }
            if round > 0 {
                samples[i].push(micros(elapsed));
                fuel[i] = report.stats.fuel;
            }
        }
    }
    let p50_base_us = percentile(&mut samples[0], 50.0);
    let p50_us = percentile(&mut samples[1], 50.0);
    Ok(CryptoOp {
        ops,
        p50_us,
        p50_base_us,
        per_op_us: (p50_us - p50_base_us) / ops as f64,
        fuel_per_op: fuel[1].saturating_sub(fuel[0]) / ops as u64,
    })
}

/// Row 4: a fresh `charm-host run --no-cache` of the trivial charm: the
/// first task of a process with no compiled runtime to reuse (pre-initialise
/// and compile the runtime, compile the charm, instantiate, run), as the
/// process's wall time and its CPU time (user + system; Cranelift compiles
/// on every core, and the CPU time shows the work when other processes
/// compete for the cores). The medians of `repeats`.
pub fn cold_first_task(binary: &Path, charm: &Path, repeats: usize) -> BenchResult<ColdStart> {
    let mut walls = Vec::with_capacity(repeats);
    let mut cpus = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let cpu_before = children_cpu_ms().unwrap_or(0.0);
        let started = Instant::now();
        // CHARM_HOST_RUNTIME_WASM, when set, reaches the child too.
        let out = std::process::Command::new(binary)
            .arg("run")
            .arg("--no-cache")
            .arg(charm)
            .stdin(std::process::Stdio::null())
            .output()?;
        walls.push(started.elapsed().as_secs_f64() * 1e3);
        cpus.push(children_cpu_ms().unwrap_or(0.0) - cpu_before);
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || stdout.trim() != "{\"count\":1}" {
            return Err(format!(
                "charm-host run --no-cache failed ({}): {stdout} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
    }
    Ok(ColdStart {
        wall_ms: percentile(&mut walls, 50.0),
        cpu_ms: percentile(&mut cpus, 50.0),
    })
}

/// Row 2: `tasks` trivial runs spread over every worker thread of the
/// current (multi-threaded) runtime. Returns tasks per second.
pub async fn trivial_throughput(
    sandbox: &Sandbox,
    charm: &CompiledCharm,
    tasks: usize,
    workers: usize,
) -> BenchResult<f64> {
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (sandbox, charm) = (sandbox.clone(), charm.clone());
        let (next, failed) = (Arc::clone(&next), Arc::clone(&failed));
        handles.push(tokio::spawn(async move {
            let spec = spec(AllowList::default());
            let ctx = context(serde_json::Value::Null);
            while next.fetch_add(1, Ordering::Relaxed) < tasks {
                let report = run(&sandbox, &charm, "{\"count\":1}", &ctx, &spec).await;
                if report.outcome.is_err() {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for handle in handles {
        handle.await?;
    }
    let elapsed = started.elapsed();
    match failed.load(Ordering::Relaxed) {
        0 => Ok(tasks as f64 / elapsed.as_secs_f64()),
        n => Err(format!("{n} of {tasks} trivial runs failed").into()),
    }
}

/// Row 3: `charms` runs, each awaiting the slow server, arriving
/// `spacing` apart (`Duration::ZERO`: all at once; otherwise an open loop
/// at a steady rate). A run's added delay counts from when it was due to
/// arrive, so a backlog that makes later runs start late shows.
pub async fn io_bound(
    sandbox: &Sandbox,
    charm: &CompiledCharm,
    server: &SlowServer,
    charms: usize,
    spacing: Duration,
) -> BenchResult<Io> {
    let allow = AllowList::parse([server.addr.to_string()])?;
    let spec = Arc::new(spec(allow));
    let ctx = Arc::new(context(serde_json::json!({ "url": server.url() })));
    // One run first: the gateway builds this allow-list's HTTP client once.
    run(sandbox, charm, "{}", &ctx, &spec).await.outcome?;
    let served_before = server.served();
    reset_peak_rss();
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = std::thread::spawn({
        let sampling = Arc::clone(&sampling);
        move || {
            let mut peak = 0;
            while sampling.load(Ordering::Relaxed) {
                peak = peak.max(proc_status_bytes("self", "RssAnon").unwrap_or(0));
                std::thread::sleep(Duration::from_millis(10));
            }
            peak
        }
    });
    let started = Instant::now();
    let mut handles = Vec::with_capacity(charms);
    for i in 0..charms {
        let due = spacing * u32::try_from(i)?;
        if !spacing.is_zero() {
            tokio::time::sleep_until((started + due).into()).await;
        }
        let (sandbox, charm) = (sandbox.clone(), charm.clone());
        let (spec, ctx) = (Arc::clone(&spec), Arc::clone(&ctx));
        handles.push(tokio::spawn(async move {
            let report = run(&sandbox, &charm, "{}", &ctx, &spec).await;
            (report.outcome, started.elapsed().saturating_sub(due))
        }));
    }
    let mut added_ms = Vec::with_capacity(charms);
    for handle in handles {
        let (outcome, took) = handle.await?;
        if let Err(e) = outcome {
            return Err(format!("an I/O-bound run failed: {e}").into());
        }
        added_ms.push(took.saturating_sub(IO_DELAY).as_secs_f64() * 1e3);
    }
    let wall = started.elapsed();
    let peak_rss = proc_status_bytes("self", "VmHWM").unwrap_or(0);
    sampling.store(false, Ordering::Relaxed);
    let peak_anon = sampler.join().map_err(|_| "the RSS sampler panicked")?;
    let served = server.served() - served_before;
    if served != charms as u64 {
        return Err(format!("the server answered {served} requests for {charms} charms").into());
    }
    Ok(Io {
        charms,
        charms_per_s: charms as f64 / wall.as_secs_f64(),
        p50_added_ms: percentile(&mut added_ms, 50.0),
        p99_added_ms: percentile(&mut added_ms, 99.0),
        peak_rss,
        peak_anon,
    })
}

/// Row 6: one run awaiting `fetches` fetches of `delay_ms` each at once,
/// repeated `repeats` times; the median wall time.
pub async fn fanout(
    sandbox: &Sandbox,
    charm: &CompiledCharm,
    server: &SlowServer,
    fetches: usize,
    delay_ms: u64,
    repeats: usize,
) -> BenchResult<Fanout> {
    let allow = AllowList::parse([server.addr.to_string()])?;
    let mut spec = spec(allow);
    spec.limits.max_concurrent_fetches = u32::try_from(fetches)?;
    let urls: Vec<String> = (0..fetches)
        .map(|i| format!("{}?ms={delay_ms}&i={i}", server.url()))
        .collect();
    let ctx = context(serde_json::json!({ "urls": urls }));
    let mut walls = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let started = Instant::now();
        let report = run(sandbox, charm, "{}", &ctx, &spec).await;
        walls.push(started.elapsed().as_secs_f64() * 1e3);
        match report.outcome {
            Ok(StateChange::Replace(state))
                if state.contains(&format!("\"fetched\":{fetches}")) => {}
            other => return Err(format!("the fan-out charm failed: {other:?}").into()),
        }
    }
    Ok(Fanout {
        fetches,
        delay_ms,
        wall_ms: percentile(&mut walls, 50.0),
    })
}

/// Row 4: a cold start (empty cache), a warm start, and the RSS fixture's
/// compile.
pub async fn compile_costs(rss_fixture: &Path, scratch: &Path) -> BenchResult<Compile> {
    let cache = scratch.join("cold-cache");
    let _ = std::fs::remove_dir_all(&cache);
    let options = SandboxOptions {
        cache_dir: Some(cache.clone()),
        max_instances: 8,
        runtime_override: std::env::var_os("CHARM_HOST_RUNTIME_WASM").map(std::path::PathBuf::from),
        ..SandboxOptions::default()
    };
    let started = Instant::now();
    let sandbox = Sandbox::new(options.clone()).await?;
    let runtime_cold = started.elapsed();
    drop(sandbox);
    let mut warm = Vec::new();
    let mut sandbox = None;
    for _ in 0..5 {
        let started = Instant::now();
        sandbox = Some(Sandbox::new(options.clone()).await?);
        warm.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let sandbox = sandbox.ok_or("no sandbox")?;
    let mut compiles = Vec::new();
    let mut bytecode = 0;
    for _ in 0..20 {
        let started = Instant::now();
        let charm = compile_file(&sandbox, rss_fixture).await?;
        compiles.push(started.elapsed().as_secs_f64() * 1e3);
        bytecode = charm.bytecode.len();
    }
    Ok(Compile {
        runtime_cold_ms: runtime_cold.as_secs_f64() * 1e3,
        runtime_warm_ms: percentile(&mut warm, 50.0),
        charm_compile_ms: percentile(&mut compiles, 50.0),
        charm_bytecode_bytes: bytecode,
    })
}

/// Waits for `what` to hold, checking every 100 ms, for at most `limit`.
pub async fn wait_until<F, Fut>(what: &str, limit: Duration, mut check: F) -> BenchResult<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        if started.elapsed() > limit {
            return Err(format!("timed out after {limit:?} waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
