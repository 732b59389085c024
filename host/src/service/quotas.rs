//! Watches the spaces that a quota keeps from running: the fuel per hour
//! blocks a space's claims in the store (see `charm_store::quota`), and
//! this loop makes that visible, as `charm_host_space_quota_blocked{space,
//! quota}` and one log line when a space is blocked and one when it may run
//! again. It decides nothing: enforcement is the store's, in the
//! transactions of the changes each quota limits.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use charm_store::{QuotaBlock, Store};
use tokio_util::sync::CancellationToken;

use super::metrics::Metrics;

/// How often the blocked spaces are read: the bound on how late the
/// metric and the log line follow a block (a block lasts minutes).
pub(crate) const QUOTA_POLL: Duration = Duration::from_secs(2);

/// Reads the blocked spaces every [`QUOTA_POLL`] until `stop`.
pub(crate) async fn watch_quotas(
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    let mut known: BTreeMap<String, QuotaBlock> = BTreeMap::new();
    loop {
        match store.blocked_spaces().await {
            Ok(blocked) => {
                metrics.quota_blocked(&blocked);
                let now: BTreeMap<String, QuotaBlock> = blocked.into_iter().collect();
                for (space, block) in &now {
                    if known.get(space).is_none_or(|k| k.until != block.until) {
                        tracing::warn!(
                            space = %space,
                            quota = %block.quota,
                            limit = block.limit,
                            used = block.used,
                            until_ms = block.until,
                            "space `{space}` is over its quota of {} fuel per hour ({} used in the last hour): its runs wait, unblamed, until the hour has room",
                            block.limit,
                            block.used
                        );
                    }
                }
                for space in known.keys().filter(|s| !now.contains_key(*s)) {
                    tracing::info!(space = %space, "space `{space}` is within its fuel quota again; its runs start");
                }
                known = now;
            }
            Err(error) => tracing::warn!(%error, "could not read the spaces blocked by a quota"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(QUOTA_POLL) => {}
        }
    }
}
