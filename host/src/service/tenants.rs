//! Tenants: who is calling the API, and the tokens that say so.
//!
//! Two kinds of callers ([`Caller`]): operators, who reach everything, and
//! spaces, whose token reaches one space's charms, runs, state and secrets.
//! The operator's own token (`--token`, or the token file) is an operator
//! token that lives outside the database; every other token is made through
//! the API ([`Tokens::create`]), shown once, and kept only as its SHA-256.
//! A 256-bit random token needs no slow password hash: nobody can guess
//! one, so a fast hash loses nothing and keeps each request to one indexed
//! lookup, which is also what makes a revocation take effect at once.

use std::collections::BTreeSet;
use std::sync::Arc;

use charm_store::tenancy::{NewToken, TokenKind, TokenRecord};
use charm_store::{Store, StoreError};
use sha2::{Digest, Sha256};

/// What every made token starts with, so that secret scanners (and people)
/// recognise one in a log or a repository.
pub const TOKEN_PREFIX: &str = "chs_";
/// Random bytes in a made token (256 bits).
const TOKEN_RANDOM_BYTES: usize = 32;
/// The longest token name accepted, in characters.
const MAX_TOKEN_NAME_CHARS: usize = 200;

/// The actor name of the operator's own token (`--token` or the file).
pub const OPERATOR_ACTOR: &str = "operator";
/// The actor name of requests to a daemon that requires no token.
pub const ANONYMOUS_ACTOR: &str = "anonymous";

/// Who made a request, as authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Reaches every space.
    Operator {
        /// A token id, [`OPERATOR_ACTOR`] or [`ANONYMOUS_ACTOR`].
        actor: String,
    },
    /// Reaches one space.
    Space {
        /// The token's id.
        actor: String,
        /// Its space.
        space: String,
    },
}

impl Caller {
    /// The operator, acting through a tool rather than a token (benches,
    /// tests, the daemon itself).
    pub fn operator(actor: &str) -> Caller {
        Caller::Operator {
            actor: actor.to_string(),
        }
    }

    /// Who, for the audit log: a token id or a fixed name.
    pub fn actor(&self) -> &str {
        match self {
            Caller::Operator { actor } | Caller::Space { actor, .. } => actor,
        }
    }

    /// The one space this caller reaches, or `None` for an operator.
    pub fn space(&self) -> Option<&str> {
        match self {
            Caller::Operator { .. } => None,
            Caller::Space { space, .. } => Some(space),
        }
    }

    /// Whether this caller may see and change `space`.
    pub fn reaches(&self, space: &str) -> bool {
        self.space().is_none_or(|own| own == space)
    }
}

/// Why a token could not be made or revoked. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum TokenRequestError {
    /// The request is malformed; the message says which field.
    #[error("{0}")]
    Invalid(String),
    /// No token has this id.
    #[error("no token with id `{0}`")]
    NotFound(String),
    /// The operating system's generator failed.
    #[error("cannot make a token: the random generator failed: {0}")]
    Random(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A token just made: its record, and the token itself, shown this once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MadeToken {
    /// The token: send it as `Authorization: Bearer <token>`.
    pub token: String,
    /// Its record (id, kind, space, name, times).
    #[serde(flatten)]
    pub record: TokenRecord,
}

/// Authenticates requests and makes and revokes tokens.
#[derive(Clone)]
pub struct Tokens {
    store: Arc<dyn Store>,
    /// The operator's own token, when one is required.
    operator: Option<Arc<str>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("token_required", &self.operator.is_some())
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// Tokens checked against `store`, with the operator's own token
    /// (`None`: no token is required, and every caller is an operator).
    pub fn new(store: Arc<dyn Store>, operator: Option<Arc<str>>) -> Tokens {
        Tokens { store, operator }
    }

    /// Whether requests must carry a token.
    pub fn required(&self) -> bool {
        self.operator.is_some()
    }

    /// Who `presented` (the bearer token, if any) is: `Ok(None)` when it
    /// is missing, unknown or revoked.
    ///
    /// # Errors
    /// A store failure looking the token up.
    pub async fn authenticate(
        &self,
        presented: Option<&str>,
    ) -> Result<Option<Caller>, StoreError> {
        let Some(operator) = &self.operator else {
            return Ok(Some(Caller::operator(ANONYMOUS_ACTOR)));
        };
        let Some(presented) = presented else {
            return Ok(None);
        };
        if same_secret(presented.as_bytes(), operator.as_bytes()) {
            return Ok(Some(Caller::operator(OPERATOR_ACTOR)));
        }
        if !presented.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let found = self.store.token_by_hash(&hash(presented)).await?;
        Ok(found.map(|t| match (t.kind, t.space) {
            (TokenKind::Space, Some(space)) => Caller::Space { actor: t.id, space },
            _ => Caller::Operator { actor: t.id },
        }))
    }

    /// Makes a token of `kind` (for `space`, for a space token) named
    /// `name`, on behalf of `by`.
    ///
    /// # Errors
    /// [`TokenRequestError::Invalid`] for a space token without a valid
    /// space or an operator token with one, or a name that is empty or
    /// longer than 200 characters; a generator or store failure.
    pub async fn create(
        &self,
        by: &Caller,
        kind: TokenKind,
        space: Option<String>,
        name: String,
    ) -> Result<MadeToken, TokenRequestError> {
        let invalid = |m: String| TokenRequestError::Invalid(m);
        match (kind, &space) {
            (TokenKind::Space, None) => {
                return Err(invalid(
                    "a space token needs `space`: the space it may reach".into(),
                ))
            }
            (TokenKind::Space, Some(space)) => {
                super::registry::check_space(space).map_err(|e| invalid(e.to_string()))?
            }
            (TokenKind::Operator, Some(_)) => return Err(invalid(
                "an operator token reaches every space: leave `space` out, or ask for kind `space`"
                    .into(),
            )),
            (TokenKind::Operator, None) => {}
        }
        let name = name.trim().to_string();
        if name.is_empty() || name.chars().count() > MAX_TOKEN_NAME_CHARS {
            return Err(invalid(format!(
                "`name` says what the token is for: 1 to {MAX_TOKEN_NAME_CHARS} characters"
            )));
        }
        let token = format!("{TOKEN_PREFIX}{}", random_hex(TOKEN_RANDOM_BYTES)?);
        let id = format!("tok_{}", random_hex(8)?);
        let record = self
            .store
            .insert_token(&NewToken {
                id,
                kind,
                space,
                name,
                hash: hash(&token).to_vec(),
                created_by: by.actor().to_string(),
            })
            .await?;
        tracing::info!(token = %record.id, kind = kind.name(), space = ?record.space, by = by.actor(), "made an API token");
        Ok(MadeToken { token, record })
    }

    /// Every token, without hashes.
    ///
    /// # Errors
    /// A store failure.
    pub async fn list(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.store.tokens().await
    }

    /// Revokes token `id`: refused from the next request on.
    ///
    /// # Errors
    /// [`TokenRequestError::NotFound`] when no live token has this id.
    pub async fn revoke(&self, by: &Caller, id: &str) -> Result<(), TokenRequestError> {
        if !self.store.revoke_token(id).await? {
            return Err(TokenRequestError::NotFound(id.to_string()));
        }
        tracing::info!(token = id, by = by.actor(), "revoked an API token");
        Ok(())
    }
}

/// Which spaces' charms may reach loopback, private and link-local
/// addresses although a space token set their allow-list
/// (`--allow-private-hosts-for`). An operator token always may.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrivateNetworkPolicy {
    spaces: BTreeSet<String>,
}

impl PrivateNetworkPolicy {
    /// The policy granting `spaces`.
    pub fn new(spaces: impl IntoIterator<Item = String>) -> PrivateNetworkPolicy {
        PrivateNetworkPolicy {
            spaces: spaces.into_iter().collect(),
        }
    }

    /// Whether an allow-list `by` sets for a charm of `space` may reach
    /// non-public addresses.
    pub fn grants(&self, by: &Caller, space: &str) -> bool {
        by.space().is_none() || self.spaces.contains(space)
    }
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn random_hex(bytes: usize) -> Result<String, TokenRequestError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| TokenRequestError::Random(e.to_string()))?;
    Ok(hex::encode(buf))
}

/// Compares in time independent of where the inputs differ.
pub(crate) fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_by_content_and_length() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
    }

    #[test]
    fn a_space_caller_reaches_its_space_only() {
        let space = Caller::Space {
            actor: "tok_1".into(),
            space: "alpha".into(),
        };
        assert!(space.reaches("alpha") && !space.reaches("beta"));
        assert!(Caller::operator("x").reaches("beta"));
        let policy = PrivateNetworkPolicy::new(["lab".to_string()]);
        assert!(!policy.grants(&space, "alpha"));
        assert!(policy.grants(&space, "lab"));
        assert!(policy.grants(&Caller::operator("x"), "alpha"));
    }
}
