//! `charm-host spaces ...`: the operator's view of spaces through the
//! daemon's API: each space's quotas and usage (`spaces list`), and a
//! space's quota overrides (`spaces quota SPACE --max-charms N ...`).
//!
//! Exit codes as `charm-host charms`: 0 success, 1 the API refused the
//! request, 2 usage, 5 the daemon cannot be reached.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value};

use super::charms::{cell, pretty, Client, Daemon};
use super::{say, CliResult, Exit};

/// Arguments of `charm-host spaces`.
#[derive(Debug, Args)]
pub struct SpacesArgs {
    #[command(flatten)]
    daemon: Daemon,

    #[command(subcommand)]
    command: SpacesCommand,
}

#[derive(Debug, Subcommand)]
enum SpacesCommand {
    /// List spaces with their usage and quotas (`used/quota`; `-` is
    /// unlimited), and whether one is blocked for its fuel per hour.
    List {
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a space's quotas and usage, or change them: each flag sets one
    /// quota (0: unlimited), `default` returns it to the daemon's
    /// `--space-*` flag; quotas not named stay as they are.
    Quota(QuotaArgs),
}

/// Arguments of `spaces quota`.
#[derive(Debug, Args)]
struct QuotaArgs {
    /// The space.
    space: String,
    /// Charms the space may have registered.
    #[arg(long, value_name = "N|default", value_parser = setting)]
    max_charms: Option<Setting>,
    /// Runs of the space running at once, on all nodes.
    #[arg(long, value_name = "N|default", value_parser = setting)]
    max_runs_in_flight: Option<Setting>,
    /// Fuel the space's runs may use in a trailing hour.
    #[arg(long, value_name = "FUEL|default", value_parser = setting)]
    max_fuel_per_hour: Option<Setting>,
    /// Bytes of state the space's charms may hold together.
    #[arg(long, value_name = "BYTES|default", value_parser = setting)]
    max_state_bytes: Option<Setting>,
    /// Finished runs kept per charm of the space (at least 1).
    #[arg(long, value_name = "N|default", value_parser = setting)]
    keep_runs: Option<Setting>,
}

/// A quota's new value: a number, or `None` for the daemon's default.
#[derive(Debug, Clone, Copy)]
struct Setting(Option<u64>);

fn setting(text: &str) -> Result<Setting, String> {
    if text == "default" {
        return Ok(Setting(None));
    }
    text.parse()
        .map(|n| Setting(Some(n)))
        .map_err(|_| format!("`{text}` is neither a whole number nor `default`"))
}

impl QuotaArgs {
    /// The `PUT` body: the quotas named, `null` for `default`.
    fn body(&self) -> Map<String, Value> {
        let mut body = Map::new();
        for (name, value) in [
            ("max_charms", self.max_charms),
            ("max_runs_in_flight", self.max_runs_in_flight),
            ("max_fuel_per_hour", self.max_fuel_per_hour),
            ("max_state_bytes", self.max_state_bytes),
            ("keep_runs", self.keep_runs),
        ] {
            if let Some(Setting(v)) = value {
                body.insert(name.to_string(), v.map_or(Value::Null, Value::from));
            }
        }
        body
    }
}

fn space_path(space: &str, rest: &str) -> String {
    let segment: String = url::form_urlencoded::byte_serialize(space.as_bytes()).collect();
    format!("/api/spaces/{segment}{rest}")
}

/// `used/quota`, `-` for an unlimited quota.
fn used_of(space: &Value, usage: &str, quota: &str) -> String {
    let limit = match space["quota"][quota].as_u64() {
        Some(0) | None => "-".to_string(),
        Some(n) => n.to_string(),
    };
    format!("{}/{limit}", cell(&space["usage"][usage]))
}

fn table(spaces: &[Value]) -> String {
    let mut rows = vec![[
        "SPACE".to_string(),
        "CHARMS".to_string(),
        "IN FLIGHT".to_string(),
        "FUEL LAST HOUR".to_string(),
        "STATE BYTES".to_string(),
        "KEEP RUNS".to_string(),
        "BLOCKED UNTIL".to_string(),
    ]];
    for s in spaces {
        rows.push([
            cell(&s["space"]),
            used_of(s, "charms", "max_charms"),
            used_of(s, "runs_in_flight", "max_runs_in_flight"),
            used_of(s, "fuel_last_hour", "max_fuel_per_hour"),
            used_of(s, "state_bytes", "max_state_bytes"),
            cell(&s["quota"]["keep_runs"]),
            match s["blocked"]["until"].as_i64() {
                Some(ms) => jiff::Timestamp::from_millisecond(ms)
                    .map(|t| t.to_string())
                    .unwrap_or_else(|_| ms.to_string()),
                None => "-".to_string(),
            },
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn list(client: &Client, json: bool) -> CliResult {
    let body = client.call(Method::GET, "/api/spaces", None).await?;
    if json {
        say(pretty(&body));
    } else {
        let spaces = body["spaces"].as_array().cloned().unwrap_or_default();
        say(table(&spaces));
    }
    Ok(Exit::Success)
}

async fn quota(client: &Client, args: QuotaArgs) -> CliResult {
    let body = args.body();
    let shown = if body.is_empty() {
        client
            .call(Method::GET, &space_path(&args.space, ""), None)
            .await?
    } else {
        client
            .call(
                Method::PUT,
                &space_path(&args.space, "/quota"),
                Some(Value::Object(body)),
            )
            .await?
    };
    say(pretty(&shown));
    Ok(Exit::Success)
}

/// Runs `charm-host spaces ...`.
pub async fn execute(args: SpacesArgs) -> CliResult {
    let client = args.daemon.client()?;
    match args.command {
        SpacesCommand::List { json } => list(&client, json).await,
        SpacesCommand::Quota(q) => quota(&client, q).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quota_is_a_number_or_default() {
        assert_eq!(setting("12").map(|s| s.0), Ok(Some(12)));
        assert_eq!(setting("default").map(|s| s.0), Ok(None));
        assert!(setting("-1").is_err());
        assert!(setting("lots").is_err());
    }

    #[test]
    fn the_table_shows_used_over_quota() {
        let space = serde_json::json!({
            "space": "a",
            "quota": {"max_charms": 3, "max_runs_in_flight": 0, "max_fuel_per_hour": 0,
                      "max_state_bytes": 100, "keep_runs": 200},
            "usage": {"charms": 2, "runs_in_flight": 1, "fuel_last_hour": 5, "state_bytes": 7},
            "blocked": null
        });
        let text = table(&[space]);
        let row = text.lines().nth(1).unwrap();
        assert_eq!(
            row,
            "a      2/3     1/-        5/-             7/100        200        -"
        );
    }
}
