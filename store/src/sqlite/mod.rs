//! The SQLite backend: an embedded database in one file, the default.
//!
//! Owns its schema (`store/migrations/sqlite/`, applied at open), its SQL,
//! and the transactions that keep the store's invariants.
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

use async_trait::async_trait;
use sqlx::error::DatabaseError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::Connection;

use crate::{
    CharmChange, CharmCode, CharmFilter, CharmId, CharmRecord, ClaimedRun, Counts, Enqueued,
    Finished, MinuteOutcomes, NewCharm, RunId, RunRecord, StateRecord, Store, StoreError, Trigger,
    UpdatePolicy,
};

/// How many connections serve reads.
const READ_CONNECTIONS: u32 = 4;

/// The SQLite store.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    write: SqlitePool,
    read: SqlitePool,
}

/// Milliseconds since the Unix epoch: the clock of every stored time.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Why SQLite cannot take a request for now (see [`StoreError::unavailable`]).
pub(crate) fn unavailable(e: &dyn DatabaseError) -> Option<&'static str> {
    // SQLite's primary result code is the low byte of the extended one.
    let code: i64 = e.code()?.parse().ok()?;
    match code & 0xff {
        13 => Some("the database's disk is full"),
        5 | 6 => Some("the database is busy"),
        _ => None,
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies the
    /// migrations.
    ///
    /// # Errors
    /// When the file cannot be opened or created, or a migration fails.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
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
        sqlx::migrate!("./migrations/sqlite").run(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore { write, read })
    }

    /// Runs `body` in one write transaction and commits it.
    ///
    /// Every multi-statement write goes through here. When `body` fails the
    /// transaction is rolled back at once; when the commit or the rollback
    /// fails, the connection is closed and the pool opens a fresh one. A
    /// connection reused after a COMMIT that failed on a full disk was seen
    /// to hang its next statement, stalling every write of the service
    /// (`host/tests/adversarial.rs`, the full-disk case).
    async fn write_tx<T>(
        &self,
        body: impl AsyncFnOnce(&mut SqliteConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.write.acquire().await?;
        let mut tx = conn.begin().await?;
        let (result, clean) = match body(&mut tx).await {
            Ok(value) => match tx.commit().await {
                Ok(()) => (Ok(value), true),
                Err(e) => (Err(StoreError::from(e)), false),
            },
            Err(e) => {
                let clean = tx.rollback().await.is_ok();
                (Err(e), clean)
            }
        };
        if !clean {
            if let Err(e) = conn.close().await {
                tracing::warn!(error = %e, "closing a write connection after a failed transaction failed");
            }
        }
        result
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    async fn insert_charm(&self, new: &NewCharm) -> Result<(), StoreError> {
        charms::insert(self, new).await
    }

    async fn charm(&self, id: &CharmId) -> Result<Option<CharmRecord>, StoreError> {
        charms::record(self, id).await
    }

    async fn charms(&self, filter: &CharmFilter) -> Result<(Vec<CharmRecord>, u64), StoreError> {
        charms::list(self, filter).await
    }

    async fn charm_code(&self, id: &CharmId) -> Result<Option<CharmCode>, StoreError> {
        charms::code(self, id).await
    }

    async fn charm_for_run(&self, id: &CharmId) -> Result<Option<CharmCode>, StoreError> {
        charms::code_for_run(self, id).await
    }

    async fn modify_charm(
        &self,
        id: &CharmId,
        change: CharmChange,
    ) -> Result<Option<CharmRecord>, StoreError> {
        charms::modify(self, id, change).await
    }

    async fn delete_charm(&self, id: &CharmId) -> Result<bool, StoreError> {
        charms::delete(self, id).await
    }

    async fn state(&self, id: &CharmId) -> Result<Option<StateRecord>, StoreError> {
        charms::state(self, id).await
    }

    async fn due_charms(&self, now: i64, limit: u32) -> Result<Vec<(CharmId, u32)>, StoreError> {
        charms::due(self, now, limit).await
    }

    async fn next_due_after(&self, now: i64) -> Result<Option<i64>, StoreError> {
        charms::next_due_after(self, now).await
    }

    async fn enqueue_run(
        &self,
        charm: &CharmId,
        trigger: Trigger,
        priority: i64,
        input: Option<&str>,
    ) -> Result<Option<Enqueued>, StoreError> {
        runs::enqueue(self, charm, trigger, priority, input).await
    }

    async fn enqueue_scheduled_run(
        &self,
        charm: &CharmId,
        priority: i64,
        next_run_at: i64,
    ) -> Result<Option<Enqueued>, StoreError> {
        runs::enqueue_scheduled(self, charm, priority, next_run_at).await
    }

    async fn claim_next_run(&self) -> Result<Option<ClaimedRun>, StoreError> {
        runs::claim_next(self).await
    }

    async fn finish_run_if_running(
        &self,
        run: RunId,
        charm: &CharmId,
        finished: &Finished,
        policy: UpdatePolicy<'_>,
    ) -> Result<Option<i64>, StoreError> {
        runs::finish_if_running(self, run, charm, finished, policy).await
    }

    async fn rescue_interrupted_runs(
        &self,
        retry_priority: i64,
    ) -> Result<Vec<CharmId>, StoreError> {
        runs::rescue_interrupted(self, retry_priority).await
    }

    async fn run(&self, id: RunId) -> Result<Option<RunRecord>, StoreError> {
        runs::record(self, id).await
    }

    async fn runs_of(&self, charm: &CharmId, limit: u32) -> Result<Vec<RunRecord>, StoreError> {
        runs::of_charm(self, charm, limit).await
    }

    async fn prune_runs(&self, keep: u32) -> Result<u64, StoreError> {
        runs::prune(self, keep).await
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        charms::counts(self).await
    }

    async fn finished_per_minute(&self, since: i64) -> Result<Vec<MinuteOutcomes>, StoreError> {
        runs::finished_per_minute(self, since).await
    }
}
