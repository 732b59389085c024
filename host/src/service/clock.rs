//! The service's clock: milliseconds since the Unix epoch, the unit of every
//! time the service stores or shows. One clock with `ctx.now`
//! (`charm_engine::unix_ms`), so a run's context and its record agree.

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    i64::try_from(charm_engine::unix_ms()).unwrap_or(i64::MAX)
}
