//! `charm-host charms ...`: a thin client of the daemon's API.
//!
//! Exit codes follow the rest of the CLI: 0 success, 1 the API refused the
//! request (the message says why), 2 usage, 3 the charm does not compile,
//! 5 the daemon cannot be reached.
//!
//! The token is `--token` (or `CHARM_HOST_TOKEN`); without one, the token
//! of the daemon `--server` names, from the server file that daemon wrote
//! on this machine (see [`crate::token::find_token`]).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};

use super::{CliError, CliResult, Exit};
use crate::service::secrets::{check_name, MAX_VALUE_BYTES};
use crate::token::{find_token, Discovery};

/// Where the daemon is, and the token to show it: shared by every client
/// command (`charms`, `tokens`, `audit`).
#[derive(Debug, Args)]
pub struct ClientArgs {
    #[command(flatten)]
    daemon: Daemon,

    #[command(subcommand)]
    command: CharmsCommand,
}

/// The daemon a client command talks to (shared by `charms` and `spaces`).
#[derive(Debug, Args)]
pub struct Daemon {
    /// The daemon's base URL.
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://127.0.0.1:8080",
        env = "CHARM_HOST_URL",
        global = true
    )]
    pub server: String,

    /// The daemon's bearer token: the operator's, or a space token. Default:
    /// the token of a daemon on this machine at --server, read from the
    /// server file it writes.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "CHARM_HOST_TOKEN",
        hide_env_values = true,
        global = true
    )]
    token: Option<String>,
}

#[derive(Debug, Subcommand)]
enum CharmsCommand {
    /// Register a charm from a file.
    Add(AddArgs),
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
    /// Queue a manual run (before scheduled work), or deliver an event.
    Trigger {
        id: String,
        /// An event for the charm's inbox, as JSON: the run gets it in
        /// `ctx.events` (and as `ctx.input`).
        #[arg(long, value_name = "JSON")]
        input: Option<String>,
        /// The event's idempotency key: a second event with the same key is
        /// accepted and ignored.
        #[arg(long, value_name = "KEY", requires = "input")]
        key: Option<String>,
        /// Run at this time (RFC 3339, e.g. 2026-12-01T07:00:00+01:00).
        #[arg(long, value_name = "TIME", conflicts_with_all = ["input", "in_"])]
        at: Option<String>,
        /// Run this long from now: `90s`, `10m`, `2h`, `1d`.
        #[arg(long = "in", id = "in_", value_name = "DURATION", value_parser = parse_interval, conflicts_with = "input")]
        in_: Option<u32>,
        /// Wait for the run to finish and print it; exit 1 if it failed.
        #[arg(long, conflicts_with_all = ["at", "in_"])]
        wait: bool,
    },
    /// Show a charm's inbox: pending events, dead letters, acknowledged ones.
    Events {
        id: String,
        /// `pending`, `acked` or `dead`; all when absent.
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
    },
    /// Return dead letters to the inbox and queue a run for them.
    Redrive {
        id: String,
        /// Event ids; every dead letter when none is given.
        events: Vec<i64>,
    },
    /// Delete dead letters (or pending events no run holds).
    Discard {
        id: String,
        /// Event ids; every dead letter when none is given.
        events: Vec<i64>,
    },
    /// Make (or replace) a charm's webhook secret and print it with the
    /// webhook's path; the secret is shown only now.
    Hook {
        id: String,
        /// Remove the webhook instead.
        #[arg(long)]
        remove: bool,
    },
    /// Cancel a run: a queued one is removed, a running one interrupted.
    Cancel {
        /// The run's id.
        run: i64,
    },
    /// Show a charm's newest runs.
    Runs {
        id: String,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Show a charm's state and its version.
    State {
        id: String,
        /// A kept earlier version instead of the current one.
        #[arg(long, value_name = "N")]
        version: Option<i64>,
    },
    /// List the kept versions of a charm's state, newest first.
    History {
        id: String,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Show what changed in a charm's state between two kept versions, as
    /// an RFC 6902 JSON Patch.
    Diff {
        id: String,
        /// The older version.
        from: i64,
        /// The newer version (default: the current one).
        to: Option<i64>,
    },
    /// Make a kept version a charm's state again, as a new version (refused
    /// while a run of it is running).
    Rollback {
        id: String,
        /// The version to return to.
        version: i64,
    },
    /// Set, list or remove a charm's secrets (`ctx.secrets.NAME`).
    Secret {
        #[command(subcommand)]
        command: SecretCommand,
    },
}

#[derive(Debug, Subcommand)]
enum SecretCommand {
    /// Set (or rotate) a secret, its value read from stdin (one trailing
    /// newline dropped), never from the command line. The charm gets it at
    /// its next run.
    Set {
        id: String,
        /// Like a JavaScript identifier: `API_KEY`.
        name: String,
    },
    /// List a charm's secrets: names and when each changed, never values.
    List { id: String },
    /// Remove a secret.
    Rm { id: String, name: String },
}

/// Arguments of `charms add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The charm's source file; its name becomes the module name (a `.ts`
    /// or `.mts` name makes it TypeScript, its types stripped).
    #[arg(value_name = "FILE.js|FILE.ts")]
    file: PathBuf,
    /// Time between scheduled runs: `90`, `90s`, `5m`, `2h`.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_interval, conflicts_with = "cron")]
    interval: u32,
    /// Run at the times of a cron expression instead of an interval:
    /// `0 7 * * MON-FRI` (minute hour day-of-month month day-of-week).
    #[arg(long, value_name = "EXPR")]
    cron: Option<String>,
    /// The cron expression's time zone, an IANA name such as Europe/Berlin.
    #[arg(long, value_name = "ZONE", requires = "cron", default_value = "UTC")]
    tz: String,
    /// Failed runs an event is given to before it becomes a dead letter.
    #[arg(long, value_name = "N")]
    max_attempts: Option<u32>,
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

pub(super) struct Client {
    http: reqwest::Client,
    base: url::Url,
    token: Option<String>,
    /// Where the token came from, or why there is none: added to a 401.
    token_hint: String,
}

/// The API's machine code for a compile error (see `api::error`).
const COMPILE_ERROR_CODE: &str = "compile_error";

/// `/api/charms/{id}{rest}` with the id as one path segment, whatever the
/// user typed.
fn charm_path(id: &str, rest: &str) -> String {
    let segment: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/api/charms/{segment}{rest}")
}

impl Client {
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, CliError> {
        let text = self.call_text(method, path, body).await?;
        Ok(if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        })
    }

    /// [`Client::call`], with a successful answer's body as it came (a
    /// run file keeps its bytes: key order included).
    pub(super) async fn call_text(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<String, CliError> {
        let url = format!("{}{path}", self.base.as_str().trim_end_matches('/'));
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
            CliError::host(format!(
                "cannot reach the daemon at {}: {e}; is `charm-host serve` running?",
                self.base
            ))
        })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            return Ok(text);
        }
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let message = value
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| value.to_string());
        let exit = if value.get("code").and_then(Value::as_str) == Some(COMPILE_ERROR_CODE) {
            Exit::Compile
        } else {
            Exit::CharmFailed
        };
        let hint = if status == reqwest::StatusCode::UNAUTHORIZED {
            format!("; {}", self.token_hint)
        } else {
            String::new()
        };
        Err(CliError::new(
            exit,
            format!("{message} (HTTP {}){hint}", status.as_u16()),
        ))
    }
}

fn parse_json(flag: &str, text: &str) -> Result<Value, CliError> {
    serde_json::from_str(text)
        .map_err(|e| CliError::usage(format!("{flag} is not valid JSON: {e}")))
}

pub(super) fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

pub(super) fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A time in ms since the epoch as RFC 3339 UTC to the second, for tables.
pub(super) fn time_cell(value: &Value) -> String {
    value
        .as_i64()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string())
        .unwrap_or_else(|| cell(value))
}

/// Checks `--server`: an `http` or `https` URL, nothing else.
fn server_url(text: &str) -> Result<url::Url, CliError> {
    let url = url::Url::parse(text).map_err(|e| {
        CliError::usage(format!(
            "--server `{text}` is not a URL ({e}); give one like http://127.0.0.1:8080"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(CliError::usage(format!(
            "--server `{text}` must be an http:// or https:// URL with a host"
        )));
    }
    Ok(url)
}

/// The token to send, and a hint for a 401 saying where it came from.
fn token_for(given: Option<String>, server: &url::Url) -> (Option<String>, String) {
    if let Some(token) = given {
        return (
            Some(token),
            "the token came from --token or CHARM_HOST_TOKEN".to_string(),
        );
    }
    let Some(dir) = super::runtime_dir() else {
        return (
            None,
            "no token was given: pass --token or set CHARM_HOST_TOKEN".to_string(),
        );
    };
    match find_token(&dir, server) {
        Discovery::Token { token, file } => {
            let hint = format!(
                "the token came from `{}`; pass --token if that file is out of date",
                file.display()
            );
            (Some(token), hint)
        }
        Discovery::Nothing { file, why } => {
            tracing::debug!(file = %file.display(), %why, "no token from the server file");
            let hint = format!(
                "no token was given, and none was found in `{}` ({why}): pass --token or set CHARM_HOST_TOKEN",
                file.display()
            );
            (None, hint)
        }
    }
}

impl Daemon {
    /// A client of the daemon at `--server`, with its token.
    ///
    /// # Errors
    /// A `--server` that is not an http(s) URL (usage), or no HTTP client.
    pub(super) fn client(self) -> Result<Client, CliError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let base = server_url(&self.server)?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| CliError::host(format!("cannot build an HTTP client: {e}")))?;
        let (token, token_hint) = token_for(self.token, &base);
        Ok(Client {
            http,
            base,
            token,
            token_hint,
        })
    }
}

/// Runs the client command.
pub async fn execute(args: ClientArgs) -> CliResult {
    let client = args.daemon.client()?;
    match args.command {
        CharmsCommand::Add(args) => add(&client, args).await,
        CharmsCommand::List { space, status } => list(&client, space, status).await,
        CharmsCommand::Show { id } => show(&client, &id, "").await,
        CharmsCommand::State { id, version: None } => show(&client, &id, "/state").await,
        CharmsCommand::State {
            id,
            version: Some(v),
        } => show(&client, &id, &format!("/state?version={v}")).await,
        CharmsCommand::History { id, limit } => history(&client, &id, limit).await,
        CharmsCommand::Diff { id, from, to } => {
            let to = to.map(|to| format!("&to={to}")).unwrap_or_default();
            show(&client, &id, &format!("/state/diff?from={from}{to}")).await
        }
        CharmsCommand::Rollback { id, version } => {
            let state = client
                .call(
                    Method::POST,
                    &charm_path(&id, "/state/rollback"),
                    Some(json!({ "version": version })),
                )
                .await?;
            eprintln!(
                "the state of {id} is now version {}, a copy of version {version}",
                cell(&state["version"])
            );
            super::say(pretty(&state["state"]));
            Ok(Exit::Success)
        }
        CharmsCommand::Enable { id } => set_enabled(&client, &id, true).await,
        CharmsCommand::Disable { id } => set_enabled(&client, &id, false).await,
        CharmsCommand::Rm { id } => remove(&client, &id).await,
        CharmsCommand::Trigger {
            id,
            input,
            key,
            at,
            in_,
            wait,
        } => {
            let mut body = json!({});
            if let Some(input) = input {
                body["input"] = parse_json("--input", &input)?;
            }
            if let Some(key) = key {
                body["idempotency_key"] = json!(key);
            }
            if let Some(at) = at {
                body["at"] = json!(at);
            }
            if let Some(seconds) = in_ {
                body["delay_ms"] = json!(u64::from(seconds) * 1000);
            }
            trigger(&client, &id, body, wait).await
        }
        CharmsCommand::Events { id, status } => events(&client, &id, status).await,
        CharmsCommand::Redrive { id, events } => {
            select_events(&client, &id, "redrive", events).await
        }
        CharmsCommand::Discard { id, events } => {
            select_events(&client, &id, "discard", events).await
        }
        CharmsCommand::Cancel { run } => cancel(&client, run).await,
        CharmsCommand::Hook { id, remove } => hook(&client, &id, remove).await,
        CharmsCommand::Runs { id, limit } => runs(&client, &id, limit).await,
        CharmsCommand::Secret { command } => secret(&client, command).await,
    }
}

async fn add(client: &Client, options: AddArgs) -> CliResult {
    let file = &options.file;
    let source = std::fs::read_to_string(file)
        .map_err(|e| CliError::usage(format!("cannot read `{}`: {e}", file.display())))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "charm.js".into());
    // The modules it imports, read from its folder, are sent along.
    let charm = super::read_charm(file, name.clone(), source).await?;
    let mut body = json!({
        "source": charm.source,
        "name": name,
        "allowed_hosts": options.allow_hosts,
        "enabled": !options.disabled,
    });
    match options.cron {
        Some(cron) => body["schedule"] = json!({ "cron": cron, "tz": options.tz }),
        None => body["interval_s"] = json!(options.interval),
    }
    if let Some(attempts) = options.max_attempts {
        body["max_attempts"] = json!(attempts);
    }
    if let Some(space) = options.space {
        body["space"] = json!(space);
    }
    if let Some(integration) = options.integration {
        body["integration"] = json!(integration);
    }
    if let Some(state) = options.state {
        body["state"] = parse_json("--state", &state)?;
    }
    if let Some(limits) = options.limits {
        body["limits"] = parse_json("--limits", &limits)?;
    }
    if !charm.modules.is_empty() {
        body["modules"] = json!(charm.modules);
    }
    let charm = client.call(Method::POST, "/api/charms", Some(body)).await?;
    super::say(cell(&charm["id"]));
    let cadence = match charm["schedule"].get("cron") {
        Some(cron) => format!("at `{}` ({})", cell(cron), cell(&charm["schedule"]["tz"])),
        None => format!("every {}s", cell(&charm["interval_s"])),
    };
    eprintln!(
        "registered `{}` in space `{}` (integration {}), {cadence}",
        cell(&charm["name"]),
        cell(&charm["space"]),
        cell(&charm["integration"]),
    );
    Ok(Exit::Success)
}

async fn list(client: &Client, space: Option<String>, status: Option<String>) -> CliResult {
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
    let page = client
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
    Ok(Exit::Success)
}

/// `charms show` (`rest` empty) and `charms state` (`rest` = `/state`).
async fn show(client: &Client, id: &str, rest: &str) -> CliResult {
    let value = client
        .call(Method::GET, &charm_path(id, rest), None)
        .await?;
    super::say(pretty(&value));
    Ok(Exit::Success)
}

async fn history(client: &Client, id: &str, limit: u32) -> CliResult {
    let kept = client
        .call(
            Method::GET,
            &charm_path(id, &format!("/state/versions?limit={limit}")),
            None,
        )
        .await?;
    super::say(format_args!(
        "{:>8}  {:<24}  {:>8}  RUN",
        "VERSION", "WRITTEN", "CHARS"
    ));
    for v in kept["versions"].as_array().into_iter().flatten() {
        super::say(format_args!(
            "{:>8}  {:<24}  {:>8}  {}",
            cell(&v["version"]),
            time_cell(&v["written_at"]),
            cell(&v["chars"]),
            cell(&v["run_id"])
        ));
    }
    Ok(Exit::Success)
}

async fn set_enabled(client: &Client, id: &str, enabled: bool) -> CliResult {
    client
        .call(
            Method::PATCH,
            &charm_path(id, ""),
            Some(json!({ "enabled": enabled })),
        )
        .await?;
    eprintln!("{} {id}", if enabled { "enabled" } else { "disabled" });
    Ok(Exit::Success)
}

async fn remove(client: &Client, id: &str) -> CliResult {
    client
        .call(Method::DELETE, &charm_path(id, ""), None)
        .await?;
    eprintln!("removed {id}");
    Ok(Exit::Success)
}

async fn trigger(client: &Client, id: &str, body: Value, wait: bool) -> CliResult {
    let queued = client
        .call(Method::POST, &charm_path(id, "/run"), Some(body))
        .await?;
    if queued["duplicate"] == true {
        eprintln!(
            "an event with this key is kept already (event {}); nothing queued",
            cell(&queued["event_id"])
        );
        return Ok(Exit::Success);
    }
    if let Some(at) = queued["at"].as_i64() {
        let when = jiff::Timestamp::from_millisecond(at)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| at.to_string());
        eprintln!("a run is asked for at {when}; it is queued then");
        return Ok(Exit::Success);
    }
    let run_id = cell(&queued["run_id"]);
    super::say(&run_id);
    if !wait {
        return Ok(Exit::Success);
    }
    loop {
        let run = client
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

async fn events(client: &Client, id: &str, status: Option<String>) -> CliResult {
    let query = match status {
        Some(status) => {
            let status: String = url::form_urlencoded::byte_serialize(status.as_bytes()).collect();
            format!("/events?limit=1000&status={status}")
        }
        None => "/events?limit=1000".to_string(),
    };
    let events = client
        .call(Method::GET, &charm_path(id, &query), None)
        .await?;
    super::say(format_args!(
        "{:>8}  {:<8}  {:<9}  {:>8}  {:>8}  {:<24}  DATA / LAST ERROR",
        "EVENT", "STATUS", "SOURCE", "ATTEMPTS", "RUN", "RECEIVED"
    ));
    for e in events["events"].as_array().into_iter().flatten() {
        let received = e["received_at"]
            .as_i64()
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .map(|t| t.to_string())
            .unwrap_or_default();
        let detail = match e["last_error"].as_str() {
            Some(error) => error.lines().next().unwrap_or("").to_string(),
            None => e["data"].to_string(),
        };
        super::say(format_args!(
            "{:>8}  {:<8}  {:<9}  {:>8}  {:>8}  {:<24}  {}",
            cell(&e["id"]),
            cell(&e["status"]),
            cell(&e["source"]),
            cell(&e["attempts"]),
            cell(&e["run_id"]),
            received,
            detail
        ));
    }
    Ok(Exit::Success)
}

/// `charms redrive` and `charms discard`: `action` on `events` (every
/// dead letter when empty).
async fn select_events(client: &Client, id: &str, action: &str, events: Vec<i64>) -> CliResult {
    let body = if events.is_empty() {
        json!({})
    } else {
        json!({ "ids": events })
    };
    let done = client
        .call(
            Method::POST,
            &charm_path(id, &format!("/events/{action}")),
            Some(body),
        )
        .await?;
    let count = match action {
        "redrive" => &done["redriven"],
        _ => &done["discarded"],
    };
    super::say(cell(count));
    Ok(Exit::Success)
}

async fn hook(client: &Client, id: &str, remove: bool) -> CliResult {
    if remove {
        client
            .call(Method::DELETE, &charm_path(id, "/hook"), None)
            .await?;
        eprintln!("removed the webhook of {id}");
        return Ok(Exit::Success);
    }
    let hook = client
        .call(Method::POST, &charm_path(id, "/hook"), Some(json!({})))
        .await?;
    super::say(cell(&hook["secret"]));
    eprintln!(
        "webhook: POST {}{}; {} (the secret is shown only now)",
        client.base.as_str().trim_end_matches('/'),
        cell(&hook["path"]),
        cell(&hook["auth"])
    );
    Ok(Exit::Success)
}

/// `/api/charms/{id}/secrets/{name}` with the name as one path segment.
fn secret_path(id: &str, name: &str) -> String {
    let segment: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    charm_path(id, &format!("/secrets/{segment}"))
}

/// Reads a secret's value from stdin: at most the API's limit (and a line
/// ending), as UTF-8, one trailing newline dropped.
fn read_secret_value() -> Result<String, CliError> {
    use std::io::{IsTerminal, Read};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("type the secret's value, then a newline and Ctrl-D:");
    }
    let cap = MAX_VALUE_BYTES + 2;
    let mut bytes = Vec::new();
    stdin
        .lock()
        .take(u64::try_from(cap + 1).unwrap_or(u64::MAX))
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::usage(format!("cannot read the secret's value from stdin: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| CliError::usage("the secret's value on stdin is not UTF-8 text"))?;
    let value = super::strip_newline(&text);
    if value.len() > MAX_VALUE_BYTES {
        return Err(CliError::usage(format!(
            "the secret's value is over the limit of {MAX_VALUE_BYTES} bytes"
        )));
    }
    if value.is_empty() {
        return Err(CliError::usage(
            "no value on stdin: pipe it in, e.g. `charm-host charms secret set ID NAME < file`",
        ));
    }
    Ok(value.to_string())
}

async fn secret(client: &Client, command: SecretCommand) -> CliResult {
    match command {
        SecretCommand::Set { id, name } => {
            check_name(&name).map_err(CliError::usage)?;
            let value = read_secret_value()?;
            let done = client
                .call(
                    Method::PUT,
                    &secret_path(&id, &name),
                    Some(json!({ "value": value })),
                )
                .await?;
            let verb = if done["created"] == true {
                "set"
            } else {
                "replaced"
            };
            eprintln!("{verb} secret {name} of {id}; the charm gets it at its next run");
        }
        SecretCommand::List { id } => {
            let list = client
                .call(Method::GET, &charm_path(&id, "/secrets"), None)
                .await?;
            super::say(format_args!("{:<64}  UPDATED", "NAME"));
            for s in list["secrets"].as_array().into_iter().flatten() {
                let when = s["updated_at"]
                    .as_i64()
                    .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| cell(&s["updated_at"]));
                super::say(format_args!("{:<64}  {when}", cell(&s["name"])));
            }
        }
        SecretCommand::Rm { id, name } => {
            client
                .call(Method::DELETE, &secret_path(&id, &name), None)
                .await?;
            eprintln!("removed secret {name} of {id}");
        }
    }
    Ok(Exit::Success)
}

async fn cancel(client: &Client, run: i64) -> CliResult {
    let done = client
        .call(Method::POST, &format!("/api/runs/{run}/cancel"), None)
        .await?;
    match done["cancelled"].as_str() {
        Some("dequeued") => eprintln!("run {run} was queued; it will not run"),
        _ => eprintln!("run {run} is running; its node is stopping it"),
    }
    Ok(Exit::Success)
}

async fn runs(client: &Client, id: &str, limit: u32) -> CliResult {
    let runs = client
        .call(
            Method::GET,
            &charm_path(id, &format!("/runs?limit={limit}")),
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
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn ids_are_one_path_segment_and_servers_are_http_urls() {
        assert_eq!(
            charm_path("a/../b?x", "/state"),
            "/api/charms/a%2F..%2Fb%3Fx/state"
        );
        assert!(server_url("http://127.0.0.1:8080").is_ok());
        for bad in ["127.0.0.1:8080", "ftp://host", "/tmp/sock", "http://"] {
            assert_eq!(server_url(bad).unwrap_err().exit, Exit::Usage, "{bad}");
        }
    }
}
