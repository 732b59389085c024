//! The local half of wake-ups: a signal raised after a commit that queued
//! work, so that this process's claim loop looks at once instead of at its
//! next poll. Backends shared by several nodes add a remote half (the
//! PostgreSQL backend's LISTEN/NOTIFY).

use tokio::sync::Notify;

/// Raised when runs may be claimable; at most one wake-up is kept while
/// nobody waits, so a burst of commits costs the claim loop one look.
#[derive(Debug, Default)]
pub(crate) struct Wake(Notify);

impl Wake {
    /// Wakes the waiter, or the next one to wait.
    pub(crate) fn raise(&self) {
        self.0.notify_one();
    }

    /// Waits for the next [`Wake::raise`] (or the one kept since the last
    /// wait).
    pub(crate) async fn wait(&self) {
        self.0.notified().await;
    }
}
