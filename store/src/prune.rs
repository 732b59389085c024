//! Pruning the history of charms, one page of charms at a time.
//!
//! A finished run is kept until its charm has `keep` newer finished runs
//! (`--keep-runs`, a space's `keep_runs`), and a state version until its
//! charm has `keep` newer ones; pruning deletes the rest. A prune call
//! takes one *page*: the next `charms` charms in id order after a cursor,
//! and only their rows. The caller walks the pages from the first to the
//! last ([`Pruned::next`]).
//!
//! Why pages of charms, not "up to N rows anywhere": finding the rows
//! beyond the newest `keep` of every charm means ranking every kept row.
//! Doing that for each batch of deletions made a round cost the table size
//! times the number of batches: at 10,000 charms with 210 runs each, a
//! round held SQLite's one write connection about 20 s, and API writes
//! waited up to 4.6 s behind it; at 30,000, 272 s (the SQL alone, from
//! Python's `sqlite3`); at 100,000 charms, one round would outlast the
//! prune interval. A page ranks only its own charms' rows, through the
//! `(charm_id, id)` index, so a round reads each row once.
//!
//! The runs to delete are found by one read and then deleted by id in
//! chunks (on SQLite the read is on a read connection, so the ranking never
//! holds the writer that every finish waits for). A run found beyond `keep`
//! stays beyond it, as runs are only added after it; the delete checks
//! again that it is finished and of the page. One race is accepted: a
//! space's `keep_runs` raised between the read and the delete does not
//! save the runs the read found under the old limit, as if the prune had
//! run just before the change. Ids are deleted in order, so two
//! PostgreSQL nodes pruning the same page wait for each other's row locks
//! rather than deadlock.

use serde::{Deserialize, Serialize};

use crate::CharmId;

/// What one page of a prune did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pruned {
    /// Rows deleted (runs, or state versions).
    pub deleted: u64,
    /// The cursor of the next page (the last charm of this one), or `None`
    /// when this page was the last.
    pub next: Option<CharmId>,
}

/// Runs deleted by id in one statement (on SQLite, one turn of the write
/// connection): about 15 ms of deletes, so finishes wait little behind it.
pub(crate) const DELETE_CHUNK: usize = 1_000;

/// The page after `$1` (a charm id, or '' for the first page) of at most
/// `$2` charms: how many charms it has and the last one's id.
pub(crate) const PAGE: &str = "SELECT COUNT(*) AS charms, MAX(id) AS last FROM ( \
     SELECT id FROM charms WHERE id > $1 ORDER BY id LIMIT $2) page";

/// The finished runs of the charms in (`$1`, `$2`] beyond each charm's
/// newest `keep`: its space's `keep_runs`, else the default `$4` when not
/// 0, else `$3`. The bounds are repeated on `runs` so that both backends
/// read the `(charm_id, id)` index by range.
pub(crate) const RUNS_BEYOND_KEEP: &str = "SELECT id FROM ( \
       SELECT r.id, p.keep, \
              ROW_NUMBER() OVER (PARTITION BY r.charm_id ORDER BY r.id DESC) AS n \
       FROM (SELECT c.id, COALESCE(q.keep_runs, NULLIF($4, 0), $3) AS keep \
             FROM charms c LEFT JOIN space_quotas q ON q.space = c.space \
             WHERE c.id > $1 AND c.id <= $2) p \
       JOIN runs r ON r.charm_id = p.id \
       WHERE r.charm_id > $1 AND r.charm_id <= $2 AND r.status = 'done') ranked \
     WHERE n > keep ORDER BY id";

/// Deletes the charm sources kept for recordings in (`$1`, `$2`] that no
/// kept recording refers to any more.
///
/// A charm's recordings are found through its runs, newest first
/// (`runs_by_charm`; without the `ORDER BY`, PostgreSQL walked it oldest
/// first), each recording by its run: the current source is usually the
/// newest run's, so the probe stops at once, and only a replaced source
/// walks the charm's kept runs. An index of the recordings by charm and
/// source would answer it directly, but it took an entry at a random place
/// for every recorded run, and without it a SQLite node of 100,000 charms
/// ran 7–33% more runs a second (four pairs in turns, issue 18's
/// twenty-second round). The probe is a scalar subquery, not `NOT EXISTS`:
/// PostgreSQL turns a `NOT EXISTS` into an anti-join, and chose to hash all
/// of `runs` and `run_recordings` for it (0.9–1.3 s a call, in the
/// thirteenth round's attempt at this). `CROSS JOIN` keeps SQLite's loop
/// on `runs` outside, where the charm's index is.
pub(crate) const PRUNE_SOURCES: &str = "DELETE FROM recorded_sources \
     WHERE charm_id > $1 AND charm_id <= $2 AND ( \
       SELECT 1 FROM runs r CROSS JOIN run_recordings k \
       WHERE r.charm_id = recorded_sources.charm_id AND k.run_id = r.id \
         AND k.source_sha256 = recorded_sources.source_sha256 ORDER BY r.id DESC LIMIT 1) IS NULL";

/// Deletes the state versions of the charms in (`$1`, `$2`] beyond each
/// charm's newest `$3` (the current state is always kept).
///
/// The bounds are repeated on `charm_state`: without them PostgreSQL
/// hashed the page's versions and read every charm's state for each page
/// (a sequential scan of 100,000 rows, 30–55 ms a page of 500 charms,
/// against 1.9–2.3 ms with them; `EXPLAIN ANALYZE`, warm, issue 18). At
/// 100,000 charms every 60 s a round's deletes kept about a third of a
/// server backend busy for 25 s beside the runs (`pg_stat_activity`
/// sampled every 0.2 s); with them, 0.04 of one for under 10 s. SQLite's
/// plan is the same either way.
pub(crate) const PRUNE_STATE_VERSIONS: &str =
    "DELETE FROM state_versions WHERE (charm_id, version) IN ( \
       SELECT v.charm_id, v.version FROM state_versions v \
       JOIN charm_state s ON s.charm_id = v.charm_id \
       WHERE v.charm_id > $1 AND v.charm_id <= $2 \
         AND s.charm_id > $1 AND s.charm_id <= $2 AND v.version <= s.version - $3)";

/// One page's charms: those with ids in (`after`, `last`].
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) after: String,
    pub(crate) last: String,
    /// `Some(last)` when the page was full, so more may follow.
    pub(crate) next: Option<CharmId>,
}

impl Page {
    /// What a prune of this page returns, having deleted `deleted`.
    pub(crate) fn pruned(self, deleted: u64) -> Pruned {
        Pruned {
            deleted,
            next: self.next,
        }
    }
}

/// The prune operations on one backend's connection type; `$delete_runs`
/// deletes the finished runs whose ids are the JSON array `$1` and whose
/// charms are in (`$2`, `$3`].
macro_rules! prune_ops {
    ($conn:ty, $delete_runs:expr) => {
        use $crate::prune::{Page, PAGE, PRUNE_SOURCES, PRUNE_STATE_VERSIONS, RUNS_BEYOND_KEEP};
        use $crate::rows::Columns as _;
        use $crate::{CharmId, StoreError};

        /// The page of up to `charms` charms after `after`; `None` when
        /// no charm follows it.
        pub(super) async fn page(
            conn: &mut $conn,
            after: Option<&CharmId>,
            charms: u32,
        ) -> Result<Option<Page>, StoreError> {
            let after = after.map_or("", CharmId::as_str);
            let row = sqlx::query(PAGE)
                .bind(after)
                .bind(i64::from(charms.max(1)))
                .fetch_one(&mut *conn)
                .await?;
            let Some(last) = row.opt_text("last")? else {
                return Ok(None);
            };
            let full = row.int("charms")? >= i64::from(charms.max(1));
            let next = if full {
                Some($crate::rows::parse_charm_id(&last)?)
            } else {
                None
            };
            Ok(Some(Page {
                after: after.to_string(),
                last,
                next,
            }))
        }

        /// The ids of the page's finished runs beyond what is kept.
        pub(super) async fn runs_beyond_keep(
            conn: &mut $conn,
            page: &Page,
            keep: u32,
            default_keep: u64,
        ) -> Result<Vec<i64>, StoreError> {
            Ok(sqlx::query_scalar(RUNS_BEYOND_KEEP)
                .bind(&page.after)
                .bind(&page.last)
                .bind(i64::from(keep))
                .bind($crate::rows::clamp_i64(default_keep))
                .fetch_all(&mut *conn)
                .await?)
        }

        /// Deletes these finished runs of the page (their recordings with
        /// them).
        pub(super) async fn delete_runs(
            conn: &mut $conn,
            page: &Page,
            ids: &[i64],
        ) -> Result<u64, StoreError> {
            let ids = serde_json::to_string(ids)
                .map_err(|e| $crate::corrupt("run ids to prune", e.to_string()))?;
            let done = sqlx::query($delete_runs)
                .bind(ids)
                .bind(&page.after)
                .bind(&page.last)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected())
        }

        /// Deletes the page's kept sources no recording refers to.
        pub(super) async fn prune_sources(conn: &mut $conn, page: &Page) -> Result<(), StoreError> {
            sqlx::query(PRUNE_SOURCES)
                .bind(&page.after)
                .bind(&page.last)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        /// Deletes the page's state versions beyond the newest `keep`.
        pub(super) async fn prune_state_versions(
            conn: &mut $conn,
            page: &Page,
            keep: u32,
        ) -> Result<u64, StoreError> {
            let done = sqlx::query(PRUNE_STATE_VERSIONS)
                .bind(&page.after)
                .bind(&page.last)
                .bind(i64::from(keep))
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected())
        }
    };
}
pub(crate) use prune_ops;
