//! Runs that have ended and wait for their finish to be written.
//!
//! A run slot (`--max-concurrent`) is for executing: a sandbox and its
//! fetches. Once the sandbox has ended, the run moves from its slot to a
//! finishing place and waits there for its batch to commit
//! ([`super::finisher`]). Why: a run used to hold its slot until then, and
//! on PostgreSQL a batch of finishes is about a dozen round trips. At the
//! default 64 slots a node ran about 1,850 trivial runs a second with a
//! third of its two cores idle: each slot turned over every 35 ms, 27 of
//! them waiting for the finish (issue 18's thirty-second round).
//!
//! The database counts a finishing run as running until its finish
//! commits, so the claim is given the ids of this node's finishing runs
//! ([`charm_store::FairShare::finishing`]) and a space's share of the
//! slots counts only the runs that execute. (Its quota of runs in flight,
//! a limit an operator set, counts every running run.) Ids, not counts: a
//! run whose finish committed since is no longer running, and is not taken
//! off twice.
//!
//! Places are bounded, by count and by bytes, so results cannot pile up
//! faster than they are written: a result takes one place per MiB it
//! holds (its new state, its log, its recording), at least one. When the
//! places it needs are taken, the run keeps its slot until they free, and
//! the node claims no more meanwhile.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use charm_store::{Finished, RunId};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The finishing places of one node, and the runs in them.
pub(crate) struct Finishing {
    places: Arc<Semaphore>,
    total: u32,
    runs: Mutex<HashSet<RunId>>,
}

/// A run in its finishing places; dropping it frees them.
pub(crate) struct FinishingRun<'a> {
    finishing: &'a Finishing,
    run: RunId,
    _places: OwnedSemaphorePermit,
}

impl Finishing {
    /// `places` finishing places (at least one), one per MiB of results.
    pub(crate) fn new(places: u32) -> Finishing {
        let total = places.max(1);
        Finishing {
            places: Arc::new(Semaphore::new(total as usize)),
            total,
            runs: Mutex::new(HashSet::new()),
        }
    }

    /// Moves `run`, whose sandbox has ended with `finished`, from its run
    /// `slot` to finishing places: waits for them while it still holds the
    /// slot, then frees the slot.
    pub(crate) async fn enter(
        &self,
        run: RunId,
        finished: &Finished,
        slot: OwnedSemaphorePermit,
    ) -> Result<FinishingRun<'_>, OwnedSemaphorePermit> {
        let needed = places_for(finished).min(self.total);
        // The semaphore is never closed; if that changed, the run would
        // finish from its slot.
        let Ok(places) = Arc::clone(&self.places).acquire_many_owned(needed).await else {
            return Err(slot);
        };
        self.lock().insert(run);
        drop(slot);
        Ok(FinishingRun {
            finishing: self,
            run,
            _places: places,
        })
    }

    /// The ids of this node's finishing runs, for the claim.
    pub(crate) fn runs(&self) -> Vec<RunId> {
        self.lock().iter().copied().collect()
    }

    fn lock(&self) -> MutexGuard<'_, HashSet<RunId>> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The places a result takes: one per MiB of what it holds, at least one.
fn places_for(finished: &Finished) -> u32 {
    let bytes = finished.new_state.as_ref().map_or(0, String::len)
        + finished.log.len()
        + finished.error.as_ref().map_or(0, String::len)
        + finished.recording.as_ref().map_or(0, |r| r.data.len());
    u32::try_from(1 + (bytes >> 20)).unwrap_or(u32::MAX)
}

impl Drop for FinishingRun<'_> {
    fn drop(&mut self) {
        self.finishing.lock().remove(&self.run);
    }
}

#[cfg(test)]
mod tests {
    use charm_store::RunOutcome;

    use super::*;

    fn slots(n: usize) -> Arc<Semaphore> {
        Arc::new(Semaphore::new(n))
    }

    fn slot(slots: &Arc<Semaphore>) -> OwnedSemaphorePermit {
        Arc::clone(slots)
            .try_acquire_owned()
            .expect("a free run slot")
    }

    fn ended(state_bytes: usize) -> Finished {
        Finished {
            outcome: RunOutcome::Ok,
            error: None,
            new_state: Some("x".repeat(state_bytes)),
            fuel: 0,
            memory_bytes: 0,
            duration_ms: 0,
            log: String::new(),
            recording: None,
        }
    }

    #[tokio::test]
    async fn a_run_frees_its_slot_and_is_named_until_it_leaves() {
        let (finishing, run_slots) = (Finishing::new(4), slots(2));
        let a = finishing.enter(1, &ended(10), slot(&run_slots)).await;
        let b = finishing.enter(2, &ended(10), slot(&run_slots)).await;
        assert_eq!(run_slots.available_permits(), 2, "every slot is free");
        let mut named = finishing.runs();
        named.sort_unstable();
        assert_eq!(named, vec![1, 2]);
        drop(a);
        assert_eq!(finishing.runs(), vec![2]);
        drop(b);
        assert!(finishing.runs().is_empty());
        assert_eq!(finishing.places.available_permits(), 4);
    }

    #[tokio::test]
    async fn a_result_takes_a_place_per_mib_and_never_more_than_all() {
        let finishing = Finishing::new(4);
        let run_slots = slots(2);
        let big = finishing.enter(1, &ended(2 << 20), slot(&run_slots)).await;
        assert_eq!(finishing.places.available_permits(), 1, "3 places");
        drop(big);
        let huge = finishing.enter(2, &ended(64 << 20), slot(&run_slots)).await;
        assert_eq!(finishing.places.available_permits(), 0, "all 4, not 65");
        drop(huge);
    }

    #[tokio::test]
    async fn with_the_places_taken_a_run_keeps_its_slot_until_they_free() {
        let (finishing, run_slots) = (Arc::new(Finishing::new(1)), slots(2));
        let first = finishing.enter(1, &ended(10), slot(&run_slots)).await;
        let second = slot(&run_slots);
        let waiting = {
            let finishing = Arc::clone(&finishing);
            tokio::spawn(async move {
                let _run = finishing.enter(2, &ended(10), second).await;
            })
        };
        // On this one-thread runtime, yielding lets the spawned run go as
        // far as it can: to the wait for a place, slot in hand.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!waiting.is_finished(), "it waits for a place");
        assert_eq!(run_slots.available_permits(), 1, "the waiting run's slot");
        assert_eq!(finishing.runs(), vec![1]);
        drop(first);
        waiting.await.unwrap();
        assert_eq!(run_slots.available_permits(), 2);
        assert!(finishing.runs().is_empty());
    }
}
