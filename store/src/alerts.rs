//! Alerts: each charm's alert state, changed compare-and-set so that one
//! incident raises one alert however many runs (or nodes) see it, and the
//! alerts themselves, one row per channel: the record, and the delivery
//! queue that a node's notifier drains apart from runs.

use serde::Serialize;

use crate::rows::{charm_id, to_u64, Columns};
use crate::{corrupt, CharmId, RunId, StoreError};

/// An alert's id.
pub type AlertId = i64;

/// A change of a charm's alert state that raises an alert when it is one:
/// the state (and fingerprint) differ from the stored ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertTransition {
    /// What the alert says: `failing`, `disabled`, `recovered`, `silent`.
    pub kind: String,
    /// The charm's alert state after it: `ok`, `failing`, `disabled` or
    /// `silent`.
    pub state: String,
    /// The error's fingerprint (failing, disabled): a new fingerprint while
    /// failing is a new alert; the same one is not.
    pub fingerprint: Option<String>,
    /// The run that raised it, if one did.
    pub run_id: Option<RunId>,
}

/// Where an alert in the queue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// Waiting for (another) delivery attempt.
    Pending,
    /// The channel accepted it.
    Delivered,
    /// Every attempt failed; kept as a record.
    Failed,
}

impl AlertStatus {
    fn parse(name: &str) -> Option<AlertStatus> {
        match name {
            "pending" => Some(AlertStatus::Pending),
            "delivered" => Some(AlertStatus::Delivered),
            "failed" => Some(AlertStatus::Failed),
            _ => None,
        }
    }
}

/// An alert to one channel, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertRecord {
    /// Its id.
    pub id: AlertId,
    /// Its charm.
    pub charm_id: CharmId,
    /// `failing`, `disabled`, `recovered` or `silent`.
    pub kind: String,
    /// The error's fingerprint, if any.
    pub fingerprint: Option<String>,
    /// The run that raised it, if one did.
    pub run_id: Option<RunId>,
    /// Where it goes (the channel's name; never a secret).
    pub channel: String,
    /// The JSON sent.
    pub payload: String,
    /// Where it is.
    pub status: AlertStatus,
    /// Delivery attempts made.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was raised (ms since the epoch).
    pub created_at: i64,
    /// When it was delivered (ms since the epoch).
    pub delivered_at: Option<i64>,
}

/// Moves a charm's alert state when it is a change: `$1` charm, `$2`
/// state, `$3` fingerprint.
pub(crate) const TRANSITION: &str = "UPDATE charms SET alert_state = $2, alert_fingerprint = $3 \
     WHERE id = $1 AND (COALESCE(alert_state, 'ok') <> $2 \
       OR COALESCE(alert_fingerprint, '') <> COALESCE($3, ''))";

/// Queues an alert to one channel: `$1` charm, `$2` kind, `$3`
/// fingerprint, `$4` run, `$5` channel, `$6` payload, `$7` time.
pub(crate) const INSERT_ALERT: &str = "INSERT INTO alerts (charm_id, kind, fingerprint, run_id, \
     channel, payload, status, created_at, next_attempt_at) \
     VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7)";

/// Takes up to `$2` alerts due by `$1`, leasing them until `$3`, counting
/// the attempt. The outer `WHERE` re-checks each row, so two nodes never
/// take the same alert at once.
pub(crate) const TAKE_DUE: &str =
    "UPDATE alerts SET next_attempt_at = $3, attempts = attempts + 1 \
     WHERE status = 'pending' AND next_attempt_at <= $1 AND id IN ( \
       SELECT id FROM alerts WHERE status = 'pending' AND next_attempt_at <= $1 \
       ORDER BY next_attempt_at, id LIMIT $2) \
     RETURNING *";

/// Settles a delivery attempt: `$1` alert, `$2` status, `$3` error, `$4`
/// next attempt (pending), `$5` time.
pub(crate) const SETTLE: &str = "UPDATE alerts SET status = $2, last_error = $3, \
     next_attempt_at = COALESCE($4, next_attempt_at), \
     delivered_at = CASE WHEN $2 = 'delivered' THEN $5 ELSE delivered_at END WHERE id = $1";

/// The newest alerts, of one charm (`$1`) or all (null), at most `$2`.
pub(crate) const LIST: &str = "SELECT * FROM alerts WHERE ($1 IS NULL OR charm_id = $1) \
     ORDER BY id DESC LIMIT $2";

/// Enabled interval charms in a fine alert state with no success for
/// `$2` of their intervals by `$1` (counted from registration before the
/// first), at most `$3`.
pub(crate) const SILENT: &str = "SELECT id FROM charms WHERE enabled AND schedule IS NULL \
     AND COALESCE(alert_state, 'ok') = 'ok' \
     AND COALESCE(last_ok_at, created_at) < $1 - $2 * interval_s * 1000 LIMIT $3";

/// An alert from `SELECT *`.
pub(crate) fn alert_from(row: &impl Columns) -> Result<AlertRecord, StoreError> {
    let status = row.text("status")?;
    Ok(AlertRecord {
        id: row.int("id")?,
        charm_id: charm_id(row, "charm_id")?,
        kind: row.text("kind")?,
        fingerprint: row.opt_text("fingerprint")?,
        run_id: row.opt_int("run_id")?,
        channel: row.text("channel")?,
        payload: row.text("payload")?,
        status: AlertStatus::parse(&status)
            .ok_or_else(|| corrupt("alert status", format!("`{status}`")))?,
        attempts: u32::try_from(to_u64(row.int("attempts")?)).unwrap_or(u32::MAX),
        last_error: row.opt_text("last_error")?,
        created_at: row.int("created_at")?,
        delivered_at: row.opt_int("delivered_at")?,
    })
}

/// The alert operations on one backend's connection type.
macro_rules! alert_ops {
    ($conn:ty) => {
        use $crate::alerts::{
            alert_from, AlertId, AlertRecord, AlertStatus, AlertTransition, INSERT_ALERT, LIST,
            SETTLE, SILENT, TAKE_DUE, TRANSITION,
        };
        use $crate::{CharmId, StoreError};

        /// Applies `transition` if it changes the charm's alert state, and
        /// then queues `payloads` (channel, JSON); whether it did.
        pub(super) async fn raise(
            conn: &mut $conn,
            charm: &CharmId,
            transition: &AlertTransition,
            payloads: &[(String, String)],
            now: i64,
        ) -> Result<bool, StoreError> {
            let changed = sqlx::query(TRANSITION)
                .bind(charm.as_str())
                .bind(&transition.state)
                .bind(&transition.fingerprint)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            if changed == 0 {
                return Ok(false);
            }
            for (channel, payload) in payloads {
                sqlx::query(INSERT_ALERT)
                    .bind(charm.as_str())
                    .bind(&transition.kind)
                    .bind(&transition.fingerprint)
                    .bind(transition.run_id)
                    .bind(channel)
                    .bind(payload)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(true)
        }

        /// Takes alerts due now, leased for `lease_ms`.
        pub(super) async fn take_due(
            conn: &mut $conn,
            now: i64,
            limit: u32,
            lease_ms: i64,
        ) -> Result<Vec<AlertRecord>, StoreError> {
            let rows = sqlx::query(TAKE_DUE)
                .bind(now)
                .bind(i64::from(limit))
                .bind(now.saturating_add(lease_ms))
                .fetch_all(&mut *conn)
                .await?;
            rows.iter().map(alert_from).collect()
        }

        /// Records an attempt's result.
        pub(super) async fn settle(
            conn: &mut $conn,
            alert: AlertId,
            status: AlertStatus,
            error: Option<&str>,
            retry_at: Option<i64>,
            now: i64,
        ) -> Result<(), StoreError> {
            let status = match status {
                AlertStatus::Pending => "pending",
                AlertStatus::Delivered => "delivered",
                AlertStatus::Failed => "failed",
            };
            sqlx::query(SETTLE)
                .bind(alert)
                .bind(status)
                .bind(error)
                .bind(retry_at)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        /// The newest alerts.
        pub(super) async fn list(
            conn: &mut $conn,
            charm: Option<&CharmId>,
            limit: u32,
        ) -> Result<Vec<AlertRecord>, StoreError> {
            let rows = sqlx::query(LIST)
                .bind(charm.map(CharmId::as_str))
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
            rows.iter().map(alert_from).collect()
        }

        /// Charms silent for `intervals` of their intervals.
        pub(super) async fn silent(
            conn: &mut $conn,
            now: i64,
            intervals: u32,
            limit: u32,
        ) -> Result<Vec<CharmId>, StoreError> {
            let rows = sqlx::query(SILENT)
                .bind(now)
                .bind(i64::from(intervals))
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
            rows.iter()
                .map(|row| $crate::rows::charm_id(row, "id"))
                .collect()
        }
    };
}
pub(crate) use alert_ops;
