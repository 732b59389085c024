//! Per-charm secrets: the key, sealing and opening, and the rules for
//! names and values.
//!
//! Owns:
//!
//! * [`KeySource`]: where the daemon's secrets key comes from: the key
//!   file it makes in its data directory on first start
//!   (`DATA_DIR/secrets-key`, [`KEY_BYTES`] bytes from the operating
//!   system's generator, in hex, mode 0600, reused on later starts), or a
//!   file the operator gives (`--secrets-key-file`), which must exist.
//! * [`SecretKey`]: AES-256-GCM with a fresh 96-bit random nonce per value
//!   and the charm's id and the secret's name as associated data, so a
//!   ciphertext moved to another charm or name does not open.
//! * [`SecretKeeper`]: set, list, remove (through the store, which only
//!   ever sees nonce and ciphertext) and open a charm's secrets for a run.
//!   Secrets are read at each run, never cached: a change takes effect at
//!   the next run.
//!
//! It never touches HTTP or wasmtime; redaction of the values from a run's
//! output is the engine's ([`charm_engine::Redactor`]).

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aes_gcm::aead::Nonce;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use charm_store::secrets::{PutSecret, SecretName};
use charm_store::{CharmId, Store, StoreError};

use crate::token::{file_mode, write_private, Replace};

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "secrets-key";
/// Bytes in a key (AES-256).
pub const KEY_BYTES: usize = 32;
/// Bytes in a nonce (AES-GCM's 96 bits; random per value, so one key
/// seals far fewer values than the 2^32 after which a repeat becomes
/// likely).
pub const NONCE_BYTES: usize = 12;
/// The longest secret name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// The largest secret value, in bytes of UTF-8.
pub const MAX_VALUE_BYTES: usize = 8 * 1024;
/// The most secrets one charm may have.
pub const MAX_SECRETS_PER_CHARM: u32 = 50;
/// What the associated data starts with: a new sealing format gets a new
/// label, and an old ciphertext does not open as a new one.
const AAD_LABEL: &[u8] = b"charm-host secret v1";

/// Where the secrets key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The default: this file in the data directory, made on first start.
    Made(PathBuf),
    /// `--secrets-key-file`: the operator's file, which must exist. Give
    /// every node of a cluster the same one.
    Given(PathBuf),
}

/// Why the secrets key could not be read or made. Each message names the
/// file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be written.
    #[error("cannot create the secrets key file `{path}`: {source}; fix that, or pass --secrets-key-file")]
    Create {
        /// The file.
        path: String,
        /// What the operating system said.
        source: io::Error,
    },
    /// The key file could not be read.
    #[error("cannot read the secrets key file `{path}`: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the operating system said.
        source: io::Error,
    },
    /// The key file does not hold a key.
    #[error("the secrets key file `{path}` {why}: it must hold {KEY_BYTES} bytes, raw or as {} hex digits (`openssl rand -hex 32`)", KEY_BYTES * 2)]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The operating system's random number generator failed.
    #[error(
        "cannot make a secrets key: the operating system's random number generator failed: {0}"
    )]
    Random(String),
}

/// Why a secret operation failed. The messages name the charm, the secret
/// and the limit, never a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The name is not a valid secret name.
    #[error("secret name `{name}` {why}")]
    Name {
        /// The name, as given (shortened when long).
        name: String,
        /// What is wrong.
        why: String,
    },
    /// The value is empty or too large.
    #[error("the secret's value {0}")]
    Value(String),
    /// The charm has its most secrets already.
    #[error("charm `{charm}` has {limit} secrets, the most a charm may have; remove one first")]
    TooMany {
        /// The charm.
        charm: String,
        /// The limit.
        limit: u32,
    },
    /// No charm has this id.
    #[error("no charm with id `{0}`")]
    NoCharm(String),
    /// A stored secret does not open with this daemon's key.
    #[error("secret `{name}` of charm `{charm}` does not decrypt with this daemon's secrets key ({key}): it was set under another key; set it again, or start the daemon with the key it was set with (--secrets-key-file)")]
    WrongKey {
        /// The charm.
        charm: String,
        /// The secret's name.
        name: String,
        /// Where the key came from.
        key: String,
    },
    /// Sealing failed, or the random number generator did.
    #[error("sealing a secret failed: {0}")]
    Seal(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The daemon's secrets key, ready to seal and open. Its `Debug` shows
/// where it came from, never the key.
#[derive(Clone)]
pub struct SecretKey {
    cipher: Arc<Aes256Gcm>,
    /// The file it came from, for messages.
    origin: String,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(from {})", self.origin)
    }
}

impl KeySource {
    /// The key: read from the file, or for [`KeySource::Made`] made there
    /// first if the file does not exist.
    ///
    /// # Errors
    /// [`KeyError`] when the file cannot be read or made, or holds no key.
    pub fn load(&self) -> Result<SecretKey, KeyError> {
        let key = match self {
            KeySource::Given(path) => read_key(path)?.ok_or_else(|| KeyError::Read {
                path: path.display().to_string(),
                source: io::Error::from(io::ErrorKind::NotFound),
            })?,
            KeySource::Made(path) => load_or_create(path)?,
        };
        let path = match self {
            KeySource::Made(path) | KeySource::Given(path) => path,
        };
        SecretKey::new(&key, path.display().to_string())
    }
}

/// Reads the key in `path`, or makes one there (mode 0600) if there is no
/// such file. Two daemons starting at once on one data directory end up
/// with the same key: the file is published without replacing one that
/// appeared meanwhile.
fn load_or_create(path: &Path) -> Result<Vec<u8>, KeyError> {
    if let Some(key) = read_key(path)? {
        tracing::info!(file = %path.display(), "using the secrets key in the data directory");
        return Ok(key);
    }
    let mut key = [0u8; KEY_BYTES];
    getrandom::fill(&mut key).map_err(|e| KeyError::Random(e.to_string()))?;
    let create = |source| KeyError::Create {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(create)?;
    }
    let text: String = key.iter().map(|b| format!("{b:02x}")).collect();
    if write_private(path, format!("{text}\n").as_bytes(), Replace::No).map_err(create)? {
        tracing::info!(file = %path.display(), "made a new secrets key (mode 0600); back it up with the database: secrets do not decrypt without it");
        return Ok(key.to_vec());
    }
    // Another process made it first: use that one.
    read_key(path)?.ok_or_else(|| KeyError::Invalid {
        path: path.display().to_string(),
        why: "vanished while it was being made",
    })
}

/// The key in `path`: 32 raw bytes, or 64 hex digits with optional white
/// space around them; `None` if there is no such file.
fn read_key(path: &Path) -> Result<Option<Vec<u8>>, KeyError> {
    let shown = || path.display().to_string();
    let mut bytes = Vec::new();
    match File::open(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(KeyError::Read {
                path: shown(),
                source,
            })
        }
        Ok(file) => {
            // Room for hex with line endings, and one more byte to tell a
            // longer file.
            let cap = u64::try_from(KEY_BYTES * 2 + 3).unwrap_or(u64::MAX);
            file.take(cap)
                .read_to_end(&mut bytes)
                .map_err(|source| KeyError::Read {
                    path: shown(),
                    source,
                })?;
        }
    }
    if let Some(mode) = file_mode(path).filter(|m| m & 0o077 != 0) {
        tracing::warn!(
            file = %path.display(),
            mode = format!("{mode:o}"),
            "the secrets key file is readable by other users: make it private (chmod 600)"
        );
    }
    if bytes.len() == KEY_BYTES {
        return Ok(Some(bytes));
    }
    let invalid = |why| KeyError::Invalid { path: shown(), why };
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| invalid("is neither 32 bytes nor hex"))?
        .trim();
    if text.len() != KEY_BYTES * 2 {
        return Err(invalid("has a key of the wrong size"));
    }
    hex::decode(text)
        .map(Some)
        .map_err(|_| invalid("is neither 32 bytes nor hex"))
}

/// The associated data of a secret: the format's label, the charm's id
/// and the secret's name, each ended by a NUL (neither may hold one).
fn associated_data(charm: &str, name: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + charm.len() + name.len() + 3);
    for part in [AAD_LABEL, charm.as_bytes(), name.as_bytes()] {
        aad.extend_from_slice(part);
        aad.push(0);
    }
    aad
}

impl SecretKey {
    /// A key from its [`KEY_BYTES`] bytes; `origin` says where it came
    /// from, for messages.
    ///
    /// # Errors
    /// [`KeyError::Invalid`] when `key` is not [`KEY_BYTES`] long.
    pub fn new(key: &[u8], origin: String) -> Result<SecretKey, KeyError> {
        match Aes256Gcm::new_from_slice(key) {
            Ok(cipher) => Ok(SecretKey {
                cipher: Arc::new(cipher),
                origin,
            }),
            Err(_) => Err(KeyError::Invalid {
                path: origin,
                why: "has a key of the wrong size",
            }),
        }
    }

    /// Seals `value` as the secret `name` of `charm`: a fresh random nonce
    /// and the ciphertext (with its 16-byte tag).
    ///
    /// # Errors
    /// [`SecretError::Seal`] when the random number generator fails.
    pub fn seal(
        &self,
        charm: &str,
        name: &str,
        value: &str,
    ) -> Result<(Vec<u8>, Vec<u8>), SecretError> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|e| SecretError::Seal(e.to_string()))?;
        let aad = associated_data(charm, name);
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::<Aes256Gcm>::from(nonce),
                Payload {
                    msg: value.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| SecretError::Seal("the cipher refused the value".into()))?;
        Ok((nonce.to_vec(), sealed))
    }

    /// Opens the secret `name` of `charm`.
    ///
    /// # Errors
    /// [`SecretError::WrongKey`] when it does not open: another key sealed
    /// it, or it was sealed for another charm or name, or it was altered.
    pub fn open(
        &self,
        charm: &str,
        name: &str,
        nonce: &[u8],
        sealed: &[u8],
    ) -> Result<String, SecretError> {
        let wrong = || SecretError::WrongKey {
            charm: charm.to_string(),
            name: name.to_string(),
            key: self.origin.clone(),
        };
        let nonce = <[u8; NONCE_BYTES]>::try_from(nonce).map_err(|_| wrong())?;
        let aad = associated_data(charm, name);
        let plain = self
            .cipher
            .decrypt(
                &Nonce::<Aes256Gcm>::from(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| wrong())?;
        String::from_utf8(plain).map_err(|_| wrong())
    }
}

/// Checks a secret name: like a JavaScript identifier (a letter, `_` or
/// `$`, then letters, digits, `_` or `$`; ASCII only), 1 to
/// [`MAX_NAME_CHARS`] characters.
///
/// # Errors
/// [`SecretError::Name`] saying what is wrong.
pub fn check_name(name: &str) -> Result<(), SecretError> {
    let why = if name.is_empty() {
        Some("is empty".to_string())
    } else if name.chars().count() > MAX_NAME_CHARS {
        Some(format!("is longer than {MAX_NAME_CHARS} characters"))
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        Some("starts with a digit".to_string())
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
    {
        Some("may hold only ASCII letters, digits, `_` and `$` (it is `ctx.secrets.NAME`)".into())
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => Err(SecretError::Name {
            name: name.chars().take(MAX_NAME_CHARS).collect(),
            why,
        }),
    }
}

/// Checks a secret value: 1 to [`MAX_VALUE_BYTES`] bytes of UTF-8.
///
/// # Errors
/// [`SecretError::Value`] saying what is wrong (never quoting the value).
pub fn check_value(value: &str) -> Result<(), SecretError> {
    if value.is_empty() {
        Err(SecretError::Value(
            "is empty; to remove a secret, delete it".into(),
        ))
    } else if value.len() > MAX_VALUE_BYTES {
        Err(SecretError::Value(format!(
            "is {} bytes, over the limit of {MAX_VALUE_BYTES}",
            value.len()
        )))
    } else {
        Ok(())
    }
}

/// Charms' secrets: set, listed and removed through the store, sealed
/// with the daemon's key, and opened for each run.
#[derive(Debug, Clone)]
pub struct SecretKeeper {
    store: Arc<dyn Store>,
    key: SecretKey,
}

impl SecretKeeper {
    /// A keeper over `store` with `key`.
    pub fn new(store: Arc<dyn Store>, key: SecretKey) -> SecretKeeper {
        SecretKeeper { store, key }
    }

    /// Sets (or rotates) the secret `name` of `charm` to `value`. Returns
    /// whether it is new.
    ///
    /// # Errors
    /// [`SecretError::Name`], [`SecretError::Value`],
    /// [`SecretError::TooMany`] (at most [`MAX_SECRETS_PER_CHARM`]),
    /// [`SecretError::NoCharm`], or a store failure.
    pub async fn set(&self, charm: &CharmId, name: &str, value: &str) -> Result<bool, SecretError> {
        check_name(name)?;
        check_value(value)?;
        let (nonce, sealed) = self.key.seal(charm.as_str(), name, value)?;
        match self
            .store
            .put_secret(charm, name, &nonce, &sealed, MAX_SECRETS_PER_CHARM)
            .await?
        {
            PutSecret::Created => Ok(true),
            PutSecret::Replaced => Ok(false),
            PutSecret::NoCharm => Err(SecretError::NoCharm(charm.to_string())),
            PutSecret::Full { limit } => Err(SecretError::TooMany {
                charm: charm.to_string(),
                limit,
            }),
        }
    }

    /// The names of a charm's secrets and when each changed, by name.
    ///
    /// # Errors
    /// A store failure.
    pub async fn names(&self, charm: &CharmId) -> Result<Vec<SecretName>, SecretError> {
        Ok(self.store.secret_names(charm).await?)
    }

    /// Removes the secret `name` of `charm`; whether it existed.
    ///
    /// # Errors
    /// [`SecretError::Name`] for a name no secret can have, or a store
    /// failure.
    pub async fn remove(&self, charm: &CharmId, name: &str) -> Result<bool, SecretError> {
        check_name(name)?;
        Ok(self.store.delete_secret(charm, name).await?)
    }

    /// [`SecretKeeper::for_run`] for a charm read with
    /// `Store::charm_for_run`: none read when it has none (most charms, on
    /// every run).
    ///
    /// # Errors
    /// As [`SecretKeeper::for_run`].
    pub async fn for_run_of(
        &self,
        code: &charm_store::CharmCode,
    ) -> Result<charm_engine::Secrets, SecretError> {
        if !code.has_secrets {
            return Ok(charm_engine::Secrets::none());
        }
        self.for_run(&code.id).await
    }

    /// A charm's secrets, opened, for one run (read now: a secret set or
    /// removed since the last run counts).
    ///
    /// # Errors
    /// [`SecretError::WrongKey`] naming the first secret that does not
    /// open, or a store failure.
    pub async fn for_run(&self, charm: &CharmId) -> Result<charm_engine::Secrets, SecretError> {
        let sealed = self.store.sealed_secrets(charm).await?;
        sealed
            .iter()
            .map(|s| {
                let value = self
                    .key
                    .open(charm.as_str(), &s.name, &s.nonce, &s.ciphertext)?;
                Ok((s.name.clone(), value))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::new(&[byte; KEY_BYTES], "test".into()).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_only_for_its_charm_name_and_key() {
        let k = key(1);
        let (nonce, sealed) = k.seal("c1", "API_KEY", "sk-123456").unwrap();
        assert_eq!(nonce.len(), NONCE_BYTES);
        assert!(!sealed.windows(9).any(|w| w == b"sk-123456"));
        assert_eq!(
            k.open("c1", "API_KEY", &nonce, &sealed).unwrap(),
            "sk-123456"
        );
        assert!(
            k.open("c2", "API_KEY", &nonce, &sealed).is_err(),
            "other charm"
        );
        assert!(
            k.open("c1", "OTHER", &nonce, &sealed).is_err(),
            "other name"
        );
        let err = key(2).open("c1", "API_KEY", &nonce, &sealed).unwrap_err();
        assert!(
            err.to_string().contains("secret `API_KEY` of charm `c1`"),
            "{err}"
        );
        assert!(k.open("c1", "API_KEY", &nonce[..4], &sealed).is_err());
        let (again, _) = k.seal("c1", "API_KEY", "sk-123456").unwrap();
        assert_ne!(nonce, again, "a fresh nonce per value");
    }

    #[test]
    fn names_are_identifiers_of_bounded_length() {
        for ok in ["API_KEY", "_x", "$y", "a1", &"a".repeat(MAX_NAME_CHARS)] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1a",
            "a-b",
            "a b",
            "é",
            "a.b",
            &"a".repeat(MAX_NAME_CHARS + 1),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_value("").is_err());
        assert!(check_value(&"x".repeat(MAX_VALUE_BYTES)).is_ok());
        let err = check_value(&"x".repeat(MAX_VALUE_BYTES + 1)).unwrap_err();
        assert!(!err.to_string().contains("xxxx"), "{err}");
    }

    #[test]
    fn a_key_file_is_made_private_and_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(KEY_FILE);
        let made = KeySource::Made(path.clone());
        let first = made.load().unwrap();
        #[cfg(unix)]
        assert_eq!(file_mode(&path), Some(0o600));
        let (nonce, sealed) = first.seal("c", "N", "value-1").unwrap();
        let second = made.load().unwrap();
        assert_eq!(second.open("c", "N", &nonce, &sealed).unwrap(), "value-1");
        let given = KeySource::Given(path.clone()).load().unwrap();
        assert_eq!(given.open("c", "N", &nonce, &sealed).unwrap(), "value-1");
        // Raw bytes work too; a missing given file and a short one do not.
        let raw = dir.path().join("raw");
        std::fs::write(&raw, [7u8; KEY_BYTES]).unwrap();
        assert!(KeySource::Given(raw).load().is_ok());
        let missing = KeySource::Given(dir.path().join("none")).load();
        assert!(matches!(missing, Err(KeyError::Read { .. })));
        let short = dir.path().join("short");
        std::fs::write(&short, "abcd\n").unwrap();
        let err = KeySource::Given(short).load().unwrap_err();
        assert!(err.to_string().contains("wrong size"), "{err}");
        assert!(!format!("{first:?}").contains(&"0".repeat(8)));
    }
}
