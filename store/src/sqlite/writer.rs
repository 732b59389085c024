//! The store's one write connection, owned by the store rather than a pool.
//!
//! Why not a pool of one: sqlx's pool pings a connection when it hands it
//! out and again when it takes it back, two round trips to SQLite's thread
//! around every write (issue 18); and it closes connections on its own (an
//! idle timeout, a maximum lifetime, a failed ping). The statements kept
//! prepared on the handle ([`Prepared`]) must be finalized before the
//! connection closes, so the store must be the one that closes it.
//!
//! What the pool did that this keeps: a write waits its turn for the
//! connection, up to [`ACQUIRE_TIMEOUT`] (then `PoolTimedOut`, as before);
//! a connection in doubt is closed and the next write opens a fresh one
//! (after a failed commit or rollback, when sqlx's thread is gone, and when
//! a write was dropped half-way, where the pool's ping on release checked);
//! and a closed store refuses writes (`PoolClosed`), waiting ones too.
//! What differs: the timeout covers the wait for the connection, not its
//! opening (a connection that cannot open says why, where the pool timed
//! out).

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::sqlite::{LockedSqliteHandle, SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{Mutex, MutexGuard};

use super::direct::{self, Prepared};
use crate::StoreError;

/// How long a write waits for the connection before it fails: sqlx's pool
/// default, which the store had before.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// The write connection, opened on first use and again after a failure.
#[derive(Debug)]
pub(super) struct Writer {
    options: SqliteConnectOptions,
    /// `None` before the first write, after a failed transaction, and once
    /// closed.
    slot: Mutex<Option<Open>>,
    closed: AtomicBool,
}

/// An open write connection and the statements kept prepared on it.
pub(super) struct Open {
    // Declared first, so dropped first: its statements are finalized
    // while the handle is still held, and before sqlx closes it (see
    // [`Prepared`]).
    pub(super) prepared: Prepared,
    /// The handle, kept from one turn on it to the next ([`Open::with_handle`])
    /// until a statement goes through sqlx ([`Open::conn`]).
    ///
    /// Why: taking the handle from sqlx's thread and giving it back is two
    /// wake-ups of that thread. On a busy 2-core node it waited its turn for
    /// a core each time: at 10,000 charms due every second, writes held the
    /// connection 89% of the time, 11 points of it waiting for the handle,
    /// about 0.2 ms a turn (issue 18). Meanwhile sqlx's thread waits for
    /// the handle's lock and takes no core.
    ///
    /// Its lifetime is the connection's, not `'static`: it is dropped before
    /// `conn` is used through sqlx or dropped (the field order, [`Open::conn`]
    /// and [`Open::close`]). It points into the state sqlx shares with its
    /// thread (behind an `Arc` in sqlx 0.9), which moving an [`Open`] does
    /// not move; `conn` is boxed as well, so that this would hold were that
    /// state kept in the connection itself.
    held: Option<LockedSqliteHandle<'static>>,
    conn: Box<SqliteConnection>,
    /// Set while a write holds the connection, cleared when it gives the
    /// connection back sound ([`WriteGuard::settle`]): still set at the
    /// next acquire means a write was dropped half-way (its task
    /// cancelled), and what it left queued on sqlx's thread is not known.
    /// Its transaction, if one was open, stays open (holding SQLite's write
    /// lock against other processes) until that acquire closes the
    /// connection, which rolls it back.
    in_doubt: bool,
}

impl std::fmt::Debug for Open {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Open")
            .field("prepared", &self.prepared)
            .field("held", &self.held.is_some())
            .field("in_doubt", &self.in_doubt)
            .finish()
    }
}

impl Open {
    async fn connect(options: &SqliteConnectOptions) -> Result<Open, StoreError> {
        let mut conn = options.connect().await?;
        direct::plan_once(&mut conn).await?;
        if super::profile::enabled() {
            direct::with_handle_once(&mut conn, |db| {
                super::profile::install(db);
                Ok(())
            })
            .await?;
        }
        Ok(Open {
            prepared: Prepared::default(),
            held: None,
            conn: Box::new(conn),
            in_doubt: false,
        })
    }

    /// Runs `body` on the handle, taken from sqlx's thread if this
    /// connection does not hold it already, and kept afterwards. See
    /// [`direct::with_locked`] for what `body` may do.
    ///
    /// # Errors
    /// When sqlx's thread is gone, or `body`'s error; [`StoreError::Bug`]
    /// when `prepared` belongs to another connection.
    pub(super) async fn with_handle<T>(
        &mut self,
        body: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.held.is_none() {
            let handle = self.conn.lock_handle().await?;
            // SAFETY: only the lifetime changes. What the handle points
            // into lives as long as the connection, and `held` is dropped
            // before `conn` is used or dropped (see the field).
            self.held = Some(unsafe {
                std::mem::transmute::<LockedSqliteHandle<'_>, LockedSqliteHandle<'static>>(handle)
            });
        }
        let handle = self
            .held
            .as_mut()
            .ok_or_else(|| StoreError::Bug("the write handle was not held".into()))?;
        direct::with_locked(handle, &mut self.prepared, body)
    }

    /// The connection, for statements through sqlx: the handle goes back
    /// to sqlx's thread first.
    pub(super) fn conn(&mut self) -> &mut SqliteConnection {
        self.held = None;
        &mut self.conn
    }

    async fn close(self) -> Result<(), sqlx::Error> {
        let Open {
            prepared,
            held,
            conn,
            ..
        } = self;
        // Finalized with the handle ours (held, or taken after what is
        // queued on sqlx's thread, a rollback say), so that finalizing
        // never waits on SQLite's mutex on this runtime thread. A handle
        // that cannot be taken means sqlx's thread is gone, and nothing
        // else uses the connection.
        let conn = *match held {
            Some(held) => {
                drop(prepared);
                drop(held);
                conn
            }
            None => {
                let mut conn = conn;
                match conn.lock_handle().await {
                    Ok(handle) => {
                        drop(prepared);
                        drop(handle);
                    }
                    Err(_) => drop(prepared),
                }
                conn
            }
        };
        conn.close().await
    }
}

/// The write connection, this caller's until dropped.
pub(super) struct WriteGuard<'a> {
    /// Always `Some` while the guard lives: [`Writer::acquire`] fills it,
    /// and only [`WriteGuard::discard`], which takes the guard, empties it.
    slot: MutexGuard<'a, Option<Open>>,
}

impl Writer {
    /// A writer that opens its connection with `options` (serialized, as
    /// [`Prepared`] needs) on the first write.
    pub(super) fn new(options: SqliteConnectOptions) -> Writer {
        Writer {
            options: options.serialized(true),
            slot: Mutex::new(None),
            closed: AtomicBool::new(false),
        }
    }

    /// Waits for the write connection, opening it if it is not open.
    ///
    /// # Errors
    /// `PoolTimedOut` after [`ACQUIRE_TIMEOUT`], `PoolClosed` once the
    /// store is closed, or why the connection could not be opened.
    pub(super) async fn acquire(&self) -> Result<WriteGuard<'_>, StoreError> {
        let mut slot = tokio::time::timeout(ACQUIRE_TIMEOUT, self.slot.lock())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?;
        if self.closed.load(Ordering::Acquire) {
            return Err(sqlx::Error::PoolClosed.into());
        }
        if slot.as_ref().is_some_and(|open| open.in_doubt) {
            tracing::warn!("a write was dropped half-way; opening a fresh write connection");
            discard(&mut slot).await;
        }
        let open = match slot.take() {
            Some(open) => open,
            None => Open::connect(&self.options).await?,
        };
        let open = slot.insert(open);
        open.in_doubt = true;
        Ok(WriteGuard { slot })
    }

    /// Closes the connection once the write holding it is done; later
    /// writes fail with `PoolClosed`.
    pub(super) async fn close(&self) {
        // Before the wait, so that writes waiting for the connection are
        // refused, as the pool refused them.
        self.closed.store(true, Ordering::Release);
        let mut slot = self.slot.lock().await;
        if let Some(open) = slot.take() {
            if let Err(e) = open.close().await {
                tracing::warn!(error = %e, "closing the write connection failed");
            }
        }
    }
}

impl WriteGuard<'_> {
    /// The connection and the statements kept on it, to use together.
    pub(super) fn open(&mut self) -> &mut Open {
        self.slot
            .as_mut()
            .expect("a write guard holds an open connection")
    }

    /// Gives the connection back after a write that ended with `result`:
    /// for the next write, unless the error says sqlx's thread is gone
    /// (then it is closed, and the next write opens a fresh one).
    pub(super) async fn settle<T>(mut self, result: &Result<T, StoreError>) {
        if let Err(StoreError::Database(sqlx::Error::WorkerCrashed)) = result {
            self.discard().await;
        } else {
            self.open().in_doubt = false;
        }
    }

    /// Closes the connection (after a transaction whose commit or rollback
    /// failed: one reused after a COMMIT that failed on a full disk was
    /// seen to hang its next statement); the next write opens a fresh one.
    pub(super) async fn discard(mut self) {
        discard(&mut self.slot).await;
    }
}

/// Closes the connection in `slot`, if any, and leaves it empty.
async fn discard(slot: &mut Option<Open>) {
    if let Some(open) = slot.take() {
        if let Err(e) = open.close().await {
            tracing::warn!(error = %e, "closing a write connection in doubt failed");
        }
    }
}

impl Deref for WriteGuard<'_> {
    type Target = SqliteConnection;

    /// Only for what needs no statement: statements take `&mut`, which
    /// gives the handle back to sqlx's thread first.
    fn deref(&self) -> &SqliteConnection {
        &self
            .slot
            .as_ref()
            .expect("a write guard holds an open connection")
            .conn
    }
}

impl DerefMut for WriteGuard<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.open().conn()
    }
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::SqliteConnectOptions;

    use super::super::direct;
    use super::Writer;

    /// A writer of a new database in `dir`.
    fn writer_in(dir: &tempfile::TempDir) -> Writer {
        Writer::new(
            SqliteConnectOptions::new()
                .filename(dir.path().join("w.db"))
                .create_if_missing(true),
        )
    }

    /// Makes a table `t` through sqlx, then writes 1 and 2 into it on the
    /// handle, each in a turn of its own.
    async fn two_direct_writes(guard: &mut super::WriteGuard<'_>) {
        sqlx::query("CREATE TABLE t (a INTEGER)")
            .execute(&mut **guard)
            .await
            .expect("a table");
        for a in 1..=2 {
            guard
                .open()
                .with_handle(|db| direct::first_value(db, "INSERT INTO t (a) VALUES ($1)", &[&a]))
                .await
                .expect("a direct write");
        }
    }

    #[tokio::test]
    async fn kept_statements_are_finalized_before_a_close_and_the_next_write_reopens() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let writer = writer_in(&dir);
        let mut guard = writer.acquire().await.expect("the connection opens");
        two_direct_writes(&mut guard).await;
        let open = guard.slot.take().expect("open");
        open.close()
            .await
            .expect("sqlx closes the handle: no statement of ours is left on it");
        drop(guard);

        let mut guard = writer
            .acquire()
            .await
            .expect("the next write opens it again");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut *guard)
            .await
            .expect("a count");
        assert_eq!(n, 2, "both writes were committed");
        guard.settle(&Ok(())).await;

        writer.close().await;
        let refused = writer
            .acquire()
            .await
            .err()
            .expect("a closed writer refuses");
        assert!(
            matches!(
                refused,
                crate::StoreError::Database(sqlx::Error::PoolClosed)
            ),
            "the pool's error, as before: {refused}"
        );
    }

    /// Whether the writer's connection has the temporary table `mark`,
    /// which only the connection that made it sees.
    async fn marked(writer: &Writer) -> bool {
        let mut guard = writer.acquire().await.expect("the connection");
        let found: Result<i64, _> = sqlx::query_scalar("SELECT COUNT(*) FROM temp.mark")
            .fetch_one(&mut *guard)
            .await;
        guard.settle(&Ok(())).await;
        found.is_ok()
    }

    #[tokio::test]
    async fn a_write_dropped_half_way_leaves_a_fresh_connection_to_the_next() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let writer = writer_in(&dir);
        let mut guard = writer.acquire().await.expect("the connection opens");
        let open = guard.open();
        let serialized = open
            .with_handle(|db| {
                // SAFETY: only compared with null.
                Ok(!unsafe { rusqlite::ffi::sqlite3_db_mutex(db.handle()) }.is_null())
            })
            .await
            .expect("a turn");
        assert!(serialized, "opened FULLMUTEX, as `Prepared` needs");
        sqlx::query("CREATE TEMP TABLE mark (a INTEGER)")
            .execute(&mut *guard)
            .await
            .expect("a temporary table");
        guard.settle(&Ok(())).await;
        assert!(
            marked(&writer).await,
            "a settled write keeps the connection"
        );

        // A write whose task is dropped while it holds the connection, in
        // an open transaction.
        let mut guard = writer.acquire().await.expect("the connection");
        sqlx::query("BEGIN")
            .execute(&mut *guard)
            .await
            .expect("begin");
        drop(guard);
        assert!(
            !marked(&writer).await,
            "the next write has a fresh connection"
        );
    }

    /// The handle stays with the write connection from one turn to the
    /// next, with no round trip to sqlx's thread, and goes back to it for
    /// a statement through sqlx (which would wait forever otherwise).
    #[tokio::test]
    async fn the_handle_stays_between_turns_and_goes_back_for_sqlx() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let writer = writer_in(&dir);
        let mut guard = writer.acquire().await.expect("the connection opens");
        two_direct_writes(&mut guard).await;
        assert!(guard.open().held.is_some(), "the handle is kept");
        guard.settle(&Ok(())).await;

        // The next write finds the handle still held.
        let mut guard = writer.acquire().await.expect("the connection");
        assert!(guard.open().held.is_some(), "kept from the last write");
        let n: i64 = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            sqlx::query_scalar("SELECT COUNT(*) FROM t").fetch_one(&mut *guard),
        )
        .await
        .expect("sqlx's thread has the handle back")
        .expect("a count");
        assert_eq!(n, 2, "both direct writes were made");
        assert!(guard.open().held.is_none(), "given back to sqlx's thread");
        guard.settle(&Ok(())).await;
        writer.close().await;
    }
}
