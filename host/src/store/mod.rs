//! The persistent store: charms, their state, and runs (which are also the
//! job queue), in an embedded SQLite database.
//!
//! Owns the schema (`host/migrations/`, applied at open), every SQL
//! statement, and the transactions that keep the invariants:
//!
//! * a charm's state is written only by a successful run, in the same
//!   transaction as that run's record, and its version goes up by one;
//! * a charm has at most one queued and at most one running run (unique
//!   partial indexes), so triggers coalesce and a charm never runs
//!   concurrently with itself;
//! * a run that was running when the process died is found at the next open
//!   ([`Store::recover_interrupted`]).
//!
//! It knows nothing about wasmtime, HTTP or scheduling policy: callers pass
//! the decisions ([`CharmUpdate`]) and the store applies them atomically.
//!
//! Writes go through one connection (SQLite has one writer; a single
//! connection serialises them without busy retries), reads through a small
//! pool. The journal is WAL with `synchronous=NORMAL`: a committed
//! transaction survives a crash of the process (kill -9); only a power loss
//! can take the last few.

mod charms;
mod runs;

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use charms::{CharmCode, CharmFilter, CharmPatch, CharmRecord, Counts, NewCharm, StateRecord};
pub use runs::{
    CharmUpdate, ClaimedRun, Enqueued, Finished, RunOutcome, RunRecord, RunSummary, Trigger,
};

/// How many connections serve reads.
const READ_CONNECTIONS: u32 = 4;

/// A store error. Messages say what failed; the API turns them into 500s
/// without showing them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrating the database failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("creating the data directory `{path}` failed: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt { what: &'static str, reason: String },
}

/// The database.
#[derive(Clone, Debug)]
pub struct Store {
    write: SqlitePool,
    read: SqlitePool,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Store {
    /// Opens (creating if needed) the database at `path` and applies the
    /// migrations.
    ///
    /// # Errors
    /// When the file cannot be opened or created, or a migration fails.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations").run(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Store { write, read })
    }

    /// Checks that the database answers.
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// Closes both pools, waiting for connections to be returned.
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

fn corrupt(what: &'static str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what,
        reason: reason.to_string(),
    }
}
