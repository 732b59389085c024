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
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::Connection;

pub use charms::{
    CharmCode, CharmFilter, CharmPatch, CharmRecord, Counts, MinuteStats, NewCharm, SortKey,
    StateRecord,
};
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

impl StoreError {
    /// Why the database cannot take this request for now, when the failure
    /// is a condition that passes (a full disk, a busy or locked database)
    /// rather than a fault: the API answers these with 503.
    pub fn unavailable(&self) -> Option<&'static str> {
        let StoreError::Database(sqlx::Error::Database(e)) = self else {
            return None;
        };
        // SQLite's primary result code is the low byte of the extended one.
        let code: i64 = e.code()?.parse().ok()?;
        match code & 0xff {
            13 => Some("the database's disk is full"),
            5 | 6 => Some("the database is busy"),
            _ => None,
        }
    }
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

    /// Runs `body` in one write transaction and commits it.
    ///
    /// Every multi-statement write goes through here. When `body` fails the
    /// transaction is rolled back at once; when the commit or the rollback
    /// fails, the connection is closed and the pool opens a fresh one. A
    /// connection reused after a COMMIT that failed on a full disk was seen
    /// to hang its next statement, stalling every write of the service
    /// (`tests/adversarial.rs`, the full-disk case).
    ///
    /// # Errors
    /// `body`'s error, or the database's.
    pub(crate) async fn write_tx<T, E>(
        &self,
        body: impl AsyncFnOnce(&mut SqliteConnection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut conn = self.write.acquire().await.map_err(StoreError::from)?;
        let mut tx = conn.begin().await.map_err(StoreError::from)?;
        let (result, clean) = match body(&mut tx).await {
            Ok(value) => match tx.commit().await {
                Ok(()) => (Ok(value), true),
                Err(e) => (Err(StoreError::from(e).into()), false),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::SandboxLimits;

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (Store::open(&dir.path().join("test.db")).await.unwrap(), dir)
    }

    fn code(id: &str) -> CharmCode {
        CharmCode {
            id: id.to_string(),
            space: "s".into(),
            name: "c.js".into(),
            integration: None,
            source: "export function bgUpdater() {}".into(),
            source_sha256: "x".into(),
            bytecode: vec![1, 2, 3],
            runtime_sha256: "r".into(),
            interval_s: 60,
            limits: SandboxLimits::default(),
            allowed_hosts: vec![],
            enabled: true,
            disabled_reason: None,
            disabled_at: None,
            consecutive_failures: 0,
            next_run_at: 0,
        }
    }

    async fn add(store: &Store, id: &str) {
        store
            .insert_charm(&NewCharm {
                code: code(id),
                state: "{\"n\":0}".into(),
            })
            .await
            .unwrap();
    }

    fn ok(state: Option<&str>) -> Finished {
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

    fn keep(failures: u32) -> CharmUpdate {
        CharmUpdate {
            consecutive_failures: failures,
            next_run_at: None,
            disable: None,
        }
    }

    #[tokio::test]
    async fn triggers_coalesce_and_manual_work_is_claimed_first() {
        let (s, _dir) = store().await;
        for id in ["a", "b"] {
            add(&s, id).await;
        }
        let scheduled = s
            .enqueue("a", Trigger::Schedule, None)
            .await
            .unwrap()
            .unwrap();
        assert!(!scheduled.coalesced);
        let again = s
            .enqueue("a", Trigger::Schedule, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((again.run_id, again.coalesced), (scheduled.run_id, true));
        let manual = s
            .enqueue("b", Trigger::Manual, Some("{\"x\":1}"))
            .await
            .unwrap()
            .unwrap();
        let first = s.claim_next().await.unwrap().unwrap();
        assert_eq!(
            (first.id, first.input.as_deref()),
            (manual.run_id, Some("{\"x\":1}"))
        );
        assert_eq!(s.claim_next().await.unwrap().unwrap().id, scheduled.run_id);
        assert!(s.claim_next().await.unwrap().is_none());
        assert!(s
            .enqueue("nope", Trigger::Manual, None)
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn a_charm_never_runs_twice_at_once() {
        let (s, _dir) = store().await;
        add(&s, "a").await;
        s.enqueue("a", Trigger::Schedule, None).await.unwrap();
        let running = s.claim_next().await.unwrap().unwrap();
        // One more may queue behind the running one, but not start.
        let next = s
            .enqueue("a", Trigger::Manual, None)
            .await
            .unwrap()
            .unwrap();
        assert!(!next.coalesced);
        assert!(
            s.claim_next().await.unwrap().is_none(),
            "the charm is already running"
        );
        s.finish(running.id, "a", &ok(None), |_| keep(0))
            .await
            .unwrap();
        assert_eq!(s.claim_next().await.unwrap().unwrap().id, next.run_id);
    }

    #[tokio::test]
    async fn state_is_written_only_by_successful_runs_with_the_run() {
        let (s, _dir) = store().await;
        add(&s, "a").await;
        s.enqueue("a", Trigger::Manual, None).await.unwrap();
        let run = s.claim_next().await.unwrap().unwrap();
        let failed = Finished {
            outcome: RunOutcome::Error,
            error: Some("boom".into()),
            ..ok(Some("{\"n\":9}"))
        };
        assert_eq!(
            s.finish(run.id, "a", &failed, |f| keep(f + 1))
                .await
                .unwrap(),
            None
        );
        let state = s.state("a").await.unwrap().unwrap();
        assert_eq!(
            (state.state.as_str(), state.version),
            ("{\"n\":0}", 0),
            "a failed run never writes"
        );
        assert_eq!(s.charm("a").await.unwrap().unwrap().consecutive_failures, 1);

        s.enqueue("a", Trigger::Manual, None).await.unwrap();
        let run = s.claim_next().await.unwrap().unwrap();
        assert_eq!(
            s.finish(run.id, "a", &ok(Some("{\"n\":1}")), |_| keep(0))
                .await
                .unwrap(),
            Some(1)
        );
        assert_eq!(s.run(run.id).await.unwrap().unwrap().state_version, Some(1));
        // Finishing the same run twice writes nothing the second time.
        assert_eq!(
            s.finish(run.id, "a", &ok(Some("{\"n\":2}")), |_| keep(0))
                .await
                .unwrap(),
            None
        );
        assert_eq!(s.state("a").await.unwrap().unwrap().version, 1);
    }

    #[tokio::test]
    async fn disabling_cancels_the_queued_run_and_recovery_requeues_interrupted_ones() {
        let (s, _dir) = store().await;
        add(&s, "a").await;
        add(&s, "b").await;
        let queued = s
            .enqueue("a", Trigger::Schedule, None)
            .await
            .unwrap()
            .unwrap();
        s.modify_charm("a", |c| -> Result<(), StoreError> {
            c.enabled = false;
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(
            s.run(queued.run_id)
                .await
                .unwrap()
                .unwrap()
                .outcome
                .as_deref(),
            Some("cancelled")
        );
        assert!(
            s.enqueue("a", Trigger::Manual, None)
                .await
                .unwrap()
                .is_none(),
            "a disabled charm takes no runs"
        );

        s.enqueue("b", Trigger::Manual, None).await.unwrap();
        let lost = s.claim_next().await.unwrap().unwrap();
        assert_eq!(
            s.recover_interrupted().await.unwrap(),
            vec!["b".to_string()]
        );
        assert_eq!(
            s.run(lost.id).await.unwrap().unwrap().outcome.as_deref(),
            Some("interrupted")
        );
        let retry = s.claim_next().await.unwrap().unwrap();
        assert_eq!(retry.trigger, "recovery");
    }

    #[tokio::test]
    async fn a_run_reads_the_charm_without_its_source() {
        let (s, _dir) = store().await;
        add(&s, "a").await;
        let for_run = s.charm_for_run("a").await.unwrap().unwrap();
        let full = s.charm_code("a").await.unwrap().unwrap();
        assert_eq!(for_run.source, "");
        assert_eq!(
            CharmCode {
                source: full.source.clone(),
                ..for_run
            },
            full,
            "everything else is the same"
        );
        assert!(s.charm_for_run("nope").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn pruning_keeps_the_newest_runs_of_each_charm() {
        let (s, _dir) = store().await;
        add(&s, "a").await;
        for _ in 0..5 {
            s.enqueue("a", Trigger::Manual, None).await.unwrap();
            let run = s.claim_next().await.unwrap().unwrap();
            s.finish(run.id, "a", &ok(None), |_| keep(0)).await.unwrap();
        }
        assert_eq!(s.prune_runs(2).await.unwrap(), 3);
        let runs = s.runs_of("a", 100).await.unwrap();
        assert_eq!(runs.len(), 2);
        assert!(runs[0].id > runs[1].id);
        assert_eq!(s.prune_runs(2).await.unwrap(), 0);
    }
}
