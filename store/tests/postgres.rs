//! The conformance suite on the PostgreSQL backend, each case on a fresh
//! database, and the races that only a database shared by several nodes
//! can have: each race runs two stores (two nodes' pools) at once.

mod conformance;
#[path = "support/pg.rs"]
mod pg;

use std::collections::HashSet;
use std::sync::Arc;

use charm_store::postgres::{PgOptions, PgStore};
use charm_store::{Finish, Store, Trigger};
use conformance::{
    add, claim, code, enqueue, finish, node, ok, Fresh, MANUAL, RECOVERY, SCHEDULE, TTL,
};
use pg::{fresh_database, psql, PgDatabase};

async fn connect(db: &PgDatabase) -> Arc<PgStore> {
    Arc::new(
        PgStore::connect(&db.url, &PgOptions::default())
            .await
            .expect("connect to the test database"),
    )
}

async fn open() -> Fresh {
    let db = fresh_database();
    Fresh {
        store: connect(&db).await,
        _keep: Box::new(db),
    }
}

crate::conformance_cases!(open);

/// A database with two stores on it, as two nodes have.
async fn two_nodes() -> (PgDatabase, Arc<PgStore>, Arc<PgStore>) {
    let db = fresh_database();
    let a = connect(&db).await;
    let b = connect(&db).await;
    (db, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_enqueues_coalesce_without_unique_violations() {
    let (_db, a, b) = two_nodes().await;
    let charm = add(&*a, code(1)).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = if i % 2 == 0 {
            Arc::clone(&a)
        } else {
            Arc::clone(&b)
        };
        let charm = charm.clone();
        tasks.push(tokio::spawn(async move {
            store
                .enqueue_run(&charm, Trigger::Manual, MANUAL, None)
                .await
        }));
    }
    let mut runs = HashSet::new();
    let mut inserted = 0;
    for task in tasks {
        let queued = task
            .await
            .unwrap()
            .expect("no error, 23505 or other")
            .unwrap();
        runs.insert(queued.run_id);
        inserted += usize::from(!queued.coalesced);
    }
    assert_eq!((runs.len(), inserted), (1, 1), "one run, joined 49 times");
    assert_eq!(a.counts().await.unwrap().queued, 1);
}

/// `runs` charms, each with a queued run, inserted in one statement.
fn queue_runs(db: &PgDatabase, now: i64, runs: usize) {
    psql(
        &db.url,
        &format!(
            "INSERT INTO charms (id, space, name, source_sha256, runtime_sha256, \
               interval_s, limits, allowed_hosts, enabled, next_run_at, created_at, updated_at) \
             SELECT lpad(to_hex(g), 32, '0'), 's' || (g % 4), 'c.js', 'x', 'r', 60, '{{}}', '[]', \
               true, {far}, {now}, {now} FROM generate_series(1, {runs}) g; \
             INSERT INTO charm_code SELECT id, '\\x01', '' FROM charms; \
             INSERT INTO charm_state SELECT id, '{{}}', 0, {now} FROM charms; \
             INSERT INTO runs (charm_id, space, fair_at, trigger, priority, status, queued_at) \
             SELECT id, space, {now}, 'manual', {MANUAL}, 'queued', {now} FROM charms;",
            far = i64::MAX / 2
        ),
    );
}

/// Four claimers on each of two nodes take every run, none twice: lone
/// claims, or batches of up to `batch`.
async fn claimers_take_each_run_once(batch: Option<u32>) {
    const RUNS: usize = 1000;
    let (db, a, b) = two_nodes().await;
    queue_runs(&db, a.now_ms().await.unwrap(), RUNS);
    let mut tasks = Vec::new();
    for store in [&a, &b] {
        let me = node(&**store).await;
        for _ in 0..4 {
            let (store, me) = (Arc::clone(store), me.clone());
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
                loop {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "runs still queued after 2 minutes: {} claimed here",
                        mine.len()
                    );
                    let claimed = match batch {
                        None => claim(&*store, &me).await.into_iter().collect(),
                        Some(n) => conformance::claim_batch(&*store, &me, n).await,
                    };
                    // A claim whose chosen runs another claimer held may
                    // come back empty: done only when nothing is queued.
                    if claimed.is_empty() && store.counts().await.unwrap().queued == 0 {
                        break;
                    }
                    mine.extend(claimed.iter().map(|run| run.id));
                }
                mine
            }));
        }
    }
    let mut all = Vec::new();
    let mut per_task = Vec::new();
    for task in tasks {
        let mine = task.await.unwrap();
        per_task.push(mine.len());
        all.extend(mine);
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(
        all.len(),
        RUNS,
        "every run claimed, none twice: {per_task:?}"
    );
    assert_eq!(distinct.len(), RUNS);
    assert!(
        per_task.iter().filter(|n| **n > 0).count() > 1,
        "both claimed: {per_task:?}"
    );
    assert_eq!(a.counts().await.unwrap().running, RUNS as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_claimers_claim_each_of_1000_runs_exactly_once() {
    claimers_take_each_run_once(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_claiming_in_batches_claim_each_of_1000_runs_exactly_once() {
    claimers_take_each_run_once(Some(8)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_claim_passes_over_a_run_another_transaction_holds() {
    use sqlx::Connection as _;
    let db = fresh_database();
    let s = connect(&db).await;
    let me = node(&*s).await;
    let first = add(&*s, code(1)).await;
    let second = add(&*s, code(2)).await;
    let held = enqueue(&*s, &first, Trigger::Manual).await;
    enqueue(&*s, &second, Trigger::Manual).await;
    // Another node's claim (or an enqueue joining the run) holds the row
    // of the run a claim would choose first.
    let mut other = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut tx = other.begin().await.unwrap();
    sqlx::query("SELECT id FROM runs WHERE id = $1 FOR UPDATE")
        .bind(held.run_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    let run = claim(&*s, &me).await.expect("the next run, not none");
    assert_eq!(run.charm_id, second, "passed over the held run");
    let batch = conformance::claim_batch(&*s, &me, 4).await;
    assert!(batch.is_empty(), "only the held run is left");
    tx.rollback().await.unwrap();
    let run = claim(&*s, &me).await.expect("the held run, once released");
    assert_eq!(run.id, held.run_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_finish_after_a_rescue_by_another_node_changes_nothing() {
    let (_db, a, b) = two_nodes().await;
    let charm = add(&*a, code(1)).await;
    let node_a = node(&*a).await;
    let node_b = node(&*b).await;
    enqueue(&*a, &charm, Trigger::Manual).await;
    let run = claim(&*a, &node_a).await.unwrap();
    // Node A goes silent; B's rescue takes its run.
    psql(
        &_db.url,
        &format!("UPDATE nodes SET last_seen_at = last_seen_at - {TTL} - 1 WHERE id = '{node_a}'"),
    );
    b.heartbeat(&node_b, TTL)
        .await
        .unwrap()
        .expect("B is alive");
    let rescued = b.rescue_lost_runs(TTL, RECOVERY).await.unwrap();
    assert_eq!(rescued.len(), 1);
    assert_eq!(a.heartbeat(&node_a, TTL).await.unwrap(), None, "A is dead");
    // A wakes up and finishes: nothing is written.
    assert_eq!(
        finish(&*a, &node_a, run.id, &ok(Some("{\"n\":99}"))).await,
        Finish::NotOwned
    );
    assert_eq!(a.state(&charm).await.unwrap().unwrap().version, 0);
    let retry = claim(&*b, &node_b).await.unwrap();
    assert_eq!(
        finish(&*b, &node_b, retry.id, &ok(Some("{\"n\":1}"))).await,
        Finish::Recorded {
            state_version: Some(1)
        }
    );
    let ok_runs = psql(
        &_db.url,
        "SELECT count(*) FROM runs WHERE outcome = 'ok' GROUP BY state_version HAVING count(*) > 1",
    );
    assert_eq!(ok_runs, "", "one ok run per state version");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_finish_whose_state_moved_writes_no_state() {
    let (_db, a, _b) = two_nodes().await;
    // Start A's listener: its first subscription raises a wake-up.
    conformance::drain_wakes(&*a).await;
    let charm = add(&*a, code(1)).await;
    let me = node(&*a).await;
    enqueue(&*a, &charm, Trigger::Manual).await;
    let run = claim(&*a, &me).await.unwrap();
    // A run queued behind the running one: the finish frees it.
    enqueue(&*a, &charm, Trigger::Manual).await;
    conformance::drain_wakes(&*a).await;
    assert!(!conformance::wake_kept(&*a).await);
    psql(
        &_db.url,
        "UPDATE charm_state SET version = version + 1, state = '{\"hand\":1}'",
    );
    assert_eq!(
        finish(&*a, &me, run.id, &ok(Some("{\"n\":1}"))).await,
        Finish::StateMoved { expected: 0 }
    );
    assert!(
        conformance::wake_kept(&*a).await,
        "the claim loop is woken for the run held back"
    );
    let state = a.state(&charm).await.unwrap().unwrap();
    assert_eq!((state.state.as_str(), state.version), ("{\"hand\":1}", 1));
    let record = a.run(run.id).await.unwrap().unwrap();
    assert_eq!(record.outcome, Some(charm_store::RunOutcome::Fault));
    assert_eq!(record.state_version, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_scheduler_passes_queue_each_due_charm_once() {
    const CHARMS: u8 = 100;
    const PASSES: usize = 1000;
    let (_db, a, b) = two_nodes().await;
    for n in 1..=CHARMS {
        add(&*a, code(n)).await;
    }
    let mut tasks = Vec::new();
    for worker in 0..20 {
        let store = if worker % 2 == 0 {
            Arc::clone(&a)
        } else {
            Arc::clone(&b)
        };
        tasks.push(tokio::spawn(async move {
            let mut queued = 0;
            for _ in 0..PASSES / 20 {
                let policy =
                    |now: i64, interval_s: u32, _: Option<&str>| now + i64::from(interval_s) * 1000;
                queued += store
                    .schedule_due_runs(SCHEDULE, MANUAL, 2000, &policy)
                    .await
                    .expect("a pass")
                    .queued;
            }
            queued
        }));
    }
    let mut queued = 0;
    for task in tasks {
        queued += task.await.unwrap();
    }
    assert_eq!(queued, u32::from(CHARMS));
    assert_eq!(a.counts().await.unwrap().queued, u64::from(CHARMS));
    let scheduled = psql(
        &_db.url,
        "SELECT count(*) FROM runs WHERE trigger = 'schedule'",
    );
    assert_eq!(scheduled, CHARMS.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_rescues_take_each_lost_run_once() {
    let (_db, a, b) = two_nodes().await;
    let dead = node(&*a).await;
    for n in 1..=50u8 {
        let charm = add(&*a, code(n)).await;
        enqueue(&*a, &charm, Trigger::Schedule).await;
        claim(&*a, &dead).await.unwrap();
    }
    a.retire_node(&dead).await.unwrap();
    let mut tasks = Vec::new();
    for worker in 0..10 {
        let store = if worker % 2 == 0 {
            Arc::clone(&a)
        } else {
            Arc::clone(&b)
        };
        tasks.push(tokio::spawn(async move {
            store
                .rescue_lost_runs(TTL, RECOVERY)
                .await
                .expect("a rescue")
        }));
    }
    let mut rescued = Vec::new();
    for task in tasks {
        rescued.extend(task.await.unwrap());
    }
    let runs: HashSet<_> = rescued.iter().map(|r| r.run_id).collect();
    assert_eq!((rescued.len(), runs.len()), (50, 50));
    assert!(rescued
        .iter()
        .all(|r| r.retry.is_some_and(|q| !q.coalesced)));
    assert_eq!(a.counts().await.unwrap().queued, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_nodes_enqueue_wakes_this_one() {
    let (_db, a, b) = two_nodes().await;
    let charm = add(&*a, code(1)).await;
    // Start A's listener and let it subscribe.
    let _ = tokio::time::timeout(std::time::Duration::from_millis(300), a.work_queued()).await;
    let woken = tokio::spawn({
        let a = Arc::clone(&a);
        async move {
            let started = std::time::Instant::now();
            tokio::time::timeout(std::time::Duration::from_secs(5), a.work_queued())
                .await
                .expect("woken by B's enqueue");
            started.elapsed()
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    enqueue(&*b, &charm, Trigger::Manual).await;
    let waited = woken.await.unwrap();
    assert!(waited < std::time::Duration::from_secs(1), "{waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_finishing_in_one_space_never_pass_its_state_quota_together() {
    let (_db, a, b) = two_nodes().await;
    // Each initial state `{"n":0}` is 7 bytes; each new state 19 bytes:
    // either run's state fits (26), both do not (38).
    a.set_space_quota(
        "s",
        &charm_store::QuotaOverrides {
            max_state_bytes: Some(30),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for round in 0..5u8 {
        let x = add(&*a, code(2 * round + 1)).await;
        let y = add(&*a, code(2 * round + 2)).await;
        let (na, nb) = (node(&*a).await, node(&*b).await);
        enqueue(&*a, &x, Trigger::Manual).await;
        let rx = claim(&*a, &na).await.unwrap();
        enqueue(&*b, &y, Trigger::Manual).await;
        let ry = claim(&*b, &nb).await.unwrap();
        let new_state = ok(Some("{\"n\":\"0123456789a\"}"));
        let (fx, fy) = tokio::join!(
            finish(&*a, &na, rx.id, &new_state),
            finish(&*b, &nb, ry.id, &new_state)
        );
        let written = [&fx, &fy]
            .iter()
            .filter(|f| {
                matches!(
                    f,
                    Finish::Recorded {
                        state_version: Some(1)
                    }
                )
            })
            .count();
        let refused = [&fx, &fy]
            .iter()
            .filter(|f| matches!(f, Finish::OverQuota(_)))
            .count();
        assert_eq!((written, refused), (1, 1), "round {round}: {fx:?} {fy:?}");
        // Free the space for the next round.
        a.delete_charm(&x).await.unwrap();
        a.delete_charm(&y).await.unwrap();
    }
}

#[tokio::test]
async fn an_upgrade_moves_each_charms_code_to_its_own_table_intact() {
    let db = fresh_database();
    let older = conformance::migrations_before("postgres", "0010");
    let migrator = sqlx::migrate::Migrator::new(older.path()).await.unwrap();
    assert_eq!(migrator.iter().count(), 9);
    let old = sqlx::PgPool::connect(&db.url).await.unwrap();
    migrator.run(&old).await.unwrap();
    crate::insert_charms_before_charm_code!(&old);
    let store = connect(&db).await;
    crate::check_code_after_upgrade!(&*store, &old);
}

/// A batch of finishes is recorded in one transaction, each kind of write
/// once for the whole batch, when every write is known from its lookup;
/// otherwise each run alone, through `write_finish!`. Both must record the
/// same rows (`conformance::finish_a_mixed_batch` says which way each
/// database takes: in the first, four known finishes and one that is not,
/// recorded alone after them). A trigger notes the transaction that
/// recorded each run, so the test sees that each database took the way it
/// should.
#[tokio::test]
async fn a_batch_of_known_finishes_records_the_rows_each_alone_would() {
    let mut seen = Vec::new();
    for budget in [None, Some(u64::MAX / 4)] {
        let db = fresh_database();
        let s = connect(&db).await;
        psql(
            &db.url,
            "CREATE TABLE recorded_in (run_id BIGINT, xid BIGINT); \
             CREATE FUNCTION note_xid() RETURNS trigger LANGUAGE plpgsql AS $$ \
               BEGIN INSERT INTO recorded_in VALUES (NEW.id, txid_current()); RETURN NEW; END $$; \
             CREATE TRIGGER note_xid AFTER UPDATE OF status ON runs FOR EACH ROW \
               WHEN (NEW.status = 'done' AND NEW.outcome IS DISTINCT FROM 'cancelled') \
               EXECUTE FUNCTION note_xid();",
        );
        // A block and a minute of fuel out of the window, and none in
        // this minute: the batch's fuel is the minute's first, so the
        // batch trims the old minute, and it lifts the block.
        let old_rows = || {
            psql(
                &db.url,
                "DELETE FROM space_fuel; \
                 INSERT INTO space_fuel VALUES ('s', charm_host_now_ms() / 60000 - 100, 7); \
                 INSERT INTO space_blocks VALUES ('s', charm_host_now_ms() + 3600000, 1, 1);",
            );
        };
        let mixed = conformance::finish_a_mixed_batch(&*s, budget, &old_rows).await;
        let ids: Vec<String> = mixed.batch_runs.iter().map(ToString::to_string).collect();
        let transactions = psql(
            &db.url,
            &format!(
                "SELECT COUNT(DISTINCT xid) FROM recorded_in WHERE run_id IN ({})",
                ids.join(",")
            ),
        );
        seen.push((
            mixed.lone,
            mixed.results,
            mixed.woken,
            dump(&db).await,
            transactions,
        ));
    }
    let (lone, results, woken, rows, transactions) = &seen[0];
    assert_eq!((lone, results, woken), (&seen[1].0, &seen[1].1, &seen[1].2));
    assert_eq!(
        (transactions.trim(), seen[1].4.trim()),
        ("1", "4"),
        "the batch's four runs in one transaction; alone, in four"
    );
    assert!(woken, "the run queued behind charm 1 can start");
    for (table, (known, checked)) in rows.iter().zip(&seen[1].3).enumerate() {
        assert_eq!(known, checked, "table {table} of the dump");
    }
    assert!(rows[0].contains("\"cancelled\""), "{}", rows[0]);
    for (table, dumped) in rows.iter().enumerate() {
        assert!(
            !dumped.contains("DIFFERENT"),
            "table {table}: a time not the run's: {dumped}"
        );
    }
    assert!(
        rows[3].contains("[\"s\", 500]"),
        "this minute's fuel, the batch's one run with fuel: {}",
        rows[3]
    );
    assert_eq!(
        rows[4], "[0]",
        "fuel counted in a minute no run finished in: the old minute was trimmed"
    );
    assert_eq!(rows[6], "", "the space's block was lifted");
    assert!(rows[5].contains("\"070809\""), "{}", rows[5]);
    assert_eq!(
        results.last(),
        Some(&Finish::NotOwned),
        "the run named twice is recorded once"
    );
}

/// The rows a finish writes, one JSON array a row and a text a table. A
/// time the database's clock wrote is shown as whether it is its run's
/// `finished_at` (`same`), as times differ between two databases.
async fn dump(db: &PgDatabase) -> Vec<String> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let same = |cond: &str| format!("CASE WHEN {cond} THEN 'same' ELSE 'DIFFERENT' END");
    let tables = [
        format!(
            "SELECT json_build_array(id, charm_id, trigger, priority, status, outcome, error, \
             fuel, memory_bytes, duration_ms, log, state_version, owner IS NULL, base_version, \
             attempt, finished_at IS NULL, {})::text FROM runs ORDER BY id",
            same(
                "outcome IS DISTINCT FROM 'cancelled' OR finished_at = \
                 (SELECT disabled_at FROM charms c WHERE c.id = runs.charm_id)"
            )
        ),
        format!(
            "SELECT json_build_array(id, enabled, disabled_reason, disabled_at IS NULL, \
             consecutive_failures, heavy_runs, penalty, recent_fuel, next_run_at = 123456, \
             revision, {}, {})::text FROM charms ORDER BY id",
            same(
                "last_ok_at IS NOT DISTINCT FROM (SELECT MAX(finished_at) FROM runs r \
                 WHERE r.charm_id = charms.id AND r.outcome = 'ok')"
            ),
            same(
                "disabled_at IS NULL OR disabled_at = (SELECT MAX(finished_at) FROM runs r \
                 WHERE r.charm_id = charms.id)"
            )
        ),
        format!(
            "SELECT json_build_array(s.charm_id, s.state, s.version, v.version, v.state, {}, {})::text \
             FROM charm_state s LEFT JOIN state_versions v ON v.charm_id = s.charm_id \
             ORDER BY s.charm_id, v.version",
            same(
                "s.version = 0 OR s.updated_at = (SELECT finished_at FROM runs r \
                 WHERE r.charm_id = s.charm_id AND r.state_version = s.version)"
            ),
            same(
                "v.version = 0 OR v.written_at = (SELECT finished_at FROM runs r \
                 WHERE r.charm_id = v.charm_id AND r.state_version = v.version)"
            )
        ),
        "SELECT json_build_array(space, fuel)::text FROM ( \
           SELECT space, SUM(fuel)::bigint AS fuel FROM space_fuel GROUP BY space \
           UNION ALL SELECT space, fuel::bigint FROM space_usage) x ORDER BY 1"
            .to_string(),
        "SELECT json_build_array(COUNT(*))::text FROM space_fuel WHERE minute NOT IN \
           (SELECT finished_at / 60000 FROM runs WHERE finished_at IS NOT NULL)"
            .to_string(),
        "SELECT json_build_array(r.run_id, r.charm_id, r.source_sha256, \
           encode(r.recording, 'hex'), k.name, k.source)::text \
         FROM run_recordings r LEFT JOIN recorded_sources k \
           ON k.charm_id = r.charm_id AND k.source_sha256 = r.source_sha256 ORDER BY r.run_id"
            .to_string(),
        "SELECT json_build_array(space, until, used, quota)::text FROM space_blocks ORDER BY space"
            .to_string(),
    ];
    let mut out = Vec::new();
    for sql in &tables {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        out.push(rows.join("\n"));
    }
    conn.close().await.unwrap();
    out
}
