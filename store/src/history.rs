//! State history: the kept versions of each charm's state, and rolling a
//! charm back to one.
//!
//! Versions are kept by a trigger on `charm_state` (migrations: sqlite 0008,
//! postgres 0006), inside the transaction that writes the state, so every
//! write path keeps them and a failed run, which writes nothing, adds
//! nothing. The current state is always the newest kept version.

use serde::Serialize;

use crate::rows::Columns;
use crate::{RunId, StateRecord, StoreError};

/// One kept version of a charm's state, without the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateVersion {
    /// 0 at registration, one more with each write.
    pub version: i64,
    /// When it was written (ms since the epoch, the database's clock).
    pub written_at: i64,
    /// Its size, in characters of JSON text (bytes for ASCII; counting
    /// characters is what both databases do alike).
    pub chars: u64,
    /// The run that wrote it; `None` for the initial state and rollbacks.
    pub run_id: Option<RunId>,
}

/// What a rollback did.
#[derive(Debug, Clone, PartialEq)]
pub enum Rollback {
    /// The state is now a copy of the version asked for, as a new version.
    Done(StateRecord),
    /// No charm has this id.
    NoCharm,
    /// That version is not kept (never written, or pruned).
    NoVersion,
    /// A run of the charm is running: rolling back under it would make its
    /// result meaningless, so it is refused until the run ends.
    Running(RunId),
    /// The version would put the charm's space over its state quota.
    OverQuota(crate::QuotaExceeded),
}

/// Version `$2` of charm `$1`'s state.
pub(crate) const VERSION: &str = "SELECT state, version, written_at AS updated_at \
     FROM state_versions WHERE charm_id = $1 AND version = $2";

/// The newest `$2` kept versions of charm `$1`, newest first, with the run
/// that wrote each.
pub(crate) const VERSIONS: &str =
    "SELECT v.version, v.written_at, CAST(LENGTH(v.state) AS BIGINT) AS chars, \
     (SELECT r.id FROM runs r WHERE r.charm_id = v.charm_id AND r.state_version = v.version \
      ORDER BY r.id DESC LIMIT 1) AS run_id \
     FROM state_versions v WHERE v.charm_id = $1 ORDER BY v.version DESC LIMIT $2";

/// A running run of charm `$1`, if any.
pub(crate) const RUNNING: &str =
    "SELECT id FROM runs WHERE charm_id = $1 AND status = 'running' LIMIT 1";

/// Writes version `$2`'s document as charm `$1`'s new state at `$3`.
pub(crate) const ROLL_BACK: &str = "UPDATE charm_state SET \
     state = (SELECT v.state FROM state_versions v WHERE v.charm_id = $1 AND v.version = $2), \
     version = version + 1, updated_at = $3 WHERE charm_id = $1 \
     RETURNING state, version, updated_at";

pub(crate) fn version_from(row: &impl Columns) -> Result<StateVersion, StoreError> {
    Ok(StateVersion {
        version: row.int("version")?,
        written_at: row.int("written_at")?,
        chars: crate::rows::to_u64(row.int("chars")?),
        run_id: row.opt_int("run_id")?,
    })
}

/// The history operations on one backend's connection type.
macro_rules! history_ops {
    ($conn:ty) => {
        use $crate::history::{
            version_from, Rollback, StateVersion, ROLL_BACK, RUNNING, VERSION, VERSIONS,
        };
        use $crate::{CharmId, StateRecord, StoreError};

        /// One kept version.
        pub(super) async fn version(
            conn: &mut $conn,
            charm: &CharmId,
            version: i64,
        ) -> Result<Option<StateRecord>, StoreError> {
            let row = sqlx::query(VERSION)
                .bind(charm.as_str())
                .bind(version)
                .fetch_optional(&mut *conn)
                .await?;
            row.as_ref().map($crate::rows::state_from).transpose()
        }

        /// The newest kept versions, newest first.
        pub(super) async fn versions(
            conn: &mut $conn,
            charm: &CharmId,
            limit: u32,
        ) -> Result<Vec<StateVersion>, StoreError> {
            let rows = sqlx::query(VERSIONS)
                .bind(charm.as_str())
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
            rows.iter().map(version_from).collect()
        }

        /// Rolls back inside the caller's transaction (which holds the
        /// charm's state row on PostgreSQL), if the version fits the
        /// space's state quota (in force with `defaults`), counted under
        /// the lock a finish takes (the backend's `quota` module).
        pub(super) async fn roll_back(
            conn: &mut $conn,
            charm: &CharmId,
            to: i64,
            now: i64,
            defaults: $crate::Quota,
        ) -> Result<Rollback, StoreError> {
            if let Some(run) = sqlx::query_scalar::<_, i64>(RUNNING)
                .bind(charm.as_str())
                .fetch_optional(&mut *conn)
                .await?
            {
                return Ok(Rollback::Running(run));
            }
            if version(&mut *conn, charm, to).await?.is_none() {
                let exists = sqlx::query_scalar::<_, i64>(
                    "SELECT version FROM charm_state WHERE charm_id = $1",
                )
                .bind(charm.as_str())
                .fetch_optional(&mut *conn)
                .await?;
                return Ok(match exists {
                    Some(_) => Rollback::NoVersion,
                    None => Rollback::NoCharm,
                });
            }
            if let Some(kept) = version(&mut *conn, charm, to).await? {
                let of_charm =
                    super::quota::quota_of_charm(&mut *conn, charm.as_str(), defaults).await?;
                if let Some((space, quota)) = of_charm {
                    let len = kept.state.len();
                    let fits =
                        super::quota::state_fits(&mut *conn, &space, charm.as_str(), len, quota)
                            .await?;
                    if let Some(over) = fits {
                        return Ok(Rollback::OverQuota(over));
                    }
                }
            }
            let row = sqlx::query(ROLL_BACK)
                .bind(charm.as_str())
                .bind(to)
                .bind(now)
                .fetch_one(&mut *conn)
                .await?;
            Ok(Rollback::Done($crate::rows::state_from(&row)?))
        }
    };
}
pub(crate) use history_ops;
