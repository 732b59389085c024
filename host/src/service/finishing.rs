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
//! commits, so the claim is told how many of this node's runs are
//! finishing in each space ([`charm_store::FairShare::finishing`]): a
//! space's share of the slots, and its quota of runs in flight, count only
//! the runs that execute. Finishing places are bounded, so results cannot
//! pile up faster than they are written: when every place is taken, a run
//! keeps its slot until one frees, and the node claims no more meanwhile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The finishing places of one node, and who holds them.
pub(crate) struct Finishing {
    places: Arc<Semaphore>,
    /// Runs in a finishing place, by their charm's space.
    by_space: Mutex<HashMap<String, u32>>,
}

/// A run in a finishing place; leaving it (drop, once the finish is
/// written or given up) frees the place.
pub(crate) struct FinishingRun<'a> {
    finishing: &'a Finishing,
    space: Option<String>,
    _place: Option<OwnedSemaphorePermit>,
}

impl Finishing {
    /// `places` finishing places (at least one).
    pub(crate) fn new(places: usize) -> Finishing {
        Finishing {
            places: Arc::new(Semaphore::new(places.max(1))),
            by_space: Mutex::new(HashMap::new()),
        }
    }

    /// Moves a run whose sandbox has ended from its run `slot` to a
    /// finishing place: waits for a place while it still holds the slot,
    /// then frees the slot. `space` is its charm's (`None` when the charm
    /// was not read: the claim then counts the run as running until its
    /// finish commits, as before).
    pub(crate) async fn enter(
        &self,
        space: Option<&str>,
        slot: OwnedSemaphorePermit,
    ) -> FinishingRun<'_> {
        // The semaphore is never closed, so this only fails if that
        // changes; the run then finishes from its slot.
        let place = Arc::clone(&self.places).acquire_owned().await.ok();
        if place.is_none() {
            return FinishingRun {
                finishing: self,
                space: None,
                _place: None,
            };
        }
        if let Some(space) = space {
            *self.lock().entry(space.to_string()).or_insert(0) += 1;
        }
        drop(slot);
        FinishingRun {
            finishing: self,
            space: space.map(str::to_string),
            _place: place,
        }
    }

    /// This node's finishing runs by space, for the claim.
    pub(crate) fn by_space(&self) -> Vec<(String, u32)> {
        self.lock()
            .iter()
            .map(|(space, runs)| (space.clone(), *runs))
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, u32>> {
        self.by_space.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for FinishingRun<'_> {
    fn drop(&mut self) {
        let Some(space) = self.space.take() else {
            return;
        };
        let mut by_space = self.finishing.lock();
        if let Some(runs) = by_space.get_mut(&space) {
            *runs = runs.saturating_sub(1);
            if *runs == 0 {
                by_space.remove(&space);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(n: usize) -> Arc<Semaphore> {
        Arc::new(Semaphore::new(n))
    }

    #[tokio::test]
    async fn a_run_frees_its_slot_and_is_counted_in_its_space_until_it_leaves() {
        let (finishing, run_slots) = (Finishing::new(4), slots(2));
        let a = finishing
            .enter(
                Some("a"),
                Arc::clone(&run_slots).acquire_owned().await.unwrap(),
            )
            .await;
        let b = finishing
            .enter(
                Some("a"),
                Arc::clone(&run_slots).acquire_owned().await.unwrap(),
            )
            .await;
        let unread = finishing
            .enter(None, Arc::clone(&run_slots).acquire_owned().await.unwrap())
            .await;
        assert_eq!(run_slots.available_permits(), 2, "every slot is free");
        assert_eq!(finishing.by_space(), vec![("a".to_string(), 2)]);
        drop(a);
        assert_eq!(finishing.by_space(), vec![("a".to_string(), 1)]);
        drop((b, unread));
        assert!(finishing.by_space().is_empty(), "no space left at zero");
        assert_eq!(finishing.places.available_permits(), 4);
    }

    #[tokio::test]
    async fn with_every_place_taken_a_run_keeps_its_slot_until_one_frees() {
        let (finishing, run_slots) = (Arc::new(Finishing::new(1)), slots(2));
        let first = finishing
            .enter(
                Some("a"),
                Arc::clone(&run_slots).acquire_owned().await.unwrap(),
            )
            .await;
        let slot = Arc::clone(&run_slots).acquire_owned().await.unwrap();
        let waiting = {
            let finishing = Arc::clone(&finishing);
            tokio::spawn(async move {
                let _run = finishing.enter(Some("b"), slot).await;
            })
        };
        // On this one-thread runtime, yielding lets the spawned run go as
        // far as it can: to the wait for a place, slot in hand.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!waiting.is_finished(), "it waits for a place");
        assert_eq!(run_slots.available_permits(), 1, "the waiting run's slot");
        assert_eq!(finishing.by_space(), vec![("a".to_string(), 1)]);
        drop(first);
        waiting.await.unwrap();
        assert_eq!(run_slots.available_permits(), 2);
        assert!(finishing.by_space().is_empty());
    }
}
