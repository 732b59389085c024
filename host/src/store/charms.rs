//! Charms and their state.

use serde::Serialize;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::runs::{cancel_queued, RunSummary};
use super::{corrupt, now_ms, Store, StoreError};
use crate::limits::SandboxLimits;

/// A charm as the API shows it (no source or bytecode).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CharmRecord {
    pub id: String,
    pub space: String,
    pub name: String,
    pub integration: Option<String>,
    pub interval_s: u32,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<i64>,
    pub consecutive_failures: u32,
    pub next_run_at: i64,
    pub allowed_hosts: Vec<String>,
    pub limits: SandboxLimits,
    pub source_sha256: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// The last finished run, if any.
    pub last_run: Option<RunSummary>,
}

/// Everything needed to run a charm, or to edit it.
#[derive(Debug, Clone, PartialEq)]
pub struct CharmCode {
    pub id: String,
    pub space: String,
    pub name: String,
    pub integration: Option<String>,
    pub source: String,
    pub source_sha256: String,
    pub bytecode: Vec<u8>,
    pub runtime_sha256: String,
    pub interval_s: u32,
    pub limits: SandboxLimits,
    pub allowed_hosts: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<i64>,
    pub consecutive_failures: u32,
    pub next_run_at: i64,
}

/// A charm to insert, with its first state.
#[derive(Debug, Clone)]
pub struct NewCharm {
    pub code: CharmCode,
    /// The initial state, as JSON text (version 0).
    pub state: String,
}

/// What [`Store::modify_charm`] hands to its closure: the stored charm, to
/// change in place.
pub type CharmPatch = CharmCode;

/// Which charms to list, in which order.
#[derive(Debug, Clone, Default)]
pub struct CharmFilter {
    pub space: Option<String>,
    pub integration: Option<String>,
    pub enabled: Option<bool>,
    pub sort: SortKey,
    pub descending: bool,
    pub limit: u32,
    pub offset: u32,
}

/// The columns a listing can be sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SortKey {
    #[default]
    Created,
    Space,
    Integration,
    Interval,
    Enabled,
    LastRun,
    Failures,
    NextRun,
}

impl SortKey {
    pub const ALL: [SortKey; 8] = [
        SortKey::Created,
        SortKey::Space,
        SortKey::Integration,
        SortKey::Interval,
        SortKey::Enabled,
        SortKey::LastRun,
        SortKey::Failures,
        SortKey::NextRun,
    ];

    /// The name the API uses.
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Created => "created",
            SortKey::Space => "space",
            SortKey::Integration => "integration",
            SortKey::Interval => "interval",
            SortKey::Enabled => "enabled",
            SortKey::LastRun => "last_run",
            SortKey::Failures => "failures",
            SortKey::NextRun => "next_run",
        }
    }

    /// Parses an API name.
    pub fn parse(name: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.name() == name)
    }

    fn column(self) -> &'static str {
        match self {
            SortKey::Created => "c.created_at",
            SortKey::Space => "c.space",
            SortKey::Integration => "c.integration",
            SortKey::Interval => "c.interval_s",
            SortKey::Enabled => "c.enabled",
            SortKey::LastRun => "r.finished_at",
            SortKey::Failures => "c.consecutive_failures",
            SortKey::NextRun => "c.next_run_at",
        }
    }
}

/// A charm's state document.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StateRecord {
    /// The JSON document, as stored.
    #[serde(serialize_with = "raw_json")]
    pub state: String,
    pub version: i64,
    pub updated_at: i64,
}

fn raw_json<S: serde::Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    match serde_json::value::RawValue::from_string(text.to_string()) {
        Ok(raw) => raw.serialize(s),
        Err(e) => Err(serde::ser::Error::custom(e)),
    }
}

fn to_u32(what: &'static str, v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| corrupt(what, format!("{v} is out of range")))
}

fn json_field<T: serde::de::DeserializeOwned>(
    what: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

fn record_from(row: &SqliteRow) -> Result<CharmRecord, StoreError> {
    let last_run = match row.try_get::<Option<i64>, _>("last_run_id")? {
        Some(id) => Some(RunSummary {
            id,
            outcome: row.try_get("last_outcome")?,
            error: row.try_get("last_error")?,
            finished_at: row.try_get("last_finished_at")?,
            duration_ms: row.try_get("last_duration_ms")?,
        }),
        None => None,
    };
    Ok(CharmRecord {
        id: row.try_get("id")?,
        space: row.try_get("space")?,
        name: row.try_get("name")?,
        integration: row.try_get("integration")?,
        interval_s: to_u32("interval", row.try_get("interval_s")?)?,
        enabled: row.try_get("enabled")?,
        disabled_reason: row.try_get("disabled_reason")?,
        disabled_at: row.try_get("disabled_at")?,
        consecutive_failures: to_u32("failure count", row.try_get("consecutive_failures")?)?,
        next_run_at: row.try_get("next_run_at")?,
        allowed_hosts: json_field("allow-list", &row.try_get::<String, _>("allowed_hosts")?)?,
        limits: json_field("limits", &row.try_get::<String, _>("limits")?)?,
        source_sha256: row.try_get("source_sha256")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        last_run,
    })
}

fn code_from(row: &SqliteRow) -> Result<CharmCode, StoreError> {
    Ok(CharmCode {
        id: row.try_get("id")?,
        space: row.try_get("space")?,
        name: row.try_get("name")?,
        integration: row.try_get("integration")?,
        source: row.try_get("source")?,
        source_sha256: row.try_get("source_sha256")?,
        bytecode: row.try_get("bytecode")?,
        runtime_sha256: row.try_get("runtime_sha256")?,
        interval_s: to_u32("interval", row.try_get("interval_s")?)?,
        limits: json_field("limits", &row.try_get::<String, _>("limits")?)?,
        allowed_hosts: json_field("allow-list", &row.try_get::<String, _>("allowed_hosts")?)?,
        enabled: row.try_get("enabled")?,
        disabled_reason: row.try_get("disabled_reason")?,
        disabled_at: row.try_get("disabled_at")?,
        consecutive_failures: to_u32("failure count", row.try_get("consecutive_failures")?)?,
        next_run_at: row.try_get("next_run_at")?,
    })
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// The columns a charm's code and settings occupy, in the order both the
/// INSERT and the UPDATE below list them.
const CODE_COLUMNS: &str = "name, integration, source, source_sha256, bytecode, runtime_sha256, \
     interval_s, limits, allowed_hosts, enabled, disabled_reason, disabled_at, consecutive_failures, next_run_at";

fn bind_code<'q>(query: Query<'q>, c: &'q CharmCode) -> Result<Query<'q>, StoreError> {
    Ok(query
        .bind(&c.name)
        .bind(&c.integration)
        .bind(&c.source)
        .bind(&c.source_sha256)
        .bind(&c.bytecode)
        .bind(&c.runtime_sha256)
        .bind(i64::from(c.interval_s))
        .bind(serde_json::to_string(&c.limits).map_err(|e| corrupt("limits", e))?)
        .bind(serde_json::to_string(&c.allowed_hosts).map_err(|e| corrupt("allow-list", e))?)
        .bind(c.enabled)
        .bind(&c.disabled_reason)
        .bind(c.disabled_at)
        .bind(i64::from(c.consecutive_failures))
        .bind(c.next_run_at))
}

const SELECT_RECORD: &str = "SELECT c.id, c.space, c.name, c.integration, c.interval_s, c.enabled, \
     c.disabled_reason, c.disabled_at, c.consecutive_failures, c.next_run_at, c.allowed_hosts, \
     c.limits, c.source_sha256, c.created_at, c.updated_at, \
     r.id AS last_run_id, r.outcome AS last_outcome, r.error AS last_error, \
     r.finished_at AS last_finished_at, r.duration_ms AS last_duration_ms \
     FROM charms c LEFT JOIN runs r ON r.id = \
       (SELECT x.id FROM runs x WHERE x.charm_id = c.id AND x.status = 'done' ORDER BY x.id DESC LIMIT 1)";

impl Store {
    /// Inserts a charm and its initial state (version 0).
    ///
    /// # Errors
    /// On a database failure (including a duplicate id).
    pub async fn insert_charm(&self, new: &NewCharm) -> Result<(), StoreError> {
        let c = &new.code;
        let now = now_ms();
        self.write_tx(async |conn| {
            let insert = sqlx::query(insert_sql()).bind(&c.id).bind(&c.space);
            bind_code(insert, c)?
                .bind(now)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "INSERT INTO charm_state (charm_id, state, version, updated_at) VALUES (?, ?, 0, ?)",
            )
            .bind(&c.id)
            .bind(&new.state)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            Ok(())
        })
        .await
    }

    /// One charm, or `None`.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn charm(&self, id: &str) -> Result<Option<CharmRecord>, StoreError> {
        let sql = const_format_where_id();
        let row = sqlx::query(sql).bind(id).fetch_optional(&self.read).await?;
        row.as_ref().map(record_from).transpose()
    }

    /// A page of charms matching `filter`, and how many match in all.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn charms(
        &self,
        filter: &CharmFilter,
    ) -> Result<(Vec<CharmRecord>, u64), StoreError> {
        let rows = sqlx::query(list_sql(filter.sort, filter.descending))
            .bind(&filter.space)
            .bind(&filter.integration)
            .bind(filter.enabled)
            .bind(i64::from(filter.limit))
            .bind(i64::from(filter.offset))
            .fetch_all(&self.read)
            .await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM charms c WHERE (?1 IS NULL OR c.space = ?1) \
             AND (?2 IS NULL OR c.integration = ?2) AND (?3 IS NULL OR c.enabled = ?3)",
        )
        .bind(&filter.space)
        .bind(&filter.integration)
        .bind(filter.enabled)
        .fetch_one(&self.read)
        .await?;
        let charms = rows
            .iter()
            .map(record_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((charms, u64::try_from(total).unwrap_or(0)))
    }

    /// A charm's code and settings, or `None`.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn charm_code(&self, id: &str) -> Result<Option<CharmCode>, StoreError> {
        let row = sqlx::query("SELECT * FROM charms WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(code_from).transpose()
    }

    /// What a run needs: the charm's code and settings without its source
    /// (`source` is left empty). A run reads this on every execution, and the
    /// source, up to 1 MiB, is only needed to recompile.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn charm_for_run(&self, id: &str) -> Result<Option<CharmCode>, StoreError> {
        let row = sqlx::query(
            "SELECT id, space, name, integration, '' AS source, source_sha256, bytecode, runtime_sha256, \
             interval_s, limits, allowed_hosts, enabled, disabled_reason, disabled_at, \
             consecutive_failures, next_run_at FROM charms WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(code_from).transpose()
    }

    /// Reads a charm, lets `change` edit it, and writes it back, in one
    /// transaction. Disabling a charm also cancels its queued run, so that a
    /// disabled charm never runs. Returns `None` for an unknown id.
    ///
    /// # Errors
    /// `change`'s own error, or a database failure.
    pub async fn modify_charm<E>(
        &self,
        id: &str,
        change: impl FnOnce(&mut CharmPatch) -> Result<(), E>,
    ) -> Result<Option<CharmRecord>, E>
    where
        E: From<StoreError>,
    {
        let now = now_ms();
        let found = self
            .write_tx(async |conn| -> Result<bool, E> {
                let row = sqlx::query("SELECT * FROM charms WHERE id = ?")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(StoreError::from)?;
                let Some(row) = row else { return Ok(false) };
                let before = code_from(&row)?;
                let mut c = before.clone();
                change(&mut c)?;
                bind_code(sqlx::query(update_sql()), &c)?
                    .bind(now)
                    .bind(id)
                    .execute(&mut *conn)
                    .await
                    .map_err(StoreError::from)?;
                if before.enabled && !c.enabled {
                    cancel_queued(conn, id, now).await?;
                }
                Ok(true)
            })
            .await?;
        if !found {
            return Ok(None);
        }
        Ok(self.charm(id).await?)
    }

    /// Deletes a charm with its state and runs. Returns whether it existed.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn delete_charm(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM charms WHERE id = ?")
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// A charm's state, or `None` for an unknown charm.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn state(&self, charm_id: &str) -> Result<Option<StateRecord>, StoreError> {
        let row =
            sqlx::query("SELECT state, version, updated_at FROM charm_state WHERE charm_id = ?")
                .bind(charm_id)
                .fetch_optional(&self.read)
                .await?;
        row.map(|r| {
            Ok(StateRecord {
                state: r.try_get("state")?,
                version: r.try_get("version")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .transpose()
    }

    /// Enabled charms whose next run is due, oldest first: (id, interval).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn due_charms(&self, now: i64, limit: u32) -> Result<Vec<(String, u32)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, interval_s FROM charms WHERE enabled = 1 AND next_run_at <= ? \
             ORDER BY next_run_at LIMIT ?",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    to_u32("interval", r.try_get("interval_s")?)?,
                ))
            })
            .collect()
    }

    /// When the next enabled charm falls due after `now`, if any.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn next_due_after(&self, now: i64) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(next_run_at) FROM charms WHERE enabled = 1 AND next_run_at > ?",
        )
        .bind(now)
        .fetch_one(&self.read)
        .await?)
    }

    /// Counts for metrics and the summary line.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn counts(&self) -> Result<Counts, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM charms WHERE enabled = 1) AS enabled, \
                    (SELECT COUNT(*) FROM charms WHERE enabled = 0) AS disabled, \
                    (SELECT COUNT(*) FROM runs WHERE status = 'queued') AS queued, \
                    (SELECT COUNT(*) FROM runs WHERE status = 'running') AS running",
        )
        .fetch_one(&self.read)
        .await?;
        let count = |name: &str| -> Result<u64, StoreError> {
            Ok(u64::try_from(row.try_get::<i64, _>(name)?).unwrap_or(0))
        };
        Ok(Counts {
            enabled: count("enabled")?,
            disabled: count("disabled")?,
            queued: count("queued")?,
            running: count("running")?,
        })
    }
}

/// Runs finished in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MinuteStats {
    /// The minute's start, ms since the epoch.
    pub minute: i64,
    pub runs: u64,
    pub failures: u64,
}

impl Store {
    /// Finished runs per minute over the last `minutes` minutes, oldest
    /// first, every minute present (zeros included).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn runs_per_minute(
        &self,
        now: i64,
        minutes: u32,
    ) -> Result<Vec<MinuteStats>, StoreError> {
        let first = (now / 60_000 - i64::from(minutes) + 1) * 60_000;
        let rows = sqlx::query(
            "SELECT finished_at / 60000 AS m, COUNT(*) AS runs, \
             SUM(outcome NOT IN ('ok', 'cancelled', 'interrupted')) AS failures \
             FROM runs WHERE status = 'done' AND finished_at >= ? GROUP BY m",
        )
        .bind(first)
        .fetch_all(&self.read)
        .await?;
        let mut by_minute = std::collections::HashMap::new();
        for row in &rows {
            let m: i64 = row.try_get("m")?;
            let runs: i64 = row.try_get("runs")?;
            let failures: i64 = row.try_get("failures")?;
            by_minute.insert(
                m,
                (
                    u64::try_from(runs).unwrap_or(0),
                    u64::try_from(failures).unwrap_or(0),
                ),
            );
        }
        Ok((0..i64::from(minutes))
            .map(|i| {
                let minute = first + i * 60_000;
                let (runs, failures) = by_minute.get(&(minute / 60_000)).copied().unwrap_or((0, 0));
                MinuteStats {
                    minute,
                    runs,
                    failures,
                }
            })
            .collect())
    }
}

/// Counts of charms and runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub enabled: u64,
    pub disabled: u64,
    pub queued: u64,
    pub running: u64,
}

// sqlx wants SQL it can prove static; these assemble it once.
fn insert_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let marks = vec!["?"; CODE_COLUMNS.split(',').count()].join(", ");
        format!("INSERT INTO charms (id, space, {CODE_COLUMNS}, created_at, updated_at) VALUES (?, ?, {marks}, ?, ?)")
    })
}

fn update_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let sets: Vec<String> = CODE_COLUMNS
            .split(',')
            .map(|c| format!("{} = ?", c.trim()))
            .collect();
        format!(
            "UPDATE charms SET {}, updated_at = ? WHERE id = ?",
            sets.join(", ")
        )
    })
}

fn const_format_where_id() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| format!("{SELECT_RECORD} WHERE c.id = ?"))
}

/// One statement per sort key and direction, built once from the fixed
/// column names above (never from request text).
fn list_sql(sort: SortKey, descending: bool) -> &'static str {
    static SQL: std::sync::OnceLock<std::collections::HashMap<(SortKey, bool), String>> =
        std::sync::OnceLock::new();
    let all = SQL.get_or_init(|| {
        let mut all = std::collections::HashMap::new();
        for key in SortKey::ALL {
            for desc in [false, true] {
                let dir = if desc { "DESC" } else { "ASC" };
                all.insert(
                    (key, desc),
                    format!(
                        "{SELECT_RECORD} WHERE (?1 IS NULL OR c.space = ?1) AND (?2 IS NULL OR c.integration = ?2) \
                         AND (?3 IS NULL OR c.enabled = ?3) ORDER BY {} {dir} NULLS LAST, c.created_at {dir}, c.id \
                         LIMIT ?4 OFFSET ?5",
                        key.column()
                    ),
                );
            }
        }
        all
    });
    all.get(&(sort, descending))
        .map(String::as_str)
        .unwrap_or("SELECT NULL WHERE 0")
}
