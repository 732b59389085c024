//! The operations: digest, sign and verify (HMAC, ECDSA, RSASSA-PKCS1-v1_5,
//! RSA-PSS), and AES-GCM encryption.

use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::aes::{Aes128, Aes192, Aes256};
use aes_gcm::{AesGcm, Nonce, Tag};
use getrandom::SysRng;
use hmac::{Hmac, Mac};
use javy_plugin_api::javy::quickjs::{ArrayBuffer, Class, Ctx, Error as JsError, TypedArray};
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use rsa::pss::Pss;
use rsa::Pkcs1v15Sign;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::key::{EcPublic, EcSecret, Key, KeyData};
use super::{buffer, bytes, Fail};

/// The hash functions of `digest` and of the signature algorithms.
#[derive(Clone, Copy)]
enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn parse(ctx: &Ctx<'_>, name: &str) -> Result<Hash, JsError> {
        match name {
            "SHA-1" => Ok(Hash::Sha1),
            "SHA-256" => Ok(Hash::Sha256),
            "SHA-384" => Ok(Hash::Sha384),
            "SHA-512" => Ok(Hash::Sha512),
            _ => Err(Fail::NotSupported.throw(ctx, format!("the hash {name} is not supported"))),
        }
    }
}

/// Runs `$body` with the type `$D` set to the digest of `$hash`.
macro_rules! with_digest {
    ($hash:expr, $D:ident => $body:expr) => {
        match $hash {
            Hash::Sha1 => {
                type $D = Sha1;
                $body
            }
            Hash::Sha256 => {
                type $D = Sha256;
                $body
            }
            Hash::Sha384 => {
                type $D = Sha384;
                $body
            }
            Hash::Sha512 => {
                type $D = Sha512;
                $body
            }
        }
    };
}

fn hash_bytes(hash: Hash, data: &[u8]) -> Vec<u8> {
    with_digest!(hash, D => D::digest(data).to_vec())
}

/// `host.cryptoDigest(hash, data)`.
pub fn digest<'js>(
    ctx: Ctx<'js>,
    hash: String,
    data: TypedArray<'js, u8>,
) -> Result<ArrayBuffer<'js>, JsError> {
    let hash = Hash::parse(&ctx, &hash)?;
    buffer(&ctx, hash_bytes(hash, bytes(&data)))
}

fn hmac(hash: Hash, key: &[u8], data: &[u8]) -> Vec<u8> {
    with_digest!(hash, D => {
        // HMAC takes keys of any length (RFC 2104), so this cannot fail.
        match <Hmac<D> as KeyInit>::new_from_slice(key) {
            Ok(mut mac) => {
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    })
}

/// `host.cryptoSign(algorithm, hash, key, data, saltLength)`: the
/// signature. ECDSA's is r and s, each the curve's size (IEEE P1363), as
/// Web Crypto has it, not DER.
pub fn sign<'js>(
    ctx: Ctx<'js>,
    algorithm: String,
    hash: String,
    key: Class<'js, Key>,
    data: TypedArray<'js, u8>,
    salt_length: u32,
) -> Result<ArrayBuffer<'js>, JsError> {
    let hash = Hash::parse(&ctx, &hash)?;
    let data = bytes(&data);
    let key = key.borrow();
    let failed = |e: &dyn std::fmt::Display| {
        Fail::Operation.throw(&ctx, format!("{algorithm} signing failed: {e}"))
    };
    let ecdsa_failed = |_| Fail::Operation.throw(&ctx, "ECDSA signing failed");
    let signature = match (algorithm.as_str(), &key.0) {
        ("HMAC", KeyData::Secret(secret)) => hmac(hash, secret, data),
        ("ECDSA", KeyData::EcPrivate(k)) => {
            let prehash = hash_bytes(hash, data);
            match k {
                EcSecret::P256(k) => p256::ecdsa::SigningKey::from(k)
                    .sign_prehash(&prehash)
                    .map(|s: p256::ecdsa::Signature| s.to_bytes().to_vec()),
                EcSecret::P384(k) => p384::ecdsa::SigningKey::from(k)
                    .sign_prehash(&prehash)
                    .map(|s: p384::ecdsa::Signature| s.to_bytes().to_vec()),
            }
            .map_err(ecdsa_failed)?
        }
        ("RSASSA-PKCS1-v1_5", KeyData::RsaPrivate(k)) => {
            let hashed = hash_bytes(hash, data);
            let scheme = with_digest!(hash, D => Pkcs1v15Sign::new::<D>());
            k.sign_with_rng(&mut SysRng, scheme, &hashed)
                .map_err(|e| failed(&e))?
        }
        ("RSA-PSS", KeyData::RsaPrivate(k)) => {
            let hashed = hash_bytes(hash, data);
            with_digest!(hash, D => k.sign_with_rng(&mut SysRng, Pss::<D>::new_with_salt(salt_length as usize), &hashed))
                .map_err(|e| failed(&e))?
        }
        _ => {
            return Err(
                Fail::InvalidAccess.throw(&ctx, format!("the key cannot sign with {algorithm}"))
            )
        }
    };
    buffer(&ctx, signature)
}

/// `host.cryptoVerify(algorithm, hash, key, signature, data, saltLength)`:
/// whether the signature is valid; a malformed signature is not.
pub fn verify<'js>(
    ctx: Ctx<'js>,
    algorithm: String,
    hash: String,
    key: Class<'js, Key>,
    signature: TypedArray<'js, u8>,
    data: TypedArray<'js, u8>,
    salt_length: u32,
) -> Result<bool, JsError> {
    let hash = Hash::parse(&ctx, &hash)?;
    let (signature, data) = (bytes(&signature), bytes(&data));
    let key = key.borrow();
    let valid = match (algorithm.as_str(), &key.0) {
        ("HMAC", KeyData::Secret(secret)) => with_digest!(hash, D => {
            match <Hmac<D> as KeyInit>::new_from_slice(secret) {
                Ok(mut mac) => {
                    mac.update(data);
                    mac.verify_slice(signature).is_ok()
                }
                Err(_) => false,
            }
        }),
        ("ECDSA", KeyData::EcPublic(k)) => {
            let prehash = hash_bytes(hash, data);
            ecdsa_verify(k, &prehash, signature)
        }
        ("RSASSA-PKCS1-v1_5", KeyData::RsaPublic(k)) => {
            let hashed = hash_bytes(hash, data);
            let scheme = with_digest!(hash, D => Pkcs1v15Sign::new::<D>());
            k.verify(scheme, &hashed, signature).is_ok()
        }
        ("RSA-PSS", KeyData::RsaPublic(k)) => {
            let hashed = hash_bytes(hash, data);
            with_digest!(hash, D => k.verify(Pss::<D>::new_with_salt(salt_length as usize), &hashed, signature))
                .is_ok()
        }
        _ => {
            return Err(
                Fail::InvalidAccess.throw(&ctx, format!("the key cannot verify with {algorithm}"))
            )
        }
    };
    Ok(valid)
}

/// `host.cryptoAesGcm(encrypt, key, iv, additionalData, tagLength, data)`:
/// the ciphertext with its tag appended, or the plaintext. The IV must be
/// 12 bytes; the tag 4 to 16 bytes (the prelude allows the standard's
/// lengths: 32, 64, 96, 104, 112, 120 and 128 bits).
pub fn aes_gcm<'js>(
    ctx: Ctx<'js>,
    encrypt: bool,
    key: Class<'js, Key>,
    iv: TypedArray<'js, u8>,
    additional_data: TypedArray<'js, u8>,
    tag_bytes: u32,
    data: TypedArray<'js, u8>,
) -> Result<ArrayBuffer<'js>, JsError> {
    let key = key.borrow();
    let KeyData::Secret(secret) = &key.0 else {
        return Err(Fail::InvalidAccess.throw(&ctx, "the key is not an AES key"));
    };
    let iv = bytes(&iv);
    let Ok(nonce) = Nonce::<U12>::try_from(iv) else {
        return Err(Fail::NotSupported.throw(
            &ctx,
            format!(
                "AES-GCM IVs of {} bytes are not supported: use 12 bytes (96 bits)",
                iv.len()
            ),
        ));
    };
    let tag_len = tag_bytes as usize;
    if !(4..=16).contains(&tag_len) {
        return Err(Fail::Operation.throw(
            &ctx,
            format!("the tag length {} is not supported", tag_len * 8),
        ));
    }
    let (aad, data) = (bytes(&additional_data), bytes(&data));
    let result = match secret.len() {
        16 => gcm::<Aes128>(secret, &nonce, aad, data, tag_len, encrypt),
        24 => gcm::<Aes192>(secret, &nonce, aad, data, tag_len, encrypt),
        32 => gcm::<Aes256>(secret, &nonce, aad, data, tag_len, encrypt),
        n => {
            return Err(
                Fail::Operation.throw(&ctx, format!("an AES key of {} bits is not valid", n * 8))
            )
        }
    };
    match result {
        Some(out) => buffer(&ctx, out),
        None if encrypt => Err(Fail::Operation.throw(&ctx, "AES-GCM encryption failed: the data is too long")),
        None => Err(Fail::Operation.throw(
            &ctx,
            "AES-GCM decryption failed: the data, additional data, IV, tag length or key do not match what was encrypted",
        )),
    }
}

/// AES-GCM with a full tag, truncated to `tag_len`: the standard's shorter
/// tags are the first bytes of the full one (NIST SP 800-38D, 7.1).
fn gcm<A>(
    key: &[u8],
    nonce: &Nonce<U12>,
    aad: &[u8],
    data: &[u8],
    tag_len: usize,
    encrypt: bool,
) -> Option<Vec<u8>>
where
    AesGcm<A, U12>: KeyInit + AeadInOut<NonceSize = U12, TagSize = U16>,
{
    let cipher = <AesGcm<A, U12> as KeyInit>::new_from_slice(key).ok()?;
    if encrypt {
        let mut out = data.to_vec();
        let tag = cipher
            .encrypt_inout_detached(nonce, aad, out.as_mut_slice().into())
            .ok()?;
        out.extend_from_slice(&tag[..tag_len]);
        return Some(out);
    }
    let body_len = data.len().checked_sub(tag_len)?;
    let (body, tag) = data.split_at(body_len);
    let mut out = body.to_vec();
    if tag_len == 16 {
        let tag = Tag::<U16>::try_from(tag).ok()?;
        cipher
            .decrypt_inout_detached(nonce, aad, out.as_mut_slice().into(), &tag)
            .ok()?;
        return Some(out);
    }
    // A short tag: CTR mode is its own inverse, so encrypting the ciphertext
    // gives the plaintext; encrypting that again gives the ciphertext back
    // with its full tag, whose first bytes must be the given tag.
    cipher
        .encrypt_inout_detached(nonce, aad, out.as_mut_slice().into())
        .ok()?;
    let mut again = out.clone();
    let full = cipher
        .encrypt_inout_detached(nonce, aad, again.as_mut_slice().into())
        .ok()?;
    let mismatch = full[..tag_len]
        .iter()
        .zip(tag)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if mismatch != 0 {
        out.iter_mut().for_each(|b| *b = 0);
        return None;
    }
    Some(out)
}

fn ecdsa_verify(key: &EcPublic, prehash: &[u8], signature: &[u8]) -> bool {
    match key {
        EcPublic::P256(k) => p256::ecdsa::Signature::from_slice(signature).is_ok_and(|s| {
            p256::ecdsa::VerifyingKey::from(k)
                .verify_prehash(prehash, &s)
                .is_ok()
        }),
        EcPublic::P384(k) => p384::ecdsa::Signature::from_slice(signature).is_ok_and(|s| {
            p384::ecdsa::VerifyingKey::from(k)
                .verify_prehash(prehash, &s)
                .is_ok()
        }),
    }
}
