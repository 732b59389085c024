//! The conformance suite on the SQLite backend, each case on a fresh
//! database file, and what is SQLite's own: one node per file.

mod conformance;

use std::sync::Arc;

use charm_store::sqlite::SqliteStore;
use charm_store::{NodeInfo, Store, StoreError};
use conformance::Fresh;

async fn open() -> Fresh {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = SqliteStore::open(&dir.path().join("test.db"))
        .await
        .expect("open the database");
    Fresh {
        store: Arc::new(store),
        _keep: Box::new(dir),
    }
}

crate::conformance_cases!(open);

#[tokio::test]
async fn a_second_node_on_one_file_is_refused_and_a_restart_takes_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.db");
    let info = NodeInfo {
        hostname: "h".into(),
        pid: 1,
    };
    let first = SqliteStore::open(&path).await.unwrap();
    let a = first.register_node(&info).await.unwrap();
    let charm = conformance::add(&first, conformance::code(1)).await;
    conformance::enqueue(&first, &charm, charm_store::Trigger::Manual).await;
    let lost = conformance::claim(&first, &a).await.unwrap();

    let second = SqliteStore::open(&path).await.unwrap();
    let err = second.register_node(&info).await.unwrap_err();
    assert!(matches!(err, StoreError::InUse { .. }), "{err}");
    second.close().await;

    // The first process goes away (its lock with it); the next one retires
    // it at once, and its first rescue takes the run.
    first.close().await;
    drop(first);
    let next = SqliteStore::open(&path).await.unwrap();
    next.register_node(&info).await.unwrap();
    let rescued = next
        .rescue_lost_runs(conformance::TTL, conformance::RECOVERY)
        .await
        .unwrap();
    assert_eq!(rescued.len(), 1);
    assert_eq!(rescued[0].run_id, lost.id);
}

/// A second connection to the test file, to plant a trigger that makes one
/// statement of one run fail (what a full disk or a corrupt row does to one
/// run of a batch).
async fn side_door(path: &std::path::Path, sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

/// The state moved under a run (an operator's write, here through a side
/// door): the finish must take the path that checks each write, not the
/// one-message path, and write no state.
#[tokio::test]
async fn a_finish_whose_state_moved_writes_no_state() {
    use charm_store::{Finish, RunOutcome};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let s = SqliteStore::open(&path).await.unwrap();
    let me = conformance::node(&s).await;
    let charm = conformance::add(&s, conformance::code(1)).await;
    conformance::enqueue(&s, &charm, charm_store::Trigger::Manual).await;
    let run = conformance::claim(&s, &me).await.unwrap();
    // A run queued behind the running one: the finish frees it.
    conformance::enqueue(&s, &charm, charm_store::Trigger::Manual).await;
    conformance::drain_wakes(&s).await;
    assert!(!conformance::wake_kept(&s).await);
    side_door(
        &path,
        "UPDATE charm_state SET version = version + 1, state = '{\"hand\":1}'",
    )
    .await;
    assert_eq!(
        conformance::finish(&s, &me, run.id, &conformance::ok(Some("{\"n\":1}"))).await,
        Finish::StateMoved { expected: 0 }
    );
    assert!(
        conformance::wake_kept(&s).await,
        "the claim loop is woken for the run held back"
    );
    let state = s.state(&charm).await.unwrap().unwrap();
    assert_eq!((state.state.as_str(), state.version), ("{\"hand\":1}", 1));
    let record = s.run(run.id).await.unwrap().unwrap();
    assert_eq!(record.outcome, Some(RunOutcome::Fault));
    assert_eq!(record.state_version, None);
    // The next run starts from the moved state and is recorded in one
    // message again.
    conformance::enqueue(&s, &charm, charm_store::Trigger::Manual).await;
    let next = conformance::claim(&s, &me).await.unwrap();
    assert_eq!(next.base_version, 1);
    assert_eq!(
        conformance::finish(&s, &me, next.id, &conformance::ok(Some("{\"n\":2}"))).await,
        Finish::Recorded {
            state_version: Some(2)
        }
    );
}

#[tokio::test]
async fn a_batch_whose_one_run_fails_records_the_others_alone() {
    use charm_store::{Finish, RunStatus, RunToFinish};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let s = SqliteStore::open(&path).await.unwrap();
    let me = conformance::node(&s).await;
    let mut charms = Vec::new();
    for n in 1..=3 {
        let charm = conformance::add(&s, conformance::code(n)).await;
        conformance::enqueue(&s, &charm, charm_store::Trigger::Manual).await;
        charms.push(charm);
    }
    let runs = s
        .claim_runs(
            &me,
            conformance::LEASE,
            conformance::MAX_EVENTS,
            charm_store::FairShare::default(),
            3,
        )
        .await
        .unwrap();
    assert_eq!(runs.len(), 3);
    side_door(
        &path,
        &format!(
            "CREATE TRIGGER boom BEFORE UPDATE OF status ON runs \
             WHEN NEW.id = {} AND NEW.status = 'done' BEGIN SELECT RAISE(ABORT, 'boom'); END",
            runs[1].id
        ),
    )
    .await;
    let wrote = conformance::ok(Some("{\"n\":1}"));
    let calls = std::sync::atomic::AtomicU32::new(0);
    let policy = |b: charm_store::Before, _| {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        conformance::keep(b.failures)
    };
    let batch: Vec<RunToFinish<'_>> = runs
        .iter()
        .map(|r| RunToFinish {
            run: r.id,
            node: &me,
            finished: &wrote,
            policy: &policy,
        })
        .collect();
    let results = s.finish_runs_if_owned(&batch).await;
    assert_eq!(results.len(), 3);
    assert_eq!(
        results[0].as_ref().unwrap(),
        &Finish::Recorded {
            state_version: Some(1)
        }
    );
    assert!(results[1].is_err(), "{:?}", results[1]);
    assert_eq!(
        results[2].as_ref().unwrap(),
        &Finish::Recorded {
            state_version: Some(1)
        }
    );
    for (i, (status, version)) in [
        (RunStatus::Done, 1),
        (RunStatus::Running, 0),
        (RunStatus::Done, 1),
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(
            s.run(runs[i].id).await.unwrap().unwrap().status,
            status,
            "run {i}"
        );
        assert_eq!(
            s.state(&charms[i]).await.unwrap().unwrap().version,
            version,
            "charm {i}"
        );
    }
    let fuel: i64 = {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        sqlx::query_scalar("SELECT CAST(SUM(fuel) AS INTEGER) FROM space_fuel")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(fuel, 2, "the rolled-back batch counted no fuel twice");
    // A batch decides every known run's writes before it writes any: three
    // times in the batch that rolled back, then once for each run recorded
    // alone.
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 6);
}

#[tokio::test]
async fn a_failing_claim_fails_its_batch_and_leaves_every_run_queued() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let s = SqliteStore::open(&path).await.unwrap();
    let me = conformance::node(&s).await;
    let first = conformance::add(&s, conformance::code(1)).await;
    let poison = conformance::add(&s, conformance::code(2)).await;
    let queued = conformance::enqueue(&s, &first, charm_store::Trigger::Manual).await;
    conformance::enqueue(&s, &poison, charm_store::Trigger::Manual).await;
    let event = charm_store::NewEvent {
        source: "t".into(),
        data: "{}".into(),
        idempotency_key: None,
    };
    s.deliver_event(
        &poison,
        charm_store::Trigger::Manual,
        conformance::MANUAL,
        &event,
    )
    .await
    .unwrap()
    .unwrap();
    side_door(
        &path,
        &format!(
            "CREATE TRIGGER boom BEFORE UPDATE OF run_id ON events \
             WHEN NEW.charm_id = '{}' BEGIN SELECT RAISE(ABORT, 'boom'); END",
            poison.as_str()
        ),
    )
    .await;
    let fair = charm_store::FairShare::default();
    // One transaction: the poisoned claim takes the first with it.
    let batch = s
        .claim_runs(
            &me,
            conformance::LEASE,
            conformance::MAX_EVENTS,
            fair.clone(),
            2,
        )
        .await;
    assert!(batch.is_err(), "{:?}", batch.map(|v| v.len()));
    let record = s.run(queued.run_id).await.unwrap().unwrap();
    assert_eq!(
        record.status,
        charm_store::RunStatus::Queued,
        "nothing half-claimed"
    );
    // A lone claim still takes it.
    let lone = s
        .claim_next_run(&me, conformance::LEASE, conformance::MAX_EVENTS, fair)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lone.charm_id, first);
}

/// A database file as the migrations up to `0011` left it, before the code
/// moved to a table of its own.
async fn database_before_charm_code(path: &std::path::Path) -> sqlx::SqlitePool {
    let older = conformance::migrations_before("sqlite", "0012");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let migrator = sqlx::migrate::Migrator::new(older.path()).await.unwrap();
    assert_eq!(migrator.iter().count(), 11);
    migrator.run(&pool).await.unwrap();
    pool
}

#[tokio::test]
async fn an_upgrade_moves_each_charms_code_to_its_own_table_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let old = database_before_charm_code(&path).await;
    crate::insert_charms_before_charm_code!(&old);
    old.close().await;

    let store = SqliteStore::open(&path).await.unwrap();
    let reader =
        sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&path))
            .await
            .unwrap();
    crate::check_code_after_upgrade!(&store, &reader);
}

/// A finish is written one of two ways: all its writes known from the
/// lookup and run on SQLite's handle, or each decided on the answer of the
/// one before (`write_finish!`). Both must record the same rows
/// (`conformance::finish_a_mixed_batch` says which way each store takes).
#[tokio::test]
async fn known_and_checked_finishes_record_the_same_rows() {
    let mut seen = Vec::new();
    for budget in [None, Some(u64::MAX / 4)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let s = SqliteStore::open(&path).await.unwrap();
        let mixed = conformance::finish_a_mixed_batch(&s, budget, &|| ()).await;
        seen.push((mixed.lone, mixed.results, mixed.woken, dump(&path).await));
    }
    let (lone, results, woken, rows) = &seen[0];
    assert_eq!((lone, results, woken), (&seen[1].0, &seen[1].1, &seen[1].2));
    assert!(woken, "the run queued behind charm 1 can start");
    for (table, (known, checked)) in rows.iter().zip(&seen[1].3).enumerate() {
        assert_eq!(known, checked, "table {table} of the dump");
    }
    assert!(rows[0].contains("\"cancelled\""), "{}", rows[0]);
    assert_eq!(
        rows[1], "[1]",
        "the batch's finishes share the lookup's time"
    );
    assert!(
        !rows[0].contains("DIFFERENT"),
        "a time not the run's: {}",
        rows[0]
    );
    assert!(
        !rows[2].contains("DIFFERENT"),
        "a time not the run's: {}",
        rows[2]
    );
    assert!(
        !rows[3].contains("DIFFERENT"),
        "a time not the run's: {}",
        rows[3]
    );
    assert!(
        rows[4].contains("[\"s\",1000]"),
        "the fuel of two runs: {}",
        rows[4]
    );
    assert_eq!(
        rows[5], "[0]",
        "fuel counted in a minute no run finished in"
    );
    assert_eq!(
        results.last(),
        Some(&charm_store::Finish::NotOwned),
        "the run named twice is recorded once"
    );
}

/// The rows a finish writes, one JSON array a row and a text a table. A
/// time the database's clock wrote is shown as whether it is its run's
/// `finished_at` (`same`), as times differ between two stores.
async fn dump(path: &std::path::Path) -> Vec<String> {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    // Times differ between the stores, so each is dumped as what it must
    // equal in its own store: a finish writes its run's `finished_at`
    // everywhere it writes a time.
    let tables = [
        "SELECT json_array(id, charm_id, trigger, priority, status, outcome, error, fuel, \
         memory_bytes, duration_ms, log, state_version, owner IS NULL, base_version, attempt, \
         finished_at IS NULL, iif(outcome IS NOT 'cancelled' \
           OR finished_at = (SELECT disabled_at FROM charms c WHERE c.id = runs.charm_id), \
           'same', 'DIFFERENT')) \
         FROM runs ORDER BY id",
        // The batch's runs (all but charm 5's, finished alone just before).
        "SELECT json_array(COUNT(DISTINCT finished_at)) FROM runs \
         WHERE finished_at IS NOT NULL AND charm_id <> '00000000000000000000000000000005'",
        "SELECT json_array(id, enabled, disabled_reason, disabled_at IS NULL, \
         consecutive_failures, heavy_runs, \
         penalty, recent_fuel, next_run_at = 123456, \
         iif(last_ok_at IS (SELECT MAX(finished_at) FROM runs r \
                            WHERE r.charm_id = charms.id AND r.outcome = 'ok'), \
             'same', 'DIFFERENT'), \
         iif(disabled_at IS NULL OR disabled_at = (SELECT MAX(finished_at) FROM runs r \
                                                   WHERE r.charm_id = charms.id), \
             'same', 'DIFFERENT')) \
         FROM charms ORDER BY id",
        "SELECT json_array(s.charm_id, s.state, s.version, v.version, v.state, \
         iif(s.version = 0 OR s.updated_at = (SELECT finished_at FROM runs r \
                WHERE r.charm_id = s.charm_id AND r.state_version = s.version), \
             'same', 'DIFFERENT'), \
         iif(v.version = 0 OR v.written_at = (SELECT finished_at FROM runs r \
                WHERE r.charm_id = v.charm_id AND r.state_version = v.version), \
             'same', 'DIFFERENT')) \
         FROM charm_state s LEFT JOIN state_versions v ON v.charm_id = s.charm_id \
         ORDER BY s.charm_id, v.version",
        "SELECT json_array(space, fuel) FROM (SELECT space, SUM(fuel) AS fuel FROM space_fuel \
         GROUP BY space UNION ALL SELECT space, fuel FROM space_usage)",
        "SELECT json_array(COUNT(*)) FROM space_fuel \
         WHERE minute NOT IN (SELECT finished_at / 60000 FROM runs WHERE finished_at IS NOT NULL)",
        "SELECT json_array(r.run_id, r.charm_id, r.source_sha256, hex(r.recording), k.name, \
         k.source) FROM run_recordings r LEFT JOIN recorded_sources k \
         ON k.charm_id = r.charm_id AND k.source_sha256 = r.source_sha256 ORDER BY r.run_id",
    ];
    let mut out = Vec::new();
    for sql in tables {
        let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap();
        out.push(rows.join("\n"));
    }
    conn.close().await.unwrap();
    out
}
