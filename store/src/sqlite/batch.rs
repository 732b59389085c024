//! Several statements sent to SQLite's thread as one message.
//!
//! sqlx runs a SQLite connection on a thread of its own and answers each
//! query over a channel. That round trip costs more than most of our
//! statements do inside SQLite: 15–30 µs of CPU against 2–30 µs (issue 18,
//! measured with a loop of ten updates per transaction, one query each
//! against one query for all ten). sqlx accepts several statements in one
//! query and binds `$N` by number across all of them, so a batch renumbers
//! each statement's parameters past those of the statements before it and
//! sends the whole text at once.
//!
//! Statements run in order, each seeing the writes of the ones before it;
//! the first error stops the batch, and the caller's transaction rolls back.
//! The rows of every statement come back in order, in one list; a statement
//! that returns rows names its columns so that its rows can be told apart
//! ([`Batch::rows`]).

use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqliteRow};
use sqlx::{Arguments, Encode, Sqlite, Type};

use crate::StoreError;

/// Statements and their arguments, to be run as one query.
#[derive(Default)]
pub(super) struct Batch {
    sql: String,
    args: SqliteArguments,
    /// Arguments bound so far: the next statement's `$1` is `$(bound + 1)`.
    bound: usize,
    /// Arguments bound for the statement being pushed, and how many it
    /// takes (its highest `$N`).
    pending: usize,
    expected: usize,
    statements: usize,
    /// Why the batch must not run: a statement given the wrong number of
    /// arguments, one the renumbering cannot read, or an argument that did
    /// not encode. A bug, reported by [`Batch::rows`] rather than run with
    /// its parameters misnumbered.
    refused: Option<String>,
}

impl Batch {
    /// Adds `sql`, whose parameters are `$1..$n`; bind its `n` arguments, in
    /// order, with [`Batch::bind`] before the next `push` or [`Batch::rows`].
    pub(super) fn push(&mut self, sql: &str) -> &mut Self {
        self.finish_statement();
        // The renumbering reads `$N` and single quotes, nothing else.
        if let Some(bad) = ["--", "/*", "\"", "?"]
            .into_iter()
            .find(|bad| sql.contains(bad))
        {
            self.refuse(format!(
                "statement {} has `{bad}`, which a batch cannot renumber around",
                self.statements + 1
            ));
        }
        if !self.sql.is_empty() {
            self.sql.push_str(";\n");
        }
        self.expected = shift_parameters(sql, self.bound, &mut self.sql);
        self.statements += 1;
        self
    }

    /// Binds the next argument of the statement last pushed.
    pub(super) fn bind<'q, T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'q, Sqlite> + Type<Sqlite>,
    {
        // Encoding fails for none of the types we bind (integers, floats,
        // text, blobs); if it ever does, `rows` refuses to run the batch.
        if let Err(e) = self.args.add(value) {
            let n = self.bound + self.pending + 1;
            self.refuse(format!("argument {n} did not encode: {e}"));
        }
        self.pending += 1;
        self
    }

    fn refuse(&mut self, why: String) {
        self.refused.get_or_insert(why);
    }

    fn finish_statement(&mut self) {
        if self.pending != self.expected {
            self.refuse(format!(
                "statement {} takes {} arguments and was given {}",
                self.statements, self.expected, self.pending
            ));
        }
        self.bound += self.pending;
        self.pending = 0;
        self.expected = 0;
    }

    /// Runs the batch on `conn` and returns the rows of all its statements,
    /// in order. An empty batch runs nothing.
    ///
    /// # Errors
    /// [`StoreError::Bug`], having run nothing, when the batch was built
    /// wrong; else the first statement's error: the statements before it
    /// have run, so the caller's transaction must roll back.
    pub(super) async fn rows(
        mut self,
        conn: &mut SqliteConnection,
    ) -> Result<Vec<SqliteRow>, StoreError> {
        self.finish_statement();
        if let Some(why) = self.refused {
            return Err(StoreError::Bug(format!("a batch of statements: {why}")));
        }
        if self.statements == 0 {
            return Ok(Vec::new());
        }
        // The text is ours: built from the backend's own constants.
        Ok(sqlx::query_with(sqlx::AssertSqlSafe(self.sql), self.args)
            .fetch_all(conn)
            .await?)
    }
}

/// Appends `sql` to `out` with each parameter `$N` written `$(N + by)`,
/// and returns the highest `N`. Text in single quotes is copied as it is:
/// a `$` there is not a parameter.
///
/// It copies the text between parameters and quotes whole: a finish
/// builds its batch while it holds the write connection, and copying
/// character by character was about 1.4% of the service's CPU (issue 18).
fn shift_parameters(sql: &str, by: usize, out: &mut String) -> usize {
    use std::fmt::Write as _;
    let mut highest = 0;
    let mut quoted = false;
    let mut rest = sql;
    while let Some(at) = rest.find(['$', '\'']) {
        out.push_str(&rest[..at]);
        let (mark, after) = (&rest[at..=at], &rest[at + 1..]);
        rest = after;
        if mark == "'" {
            quoted = !quoted;
            out.push('\'');
            continue;
        }
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        match after[..digits].parse::<usize>() {
            Ok(n) if !quoted => {
                highest = highest.max(n);
                // Writing to a `String` cannot fail.
                let _ = write!(out, "${}", n + by);
                rest = &after[digits..];
            }
            _ => out.push('$'),
        }
    }
    out.push_str(rest);
    highest
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, Row};

    use super::{shift_parameters, Batch};
    use crate::StoreError;

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
    async fn each_statement_gets_its_own_arguments_and_sees_the_ones_before() {
        let mut conn = memory().await;
        let mut batch = Batch::default();
        batch
            .push("INSERT INTO t (a, b) VALUES ($1, $2)")
            .bind(1)
            .bind("one");
        batch
            .push("INSERT INTO t (b, a) VALUES ($2, $1)")
            .bind(2)
            .bind("two");
        batch
            .push("SELECT COUNT(*) AS n, MAX(a) AS top FROM t WHERE b <> $1")
            .bind("none");
        let rows = batch.rows(&mut conn).await.expect("the batch runs");
        assert_eq!(rows.len(), 1);
        let (n, top): (i64, i64) = (rows[0].get("n"), rows[0].get("top"));
        assert_eq!((n, top), (2, 2));
        let two: String = sqlx::query_scalar("SELECT b FROM t WHERE a = 2")
            .fetch_one(&mut conn)
            .await
            .expect("a row");
        assert_eq!(two, "two");
    }

    #[tokio::test]
    async fn a_batch_built_wrong_runs_nothing() {
        let mut conn = memory().await;
        let mut miscounted = Batch::default();
        miscounted.push("INSERT INTO t (a) VALUES ($1)").bind(1);
        miscounted
            .push("INSERT INTO t (a, b) VALUES ($1, $2)")
            .bind(2);
        let unreadable = {
            let mut b = Batch::default();
            b.push("INSERT INTO t (a) VALUES (?)").bind(3);
            b
        };
        for batch in [miscounted, unreadable] {
            let error = batch.rows(&mut conn).await.expect_err("refused");
            assert!(matches!(error, StoreError::Bug(_)), "{error}");
        }
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut conn)
            .await
            .expect("a count");
        assert_eq!(n, 0, "nothing ran");
    }

    fn shifted(sql: &str, by: usize) -> String {
        let mut out = String::new();
        shift_parameters(sql, by, &mut out);
        out
    }

    #[test]
    fn parameters_move_past_the_ones_before_and_quoted_text_stays() {
        assert_eq!(
            shifted("UPDATE t SET a = $1, b = '$2' WHERE id = $10", 3),
            "UPDATE t SET a = $4, b = '$2' WHERE id = $13"
        );
        assert_eq!(
            shifted("SELECT $1 || 'it''s $1'", 0),
            "SELECT $1 || 'it''s $1'"
        );
        assert_eq!(shifted("SELECT '$' || $2", 1), "SELECT '$' || $3");
        assert_eq!(shifted("SELECT $ || $x || $", 4), "SELECT $ || $x || $");
        assert_eq!(shifted("$1,$2", 9), "$10,$11");
        assert_eq!(
            shifted("SELECT 'é$1' || $1 || 'ü'", 1),
            "SELECT 'é$1' || $2 || 'ü'"
        );
        let mut out = String::new();
        assert_eq!(shift_parameters("SELECT $2, $1, '$7'", 5, &mut out), 2);
    }
}
