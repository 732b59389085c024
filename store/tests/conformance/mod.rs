//! The store's conformance suite: one set of cases, run against every
//! backend (`sqlite.rs`, `postgres.rs`), as River's driver tests and Oban's
//! engine tests do. A backend's test file opens a fresh store per case and
//! expands [`conformance_cases!`]. Races between nodes are in the backend
//! files that can have several (`postgres.rs`).

use std::any::Any;
use std::sync::Arc;

use charm_store::{
    CharmCode, CharmFilter, CharmId, CharmUpdate, ClaimedRun, Enqueued, EventsAfter, FairShare,
    Finish, Finished, NewCharm, NodeId, NodeInfo, Pruned, RunId, RunOutcome, RunStatus, SortKey,
    Store, Trigger,
};

mod alerts;
mod fair;
mod history;
mod inbox;
mod quota;
mod recordings;
mod revision;
mod secrets;
mod tenancy;
pub use alerts::*;
pub use fair::*;
pub use history::*;
pub use inbox::*;
pub use quota::*;
pub use recordings::*;
pub use revision::*;
pub use secrets::*;
pub use tenancy::*;

/// A fresh, empty store, and whatever keeps it alive (a temporary folder).
pub struct Fresh {
    pub store: Arc<dyn Store>,
    pub _keep: Box<dyn Any + Send>,
}

/// Priorities as the service's policy sets them: manual before recovery
/// before scheduled.
pub const MANUAL: i64 = 20;
pub const RECOVERY: i64 = 15;
pub const SCHEDULE: i64 = 10;

/// Events a run is given at most, in these cases.
pub const MAX_EVENTS: u32 = 10;

/// A lease no test outlives, in ms.
pub const LEASE: i64 = 3_600_000;
/// A time to live no test outlives, in ms.
pub const TTL: i64 = 3_600_000;

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
        schedule: None,
        max_attempts: 2,
        limits: serde_json::json!({"fuel": 1000000}),
        allowed_hosts: vec![],
        private_network: true,
        enabled: true,
        disabled_reason: None,
        disabled_at: None,
        consecutive_failures: 0,
        next_run_at: 0,
        alert_state: None,
        alert_fingerprint: None,
        has_secrets: false,
        revision: 0,
    }
}

/// A folder with the `dialect`'s migrations whose file names sort before
/// `version` (`"0012"`), to make a database as an older release left it.
pub fn migrations_before(dialect: &str, version: &str) -> tempfile::TempDir {
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dialect);
    let older = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&all).unwrap() {
        let file = entry.unwrap().path();
        let name = file.file_name().unwrap().to_str().unwrap().to_string();
        if name.as_str() < version {
            std::fs::copy(&file, older.path().join(name)).unwrap();
        }
    }
    older
}

/// Inserts [`charms_before_charm_code`] into `$pool`, a database from before
/// `charm_code`.
#[macro_export]
macro_rules! insert_charms_before_charm_code {
    ($pool:expr) => {
        for (id, source, bytecode) in conformance::charms_before_charm_code() {
            sqlx::query(conformance::INSERT_BEFORE_CHARM_CODE)
                .bind(id.as_str())
                .bind(source)
                .bind(bytecode)
                .execute($pool)
                .await
                .unwrap();
        }
    };
}

/// Inserts a charm into a database from before `charm_code`: `$1` id, `$2`
/// source, `$3` bytecode.
pub const INSERT_BEFORE_CHARM_CODE: &str =
    "INSERT INTO charms (id, space, name, source, source_sha256, bytecode, runtime_sha256, \
       interval_s, limits, allowed_hosts, enabled, next_run_at, created_at, updated_at) \
     VALUES ($1, 's', 'c.js', $2, 'x', $3, 'r', 60, '{}', '[]', true, 0, 0, 0)";

/// `n` bytes that do not compress (xorshift): PostgreSQL compresses a
/// repeated byte to a few hundred and keeps it in the row.
pub fn incompressible(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"[(x % 64) as usize]
        })
        .collect()
}

/// The charms [`INSERT_BEFORE_CHARM_CODE`] inserts: one with 60 KB of source
/// and 50 KB of bytecode, neither compressible (overflow pages in SQLite,
/// TOAST in PostgreSQL), one trivial.
pub fn charms_before_charm_code() -> Vec<(CharmId, String, Vec<u8>)> {
    let padding = String::from_utf8(incompressible(60_000)).unwrap();
    let large = format!("export const bgUpdater = () => 1;\n/*{padding}*/");
    vec![
        (id(1), large, incompressible(50_000)),
        (
            id(2),
            "export const bgUpdater = () => 2;".into(),
            vec![1, 2, 3],
        ),
    ]
}

/// After the upgrade each charm of [`charms_before_charm_code`] has its code,
/// and `charm_code` rows (counted by `$pool`) go with their charm.
#[macro_export]
macro_rules! check_code_after_upgrade {
    ($store:expr, $pool:expr) => {
        conformance::charms_kept_their_code($store).await;
        assert!($store.delete_charm(&conformance::id(1)).await.unwrap());
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM charm_code")
            .fetch_one($pool)
            .await
            .unwrap();
        assert_eq!(left, 1, "the deleted charm's code is deleted with it");
    };
}

/// After the upgrade each charm of [`charms_before_charm_code`] has its code.
pub async fn charms_kept_their_code(store: &dyn Store) {
    for (id, source, bytecode) in charms_before_charm_code() {
        let full = store.charm_code(&id).await.unwrap().expect("the charm");
        let for_run = store.charm_for_run(&id).await.unwrap().expect("the charm");
        assert!(full.source == source, "{id}'s source");
        assert!(full.bytecode == bytecode, "{id}'s bytecode");
        assert!(for_run.bytecode == bytecode && for_run.source.is_empty());
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
        Trigger::Recovery | Trigger::Retry => RECOVERY,
        Trigger::Webhook | Trigger::Inbox => MANUAL,
    }
}

/// Queues a run of a charm that exists and is enabled.
pub async fn enqueue(s: &dyn Store, charm: &CharmId, trigger: Trigger) -> Enqueued {
    s.enqueue_run(charm, trigger, priority(trigger), None)
        .await
        .unwrap()
        .expect("an enabled charm takes runs")
}

/// Takes every wake-up kept or on its way, until none comes for 300 ms
/// (PostgreSQL's arrive through LISTEN, a little after their commit).
pub async fn drain_wakes(s: &dyn Store) {
    let quiet = std::time::Duration::from_millis(300);
    while tokio::time::timeout(quiet, s.work_queued()).await.is_ok() {}
}

/// Whether a wake-up is kept for the claim loop now.
pub async fn wake_kept(s: &dyn Store) -> bool {
    tokio::time::timeout(std::time::Duration::ZERO, s.work_queued())
        .await
        .is_ok()
}

/// Registers a node.
pub async fn node(s: &dyn Store) -> NodeId {
    s.register_node(&NodeInfo {
        hostname: "test".into(),
        pid: std::process::id(),
    })
    .await
    .unwrap()
}

/// Claims the next run for `node`, if any.
pub async fn claim(s: &dyn Store, node: &NodeId) -> Option<ClaimedRun> {
    s.claim_next_run(node, LEASE, MAX_EVENTS, FairShare::default())
        .await
        .unwrap()
}

/// Finishes a run for `node` with a policy that keeps the failure count.
pub async fn finish(s: &dyn Store, node: &NodeId, run: RunId, finished: &Finished) -> Finish {
    s.finish_run_if_owned(run, node, finished, &|b, _| keep(b.failures))
        .await
        .unwrap()
}

/// Claims up to `limit` runs for `node` in one batch, default fair share.
pub async fn claim_batch(s: &dyn Store, node: &NodeId, limit: u32) -> Vec<ClaimedRun> {
    s.claim_runs(node, LEASE, MAX_EVENTS, FairShare::default(), limit)
        .await
        .expect("a batch claim")
}

/// Queues, claims and finishes one run of `charm` as `finished` says.
pub async fn run_once(s: &dyn Store, node: &NodeId, charm: &CharmId, finished: &Finished) -> RunId {
    enqueue(s, charm, Trigger::Manual).await;
    let run = claim(s, node).await.unwrap();
    assert_eq!(&run.charm_id, charm);
    finish(s, node, run.id, finished).await;
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
        recording: None,
    }
}

pub fn keep(failures: u32) -> CharmUpdate {
    CharmUpdate {
        consecutive_failures: failures,
        next_run_at: None,
        disable: None,
        events: EventsAfter::Keep,
        heavy_runs: 0,
        penalty: None,
    }
}

/// What [`finish_a_mixed_batch`] saw: the lone finish, the batch's
/// results, whether a queued run could start after it, and the batch's
/// runs (the first four claimed).
pub struct MixedBatch {
    pub lone: Finish,
    pub results: Vec<Finish>,
    pub woken: bool,
    // Read by `tests/postgres.rs` only.
    #[allow(dead_code)]
    pub batch_runs: Vec<RunId>,
}

/// The differential tests' scenario (`tests/sqlite.rs`, `tests/postgres.rs`):
/// five charms of space `s` with fuel budget `budget` and one of space
/// `t`, each with a run
/// claimed; a run queued behind charms 1 and 4; charm 5's run finished
/// alone, then `before_batch`, then a batch of the others, of every kind
/// of finish a batch may hold: a state written with a recording, a failure
/// backing off, a quiet success, a failure that disables its charm
/// (cancelling its queued run), a run whose policy acknowledges its events
/// (never known: its writes depend on what the events' rows say), and a
/// run named twice. With no budget the first four are known (`Known::of`):
/// the space has no quota in force, their states are where they started,
/// and their policies keep the events (asserted here); a budget too large
/// to reach sends every finish the checked way.
pub async fn finish_a_mixed_batch(
    s: &dyn Store,
    budget: Option<u64>,
    before_batch: &dyn Fn(),
) -> MixedBatch {
    use charm_store::recordings::NewRecording;
    use charm_store::{QuotaOverrides, RunToFinish};
    let recorded = Finished {
        fuel: 500,
        recording: Some(Arc::new(NewRecording {
            source_sha256: "x".into(),
            data: vec![7, 8, 9],
        })),
        ..ok(Some("{\"n\":1}"))
    };
    let failed = Finished {
        outcome: RunOutcome::Error,
        error: Some("boom".into()),
        fuel: 0,
        ..ok(Some("{\"n\":9}"))
    };
    let quiet = Finished {
        fuel: 0,
        ..ok(None)
    };
    let clear = |_: charm_store::Before, _| keep(0);
    let back_off = |b: charm_store::Before, _| CharmUpdate {
        next_run_at: Some(123_456),
        heavy_runs: 2,
        penalty: Some("heavy".into()),
        ..keep(b.failures + 1)
    };
    let disable = |b: charm_store::Before, _| CharmUpdate {
        disable: Some("failed too often".into()),
        ..keep(b.failures + 1)
    };
    let acknowledge = |_: charm_store::Before, _| CharmUpdate {
        events: EventsAfter::Ack { priority: MANUAL },
        ..keep(0)
    };
    let overrides = QuotaOverrides {
        max_fuel_per_hour: budget,
        ..QuotaOverrides::default()
    };
    s.set_space_quota("s", &overrides).await.unwrap();
    let me = node(s).await;
    let mut charms = Vec::new();
    for n in 1..=6 {
        // The sixth in a space of its own: the finish recorded alone after
        // the batch writes nothing of space `s`'s.
        let space = if n == 6 { "t" } else { "s" };
        let charm = add(
            s,
            CharmCode {
                space: space.into(),
                ..code(n)
            },
        )
        .await;
        enqueue(s, &charm, Trigger::Manual).await;
        charms.push(charm);
    }
    let runs = claim_batch(s, &me, 6).await;
    assert_eq!(runs.len(), 6);
    let space = s.spaces(Some("s")).await.unwrap().remove(0);
    assert_eq!(space.quota.max_fuel_per_hour, budget.unwrap_or(0));
    assert_eq!(space.quota.max_state_bytes, 0);
    for (run, charm) in runs.iter().zip(&charms) {
        let state = s.state(charm).await.unwrap().unwrap();
        assert_eq!(run.base_version, state.version, "the state has not moved");
    }
    // Runs queued behind two of them: one may start after its finish,
    // the other is cancelled with its disabled charm.
    enqueue(s, &charms[0], Trigger::Manual).await;
    enqueue(s, &charms[3], Trigger::Manual).await;
    drain_wakes(s).await;
    let lone = s
        .finish_run_if_owned(runs[4].id, &me, &recorded, &clear)
        .await
        .unwrap();
    before_batch();
    let item = |i: usize, finished, policy| RunToFinish {
        run: runs[i].id,
        node: &me,
        finished,
        policy,
    };
    let batch = [
        item(0, &recorded, &clear),
        item(1, &failed, &back_off),
        item(2, &quiet, &clear),
        item(3, &failed, &disable),
        item(5, &quiet, &acknowledge),
        // Named twice: recorded once, so the known finishes before it
        // must be written before it is looked up again.
        item(0, &recorded, &clear),
    ];
    let results = s
        .finish_runs_if_owned(&batch)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    MixedBatch {
        lone,
        results,
        woken: wake_kept(s).await,
        batch_runs: runs[..4].iter().map(|run| run.id).collect(),
    }
}

pub async fn triggers_coalesce_and_manual_work_is_claimed_first(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    let b = add(s, code(2)).await;
    let scheduled = enqueue(s, &a, Trigger::Schedule).await;
    assert!(!scheduled.coalesced);
    let again = enqueue(s, &a, Trigger::Schedule).await;
    assert_eq!((again.run_id, again.coalesced), (scheduled.run_id, true));
    let manual = s
        .enqueue_run(&b, Trigger::Manual, MANUAL, None)
        .await
        .unwrap()
        .unwrap();
    let first = claim(s, &me).await.unwrap();
    assert_eq!(
        (first.id, first.trigger, first.input.as_deref()),
        (manual.run_id, Trigger::Manual, None)
    );
    assert_eq!(claim(s, &me).await.unwrap().id, scheduled.run_id);
    assert!(claim(s, &me).await.is_none());
    assert!(s
        .enqueue_run(&id(99), Trigger::Manual, MANUAL, None)
        .await
        .unwrap()
        .is_none());
}

pub async fn a_joined_run_takes_the_higher_priority(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    let b = add(s, code(2)).await;
    let scheduled = enqueue(s, &a, Trigger::Schedule).await;
    enqueue(s, &b, Trigger::Schedule).await;
    let joined = enqueue(s, &a, Trigger::Manual).await;
    assert_eq!((joined.run_id, joined.coalesced), (scheduled.run_id, true));
    let first = claim(s, &me).await.unwrap();
    assert_eq!((first.charm_id, first.trigger), (a, Trigger::Manual));
}

pub async fn a_charm_never_runs_twice_at_once(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    enqueue(s, &a, Trigger::Schedule).await;
    let running = claim(s, &me).await.unwrap();
    // One more may queue behind the running one, but not start.
    let next = enqueue(s, &a, Trigger::Manual).await;
    assert!(!next.coalesced);
    assert!(
        claim(s, &me).await.is_none(),
        "the charm is already running"
    );
    finish(s, &me, running.id, &ok(None)).await;
    assert_eq!(claim(s, &me).await.unwrap().id, next.run_id);
}

pub async fn a_batch_claim_takes_what_lone_claims_would(s: &dyn Store) {
    let me = node(s).await;
    let charms: Vec<CharmId> = add_charms(s, 1..=4).await;
    // Charm 4 is running already: its next run may queue but not start.
    enqueue(s, &charms[3], Trigger::Schedule).await;
    let running = claim(s, &me).await.unwrap();
    enqueue(s, &charms[3], Trigger::Manual).await;
    enqueue(s, &charms[0], Trigger::Schedule).await;
    enqueue(s, &charms[1], Trigger::Schedule).await;
    let manual = enqueue(s, &charms[2], Trigger::Manual).await;
    let event = charm_store::NewEvent {
        source: "manual".into(),
        data: "{\"k\":1}".into(),
        idempotency_key: None,
    };
    s.deliver_event(&charms[1], Trigger::Schedule, SCHEDULE, &event)
        .await
        .unwrap()
        .unwrap();
    let batch = claim_batch(s, &me, 10).await;
    let order: Vec<&CharmId> = batch.iter().map(|r| &r.charm_id).collect();
    assert_eq!(
        order,
        vec![&charms[2], &charms[0], &charms[1]],
        "manual first, then by age; never the running charm"
    );
    assert_eq!(batch[0].id, manual.run_id);
    for run in &batch {
        assert_eq!((run.state.as_str(), run.base_version), ("{\"n\":0}", 0));
        let record = s.run(run.id).await.unwrap().unwrap();
        assert_eq!(
            (record.status, record.node.as_ref()),
            (RunStatus::Running, Some(&me))
        );
    }
    assert!(batch[0].events.is_empty() && batch[1].events.is_empty());
    assert_eq!(
        batch[2].events.len(),
        1,
        "the event reaches its charm's run"
    );
    assert_eq!(batch[2].input.as_deref(), Some("{\"k\":1}"));
    assert!(claim_batch(s, &me, 10).await.is_empty());
    // A batch of one takes one, and leaves the rest queued.
    finish(s, &me, running.id, &ok(None)).await;
    for run in &batch {
        finish(s, &me, run.id, &ok(None)).await;
    }
    enqueue(s, &charms[0], Trigger::Schedule).await;
    let one = claim_batch(s, &me, 1).await;
    assert_eq!(one.len(), 1);
    assert_eq!(
        one[0].charm_id, charms[3],
        "the older queued run, behind the running one until now"
    );
    assert!(claim(s, &me).await.is_some(), "the other is still queued");
}

/// One scenario claimed two ways: a batch, and lone claims until none.
/// Ten charms in four spaces: one space with a quota of one run in flight,
/// one that burnt more fuel and one less, a charm already running with its
/// next run queued behind it, manual and scheduled runs, and a run not due
/// for an hour; a fair share of four slots.
async fn claim_scenario(s: &dyn Store, batch: bool) -> Vec<String> {
    use charm_store::QuotaOverrides;
    let me = node(s).await;
    let mut ids = Vec::new();
    for (n, space) in [
        (1, "a"),
        (2, "a"),
        (3, "b"),
        (4, "b"),
        (5, "heavy"),
        (6, "heavy"),
        (7, "heavy"),
        (8, "light"),
        (9, "b"),
        (10, "light"),
    ] {
        let mut c = code(n);
        c.space = space.into();
        ids.push(add(s, c).await);
    }
    s.set_space_quota(
        "a",
        &QuotaOverrides {
            max_runs_in_flight: Some(1),
            ..QuotaOverrides::default()
        },
    )
    .await
    .unwrap();
    let burnt = |fuel| Finished { fuel, ..ok(None) };
    run_once(s, &me, &ids[4], &burnt(5_000_000_000)).await;
    run_once(s, &me, &ids[7], &burnt(100_000)).await;
    // Charm 9 is running (a slot of "b" taken) with its next run queued
    // behind it; charm 10's run is not due for an hour.
    enqueue(s, &ids[8], Trigger::Schedule).await;
    let running = claim(s, &me).await.unwrap();
    assert_eq!(running.charm_id, ids[8]);
    for (i, id) in ids[..9].iter().enumerate() {
        let trigger = if i % 3 == 0 {
            Trigger::Manual
        } else {
            Trigger::Schedule
        };
        enqueue(s, id, trigger).await;
    }
    let later = s.now_ms().await.unwrap() + 3_600_000;
    s.enqueue_run(&ids[9], Trigger::Manual, MANUAL, Some(later))
        .await
        .unwrap()
        .unwrap();
    let fair = FairShare {
        slots_per_node: 4,
        ..FairShare::default()
    };
    let claimed = if batch {
        s.claim_runs(&me, LEASE, MAX_EVENTS, fair, 32)
            .await
            .unwrap()
    } else {
        let mut v = Vec::new();
        while let Some(r) = s
            .claim_next_run(&me, LEASE, MAX_EVENTS, fair.clone())
            .await
            .unwrap()
        {
            v.push(r);
        }
        v
    };
    claimed
        .iter()
        .map(|r| r.charm_id.as_str().to_string())
        .collect()
}

/// A two-store case: the same scenario on two fresh stores.
pub async fn a_batch_claim_honours_quotas_and_fair_share_as_lone_claims_do(
    batch_store: &dyn Store,
    lone_store: &dyn Store,
) {
    let batch = claim_scenario(batch_store, true).await;
    let lone = claim_scenario(lone_store, false).await;
    assert_eq!(batch, lone, "the same runs in the same order");
    assert!(
        batch.len() < 8,
        "the quota and the fair share hold some back: {batch:?}"
    );
    for (n, why) in [(9, "is running"), (10, "is not due")] {
        let charm = id(n).as_str().to_string();
        assert!(!batch.contains(&charm), "charm {n} {why}: {batch:?}");
    }
}

/// Registers charms `ns` (each with the state `{"n":0}`).
async fn add_charms(s: &dyn Store, ns: std::ops::RangeInclusive<u8>) -> Vec<CharmId> {
    let mut ids = Vec::new();
    for n in ns {
        ids.push(add(s, code(n)).await);
    }
    ids
}

pub async fn a_batch_claim_of_many_takes_each_ready_run_once(s: &dyn Store) {
    let me = node(s).await;
    let charms = add_charms(s, 30..=49).await;
    for charm in &charms {
        enqueue(s, charm, Trigger::Schedule).await;
    }
    // 12 then 8, a call that takes exactly what is left, then one that
    // finds nothing.
    let mut taken = Vec::new();
    for (limit, expected) in [(12, 12), (8, 8), (8, 0)] {
        let batch = claim_batch(s, &me, limit).await;
        assert_eq!(batch.len(), expected, "a claim of {limit}");
        taken.extend(batch.into_iter().map(|r| r.charm_id));
    }
    let mut unique = taken.clone();
    unique.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    unique.dedup();
    assert_eq!(
        unique.len(),
        charms.len(),
        "each charm's run once: {taken:?}"
    );
}

pub async fn a_claim_records_its_node_and_reads_the_state(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    let queued = enqueue(s, &a, Trigger::Manual).await;
    let run = claim(s, &me).await.unwrap();
    assert_eq!(
        (run.state.as_str(), run.base_version, run.attempt),
        ("{\"n\":0}", 0, 1)
    );
    assert_eq!(run.idempotency_key, format!("{a}:{}", queued.run_id));
    assert!(run.started_at >= run.queued_at);
    let record = s.run(run.id).await.unwrap().unwrap();
    assert_eq!(
        (record.status, record.node.as_ref(), record.attempt),
        (RunStatus::Running, Some(&me), 1)
    );
    let nodes = s.nodes().await.unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!((&nodes[0].id, nodes[0].running), (&me, 1));
}

pub async fn a_batch_of_finishes_records_each_as_alone(s: &dyn Store) {
    let me = node(s).await;
    let charms = add_charms(s, 1..=4).await;
    for charm in &charms {
        enqueue(s, charm, Trigger::Manual).await;
    }
    let runs = claim_batch(s, &me, 4).await;
    assert_eq!(runs.len(), 4);
    // The last one is already recorded: not this node's any more.
    finish(s, &me, runs[3].id, &ok(None)).await;
    let wrote = ok(Some("{\"n\":1}"));
    let failed = Finished {
        outcome: RunOutcome::Error,
        error: Some("boom".into()),
        ..ok(Some("{\"n\":9}"))
    };
    let kept = ok(None);
    let counts = |b: charm_store::Before, _| keep(b.failures + 1);
    let clear = |_: charm_store::Before, _| keep(0);
    // Given out of space and run order, on purpose.
    let batch = [
        charm_store::RunToFinish {
            run: runs[1].id,
            node: &me,
            finished: &failed,
            policy: &counts,
        },
        charm_store::RunToFinish {
            run: runs[0].id,
            node: &me,
            finished: &wrote,
            policy: &clear,
        },
        charm_store::RunToFinish {
            run: runs[3].id,
            node: &me,
            finished: &kept,
            policy: &clear,
        },
        charm_store::RunToFinish {
            run: runs[2].id,
            node: &me,
            finished: &kept,
            policy: &clear,
        },
        // A run that never was.
        charm_store::RunToFinish {
            run: runs[3].id + 1_000_000,
            node: &me,
            finished: &kept,
            policy: &clear,
        },
    ];
    let results: Vec<Finish> = s
        .finish_runs_if_owned(&batch)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        results,
        vec![
            Finish::Recorded {
                state_version: None
            },
            Finish::Recorded {
                state_version: Some(1)
            },
            Finish::NotOwned,
            Finish::Recorded {
                state_version: None
            },
            Finish::Gone,
        ],
        "each result in the batch's order"
    );
    let state_0 = s.state(&charms[0]).await.unwrap().unwrap();
    assert_eq!((state_0.state.as_str(), state_0.version), ("{\"n\":1}", 1));
    let state_1 = s.state(&charms[1]).await.unwrap().unwrap();
    assert_eq!(
        (state_1.state.as_str(), state_1.version),
        ("{\"n\":0}", 0),
        "a failed run never writes"
    );
    assert_eq!(
        s.charm(&charms[1])
            .await
            .unwrap()
            .unwrap()
            .consecutive_failures,
        1
    );
    for (i, outcome) in [
        RunOutcome::Ok,
        RunOutcome::Error,
        RunOutcome::Ok,
        RunOutcome::Ok,
    ]
    .into_iter()
    .enumerate()
    {
        let record = s.run(runs[i].id).await.unwrap().unwrap();
        assert_eq!(
            (record.status, record.outcome),
            (RunStatus::Done, Some(outcome))
        );
    }
    assert!(s.finish_runs_if_owned(&[]).await.is_empty());
}

pub async fn one_runs_error_does_not_fail_its_batch(s: &dyn Store) {
    let me = node(s).await;
    let charms = add_charms(s, 1..=2).await;
    for charm in &charms {
        enqueue(s, charm, Trigger::Manual).await;
    }
    let runs = claim_batch(s, &me, 2).await;
    // A NUL character: PostgreSQL's text refuses it (an error for that run
    // alone); SQLite stores it.
    let odd = ok(Some("{\"n\":\"\u{0}\"}"));
    let fine = ok(Some("{\"n\":2}"));
    let clear = |_: charm_store::Before, _| keep(0);
    let item = |run: RunId, finished| charm_store::RunToFinish {
        run,
        node: &me,
        finished,
        policy: &clear,
    };
    let results = s
        .finish_runs_if_owned(&[item(runs[0].id, &odd), item(runs[1].id, &fine)])
        .await;
    assert_eq!(
        results[1].as_ref().unwrap(),
        &Finish::Recorded {
            state_version: Some(1)
        },
        "the other run is recorded whatever became of the first"
    );
    let first = s.run(runs[0].id).await.unwrap().unwrap();
    let first_state = s.state(&charms[0]).await.unwrap().unwrap();
    match &results[0] {
        Ok(_) => assert_eq!((first.status, first_state.version), (RunStatus::Done, 1)),
        Err(_) => assert_eq!(
            (first.status, first_state.version),
            (RunStatus::Running, 0),
            "a run whose record failed is left running, its state untouched"
        ),
    }
}

pub async fn state_is_written_only_by_successful_runs_with_the_run(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    enqueue(s, &a, Trigger::Manual).await;
    let run = claim(s, &me).await.unwrap();
    let failed = Finished {
        outcome: RunOutcome::Error,
        error: Some("boom".into()),
        ..ok(Some("{\"n\":9}"))
    };
    assert_eq!(
        s.finish_run_if_owned(run.id, &me, &failed, &|b, _| keep(b.failures + 1))
            .await
            .unwrap(),
        Finish::Recorded {
            state_version: None
        }
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
    let run = claim(s, &me).await.unwrap();
    assert_eq!(
        finish(s, &me, run.id, &ok(Some("{\"n\":1}"))).await,
        Finish::Recorded {
            state_version: Some(1)
        }
    );
    assert_eq!(s.run(run.id).await.unwrap().unwrap().state_version, Some(1));
    // Finishing the same run twice writes nothing the second time.
    assert_eq!(
        finish(s, &me, run.id, &ok(Some("{\"n\":2}"))).await,
        Finish::NotOwned
    );
    let state = s.state(&a).await.unwrap().unwrap();
    assert_eq!((state.state.as_str(), state.version), ("{\"n\":1}", 1));
}

pub async fn a_finish_applies_the_policy_decision_on_the_database_clock(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    enqueue(s, &a, Trigger::Schedule).await;
    let run = claim(s, &me).await.unwrap();
    enqueue(s, &a, Trigger::Manual).await;
    let failed = Finished {
        outcome: RunOutcome::Fuel,
        ..ok(None)
    };
    let before = s.now_ms().await.unwrap();
    s.finish_run_if_owned(run.id, &me, &failed, &|b, now| CharmUpdate {
        consecutive_failures: b.failures + 1,
        next_run_at: Some(now + 12_345),
        disable: Some("too many failures".into()),
        events: EventsAfter::Keep,
        heavy_runs: 0,
        penalty: None,
    })
    .await
    .unwrap();
    let after = s.now_ms().await.unwrap();
    let charm = s.charm(&a).await.unwrap().unwrap();
    assert_eq!(
        (
            charm.enabled,
            charm.disabled_reason.as_deref(),
            charm.consecutive_failures
        ),
        (false, Some("too many failures"), 1)
    );
    assert!(
        (before + 12_345..=after + 12_345).contains(&charm.next_run_at),
        "{before} {} {after}",
        charm.next_run_at
    );
    assert!(
        claim(s, &me).await.is_none(),
        "disabling cancelled the queued run"
    );
}

pub async fn disabling_cancels_the_queued_run(s: &dyn Store) {
    let a = add(s, code(1)).await;
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
}

pub async fn runs_of_a_retired_node_are_rescued_with_their_key(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    let b = add(s, code(2)).await;
    enqueue(s, &a, Trigger::Manual).await;
    enqueue(s, &b, Trigger::Manual).await;
    let lost = claim(s, &me).await.unwrap();
    let kept = claim(s, &me).await.unwrap();
    assert!(
        s.rescue_lost_runs(TTL, RECOVERY).await.unwrap().is_empty(),
        "a live node's runs are its own"
    );
    finish(s, &me, kept.id, &ok(None)).await;
    s.retire_node(&me).await.unwrap();
    let rescued = s.rescue_lost_runs(TTL, RECOVERY).await.unwrap();
    assert_eq!(rescued.len(), 1);
    assert_eq!(
        (
            rescued[0].run_id,
            &rescued[0].charm_id,
            rescued[0].node.as_ref()
        ),
        (lost.id, &lost.charm_id, Some(&me))
    );
    let record = s.run(lost.id).await.unwrap().unwrap();
    assert_eq!(
        (record.status, record.outcome),
        (RunStatus::Done, Some(RunOutcome::Interrupted))
    );
    assert!(s.rescue_lost_runs(TTL, RECOVERY).await.unwrap().is_empty());
    assert!(
        claim(s, &me).await.is_none(),
        "a retired node claims nothing"
    );

    // The late finish of the rescued run changes nothing.
    assert_eq!(
        finish(s, &me, lost.id, &ok(Some("{\"n\":7}"))).await,
        Finish::NotOwned
    );
    assert_eq!(s.state(&lost.charm_id).await.unwrap().unwrap().version, 0);

    // The retry is the same line: same key, next attempt.
    let next = node(s).await;
    let retry = claim(s, &next).await.unwrap();
    assert_eq!(
        (
            retry.id,
            retry.trigger,
            retry.attempt,
            retry.idempotency_key.as_str()
        ),
        (
            rescued[0].retry.unwrap().run_id,
            Trigger::Recovery,
            2,
            lost.idempotency_key.as_str()
        )
    );
    assert_eq!(
        finish(s, &next, retry.id, &ok(Some("{\"n\":1}"))).await,
        Finish::Recorded {
            state_version: Some(1)
        }
    );
}

pub async fn a_silent_node_is_dead_and_its_heartbeat_says_so(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    enqueue(s, &a, Trigger::Manual).await;
    let run = claim(s, &me).await.unwrap();
    let now = s.now_ms().await.unwrap();
    let seen = s.heartbeat(&me, TTL).await.unwrap().expect("alive");
    assert!(seen >= now);
    assert!(s.rescue_lost_runs(TTL, RECOVERY).await.unwrap().is_empty());
    // With no time to live, every node is silent too long.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let rescued = s.rescue_lost_runs(0, RECOVERY).await.unwrap();
    assert_eq!(rescued.len(), 1);
    assert_eq!(rescued[0].run_id, run.id);
    assert_eq!(
        s.heartbeat(&me, TTL).await.unwrap(),
        None,
        "a node declared dead stays dead"
    );
    assert!(s.nodes().await.unwrap().is_empty());
}

pub async fn an_expired_lease_is_rescued_even_from_a_live_node(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    enqueue(s, &a, Trigger::Manual).await;
    let run = s
        .claim_next_run(&me, 0, MAX_EVENTS, FairShare::default())
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    s.heartbeat(&me, TTL).await.unwrap().expect("alive");
    let rescued = s.rescue_lost_runs(TTL, RECOVERY).await.unwrap();
    assert_eq!(rescued.len(), 1);
    assert_eq!(rescued[0].run_id, run.id);
}

pub async fn a_rescued_retry_joins_a_queued_run(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    enqueue(s, &a, Trigger::Schedule).await;
    let lost = claim(s, &me).await.unwrap();
    let behind = enqueue(s, &a, Trigger::Schedule).await;
    s.retire_node(&me).await.unwrap();
    let rescued = s.rescue_lost_runs(TTL, RECOVERY).await.unwrap();
    assert_eq!(
        rescued[0].retry,
        Some(Enqueued {
            run_id: behind.run_id,
            coalesced: true
        })
    );
    let next = node(s).await;
    let retry = claim(s, &next).await.unwrap();
    assert_eq!(
        (
            retry.id,
            retry.trigger,
            retry.attempt,
            retry.idempotency_key
        ),
        (behind.run_id, Trigger::Recovery, 2, lost.idempotency_key)
    );
}

pub async fn scheduling_queues_each_due_charm_once(s: &dyn Store) {
    for n in 1..=3u8 {
        add(s, code(n)).await;
    }
    let mut later = code(4);
    later.next_run_at = i64::MAX / 2;
    add(s, later).await;
    let mut off = code(5);
    off.enabled = false;
    add(s, off).await;
    let policy = |now: i64, interval_s: u32, _: Option<&str>| now + i64::from(interval_s) * 1000;
    let pass = s
        .schedule_due_runs(SCHEDULE, MANUAL, 100, &policy)
        .await
        .unwrap();
    assert_eq!((pass.due, pass.queued), (3, 3));
    let again = s
        .schedule_due_runs(SCHEDULE, MANUAL, 100, &policy)
        .await
        .unwrap();
    assert_eq!(again.queued, 0, "moved on by one interval");
    let next = again.next_due_in_ms.expect("charms are enabled");
    assert!((59_000..=60_000).contains(&next), "{next}");
    let counts = s.counts().await.unwrap();
    assert_eq!(counts.queued, 3);
    let charm = s.charm(&id(1)).await.unwrap().unwrap();
    let now = s.now_ms().await.unwrap();
    assert!((now..=now + 60_000).contains(&charm.next_run_at));
}

/// A pass larger than the store does in one piece (SQLite moves and
/// queues due charms in chunks of 128) queues each due charm once, and
/// moves every one on.
pub async fn a_large_pass_queues_each_due_charm_once(s: &dyn Store) {
    // Each its own interval: a next run written to the wrong charm shows.
    let interval = |n: u8| 60 + u32::from(n);
    for n in 1..=200u8 {
        let mut charm = code(n);
        charm.interval_s = interval(n);
        add(s, charm).await;
    }
    let policy = |now: i64, interval_s: u32, _: Option<&str>| now + i64::from(interval_s) * 1000;
    let before = s.now_ms().await.unwrap();
    let pass = s
        .schedule_due_runs(SCHEDULE, MANUAL, 1000, &policy)
        .await
        .unwrap();
    let after = s.now_ms().await.unwrap();
    assert_eq!((pass.due, pass.queued), (200, 200));
    assert_eq!(s.counts().await.unwrap().queued, 200);
    for n in 1..=200u8 {
        let charm = s.charm(&id(n)).await.unwrap().expect("the charm");
        let moved_at = charm.next_run_at - i64::from(interval(n)) * 1000;
        assert!(
            (before..=after).contains(&moved_at),
            "charm {n}: next run {} is not its interval after the pass ({before}..={after})",
            charm.next_run_at
        );
    }
    let again = s
        .schedule_due_runs(SCHEDULE, MANUAL, 1000, &policy)
        .await
        .unwrap();
    assert_eq!((again.due, again.queued), (0, 0));
}

/// A due charm whose run is already queued joins it only when the join
/// changes it: a higher priority, or an earlier start. A run queued at the
/// same or a higher priority, free to start, is left as it is, and not
/// counted as queued.
pub async fn a_scheduled_run_joins_a_queued_run_only_to_change_it(s: &dyn Store) {
    for n in 1..=5u8 {
        add(s, code(n)).await;
    }
    let now = s.now_ms().await.unwrap();
    let enqueue = |n: u8, priority: i64, not_before: Option<i64>| async move {
        s.enqueue_run(&id(n), Trigger::Manual, priority, not_before)
            .await
            .unwrap()
            .expect("an enabled charm")
            .run_id
    };
    let higher = enqueue(1, MANUAL, None).await;
    let lower = enqueue(2, SCHEDULE - 5, None).await;
    let later = enqueue(3, MANUAL, Some(now + TTL)).await;
    let same = enqueue(5, SCHEDULE, None).await;
    let policy = |now: i64, interval_s: u32, _: Option<&str>| now + i64::from(interval_s) * 1000;
    let pass = s
        .schedule_due_runs(SCHEDULE, MANUAL, 100, &policy)
        .await
        .unwrap();
    assert_eq!(pass.due, 5, "every charm was due");
    assert_eq!(
        pass.queued, 3,
        "charm 1's and 5's runs are left as they were"
    );
    let run = |id: RunId| async move { s.run(id).await.unwrap().expect("the queued run") };
    for kept in [higher, same] {
        let kept = run(kept).await;
        assert_eq!((kept.trigger, kept.not_before), (Trigger::Manual, None));
    }
    assert_eq!(run(lower).await.trigger, Trigger::Schedule, "raised");
    let started = run(later).await;
    assert_eq!(
        (started.trigger, started.not_before),
        (Trigger::Manual, None),
        "may start now"
    );
    let counts = s.counts().await.unwrap();
    assert_eq!(counts.queued, 5, "one run a charm");
    let again = s
        .schedule_due_runs(SCHEDULE, MANUAL, 100, &policy)
        .await
        .unwrap();
    assert_eq!(
        (again.due, again.queued),
        (0, 0),
        "moved on by one interval"
    );
}

/// A due charm whose run is still queued moves on by its interval plus as
/// long as that run has waited, up to one interval more, so an overloaded
/// node looks at a waiting charm less often; a charm without a queued run
/// moves on by its interval alone.
pub async fn a_waiting_charm_moves_on_by_as_long_as_its_run_has_waited(s: &dyn Store) {
    let (waiting, fresh) = (add(s, code(1)).await, add(s, code(2)).await);
    let mut short = code(3);
    short.interval_s = 1;
    let short = add(s, short).await;
    let mut queued_at = Vec::new();
    for charm in [&waiting, &short] {
        let run = s
            .enqueue_run(charm, Trigger::Manual, MANUAL, None)
            .await
            .unwrap()
            .expect("an enabled charm")
            .run_id;
        queued_at.push(s.run(run).await.unwrap().expect("the run").queued_at);
    }
    // Until both runs have waited more than the short interval, by the
    // database's clock.
    while s.now_ms().await.unwrap() < queued_at[1] + 1_100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let policy = |now: i64, interval_s: u32, _: Option<&str>| now + i64::from(interval_s) * 1000;
    let before = s.now_ms().await.unwrap();
    let pass = s
        .schedule_due_runs(SCHEDULE, MANUAL, 100, &policy)
        .await
        .unwrap();
    let after = s.now_ms().await.unwrap();
    assert_eq!(
        (pass.due, pass.queued),
        (3, 1),
        "charm 1's and 3's runs were queued already, and left as they were"
    );
    let next = |charm: CharmId| async move {
        s.charm(&charm)
            .await
            .unwrap()
            .expect("the charm")
            .next_run_at
    };
    // The pass's clock reading `at`, moved on by `at - queued_at`.
    let twice_at = next(waiting).await - 60_000 + queued_at[0];
    assert!(
        (2 * before..=2 * after).contains(&twice_at),
        "the waiting charm moved to {} after its interval, not twice the pass's time \
         ({before}..={after}) less its run's queue time {}",
        twice_at - queued_at[0],
        queued_at[0]
    );
    let capped = next(short).await - 2_000;
    assert!(
        (before..=after).contains(&capped),
        "the short charm's run waited more than its interval: moved on by two \
         intervals, to {capped} after them, not in {before}..={after}"
    );
    let at = next(fresh).await - 60_000;
    assert!(
        (before..=after).contains(&at),
        "{at} not in {before}..={after}"
    );
    assert_eq!(s.counts().await.unwrap().queued, 3, "one run a charm");
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

pub async fn a_charms_code_is_replaced_with_its_settings_and_deleted_with_it(s: &dyn Store) {
    let a = add(s, code(1)).await;
    let b = add(s, code(2)).await;
    s.modify_charm(&a, Box::new(|c| c.enabled = false))
        .await
        .unwrap();
    let paused = s.charm_code(&a).await.unwrap().unwrap();
    assert_eq!(
        (
            paused.enabled,
            paused.source.as_str(),
            paused.bytecode.as_slice()
        ),
        (false, "export function bgUpdater() {}", &[1u8, 2, 3][..]),
        "a settings change keeps the code"
    );
    s.modify_charm(&a, Box::new(|c| c.bytecode = vec![4, 5, 6]))
        .await
        .unwrap();
    let recompiled = s.charm_code(&a).await.unwrap().unwrap();
    assert_eq!(
        (recompiled.source.as_str(), recompiled.bytecode.as_slice()),
        ("export function bgUpdater() {}", &[4u8, 5, 6][..]),
        "new bytecode alone is written"
    );
    s.modify_charm(
        &a,
        Box::new(|c| c.source = "export function bgUpdater() {} // v2".into()),
    )
    .await
    .unwrap();
    let edited = s.charm_code(&a).await.unwrap().unwrap();
    assert_eq!(
        (edited.source.as_str(), edited.bytecode.as_slice()),
        ("export function bgUpdater() {} // v2", &[4u8, 5, 6][..]),
        "a new source alone is written"
    );
    s.modify_charm(
        &a,
        Box::new(|c| {
            c.source = "export const bgUpdater = () => 2;".into();
            c.source_sha256 = "y".into();
            c.bytecode = vec![9; 70_000];
        }),
    )
    .await
    .unwrap();
    let full = s.charm_code(&a).await.unwrap().unwrap();
    let for_run = s.charm_for_run(&a).await.unwrap().unwrap();
    assert_eq!(full.source, "export const bgUpdater = () => 2;");
    assert_eq!(full.source_sha256, "y");
    assert_eq!(
        (full.bytecode.len(), for_run.bytecode.len()),
        (70_000, 70_000)
    );
    assert_eq!(
        s.charm_code(&b).await.unwrap().unwrap().bytecode,
        vec![1, 2, 3],
        "the other charm's code is its own"
    );
    assert!(s.delete_charm(&a).await.unwrap());
    assert!(s.charm_code(&a).await.unwrap().is_none());
    assert!(s.charm_for_run(&a).await.unwrap().is_none());
    let again = add(s, code(1)).await;
    assert_eq!(
        s.charm_code(&again).await.unwrap().unwrap().bytecode,
        vec![1, 2, 3],
        "a charm added again under the id has only its new code"
    );
}

/// Prunes the runs of every charm, `charms` charms a page, as the service
/// walks its pages; returns how many went.
pub async fn prune_all_runs(s: &dyn Store, keep: u32, charms: u32) -> u64 {
    let (mut deleted, mut after) = (0, None);
    loop {
        let page = s.prune_runs(keep, after.as_ref(), charms).await.unwrap();
        deleted += page.deleted;
        match page.next {
            Some(next) => after = Some(next),
            None => return deleted,
        }
    }
}

fn pruned(deleted: u64, next: Option<&CharmId>) -> Pruned {
    Pruned {
        deleted,
        next: next.cloned(),
    }
}

pub async fn pruning_keeps_the_newest_runs_of_each_charm_page_by_page(s: &dyn Store) {
    let me = node(s).await;
    let mut charms = [add(s, code(1)).await, add(s, code(2)).await];
    charms.sort();
    let [first, second] = [&charms[0], &charms[1]];
    let mut newest = Vec::new();
    for charm in [first, second] {
        let mut runs = Vec::new();
        for _ in 0..5 {
            runs.push(run_once(s, &me, charm, &ok(None)).await);
        }
        newest.push(runs[3..].to_vec());
    }
    // A running and a queued run are neither pruned nor counted among the
    // finished runs kept.
    enqueue(s, first, Trigger::Manual).await;
    let running = claim(s, &me).await.expect("a run to claim").id;
    let queued = enqueue(s, first, Trigger::Manual).await.run_id;
    let kept = |id: &CharmId| {
        let id = id.clone();
        async move {
            let mut runs: Vec<RunId> = s
                .runs_of(&id, 100)
                .await
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect();
            runs.sort();
            runs
        }
    };

    let page = s.prune_runs(2, None, 1).await.unwrap();
    assert_eq!(
        page,
        pruned(3, Some(first)),
        "a page of one charm, the first in id order"
    );
    assert_eq!(
        kept(first).await,
        [newest[0].clone(), vec![running, queued]].concat()
    );
    assert_eq!(
        kept(second).await.len(),
        5,
        "the next page's charm is untouched"
    );
    let page = s.prune_runs(2, Some(first), 1).await.unwrap();
    assert_eq!(page, pruned(3, Some(second)));
    assert_eq!(kept(second).await, newest[1]);
    assert_eq!(
        s.prune_runs(2, Some(second), 1).await.unwrap(),
        Pruned::default(),
        "no charm after the last"
    );
    assert_eq!(
        s.prune_runs(2, None, 2).await.unwrap(),
        pruned(0, Some(second)),
        "a full page may have more after it"
    );
    assert_eq!(
        s.prune_runs(2, None, 10).await.unwrap(),
        pruned(0, None),
        "a page with room to spare is the last"
    );
    // A cursor whose charm was deleted still leads to the next page.
    assert!(s.delete_charm(first).await.unwrap());
    for _ in 0..3 {
        run_once(s, &me, second, &ok(None)).await;
    }
    let page = s.prune_runs(2, Some(first), 1).await.unwrap();
    assert_eq!(page, pruned(3, Some(second)));
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
    for key in SortKey::ALL {
        let (all, _) = s.charms(&page(None, None, key, true, 10)).await.unwrap();
        assert_eq!(all.len(), 5, "sorted by {}", key.name());
    }
    let counts = s.counts().await.unwrap();
    assert_eq!((counts.enabled, counts.disabled), (4, 1));
}

pub async fn deleting_a_charm_removes_its_state_and_runs(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    let queued = enqueue(s, &a, Trigger::Manual).await;
    assert!(s.delete_charm(&a).await.unwrap());
    assert!(!s.delete_charm(&a).await.unwrap());
    assert!(s.state(&a).await.unwrap().is_none());
    assert!(s.run(queued.run_id).await.unwrap().is_none());
    assert!(claim(s, &me).await.is_none());

    let b = add(s, code(2)).await;
    enqueue(s, &b, Trigger::Manual).await;
    let running = claim(s, &me).await.unwrap();
    s.delete_charm(&b).await.unwrap();
    assert_eq!(
        finish(s, &me, running.id, &ok(Some("{}"))).await,
        Finish::Gone
    );
}

pub async fn finished_runs_are_counted_by_minute_and_outcome(s: &dyn Store) {
    let me = node(s).await;
    let a = add(s, code(1)).await;
    for outcome in [RunOutcome::Ok, RunOutcome::Ok, RunOutcome::Timeout] {
        let finished = Finished {
            outcome,
            ..ok(None)
        };
        run_once(s, &me, &a, &finished).await;
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

pub async fn queueing_wakes_the_claimer(s: &dyn Store) {
    let a = add(s, code(1)).await;
    let wait = std::time::Duration::from_secs(5);
    let woken = async {
        tokio::time::timeout(wait, s.work_queued())
            .await
            .expect("a wake-up")
    };
    let ((), _) = tokio::join!(woken, async {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        enqueue(s, &a, Trigger::Manual).await
    });
}

/// One `#[tokio::test]` per case, each on a fresh store from `$open`.
#[macro_export]
macro_rules! conformance_cases {
    ($open:path) => {
        $crate::conformance_cases!(@cases $open;
            triggers_coalesce_and_manual_work_is_claimed_first,
            a_joined_run_takes_the_higher_priority,
            a_charm_never_runs_twice_at_once,
            a_claim_records_its_node_and_reads_the_state,
            a_batch_claim_takes_what_lone_claims_would,
            a_batch_claim_of_many_takes_each_ready_run_once,
            a_batch_of_finishes_records_each_as_alone,
            one_runs_error_does_not_fail_its_batch,
            state_is_written_only_by_successful_runs_with_the_run,
            a_finish_applies_the_policy_decision_on_the_database_clock,
            disabling_cancels_the_queued_run,
            runs_of_a_retired_node_are_rescued_with_their_key,
            a_silent_node_is_dead_and_its_heartbeat_says_so,
            an_expired_lease_is_rescued_even_from_a_live_node,
            a_rescued_retry_joins_a_queued_run,
            scheduling_queues_each_due_charm_once,
            a_large_pass_queues_each_due_charm_once,
            a_scheduled_run_joins_a_queued_run_only_to_change_it,
            a_waiting_charm_moves_on_by_as_long_as_its_run_has_waited,
            a_run_reads_the_charm_without_its_source,
            a_charms_code_is_replaced_with_its_settings_and_deleted_with_it,
            a_charms_revision_moves_with_what_a_run_reads_and_only_then,
            pruning_keeps_the_newest_runs_of_each_charm_page_by_page,
            listings_filter_sort_and_count,
            deleting_a_charm_removes_its_state_and_runs,
            finished_runs_are_counted_by_minute_and_outcome,
            queueing_wakes_the_claimer,
            events_reach_the_next_run_in_order_and_are_acked_with_it,
            a_duplicate_idempotency_key_is_accepted_and_ignored,
            a_failing_event_is_retried_with_backoff_then_dead_lettered,
            dead_letters_can_be_redriven_or_discarded,
            events_beyond_a_runs_cap_get_a_run_of_their_own,
            a_cancelled_run_keeps_its_events,
            a_delayed_run_waits_for_its_time,
            a_webhook_secret_is_set_read_and_removed,
            a_run_is_given_events_up_to_a_size_budget,
            a_failed_batch_is_retried_one_event_at_a_time,
            tokens_are_found_by_hash_until_revoked,
            the_audit_log_lists_newest_first_by_space_and_pages,
            the_private_network_grant_is_kept_with_the_charm,
            the_space_of_a_charm_or_run_is_found,
            every_written_state_is_kept_as_a_version_and_failures_add_none,
            a_rollback_is_a_new_version_and_waits_for_the_running_run,
            pruning_keeps_the_newest_state_versions_of_each_charm,
            a_rollback_must_fit_the_space_state_quota,
            a_run_asked_for_later_is_queued_at_its_time_apart_from_the_schedule,
            the_space_that_burnt_less_goes_first,
            a_space_holding_its_share_waits_while_another_is_active,
            a_finishing_run_holds_no_share,
            usage_decays_once_per_turn_and_idle_spaces_are_forgotten,
            a_run_that_holds_its_slot_costs_its_time,
            within_a_space_the_charm_that_burnt_more_waits_its_fuel,
            a_long_queue_does_not_hide_another_spaces_head,
            an_incident_raises_one_alert_and_a_new_error_another,
            due_alerts_are_leased_and_settled,
            a_charm_without_success_for_its_intervals_is_silent,
            a_space_at_its_charms_quota_refuses_another_charm,
            a_space_at_its_quota_of_runs_in_flight_waits_for_a_slot,
            a_space_over_its_fuel_quota_gets_no_claims_until_the_window_allows,
            a_state_over_the_space_quota_is_not_written_and_the_charm_not_blamed,
            pruning_keeps_each_spaces_quota_of_runs,
            spaces_show_their_quotas_usage_and_overrides,
            a_secret_is_set_listed_rotated_and_removed,
            a_charm_holds_a_bounded_number_of_secrets,
            deleting_a_charm_deletes_its_secrets,
            a_recording_is_kept_beside_its_run_with_the_source_it_ran,
            recordings_and_their_sources_are_pruned_with_their_runs,
            a_replaced_source_goes_with_its_last_recording,
        );
        $crate::conformance_cases!(@pairs $open;
            a_batch_claim_honours_quotas_and_fair_share_as_lone_claims_do,
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
    (@pairs $open:path; $($case:ident,)*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (one, two) = ($open().await, $open().await);
                conformance::$case(&*one.store, &*two.store).await;
            }
        )*
    };
}
