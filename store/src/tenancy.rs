//! Tenancy: API tokens (operator and space tokens, kept as SHA-256 hashes
//! only) and the audit log of changes made through the API.
//!
//! The store keeps the rows; what a token may do, and making and hashing
//! tokens, belong to the service.

use serde::Serialize;

use crate::rows::Columns;
use crate::{corrupt, StoreError};

/// What a token may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// Everything, as the operator's `--token` does.
    Operator,
    /// One space's charms, runs, state and secrets.
    Space,
}

impl TokenKind {
    /// Its name in the database and the API: `operator` or `space`.
    pub fn name(self) -> &'static str {
        match self {
            TokenKind::Operator => "operator",
            TokenKind::Space => "space",
        }
    }

    /// The kind named `name`, if any.
    pub fn parse(name: &str) -> Option<TokenKind> {
        match name {
            "operator" => Some(TokenKind::Operator),
            "space" => Some(TokenKind::Space),
            _ => None,
        }
    }
}

/// A token to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// Its public id (`tok_` and hex digits): what lists, the audit log and
    /// revocation name.
    pub id: String,
    /// What it may reach.
    pub kind: TokenKind,
    /// The space of a space token; `None` for an operator token.
    pub space: Option<String>,
    /// What it is for, as its creator wrote.
    pub name: String,
    /// SHA-256 of the token (32 bytes). The token itself is never stored.
    pub hash: Vec<u8>,
    /// The actor that made it (a token id, or `operator`).
    pub created_by: String,
}

/// A kept token, without its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    /// Its public id.
    pub id: String,
    /// What it may reach.
    pub kind: TokenKind,
    /// The space of a space token.
    pub space: Option<String>,
    /// What it is for.
    pub name: String,
    /// When it was made (ms since the epoch).
    pub created_at: i64,
    /// The actor that made it.
    pub created_by: String,
    /// When it was revoked (ms since the epoch), if it was.
    pub revoked_at: Option<i64>,
}

/// A change made through the API, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAudit {
    /// Who: a token's id, `operator` (the `--token`) or `anonymous` (no
    /// token required).
    pub actor: String,
    /// The space changed, when one is known.
    pub space: Option<String>,
    /// What: the method and the route, e.g. `PATCH /api/charms/{id}`.
    pub action: String,
    /// The charm, run or token the route named, if any.
    pub target: Option<String>,
    /// The answer's HTTP status.
    pub status: u16,
}

/// A recorded change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// Its id: newer records have larger ids.
    pub id: i64,
    /// When (ms since the epoch, the database's clock).
    pub at: i64,
    /// Who (see [`NewAudit::actor`]).
    pub actor: String,
    /// The space changed, if known.
    pub space: Option<String>,
    /// What.
    pub action: String,
    /// The object named.
    pub target: Option<String>,
    /// The answer's HTTP status.
    pub status: u16,
}

/// Which audit records to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this space.
    pub space: Option<String>,
    /// Only records older than this id (paging).
    pub before: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

/// What a request names, whose space is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpaceOf {
    /// A charm.
    Charm(crate::CharmId),
    /// A run (the space of its charm).
    Run(crate::RunId),
}

/// The space of charm `$1`.
pub(crate) const SPACE_OF_CHARM: &str = "SELECT space FROM charms WHERE id = $1";
/// The space of run `$1`'s charm.
pub(crate) const SPACE_OF_RUN: &str =
    "SELECT c.space FROM runs r JOIN charms c ON c.id = r.charm_id WHERE r.id = $1";

/// `$1` id, `$2` kind, `$3` space, `$4` name, `$5` hash, `$6` time, `$7`
/// creator.
pub(crate) const INSERT_TOKEN: &str = "INSERT INTO api_tokens \
     (id, kind, space, name, hash, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7) \
     RETURNING id, kind, space, name, created_at, created_by, revoked_at";

/// The live token whose hash is `$1`.
pub(crate) const TOKEN_BY_HASH: &str = "SELECT id, kind, space, name, created_at, created_by, \
     revoked_at FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL";

/// Every token, oldest first.
pub(crate) const TOKENS: &str = "SELECT id, kind, space, name, created_at, created_by, revoked_at \
     FROM api_tokens ORDER BY created_at, id";

/// Revokes token `$1` at `$2` unless it already is.
pub(crate) const REVOKE: &str =
    "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";

/// `$1` time, `$2` actor, `$3` space, `$4` action, `$5` target, `$6`
/// status.
pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log (at, actor, space, action, target, \
     status) VALUES ($1, $2, $3, $4, $5, $6)";

/// Audit records of space `$1` (all when null) older than id `$2` (all
/// when null), newest first, at most `$3`.
pub(crate) const AUDIT: &str = "SELECT * FROM audit_log WHERE ($1 IS NULL OR space = $1) \
     AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3";

/// A token from [`TOKENS`]' columns.
pub(crate) fn token_from(row: &impl Columns) -> Result<TokenRecord, StoreError> {
    let kind = row.text("kind")?;
    Ok(TokenRecord {
        id: row.text("id")?,
        kind: TokenKind::parse(&kind).ok_or_else(|| corrupt("token kind", format!("`{kind}`")))?,
        space: row.opt_text("space")?,
        name: row.text("name")?,
        created_at: row.int("created_at")?,
        created_by: row.text("created_by")?,
        revoked_at: row.opt_int("revoked_at")?,
    })
}

/// An audit record from `SELECT *`.
pub(crate) fn audit_from(row: &impl Columns) -> Result<AuditRecord, StoreError> {
    let status = row.int("status")?;
    Ok(AuditRecord {
        id: row.int("id")?,
        at: row.int("at")?,
        actor: row.text("actor")?,
        space: row.opt_text("space")?,
        action: row.text("action")?,
        target: row.opt_text("target")?,
        status: u16::try_from(status).map_err(|_| corrupt("audit status", status))?,
    })
}

/// The tenancy operations on one backend's connection type. Each is one
/// statement, so they need no transaction of their own.
macro_rules! tenancy_ops {
    ($conn:ty) => {
        use $crate::tenancy::{
            audit_from, token_from, AuditFilter, AuditRecord, NewAudit, NewToken, SpaceOf,
            TokenRecord, AUDIT, INSERT_AUDIT, INSERT_TOKEN, REVOKE, SPACE_OF_CHARM, SPACE_OF_RUN,
            TOKENS, TOKEN_BY_HASH,
        };
        use $crate::StoreError;

        /// Keeps a new token.
        pub(super) async fn insert_token(
            conn: &mut $conn,
            token: &NewToken,
            now: i64,
        ) -> Result<TokenRecord, StoreError> {
            let row = sqlx::query(INSERT_TOKEN)
                .bind(&token.id)
                .bind(token.kind.name())
                .bind(&token.space)
                .bind(&token.name)
                .bind(&token.hash)
                .bind(now)
                .bind(&token.created_by)
                .fetch_one(&mut *conn)
                .await?;
            token_from(&row)
        }

        /// The live token with this hash.
        pub(super) async fn token_by_hash(
            conn: &mut $conn,
            hash: &[u8],
        ) -> Result<Option<TokenRecord>, StoreError> {
            let row = sqlx::query(TOKEN_BY_HASH)
                .bind(hash)
                .fetch_optional(&mut *conn)
                .await?;
            row.as_ref().map(token_from).transpose()
        }

        /// Every token.
        pub(super) async fn tokens(conn: &mut $conn) -> Result<Vec<TokenRecord>, StoreError> {
            let rows = sqlx::query(TOKENS).fetch_all(&mut *conn).await?;
            rows.iter().map(token_from).collect()
        }

        /// Revokes a token; whether it was live.
        pub(super) async fn revoke_token(
            conn: &mut $conn,
            id: &str,
            now: i64,
        ) -> Result<bool, StoreError> {
            let done = sqlx::query(REVOKE)
                .bind(id)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() > 0)
        }

        /// Records a change.
        pub(super) async fn append_audit(
            conn: &mut $conn,
            entry: &NewAudit,
            now: i64,
        ) -> Result<(), StoreError> {
            sqlx::query(INSERT_AUDIT)
                .bind(now)
                .bind(&entry.actor)
                .bind(&entry.space)
                .bind(&entry.action)
                .bind(&entry.target)
                .bind(i64::from(entry.status))
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        /// The space a charm or run belongs to.
        pub(super) async fn space_of(
            conn: &mut $conn,
            of: &SpaceOf,
        ) -> Result<Option<String>, StoreError> {
            let query = match of {
                SpaceOf::Charm(id) => sqlx::query_scalar(SPACE_OF_CHARM).bind(id.as_str()),
                SpaceOf::Run(id) => sqlx::query_scalar(SPACE_OF_RUN).bind(*id),
            };
            Ok(query.fetch_optional(&mut *conn).await?)
        }

        /// Recorded changes, newest first.
        pub(super) async fn audit(
            conn: &mut $conn,
            filter: &AuditFilter,
        ) -> Result<Vec<AuditRecord>, StoreError> {
            let rows = sqlx::query(AUDIT)
                .bind(&filter.space)
                .bind(filter.before)
                .bind(i64::from(filter.limit))
                .fetch_all(&mut *conn)
                .await?;
            rows.iter().map(audit_from).collect()
        }
    };
}
pub(crate) use tenancy_ops;
