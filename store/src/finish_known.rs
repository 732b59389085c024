//! A finished run whose every write is known once its run's row is read.
//!
//! Both backends record a batch of finished runs with one lookup (the
//! runs, their charms, their spaces' quotas, their states' versions) and
//! then, for the common case, writes decided from that lookup alone: no
//! statement waits on the answer of the one before. SQLite runs those
//! writes on its handle in one turn (`sqlite/finish.rs`); PostgreSQL runs
//! each kind once for the whole batch (`postgres/finish.rs`). A finish that
//! is not [`Known`] takes the checked path (`rows::write_finish!`), where
//! each write is decided on the answer of the one before; both record the
//! same rows (the differential tests in `tests/sqlite.rs` and
//! `tests/postgres.rs`).

use std::collections::{BTreeMap, BTreeSet};

use crate::rows::{before_from, clamp_i64, run_cost, Columns};
use crate::{
    Before, CharmId, CharmUpdate, EventsAfter, Finished, NodeId, Quota, RunId, RunOutcome,
    StoreError, UpdatePolicy,
};

/// What the lookup read about a run this node owns.
pub(crate) struct Owned {
    pub(crate) charm: CharmId,
    pub(crate) space: String,
    pub(crate) base: i64,
    /// The version the charm's state is at, as the lookup read it.
    pub(crate) state_now: Option<i64>,
    pub(crate) before: Before,
    pub(crate) now: i64,
    pub(crate) quota: Quota,
}

impl Owned {
    /// Reads a lookup's row: the run's `charm_id`, `base_version` and
    /// `state_version_now`, its charm's `space`, `now` and the columns of
    /// [`before_from`] and [`crate::quota::overrides_from`].
    pub(crate) fn from_row(row: &impl Columns, defaults: Quota) -> Result<Self, StoreError> {
        Ok(Self {
            charm: crate::rows::charm_id(row, "charm_id")?,
            space: row.text("space")?,
            base: row.int("base_version")?,
            state_now: row.opt_int("state_version_now")?,
            before: before_from(row)?,
            now: row.int("now")?,
            quota: crate::quota::overrides_from(row)?.over(defaults),
        })
    }
}

/// A finished run whose every write is known from the lookup.
///
/// Known means: the run writes no state, or its state is still at the
/// version the run started from and its space has no state quota (on SQLite
/// one writer: nothing changes between the lookup and the writes; on
/// PostgreSQL the lookup locks the charm, and the batch's compare-and-set
/// must write every state or the batch is recorded run by run); its space
/// has no fuel budget (no block to compute); and its events, if any, stay
/// as they are (nothing to settle or follow up). Then the run is recorded as
/// it finished, its state is written as `base + 1`, and the writes are
/// those of `write_finish!`, in the same order, and then what
/// `quota::account_cost` writes, summed for the batch's runs of a space
/// (both backends write those once a space, after the other writes of
/// the known finishes before them).
pub(crate) struct Known<'a> {
    pub(crate) run: RunId,
    pub(crate) node: &'a NodeId,
    pub(crate) finished: &'a Finished,
    pub(crate) owned: Owned,
    pub(crate) update: CharmUpdate,
    /// The state the run writes, and the version it becomes.
    pub(crate) state: Option<(&'a str, i64)>,
}

impl<'a> Known<'a> {
    /// The run's finish if it is known; else `owned` back (boxed: the slow
    /// path's, and it keeps the common `Ok` small).
    pub(crate) fn of(
        run: RunId,
        node: &'a NodeId,
        finished: &'a Finished,
        policy: UpdatePolicy<'_>,
        owned: Owned,
    ) -> Result<Self, Box<Owned>> {
        let state = match (&finished.outcome, &finished.new_state) {
            (RunOutcome::Ok, Some(state)) => Some(state.as_str()),
            _ => None,
        };
        let state_is_known = state.is_none()
            || (owned.quota.max_state_bytes == 0 && owned.state_now == Some(owned.base));
        if !state_is_known || owned.quota.max_fuel_per_hour > 0 {
            return Err(Box::new(owned));
        }
        let update = policy(owned.before, owned.now);
        if update.events != EventsAfter::Keep {
            return Err(Box::new(owned));
        }
        let state = state.map(|state| (state, owned.base + 1));
        Ok(Known {
            run,
            node,
            finished,
            owned,
            update,
            state,
        })
    }
}

/// What a batch of known finishes adds to its spaces' usage: what
/// `quota::account_cost` writes run by run, summed a space (the cost) and
/// a space's minute (the fuel), so that each backend writes each sum once
/// for the batch. The sums are what the runs would have added one by one;
/// no known finish reads them (a space with a fuel budget is not known).
#[derive(Debug, Default)]
pub(crate) struct SpaceUsage<'k> {
    /// Each space's cost, in fair-share fuel units (`rows::run_cost`). A
    /// float, as each run's: a space's sum may pass i64 over time.
    pub(crate) cost: BTreeMap<&'k str, f64>,
    /// Each space's fuel, by minute since the epoch.
    pub(crate) fuel: BTreeMap<(&'k str, i64), i64>,
    /// Every space of the batch, whatever its runs cost.
    pub(crate) spaces: BTreeSet<&'k str>,
}

impl<'k> SpaceUsage<'k> {
    /// The sums of `known`'s finishes.
    pub(crate) fn of<'a: 'k>(known: impl IntoIterator<Item = &'k Known<'a>>) -> Self {
        let mut usage = SpaceUsage::default();
        for k in known {
            let space = k.owned.space.as_str();
            usage.spaces.insert(space);
            let cost = run_cost(k.finished);
            if cost > 0 {
                *usage.cost.entry(space).or_default() += cost as f64;
            }
            if k.finished.fuel > 0 {
                let minute = k.owned.now.div_euclid(60_000);
                let fuel = usage.fuel.entry((space, minute)).or_default();
                *fuel = fuel.saturating_add(clamp_i64(k.finished.fuel));
            }
        }
        usage
    }
}

#[cfg(test)]
mod tests {
    use super::{Known, Owned};
    use crate::{Before, CharmId, EventsAfter, Finished, NodeId, Quota, RunOutcome};

    fn owned(quota: Quota, state_now: Option<i64>) -> Owned {
        Owned {
            charm: CharmId::parse(&format!("{:032x}", 1)).expect("an id"),
            space: "s".into(),
            base: 3,
            state_now,
            before: Before::default(),
            now: 1_000,
            quota,
        }
    }

    fn finished(outcome: RunOutcome, state: Option<&str>) -> Finished {
        Finished {
            outcome,
            error: None,
            new_state: state.map(str::to_string),
            fuel: 10,
            memory_bytes: 1,
            duration_ms: 1,
            log: String::new(),
            recording: None,
        }
    }

    /// Which finishes are known, and which take the checked path: the
    /// differential tests in `tests/sqlite.rs` and `tests/postgres.rs`
    /// compare the two only if the first store's finishes are known.
    #[test]
    fn a_finish_is_known_only_when_no_write_depends_on_another() {
        let node = NodeId::parse(&format!("{:032x}", 2)).expect("a node id");
        let keep = |b: Before, _| crate::CharmUpdate {
            consecutive_failures: b.failures,
            next_run_at: None,
            disable: None,
            events: EventsAfter::Keep,
            heavy_runs: 0,
            penalty: None,
        };
        let ack = |b: Before, now| crate::CharmUpdate {
            events: EventsAfter::Ack { priority: 0 },
            ..keep(b, now)
        };
        let wrote = finished(RunOutcome::Ok, Some("{}"));
        let failed = finished(RunOutcome::Error, Some("{}"));
        let quiet = finished(RunOutcome::Ok, None);
        let budget = Quota {
            max_fuel_per_hour: 1,
            ..Quota::default()
        };
        let state_quota = Quota {
            max_state_bytes: 1,
            ..Quota::default()
        };
        let none = Quota::default();
        let known = |f: &Finished, quota, state_now, policy: crate::UpdatePolicy<'_>| {
            Known::of(1, &node, f, policy, owned(quota, state_now)).is_ok()
        };
        assert!(known(&wrote, none, Some(3), &keep));
        assert_eq!(
            Known::of(1, &node, &wrote, &keep, owned(none, Some(3)))
                .ok()
                .and_then(|k| k.state),
            Some(("{}", 4)),
            "the state is written as the next version"
        );
        assert!(
            known(&failed, state_quota, Some(9), &keep),
            "a failed run writes no state"
        );
        assert!(known(&quiet, state_quota, Some(9), &keep));
        assert!(!known(&wrote, none, Some(4), &keep), "the state moved");
        assert!(!known(&wrote, state_quota, Some(3), &keep));
        assert!(!known(&quiet, budget, Some(3), &keep));
        assert!(!known(&quiet, none, Some(3), &ack));
    }
}
