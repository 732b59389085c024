//! The WAL's checkpoints, copied back beside the writes rather than inside
//! one.
//!
//! Why: SQLite's automatic checkpoint runs in the commit that takes the WAL
//! past its threshold, on the write connection, and every write waits for
//! it. At 10,000 charms due every second (issue 18) that was one every
//! 0.8 s, and each held the writes for about 140 ms: 92 ms to `fsync` the
//! WAL (160 MiB written since the last one), 22 ms to copy the pages back,
//! 28 ms to `fsync` the database (`perf trace -e fsync`). That is a sixth of
//! the write connection's time, most of it waiting on the disk.
//!
//! How: a task of the store polls the WAL's length on a connection of its
//! own (a `NOOP` checkpoint reads it and takes no lock). Once
//! [`Checkpoints::after_frames`] frames wait to be copied back, it runs
//! `PASSIVE` checkpoints there, beside the writes, until few are left; then
//! it takes the write connection, between two writes, for a last `PASSIVE`
//! one that copies the rest. That last one matters: SQLite starts the WAL
//! over (writes it from the start again instead of growing it) only when a
//! write begins with every frame copied back, and a checkpoint beside a
//! writer that keeps appending never gets there (tried twice before, in
//! the README's "The service row" and its thirteenth round: the WAL grew
//! to 1.3 GB in 24 s). The passes beside the writes are followed by a sync
//! of the database ([`sync_database`]), so the last one syncs little: it
//! held the writes 14–30 ms a round at that load, where the write
//! connection's own held them about 140.
//!
//! The write connection keeps SQLite's own automatic checkpoint at
//! [`Checkpoints::writer_backstop`] frames (of the WAL's whole length, as
//! SQLite counts), in case this task falls behind or fails: a reader
//! holding an old snapshot keeps frames from being copied back, whoever
//! checkpoints.
//!
//! What a power loss can take: each checkpoint first syncs the WAL, and a
//! round starts at the length the write connection's own did before, so
//! while this task runs, no more than before (plus what the writes add in
//! a round, about a quarter of a second). Should it fail, the backstop
//! lets the WAL grow twice as long unsynced.

use std::sync::Weak;
use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::direct;
use super::writer::Writer;
use crate::StoreError;

/// How often the task reads the WAL's length.
const POLL: Duration = Duration::from_millis(50);

/// How long the task waits after a round that a reader's snapshot held,
/// and, doubled per failure in a row, after an error (the write
/// connection's own checkpoint covers meanwhile, past its backstop).
const RETRY: Duration = Duration::from_secs(1);

/// `PASSIVE` checkpoints beside the writes in one round, at most: each
/// copies what the writes appended during the one before, so the rest
/// shrinks each time unless the writes outrun the copy.
const PASSES_BESIDE: u32 = 4;

/// The thresholds, in WAL frames (one page each).
#[derive(Debug, Clone, Copy)]
pub(super) struct Checkpoints {
    /// Frames not yet copied back that start a round.
    pub(super) after_frames: u32,
    /// Frames left after which the round stops copying beside the writes
    /// and takes the write connection for the rest.
    pub(super) tail_frames: u32,
    /// The write connection's own automatic checkpoint
    /// (`wal_autocheckpoint`), a backstop: 0 turns it off.
    pub(super) writer_backstop: u32,
}

/// The WAL's length, as a checkpoint reports it.
#[derive(Debug, Clone, Copy)]
struct WalLength {
    /// Frames in the WAL.
    frames: i64,
    /// Of those, copied back into the database.
    copied: i64,
}

impl WalLength {
    fn waiting(self) -> i64 {
        self.frames - self.copied
    }
}

/// Reads the WAL's length and copies nothing (takes no lock).
const NOOP: &str = "PRAGMA wal_checkpoint(NOOP)";
/// Copies back what no reader still needs, without waiting for a lock.
const PASSIVE: &str = "PRAGMA wal_checkpoint(PASSIVE)";

/// Runs `pragma` ([`NOOP`] or [`PASSIVE`]) on `conn`: the WAL's length, or
/// `None` when SQLite could not read it (busy: a write was changing its
/// header, or another checkpoint ran; then the lengths it reports are
/// stale) or the database is not in WAL mode.
async fn checkpoint(
    conn: &mut SqliteConnection,
    pragma: &'static str,
) -> Result<Option<WalLength>, StoreError> {
    let (busy, frames, copied): (i64, i64, i64) = sqlx::query_as(pragma).fetch_one(conn).await?;
    Ok((busy == 0 && frames >= 0).then_some(WalLength { frames, copied }))
}

/// The running task; [`Checkpointer::stop`] ends it.
#[derive(Debug)]
pub(super) struct Checkpointer {
    stop: watch::Sender<bool>,
    task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    /// Starts the task on the database `options` opens, taking the write
    /// connection from `writer` for the last checkpoint of each round. It
    /// ends with [`Checkpointer::stop`] or once `writer` is dropped.
    pub(super) fn start(
        options: SqliteConnectOptions,
        writer: Weak<Writer>,
        limits: Checkpoints,
    ) -> Checkpointer {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(options, writer, limits, stopped));
        Checkpointer {
            stop,
            task: tokio::sync::Mutex::new(Some(task)),
        }
    }

    /// Ends the task, after the checkpoint it is running, and closes its
    /// connection.
    pub(super) async fn stop(&self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.lock().await.take() {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "the checkpoint task failed");
            }
        }
    }
}

async fn run(
    options: SqliteConnectOptions,
    writer: Weak<Writer>,
    limits: Checkpoints,
    mut stopped: watch::Receiver<bool>,
) {
    let mut conn: Option<SqliteConnection> = None;
    let mut pause = POLL;
    // Failures in a row: each doubles the pause, up to `RETRY` × 64.
    let mut failures = 0u32;
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            () = tokio::time::sleep(pause) => {}
        }
        if writer.strong_count() == 0 {
            break;
        }
        let open = match conn.as_mut() {
            Some(open) => Ok(open),
            None => options.connect().await.map(|open| conn.insert(open)),
        };
        let done = match open {
            Ok(open) => round(open, &writer, limits, &stopped).await,
            Err(e) => Err(e.into()),
        };
        pause = match done {
            Ok(progress) => {
                failures = 0;
                match progress {
                    Progress::Copied => POLL,
                    // A reader's old snapshot holds the frames: wait for it
                    // to end rather than copy nothing every poll.
                    Progress::Held => RETRY,
                }
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(
                    error = %e,
                    failures,
                    backstop_frames = limits.writer_backstop,
                    "a WAL checkpoint beside the writes failed; until one succeeds, the write connection checkpoints past the backstop"
                );
                if let Some(failed) = conn.take() {
                    let _ = failed.close().await;
                }
                RETRY * 2u32.pow(failures.min(6))
            }
        };
    }
    if let Some(open) = conn {
        let _ = open.close().await;
    }
}

/// What a poll did.
enum Progress {
    /// Nothing to do, or frames copied back.
    Copied,
    /// Frames wait, but none could be copied back.
    Held,
}

/// Syncs the database file through SQLite's own descriptor of it.
///
/// Why: a checkpoint syncs the database only when it copied the WAL to its
/// very end, which one beside the writes seldom does; the last one, on the
/// write connection, would then sync all their copies while it holds the
/// writes (30 ms of its 60 at 10,000 charms due every second). Why not a
/// descriptor of our own: closing any descriptor of a file drops every
/// POSIX lock the process holds on it, SQLite's included.
///
/// It runs on this runtime thread (sqlx runs no closure on its own), for
/// as long as the disk takes: 30–45 ms a round at that load.
async fn sync_database(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    use rusqlite::ffi;
    direct::with_handle_once(conn, |db| {
        let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
        // SAFETY: `db` is this thread's for the call (`with_handle_once`);
        // FILE_POINTER writes the main database's `sqlite3_file` into
        // `file`, which lives as long as the connection.
        let found = unsafe {
            ffi::sqlite3_file_control(
                db.handle(),
                c"main".as_ptr(),
                ffi::SQLITE_FCNTL_FILE_POINTER,
                (&raw mut file).cast(),
            )
        };
        // SAFETY: `file` is null or the open file SQLite gave, whose
        // methods SQLite set when it opened it.
        let sync = (found == ffi::SQLITE_OK && !file.is_null())
            .then(|| unsafe { (*file).pMethods.as_ref() })
            .flatten()
            .and_then(|methods| methods.xSync);
        let Some(sync) = sync else {
            return Err(StoreError::Bug(
                "the database has no open file to sync".into(),
            ));
        };
        // SAFETY: as above; no other thread uses the connection meanwhile.
        let sync_now = || unsafe { sync(file, ffi::SQLITE_SYNC_NORMAL) };
        // Off this runtime thread's other tasks where the runtime can hand
        // them to another (not on a current-thread runtime, as in tests).
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|rt| rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let rc = if multi_thread {
            tokio::task::block_in_place(sync_now)
        } else {
            sync_now()
        };
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), None).into())
        }
    })
    .await
}

/// One poll, and the round it starts if enough frames wait.
async fn round(
    conn: &mut SqliteConnection,
    writer: &Weak<Writer>,
    limits: Checkpoints,
    stopped: &watch::Receiver<bool>,
) -> Result<Progress, StoreError> {
    let Some(start) = checkpoint(conn, NOOP).await? else {
        return Ok(Progress::Copied);
    };
    if start.waiting() < i64::from(limits.after_frames) {
        return Ok(Progress::Copied);
    }
    let began = Instant::now();
    let mut wal = start;
    for _ in 0..PASSES_BESIDE {
        if *stopped.borrow() {
            return Ok(Progress::Copied);
        }
        checkpoint(conn, PASSIVE).await?;
        // A checkpoint reports the WAL as it was when it began; the writes
        // went on meanwhile.
        if let Some(now) = checkpoint(conn, NOOP).await? {
            wal = now;
            if wal.waiting() <= i64::from(limits.tail_frames) {
                break;
            }
        }
    }
    // Neither copied nor started over: a reader's snapshot holds the frames.
    if wal.frames >= start.frames && wal.copied <= start.copied {
        return Ok(Progress::Held);
    }
    // Once for the passes together: a page copied again by a later pass
    // then reaches the disk once.
    sync_database(conn).await?;
    let Some(writer) = writer.upgrade() else {
        return Ok(Progress::Copied);
    };
    if *stopped.borrow() {
        return Ok(Progress::Copied);
    }
    let beside = began.elapsed();
    let mut guard = writer.acquire().await?;
    let held = Instant::now();
    let last = checkpoint(&mut guard, PASSIVE).await;
    let held = held.elapsed();
    guard.settle(&last).await;
    tracing::debug!(
        frames = last?.map(|last| last.frames),
        left_for_the_writer = wal.waiting(),
        beside_ms = beside.as_millis(),
        writes_held_ms = held.as_millis(),
        "checkpointed the WAL"
    );
    Ok(Progress::Copied)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
    use sqlx::ConnectOptions;

    use super::{checkpoint, Checkpointer, Checkpoints, NOOP};
    use crate::sqlite::writer::Writer;

    /// Commits one transaction of `rows` rows of 4 KiB each.
    async fn write_rows(writer: &Writer, rows: usize) {
        let mut guard = writer.acquire().await.expect("the write connection");
        let result = async {
            sqlx::query("BEGIN").execute(&mut *guard).await?;
            for _ in 0..rows {
                sqlx::query("INSERT INTO t (b) VALUES (randomblob(4096))")
                    .execute(&mut *guard)
                    .await?;
            }
            sqlx::query("COMMIT").execute(&mut *guard).await?;
            Ok::<_, sqlx::Error>(())
        }
        .await
        .map_err(crate::StoreError::from);
        guard.settle(&result).await;
        result.expect("the rows are written");
    }

    /// With the write connection's own checkpoint off and writes going on
    /// all the while, the task alone copies the WAL back, and the WAL
    /// starts over.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_while_writes_go_on() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("c.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let writer = Arc::new(Writer::new(
            options.clone().pragma("wal_autocheckpoint", "0"),
        ));
        {
            let mut guard = writer.acquire().await.expect("the write connection");
            let made = sqlx::query("CREATE TABLE t (a INTEGER PRIMARY KEY, b BLOB)")
                .execute(&mut *guard)
                .await
                .map(|_| ())
                .map_err(crate::StoreError::from);
            guard.settle(&made).await;
            made.expect("a table");
        }
        let task = Checkpointer::start(
            options.clone(),
            Arc::downgrade(&writer),
            Checkpoints {
                after_frames: 200,
                tail_frames: 10,
                writer_backstop: 0,
            },
        );
        let (stop_writes, mut writes_stopped) = tokio::sync::watch::channel(false);
        let writes = tokio::spawn({
            let writer = Arc::clone(&writer);
            async move {
                let mut written: i64 = 0;
                while !*writes_stopped.borrow_and_update() {
                    write_rows(&writer, 5).await;
                    written += 5;
                }
                written
            }
        });
        let mut watch = options.connect().await.expect("a connection to watch");
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut longest = 0;
        let started_over = loop {
            let wal = checkpoint(&mut watch, NOOP)
                .await
                .expect("the WAL's length");
            // None when the WAL could not be read (a write held its header).
            if let Some(wal) = wal {
                if wal.frames < longest {
                    break true;
                }
                longest = wal.frames;
            }
            if Instant::now() > deadline {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        stop_writes.send(true).expect("the writes listen");
        let written = writes.await.expect("the writes end");
        assert!(
            started_over,
            "the WAL started over ({longest} frames at most, {written} rows written)"
        );
        task.stop().await;
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut watch)
            .await
            .expect("a count");
        assert_eq!(rows, written, "every committed row is there");
        writer.close().await;
    }
}
