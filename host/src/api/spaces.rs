//! The `/api/spaces` routes: each space's quotas and what it uses, and the
//! operator's overrides.
//!
//! | method and path | does |
//! |---|---|
//! | `GET /api/spaces` | `{"defaults": Quota, "spaces": [Space]}`: every space with charms or overrides, by name |
//! | `GET /api/spaces/{space}` | one `Space`; 404 when it has neither charms nor overrides |
//! | `PUT /api/spaces/{space}/quota` | sets overrides; 200 with the `Space` (or `{"space", "overrides", "quota"}` with the defaults, when the space has no charms and no overrides left) |
//!
//! A `Space` is `{"space", "overrides", "quota", "usage", "blocked"}`:
//! `overrides` holds the operator's values (`null`: the default), `quota`
//! the values in force (0: unlimited), `usage` is `{"charms",
//! "runs_in_flight", "fuel_last_hour", "state_bytes"}`, and `blocked` is
//! `null` or `{"quota": "max_fuel_per_hour", "until" (ms), "used",
//! "limit"}` while the space gets no runs started.
//!
//! The body of `PUT .../quota` names quotas to change: `max_charms`,
//! `max_runs_in_flight`, `max_fuel_per_hour`, `max_state_bytes`,
//! `keep_runs`; a number sets one (0: unlimited; `keep_runs` at least
//! 1), `null` returns it to the daemon's default, and a quota left out
//! stays as it is. Reads go through the store; nothing here touches
//! wasmtime.
//!
//! A space token lists and reads its own space only (another is a 404, as
//! one that does not exist); only an operator token sets quotas.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Deserializer};
use serde_json::json;

use charm_store::QuotaOverrides;

use super::error::{ApiError, ApiJson, ApiPath};
use super::tenancy::{operator_only, Audited};
use super::{AppState, RouterState};
use crate::service::{check_space, Caller};

pub(super) fn router() -> Router<RouterState> {
    Router::new()
        .route("/api/spaces", get(list))
        .route("/api/spaces/{space}", get(show))
        .route("/api/spaces/{space}/quota", put(set_quota))
}

async fn list(State(app): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let spaces = app.store.spaces(caller.space()).await?;
    let defaults = app.store.quota_defaults();
    Ok(Json(json!({ "defaults": defaults, "spaces": spaces })).into_response())
}

async fn show(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(space): ApiPath<String>,
) -> Result<Response, ApiError> {
    check_space(&space)?;
    let mut found = if caller.reaches(&space) {
        app.store.spaces(Some(&space)).await?
    } else {
        Vec::new()
    };
    match found.pop() {
        Some(record) => Ok(Json(record).into_response()),
        None => Err(ApiError::NotFound(format!(
            "no space `{space}`: it has no charms and no quota overrides"
        ))),
    }
}

/// One quota in a `PUT` body: left out (`None`), `null` (`Some(None)`: the
/// default) or a number.
type Change = Option<Option<u64>>;

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Change, D::Error> {
    Option::<u64>::deserialize(d).map(Some)
}

/// The body of `PUT /api/spaces/{space}/quota`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotaChange {
    #[serde(default, deserialize_with = "present")]
    max_charms: Change,
    #[serde(default, deserialize_with = "present")]
    max_runs_in_flight: Change,
    #[serde(default, deserialize_with = "present")]
    max_fuel_per_hour: Change,
    #[serde(default, deserialize_with = "present")]
    max_state_bytes: Change,
    #[serde(default, deserialize_with = "present")]
    keep_runs: Change,
}

impl QuotaChange {
    /// `current` with this change applied.
    fn apply(&self, current: QuotaOverrides) -> QuotaOverrides {
        let pick = |change: Change, now: Option<u64>| change.unwrap_or(now);
        QuotaOverrides {
            max_charms: pick(self.max_charms, current.max_charms),
            max_runs_in_flight: pick(self.max_runs_in_flight, current.max_runs_in_flight),
            max_fuel_per_hour: pick(self.max_fuel_per_hour, current.max_fuel_per_hour),
            max_state_bytes: pick(self.max_state_bytes, current.max_state_bytes),
            keep_runs: pick(self.keep_runs, current.keep_runs),
        }
    }
}

/// The most any quota may be set to: what the databases store.
const MAX_QUOTA: u64 = i64::MAX as u64;

fn check(overrides: &QuotaOverrides) -> Result<(), ApiError> {
    if overrides.keep_runs == Some(0) {
        return Err(ApiError::BadRequest(
            "keep_runs must be at least 1 (null returns it to the default)".into(),
        ));
    }
    let fields = [
        ("max_charms", overrides.max_charms),
        ("max_runs_in_flight", overrides.max_runs_in_flight),
        ("max_fuel_per_hour", overrides.max_fuel_per_hour),
        ("max_state_bytes", overrides.max_state_bytes),
        ("keep_runs", overrides.keep_runs),
    ];
    for (name, value) in fields {
        if let Some(v) = value.filter(|v| *v > MAX_QUOTA) {
            return Err(ApiError::BadRequest(format!(
                "{name} must be at most {MAX_QUOTA}, got {v}"
            )));
        }
    }
    Ok(())
}

async fn set_quota(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(space): ApiPath<String>,
    ApiJson(change): ApiJson<QuotaChange>,
) -> Result<Response, ApiError> {
    operator_only(&caller, "setting a space's quotas")?;
    check_space(&space)?;
    let current = app
        .store
        .spaces(Some(&space))
        .await?
        .pop()
        .map(|s| s.overrides)
        .unwrap_or_default();
    let overrides = change.apply(current);
    check(&overrides)?;
    let record = app.store.set_space_quota(&space, &overrides).await?;
    tracing::info!(space = %space, ?overrides, by = caller.actor(), "space quota set");
    let response = match record {
        Some(record) => Json(record).into_response(),
        None => Json(json!({
            "space": space,
            "overrides": overrides,
            "quota": app.store.quota_defaults(),
        }))
        .into_response(),
    };
    Ok(Audited::on(response, &space, &space))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_left_out_quota_stays_and_null_returns_to_the_default() {
        let change: QuotaChange =
            serde_json::from_str(r#"{"max_charms": 3, "keep_runs": null}"#).unwrap();
        let current = QuotaOverrides {
            keep_runs: Some(9),
            max_state_bytes: Some(100),
            ..QuotaOverrides::default()
        };
        let next = change.apply(current);
        assert_eq!(next.max_charms, Some(3));
        assert_eq!(next.keep_runs, None);
        assert_eq!(next.max_state_bytes, Some(100));
        assert!(serde_json::from_str::<QuotaChange>(r#"{"max_charm": 3}"#).is_err());
        assert!(serde_json::from_str::<QuotaChange>(r#"{"max_charms": -1}"#).is_err());
        assert!(check(&QuotaOverrides {
            keep_runs: Some(0),
            ..QuotaOverrides::default()
        })
        .is_err());
    }
}
