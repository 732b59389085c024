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
//! to 1.3 GB in 24 s). Each pass beside the writes is followed by a sync
//! of the database ([`sync_database`]), so the last one syncs little:
//! it held the writes 7–15 ms a round at that load, where the write
//! connection's own held them about 140.
//!
//! The write connection keeps SQLite's own automatic checkpoint at
//! [`Checkpoints::writer_backstop`] frames, in case this task falls behind
//! or fails: a reader holding an old snapshot keeps frames from being
//! copied back, whoever checkpoints.
//!
//! What a power loss can take does not change: each checkpoint first syncs
//! the WAL, and this one starts at the same length as the write
//! connection's did.

use std::path::{Path, PathBuf};
use std::sync::Weak;
use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::writer::Writer;
use crate::StoreError;

/// How often the task reads the WAL's length.
const POLL: Duration = Duration::from_millis(50);

/// How long the task waits before opening its connection again after an
/// error (the write connection's own checkpoint covers meanwhile).
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

/// Runs `pragma` ([`NOOP`] or [`PASSIVE`]) on `conn`.
async fn checkpoint(
    conn: &mut SqliteConnection,
    pragma: &'static str,
) -> Result<WalLength, StoreError> {
    let (_busy, frames, copied): (i64, i64, i64) = sqlx::query_as(pragma).fetch_one(conn).await?;
    Ok(WalLength { frames, copied })
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
        database: PathBuf,
        writer: Weak<Writer>,
        limits: Checkpoints,
    ) -> Checkpointer {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(options, database, writer, limits, stopped));
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
    database: PathBuf,
    writer: Weak<Writer>,
    limits: Checkpoints,
    mut stopped: watch::Receiver<bool>,
) {
    let mut conn: Option<SqliteConnection> = None;
    let mut pause = POLL;
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            () = tokio::time::sleep(pause) => {}
        }
        if writer.strong_count() == 0 {
            break;
        }
        pause = POLL;
        let open = match conn.as_mut() {
            Some(open) => open,
            None => match options.connect().await {
                Ok(open) => conn.insert(open),
                Err(e) => {
                    tracing::warn!(error = %e, "the checkpoint connection failed to open; the write connection checkpoints meanwhile");
                    pause = RETRY;
                    continue;
                }
            },
        };
        if let Err(e) = round(open, &database, &writer, limits, &stopped).await {
            tracing::warn!(error = %e, "a WAL checkpoint failed; the write connection checkpoints meanwhile");
            if let Some(failed) = conn.take() {
                let _ = failed.close().await;
            }
            pause = RETRY;
        }
    }
    if let Some(open) = conn {
        let _ = open.close().await;
    }
}

/// Syncs the database file's pages to the disk.
///
/// A checkpoint syncs the database only when it copied the WAL to its very
/// end, which one beside the writes seldom does; the last one would then
/// sync all their copies while it holds the writes (30 ms of its 60 at
/// 10,000 charms due every second). Any descriptor of the file syncs its
/// pages.
async fn sync_database(database: &Path) -> Result<(), StoreError> {
    let file = database.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::File::open(&file)?.sync_data())
        .await
        .map_err(|e| StoreError::Bug(format!("syncing the database stopped: {e}")))?
        .map_err(sqlx::Error::Io)?;
    Ok(())
}

/// One poll, and the round it starts if enough frames wait.
async fn round(
    conn: &mut SqliteConnection,
    database: &Path,
    writer: &Weak<Writer>,
    limits: Checkpoints,
    stopped: &watch::Receiver<bool>,
) -> Result<(), StoreError> {
    let mut wal = checkpoint(conn, NOOP).await?;
    if wal.frames < 0 || wal.waiting() < i64::from(limits.after_frames) {
        return Ok(());
    }
    let began = Instant::now();
    for _ in 0..PASSES_BESIDE {
        if *stopped.borrow() {
            return Ok(());
        }
        checkpoint(conn, PASSIVE).await?;
        sync_database(database).await?;
        // A checkpoint reports the WAL as it was when it began; the writes
        // went on meanwhile.
        wal = checkpoint(conn, NOOP).await?;
        if wal.waiting() <= i64::from(limits.tail_frames) {
            break;
        }
    }
    let Some(writer) = writer.upgrade() else {
        return Ok(());
    };
    let beside = began.elapsed();
    let mut guard = writer.acquire().await?;
    let held = Instant::now();
    let last = checkpoint(&mut guard, PASSIVE).await;
    let held = held.elapsed();
    guard.settle(&last).await;
    let last = last?;
    tracing::debug!(
        frames = last.frames,
        left_for_the_writer = wal.waiting(),
        beside_ms = beside.as_millis(),
        writes_held_ms = held.as_millis(),
        "checkpointed the WAL"
    );
    Ok(())
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

    /// With the write connection's own checkpoint off, the task alone
    /// copies the WAL back, and the WAL starts over while writes go on.
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
            path.clone(),
            Arc::downgrade(&writer),
            Checkpoints {
                after_frames: 200,
                tail_frames: 10,
                writer_backstop: 0,
            },
        );
        let mut watch = options.connect().await.expect("a connection to watch");
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut longest = 0;
        let mut written: i64 = 0;
        let started_over = loop {
            write_rows(&writer, 20).await;
            written += 20;
            let wal = checkpoint(&mut watch, NOOP)
                .await
                .expect("the WAL's length");
            if wal.frames < longest {
                break true;
            }
            longest = wal.frames;
            if Instant::now() > deadline {
                break false;
            }
        };
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
