//! Runs and failures per minute, for the dashboard's chart.

use std::collections::HashMap;

use charm_store::{Store, StoreError};
use serde::Serialize;

use super::policy::is_failure;

/// Runs finished in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MinuteStats {
    /// The minute's start, ms since the epoch.
    pub minute: i64,
    /// Runs that finished in it.
    pub runs: u64,
    /// Of those, runs that count as failures ([`is_failure`]).
    pub failures: u64,
}

/// Finished runs per minute over the `minutes` minutes up to `now` (ms since
/// the epoch), oldest first, every minute present (zeros included).
///
/// # Errors
/// When the store fails.
pub async fn minute_stats(
    store: &dyn Store,
    now: i64,
    minutes: u32,
) -> Result<Vec<MinuteStats>, StoreError> {
    let first = (now / 60_000 - i64::from(minutes) + 1) * 60_000;
    let mut by_minute: HashMap<i64, (u64, u64)> = HashMap::new();
    for counted in store.finished_per_minute(first).await? {
        let entry = by_minute.entry(counted.minute).or_default();
        entry.0 += counted.runs;
        if is_failure(counted.outcome) {
            entry.1 += counted.runs;
        }
    }
    Ok((0..i64::from(minutes))
        .map(|i| {
            let minute = first + i * 60_000;
            let (runs, failures) = by_minute.get(&minute).copied().unwrap_or((0, 0));
            MinuteStats {
                minute,
                runs,
                failures,
            }
        })
        .collect())
}
