//! The store's write transactions, begun and ended on SQLite's handle.
//!
//! Why not sqlx's `Transaction`: its `BEGIN` and its `COMMIT` are a round
//! trip to sqlx's thread each, on the one connection every write waits for
//! (issue 18), and a claim or a batch of trivial finished runs otherwise
//! needs none. Here the `BEGIN` joins the first turn on the handle
//! ([`super::writer::Open::with_handle`]) and the `COMMIT` the last
//! ([`Then::Commit`]), so such a write is one turn on the handle, which the
//! write connection keeps between turns: no round trip at all.
//!
//! Statements through sqlx still join the open transaction
//! ([`WriteTx::conn`]): a SQLite transaction belongs to the connection.
//! sqlx, which began none, counts none of its own (its depth stays 0), so
//! it never issues a `COMMIT` or `ROLLBACK` behind this one's back.

use sqlx::sqlite::SqliteConnection;

use super::direct;
use super::writer::Open;
use crate::StoreError;

/// What a turn on the handle does after its body succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Then {
    /// Leaves the transaction open for the body's next step.
    Continue,
    /// Commits it, in the same turn. The body's last step: the transaction
    /// takes no statement after it.
    Commit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing run yet: no transaction open.
    Idle,
    Begun,
    Committed,
    /// A `BEGIN`, `COMMIT` or `ROLLBACK` failed: the connection is not known
    /// sound, and is closed when the transaction ends.
    Failed,
}

/// One write transaction on the store's write connection (from
/// `SqliteStore::write_tx`), begun by its first statement.
pub(super) struct WriteTx<'a> {
    open: &'a mut Open,
    phase: Phase,
}

impl<'a> WriteTx<'a> {
    pub(super) fn new(open: &'a mut Open) -> WriteTx<'a> {
        WriteTx {
            open,
            phase: Phase::Idle,
        }
    }

    /// Runs `body` on the handle, in the transaction (begun first, in the
    /// same turn, if this is its first statement). See
    /// [`direct::with_locked`] for what `body` may do.
    ///
    /// # Errors
    /// As [`super::writer::Open::with_handle`]; `BEGIN`'s error;
    /// [`StoreError::Bug`] after the transaction committed.
    pub(super) async fn direct<T>(
        &mut self,
        body: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.direct_then(|db| Ok((body(db)?, Then::Continue))).await
    }

    /// [`Self::direct`], and then what `body` says: with [`Then::Commit`]
    /// the transaction commits in the same turn.
    ///
    /// # Errors
    /// As [`Self::direct`], and `COMMIT`'s error (the transaction is then
    /// rolled back, if SQLite did not already, and the connection closed
    /// when it ends).
    pub(super) async fn direct_then<T>(
        &mut self,
        body: impl FnOnce(&rusqlite::Connection) -> Result<(T, Then), StoreError>,
    ) -> Result<T, StoreError> {
        self.usable()?;
        let phase = &mut self.phase;
        self.open
            .with_handle(|db| {
                if *phase == Phase::Idle {
                    // A failed BEGIN leaves the connection in doubt (an open
                    // transaction left behind would fail every later write).
                    *phase = Phase::Failed;
                    run(db, "BEGIN")?;
                    *phase = Phase::Begun;
                } else if db.is_autocommit() {
                    // SQLite rolled the transaction back on its own (a full
                    // disk, an I/O error) after an error the body passed over:
                    // what follows would commit statement by statement.
                    *phase = Phase::Failed;
                    return Err(StoreError::Bug(
                        "a write transaction was rolled back under its body".into(),
                    ));
                }
                let (value, then) = body(db)?;
                if then == Then::Commit {
                    if let Err(e) = run(db, "COMMIT") {
                        *phase = Phase::Failed;
                        // SQLite rolls some failed commits back itself (a full
                        // disk, an I/O error) and leaves others open.
                        if !db.is_autocommit() {
                            let _ = run(db, "ROLLBACK");
                        }
                        return Err(e);
                    }
                    *phase = Phase::Committed;
                }
                Ok(value)
            })
            .await
    }

    /// The connection, for statements through sqlx, in the transaction
    /// (begun first, in a turn of its own, if nothing has run yet).
    ///
    /// # Errors
    /// As [`Self::direct`].
    pub(super) async fn conn(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        if self.phase == Phase::Idle {
            self.direct(|_| Ok(())).await?;
        }
        self.usable()?;
        Ok(self.open.conn())
    }

    fn usable(&self) -> Result<(), StoreError> {
        match self.phase {
            Phase::Idle | Phase::Begun => Ok(()),
            Phase::Committed => Err(StoreError::Bug(
                "a write transaction was used after its commit".into(),
            )),
            Phase::Failed => Err(StoreError::Bug(
                "a write transaction was used after its BEGIN or COMMIT failed".into(),
            )),
        }
    }

    /// Ends the transaction after its body ended with `result`: commits
    /// what is still open if `result` is `Ok`, rolls it back if not.
    /// Returns the outcome, and whether the connection is sound for the
    /// next write (not after a `BEGIN`, `COMMIT` or `ROLLBACK` that failed).
    pub(super) async fn end<T>(
        mut self,
        result: Result<T, StoreError>,
    ) -> (Result<T, StoreError>, bool) {
        match (result, self.phase) {
            (result @ Ok(_), Phase::Committed) | (result, Phase::Idle) => (result, true),
            (Err(e), Phase::Committed) => {
                // Never by construction (a commit is its body's last step),
                // and loud if ever: a caller that retries on an error
                // would write again what is already committed.
                tracing::error!(error = %e, "a write transaction failed after its commit");
                (
                    Err(StoreError::Bug(format!(
                        "a write transaction failed after its commit: {e}"
                    ))),
                    true,
                )
            }
            (Ok(_), Phase::Failed) => (
                Err(StoreError::Bug(
                    "a write transaction's failed COMMIT was not returned".into(),
                )),
                false,
            ),
            (Err(e), Phase::Failed) => (Err(e), false),
            (Ok(value), Phase::Begun) => match self.direct_then(|_| Ok(((), Then::Commit))).await {
                Ok(()) => (Ok(value), true),
                Err(e) => (Err(e), false),
            },
            (Err(e), Phase::Begun) => {
                let rolled_back = self.open.with_handle(|db| run(db, "ROLLBACK")).await;
                (Err(e), rolled_back.is_ok())
            }
        }
    }
}

/// Runs a statement of no parameters and no rows, kept prepared.
fn run(db: &rusqlite::Connection, sql: &str) -> Result<(), StoreError> {
    direct::for_each_row(db, sql, &[], |_| Ok(()))
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Connection};

    use super::super::{direct, writer::Writer};
    use super::{Then, WriteTx};
    use crate::StoreError;

    fn options(dir: &tempfile::TempDir) -> SqliteConnectOptions {
        SqliteConnectOptions::new()
            .filename(dir.path().join("tx.db"))
            .create_if_missing(true)
            .foreign_keys(true)
    }

    /// A writer of a new database with a table `t` and a table `child`
    /// whose foreign key is checked at commit.
    async fn writer_in(dir: &tempfile::TempDir) -> Writer {
        let writer = Writer::new(options(dir));
        let mut guard = writer.acquire().await.expect("the connection opens");
        for sql in [
            "CREATE TABLE t (a INTEGER)",
            "CREATE TABLE parent (id INTEGER PRIMARY KEY)",
            "CREATE TABLE child (p INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)",
        ] {
            sqlx::query(sql)
                .execute(&mut *guard)
                .await
                .expect("a table");
        }
        guard.settle(&Ok(())).await;
        writer
    }

    /// The rows of `table`, as another connection sees them: committed.
    async fn committed(dir: &tempfile::TempDir, table: &'static str) -> Vec<i64> {
        let sql = match table {
            "t" => "SELECT a FROM t ORDER BY a",
            _ => "SELECT p FROM child ORDER BY p",
        };
        let mut conn = options(dir).connect().await.expect("a reader");
        let rows = sqlx::query_scalar(sql)
            .fetch_all(&mut conn)
            .await
            .expect("the rows");
        conn.close().await.expect("closed");
        rows
    }

    /// Runs `body` in a transaction on `writer`'s connection, and ends it:
    /// the outcome, whether the connection stayed sound, and whether it was
    /// left outside any transaction.
    async fn in_tx<T>(
        writer: &Writer,
        body: impl AsyncFnOnce(&mut WriteTx<'_>) -> Result<T, StoreError>,
    ) -> (Result<T, StoreError>, bool, bool) {
        let mut guard = writer.acquire().await.expect("the connection");
        let open = guard.open();
        let mut tx = WriteTx::new(open);
        let result = body(&mut tx).await;
        let (result, sound) = tx.end(result).await;
        let open = guard.open();
        let outside = open
            .with_handle(|db| Ok(db.is_autocommit()))
            .await
            .expect("a turn");
        guard.settle(&Ok(())).await;
        (result, sound, outside)
    }

    async fn insert(tx: &mut WriteTx<'_>, a: i64) -> Result<(), StoreError> {
        tx.direct(|db| direct::first_value(db, "INSERT INTO t (a) VALUES ($1)", &[&a]))
            .await?;
        Ok(())
    }

    /// Inserts 1 on the handle and 2 through sqlx.
    async fn insert_both_ways(tx: &mut WriteTx<'_>) -> Result<(), StoreError> {
        insert(tx, 1).await?;
        sqlx::query("INSERT INTO t (a) VALUES (2)")
            .execute(tx.conn().await?)
            .await?;
        Ok(())
    }

    #[tokio::test]
    async fn statements_of_both_kinds_commit_together_in_the_last_turn_or_at_the_end() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let writer = writer_in(&dir).await;
        let (result, sound, outside) = in_tx(&writer, async |tx| {
            insert_both_ways(tx).await?;
            assert!(
                committed(&dir, "t").await.is_empty(),
                "nothing is committed before the commit"
            );
            tx.direct_then(|db| {
                direct::first_value(db, "INSERT INTO t (a) VALUES (3)", &[])?;
                Ok(((), Then::Commit))
            })
            .await?;
            assert_eq!(
                committed(&dir, "t").await,
                [1, 2, 3],
                "committed in the turn"
            );
            Ok(tx.direct(|_| Ok(())).await)
        })
        .await;
        let after_commit = result.expect("the transaction commits");
        assert!(
            matches!(after_commit, Err(StoreError::Bug(_))),
            "a turn after the commit is refused: {after_commit:?}"
        );
        assert!(
            sound && outside,
            "the connection is left sound, outside a transaction"
        );

        // A body that leaves its transaction open is committed at its end.
        let (result, sound, outside) = in_tx(&writer, async |tx| insert(tx, 4).await).await;
        result.expect("the transaction commits");
        assert!(sound && outside);
        assert_eq!(committed(&dir, "t").await, [1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn a_failed_body_rolls_back_its_statements_of_both_kinds() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let writer = writer_in(&dir).await;
        let (result, sound, outside) = in_tx(&writer, async |tx| {
            insert_both_ways(tx).await?;
            Err::<(), _>(StoreError::Bug("the body fails".into()))
        })
        .await;
        assert!(matches!(result, Err(StoreError::Bug(_))), "{result:?}");
        assert!(
            sound && outside,
            "rolled back, the connection stays for the next write"
        );
        assert!(committed(&dir, "t").await.is_empty(), "nothing was kept");
    }

    #[tokio::test]
    async fn a_failed_begin_leaves_the_connection_to_be_closed() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let writer = writer_in(&dir).await;
        // A transaction left open on the connection (as a write dropped
        // half-way leaves one): the next BEGIN fails.
        let mut guard = writer.acquire().await.expect("the connection");
        sqlx::query("BEGIN")
            .execute(&mut *guard)
            .await
            .expect("begin");
        let mut tx = WriteTx::new(guard.open());
        let result = insert(&mut tx, 1).await;
        let (result, sound) = tx.end(result).await;
        assert!(result.is_err(), "the BEGIN's error is returned");
        assert!(!sound, "a connection whose BEGIN failed is closed");
        guard.discard().await;
        assert!(committed(&dir, "t").await.is_empty());
    }

    #[tokio::test]
    async fn a_failed_commit_is_rolled_back_and_leaves_the_connection_to_be_closed() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let writer = writer_in(&dir).await;
        // A deferred foreign key fails the COMMIT itself, and SQLite then
        // leaves the transaction open.
        let (result, sound, outside) = in_tx(&writer, async |tx| {
            tx.direct_then(|db| {
                direct::first_value(db, "INSERT INTO child (p) VALUES (99)", &[])?;
                Ok(((), Then::Commit))
            })
            .await
        })
        .await;
        assert!(result.is_err(), "the commit's error is returned");
        assert!(!sound, "a connection whose COMMIT failed is closed");
        assert!(outside, "the failed commit was rolled back");
        assert!(committed(&dir, "child").await.is_empty());
    }
}
