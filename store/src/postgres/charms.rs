//! Charms and their state, in PostgreSQL.

use sqlx::Row;

use super::{pg_tx, PgStore};
use crate::rows::{
    bind_code, code_from, insert_charm_sql, update_charm_sql, write_code, CANCEL_QUEUED, CODE_FROM,
    CODE_SELECT,
};
use crate::{CharmChange, CharmId, CharmRecord, NewCharm, StoreError};

const NOW: &str = "charm_host_now_ms()";

fn insert_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| insert_charm_sql(NOW))
}

fn update_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| update_charm_sql(NOW))
}

/// Charm `$1`'s whole code, the clock, and the charm's row locked.
fn select_for_change_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| format!("{CODE_SELECT}, {NOW} AS now {CODE_FROM} FOR UPDATE OF c"))
}

pub(super) async fn insert(s: &PgStore, new: &NewCharm) -> Result<(), StoreError> {
    let c = &new.code;
    let defaults = s.quota.get();
    pg_tx!(s, |conn| async {
        // Under the space's lock when it has a quota to count: a
        // concurrent insert cannot pass the count.
        super::quota::check_new_charm(conn, &c.space, c.id.as_str(), new.state.len(), defaults)
            .await?;
        let insert = sqlx::query(insert_sql()).bind(c.id.as_str()).bind(&c.space);
        bind_code!(insert, c).execute(&mut *conn).await?;
        write_code!(&mut *conn, &c.id, c)?;
        sqlx::query(
            "INSERT INTO charm_state (charm_id, state, version, updated_at) \
             VALUES ($1, $2, 0, charm_host_now_ms())",
        )
        .bind(c.id.as_str())
        .bind(&new.state)
        .execute(&mut *conn)
        .await?;
        Ok(())
    })
}

pub(super) async fn modify(
    s: &PgStore,
    id: &CharmId,
    change: CharmChange,
) -> Result<Option<CharmRecord>, StoreError> {
    // A change can run once: when a deadlock rolls back the transaction
    // that applied it, the retry fails as busy (a 503) rather than write
    // the charm unchanged.
    let change = std::sync::Mutex::new(Some(change));
    let found = pg_tx!(s, |conn| async {
        let row = sqlx::query(select_for_change_sql())
            .bind(id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let now: i64 = row.try_get("now")?;
        let before = code_from(&row)?;
        let mut c = before.clone();
        let apply = change
            .lock()
            .map_err(|_| crate::corrupt("charm change", "poisoned"))?
            .take()
            .ok_or(StoreError::Busy("a change gave way to another transaction"))?;
        apply(&mut c);
        bind_code!(sqlx::query(update_sql()), &c)
            .bind(id.as_str())
            .execute(&mut *conn)
            .await?;
        if c.source != before.source || c.bytecode != before.bytecode {
            write_code!(&mut *conn, id, &c)?;
        }
        if before.enabled && !c.enabled {
            sqlx::query(CANCEL_QUEUED)
                .bind(id.as_str())
                .bind(now)
                .execute(&mut *conn)
                .await?;
        }
        // A run queued while the charm was disabled can start now.
        let waiting = !before.enabled
            && c.enabled
            && super::queue::announce_queued(conn, id, &s.instance).await?;
        Ok(Some(waiting))
    })?;
    match found {
        None => return Ok(None),
        Some(true) => s.wake.raise(),
        Some(false) => {}
    }
    super::reads::record(&s.pool, id).await
}

pub(super) async fn delete(s: &PgStore, id: &CharmId) -> Result<bool, StoreError> {
    pg_tx!(s, |conn| async {
        let done = sqlx::query("DELETE FROM charms WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *conn)
            .await?;
        Ok(done.rows_affected() > 0)
    })
}
