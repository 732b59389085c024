//! The PostgreSQL backend: one database shared by several nodes.
//!
//! Owns its schema (`store/migrations/postgres/`, applied at connect under
//! sqlx's migration lock, so nodes starting together migrate once), its
//! SQL, and what makes the queue safe with many writers:
//!
//! * claims take a run `FOR UPDATE SKIP LOCKED` inside a CTE and update it
//!   only if the status it was locked with is still `queued`, so no run is
//!   handed out twice;
//! * queueing is one upsert on the partial unique index `runs_one_queued`,
//!   under a share lock on the charm so a concurrent disable wins cleanly;
//! * the scheduler's pass and the rescue take their rows `SKIP LOCKED` and
//!   re-check them, so every node may run them at once;
//! * a finish locks the charm, then checks the run is still running on this
//!   node, then writes the state only if its version is unchanged; a batch
//!   of finishes locks its charms in id order and writes each kind of row
//!   once for the batch (`finish`);
//! * serialisation failures and deadlocks (40001, 40P01) retry the whole
//!   transaction a few times; connection, resource and shutdown SQLSTATEs
//!   (classes 08, 53, 57P0x) are [`crate::StoreError::unavailable`].
//!
//! Wake-ups: every statement that queues work also `NOTIFY`s the channel
//! `charm_host_runs` (delivered at commit, collapsed within a transaction),
//! and one `LISTEN` connection per node raises the local wake-up for
//! notifications from other nodes. Polling remains the guarantee: a lost
//! listener connection only costs latency.

mod charms;
mod finish;
mod queue;

mod reads {
    crate::rows::read_ops!(sqlx::postgres::PgPool, &sqlx::postgres::PgPool);
}

mod inbox {
    crate::inbox::inbox_ops!(sqlx::postgres::PgConnection, "charm_host_now_ms()");
}

mod kept_states {
    crate::history::history_ops!(sqlx::postgres::PgConnection);
}

mod pruning {
    crate::prune::prune_ops!(
        sqlx::postgres::PgConnection,
        "DELETE FROM runs WHERE status = 'done' AND charm_id > $2 AND charm_id <= $3 \
         AND id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)"
    );
}

mod tenants {
    crate::tenancy::tenancy_ops!(sqlx::postgres::PgConnection);
}

mod alerting {
    crate::alerts::alert_ops!(sqlx::postgres::PgConnection);
}

mod quota {
    crate::quota::quota_ops!(
        sqlx::postgres::PgConnection,
        |col| format!("octet_length({col})"),
        Some("SELECT pg_advisory_xact_lock(hashtextextended('charm-host space ' || $1, 0))")
    );
}

mod secret_rows {
    // Two nodes adding secrets to one charm take turns on its row, so the
    // count each sees is the one it adds to; the lock leaves the key share
    // that foreign keys take free.
    crate::secrets::secret_ops!(
        sqlx::postgres::PgConnection,
        "charm_host_now_ms()",
        " FOR NO KEY UPDATE"
    );
}

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::error::DatabaseError;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

use crate::alerts::{AlertId, AlertRecord, AlertStatus, AlertTransition};
use crate::history::{Rollback, StateVersion};
use crate::secrets::{PutSecret, SealedSecret, SecretName};
use crate::tenancy::{AuditFilter, AuditRecord, NewAudit, NewToken, SpaceOf, TokenRecord};
use crate::wake::Wake;
use crate::{
    Cancel, CharmChange, CharmCode, CharmFilter, CharmId, CharmRecord, ClaimedRun, Counts,
    Delivered, Enqueued, EventId, EventRecord, EventStatus, FairShare, Finish, Finished, Hook,
    MinuteOutcomes, NewCharm, NewEvent, NextRunPolicy, NodeId, NodeInfo, NodeRecord, Pruned,
    RescuedRun, RunId, RunRecord, SchedulePass, StateRecord, Store, StoreError, Trigger,
    UpdatePolicy,
};

crate::rows::impl_columns!(sqlx::postgres::PgRow);

/// Runs `$body` (an `async` block using `$conn`, a `&mut PgConnection`) in
/// a transaction and commits it, running it again (up to [`TX_ATTEMPTS`]
/// times) after a serialisation failure or a deadlock. A failed commit or
/// rollback closes the connection. A macro rather than a function taking a
/// closure: the body is re-run, and async closures called more than once
/// cannot yet be proven `Send` for the store's boxed futures.
macro_rules! pg_tx {
    ($store:expr, |$conn:ident| $body:expr) => {{
        let mut attempt = 1u32;
        loop {
            let mut pooled = $store.pool.acquire().await?;
            let mut tx = sqlx::Connection::begin(&mut *pooled).await?;
            let outcome: Result<_, $crate::StoreError> = {
                let $conn: &mut sqlx::postgres::PgConnection = &mut tx;
                $body.await
            };
            let (result, clean) = match outcome {
                Ok(value) => match tx.commit().await {
                    Ok(()) => (Ok(value), true),
                    Err(e) => (Err($crate::StoreError::from(e)), false),
                },
                Err(e) => {
                    let clean = tx.rollback().await.is_ok();
                    (Err(e), clean)
                }
            };
            if !clean {
                if let Err(e) = sqlx::Connection::close(pooled.detach()).await {
                    tracing::warn!(error = %e, "closing a connection after a failed transaction failed");
                }
            }
            match result {
                Err(e) if attempt < $crate::postgres::TX_ATTEMPTS && $crate::postgres::retryable(&e) => {
                    tracing::debug!(error = %e, attempt, "retrying a transaction");
                    tokio::time::sleep(std::time::Duration::from_millis(5 * u64::from(attempt))).await;
                    attempt += 1;
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use pg_tx;

/// Default connections a node opens for its work, besides its one
/// listening connection: 3 nodes use at most 27 of PostgreSQL's default
/// 100.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 8;
/// How long a request waits for a free connection (or for a new one to
/// open) before it fails as unavailable: while the database is down, this
/// is how long an API request takes to get its 503.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);
/// How many times a transaction that hit a serialisation failure or a
/// deadlock is run again before the error is returned.
pub(crate) const TX_ATTEMPTS: u32 = 5;
/// The channel wake-ups are sent on.
const CHANNEL: &str = "charm_host_runs";

/// How a [`PgStore`] connects.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections for the node's work (the listener takes one more).
    /// Default [`DEFAULT_MAX_CONNECTIONS`].
    pub max_connections: u32,
    /// See [`ACQUIRE_TIMEOUT`], the default.
    pub acquire_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            acquire_timeout: ACQUIRE_TIMEOUT,
        }
    }
}

/// The PostgreSQL store.
#[derive(Debug)]
pub struct PgStore {
    pool: PgPool,
    wake: Arc<Wake>,
    /// Tags this process's notifications, which its own listener ignores.
    instance: String,
    listener: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The default quotas of every space.
    quota: crate::quota::Defaults,
}

/// Whether `url` names a PostgreSQL database (`postgres://` or
/// `postgresql://`).
pub fn is_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Checks a connection URL without connecting.
///
/// # Errors
/// The parser's complaint.
pub fn check_url(url: &str) -> Result<(), String> {
    PgConnectOptions::from_str(url)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// `url` with its password, if any, replaced by `***`, for logs and
/// messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

fn is_pg(e: &dyn DatabaseError) -> Option<&str> {
    e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .map(|pg| pg.code())
}

/// Why PostgreSQL cannot take a request for now (see
/// [`StoreError::unavailable`]), by SQLSTATE.
pub(crate) fn unavailable(e: &dyn DatabaseError) -> Option<&'static str> {
    let code = is_pg(e)?;
    match code {
        "53100" => Some("the database's disk is full"),
        "53200" => Some("the database is out of memory"),
        "53300" => Some("the database has too many connections"),
        "57P01" | "57P02" => Some("the database is shutting down"),
        "57P03" => Some("the database is starting up or shutting down"),
        "40001" | "40P01" | "55P03" => Some("the database is busy"),
        c if c.starts_with("08") => Some("the database connection was lost"),
        c if c.starts_with("53") => Some("the database is out of resources"),
        _ => None,
    }
}

/// Whether the error says the connection is gone (class 08, or the server
/// going away), rather than that this request was refused.
pub(crate) fn lost_connection(e: &dyn DatabaseError) -> bool {
    is_pg(e).is_some_and(|c| c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03"))
}

pub(crate) fn retryable(e: &StoreError) -> bool {
    match e {
        StoreError::Database(sqlx::Error::Database(db)) => {
            matches!(is_pg(db.as_ref()), Some("40001" | "40P01"))
        }
        _ => false,
    }
}

/// A unique violation (23505): a race the statement lost.
pub(crate) fn unique_violation(e: &StoreError) -> bool {
    match e {
        StoreError::Database(sqlx::Error::Database(db)) => is_pg(db.as_ref()) == Some("23505"),
        _ => false,
    }
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://USER@HOST:PORT/DB`)
    /// and applies the migrations.
    ///
    /// # Errors
    /// When the URL does not parse, the database cannot be reached, or a
    /// migration fails.
    pub async fn connect(url: &str, options: &PgOptions) -> Result<PgStore, StoreError> {
        let connect = PgConnectOptions::from_str(url)?.application_name("charm-host");
        let pool = PgPoolOptions::new()
            // One more for the listener.
            .max_connections(options.max_connections.max(1) + 1)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore {
            pool,
            wake: Arc::new(Wake::default()),
            instance: crate::rows::new_node_id()?.to_string(),
            listener: Mutex::new(None),
            quota: crate::quota::Defaults::default(),
        })
    }

    /// Starts this node's listener once.
    fn listen(&self) {
        let Ok(mut listener) = self.listener.lock() else {
            return;
        };
        if listener.is_none() {
            *listener = Some(tokio::spawn(listen(
                self.pool.clone(),
                Arc::clone(&self.wake),
                self.instance.clone(),
            )));
        }
    }
}

/// Raises `wake` for every notification from another process, for as long
/// as the pool is open, reconnecting after a lost connection (and raising
/// `wake` then too: notifications may have been missed meanwhile).
async fn listen(pool: PgPool, wake: Arc<Wake>, me: String) {
    let mut pause = Duration::from_millis(100);
    while !pool.is_closed() {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::debug!(%error, "the wake-up listener cannot connect; polling meanwhile");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        if let Err(error) = listener.listen(CHANNEL).await {
            tracing::debug!(%error, "LISTEN failed; polling meanwhile");
            tokio::time::sleep(pause).await;
            continue;
        }
        pause = Duration::from_millis(100);
        wake.raise();
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) if notification.payload() != me => wake.raise(),
                Ok(Some(_)) => {}
                Ok(None) => wake.raise(),
                Err(sqlx::Error::PoolClosed) => return,
                Err(error) => {
                    tracing::debug!(%error, "the wake-up listener lost its connection");
                    break;
                }
            }
        }
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        if let Some(listener) = self.listener.lock().ok().and_then(|mut l| l.take()) {
            listener.abort();
        }
        self.pool.close().await;
    }

    async fn now_ms(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT charm_host_now_ms()")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn work_queued(&self) {
        self.listen();
        self.wake.wait().await;
    }

    async fn insert_charm(&self, new: &NewCharm) -> Result<(), StoreError> {
        charms::insert(self, new).await
    }

    async fn charm(&self, id: &CharmId) -> Result<Option<CharmRecord>, StoreError> {
        reads::record(&self.pool, id).await
    }

    async fn charms(&self, filter: &CharmFilter) -> Result<(Vec<CharmRecord>, u64), StoreError> {
        reads::list(&self.pool, filter).await
    }

    async fn charm_code(&self, id: &CharmId) -> Result<Option<CharmCode>, StoreError> {
        reads::code(&self.pool, id).await
    }

    async fn charm_for_run(&self, id: &CharmId) -> Result<Option<CharmCode>, StoreError> {
        reads::code_for_run(&self.pool, id).await
    }

    async fn modify_charm(
        &self,
        id: &CharmId,
        change: CharmChange,
    ) -> Result<Option<CharmRecord>, StoreError> {
        charms::modify(self, id, change).await
    }

    async fn delete_charm(&self, id: &CharmId) -> Result<bool, StoreError> {
        charms::delete(self, id).await
    }

    async fn state(&self, id: &CharmId) -> Result<Option<StateRecord>, StoreError> {
        reads::state(&self.pool, id).await
    }

    async fn enqueue_run(
        &self,
        charm: &CharmId,
        trigger: Trigger,
        priority: i64,
        not_before: Option<i64>,
    ) -> Result<Option<Enqueued>, StoreError> {
        queue::enqueue(self, charm, trigger, priority, not_before).await
    }

    async fn deliver_event(
        &self,
        charm: &CharmId,
        trigger: Trigger,
        priority: i64,
        event: &NewEvent,
    ) -> Result<Option<Delivered>, StoreError> {
        queue::deliver(self, charm, trigger, priority, event).await
    }

    async fn events(
        &self,
        charm: &CharmId,
        status: Option<EventStatus>,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        inbox::list_events(&mut conn, charm, status, limit).await
    }

    async fn redrive_events(
        &self,
        charm: &CharmId,
        ids: Option<&[EventId]>,
        priority: i64,
    ) -> Result<u64, StoreError> {
        queue::redrive(self, charm, ids, priority).await
    }

    async fn discard_events(
        &self,
        charm: &CharmId,
        ids: Option<&[EventId]>,
    ) -> Result<u64, StoreError> {
        pg_tx!(self, |conn| async {
            inbox::discard(conn, charm, ids).await
        })
    }

    async fn prune_events(&self, before: i64, batch: u32) -> Result<u64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        inbox::prune_events(&mut conn, before, batch).await
    }

    async fn cancel_run(&self, run: RunId, reason: &str) -> Result<Option<Cancel>, StoreError> {
        pg_tx!(self, |conn| async {
            let now: i64 = sqlx::query_scalar("SELECT charm_host_now_ms()")
                .fetch_one(&mut *conn)
                .await?;
            inbox::cancel(conn, run, reason, now).await
        })
    }

    async fn set_hook_secret(
        &self,
        charm: &CharmId,
        secret: Option<&str>,
    ) -> Result<bool, StoreError> {
        reads::set_hook_secret(&self.pool, charm, secret).await
    }

    async fn hook(&self, charm: &CharmId) -> Result<Option<Hook>, StoreError> {
        reads::hook(&self.pool, charm).await
    }

    async fn put_secret(
        &self,
        charm: &CharmId,
        name: &str,
        nonce: &[u8],
        ciphertext: &[u8],
        max_secrets: u32,
    ) -> Result<PutSecret, StoreError> {
        pg_tx!(self, |conn| async {
            secret_rows::put(conn, charm, name, (nonce, ciphertext), max_secrets).await
        })
    }

    async fn secret_names(&self, charm: &CharmId) -> Result<Vec<SecretName>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        secret_rows::names(&mut conn, charm).await
    }

    async fn sealed_secrets(&self, charm: &CharmId) -> Result<Vec<SealedSecret>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        secret_rows::sealed(&mut conn, charm).await
    }

    async fn delete_secret(&self, charm: &CharmId, name: &str) -> Result<bool, StoreError> {
        pg_tx!(self, |conn| async {
            secret_rows::delete(conn, charm, name).await
        })
    }

    async fn raise_alert(
        &self,
        charm: &CharmId,
        transition: &AlertTransition,
        payloads: &[(String, String)],
    ) -> Result<bool, StoreError> {
        pg_tx!(self, |conn| async {
            let now: i64 = sqlx::query_scalar("SELECT charm_host_now_ms()")
                .fetch_one(&mut *conn)
                .await?;
            alerting::raise(conn, charm, transition, payloads, now).await
        })
    }

    async fn take_due_alerts(
        &self,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        pg_tx!(self, |conn| async {
            let now: i64 = sqlx::query_scalar("SELECT charm_host_now_ms()")
                .fetch_one(&mut *conn)
                .await?;
            alerting::take_due(conn, now, limit, lease_ms).await
        })
    }

    async fn settle_alert(
        &self,
        alert: AlertId,
        status: AlertStatus,
        error: Option<&str>,
        retry_in_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        pg_tx!(self, |conn| async {
            let now: i64 = sqlx::query_scalar("SELECT charm_host_now_ms()")
                .fetch_one(&mut *conn)
                .await?;
            let retry_at = retry_in_ms.map(|ms| now.saturating_add(ms));
            alerting::settle(conn, alert, status, error, retry_at, now).await
        })
    }

    async fn alerts(
        &self,
        charm: Option<&CharmId>,
        limit: u32,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        alerting::list(&mut conn, charm, limit).await
    }

    async fn silent_charms(&self, intervals: u32, limit: u32) -> Result<Vec<CharmId>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let conn = &mut *conn;
        let now: i64 = sqlx::query_scalar("SELECT charm_host_now_ms()")
            .fetch_one(&mut *conn)
            .await?;
        alerting::silent(conn, now, intervals, limit).await
    }

    async fn cancel_requests(&self, node: &NodeId) -> Result<Vec<RunId>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        inbox::cancel_requests(&mut conn, node).await
    }

    async fn schedule_due_runs(
        &self,
        priority: i64,
        wakeup_priority: i64,
        limit: u32,
        next_run: NextRunPolicy<'_>,
    ) -> Result<SchedulePass, StoreError> {
        queue::schedule_due(self, priority, wakeup_priority, limit, next_run).await
    }

    async fn wake_at(&self, charm: &CharmId, at: i64) -> Result<Option<i64>, StoreError> {
        // The scheduler looks at least once a second, due times included.
        pg_tx!(self, |conn| async { inbox::wake_at(conn, charm, at).await })
    }

    async fn register_node(&self, info: &NodeInfo) -> Result<NodeId, StoreError> {
        queue::register_node(self, info).await
    }

    async fn heartbeat(&self, node: &NodeId, ttl_ms: i64) -> Result<Option<i64>, StoreError> {
        queue::heartbeat(self, node, ttl_ms).await
    }

    async fn retire_node(&self, node: &NodeId) -> Result<(), StoreError> {
        queue::retire_node(self, node).await
    }

    async fn nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        reads::nodes(&self.pool).await
    }

    async fn claim_next_run(
        &self,
        node: &NodeId,
        lease_ms: i64,
        max_events: u32,
        fair: FairShare,
    ) -> Result<Option<ClaimedRun>, StoreError> {
        let mut claimed = queue::claim(self, node, lease_ms, max_events, fair, 1).await?;
        Ok(claimed.pop())
    }

    async fn claim_runs(
        &self,
        node: &NodeId,
        lease_ms: i64,
        max_events: u32,
        fair: FairShare,
        limit: u32,
    ) -> Result<Vec<ClaimedRun>, StoreError> {
        queue::claim(self, node, lease_ms, max_events, fair, limit).await
    }

    async fn decay_usage(&self, factor: f64, every_ms: i64) -> Result<bool, StoreError> {
        queue::decay_usage(self, factor, every_ms).await
    }

    async fn space_usage(&self, limit: u32) -> Result<Vec<(String, f64)>, StoreError> {
        let rows = sqlx::query(crate::rows::SPACE_USAGE)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                use sqlx::Row;
                Ok((row.try_get("space")?, row.try_get("fuel")?))
            })
            .collect()
    }

    async fn finish_run_if_owned(
        &self,
        run: RunId,
        node: &NodeId,
        finished: &Finished,
        policy: UpdatePolicy<'_>,
    ) -> Result<Finish, StoreError> {
        queue::finish_if_owned(self, run, node, finished, policy).await
    }

    async fn finish_runs_if_owned(
        &self,
        batch: &[crate::RunToFinish<'_>],
    ) -> Vec<Result<Finish, StoreError>> {
        finish::finish_batch(self, batch).await
    }

    async fn rescue_lost_runs(
        &self,
        ttl_ms: i64,
        retry_priority: i64,
    ) -> Result<Vec<RescuedRun>, StoreError> {
        queue::rescue_lost(self, ttl_ms, retry_priority).await
    }

    async fn run(&self, id: RunId) -> Result<Option<RunRecord>, StoreError> {
        reads::run(&self.pool, id).await
    }

    async fn run_recording(
        &self,
        id: RunId,
    ) -> Result<Option<crate::recordings::StoredRecording>, StoreError> {
        reads::run_recording(&self.pool, id).await
    }

    async fn runs_of(&self, charm: &CharmId, limit: u32) -> Result<Vec<RunRecord>, StoreError> {
        reads::runs_of(&self.pool, charm, limit).await
    }

    async fn prune_runs(
        &self,
        keep: u32,
        after: Option<&CharmId>,
        charms: u32,
    ) -> Result<Pruned, StoreError> {
        queue::prune(self, keep, after, charms).await
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        reads::counts(&self.pool).await
    }

    async fn finished_per_minute(&self, since: i64) -> Result<Vec<MinuteOutcomes>, StoreError> {
        reads::finished_per_minute(&self.pool, since).await
    }

    async fn insert_token(&self, token: &NewToken) -> Result<TokenRecord, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let now: i64 = sqlx::query_scalar("SELECT charm_host_now_ms()")
            .fetch_one(&mut *conn)
            .await?;
        tenants::insert_token(&mut conn, token, now).await
    }

    async fn token_by_hash(&self, hash: &[u8]) -> Result<Option<TokenRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        tenants::token_by_hash(&mut conn, hash).await
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        tenants::tokens(&mut conn).await
    }

    async fn revoke_token(&self, id: &str) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let now: i64 = sqlx::query_scalar("SELECT charm_host_now_ms()")
            .fetch_one(&mut *conn)
            .await?;
        tenants::revoke_token(&mut conn, id, now).await
    }

    async fn append_audit(&self, entry: &NewAudit) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        let now: i64 = sqlx::query_scalar("SELECT charm_host_now_ms()")
            .fetch_one(&mut *conn)
            .await?;
        tenants::append_audit(&mut conn, entry, now).await
    }

    async fn space_of(&self, of: &SpaceOf) -> Result<Option<String>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        tenants::space_of(&mut conn, of).await
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        tenants::audit(&mut conn, filter).await
    }

    async fn state_version(
        &self,
        charm: &CharmId,
        version: i64,
    ) -> Result<Option<StateRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        kept_states::version(&mut conn, charm, version).await
    }

    async fn state_versions(
        &self,
        charm: &CharmId,
        limit: u32,
    ) -> Result<Vec<StateVersion>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        kept_states::versions(&mut conn, charm, limit).await
    }

    async fn rollback_state(&self, charm: &CharmId, version: i64) -> Result<Rollback, StoreError> {
        let defaults = self.quota.get();
        pg_tx!(self, |conn| async {
            // The lock a finish takes: a finish and a rollback of one charm
            // never interleave.
            sqlx::query("SELECT id FROM charms WHERE id = $1 FOR UPDATE")
                .bind(charm.as_str())
                .execute(&mut *conn)
                .await?;
            let now: i64 = sqlx::query_scalar("SELECT charm_host_now_ms()")
                .fetch_one(&mut *conn)
                .await?;
            kept_states::roll_back(conn, charm, version, now, defaults).await
        })
    }

    async fn prune_state_versions(
        &self,
        keep: u32,
        after: Option<&CharmId>,
        charms: u32,
    ) -> Result<Pruned, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let Some(page) = pruning::page(&mut conn, after, charms).await? else {
            return Ok(Pruned::default());
        };
        let deleted = pruning::prune_state_versions(&mut conn, &page, keep).await?;
        Ok(page.pruned(deleted))
    }

    fn set_quota_defaults(&self, defaults: crate::Quota) {
        self.quota.set(defaults);
    }

    fn quota_defaults(&self) -> crate::Quota {
        self.quota.get()
    }

    async fn spaces(&self, space: Option<&str>) -> Result<Vec<crate::SpaceRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let conn = &mut *conn;
        let now: i64 = sqlx::query_scalar("SELECT charm_host_now_ms()")
            .fetch_one(&mut *conn)
            .await?;
        quota::list(conn, now, space, self.quota.get()).await
    }

    async fn blocked_spaces(&self) -> Result<Vec<(String, crate::QuotaBlock)>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let conn = &mut *conn;
        let now: i64 = sqlx::query_scalar("SELECT charm_host_now_ms()")
            .fetch_one(&mut *conn)
            .await?;
        quota::blocked(conn, now).await
    }

    async fn set_space_quota(
        &self,
        space: &str,
        overrides: &crate::QuotaOverrides,
    ) -> Result<Option<crate::SpaceRecord>, StoreError> {
        let defaults = self.quota.get();
        pg_tx!(self, |conn| async {
            let now: i64 = sqlx::query_scalar("SELECT charm_host_now_ms()")
                .fetch_one(&mut *conn)
                .await?;
            quota::set(conn, space, overrides, now, defaults).await
        })?;
        let mut found = self.spaces(Some(space)).await?;
        Ok(found.pop())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/charms"),
            "postgres://app:***@db:5432/charms"
        );
        assert_eq!(
            redact("postgres://app@db:5432/charms"),
            "postgres://app@db:5432/charms"
        );
        assert_eq!(redact("postgresql://db/x"), "postgresql://db/x");
    }

    #[test]
    fn urls_are_told_from_paths() {
        assert!(is_url("postgres://u@h:5432/d"));
        assert!(is_url("postgresql://h/d"));
        assert!(!is_url("data/charm-host.db"));
        assert!(check_url("postgres://u@h:5432/d").is_ok());
        assert!(check_url("postgres://u@h:notaport/d").is_err());
    }
}
