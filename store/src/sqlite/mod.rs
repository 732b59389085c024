//! The SQLite backend: an embedded database in one file, the default.
//!
//! Owns its schema (`store/migrations/sqlite/`, applied at open), its SQL,
//! and the transactions that keep the store's invariants.
//!
//! One node: registering a node takes an exclusive lock on a file beside
//! the database (`<db>.node-lock`), so a second `serve` on the same file is
//! refused rather than left to fight the first over its runs; and since
//! holding the lock proves every earlier node is gone, registering retires
//! their rows at once and the first rescue takes their runs.
//!
//! Writes go through one connection (SQLite has one writer; a single
//! connection serialises them without busy retries), which the store owns
//! (`writer`), reads through a small pool. The journal is WAL with
//! `synchronous=NORMAL`: a committed transaction survives a crash of the
//! process (kill -9); a power loss or a crash of the OS can take the
//! transactions committed since the last checkpoint (the WAL is synced only
//! then; see `WAL_CHECKPOINT_PAGES`). A task of the store checkpoints the
//! WAL beside the writes (`checkpoint`).

mod charms;
mod checkpoint;
mod direct;
mod finish;
pub mod profile;
mod runs;
mod tx;
mod writer;

mod reads {
    crate::rows::read_ops!(
        sqlx::sqlite::SqlitePool,
        &mut sqlx::sqlite::SqliteConnection
    );
}

mod inbox {
    crate::inbox::inbox_ops!(sqlx::sqlite::SqliteConnection, super::NOW);
}

mod kept_states {
    crate::history::history_ops!(sqlx::sqlite::SqliteConnection);
}

mod pruning {
    crate::prune::prune_ops!(
        sqlx::sqlite::SqliteConnection,
        "DELETE FROM runs WHERE status = 'done' AND charm_id > $2 AND charm_id <= $3 \
         AND id IN (SELECT value FROM json_each($1))"
    );
}

mod tenants {
    crate::tenancy::tenancy_ops!(sqlx::sqlite::SqliteConnection);
}

mod alerting {
    crate::alerts::alert_ops!(sqlx::sqlite::SqliteConnection);
}

mod quota {
    // One writer: every transaction that counts a space is serialised.
    crate::quota::quota_ops!(
        sqlx::sqlite::SqliteConnection,
        |col| format!("LENGTH(CAST({col} AS BLOB))"),
        None
    );
}

mod secret_rows {
    // One writer connection: its transaction serialises changes.
    crate::secrets::secret_ops!(sqlx::sqlite::SqliteConnection, super::NOW, "");
}

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::error::DatabaseError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};

use crate::alerts::{AlertId, AlertRecord, AlertStatus, AlertTransition};
use crate::history::{Rollback, StateVersion};
use crate::secrets::{PutSecret, SealedSecret, SecretName};
use crate::tenancy::{AuditFilter, AuditRecord, NewAudit, NewToken, SpaceOf, TokenRecord};
use crate::wake::Wake;
use crate::{
    Cancel, CharmChange, CharmCode, CharmFilter, CharmId, CharmRecord, ClaimedRun, Counts,
    Delivered, Enqueued, EventId, EventRecord, EventStatus, FairShare, Finish, Finished, Hook,
    MinuteOutcomes, NewCharm, NewEvent, NextRunPolicy, NodeId, NodeInfo, NodeRecord, Pruned,
    RescuedRun, RunId, RunRecord, RunToFinish, SchedulePass, StateRecord, Store, StoreError,
    Trigger, UpdatePolicy,
};

/// How many connections serve reads.
const READ_CONNECTIONS: u32 = 4;

/// WAL pages (4 KiB each) not yet copied back after which the WAL is
/// checkpointed, against SQLite's default of 1,000. A checkpoint costs two
/// `fsync`s whatever it copies, and until the twenty-eighth round the
/// write connection ran it while every write waited; measured then at
/// 3,000 charms due every second (issue 18): 1,000 pages, 531 runs/s;
/// 4,000, 721; 8,000, 811; 16,000, 883. At 100,000 charms a commit
/// dirties pages all over the tables and indexes, and a checkpoint copies
/// most of them again: with 100,000 charms due every 30 s (more than the
/// node runs), 10,000 pages ran 1,627 and 1,727 runs/s and 40,000 ran
/// 2,038 and 2,356 (the checkpoint was 14% of the daemon's CPU samples at
/// 10,000). Now the checkpoint runs beside the writes (`checkpoint`), and
/// holds them only for what is left after its passes beside them (14–30
/// ms a round at 10,000 charms due every second).
///
/// What it costs: a crash of the process still loses nothing committed (a
/// commit reaches the WAL before it returns). `synchronous = NORMAL` syncs
/// the WAL only when a checkpoint copies it back, so a power loss or an OS
/// crash can take every commit since the last checkpoint began: up to
/// this many pages and what the writes add while it copies (10,000 before
/// the twenty-first round; SQLite's default is 1,000), on a quiet node
/// however long it takes to write them, and more while a reader holds an
/// old snapshot and the checkpoint cannot copy, or should the checkpoint
/// task fail (then up to twice this many). The WAL takes about 200 MiB on
/// disk at 10,000 charms due every second (`journal_size_limit` cuts it
/// back to twice this many pages, 320 MiB, once it starts over), and a
/// stop or the next open checkpoints or replays up to that much.
const WAL_CHECKPOINT_PAGES: u32 = 40_000;

/// When the WAL is checkpointed: from `WAL_CHECKPOINT_PAGES` frames, beside
/// the writes until 1,000 are left (or after four passes), and the write
/// connection copies the rest; and its own automatic checkpoint at twice
/// that, should the task fall behind. The WAL file is cut back to the
/// backstop's length, not to `WAL_CHECKPOINT_PAGES`: the WAL ends a round
/// a little longer than that (about 50,000 frames at 10,000 charms due
/// every second), and cutting it back each time cost the write connection
/// 5–10 ms an `ftruncate`.
const CHECKPOINTS: checkpoint::Checkpoints = checkpoint::Checkpoints {
    after_frames: WAL_CHECKPOINT_PAGES,
    tail_frames: 1_000,
    writer_backstop: 2 * WAL_CHECKPOINT_PAGES,
};

/// The database's clock in SQL: ms since the Unix epoch.
pub(crate) const NOW: &str = "CAST(unixepoch('subsec') * 1000 AS INTEGER)";

crate::rows::impl_columns!(sqlx::sqlite::SqliteRow);

/// The SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    write: Arc<writer::Writer>,
    /// Copies the WAL back beside the writes (see [`checkpoint`]).
    checkpoints: checkpoint::Checkpointer,
    read: SqlitePool,
    path: PathBuf,
    /// The lock that makes this process the database's one node, once it
    /// registered one.
    node_lock: Mutex<Option<std::fs::File>>,
    wake: Wake,
    /// The default quotas of every space.
    quota: crate::quota::Defaults,
}

/// [`direct::plan_once`] as a pool's `after_connect`, which takes sqlx's
/// error.
async fn plan_once(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    direct::plan_once(conn)
        .await
        .map_err(|e| sqlx::Error::Configuration(Box::new(e)))
}

/// Why SQLite cannot take a request for now (see [`StoreError::unavailable`]).
pub(crate) fn unavailable(e: &dyn DatabaseError) -> Option<&'static str> {
    unavailable_code(e.code()?.parse().ok()?)
}

/// [`unavailable`] by SQLite's (extended) result code.
pub(crate) fn unavailable_code(code: i64) -> Option<&'static str> {
    // SQLite's primary result code is the low byte of the extended one.
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
        // `temp_store = MEMORY`: inside a transaction, a statement that
        // changes several rows (the claim, the schedule pass's chunks, a
        // write with a trigger) keeps the original of each page it changes
        // in a statement journal, to undo itself alone. Past 64 KiB SQLite
        // moves that journal to a temporary file, created and deleted for
        // each transaction where that happens: 15 of a run's 39 `pwrite`s,
        // and most of the statement journal's 18% of the claim's CPU
        // samples, at 10,000 charms due every second (issue 18). In memory
        // it costs a statement's changed pages until the statement ends;
        // the prune's `IN` lists (a page of charms' old state versions) and
        // sorts on this connection stay in memory too. The migrations,
        // which may rewrite or index whole tables, run on a connection of
        // their own with the default, so theirs can spill to disk.
        //
        // The WAL is checkpointed beside the writes (`checkpoint`); the
        // write connection's own automatic checkpoint is the backstop.
        let write = Arc::new(writer::Writer::new(
            options
                .clone()
                .pragma(
                    "wal_autocheckpoint",
                    CHECKPOINTS.writer_backstop.to_string(),
                )
                .pragma("temp_store", "MEMORY")
                .pragma(
                    "journal_size_limit",
                    (u64::from(CHECKPOINTS.writer_backstop) * 4096).to_string(),
                ),
        ));
        {
            let mut conn = options.connect().await?;
            let migrated = sqlx::migrate!("./migrations/sqlite")
                .run(&mut conn)
                .await
                .map_err(StoreError::from);
            let closed = conn.close().await;
            migrated?;
            closed?;
        }
        let read = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .after_connect(|conn, _| Box::pin(plan_once(conn)))
            .connect_with(options.clone().read_only(true))
            .await?;
        let checkpoints =
            checkpoint::Checkpointer::start(options.clone(), Arc::downgrade(&write), CHECKPOINTS);
        Ok(SqliteStore {
            write,
            checkpoints,
            read,
            path: path.to_path_buf(),
            node_lock: Mutex::new(None),
            wake: Wake::default(),
            quota: crate::quota::Defaults::default(),
        })
    }

    /// Takes the one-node lock beside the database, once per store.
    fn lock_node(&self) -> Result<(), StoreError> {
        let mut held = self
            .node_lock
            .lock()
            .map_err(|_| crate::corrupt("node lock", "poisoned"))?;
        if held.is_some() {
            return Ok(());
        }
        let mut name = self.path.as_os_str().to_owned();
        name.push(".node-lock");
        let in_use = || StoreError::InUse {
            path: self.path.display().to_string(),
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(PathBuf::from(&name))
            .map_err(|source| StoreError::DataDir {
                path: PathBuf::from(&name).display().to_string(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => {
                *held = Some(file);
                Ok(())
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(in_use()),
            Err(std::fs::TryLockError::Error(source)) => Err(StoreError::DataDir {
                path: PathBuf::from(&name).display().to_string(),
                source,
            }),
        }
    }

    /// Runs `body` in one write transaction and commits it.
    ///
    /// Every multi-statement write goes through here. When `body` fails the
    /// transaction is rolled back at once; when the begin, the commit or the
    /// rollback fails, the connection is closed and the next write opens a
    /// fresh one. A connection reused after a COMMIT that failed on a full
    /// disk was seen to hang its next statement, stalling every write of the
    /// service (`host/tests/adversarial.rs`, the full-disk case).
    async fn write_tx<T>(
        &self,
        body: impl AsyncFnOnce(&mut SqliteConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write_tx_direct(async |tx| body(tx.conn().await?).await)
            .await
    }

    /// [`Self::write_tx`], for a body that runs statements on the write
    /// connection's handle ([`tx::WriteTx::direct`]), where the `BEGIN` and
    /// the `COMMIT` join its first and last turns.
    async fn write_tx_direct<T>(
        &self,
        body: impl AsyncFnOnce(&mut tx::WriteTx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self.write.acquire().await?;
        let mut tx = tx::WriteTx::new(guard.open());
        let result = body(&mut tx).await;
        let (result, sound) = tx.end(result).await;
        if sound {
            guard.settle(&result).await;
        } else {
            guard.discard().await;
        }
        result
    }

    /// Runs `body` on the write connection, outside a transaction: for a
    /// write of one statement.
    pub(super) async fn write_one<T>(
        &self,
        body: impl AsyncFnOnce(&mut SqliteConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self.write.acquire().await?;
        let result = body(&mut guard).await;
        guard.settle(&result).await;
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
        self.checkpoints.stop().await;
        self.read.close().await;
        self.write.close().await;
        if let Ok(mut held) = self.node_lock.lock() {
            held.take();
        }
    }

    async fn now_ms(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(now_sql()).fetch_one(&self.read).await?)
    }

    async fn work_queued(&self) {
        self.wake.wait().await;
    }

    async fn insert_charm(&self, new: &NewCharm) -> Result<(), StoreError> {
        charms::insert(self, new).await
    }

    async fn charm(&self, id: &CharmId) -> Result<Option<CharmRecord>, StoreError> {
        reads::record(&self.read, id).await
    }

    async fn charms(&self, filter: &CharmFilter) -> Result<(Vec<CharmRecord>, u64), StoreError> {
        reads::list(&self.read, filter).await
    }

    async fn charm_code(&self, id: &CharmId) -> Result<Option<CharmCode>, StoreError> {
        reads::code(&self.read, id).await
    }

    async fn charm_for_run(&self, id: &CharmId) -> Result<Option<CharmCode>, StoreError> {
        reads::code_for_run(&self.read, id).await
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
        reads::state(&self.read, id).await
    }

    async fn enqueue_run(
        &self,
        charm: &CharmId,
        trigger: Trigger,
        priority: i64,
        not_before: Option<i64>,
    ) -> Result<Option<Enqueued>, StoreError> {
        runs::enqueue(self, charm, trigger, priority, not_before).await
    }

    async fn deliver_event(
        &self,
        charm: &CharmId,
        trigger: Trigger,
        priority: i64,
        event: &NewEvent,
    ) -> Result<Option<Delivered>, StoreError> {
        runs::deliver(self, charm, trigger, priority, event).await
    }

    async fn events(
        &self,
        charm: &CharmId,
        status: Option<EventStatus>,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let mut conn = self.read.acquire().await?;
        inbox::list_events(&mut conn, charm, status, limit).await
    }

    async fn redrive_events(
        &self,
        charm: &CharmId,
        ids: Option<&[EventId]>,
        priority: i64,
    ) -> Result<u64, StoreError> {
        runs::redrive(self, charm, ids, priority).await
    }

    async fn discard_events(
        &self,
        charm: &CharmId,
        ids: Option<&[EventId]>,
    ) -> Result<u64, StoreError> {
        self.write_tx(async |conn| inbox::discard(conn, charm, ids).await)
            .await
    }

    async fn prune_events(&self, before: i64, batch: u32) -> Result<u64, StoreError> {
        self.write_one(async |conn| inbox::prune_events(conn, before, batch).await)
            .await
    }

    async fn cancel_run(&self, run: RunId, reason: &str) -> Result<Option<Cancel>, StoreError> {
        self.write_tx(async |conn| {
            let now: i64 = sqlx::query_scalar(now_sql()).fetch_one(&mut *conn).await?;
            inbox::cancel(conn, run, reason, now).await
        })
        .await
    }

    async fn set_hook_secret(
        &self,
        charm: &CharmId,
        secret: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.write_one(async |conn| reads::set_hook_secret(conn, charm, secret).await)
            .await
    }

    async fn hook(&self, charm: &CharmId) -> Result<Option<Hook>, StoreError> {
        reads::hook(&self.read, charm).await
    }

    async fn put_secret(
        &self,
        charm: &CharmId,
        name: &str,
        nonce: &[u8],
        ciphertext: &[u8],
        max_secrets: u32,
    ) -> Result<PutSecret, StoreError> {
        self.write_tx(async |conn| {
            secret_rows::put(conn, charm, name, (nonce, ciphertext), max_secrets).await
        })
        .await
    }

    async fn secret_names(&self, charm: &CharmId) -> Result<Vec<SecretName>, StoreError> {
        let mut conn = self.read.acquire().await?;
        secret_rows::names(&mut conn, charm).await
    }

    async fn sealed_secrets(&self, charm: &CharmId) -> Result<Vec<SealedSecret>, StoreError> {
        let mut conn = self.read.acquire().await?;
        secret_rows::sealed(&mut conn, charm).await
    }

    async fn delete_secret(&self, charm: &CharmId, name: &str) -> Result<bool, StoreError> {
        self.write_tx(async |conn| secret_rows::delete(conn, charm, name).await)
            .await
    }

    async fn raise_alert(
        &self,
        charm: &CharmId,
        transition: &AlertTransition,
        payloads: &[(String, String)],
    ) -> Result<bool, StoreError> {
        self.write_tx(async |conn| {
            let now: i64 = sqlx::query_scalar(now_sql()).fetch_one(&mut *conn).await?;
            alerting::raise(conn, charm, transition, payloads, now).await
        })
        .await
    }

    async fn take_due_alerts(
        &self,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        self.write_tx(async |conn| {
            let now: i64 = sqlx::query_scalar(now_sql()).fetch_one(&mut *conn).await?;
            alerting::take_due(conn, now, limit, lease_ms).await
        })
        .await
    }

    async fn settle_alert(
        &self,
        alert: AlertId,
        status: AlertStatus,
        error: Option<&str>,
        retry_in_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        self.write_tx(async |conn| {
            let now: i64 = sqlx::query_scalar(now_sql()).fetch_one(&mut *conn).await?;
            let retry_at = retry_in_ms.map(|ms| now.saturating_add(ms));
            alerting::settle(conn, alert, status, error, retry_at, now).await
        })
        .await
    }

    async fn alerts(
        &self,
        charm: Option<&CharmId>,
        limit: u32,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let mut conn = self.read.acquire().await?;
        alerting::list(&mut conn, charm, limit).await
    }

    async fn silent_charms(&self, intervals: u32, limit: u32) -> Result<Vec<CharmId>, StoreError> {
        let mut conn = self.read.acquire().await?;
        let conn = &mut *conn;
        let now: i64 = sqlx::query_scalar(now_sql()).fetch_one(&mut *conn).await?;
        alerting::silent(conn, now, intervals, limit).await
    }

    async fn cancel_requests(&self, node: &NodeId) -> Result<Vec<RunId>, StoreError> {
        let mut conn = self.read.acquire().await?;
        inbox::cancel_requests(&mut conn, node).await
    }

    async fn schedule_due_runs(
        &self,
        priority: i64,
        wakeup_priority: i64,
        limit: u32,
        next_run: NextRunPolicy<'_>,
    ) -> Result<SchedulePass, StoreError> {
        runs::schedule_due(self, priority, wakeup_priority, limit, next_run).await
    }

    async fn wake_at(&self, charm: &CharmId, at: i64) -> Result<Option<i64>, StoreError> {
        // The scheduler looks at least once a second, due times included.
        self.write_tx(async |conn| inbox::wake_at(conn, charm, at).await)
            .await
    }

    async fn register_node(&self, info: &NodeInfo) -> Result<NodeId, StoreError> {
        self.lock_node()?;
        runs::register_node(self, info).await
    }

    async fn heartbeat(&self, node: &NodeId, ttl_ms: i64) -> Result<Option<i64>, StoreError> {
        runs::heartbeat(self, node, ttl_ms).await
    }

    async fn retire_node(&self, node: &NodeId) -> Result<(), StoreError> {
        runs::retire_node(self, node).await
    }

    async fn nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        reads::nodes(&self.read).await
    }

    async fn claim_next_run(
        &self,
        node: &NodeId,
        lease_ms: i64,
        max_events: u32,
        fair: FairShare,
    ) -> Result<Option<ClaimedRun>, StoreError> {
        let mut claimed = runs::claim(self, node, lease_ms, max_events, fair, 1).await?;
        Ok(claimed.pop())
    }

    async fn claim_runs(
        &self,
        node: &NodeId,
        lease_ms: i64,
        max_events: u32,
        fair: FairShare,
        limit: u32,
    ) -> Result<Vec<ClaimedRun>, StoreError> {
        runs::claim(self, node, lease_ms, max_events, fair, limit).await
    }

    async fn decay_usage(&self, factor: f64, every_ms: i64) -> Result<bool, StoreError> {
        runs::decay_usage(self, factor, every_ms).await
    }

    async fn space_usage(&self, limit: u32) -> Result<Vec<(String, f64)>, StoreError> {
        let rows = sqlx::query(crate::rows::SPACE_USAGE)
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|row| {
                use sqlx::Row;
                Ok((row.try_get("space")?, row.try_get("fuel")?))
            })
            .collect()
    }

    async fn finish_run_if_owned(
        &self,
        run: RunId,
        node: &NodeId,
        finished: &Finished,
        policy: UpdatePolicy<'_>,
    ) -> Result<Finish, StoreError> {
        finish::finish_if_owned(self, run, node, finished, policy).await
    }

    async fn finish_runs_if_owned(
        &self,
        batch: &[RunToFinish<'_>],
    ) -> Vec<Result<Finish, StoreError>> {
        finish::finish_batch(self, batch).await
    }

    async fn rescue_lost_runs(
        &self,
        ttl_ms: i64,
        retry_priority: i64,
    ) -> Result<Vec<RescuedRun>, StoreError> {
        runs::rescue_lost(self, ttl_ms, retry_priority).await
    }

    async fn run(&self, id: RunId) -> Result<Option<RunRecord>, StoreError> {
        reads::run(&self.read, id).await
    }

    async fn run_recording(
        &self,
        id: RunId,
    ) -> Result<Option<crate::recordings::StoredRecording>, StoreError> {
        reads::run_recording(&self.read, id).await
    }

    async fn runs_of(&self, charm: &CharmId, limit: u32) -> Result<Vec<RunRecord>, StoreError> {
        reads::runs_of(&self.read, charm, limit).await
    }

    async fn prune_runs(
        &self,
        keep: u32,
        after: Option<&CharmId>,
        charms: u32,
    ) -> Result<Pruned, StoreError> {
        runs::prune(self, keep, after, charms).await
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        reads::counts(&self.read).await
    }

    async fn finished_per_minute(&self, since: i64) -> Result<Vec<MinuteOutcomes>, StoreError> {
        reads::finished_per_minute(&self.read, since).await
    }

    async fn insert_token(&self, token: &NewToken) -> Result<TokenRecord, StoreError> {
        self.write_one(async |conn| {
            let now: i64 = sqlx::query_scalar(now_sql()).fetch_one(&mut *conn).await?;
            tenants::insert_token(conn, token, now).await
        })
        .await
    }

    async fn token_by_hash(&self, hash: &[u8]) -> Result<Option<TokenRecord>, StoreError> {
        let mut conn = self.read.acquire().await?;
        tenants::token_by_hash(&mut conn, hash).await
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let mut conn = self.read.acquire().await?;
        tenants::tokens(&mut conn).await
    }

    async fn revoke_token(&self, id: &str) -> Result<bool, StoreError> {
        self.write_one(async |conn| {
            let now: i64 = sqlx::query_scalar(now_sql()).fetch_one(&mut *conn).await?;
            tenants::revoke_token(conn, id, now).await
        })
        .await
    }

    async fn append_audit(&self, entry: &NewAudit) -> Result<(), StoreError> {
        self.write_one(async |conn| {
            let now: i64 = sqlx::query_scalar(now_sql()).fetch_one(&mut *conn).await?;
            tenants::append_audit(conn, entry, now).await
        })
        .await
    }

    async fn space_of(&self, of: &SpaceOf) -> Result<Option<String>, StoreError> {
        let mut conn = self.read.acquire().await?;
        tenants::space_of(&mut conn, of).await
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let mut conn = self.read.acquire().await?;
        tenants::audit(&mut conn, filter).await
    }

    async fn state_version(
        &self,
        charm: &CharmId,
        version: i64,
    ) -> Result<Option<StateRecord>, StoreError> {
        let mut conn = self.read.acquire().await?;
        kept_states::version(&mut conn, charm, version).await
    }

    async fn state_versions(
        &self,
        charm: &CharmId,
        limit: u32,
    ) -> Result<Vec<StateVersion>, StoreError> {
        let mut conn = self.read.acquire().await?;
        kept_states::versions(&mut conn, charm, limit).await
    }

    async fn rollback_state(&self, charm: &CharmId, version: i64) -> Result<Rollback, StoreError> {
        let defaults = self.quota.get();
        self.write_tx(async |conn| {
            let now: i64 = sqlx::query_scalar(now_sql()).fetch_one(&mut *conn).await?;
            kept_states::roll_back(conn, charm, version, now, defaults).await
        })
        .await
    }

    async fn prune_state_versions(
        &self,
        keep: u32,
        after: Option<&CharmId>,
        charms: u32,
    ) -> Result<Pruned, StoreError> {
        let page = {
            let mut read = self.read.acquire().await?;
            pruning::page(&mut read, after, charms).await?
        };
        let Some(page) = page else {
            return Ok(Pruned::default());
        };
        let deleted = self
            .write_one(async |conn| pruning::prune_state_versions(conn, &page, keep).await)
            .await?;
        Ok(page.pruned(deleted))
    }

    fn set_quota_defaults(&self, defaults: crate::Quota) {
        self.quota.set(defaults);
    }

    fn quota_defaults(&self) -> crate::Quota {
        self.quota.get()
    }

    async fn spaces(&self, space: Option<&str>) -> Result<Vec<crate::SpaceRecord>, StoreError> {
        let mut conn = self.read.acquire().await?;
        let conn = &mut *conn;
        let now: i64 = sqlx::query_scalar(now_sql()).fetch_one(&mut *conn).await?;
        quota::list(conn, now, space, self.quota.get()).await
    }

    async fn blocked_spaces(&self) -> Result<Vec<(String, crate::QuotaBlock)>, StoreError> {
        let mut conn = self.read.acquire().await?;
        let conn = &mut *conn;
        let now: i64 = sqlx::query_scalar(now_sql()).fetch_one(&mut *conn).await?;
        quota::blocked(conn, now).await
    }

    async fn set_space_quota(
        &self,
        space: &str,
        overrides: &crate::QuotaOverrides,
    ) -> Result<Option<crate::SpaceRecord>, StoreError> {
        let defaults = self.quota.get();
        self.write_tx(async |conn| {
            let now: i64 = sqlx::query_scalar(now_sql()).fetch_one(&mut *conn).await?;
            quota::set(conn, space, overrides, now, defaults).await
        })
        .await?;
        let mut found = self.spaces(Some(space)).await?;
        Ok(found.pop())
    }
}

fn now_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| format!("SELECT {NOW}"))
}

#[cfg(test)]
mod tests {
    use rusqlite::config::DbConfig;

    use super::{direct, SqliteStore};

    /// The query planner's stability guarantee on every connection, and
    /// temporary files in memory on the write connection only.
    #[tokio::test]
    async fn each_connection_has_its_settings() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = SqliteStore::open(&dir.path().join("charm-host.db"))
            .await
            .expect("the store opens");
        let mut write = store.write.acquire().await.expect("the write connection");
        let mut read = store.read.acquire().await.expect("a read connection");
        let mut temp_store = Vec::new();
        for conn in [&mut *write, &mut *read] {
            let stable = direct::with_handle_once(&mut *conn, |db| {
                Ok(db.db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG)?)
            })
            .await
            .expect("the setting reads");
            assert!(stable, "the query planner stability guarantee is on");
            let setting: i64 = sqlx::query_scalar("PRAGMA temp_store")
                .fetch_one(conn)
                .await
                .expect("the setting reads");
            temp_store.push(setting);
        }
        // 2 is MEMORY, 0 the build's default (a file, here).
        assert_eq!(temp_store, [2, 0], "write, then read");
    }
}
