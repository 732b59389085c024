//! Per-charm secrets, as the store keeps them: sealed.
//!
//! The host seals each value with an AEAD before it reaches the store and
//! opens it at run time; the store holds only the nonce and the ciphertext
//! (`charm_secrets`), and knows nothing of keys or values. Names are
//! checked by the host too; the store only keeps them unique per charm and
//! bounds how many a charm has, in the transaction that adds one. Deleting
//! a charm deletes its secrets (a foreign key with `ON DELETE CASCADE`).

use serde::Serialize;

use crate::rows::Columns;
use crate::StoreError;

/// A secret as stored: its name, and the value as the host sealed it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    /// Its name (`ctx.secrets.NAME`).
    pub name: String,
    /// The AEAD nonce it was sealed with.
    pub nonce: Vec<u8>,
    /// The sealed value (ciphertext and tag).
    pub ciphertext: Vec<u8>,
    /// When it was last set, in ms since the Unix epoch (the database's
    /// clock).
    pub updated_at: i64,
}

/// Shows the name and the sizes only: a sealed value is not for logs.
impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedSecret")
            .field("name", &self.name)
            .field("nonce_bytes", &self.nonce.len())
            .field("ciphertext_bytes", &self.ciphertext.len())
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// What a listing shows of a secret: its name and when it changed, never
/// its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretName {
    /// Its name.
    pub name: String,
    /// When it was last set, in ms since the Unix epoch.
    pub updated_at: i64,
}

/// What [`crate::Store::put_secret`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutSecret {
    /// A new secret was added.
    Created,
    /// The secret existed; its value was replaced (rotated).
    Replaced,
    /// No charm has this id: nothing was written.
    NoCharm,
    /// The charm has its most secrets already and this name is not one of
    /// them: nothing was written.
    Full {
        /// The most secrets a charm may have, as the caller passed it.
        limit: u32,
    },
}

/// Whether the charm `$1` exists (the backend appends its row lock).
pub(crate) const CHARM_EXISTS: &str = "SELECT 1 FROM charms WHERE id = $1";

/// Whether the charm `$1` has a secret named `$2`.
pub(crate) const SECRET_EXISTS: &str =
    "SELECT 1 FROM charm_secrets WHERE charm_id = $1 AND name = $2";

/// How many secrets the charm `$1` has.
pub(crate) const COUNT_SECRETS: &str = "SELECT COUNT(*) FROM charm_secrets WHERE charm_id = $1";

/// Sets the secret `$2` of charm `$1` to nonce `$3` and ciphertext `$4`.
pub(crate) fn upsert_secret_sql(now: &str) -> String {
    format!(
        "INSERT INTO charm_secrets (charm_id, name, nonce, ciphertext, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, {now}, {now}) \
         ON CONFLICT (charm_id, name) DO UPDATE SET nonce = excluded.nonce, \
           ciphertext = excluded.ciphertext, updated_at = excluded.updated_at"
    )
}

/// The secrets of charm `$1`, sealed, by name.
pub(crate) const SEALED_SECRETS: &str = "SELECT name, nonce, ciphertext, updated_at \
     FROM charm_secrets WHERE charm_id = $1 ORDER BY name";

/// The names of the secrets of charm `$1`, by name.
pub(crate) const SECRET_NAMES: &str =
    "SELECT name, updated_at FROM charm_secrets WHERE charm_id = $1 ORDER BY name";

/// Deletes the secret `$2` of charm `$1`.
pub(crate) const DELETE_SECRET: &str =
    "DELETE FROM charm_secrets WHERE charm_id = $1 AND name = $2";

/// A sealed secret from [`SEALED_SECRETS`].
pub(crate) fn sealed_from(row: &impl Columns) -> Result<SealedSecret, StoreError> {
    Ok(SealedSecret {
        name: row.text("name")?,
        nonce: row.bytes("nonce")?,
        ciphertext: row.bytes("ciphertext")?,
        updated_at: row.int("updated_at")?,
    })
}

/// A name from [`SECRET_NAMES`].
pub(crate) fn name_from(row: &impl Columns) -> Result<SecretName, StoreError> {
    Ok(SecretName {
        name: row.text("name")?,
        updated_at: row.int("updated_at")?,
    })
}

/// The secret operations on one backend's connection type (`$conn`), with
/// its clock expression (`$now`) and the row lock that serialises changes
/// to one charm's secrets (`$lock`, appended to [`CHARM_EXISTS`]).
macro_rules! secret_ops {
    ($conn:ty, $now:expr, $lock:expr) => {
        use $crate::secrets::{
            name_from, sealed_from, PutSecret, SealedSecret, SecretName, CHARM_EXISTS,
            COUNT_SECRETS, DELETE_SECRET, SEALED_SECRETS, SECRET_EXISTS, SECRET_NAMES,
        };
        use $crate::{CharmId, StoreError};

        fn upsert_sql() -> &'static str {
            static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            SQL.get_or_init(|| $crate::secrets::upsert_secret_sql($now))
        }

        fn charm_exists_sql() -> &'static str {
            static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            SQL.get_or_init(|| format!("{CHARM_EXISTS}{}", $lock))
        }

        /// Sets a secret, in the caller's transaction: the charm is locked
        /// first, so that the count and the insert see the same secrets.
        pub(super) async fn put(
            conn: &mut $conn,
            charm: &CharmId,
            name: &str,
            sealed: (&[u8], &[u8]),
            max_secrets: u32,
        ) -> Result<PutSecret, StoreError> {
            let exists: Option<i32> = sqlx::query_scalar(charm_exists_sql())
                .bind(charm.as_str())
                .fetch_optional(&mut *conn)
                .await?;
            if exists.is_none() {
                return Ok(PutSecret::NoCharm);
            }
            let known: Option<i32> = sqlx::query_scalar(SECRET_EXISTS)
                .bind(charm.as_str())
                .bind(name)
                .fetch_optional(&mut *conn)
                .await?;
            if known.is_none() {
                let count: i64 = sqlx::query_scalar(COUNT_SECRETS)
                    .bind(charm.as_str())
                    .fetch_one(&mut *conn)
                    .await?;
                if count >= i64::from(max_secrets) {
                    return Ok(PutSecret::Full { limit: max_secrets });
                }
            }
            sqlx::query(upsert_sql())
                .bind(charm.as_str())
                .bind(name)
                .bind(sealed.0)
                .bind(sealed.1)
                .execute(&mut *conn)
                .await?;
            Ok(if known.is_some() {
                PutSecret::Replaced
            } else {
                PutSecret::Created
            })
        }

        /// A charm's secrets, sealed, by name.
        pub(super) async fn sealed(
            conn: &mut $conn,
            charm: &CharmId,
        ) -> Result<Vec<SealedSecret>, StoreError> {
            let rows = sqlx::query(SEALED_SECRETS)
                .bind(charm.as_str())
                .fetch_all(&mut *conn)
                .await?;
            rows.iter().map(sealed_from).collect()
        }

        /// A charm's secrets' names, by name.
        pub(super) async fn names(
            conn: &mut $conn,
            charm: &CharmId,
        ) -> Result<Vec<SecretName>, StoreError> {
            let rows = sqlx::query(SECRET_NAMES)
                .bind(charm.as_str())
                .fetch_all(&mut *conn)
                .await?;
            rows.iter().map(name_from).collect()
        }

        /// Deletes a secret, in the caller's transaction; whether it
        /// existed. The charm is locked first, as [`put`] and a charm's
        /// delete lock it: the secret's trigger raises the charm's
        /// revision, and taking the two rows in the other order could
        /// deadlock with them on PostgreSQL.
        pub(super) async fn delete(
            conn: &mut $conn,
            charm: &CharmId,
            name: &str,
        ) -> Result<bool, StoreError> {
            let exists: Option<i32> = sqlx::query_scalar(charm_exists_sql())
                .bind(charm.as_str())
                .fetch_optional(&mut *conn)
                .await?;
            if exists.is_none() {
                return Ok(false);
            }
            let done = sqlx::query(DELETE_SECRET)
                .bind(charm.as_str())
                .bind(name)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() > 0)
        }
    };
}
pub(crate) use secret_ops;
