//! The WASI world's clocks and random generator, fed through the task's
//! [`Tape`]: read live and recorded, or served from a recording.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::SeedableRng as _;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtxBuilder};

use super::{Clock, Tape};

/// The resolution both clocks report, recorded or not: one a replay can
/// give back.
const RESOLUTION_NS: u64 = 1_000;

/// `Date.now()`'s clock.
struct WallClock(Arc<Tape>);

impl HostWallClock for WallClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(RESOLUTION_NS)
    }

    fn now(&self) -> Duration {
        let live = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Duration::from_nanos(self.0.read(Clock::Wall, live))
    }
}

/// The clock of `performance.now()` and timers: ns since the task began.
struct MonotonicClock {
    tape: Arc<Tape>,
    origin: Instant,
}

impl HostMonotonicClock for MonotonicClock {
    fn resolution(&self) -> u64 {
        RESOLUTION_NS
    }

    fn now(&self) -> u64 {
        let live = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.tape.read(Clock::Monotonic, live)
    }
}

/// Gives the WASI world `tape`'s clocks and a generator seeded from its
/// seed, unless the tape is off.
pub(crate) fn install(builder: &mut WasiCtxBuilder, tape: &Arc<Tape>) {
    let Some(seed) = tape.seed() else {
        return;
    };
    builder
        .secure_random(rand::rngs::StdRng::from_seed(seed))
        .wall_clock(WallClock(Arc::clone(tape)))
        .monotonic_clock(MonotonicClock {
            tape: Arc::clone(tape),
            origin: Instant::now(),
        });
}
