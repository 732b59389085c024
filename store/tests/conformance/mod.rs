//! The store's conformance suite: one set of cases, run against every
//! backend (`sqlite.rs`, and each backend added later), as River's driver
//! tests and Oban's engine tests do. A backend's test file opens a fresh
//! store per case and expands [`conformance_cases!`].

use std::any::Any;
use std::sync::Arc;

use charm_store::{
    CharmCode, CharmFilter, CharmId, CharmUpdate, Enqueued, Finished, NewCharm, RunId, RunOutcome,
    RunStatus, SortKey, Store, Trigger,
};

/// A fresh, empty store, and whatever keeps it alive (a temporary folder).
pub struct Fresh {
    pub store: Arc<dyn Store>,
    pub _keep: Box<dyn Any + Send>,
}

/// Priorities as the service's policy sets them: manual before scheduled
/// before recovery.
pub const MANUAL: i64 = 20;
pub const SCHEDULE: i64 = 10;
pub const RECOVERY: i64 = 0;

/// A distinct, valid charm id from a small number.
pub fn id(n: u8) -> CharmId {
    CharmId::parse(&format!("{n:032x}")).expect("a valid id")
}

pub fn code(n: u8) -> CharmCode {
    CharmCode {
        id: id(n),
        space: "s".into(),
        name: "c.js".into(),
        integration: None,
        source: "export function bgUpdater() {}".into(),
        source_sha256: "x".into(),
        bytecode: vec![1, 2, 3],
        runtime_sha256: "r".into(),
        interval_s: 60,
        limits: serde_json::json!({"fuel": 1000000}),
        allowed_hosts: vec![],
        enabled: true,
        disabled_reason: None,
        disabled_at: None,
        consecutive_failures: 0,
        next_run_at: 0,
    }
}

pub async fn add(store: &dyn Store, code: CharmCode) -> CharmId {
    let id = code.id.clone();
    store
        .insert_charm(&NewCharm {
            code,
            state: "{\"n\":0}".into(),
        })
        .await
        .unwrap();
    id
}

/// The priority the service's policy gives `trigger`.
fn priority(trigger: Trigger) -> i64 {
    match trigger {
        Trigger::Manual => MANUAL,
        Trigger::Schedule => SCHEDULE,
        Trigger::Recovery => RECOVERY,
    }
}

/// Queues a run of a charm that exists and is enabled.
pub async fn enqueue(s: &dyn Store, charm: &CharmId, trigger: Trigger) -> Enqueued {
    s.enqueue_run(charm, trigger, priority(trigger), None)
        .await
        .unwrap()
        .expect("an enabled charm takes runs")
}

/// Queues, claims and finishes one run of `charm` as `finished` says.
pub async fn run_once(s: &dyn Store, charm: &CharmId, finished: &Finished) -> RunId {
    enqueue(s, charm, Trigger::Manual).await;
    let run = s.claim_next_run().await.unwrap().unwrap();
    s.finish_run_if_running(run.id, charm, finished, &|_| keep(0))
        .await
        .unwrap();
    run.id
}

pub fn ok(state: Option<&str>) -> Finished {
    Finished {
        outcome: RunOutcome::Ok,
        error: None,
        new_state: state.map(str::to_string),
        fuel: 1,
        memory_bytes: 1,
        duration_ms: 1,
        log: String::new(),
    }
}

pub fn keep(failures: u32) -> CharmUpdate {
    CharmUpdate {
        consecutive_failures: failures,
        next_run_at: None,
        disable: None,
    }
}

pub async fn triggers_coalesce_and_manual_work_is_claimed_first(s: &dyn Store) {
    let a = add(s, code(1)).await;
    let b = add(s, code(2)).await;
    let scheduled = enqueue(s, &a, Trigger::Schedule).await;
    assert!(!scheduled.coalesced);
    let again = enqueue(s, &a, Trigger::Schedule).await;
    assert_eq!((again.run_id, again.coalesced), (scheduled.run_id, true));
    let manual = s
        .enqueue_run(&b, Trigger::Manual, MANUAL, Some("{\"x\":1}"))
        .await
        .unwrap()
        .unwrap();
    let first = s.claim_next_run().await.unwrap().unwrap();
    assert_eq!(
        (first.id, first.trigger, first.input.as_deref()),
        (manual.run_id, Trigger::Manual, Some("{\"x\":1}"))
    );
    assert_eq!(
        s.claim_next_run().await.unwrap().unwrap().id,
        scheduled.run_id
    );
    assert!(s.claim_next_run().await.unwrap().is_none());
    assert!(s
        .enqueue_run(&id(99), Trigger::Manual, MANUAL, None)
        .await
        .unwrap()
        .is_none());
}

pub async fn a_joined_run_takes_the_higher_priority(s: &dyn Store) {
    let a = add(s, code(1)).await;
    let b = add(s, code(2)).await;
    let scheduled = enqueue(s, &a, Trigger::Schedule).await;
    enqueue(s, &b, Trigger::Schedule).await;
    let joined = enqueue(s, &a, Trigger::Manual).await;
    assert_eq!((joined.run_id, joined.coalesced), (scheduled.run_id, true));
    let first = s.claim_next_run().await.unwrap().unwrap();
    assert_eq!((first.charm_id, first.trigger), (a, Trigger::Manual));
}

pub async fn a_charm_never_runs_twice_at_once(s: &dyn Store) {
    let a = add(s, code(1)).await;
    enqueue(s, &a, Trigger::Schedule).await;
    let running = s.claim_next_run().await.unwrap().unwrap();
    // One more may queue behind the running one, but not start.
    let next = enqueue(s, &a, Trigger::Manual).await;
    assert!(!next.coalesced);
    assert!(
        s.claim_next_run().await.unwrap().is_none(),
        "the charm is already running"
    );
    s.finish_run_if_running(running.id, &a, &ok(None), &|_| keep(0))
        .await
        .unwrap();
    assert_eq!(s.claim_next_run().await.unwrap().unwrap().id, next.run_id);
}

pub async fn state_is_written_only_by_successful_runs_with_the_run(s: &dyn Store) {
    let a = add(s, code(1)).await;
    enqueue(s, &a, Trigger::Manual).await;
    let run = s.claim_next_run().await.unwrap().unwrap();
    let failed = Finished {
        outcome: RunOutcome::Error,
        error: Some("boom".into()),
        ..ok(Some("{\"n\":9}"))
    };
    assert_eq!(
        s.finish_run_if_running(run.id, &a, &failed, &|f| keep(f + 1))
            .await
            .unwrap(),
        None
    );
    let state = s.state(&a).await.unwrap().unwrap();
    assert_eq!(
        (state.state.as_str(), state.version),
        ("{\"n\":0}", 0),
        "a failed run never writes"
    );
    assert_eq!(s.charm(&a).await.unwrap().unwrap().consecutive_failures, 1);
    let record = s.run(run.id).await.unwrap().unwrap();
    assert_eq!(
        (record.status, record.outcome, record.error.as_deref()),
        (RunStatus::Done, Some(RunOutcome::Error), Some("boom"))
    );

    enqueue(s, &a, Trigger::Manual).await;
    let run = s.claim_next_run().await.unwrap().unwrap();
    assert_eq!(
        s.finish_run_if_running(run.id, &a, &ok(Some("{\"n\":1}")), &|_| keep(0))
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(s.run(run.id).await.unwrap().unwrap().state_version, Some(1));
    // Finishing the same run twice writes nothing the second time.
    assert_eq!(
        s.finish_run_if_running(run.id, &a, &ok(Some("{\"n\":2}")), &|_| keep(0))
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.state(&a).await.unwrap().unwrap().version, 1);
}

pub async fn a_finish_applies_the_policy_decision(s: &dyn Store) {
    let a = add(s, code(1)).await;
    enqueue(s, &a, Trigger::Schedule).await;
    let run = s.claim_next_run().await.unwrap().unwrap();
    enqueue(s, &a, Trigger::Manual).await;
    let failed = Finished {
        outcome: RunOutcome::Fuel,
        ..ok(None)
    };
    s.finish_run_if_running(run.id, &a, &failed, &|before| CharmUpdate {
        consecutive_failures: before + 1,
        next_run_at: Some(12_345),
        disable: Some("too many failures".into()),
    })
    .await
    .unwrap();
    let charm = s.charm(&a).await.unwrap().unwrap();
    assert_eq!(
        (
            charm.enabled,
            charm.disabled_reason.as_deref(),
            charm.next_run_at,
            charm.consecutive_failures
        ),
        (false, Some("too many failures"), 12_345, 1)
    );
    assert!(
        s.claim_next_run().await.unwrap().is_none(),
        "disabling cancelled the queued run"
    );
}

pub async fn disabling_cancels_the_queued_run_and_rescue_requeues_interrupted_ones(s: &dyn Store) {
    let a = add(s, code(1)).await;
    let b = add(s, code(2)).await;
    let queued = enqueue(s, &a, Trigger::Schedule).await;
    s.modify_charm(&a, Box::new(|c| c.enabled = false))
        .await
        .unwrap();
    assert_eq!(
        s.run(queued.run_id).await.unwrap().unwrap().outcome,
        Some(RunOutcome::Cancelled)
    );
    assert!(
        s.enqueue_run(&a, Trigger::Manual, MANUAL, None)
            .await
            .unwrap()
            .is_none(),
        "a disabled charm takes no runs"
    );

    enqueue(s, &b, Trigger::Manual).await;
    let lost = s.claim_next_run().await.unwrap().unwrap();
    assert_eq!(
        s.rescue_interrupted_runs(RECOVERY).await.unwrap(),
        vec![b.clone()]
    );
    assert_eq!(
        s.run(lost.id).await.unwrap().unwrap().outcome,
        Some(RunOutcome::Interrupted)
    );
    let retry = s.claim_next_run().await.unwrap().unwrap();
    assert_eq!((retry.charm_id, retry.trigger), (b, Trigger::Recovery));
}

pub async fn a_run_reads_the_charm_without_its_source(s: &dyn Store) {
    let a = add(s, code(1)).await;
    let for_run = s.charm_for_run(&a).await.unwrap().unwrap();
    let full = s.charm_code(&a).await.unwrap().unwrap();
    assert_eq!(for_run.source, "");
    assert_eq!(
        CharmCode {
            source: full.source.clone(),
            ..for_run
        },
        full,
        "everything else is the same"
    );
    assert_eq!(full.limits, serde_json::json!({"fuel": 1000000}));
    assert!(s.charm_for_run(&id(99)).await.unwrap().is_none());
}

pub async fn pruning_keeps_the_newest_runs_of_each_charm(s: &dyn Store) {
    let a = add(s, code(1)).await;
    for _ in 0..5 {
        run_once(s, &a, &ok(None)).await;
    }
    assert_eq!(s.prune_runs(2).await.unwrap(), 3);
    let runs = s.runs_of(&a, 100).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs[0].id > runs[1].id);
    assert_eq!(s.prune_runs(2).await.unwrap(), 0);
}

pub async fn listings_filter_sort_and_count(s: &dyn Store) {
    for n in 1..=5u8 {
        let mut c = code(n);
        c.space = if n % 2 == 0 {
            "even".into()
        } else {
            "odd".into()
        };
        c.interval_s = 100 - u32::from(n);
        c.enabled = n != 5;
        add(s, c).await;
    }
    let page = |space: Option<&str>, enabled, sort, descending, limit| CharmFilter {
        space: space.map(str::to_string),
        integration: None,
        enabled,
        sort,
        descending,
        limit,
        offset: 0,
    };
    let (odd, total) = s
        .charms(&page(Some("odd"), None, SortKey::Interval, false, 2))
        .await
        .unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        odd.iter().map(|c| c.interval_s).collect::<Vec<_>>(),
        vec![95, 97]
    );
    let (enabled, total) = s
        .charms(&page(None, Some(true), SortKey::Created, true, 10))
        .await
        .unwrap();
    assert_eq!(total, 4);
    assert!(enabled.iter().all(|c| c.enabled));
    let counts = s.counts().await.unwrap();
    assert_eq!((counts.enabled, counts.disabled), (4, 1));
    let due = s.due_charms(1, 10).await.unwrap();
    assert_eq!(due.len(), 4, "every enabled charm is due at time 0");
}

pub async fn deleting_a_charm_removes_its_state_and_runs(s: &dyn Store) {
    let a = add(s, code(1)).await;
    let queued = enqueue(s, &a, Trigger::Manual).await;
    assert!(s.delete_charm(&a).await.unwrap());
    assert!(!s.delete_charm(&a).await.unwrap());
    assert!(s.state(&a).await.unwrap().is_none());
    assert!(s.run(queued.run_id).await.unwrap().is_none());
    assert!(s.claim_next_run().await.unwrap().is_none());
}

pub async fn finished_runs_are_counted_by_minute_and_outcome(s: &dyn Store) {
    let a = add(s, code(1)).await;
    for outcome in [RunOutcome::Ok, RunOutcome::Ok, RunOutcome::Timeout] {
        let finished = Finished {
            outcome,
            ..ok(None)
        };
        run_once(s, &a, &finished).await;
    }
    let counted = s.finished_per_minute(0).await.unwrap();
    let total = |o: RunOutcome| -> u64 {
        counted
            .iter()
            .filter(|m| m.outcome == o)
            .map(|m| m.runs)
            .sum()
    };
    assert_eq!((total(RunOutcome::Ok), total(RunOutcome::Timeout)), (2, 1));
    assert!(counted.iter().all(|m| m.minute % 60_000 == 0));
}

/// One `#[tokio::test]` per case, each on a fresh store from `$open`.
#[macro_export]
macro_rules! conformance_cases {
    ($open:path) => {
        $crate::conformance_cases!(@cases $open;
            triggers_coalesce_and_manual_work_is_claimed_first,
            a_joined_run_takes_the_higher_priority,
            a_charm_never_runs_twice_at_once,
            state_is_written_only_by_successful_runs_with_the_run,
            a_finish_applies_the_policy_decision,
            disabling_cancels_the_queued_run_and_rescue_requeues_interrupted_ones,
            a_run_reads_the_charm_without_its_source,
            pruning_keeps_the_newest_runs_of_each_charm,
            listings_filter_sort_and_count,
            deleting_a_charm_removes_its_state_and_runs,
            finished_runs_are_counted_by_minute_and_outcome,
        );
    };
    (@cases $open:path; $($case:ident,)*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let fresh = $open().await;
                conformance::$case(&*fresh.store).await;
            }
        )*
    };
}
