//! The runs this process is executing, each with the token that stops it:
//! how a user's cancel reaches a running run. The API cancels a run held
//! here at once; a run held by another node is stopped by that node, which
//! looks for cancel requests in the store every [`CANCEL_POLL`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use charm_store::RunId;
use tokio_util::sync::CancellationToken;

/// How often a node with runs in flight asks the store whether a user
/// asked to cancel one of them (through another node).
pub const CANCEL_POLL: Duration = Duration::from_secs(1);

/// The runs in flight in this process.
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<Mutex<HashMap<RunId, CancellationToken>>>);

/// Removes its run from [`InFlight`] when the run ends.
pub struct Registered {
    runs: InFlight,
    run: RunId,
    /// Cancelled when a user cancels the run.
    pub token: CancellationToken,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.runs.lock().remove(&self.run);
    }
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RunId, CancellationToken>> {
        // The map holds no invariant a panic could break halfway.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `run` as in flight until the returned guard drops.
    pub fn register(&self, run: RunId) -> Registered {
        let token = CancellationToken::new();
        self.lock().insert(run, token.clone());
        Registered {
            runs: self.clone(),
            run,
            token,
        }
    }

    /// Stops `run` if it runs here; whether it did.
    pub fn cancel(&self, run: RunId) -> bool {
        match self.lock().get(&run) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Whether any run is in flight.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}
