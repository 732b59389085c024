//! Statements run on the write connection's SQLite handle directly.
//!
//! sqlx runs a SQLite connection on a thread of its own and sends each
//! query there and its answer back, and each row a statement returns. For
//! a batch of finished runs that was a round trip per run, and for the
//! schedule pass one per due charm, on the one connection every write
//! waits for (issue 18). The write connection takes the handle from
//! sqlx's thread (one round trip) and runs many statements on it here,
//! through rusqlite ([`with_locked`]), and keeps it until a statement goes
//! through sqlx again (`super::writer::Open`): the statements join the
//! caller's open transaction, as sqlx's would.
//!
//! The statements stay prepared between turns ([`Prepared`]): preparing
//! them again on every turn was a fifth of a finish's direct work.
//!
//! Statements use the store's `$N` parameters, bound by name
//! ([`bind_numbered`]): SQLite numbers `$N` by first appearance, not by `N`.
//!
//! The handle also takes the one setting sqlx has no option for
//! ([`plan_once`], on every connection).

use rusqlite::types::{ToSql, Value};
use sqlx::sqlite::{LockedSqliteHandle, SqliteConnection};

use crate::StoreError;

/// Statements kept prepared on one connection: at most this many, the
/// least recently used finalized first. The direct path has fewer than
/// this (about 20: a finish's, the claim, the schedule pass's, and the
/// write transaction's `BEGIN`, `COMMIT` and `ROLLBACK`).
const KEPT_STATEMENTS: usize = 32;

/// The statements prepared on one connection's handle, kept from one
/// [`with_locked`] turn to the next.
///
/// It belongs to one connection for its whole life: the connection's owner
/// keeps the two together (`writer::Open`) and drops this first. Dropping
/// it finalizes its statements, which must happen before sqlx closes the
/// handle: sqlx's close fails on a handle with statements left (and sqlx
/// panics). Between turns the statements are reset, so they hold no read
/// snapshot. A drop may come while sqlx's thread runs a statement of its
/// own, so its connection must be opened serialized (`FULLMUTEX`): SQLite
/// then orders the two threads' calls.
#[derive(Default)]
pub(super) struct Prepared {
    db: Option<rusqlite::Connection>,
}

// Not derived: rusqlite's `Debug` asks SQLite for the file's path, a call
// on the handle from whichever thread prints the store.
impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("open", &self.db.is_some())
            .finish()
    }
}

impl Prepared {
    /// Runs `body` on the handle `raw`, with the statements kept from
    /// earlier turns on it.
    ///
    /// # Safety
    /// `raw` is the handle of the connection this belongs to, and this
    /// thread is its only user until `body` returns.
    unsafe fn run<T>(
        &mut self,
        raw: *mut rusqlite::ffi::sqlite3,
        body: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let db = match &mut self.db {
            Some(db) => db,
            empty => {
                // SAFETY: the caller's. `from_handle` does not take
                // ownership: dropping it finalizes the statements it
                // prepared and leaves the connection open. Both crates
                // link the one `libsqlite3-sys`.
                let db = unsafe { rusqlite::Connection::from_handle(raw) }?;
                db.set_prepared_statement_cache_capacity(KEPT_STATEMENTS);
                empty.insert(db)
            }
        };
        // SAFETY: only compared, never used.
        if unsafe { db.handle() } != raw {
            return Err(StoreError::Bug(
                "statements prepared on one connection were offered another".into(),
            ));
        }
        body(db)
    }
}

/// Runs `body` on the SQLite handle `handle` locked from sqlx's thread, on
/// this thread, while sqlx's thread waits for it back, with the statements
/// `prepared` kept from earlier turns on the connection (and keeps the new
/// ones there). The write connection keeps its handle from one turn to the
/// next ([`super::writer::Open::with_handle`]).
///
/// `body` runs without an await: it holds up this runtime thread for as
/// long as it takes, as sqlx's thread would be held for its statements.
/// Keep it bounded (a batch of runs, not a scan). Only the write
/// transaction ([`super::tx::WriteTx`]) begins, commits or rolls back on
/// the handle, and it ends every transaction it begins; nothing else may
/// (sqlx keeps its own count of the transactions it began). The write lock
/// is the store's alone within the process (WAL readers never block it),
/// but another process writing to the file (an operator's `sqlite3` shell)
/// can hold it: then a write here waits for it, up to `busy_timeout`, on
/// this runtime thread.
///
/// # Errors
/// `body`'s error; [`StoreError::Bug`] when `prepared` belongs to another
/// connection.
pub(super) fn with_locked<T>(
    handle: &mut LockedSqliteHandle<'_>,
    prepared: &mut Prepared,
    body: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    // SAFETY: while `handle` lives, sqlx's thread makes no call on this
    // connection (`LockedSqliteHandle::as_raw_handle`), so this thread is
    // its only user; `prepared` is the caller's for this connection.
    unsafe { prepared.run(handle.as_raw_handle().as_ptr(), body) }
}

/// [`with_locked`] on `conn`'s handle, taken from sqlx's thread for this
/// turn, for a connection that keeps no statements: the ones `body`
/// prepares are finalized before the handle goes back.
///
/// # Errors
/// When sqlx's thread is gone, or as [`with_locked`].
pub(super) async fn with_handle_once<T>(
    conn: &mut SqliteConnection,
    body: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut handle = conn.lock_handle().await?;
    let mut prepared = Prepared::default();
    // SAFETY: as in `with_locked`; `prepared` is this turn's own.
    let out = unsafe { prepared.run(handle.as_raw_handle().as_ptr(), body) };
    // Finalized while the handle is still ours.
    drop(prepared);
    drop(handle);
    out
}

/// Turns on SQLite's query planner stability guarantee (QPSG) for `conn`:
/// a statement's plan no longer depends on the values bound to it.
///
/// Why: SQLite (3.51) plans a `LIMIT $n` with the value bound to `$n`, and
/// so marks the statement stale whenever `$n` is bound again: every claim,
/// schedule pass and prune was parsed and planned anew on each call, the
/// claim's large statement most of all (`sqlite3Reprepare`, 14% of the
/// write connection's CPU in a profile, issue 18). What the guarantee
/// costs: the planner no longer weighs a bound `LIMIT` when it prices a
/// sort. On the run path that changes nothing: the claim names its index
/// (`INDEXED BY`), and the due query and the wake-ups read an index in
/// their order. Elsewhere (a listing, a prune) a plan chosen without the
/// limit may sort more rows than a plan chosen with it; a plan never
/// changes a result.
///
/// # Errors
/// When sqlx's thread is gone, or SQLite refuses the setting. On the
/// write connection the write that opens it fails with this error; as the
/// read pool's `after_connect`, a failure surfaces as its acquire timing
/// out, and sqlx logs the cause.
pub(super) async fn plan_once(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    with_handle_once(conn, |db| {
        let on = db.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        if !on {
            // Only slower, never wrong: the statements re-plan as before.
            tracing::warn!("SQLite did not keep the query planner stability guarantee; statements with a bound LIMIT are planned on each call");
        }
        Ok(())
    })
    .await
}

/// Runs `sql` with its `$1..$n` bound to `args`, and returns the first
/// column of its first row, if it returns rows (`RETURNING`).
///
/// The statement stays prepared in `db`'s cache (see [`Prepared`]).
///
/// # Errors
/// SQLite's error; [`StoreError::Bug`] when `args` does not match the
/// statement's parameters.
pub(super) fn first_value(
    db: &rusqlite::Connection,
    sql: &str,
    args: &[&dyn ToSql],
) -> Result<Option<Value>, StoreError> {
    let mut first = None;
    for_each_row(db, sql, args, |row| {
        if first.is_none() {
            first = Some(row.get::<_, Value>(0)?);
        }
        Ok(())
    })?;
    Ok(first)
}

/// Runs `sql` with its `$1..$n` bound to `args`, and calls `each` with
/// every row it returns, in order, here on this thread: no round trip to
/// sqlx's thread per row.
///
/// The statement stays prepared in `db`'s cache (see [`Prepared`]). It is
/// stepped to its end, so its writes are done when this returns, unless
/// `each` fails.
///
/// # Errors
/// SQLite's error, or `each`'s (then the rest of the rows are not read);
/// [`StoreError::Bug`] when `args` does not match the statement's
/// parameters.
pub(super) fn for_each_row(
    db: &rusqlite::Connection,
    sql: &str,
    args: &[&dyn ToSql],
    mut each: impl FnMut(&rusqlite::Row<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut statement = db.prepare_cached(sql)?;
    bind_numbered(&mut statement, args)?;
    let mut rows = statement.raw_query();
    while let Some(row) = rows.next()? {
        each(row)?;
    }
    Ok(())
}

/// A row read on the handle, as the store's row readers take it.
/// rusqlite converts more strictly than sqlx: `bytes` takes a BLOB only (not
/// TEXT), and `flag` an INTEGER only (not REAL); the store writes both so.
impl crate::rows::Columns for rusqlite::Row<'_> {
    fn text(&self, column: &str) -> Result<String, StoreError> {
        Ok(self.get(column)?)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        Ok(self.get(column)?)
    }
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        Ok(self.get(column)?)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.get(column)?)
    }
    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        Ok(self.get(column)?)
    }
    fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError> {
        Ok(self.get(column)?)
    }
}

/// Binds `$N` of `statement` to `args[N - 1]`, for every `N` in it; each
/// argument must be used.
fn bind_numbered(
    statement: &mut rusqlite::Statement<'_>,
    args: &[&dyn ToSql],
) -> Result<(), StoreError> {
    let count = statement.parameter_count();
    let mut used = 0;
    for index in 1..=count {
        let number = statement
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok());
        let arg = number
            .and_then(|n| n.checked_sub(1))
            .and_then(|n| args.get(n));
        let Some(arg) = arg else {
            return Err(StoreError::Bug(format!(
                "parameter {index} of a direct statement is not one of `$1..${}`",
                args.len()
            )));
        };
        statement.raw_bind_parameter(index, arg)?;
        used += 1;
    }
    if used != args.len() {
        return Err(StoreError::Bug(format!(
            "a direct statement takes {used} arguments and was given {}",
            args.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use rusqlite::types::Value;
    use sqlx::{Connection, Row};

    use super::{first_value, for_each_row, plan_once, with_handle_once, Prepared};
    use crate::StoreError;

    /// A turn on `conn`'s handle, taken from sqlx's thread for it, with
    /// the statements `prepared` kept on `conn`.
    async fn with_handle<T>(
        conn: &mut sqlx::SqliteConnection,
        prepared: &mut Prepared,
        body: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut handle = conn.lock_handle().await?;
        super::with_locked(&mut handle, prepared, body)
    }

    async fn memory() -> sqlx::SqliteConnection {
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .expect("an in-memory database");
        sqlx::query("CREATE TABLE t (a INTEGER, b TEXT)")
            .execute(&mut conn)
            .await
            .expect("a table");
        conn
    }

    #[tokio::test]
    async fn parameters_bind_by_number_and_writes_join_the_open_transaction() {
        let mut conn = memory().await;
        sqlx::query("BEGIN")
            .execute(&mut conn)
            .await
            .expect("begin");
        let top = with_handle_once(&mut conn, |db| {
            // `$2` appears first: SQLite would number it 1.
            first_value(db, "INSERT INTO t (b, a) VALUES ($2, $1)", &[&7, &"seven"])?;
            first_value(
                db,
                "UPDATE t SET a = a + $1 WHERE b = $2 RETURNING a",
                &[&1, &"seven"],
            )
        })
        .await
        .expect("the statements run");
        assert_eq!(top, Some(Value::Integer(8)));
        let row = sqlx::query("SELECT a, b FROM t")
            .fetch_one(&mut conn)
            .await
            .expect("sqlx sees the row in its transaction");
        assert_eq!(
            (row.get::<i64, _>("a"), row.get::<String, _>("b")),
            (8, "seven".into())
        );
        sqlx::query("ROLLBACK")
            .execute(&mut conn)
            .await
            .expect("rollback");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut conn)
            .await
            .expect("a count");
        assert_eq!(n, 0, "the rollback took the direct writes too");
    }

    #[tokio::test]
    async fn every_row_comes_in_order_and_an_error_stops_the_rows() {
        let mut conn = memory().await;
        let (all, cut) = with_handle_once(&mut conn, |db| {
            for a in 1..=5 {
                first_value(db, "INSERT INTO t (a) VALUES ($1)", &[&a])?;
            }
            let mut all = Vec::new();
            for_each_row(
                db,
                "SELECT a FROM t WHERE a > $1 ORDER BY a",
                &[&1],
                |row| {
                    all.push(row.get::<_, i64>(0)?);
                    Ok(())
                },
            )?;
            let mut seen = 0;
            let cut = for_each_row(db, "SELECT a FROM t ORDER BY a", &[], |_| {
                seen += 1;
                if seen == 2 {
                    return Err(StoreError::Bug("stop".into()));
                }
                Ok(())
            });
            Ok((all, cut.err().map(|e| (e.to_string(), seen))))
        })
        .await
        .expect("the statements run");
        assert_eq!(all, [2, 3, 4, 5]);
        let (error, seen) = cut.expect("the callback's error");
        assert!(error.contains("stop"), "{error}");
        assert_eq!(seen, 2, "no row read after the error");
    }

    #[tokio::test]
    async fn arguments_that_do_not_match_run_nothing() {
        let mut conn = memory().await;
        for args in [&[&1 as &dyn rusqlite::ToSql][..], &[&1, &"x", &3]] {
            let error = with_handle_once(&mut conn, |db| {
                first_value(db, "INSERT INTO t (a, b) VALUES ($1, $2)", args)
            })
            .await
            .expect_err("refused");
            assert!(matches!(error, StoreError::Bug(_)), "{error}");
        }
        let unnumbered = with_handle_once(&mut conn, |db| {
            first_value(db, "INSERT INTO t (a) VALUES (?)", &[&1])
        })
        .await
        .expect_err("refused");
        assert!(matches!(unnumbered, StoreError::Bug(_)), "{unnumbered}");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut conn)
            .await
            .expect("a count");
        assert_eq!(n, 0, "nothing ran");
    }

    /// How many times SQLite planned `SELECT .. LIMIT $1` again while it
    /// ran with 1, 2 and 3 bound, on `conn`.
    async fn replans_of_a_bound_limit(conn: &mut sqlx::SqliteConnection) -> i32 {
        with_handle_once(conn, |db| {
            let mut statement = db.prepare("SELECT a FROM t LIMIT $1")?;
            for limit in 1..=3 {
                statement.raw_bind_parameter(1, limit)?;
                let mut rows = statement.raw_query();
                while rows.next()?.is_some() {}
            }
            Ok(statement.get_status(rusqlite::StatementStatus::RePrepare))
        })
        .await
        .expect("the statement runs")
    }

    #[tokio::test]
    async fn a_bound_limit_is_planned_once_with_the_planner_stable() {
        let mut conn = memory().await;
        let replans = replans_of_a_bound_limit(&mut conn).await;
        assert!(
            replans > 0,
            "SQLite's default plans it per value: {replans}"
        );
        plan_once(&mut conn)
            .await
            .expect("SQLite takes the setting");
        assert_eq!(replans_of_a_bound_limit(&mut conn).await, 0);
    }

    /// The statements alive on `db`'s connection (sqlx's among them).
    fn statements_on(db: &rusqlite::Connection) -> BTreeSet<usize> {
        let mut all = BTreeSet::new();
        // SAFETY: `db` is this thread's for the turn; the statements are
        // only listed, never used.
        unsafe {
            let mut next = rusqlite::ffi::sqlite3_next_stmt(db.handle(), std::ptr::null_mut());
            while !next.is_null() {
                all.insert(next as usize);
                next = rusqlite::ffi::sqlite3_next_stmt(db.handle(), next);
            }
        }
        all
    }

    #[tokio::test]
    async fn statements_stay_prepared_from_one_turn_to_the_next() {
        let mut conn = memory().await;
        let sqlx_own = with_handle_once(&mut conn, |db| Ok(statements_on(db)))
            .await
            .expect("a turn");
        let ours = |all: BTreeSet<usize>| all.difference(&sqlx_own).copied().collect::<Vec<_>>();
        let mut prepared = Prepared::default();
        let insert = "INSERT INTO t (a) VALUES ($1)";
        let first = with_handle(&mut conn, &mut prepared, |db| {
            first_value(db, insert, &[&1])?;
            Ok(statements_on(db))
        })
        .await
        .expect("the first turn runs");
        let (before, after) = with_handle(&mut conn, &mut prepared, |db| {
            let before = statements_on(db);
            first_value(db, insert, &[&2])?;
            Ok((before, statements_on(db)))
        })
        .await
        .expect("the second turn runs");
        let first = ours(first);
        assert_eq!(first.len(), 1, "one statement of ours: {first:?}");
        assert_eq!(ours(before), first, "kept between the turns");
        assert_eq!(ours(after), first, "the second turn reused it");
        let once = with_handle_once(&mut conn, |db| {
            first_value(db, "SELECT a FROM t WHERE a = $1", &[&1])?;
            Ok(statements_on(db))
        })
        .await
        .expect("a turn of its own");
        assert_eq!(ours(once).len(), 2, "its own statement beside the kept one");
        drop(prepared);
        let left = with_handle_once(&mut conn, |db| Ok(statements_on(db)))
            .await
            .expect("a turn");
        assert!(ours(left).is_empty(), "all finalized");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut conn)
            .await
            .expect("a count");
        assert_eq!(n, 2);
        conn.close()
            .await
            .expect("sqlx closes the handle with nothing of ours left on it");
    }

    #[tokio::test]
    async fn statements_of_one_connection_are_refused_on_another() {
        let (mut one, mut other) = (memory().await, memory().await);
        let mut prepared = Prepared::default();
        with_handle(&mut one, &mut prepared, |db| {
            first_value(db, "INSERT INTO t (a) VALUES ($1)", &[&1])
        })
        .await
        .expect("a turn on its own connection");
        let error = with_handle(&mut other, &mut prepared, |db| {
            first_value(db, "INSERT INTO t (a) VALUES ($1)", &[&2])
        })
        .await
        .expect_err("refused");
        assert!(matches!(error, StoreError::Bug(_)), "{error}");
        drop(prepared);
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut other)
            .await
            .expect("a count");
        assert_eq!(n, 0, "nothing ran on the other connection");
    }
}
