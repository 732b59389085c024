//! Charms and their state, in SQLite.

use sqlx::Row;

use super::{SqliteStore, NOW};
use crate::rows::{
    bind_code, code_from, insert_charm_sql, update_charm_sql, write_code, CANCEL_QUEUED, CODE_FROM,
    CODE_SELECT,
};
use crate::{CharmChange, CharmId, CharmRecord, NewCharm, StoreError};

fn insert_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| insert_charm_sql(NOW))
}

fn update_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| update_charm_sql(NOW))
}

fn insert_state_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "INSERT INTO charm_state (charm_id, state, version, updated_at) VALUES ($1, $2, 0, {NOW})"
        )
    })
}

fn select_for_change_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| format!("{CODE_SELECT}, {NOW} AS now {CODE_FROM}"))
}

pub(super) async fn insert(s: &SqliteStore, new: &NewCharm) -> Result<(), StoreError> {
    let c = &new.code;
    let defaults = s.quota.get();
    s.write_tx(async |conn| {
        // One writer: nothing is inserted between the count and the insert.
        super::quota::check_new_charm(conn, &c.space, c.id.as_str(), new.state.len(), defaults)
            .await?;
        let insert = sqlx::query(insert_sql()).bind(c.id.as_str()).bind(&c.space);
        bind_code!(insert, c).execute(&mut *conn).await?;
        write_code!(&mut *conn, &c.id, c)?;
        sqlx::query(insert_state_sql())
            .bind(c.id.as_str())
            .bind(&new.state)
            .execute(&mut *conn)
            .await?;
        Ok(())
    })
    .await
}

pub(super) async fn modify(
    s: &SqliteStore,
    id: &CharmId,
    change: CharmChange,
) -> Result<Option<CharmRecord>, StoreError> {
    let found = s
        .write_tx(async |conn| {
            let row = sqlx::query(select_for_change_sql())
                .bind(id.as_str())
                .fetch_optional(&mut *conn)
                .await?;
            let Some(row) = row else { return Ok(false) };
            let now: i64 = row.try_get("now")?;
            let before = code_from(&row)?;
            let mut c = before.clone();
            change(&mut c);
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
            Ok(true)
        })
        .await?;
    if !found {
        return Ok(None);
    }
    if let Ok(Some(_)) = super::runs::queued_run(s, id).await {
        // A charm enabled again may have a run waiting for it.
        s.wake.raise();
    }
    super::reads::record(&s.read, id).await
}

pub(super) async fn delete(s: &SqliteStore, id: &CharmId) -> Result<bool, StoreError> {
    s.write_one(async |conn| {
        let done = sqlx::query("DELETE FROM charms WHERE id = $1")
            .bind(id.as_str())
            .execute(conn)
            .await?;
        Ok(done.rows_affected() > 0)
    })
    .await
}
