//! The conformance suite on the SQLite backend, each case on a fresh
//! database file.

mod conformance;

use std::sync::Arc;

use charm_store::sqlite::SqliteStore;
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
