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
