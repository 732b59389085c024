//! Row 1's instructions a task, counted by callgrind.
//!
//! Why: on this shared 2-core machine a task's time moves by 10% between
//! runs; the instructions it executes do not, so a change to its cost shows
//! there first (issue 18 asks for them beside the times). The bench runs
//! itself under `valgrind --tool=callgrind` twice, with a short and a long
//! count of trivial tasks, and divides the difference in instructions by
//! the difference in tasks: the process's start (the runtime read from the
//! cache, the charm's compile) is in both and cancels out. Under valgrind
//! the CPU's features differ, and so does the compiled runtime's cache
//! key: a first child compiles the runtime once for them (minutes under
//! valgrind, the first time only) so that neither measured run does.
//!
//! Callgrind counts the instructions the process executes in user space,
//! every thread's: the guest's compiled code, wasmtime and libc. It does
//! not count the kernel's work for a task (page faults, the pool slot's
//! `PAGEMAP_SCAN`), which row 1's time includes. The engine's epoch ticker
//! (a thread that wakes every 10 ms) is counted too, by wall time: under
//! valgrind about a hundred instructions a task, within the runs' spread.
//! The count does not depend on the machine's speed, but it does on its
//! CPU features, which choose Cranelift's code and libc's `memcpy`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::rows::BenchResult;

/// Set in the child that callgrind runs: how many trivial tasks to run
/// (as row 1 does: that many and a tenth more to warm up).
pub const CHILD_TASKS_ENV: &str = "BENCH_CALLGRIND_TASKS";

/// The task counts: the short run's start cancels out of the long one.
/// The warm-up run fills the cache.
const WARM: usize = 10;
pub const SHORT: usize = 100;
pub const LONG: usize = 1_100;

/// Row 1 under callgrind.
pub struct Instructions {
    /// Instructions (callgrind's `Ir`) a trivial task, in user space.
    pub per_task: u64,
    /// The long run's profile, for `callgrind_annotate`.
    pub profile: PathBuf,
}

/// Counts row 1's instructions a task; `None` when valgrind is not
/// installed (`apt install valgrind`) or fails, with a warning on stderr
/// for the latter, so that the rest of the bench still runs.
pub fn per_task(scratch: &Path) -> Option<Instructions> {
    if Command::new("valgrind").arg("--version").output().is_err() {
        return None;
    }
    match count(scratch) {
        Ok(counted) => Some(counted),
        Err(e) => {
            eprintln!("      row 1's instruction count is left out: {e}");
            None
        }
    }
}

/// [`per_task`], its errors: a child that fails, or a profile with no
/// total.
fn count(scratch: &Path) -> BenchResult<Instructions> {
    collected(scratch, WARM)?;
    let short = collected(scratch, SHORT)?;
    let long = collected(scratch, LONG)?;
    // Row 1 runs a tenth more tasks to warm up; they are counted here too.
    let tasks = (LONG + LONG / 10) - (SHORT + SHORT / 10);
    let extra = long
        .0
        .checked_sub(short.0)
        .ok_or("the long callgrind run counted fewer instructions than the short one")?;
    Ok(Instructions {
        per_task: extra / tasks as u64,
        profile: long.1,
    })
}

/// Runs this bench under callgrind with `tasks` trivial tasks; returns the
/// instructions it counted and where its profile is.
fn collected(scratch: &Path, tasks: usize) -> BenchResult<(u64, PathBuf)> {
    let profile = scratch.join(format!("callgrind.row1.{tasks}.out"));
    let output = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", profile.display()))
        .arg(std::env::current_exe()?)
        .arg("--bench")
        .env(CHILD_TASKS_ENV, tasks.to_string())
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!(
            "the bench under callgrind ({tasks} tasks) failed: {}\n{}",
            output.status,
            {
                let lines: Vec<&str> = stderr.lines().collect();
                lines[lines.len().saturating_sub(20)..].join("\n")
            }
        )
        .into());
    }
    // The profile's header holds every thread's total ("summary: N"),
    // whatever `VALGRIND_OPTS` does to valgrind's own output.
    let text = std::fs::read_to_string(&profile)?;
    let total = text
        .lines()
        .find_map(|line| line.strip_prefix("summary:")?.trim().parse::<u64>().ok())
        .ok_or_else(|| format!("{} holds no \"summary:\" total", profile.display()))?;
    Ok((total, profile))
}
