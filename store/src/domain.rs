//! What the store keeps: charms, their state, and runs, as typed records.
//!
//! Plain data with no policy: which trigger goes first, what counts as a
//! failure and when a charm is disabled are the service's decisions, handed
//! to the store as values ([`CharmUpdate`], a priority). Times are
//! milliseconds since the Unix epoch (`i64`), sizes are bytes.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A charm's id: 32 lowercase hex digits (a UUID v7 without dashes, so ids
/// sort by creation time).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CharmId(String);

impl CharmId {
    /// Parses an id; `None` for anything that cannot name a charm, so that
    /// a path segment like `../x` never reaches a query.
    pub fn parse(text: &str) -> Option<CharmId> {
        let valid = text.len() == 32
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then(|| CharmId(text.to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CharmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A run's id: increasing in the order runs were queued.
pub type RunId = i64;

/// A node's id: one per process start, and a new one each time a node
/// rejoins after losing the database (an *incarnation*). 32 lowercase hex
/// digits, a UUID v7 without dashes, as [`CharmId`]. Runs record the node
/// that claimed them; the id is the fencing token of the run's finish.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(String);

impl NodeId {
    /// Parses an id; `None` for anything that is not 32 lowercase hex digits.
    pub fn parse(text: &str) -> Option<NodeId> {
        CharmId::parse(text).map(|id| NodeId(id.0))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a run was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A user (or a client of the API) asked for it.
    Manual,
    /// The charm's interval came round.
    Schedule,
    /// Re-queued after the node that ran it stopped or lost the database
    /// while it was running.
    Recovery,
    /// A webhook delivered an event.
    Webhook,
    /// Re-queued, after a backoff, because a run given events failed.
    Retry,
    /// Events wait in the inbox: more than one run takes, or re-driven
    /// dead letters.
    Inbox,
}

impl Trigger {
    /// Every trigger.
    pub const ALL: [Trigger; 6] = [
        Trigger::Manual,
        Trigger::Schedule,
        Trigger::Recovery,
        Trigger::Webhook,
        Trigger::Retry,
        Trigger::Inbox,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
            Trigger::Recovery => "recovery",
            Trigger::Webhook => "webhook",
            Trigger::Retry => "retry",
            Trigger::Inbox => "inbox",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Waiting in the queue.
    Queued,
    /// Claimed and executing.
    Running,
    /// Finished, with an outcome.
    Done,
}

impl RunStatus {
    /// Every status.
    pub const ALL: [RunStatus; 3] = [RunStatus::Queued, RunStatus::Running, RunStatus::Done];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Done => "done",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// `bgUpdater` settled with a state (or kept the old one).
    Ok,
    /// The charm threw, rejected or returned something that is not JSON.
    Error,
    /// The wall-clock limit ended it.
    Timeout,
    /// The fuel limit ended it.
    Fuel,
    /// The memory limit ended it.
    Memory,
    /// An uncaught fetch was refused by the allow-list.
    Denied,
    /// Another limit (output, logs, fetches, stack, a fetch's size or time).
    Limit,
    /// The sandbox failed, or the run's result could not be stored.
    Fault,
    /// Stopped by the host (shutdown, a disabled or removed charm).
    Cancelled,
    /// Its node stopped, or lost the database, while it ran; found by a
    /// rescue (any node's, or the next start's) and retried.
    Interrupted,
    /// It succeeded, but the state it returned would put its space over
    /// the space's state quota: the old state is kept, its events stay in
    /// the inbox, and the charm is not blamed (no failure counted).
    Quota,
}

impl RunOutcome {
    /// Every outcome.
    pub const ALL: [RunOutcome; 11] = [
        RunOutcome::Ok,
        RunOutcome::Error,
        RunOutcome::Timeout,
        RunOutcome::Fuel,
        RunOutcome::Memory,
        RunOutcome::Denied,
        RunOutcome::Limit,
        RunOutcome::Fault,
        RunOutcome::Cancelled,
        RunOutcome::Interrupted,
        RunOutcome::Quota,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Ok => "ok",
            RunOutcome::Error => "error",
            RunOutcome::Timeout => "timeout",
            RunOutcome::Fuel => "fuel",
            RunOutcome::Memory => "memory",
            RunOutcome::Denied => "denied",
            RunOutcome::Limit => "limit",
            RunOutcome::Fault => "fault",
            RunOutcome::Cancelled => "cancelled",
            RunOutcome::Interrupted => "interrupted",
            RunOutcome::Quota => "quota",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<RunOutcome> {
        RunOutcome::ALL.into_iter().find(|o| o.as_str() == name)
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A charm as the API shows it (no source or bytecode).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CharmRecord {
    /// Its id.
    pub id: CharmId,
    /// Its space (tenant).
    pub space: String,
    /// Its module name (errors and stacks show it).
    pub name: String,
    /// Its integration label, if any.
    pub integration: Option<String>,
    /// Seconds between scheduled runs (when it has no other schedule).
    pub interval_s: u32,
    /// Its schedule when it is not every `interval_s` (a JSON object the
    /// service defines, such as a cron expression and a time zone).
    #[serde(serialize_with = "raw_json_opt")]
    pub schedule: Option<String>,
    /// Failed runs an event is given to before it becomes a dead letter.
    pub max_attempts: u32,
    /// Whether it runs.
    pub enabled: bool,
    /// Why it was disabled, if it is.
    pub disabled_reason: Option<String>,
    /// When it was disabled (ms since the epoch).
    pub disabled_at: Option<i64>,
    /// Failed runs in a row since the last success.
    pub consecutive_failures: u32,
    /// Why it is in the penalty box (its interval stretched), if it is.
    pub penalty: Option<String>,
    /// When its next scheduled run is due (ms since the epoch).
    pub next_run_at: i64,
    /// The earliest run asked for later (`trigger --at/--in`), if any (ms
    /// since the epoch).
    pub next_wakeup_at: Option<i64>,
    /// Whether it has a webhook (a hook secret).
    pub webhook: bool,
    /// Events waiting in its inbox.
    pub pending_events: u64,
    /// Its dead letters: events whose every attempt failed.
    pub dead_events: u64,
    /// Its allow-list entries.
    pub allowed_hosts: Vec<String>,
    /// Whether exact allow-list entries may reach loopback, private and
    /// link-local addresses: granted when an operator set the list.
    pub private_network: bool,
    /// Its limits: a JSON object of the engine's `SandboxLimits`, stored as
    /// given (the store does not interpret it).
    pub limits: serde_json::Value,
    /// Hex sha256 of its source.
    pub source_sha256: String,
    /// When it was registered (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at: i64,
    /// The last finished run, if any.
    pub last_run: Option<RunSummary>,
}

/// Everything needed to run a charm, or to edit it.
#[derive(Debug, Clone, PartialEq)]
pub struct CharmCode {
    /// Its id.
    pub id: CharmId,
    /// Its space (tenant).
    pub space: String,
    /// Its module name.
    pub name: String,
    /// Its integration label, if any.
    pub integration: Option<String>,
    /// Its source; empty when read for a run ([`Store::charm_for_run`](crate::Store::charm_for_run)).
    pub source: String,
    /// Hex sha256 of its source.
    pub source_sha256: String,
    /// QuickJS bytecode, valid for [`CharmCode::runtime_sha256`] only.
    pub bytecode: Vec<u8>,
    /// Hex sha256 of the runtime that compiled the bytecode.
    pub runtime_sha256: String,
    /// Seconds between scheduled runs (when it has no other schedule).
    pub interval_s: u32,
    /// Its schedule, JSON (see [`CharmRecord::schedule`]).
    pub schedule: Option<String>,
    /// Failed runs an event is given to before it becomes a dead letter.
    pub max_attempts: u32,
    /// Its limits, a JSON object (see [`CharmRecord::limits`]).
    pub limits: serde_json::Value,
    /// Its allow-list entries.
    pub allowed_hosts: Vec<String>,
    /// Whether exact allow-list entries may reach loopback, private and
    /// link-local addresses (see [`CharmRecord::private_network`]).
    pub private_network: bool,
    /// Whether it runs.
    pub enabled: bool,
    /// Why it was disabled, if it is.
    pub disabled_reason: Option<String>,
    /// When it was disabled (ms since the epoch).
    pub disabled_at: Option<i64>,
    /// Failed runs in a row since the last success.
    pub consecutive_failures: u32,
    /// When its next scheduled run is due (ms since the epoch).
    pub next_run_at: i64,
    /// Its alert state (`failing`, `disabled`, `silent`; `None` or `ok`:
    /// fine). Read only: changed by [`Store::raise_alert`](crate::Store::raise_alert),
    /// never by a change of the charm.
    pub alert_state: Option<String>,
    /// The fingerprint of the error last alerted. Read only.
    pub alert_fingerprint: Option<String>,
    /// Whether it has secrets. Read only: lets a run skip reading them
    /// (one statement per run) when there are none.
    pub has_secrets: bool,
    /// Its revision. Read only: the database raises it with every change
    /// of any field above except `consecutive_failures` and `next_run_at`
    /// (a run's own bookkeeping), and with every secret added or removed.
    /// A claim returns it ([`ClaimedRun::charm_revision`]): code read at
    /// the same revision is still current but for those two fields.
    pub revision: i64,
}

/// A charm to insert, with its first state.
#[derive(Debug, Clone)]
pub struct NewCharm {
    /// The charm.
    pub code: CharmCode,
    /// The initial state, as JSON text (version 0).
    pub state: String,
}

/// A change to a stored charm, applied inside the store's transaction to
/// the charm as it is then.
pub type CharmChange = Box<dyn FnOnce(&mut CharmCode) + Send>;

/// Which charms to list, in which order.
#[derive(Debug, Clone, Default)]
pub struct CharmFilter {
    /// Only this space.
    pub space: Option<String>,
    /// Only this integration.
    pub integration: Option<String>,
    /// Only enabled (`true`) or disabled (`false`) charms.
    pub enabled: Option<bool>,
    /// The sort column.
    pub sort: SortKey,
    /// Largest first.
    pub descending: bool,
    /// Page size.
    pub limit: u32,
    /// Charms to skip.
    pub offset: u32,
}

/// The columns a listing can be sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SortKey {
    /// Registration time (the default).
    #[default]
    Created,
    /// Space name.
    Space,
    /// Integration label.
    Integration,
    /// Interval.
    Interval,
    /// Enabled first or last.
    Enabled,
    /// When the last run finished.
    LastRun,
    /// Consecutive failures.
    Failures,
    /// When the next run is due.
    NextRun,
}

impl SortKey {
    /// Every key.
    pub const ALL: [SortKey; 8] = [
        SortKey::Created,
        SortKey::Space,
        SortKey::Integration,
        SortKey::Interval,
        SortKey::Enabled,
        SortKey::LastRun,
        SortKey::Failures,
        SortKey::NextRun,
    ];

    /// The name the API uses.
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Created => "created",
            SortKey::Space => "space",
            SortKey::Integration => "integration",
            SortKey::Interval => "interval",
            SortKey::Enabled => "enabled",
            SortKey::LastRun => "last_run",
            SortKey::Failures => "failures",
            SortKey::NextRun => "next_run",
        }
    }

    /// Parses an API name.
    pub fn parse(name: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A charm's state document.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StateRecord {
    /// The JSON document, as stored.
    #[serde(serialize_with = "raw_json")]
    pub state: String,
    /// 0 at registration, one more with each successful run that wrote it.
    pub version: i64,
    /// When it was last written (ms since the epoch).
    pub updated_at: i64,
}

fn raw_json<S: serde::Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    match serde_json::value::RawValue::from_string(text.to_string()) {
        Ok(raw) => raw.serialize(s),
        Err(e) => Err(serde::ser::Error::custom(e)),
    }
}

fn raw_json_opt<S: serde::Serializer>(text: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match text {
        None => s.serialize_none(),
        Some(text) => raw_json(text, s),
    }
}

/// A run as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunRecord {
    /// Its id.
    pub id: RunId,
    /// Its charm.
    pub charm_id: CharmId,
    /// Why it was queued.
    pub trigger: Trigger,
    /// Where it is in its life.
    pub status: RunStatus,
    /// `ctx.input`, JSON.
    #[serde(serialize_with = "raw_json_opt")]
    pub input: Option<String>,
    /// When it was queued (ms since the epoch).
    pub queued_at: i64,
    /// When it started (ms since the epoch).
    pub started_at: Option<i64>,
    /// When it finished (ms since the epoch).
    pub finished_at: Option<i64>,
    /// How it ended, once done.
    pub outcome: Option<RunOutcome>,
    /// The JavaScript message and stack, or the limit, when it failed.
    pub error: Option<String>,
    /// Fuel it used.
    pub fuel: Option<i64>,
    /// Its largest linear memory, in bytes.
    pub memory_bytes: Option<i64>,
    /// Its wall-clock time, in ms.
    pub duration_ms: Option<i64>,
    /// The first part of its console output.
    pub log: Option<String>,
    /// The state version it wrote, if any.
    pub state_version: Option<i64>,
    /// 1 for a run queued by a trigger; one more for each retry after an
    /// interruption (`ctx.attempt`).
    pub attempt: u32,
    /// The node that claimed it, once claimed.
    pub node: Option<NodeId>,
    /// While queued: not claimed before this time (a retry's backoff, or a
    /// run asked for later), ms since the epoch.
    pub not_before: Option<i64>,
    /// The inbox events it was given, in order.
    pub events: Vec<EventId>,
    /// Whether a user asked to cancel it while it ran.
    pub cancel_requested: bool,
}

/// The last run of a charm, as listings show it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunSummary {
    /// Its id.
    pub id: RunId,
    /// How it ended.
    pub outcome: Option<RunOutcome>,
    /// Its error, if it failed.
    pub error: Option<String>,
    /// When it finished (ms since the epoch).
    pub finished_at: Option<i64>,
    /// Its wall-clock time, in ms.
    pub duration_ms: Option<i64>,
}

/// The result of queueing a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Enqueued {
    /// The queued run (new, or the one this request joined).
    pub run_id: RunId,
    /// True when an already queued run absorbed this request.
    pub coalesced: bool,
}

/// A run a node now owns, with the state it starts from.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedRun {
    /// Its id.
    pub id: RunId,
    /// Its charm.
    pub charm_id: CharmId,
    /// Why it was queued.
    pub trigger: Trigger,
    /// `ctx.input`, JSON.
    pub input: Option<String>,
    /// When it was queued (ms since the epoch, the database's clock).
    pub queued_at: i64,
    /// When it was claimed (ms since the epoch, the database's clock).
    pub started_at: i64,
    /// 1, or one more than the run it retries (`ctx.attempt`).
    pub attempt: u32,
    /// The same for a run and every retry of it, different for runs
    /// queued apart: `<charm id>:<id of the first run of the line>`
    /// (`ctx.idempotencyKey`).
    pub idempotency_key: String,
    /// The charm's state when the run was claimed (JSON text), read in the
    /// claim's transaction.
    pub state: String,
    /// That state's version: the finish writes a new state only if the
    /// version is still this one (compare-and-set).
    pub base_version: i64,
    /// The inbox events it is given, oldest first (`ctx.events`); a
    /// successful finish acknowledges exactly these.
    pub events: Vec<RunEvent>,
    /// Its charm's [`CharmCode::revision`] when the run was claimed: a
    /// caller that kept the charm's code as read at this revision may run
    /// it without reading it again.
    pub charm_revision: i64,
}

/// An event's id: increasing in the order events were appended.
pub type EventId = i64;

/// Where an event is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// In the inbox, waiting for (or held by) a run.
    Pending,
    /// Acknowledged by a successful run.
    Acked,
    /// A dead letter: every attempt failed; kept until re-driven or discarded.
    Dead,
}

impl EventStatus {
    /// Every status.
    pub const ALL: [EventStatus; 3] = [EventStatus::Pending, EventStatus::Acked, EventStatus::Dead];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Pending => "pending",
            EventStatus::Acked => "acked",
            EventStatus::Dead => "dead",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<EventStatus> {
        EventStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// An event to append to a charm's inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Where it came from (`manual`, `webhook`, ...).
    pub source: String,
    /// Its payload, JSON text.
    pub data: String,
    /// A key that makes a second delivery of the same event a no-op while
    /// the first is kept.
    pub idempotency_key: Option<String>,
}

/// An event as a run receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunEvent {
    /// Its id.
    pub id: EventId,
    /// When it was received (ms since the epoch, the database's clock).
    pub received_at: i64,
    /// Where it came from.
    pub source: String,
    /// Its payload, JSON text.
    #[serde(serialize_with = "raw_json")]
    pub data: String,
}

/// An event as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRecord {
    /// Its id.
    pub id: EventId,
    /// Its charm.
    pub charm_id: CharmId,
    /// Where it came from.
    pub source: String,
    /// Its payload, JSON.
    #[serde(serialize_with = "raw_json")]
    pub data: String,
    /// Its idempotency key, if it had one.
    pub idempotency_key: Option<String>,
    /// When it was received (ms since the epoch).
    pub received_at: i64,
    /// Where it is in its life.
    pub status: EventStatus,
    /// Failed runs it was given to.
    pub attempts: u32,
    /// The last run it was given to.
    pub run_id: Option<RunId>,
    /// That run's error, when it failed.
    pub last_error: Option<String>,
    /// When it was acknowledged or dead-lettered (ms since the epoch).
    pub settled_at: Option<i64>,
}

/// The result of delivering an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Delivered {
    /// The event: the new one, or the one already kept under the same
    /// idempotency key.
    pub event_id: EventId,
    /// True when an event with the same idempotency key was kept already:
    /// nothing was appended or queued.
    pub duplicate: bool,
    /// The run that will receive it (new, or the queued one it joined).
    pub run: Option<Enqueued>,
}

/// A charm's webhook, as the service checks a delivery against it.
#[derive(Clone, PartialEq, Eq)]
pub struct Hook {
    /// Whether the charm is enabled.
    pub enabled: bool,
    /// The secret deliveries are signed with; `None`: no webhook.
    pub secret: Option<String>,
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("Hook")
            .field("enabled", &self.enabled)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// What a request to cancel a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancel {
    /// The run was queued: it is recorded as cancelled and will not run.
    Dequeued,
    /// The run is running: the request is recorded, for the node that
    /// holds it to stop it.
    Requested {
        /// The node that holds it.
        node: Option<NodeId>,
    },
    /// The run had finished already; nothing changed.
    Finished,
}

/// What a finished run recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// How it ended.
    pub outcome: RunOutcome,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// The new state (JSON text), only for a successful run that returned one.
    pub new_state: Option<String>,
    /// Fuel it used.
    pub fuel: u64,
    /// Its largest linear memory, in bytes.
    pub memory_bytes: u64,
    /// Its wall-clock time, in ms.
    pub duration_ms: u64,
    /// The first part of its console output.
    pub log: String,
    /// What it received, kept beside it (see [`crate::recordings`]);
    /// `None` for a run cut short before its sandbox reported.
    pub recording: Option<std::sync::Arc<crate::recordings::NewRecording>>,
}

/// How a finished run changes its charm; decided by the service's policy
/// from the charm's failure count before the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharmUpdate {
    /// The new count of failures in a row.
    pub consecutive_failures: u32,
    /// A new time for the next scheduled run (backoff), if any.
    pub next_run_at: Option<i64>,
    /// Disable the charm with this reason.
    pub disable: Option<String>,
    /// What becomes of the events the run was given.
    pub events: EventsAfter,
    /// The new count of heavy runs in a row.
    pub heavy_runs: u32,
    /// Why the charm is in the penalty box (its interval stretched), or
    /// `None` when it is not (or leaves it).
    pub penalty: Option<String>,
}

/// What a finished run does to the events it was given; decided by the
/// service's policy from the run's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventsAfter {
    /// The run succeeded: acknowledge them (in the run's transaction); if
    /// more wait, queue a run for them at `priority`.
    Ack {
        /// The priority of the run for the events still waiting.
        priority: i64,
    },
    /// The run failed: count the attempt; those that have had the charm's
    /// `max_attempts` become dead letters, and the rest are retried by a
    /// run at `priority` queued `delay_ms` from now.
    Retry {
        /// The backoff before the retry, in ms.
        delay_ms: i64,
        /// The retry's priority.
        priority: i64,
    },
    /// The run was cut short by the host or a user: leave them pending,
    /// uncounted, for the next run.
    Keep,
}

/// How a claim shares run slots between spaces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FairShare {
    /// Run slots of each node (its `--max-concurrent`); 0: no cap, only the
    /// ordering by recent fuel.
    pub slots_per_node: u32,
    /// The claiming node's runs that have ended and wait for their finish
    /// to be written: still running in the database, but holding no run
    /// slot, so a space's share does not count them (its quota of runs in
    /// flight, a limit an operator set, still does). Ids, so a run whose
    /// finish has committed since is not taken off twice. Empty: every
    /// running run counts.
    pub finishing: Vec<RunId>,
}

impl FairShare {
    /// [`FairShare::finishing`] as the SQLite claim takes it: a JSON array.
    pub(crate) fn finishing_json(&self) -> String {
        serde_json::Value::from(self.finishing.clone()).to_string()
    }
}

/// What a charm's record said before a run finished: what the policy
/// decides from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Before {
    /// Failed runs in a row.
    pub failures: u32,
    /// Runs in a row that used most of a limit (fuel or time).
    pub heavy_runs: u32,
}

/// Decides a finished run's [`CharmUpdate`] from the charm as it was before
/// and the database's time (ms since the epoch). It may be asked more than
/// once for one run (a batch that rolls back is recorded again run by run),
/// so it must not act, only decide.
pub type UpdatePolicy<'a> = &'a (dyn Fn(Before, i64) -> CharmUpdate + Send + Sync);

/// One finished run of a batch recorded together
/// ([`crate::Store::finish_runs_if_owned`]).
#[derive(Clone, Copy)]
pub struct RunToFinish<'a> {
    /// The run.
    pub run: RunId,
    /// The node that ran it; the run is recorded only if it still owns it.
    pub node: &'a NodeId,
    /// What it did.
    pub finished: &'a Finished,
    /// Decides its charm's update.
    pub policy: UpdatePolicy<'a>,
}

/// Decides when a charm whose scheduled run was just queued runs next, from
/// the database's time (ms since the epoch; moved on by as long as the
/// charm's queued run has waited, up to an interval, see
/// [`crate::Store::schedule_due_runs`]),
/// the charm's interval in seconds and its schedule (JSON text, if it has
/// one other than the interval).
pub type NextRunPolicy<'a> = &'a (dyn Fn(i64, u32, Option<&str>) -> i64 + Send + Sync);

/// What a finish wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// The run is recorded; the state version it wrote, if any.
    Recorded {
        /// The new state's version, when the run wrote one.
        state_version: Option<i64>,
    },
    /// Nothing written: the run is no longer running on this node (a
    /// rescue marked it interrupted and queued a retry, or it was finished
    /// already). Its result is dropped; the retry runs instead.
    NotOwned,
    /// Nothing written: the run, or its charm, was deleted.
    Gone,
    /// The run is recorded as a `fault` and its state was not written: the
    /// state's version is no longer the one the run started from. The
    /// fence makes this unreachable short of a bug or a hand edit.
    StateMoved {
        /// The version the run read.
        expected: i64,
    },
    /// The run is recorded with the outcome [`RunOutcome::Quota`] and the
    /// error [`crate::QuotaExceeded::run_error`], and its state was not written: the state
    /// it returned would have put its space over its state quota. The
    /// charm's failure count, alert state and schedule are untouched and
    /// the run's events stay pending (the charm is not blamed).
    OverQuota(crate::QuotaExceeded),
}

/// What one scheduler pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulePass {
    /// What the pass took: due charms (their next run moved on) and runs
    /// asked for later that fell due, each kind at most the pass's limit.
    /// At least the limit means more may be due.
    pub due: u32,
    /// Runs queued: scheduled runs queued, or joined to a queued run they
    /// changed (a higher priority, or an earlier start: a run already
    /// queued at the same or a higher priority, free to start, is left as
    /// it is); and runs asked for later that fell due, queued or joined.
    pub queued: u32,
    /// How long until the next enabled charm falls due, in ms (0 when more
    /// are due now); `None` when no charm is enabled.
    pub next_due_in_ms: Option<i64>,
}

/// A run found lost and marked `interrupted`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RescuedRun {
    /// The interrupted run.
    pub run_id: RunId,
    /// Its charm.
    pub charm_id: CharmId,
    /// The node that had claimed it, if any.
    pub node: Option<NodeId>,
    /// Its retry, unless the charm was disabled meanwhile.
    pub retry: Option<Enqueued>,
}

/// What a node records about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// The machine's name.
    pub hostname: String,
    /// The process id.
    pub pid: u32,
}

/// A registered node, as peers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    /// Its id.
    pub id: NodeId,
    /// Its machine.
    pub hostname: String,
    /// Its process id.
    pub pid: u32,
    /// When it registered (ms since the epoch, the database's clock).
    pub started_at: i64,
    /// Its last heartbeat (ms since the epoch, the database's clock).
    pub last_seen_at: i64,
    /// Runs it holds now.
    pub running: u64,
}

/// Counts of charms and runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Enabled charms.
    pub enabled: u64,
    /// Disabled charms.
    pub disabled: u64,
    /// Queued runs.
    pub queued: u64,
    /// Running runs.
    pub running: u64,
    /// Events waiting in inboxes.
    pub events_pending: u64,
    /// Dead letters.
    pub events_dead: u64,
    /// Charms in the penalty box.
    pub penalized: u64,
}

/// How many runs finished with one outcome in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteOutcomes {
    /// The minute's start (ms since the epoch).
    pub minute: i64,
    /// The outcome.
    pub outcome: RunOutcome,
    /// How many runs.
    pub runs: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_lowercase_hex_digits() {
        assert!(CharmId::parse("0192f1c2a3b4c5d6e7f8a9b0c1d2e3f4").is_some());
        assert!(NodeId::parse("0192f1c2a3b4c5d6e7f8a9b0c1d2e3f4").is_some());
        assert!(NodeId::parse("node-1").is_none());
        for bad in [
            "",
            "../../etc/passwd",
            "0192F1C2A3B4C5D6E7F8A9B0C1D2E3F4",
            "0192f1c2a3b4c5d6e7f8a9b0c1d2e3f",
            "0192f1c2a3b4c5d6e7f8a9b0c1d2e3fg",
        ] {
            assert!(CharmId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn names_round_trip() {
        for t in Trigger::ALL {
            assert_eq!(Trigger::parse(t.as_str()), Some(t));
        }
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
        }
        for e in EventStatus::ALL {
            assert_eq!(EventStatus::parse(e.as_str()), Some(e));
        }
        for o in RunOutcome::ALL {
            assert_eq!(RunOutcome::parse(o.as_str()), Some(o));
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
    }
}
