//! Charms and their state, in SQLite.

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::runs::{cancel_queued, outcome_from};
use super::{now_ms, SqliteStore};
use crate::{
    corrupt, CharmChange, CharmCode, CharmFilter, CharmId, CharmRecord, Counts, NewCharm,
    RunSummary, SortKey, StateRecord, StoreError,
};

fn to_u32(what: &'static str, v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| corrupt(what, format!("{v} is out of range")))
}

fn json_field<T: serde::de::DeserializeOwned>(
    what: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

pub(super) fn charm_id(row: &SqliteRow, column: &str) -> Result<CharmId, StoreError> {
    let text: String = row.try_get(column)?;
    CharmId::parse(&text).ok_or_else(|| corrupt("charm id", format!("`{text}` is not an id")))
}

fn record_from(row: &SqliteRow) -> Result<CharmRecord, StoreError> {
    let last_run = match row.try_get::<Option<i64>, _>("last_run_id")? {
        Some(id) => Some(RunSummary {
            id,
            outcome: outcome_from(row.try_get("last_outcome")?)?,
            error: row.try_get("last_error")?,
            finished_at: row.try_get("last_finished_at")?,
            duration_ms: row.try_get("last_duration_ms")?,
        }),
        None => None,
    };
    Ok(CharmRecord {
        id: charm_id(row, "id")?,
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
        id: charm_id(row, "id")?,
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

pub(super) async fn insert(s: &SqliteStore, new: &NewCharm) -> Result<(), StoreError> {
    let c = &new.code;
    let now = now_ms();
    s.write_tx(async |conn| {
        let insert = sqlx::query(insert_sql()).bind(c.id.as_str()).bind(&c.space);
        bind_code(insert, c)?
            .bind(now)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO charm_state (charm_id, state, version, updated_at) VALUES (?, ?, 0, ?)",
        )
        .bind(c.id.as_str())
        .bind(&new.state)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok(())
    })
    .await
}

pub(super) async fn record(
    s: &SqliteStore,
    id: &CharmId,
) -> Result<Option<CharmRecord>, StoreError> {
    let row = sqlx::query(select_record_by_id())
        .bind(id.as_str())
        .fetch_optional(&s.read)
        .await?;
    row.as_ref().map(record_from).transpose()
}

pub(super) async fn list(
    s: &SqliteStore,
    filter: &CharmFilter,
) -> Result<(Vec<CharmRecord>, u64), StoreError> {
    let rows = sqlx::query(list_sql(filter.sort, filter.descending))
        .bind(&filter.space)
        .bind(&filter.integration)
        .bind(filter.enabled)
        .bind(i64::from(filter.limit))
        .bind(i64::from(filter.offset))
        .fetch_all(&s.read)
        .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM charms c WHERE (?1 IS NULL OR c.space = ?1) \
         AND (?2 IS NULL OR c.integration = ?2) AND (?3 IS NULL OR c.enabled = ?3)",
    )
    .bind(&filter.space)
    .bind(&filter.integration)
    .bind(filter.enabled)
    .fetch_one(&s.read)
    .await?;
    let charms = rows
        .iter()
        .map(record_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((charms, u64::try_from(total).unwrap_or(0)))
}

pub(super) async fn code(s: &SqliteStore, id: &CharmId) -> Result<Option<CharmCode>, StoreError> {
    let row = sqlx::query("SELECT * FROM charms WHERE id = ?")
        .bind(id.as_str())
        .fetch_optional(&s.read)
        .await?;
    row.as_ref().map(code_from).transpose()
}

pub(super) async fn code_for_run(
    s: &SqliteStore,
    id: &CharmId,
) -> Result<Option<CharmCode>, StoreError> {
    let row = sqlx::query(
        "SELECT id, space, name, integration, '' AS source, source_sha256, bytecode, runtime_sha256, \
         interval_s, limits, allowed_hosts, enabled, disabled_reason, disabled_at, \
         consecutive_failures, next_run_at FROM charms WHERE id = ?",
    )
    .bind(id.as_str())
    .fetch_optional(&s.read)
    .await?;
    row.as_ref().map(code_from).transpose()
}

pub(super) async fn modify(
    s: &SqliteStore,
    id: &CharmId,
    change: CharmChange,
) -> Result<Option<CharmRecord>, StoreError> {
    let now = now_ms();
    let found = s
        .write_tx(async |conn| {
            let row = sqlx::query("SELECT * FROM charms WHERE id = ?")
                .bind(id.as_str())
                .fetch_optional(&mut *conn)
                .await?;
            let Some(row) = row else { return Ok(false) };
            let before = code_from(&row)?;
            let mut c = before.clone();
            change(&mut c);
            bind_code(sqlx::query(update_sql()), &c)?
                .bind(now)
                .bind(id.as_str())
                .execute(&mut *conn)
                .await?;
            if before.enabled && !c.enabled {
                cancel_queued(conn, id, now).await?;
            }
            Ok(true)
        })
        .await?;
    if !found {
        return Ok(None);
    }
    record(s, id).await
}

pub(super) async fn delete(s: &SqliteStore, id: &CharmId) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM charms WHERE id = ?")
        .bind(id.as_str())
        .execute(&s.write)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn state(
    s: &SqliteStore,
    id: &CharmId,
) -> Result<Option<StateRecord>, StoreError> {
    let row = sqlx::query("SELECT state, version, updated_at FROM charm_state WHERE charm_id = ?")
        .bind(id.as_str())
        .fetch_optional(&s.read)
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

pub(super) async fn due(
    s: &SqliteStore,
    now: i64,
    limit: u32,
) -> Result<Vec<(CharmId, u32)>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, interval_s FROM charms WHERE enabled = 1 AND next_run_at <= ? \
         ORDER BY next_run_at LIMIT ?",
    )
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(&s.read)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                charm_id(r, "id")?,
                to_u32("interval", r.try_get("interval_s")?)?,
            ))
        })
        .collect()
}

pub(super) async fn next_due_after(s: &SqliteStore, now: i64) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT MIN(next_run_at) FROM charms WHERE enabled = 1 AND next_run_at > ?",
    )
    .bind(now)
    .fetch_one(&s.read)
    .await?)
}

pub(super) async fn counts(s: &SqliteStore) -> Result<Counts, StoreError> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM charms WHERE enabled = 1) AS enabled, \
                (SELECT COUNT(*) FROM charms WHERE enabled = 0) AS disabled, \
                (SELECT COUNT(*) FROM runs WHERE status = 'queued') AS queued, \
                (SELECT COUNT(*) FROM runs WHERE status = 'running') AS running",
    )
    .fetch_one(&s.read)
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

fn sort_column(key: SortKey) -> &'static str {
    match key {
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

fn select_record_by_id() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| format!("{SELECT_RECORD} WHERE c.id = ?"))
}

/// One statement per sort key and direction, built once from the fixed
/// column names above (never from request text), indexed by
/// `2 * position in SortKey::ALL + descending`.
fn list_sql(sort: SortKey, descending: bool) -> &'static str {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let all = SQL.get_or_init(|| {
        let mut all = Vec::new();
        for key in SortKey::ALL {
            for dir in ["ASC", "DESC"] {
                all.push(format!(
                    "{SELECT_RECORD} WHERE (?1 IS NULL OR c.space = ?1) AND (?2 IS NULL OR c.integration = ?2) \
                     AND (?3 IS NULL OR c.enabled = ?3) ORDER BY {} {dir} NULLS LAST, c.created_at {dir}, c.id \
                     LIMIT ?4 OFFSET ?5",
                    sort_column(key)
                ));
            }
        }
        all
    });
    // Every key is in SortKey::ALL, so the index is always in range.
    let position = SortKey::ALL.iter().position(|k| *k == sort).unwrap_or(0);
    &all[2 * position + usize::from(descending)]
}
