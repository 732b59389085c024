//! The Deno baselines: `benches/deno/baseline.js` run by the `deno` binary
//! named by `$DENO` (the Makefile installs it from PyPI when missing).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use crate::loopback::IO_DELAY;
use crate::rows::BenchResult;
use crate::stats::percentile;

pub struct Deno {
    binary: PathBuf,
    script: PathBuf,
}

/// Per-task latency of one mode, in microseconds.
pub struct DenoLatency {
    pub p50_us: f64,
    pub p99_us: f64,
}

/// The pool of 5 on the I/O row.
pub struct DenoPool {
    pub charms: usize,
    pub charms_per_s: f64,
    pub p99_added_ms: f64,
}

#[derive(Deserialize)]
struct LatencyOut {
    micros: Vec<f64>,
    count: u64,
}

#[derive(Deserialize)]
struct FanoutOut {
    walls_ms: Vec<f64>,
}

#[derive(Deserialize)]
struct PoolOut {
    delays_ms: Vec<f64>,
    wall_ms: f64,
}

impl Deno {
    /// Finds Deno: `$DENO`, else `deno` on the PATH.
    pub fn find(benches: &Path) -> BenchResult<Deno> {
        let binary = std::env::var_os("DENO")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("deno"));
        let version = Command::new(&binary).arg("--version").output();
        match version {
            Ok(out) if out.status.success() => Ok(Deno {
                binary,
                script: benches.join("deno/baseline.js"),
            }),
            _ => Err(format!(
                "Deno is needed for the baseline rows and `{}` does not run; \
                 use `make bench` (it installs Deno from PyPI) or set DENO=/path/to/deno",
                binary.display()
            )
            .into()),
        }
    }

    pub fn version(&self) -> String {
        Command::new(&self.binary)
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.lines().next().map(str::to_string))
            .unwrap_or_default()
    }

    fn baseline(&self, args: &[&str]) -> BenchResult<Vec<u8>> {
        let out = Command::new(&self.binary)
            .args(["run", "--quiet", "--allow-read", "--allow-net=127.0.0.1"])
            .arg(&self.script)
            .args(args)
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "the Deno baseline {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(out.stdout)
    }

    /// `mode` is `fresh` (a new worker per task) or `reused` (postMessage).
    pub fn latency(&self, mode: &str, tasks: usize, charm: &Path) -> BenchResult<DenoLatency> {
        let charm = charm.to_string_lossy();
        let out: LatencyOut =
            serde_json::from_slice(&self.baseline(&[mode, &tasks.to_string(), &charm])?)?;
        if out.micros.len() != tasks || out.count == 0 {
            return Err(format!("the Deno {mode} baseline ran {} tasks", out.micros.len()).into());
        }
        let mut micros = out.micros;
        Ok(DenoLatency {
            p50_us: percentile(&mut micros, 50.0),
            p99_us: percentile(&mut micros, 99.0),
        })
    }

    /// One worker running the fan-out charm `repeats` times with `urls`:
    /// the median wall time of a run, in milliseconds.
    pub fn fanout(&self, charm: &Path, urls: &[String], repeats: usize) -> BenchResult<f64> {
        let charm = charm.to_string_lossy();
        let urls = serde_json::to_string(urls)?;
        let out: FanoutOut = serde_json::from_slice(&self.baseline(&[
            "fanout",
            &repeats.to_string(),
            &charm,
            &urls,
        ])?)?;
        if out.walls_ms.len() != repeats {
            return Err(format!("the Deno fan-out ran {} times", out.walls_ms.len()).into());
        }
        let mut walls = out.walls_ms;
        Ok(percentile(&mut walls, 50.0))
    }

    /// The original service's shape: 5 workers, `tasks` submitted at once.
    pub fn pool(&self, tasks: usize, charm: &Path, url: &str) -> BenchResult<DenoPool> {
        let charm = charm.to_string_lossy();
        let out: PoolOut =
            serde_json::from_slice(&self.baseline(&["pool", &tasks.to_string(), &charm, url])?)?;
        if out.delays_ms.len() != tasks {
            return Err(format!("the Deno pool finished {} tasks", out.delays_ms.len()).into());
        }
        let delay_ms = IO_DELAY.as_secs_f64() * 1e3;
        let mut added: Vec<f64> = out.delays_ms.iter().map(|d| d - delay_ms).collect();
        Ok(DenoPool {
            charms: tasks,
            charms_per_s: tasks as f64 / (out.wall_ms / 1e3),
            p99_added_ms: percentile(&mut added, 99.0),
        })
    }
}
