//! `charm-host tokens ...` and `charm-host audit`: clients of the daemon's
//! token and audit routes (operator tokens only).
//!
//! Exit codes as `charm-host charms`: 0 success, 1 the API refused (the
//! message says why), 2 usage, 5 the daemon cannot be reached.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;

use super::charms::{cell, pretty, time_cell, Daemon};
use super::{CliResult, Exit};

/// `charm-host tokens ...`.
#[derive(Debug, Args)]
pub struct TokensArgs {
    #[command(flatten)]
    daemon: Daemon,

    #[command(subcommand)]
    command: TokensCommand,
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// Make a token and print it (shown only now; only its hash is kept).
    Create {
        /// A space token: reaches this space's charms, runs, state and
        /// secrets only.
        #[arg(long, value_name = "NAME", required_unless_present = "operator")]
        space: Option<String>,
        /// An operator token: reaches everything, makes other tokens.
        #[arg(long, conflicts_with = "space")]
        operator: bool,
        /// What the token is for (shown in lists and the audit log).
        #[arg(long, value_name = "TEXT")]
        name: String,
    },
    /// List tokens (never the tokens themselves).
    List,
    /// Revoke a token: refused from its next request on.
    Revoke {
        /// The token's id (`tok_...`).
        id: String,
    },
}

/// `charm-host audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    daemon: Daemon,
    /// Only changes to this space.
    #[arg(long, value_name = "NAME")]
    space: Option<String>,
    /// How many, newest first.
    #[arg(long, value_name = "N", default_value_t = 50)]
    limit: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `charm-host tokens ...`.
pub async fn tokens(args: TokensArgs) -> CliResult {
    let client = args.daemon.client()?;
    match args.command {
        TokensCommand::Create {
            space,
            operator,
            name,
        } => {
            let body = match (operator, space) {
                (true, _) => json!({ "kind": "operator", "name": name }),
                (false, space) => json!({ "kind": "space", "space": space, "name": name }),
            };
            let made = client.call(Method::POST, "/api/tokens", Some(body)).await?;
            super::say(format_args!("{}", cell(&made["token"])));
            eprintln!(
                "made {} token {}{}; the token above is shown only now",
                cell(&made["kind"]),
                cell(&made["id"]),
                made["space"]
                    .as_str()
                    .map(|s| format!(" for space `{s}`"))
                    .unwrap_or_default()
            );
        }
        TokensCommand::List => {
            let list = client.call(Method::GET, "/api/tokens", None).await?;
            super::say(format_args!(
                "{:<20}  {:<8}  {:<16}  {:<8}  NAME",
                "ID", "KIND", "SPACE", "REVOKED"
            ));
            for t in list["tokens"].as_array().into_iter().flatten() {
                super::say(format_args!(
                    "{:<20}  {:<8}  {:<16}  {:<8}  {}",
                    cell(&t["id"]),
                    cell(&t["kind"]),
                    cell(&t["space"]),
                    if t["revoked_at"].is_null() {
                        "no"
                    } else {
                        "yes"
                    },
                    cell(&t["name"])
                ));
            }
        }
        TokensCommand::Revoke { id } => {
            let path = format!(
                "/api/tokens/{}",
                url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
            );
            client.call(Method::DELETE, &path, None).await?;
            eprintln!("revoked {id}");
        }
    }
    Ok(Exit::Success)
}

/// Runs `charm-host audit`.
pub async fn audit(args: AuditArgs) -> CliResult {
    let client = args.daemon.client()?;
    let mut path = format!("/api/audit?limit={}", args.limit);
    if let Some(space) = &args.space {
        path.push_str("&space=");
        path.extend(url::form_urlencoded::byte_serialize(space.as_bytes()));
    }
    let log = client.call(Method::GET, &path, None).await?;
    if args.json {
        super::say(format_args!("{}", pretty(&log["audit"])));
        return Ok(Exit::Success);
    }
    super::say(format_args!(
        "{:<24}  {:<20}  {:<12}  {:<6}  {:<36}  TARGET",
        "WHEN", "WHO", "SPACE", "STATUS", "WHAT"
    ));
    for a in log["audit"].as_array().into_iter().flatten() {
        super::say(format_args!(
            "{:<24}  {:<20}  {:<12}  {:<6}  {:<36}  {}",
            time_cell(&a["at"]),
            cell(&a["actor"]),
            cell(&a["space"]),
            cell(&a["status"]),
            cell(&a["action"]),
            cell(&a["target"])
        ));
    }
    Ok(Exit::Success)
}
