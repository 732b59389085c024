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
    /// A statement given the wrong number of arguments: a bug, reported by
    /// [`Batch::rows`] rather than run with its parameters misnumbered.
    miscounted: Option<String>,
}

impl Batch {
    /// Adds `sql`, whose parameters are `$1..$n`; bind its `n` arguments, in
    /// order, with [`Batch::bind`] before the next `push` or [`Batch::rows`].
    pub(super) fn push(&mut self, sql: &str) -> &mut Self {
        self.finish_statement();
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
        // `add` fails only when encoding fails, which the types we bind
        // (integers, floats, text, blobs) never do; the error is kept and
        // reported by `rows`.
        if let Err(e) = self.args.add(value) {
            tracing::error!(error = %e, "encoding a batch argument failed");
        }
        self.pending += 1;
        self
    }

    fn finish_statement(&mut self) {
        if self.pending != self.expected && self.miscounted.is_none() {
            self.miscounted = Some(format!(
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
    /// The first statement's error, as [`StoreError`]; the statements before
    /// it have run, so the caller's transaction must roll back.
    pub(super) async fn rows(
        mut self,
        conn: &mut SqliteConnection,
    ) -> Result<Vec<SqliteRow>, StoreError> {
        self.finish_statement();
        if self.statements == 0 {
            return Ok(Vec::new());
        }
        if let Some(miscounted) = self.miscounted {
            return Err(crate::corrupt("a batch of statements", miscounted));
        }
        if self.args.len() != self.bound {
            return Err(crate::corrupt(
                "a batch of statements",
                format!(
                    "{} arguments encoded of {} bound",
                    self.args.len(),
                    self.bound
                ),
            ));
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
fn shift_parameters(sql: &str, by: usize, out: &mut String) -> usize {
    let mut highest = 0;
    let mut quoted = false;
    let mut chars = sql.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c != '$' || quoted {
            out.push(c);
            continue;
        }
        let digits: String = sql[i + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        match digits.parse::<usize>() {
            Ok(n) => {
                highest = highest.max(n);
                out.push('$');
                out.push_str(&(n + by).to_string());
                for _ in 0..digits.len() {
                    chars.next();
                }
            }
            Err(_) => out.push(c),
        }
    }
    highest
}

#[cfg(test)]
mod tests {
    use super::shift_parameters;

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
        let mut out = String::new();
        assert_eq!(shift_parameters("SELECT $2, $1, '$7'", 5, &mut out), 2);
    }
}
