//! `charm-host charms ...`: a thin client of the daemon's API.
//!
//! Exit codes follow the rest of the CLI: 0 success, 1 the API refused the
//! request (the message says why), 2 usage, 3 the charm does not compile,
//! 5 the daemon cannot be reached.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::Exit;

/// Where the daemon is.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The daemon's base URL.
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://127.0.0.1:8080",
        env = "CHARM_HOST_URL",
        global = true
    )]
    server: String,

    /// The daemon's bearer token, if it has one.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "CHARM_HOST_TOKEN",
        hide_env_values = true,
        global = true
    )]
    token: Option<String>,

    #[command(subcommand)]
    command: CharmsCommand,
}

#[derive(Debug, Subcommand)]
enum CharmsCommand {
    /// Register a charm from a file.
    Add {
        #[arg(value_name = "FILE.js")]
        file: PathBuf,
        /// Time between scheduled runs: `90`, `90s`, `5m`, `2h`.
        #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_interval)]
        interval: u32,
        /// A host the charm may fetch from; repeat for more.
        #[arg(long = "allow-host", value_name = "PATTERN")]
        allow_hosts: Vec<String>,
        /// The tenant.
        #[arg(long, value_name = "NAME")]
        space: Option<String>,
        /// A label (default: the charm's `export const integration`).
        #[arg(long, value_name = "NAME")]
        integration: Option<String>,
        /// The initial state, as JSON.
        #[arg(long, value_name = "JSON")]
        state: Option<String>,
        /// Limits over the daemon's defaults, as JSON, e.g. '{"fuel": 1000000000}'.
        #[arg(long, value_name = "JSON")]
        limits: Option<String>,
        /// Register it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// List charms.
    List {
        #[arg(long, value_name = "NAME")]
        space: Option<String>,
        /// `enabled` or `disabled`.
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
    },
    /// Show one charm as JSON.
    Show { id: String },
    /// Enable a charm (clears its failure count).
    Enable { id: String },
    /// Disable a charm (cancels its queued run).
    Disable { id: String },
    /// Remove a charm with its state and runs.
    Rm { id: String },
    /// Queue a manual run (before scheduled work).
    Trigger {
        id: String,
        /// `ctx.input` for the run, as JSON.
        #[arg(long, value_name = "JSON")]
        input: Option<String>,
        /// Wait for the run to finish and print it; exit 1 if it failed.
        #[arg(long)]
        wait: bool,
    },
    /// Show a charm's newest runs.
    Runs {
        id: String,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Show a charm's state and its version.
    State { id: String },
}

/// Parses `90`, `90s`, `5m`, `2h` or `1d` into seconds.
fn parse_interval(text: &str) -> Result<u32, String> {
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u32 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 90s, 5m or 2h"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit in `{text}`: use s, m, h or d")),
    };
    n.checked_mul(scale)
        .filter(|s| *s > 0)
        .ok_or_else(|| format!("`{text}` is out of range"))
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

enum Failure {
    Exit(Exit),
}

impl Client {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value), Failure> {
        let url = format!("{}{path}", self.base.trim_end_matches('/'));
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.map_err(|e| {
            eprintln!(
                "error: cannot reach the daemon at {}: {e}; is `charm-host serve` running?",
                self.base
            );
            Failure::Exit(Exit::HostFailure)
        })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            return Ok((status, value));
        }
        let message = value
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| value.to_string());
        eprintln!("error: {message} (HTTP {})", status.as_u16());
        let is_compile_error = value.get("line").is_some() || message.contains("does not export");
        Err(Failure::Exit(if is_compile_error {
            Exit::Compile
        } else {
            Exit::CharmFailed
        }))
    }
}

fn parse_json(flag: &str, text: &str) -> Result<Value, Failure> {
    serde_json::from_str(text).map_err(|e| {
        eprintln!("error: {flag} is not valid JSON: {e}");
        Failure::Exit(Exit::Usage)
    })
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Runs the client command.
pub async fn execute(args: ClientArgs) -> Exit {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = match reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
    {
        Ok(http) => http,
        Err(e) => {
            eprintln!("error: cannot build an HTTP client: {e}");
            return Exit::HostFailure;
        }
    };
    let client = Client {
        http,
        base: args.server,
        token: args.token,
    };
    match run(&client, args.command).await {
        Ok(exit) => exit,
        Err(Failure::Exit(exit)) => exit,
    }
}

async fn run(client: &Client, command: CharmsCommand) -> Result<Exit, Failure> {
    match command {
        CharmsCommand::Add {
            file,
            interval,
            allow_hosts,
            space,
            integration,
            state,
            limits,
            disabled,
        } => {
            let source = std::fs::read_to_string(&file).map_err(|e| {
                eprintln!("error: cannot read `{}`: {e}", file.display());
                Failure::Exit(Exit::Usage)
            })?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "charm.js".into());
            let mut body = json!({ "source": source, "name": name, "interval_s": interval, "allowed_hosts": allow_hosts, "enabled": !disabled });
            if let Some(space) = space {
                body["space"] = json!(space);
            }
            if let Some(integration) = integration {
                body["integration"] = json!(integration);
            }
            if let Some(state) = state {
                body["state"] = parse_json("--state", &state)?;
            }
            if let Some(limits) = limits {
                body["limits"] = parse_json("--limits", &limits)?;
            }
            let (_, charm) = client.call(Method::POST, "/api/charms", Some(body)).await?;
            super::say(cell(&charm["id"]));
            eprintln!(
                "registered `{}` in space `{}` (integration {}), every {}s",
                cell(&charm["name"]),
                cell(&charm["space"]),
                cell(&charm["integration"]),
                cell(&charm["interval_s"])
            );
        }
        CharmsCommand::List { space, status } => {
            let mut query = vec![("limit", "1000".to_string())];
            if let Some(space) = space {
                query.push(("space", space));
            }
            if let Some(status) = status {
                query.push(("status", status));
            }
            let qs: Vec<String> = query
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                    )
                })
                .collect();
            let (_, page) = client
                .call(Method::GET, &format!("/api/charms?{}", qs.join("&")), None)
                .await?;
            super::say(format_args!(
                "{:<32}  {:<12}  {:<12}  {:>8}  {:<8}  {:<10}  FAILURES",
                "ID", "SPACE", "INTEGRATION", "INTERVAL", "ENABLED", "LAST RUN"
            ));
            for c in page["charms"].as_array().into_iter().flatten() {
                super::say(format_args!(
                    "{:<32}  {:<12}  {:<12}  {:>7}s  {:<8}  {:<10}  {}",
                    cell(&c["id"]),
                    cell(&c["space"]),
                    cell(&c["integration"]),
                    cell(&c["interval_s"]),
                    cell(&c["enabled"]),
                    cell(&c["last_run"]["outcome"]),
                    cell(&c["consecutive_failures"])
                ));
            }
        }
        CharmsCommand::Show { id } => {
            let (_, charm) = client
                .call(Method::GET, &format!("/api/charms/{id}"), None)
                .await?;
            super::say(pretty(&charm));
        }
        CharmsCommand::Enable { id } => {
            client
                .call(
                    Method::PATCH,
                    &format!("/api/charms/{id}"),
                    Some(json!({ "enabled": true })),
                )
                .await?;
            eprintln!("enabled {id}");
        }
        CharmsCommand::Disable { id } => {
            client
                .call(
                    Method::PATCH,
                    &format!("/api/charms/{id}"),
                    Some(json!({ "enabled": false })),
                )
                .await?;
            eprintln!("disabled {id}");
        }
        CharmsCommand::Rm { id } => {
            client
                .call(Method::DELETE, &format!("/api/charms/{id}"), None)
                .await?;
            eprintln!("removed {id}");
        }
        CharmsCommand::Trigger { id, input, wait } => {
            let body = match input {
                Some(input) => json!({ "input": parse_json("--input", &input)? }),
                None => json!({}),
            };
            let (_, queued) = client
                .call(Method::POST, &format!("/api/charms/{id}/run"), Some(body))
                .await?;
            let run_id = cell(&queued["run_id"]);
            super::say(&run_id);
            if wait {
                loop {
                    let (_, run) = client
                        .call(Method::GET, &format!("/api/runs/{run_id}"), None)
                        .await?;
                    if run["status"] == "done" {
                        super::say(pretty(&run));
                        return Ok(if run["outcome"] == "ok" {
                            Exit::Success
                        } else {
                            Exit::CharmFailed
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        CharmsCommand::Runs { id, limit } => {
            let (_, runs) = client
                .call(
                    Method::GET,
                    &format!("/api/charms/{id}/runs?limit={limit}"),
                    None,
                )
                .await?;
            super::say(format_args!(
                "{:>8}  {:<9}  {:<8}  {:<11}  {:>9}  {:>12}  ERROR",
                "RUN", "TRIGGER", "STATUS", "OUTCOME", "MS", "FUEL"
            ));
            for r in runs["runs"].as_array().into_iter().flatten() {
                let error = r["error"]
                    .as_str()
                    .and_then(|e| e.lines().next())
                    .unwrap_or("");
                super::say(format_args!(
                    "{:>8}  {:<9}  {:<8}  {:<11}  {:>9}  {:>12}  {}",
                    cell(&r["id"]),
                    cell(&r["trigger"]),
                    cell(&r["status"]),
                    cell(&r["outcome"]),
                    cell(&r["duration_ms"]),
                    cell(&r["fuel"]),
                    error
                ));
            }
        }
        CharmsCommand::State { id } => {
            let (_, state) = client
                .call(Method::GET, &format!("/api/charms/{id}/state"), None)
                .await?;
            super::say(pretty(&state));
        }
    }
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::parse_interval;

    #[test]
    fn intervals_parse_with_units() {
        assert_eq!(parse_interval("90"), Ok(90));
        assert_eq!(parse_interval("90s"), Ok(90));
        assert_eq!(parse_interval("5m"), Ok(300));
        assert_eq!(parse_interval("2h"), Ok(7200));
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("5x").unwrap_err().contains("unknown unit"));
        assert!(parse_interval("soon").is_err());
    }
}
