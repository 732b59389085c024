//! Alerts: someone is told when a charm starts failing, is disabled,
//! recovers, or goes silent.
//!
//! Decisions come from runs' outcomes (the dispatcher calls
//! [`Alerts::after_run`]) and from a periodic look for silent charms; each
//! is a compare-and-set of the charm's alert state in the store, so one
//! incident is one alert however many runs or nodes see it. Failures are
//! grouped by the error's fingerprint (its outcome and first line with
//! numbers blanked): a charm failing the same way raises one alert, a new
//! error another. Alerts are queued in the store, one per channel, and a
//! separate task delivers them with backoff: a dead receiver never delays
//! a run, and a node that stops mid-delivery leaves the alert to the next.

use std::sync::Arc;
use std::time::Duration;

use charm_store::alerts::{AlertRecord, AlertStatus, AlertTransition};
use charm_store::{CharmCode, CharmId, RunId, RunOutcome, Store};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::policy;

/// Default: a charm on an interval with no success for this many of its
/// intervals is silent.
pub const DEFAULT_SILENT_INTERVALS: u32 = 5;
/// How often silent charms are looked for.
pub const SILENT_SCAN: Duration = Duration::from_secs(5);
/// How often the delivery queue is looked at when idle.
const DELIVERY_POLL: Duration = Duration::from_secs(1);
/// Attempts to deliver one alert before it is recorded as failed.
pub const MAX_DELIVERY_ATTEMPTS: u32 = 8;
/// One delivery attempt's time limit; also the lease on a taken alert.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// What a channel is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelFormat {
    /// The alert as JSON (see the README).
    Json,
    /// `{"text": ...}`, as Slack's incoming webhooks (and Mattermost's,
    /// Discord's `/slack` endpoints) take it.
    Slack,
}

/// Where alerts go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// The receiver's URL (http or https), configured by the operator.
    pub url: url::Url,
    /// What it is sent.
    pub format: ChannelFormat,
    /// How records and logs name it: its kind, number and host, never its
    /// path or query (a Slack webhook's path is its secret).
    pub name: String,
}

impl Channel {
    /// The `number`th channel (from 1) of its kind.
    pub fn new(number: usize, url: url::Url, format: ChannelFormat) -> Channel {
        let kind = match format {
            ChannelFormat::Json => "webhook",
            ChannelFormat::Slack => "slack",
        };
        let name = format!("{kind}-{number} ({})", url.host_str().unwrap_or("?"));
        Channel { url, format, name }
    }
}

/// The operator's alert settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSettings {
    /// The channels; no alerts are queued without one (states still move).
    pub channels: Vec<Channel>,
    /// Intervals without a success after which a charm is silent.
    pub silent_intervals: u32,
    /// The dashboard's address, for links in alerts.
    pub dashboard_url: String,
}

/// Raises and delivers alerts.
#[derive(Clone)]
pub struct Alerts {
    store: Arc<dyn Store>,
    settings: Arc<AlertSettings>,
}

/// Text for Slack's `text` field: `&`, `<` and `>` escaped as Slack asks,
/// so nothing in it becomes a link or a mention.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An error's fingerprint: its outcome and first line, numbers blanked
/// (so "timed out after 1003 ms" and "after 998 ms" are one error).
pub fn fingerprint(outcome: RunOutcome, error: Option<&str>) -> String {
    let first = error.and_then(|e| e.lines().next()).unwrap_or("");
    let mut blanked = String::with_capacity(first.len());
    let mut in_number = false;
    for c in first.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                blanked.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            blanked.push(c);
        }
    }
    format!("{outcome}: {blanked}")
}

impl Alerts {
    /// Alerts through `store` with `settings`.
    pub fn new(store: Arc<dyn Store>, settings: AlertSettings) -> Alerts {
        Alerts {
            store,
            settings: Arc::new(settings),
        }
    }

    /// After a recorded run of `charm` (as it was read for the run):
    /// recovered after a success that follows an alert; failing (or
    /// disabled, when the failure disabled it) after a failure with an
    /// error not alerted yet. Runs the host cut short raise nothing.
    pub async fn after_run(
        &self,
        charm: &CharmCode,
        run: RunId,
        outcome: RunOutcome,
        error: Option<&str>,
    ) {
        let transition = if outcome == RunOutcome::Ok {
            if charm.alert_state.as_deref().is_none_or(|s| s == "ok") {
                return;
            }
            AlertTransition {
                kind: "recovered".into(),
                state: "ok".into(),
                fingerprint: None,
                run_id: Some(run),
            }
        } else if policy::is_failure(outcome) {
            let print = fingerprint(outcome, error);
            let disabled = match self.store.charm(&charm.id).await {
                Ok(Some(now)) => !now.enabled,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the charm to decide an alert");
                    false
                }
            };
            let state = if disabled { "disabled" } else { "failing" };
            if charm.alert_state.as_deref() == Some(state)
                && charm.alert_fingerprint.as_deref() == Some(print.as_str())
            {
                return;
            }
            AlertTransition {
                kind: state.into(),
                state: state.into(),
                fingerprint: Some(print),
                run_id: Some(run),
            }
        } else {
            return;
        };
        let detail = json!({
            "run_id": run,
            "outcome": outcome,
            "error": error,
        });
        self.raise(&charm.id, charm, transition, detail).await;
    }

    /// Raises `transition` for `charm` with its payloads, logging failures
    /// (an alert never fails a run).
    async fn raise(
        &self,
        id: &CharmId,
        charm: &CharmCode,
        transition: AlertTransition,
        detail: serde_json::Value,
    ) {
        let payloads: Vec<(String, String)> = self
            .settings
            .channels
            .iter()
            .map(|channel| {
                let payload = self.payload(channel, charm, &transition, &detail);
                (channel.name.clone(), payload)
            })
            .collect();
        match self.store.raise_alert(id, &transition, &payloads).await {
            Ok(true) => {
                tracing::info!(charm = %id, space = %charm.space, kind = %transition.kind, "raised an alert")
            }
            Ok(false) => {}
            Err(error) => tracing::error!(charm = %id, %error, "could not record an alert"),
        }
    }

    fn payload(
        &self,
        channel: &Channel,
        charm: &CharmCode,
        transition: &AlertTransition,
        detail: &serde_json::Value,
    ) -> String {
        let link = format!(
            "{}/#/charms/{}",
            self.settings.dashboard_url.trim_end_matches('/'),
            charm.id
        );
        let first = detail["error"]
            .as_str()
            .and_then(|e| e.lines().next())
            .unwrap_or("");
        let text = match transition.kind.as_str() {
            "failing" => format!("charm {} ({}) is failing: {first}", charm.name, charm.space),
            "disabled" => format!(
                "charm {} ({}) was disabled after repeated failures: {first}",
                charm.name, charm.space
            ),
            "recovered" => format!("charm {} ({}) recovered", charm.name, charm.space),
            _ => format!(
                "charm {} ({}) is silent: no successful run in {} of its intervals",
                charm.name, charm.space, self.settings.silent_intervals
            ),
        };
        let body = match channel.format {
            ChannelFormat::Slack => {
                // Slack reads `<...>` as links and mentions (`<!here>`): a
                // charm's error, often text it fetched, is escaped.
                let text = slack_escape(&text);
                json!({ "text": format!("{text}\n<{link}|Open in the dashboard>") })
            }
            ChannelFormat::Json => json!({
                "kind": transition.kind,
                "text": text,
                "charm": {
                    "id": charm.id,
                    "name": charm.name,
                    "space": charm.space,
                    "integration": charm.integration,
                },
                "run_id": detail["run_id"],
                "outcome": detail["outcome"],
                "error": detail["error"],
                "fingerprint": transition.fingerprint,
                "dashboard": link,
            }),
        };
        body.to_string()
    }

    /// Looks for silent charms and alerts each once.
    async fn scan_silent(&self) {
        let silent = match self
            .store
            .silent_charms(self.settings.silent_intervals, 1000)
            .await
        {
            Ok(silent) => silent,
            Err(error) => {
                tracing::warn!(%error, "could not look for silent charms");
                return;
            }
        };
        for id in silent {
            let Ok(Some(charm)) = self.store.charm_for_run(&id).await else {
                continue;
            };
            let transition = AlertTransition {
                kind: "silent".into(),
                state: "silent".into(),
                fingerprint: None,
                run_id: None,
            };
            self.raise(&id, &charm, transition, json!({})).await;
        }
    }

    /// Delivers queued alerts and looks for silent charms until `stop`.
    pub fn spawn(self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let http = match reqwest::Client::builder()
                .no_proxy()
                .timeout(DELIVERY_TIMEOUT)
                .build()
            {
                Ok(http) => http,
                Err(error) => {
                    tracing::error!(%error, "no HTTP client for alerts; alerts are recorded, not sent");
                    return;
                }
            };
            let mut next_scan = tokio::time::Instant::now() + SILENT_SCAN;
            loop {
                if tokio::time::Instant::now() >= next_scan {
                    self.scan_silent().await;
                    next_scan = tokio::time::Instant::now() + SILENT_SCAN;
                }
                let delivered = self.deliver_due(&http).await;
                if delivered == 0 {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(DELIVERY_POLL) => {}
                    }
                } else if stop.is_cancelled() {
                    return;
                }
            }
        })
    }

    /// Sends the alerts due now; how many it took.
    async fn deliver_due(&self, http: &reqwest::Client) -> usize {
        let lease = i64::try_from(DELIVERY_TIMEOUT.as_millis() * 3).unwrap_or(i64::MAX);
        let due = match self.store.take_due_alerts(20, lease).await {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "could not read the alert queue");
                return 0;
            }
        };
        let taken = due.len();
        for alert in due {
            let result = self.send(http, &alert).await;
            let (status, error, retry) = match result {
                Ok(()) => (AlertStatus::Delivered, None, None),
                Err(error) if alert.attempts >= MAX_DELIVERY_ATTEMPTS => {
                    tracing::error!(alert = alert.id, charm = %alert.charm_id, channel = %alert.channel, %error, "giving up on an alert");
                    (AlertStatus::Failed, Some(error), None)
                }
                Err(error) => {
                    // 2 s, 4 s, ... capped at ten minutes.
                    let delay = 1000i64 << alert.attempts.min(9);
                    tracing::warn!(alert = alert.id, channel = %alert.channel, %error, retry_in_ms = delay, "an alert was not delivered; retrying");
                    (AlertStatus::Pending, Some(error), Some(delay.min(600_000)))
                }
            };
            if let Err(e) = self
                .store
                .settle_alert(alert.id, status, error.as_deref(), retry)
                .await
            {
                tracing::warn!(error = %e, alert = alert.id, "could not record an alert's delivery");
            }
        }
        taken
    }

    async fn send(&self, http: &reqwest::Client, alert: &AlertRecord) -> Result<(), String> {
        let channel = self
            .settings
            .channels
            .iter()
            .find(|c| c.name == alert.channel)
            .ok_or_else(|| "the channel is no longer configured".to_string())?;
        let response = http
            .post(channel.url.clone())
            .header("content-type", "application/json")
            .body(alert.payload.clone())
            .send()
            .await
            // Without the URL: a Slack webhook's path is its secret.
            .map_err(|e| format!("sending failed: {}", e.without_url()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered HTTP {}", status.as_u16()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_error_with_other_numbers_is_one_fingerprint() {
        let a = fingerprint(RunOutcome::Timeout, Some("timed out after 1003 ms\n  at x"));
        let b = fingerprint(RunOutcome::Timeout, Some("timed out after 98 ms"));
        assert_eq!(a, b);
        assert_eq!(a, "timeout: timed out after # ms");
        assert_ne!(
            a,
            fingerprint(RunOutcome::Error, Some("timed out after 98 ms"))
        );
    }

    #[test]
    fn slack_text_cannot_mention_or_link() {
        assert_eq!(
            slack_escape("<!here> <http://evil.example|click> & bye"),
            "&lt;!here&gt; &lt;http://evil.example|click&gt; &amp; bye"
        );
    }

    #[test]
    fn a_channel_is_named_without_its_path_or_query() {
        let url = "https://u:p@hooks.example/T1/B2/s3cret?token=x"
            .parse()
            .unwrap();
        let channel = Channel::new(2, url, ChannelFormat::Slack);
        assert_eq!(channel.name, "slack-2 (hooks.example)");
    }
}
