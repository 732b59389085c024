//! This node's clock: milliseconds since the Unix epoch. Stored times come
//! from the database's clock (see `charm_store`), so that nodes whose
//! clocks disagree still agree on what is due and who is alive; this one
//! only measures how far the node's clock is from the database's (the
//! `charm_host_clock_skew_seconds` metric).

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    i64::try_from(charm_engine::unix_ms()).unwrap_or(i64::MAX)
}
