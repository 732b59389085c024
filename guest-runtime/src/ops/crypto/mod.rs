//! Web Crypto's native half (`js/56_crypto.js`, `js/57_subtle.js`):
//! randomness, digests, and the keys and operations of `crypto.subtle`.
//!
//! Everything runs here, in the guest, on RustCrypto: it is metered by the
//! run's fuel like any other code, and no key, secret or signature input
//! ever crosses to the host. Randomness comes from WASI `random_get`
//! (through `getrandom`), asked for at each use: nothing random is drawn
//! while the runtime is pre-initialised, so no snapshot holds it.
//!
//! The pieces:
//!
//! * `key.rs`: [`key::Key`], the opaque native object a `CryptoKey` holds,
//!   and how keys are made (import, generation) and exported;
//! * `algorithms.rs`: digest, sign, verify and AES-GCM.
//!
//! The prelude checks arguments, algorithms and usages as the standard
//! says before it calls in here; failures found here (a malformed key, a
//! failed decryption) are thrown as the standard's `DOMException`s.

mod algorithms;
mod key;

use std::cell::OnceCell;

use javy_plugin_api::javy::quickjs::prelude::Func;
use javy_plugin_api::javy::quickjs::{
    ArrayBuffer, Class, Constructor, Ctx, Error as JsError, Exception, Object, Persistent,
    TypedArray, Value,
};

use key::Key;

thread_local! {
    /// The prelude's `DOMException`, captured at load (`host.cryptoInit`).
    static DOM_EXCEPTION: OnceCell<Persistent<Constructor<'static>>> = const { OnceCell::new() };
}

/// The native functions, as `host.crypto*`.
pub fn install(host: &Object<'_>) -> Result<(), JsError> {
    host.set("cryptoInit", Func::from(init))?;
    host.set("cryptoRandom", Func::from(random_fill))?;
    host.set("cryptoBase64UrlEncode", Func::from(base64url_encode))?;
    host.set("cryptoBase64UrlDecode", Func::from(base64url_decode))?;
    host.set("cryptoDigest", Func::from(algorithms::digest))?;
    host.set("cryptoSign", Func::from(algorithms::sign))?;
    host.set("cryptoVerify", Func::from(algorithms::verify))?;
    host.set("cryptoAesGcm", Func::from(algorithms::aes_gcm))?;
    host.set("cryptoKeyInfo", Func::from(key::info))?;
    host.set("cryptoPublicKey", Func::from(key::public_key))?;
    host.set("cryptoGenerateSecret", Func::from(key::generate_secret))?;
    host.set("cryptoGenerateEc", Func::from(key::generate_ec))?;
    host.set("cryptoGenerateRsa", Func::from(key::generate_rsa))?;
    host.set("cryptoImportSecret", Func::from(key::import_secret))?;
    host.set("cryptoImportDer", Func::from(key::import_der))?;
    host.set("cryptoImportEcRaw", Func::from(key::import_ec_raw))?;
    host.set("cryptoImportEcJwk", Func::from(key::import_ec_jwk))?;
    host.set("cryptoImportRsaJwk", Func::from(key::import_rsa_jwk))?;
    host.set("cryptoExportSecret", Func::from(key::export_secret))?;
    host.set("cryptoExportDer", Func::from(key::export_der))?;
    host.set("cryptoExportEcRaw", Func::from(key::export_ec_raw))?;
    host.set("cryptoExportJwk", Func::from(key::export_jwk))?;
    Ok(())
}

/// `host.cryptoInit(DOMException)`: keeps the constructor errors are made
/// with, and registers the key class, once, at load.
fn init<'js>(ctx: Ctx<'js>, dom_exception: Constructor<'js>) -> Result<(), JsError> {
    DOM_EXCEPTION.with(|c| c.set(Persistent::save(&ctx, dom_exception)).ok());
    Class::<Key>::prototype(&ctx)?;
    Ok(())
}

/// The error names of the standard that this side throws.
#[derive(Clone, Copy)]
pub enum Fail {
    NotSupported,
    Data,
    Operation,
    InvalidAccess,
}

impl Fail {
    fn name(self) -> &'static str {
        match self {
            Fail::NotSupported => "NotSupportedError",
            Fail::Data => "DataError",
            Fail::Operation => "OperationError",
            Fail::InvalidAccess => "InvalidAccessError",
        }
    }

    /// Throws a `DOMException` of this name with `message`.
    pub fn throw(self, ctx: &Ctx<'_>, message: impl AsRef<str>) -> JsError {
        let constructor = DOM_EXCEPTION
            .with(|c| c.get().cloned())
            .and_then(|c| c.restore(ctx).ok());
        let Some(constructor) = constructor else {
            return Exception::throw_internal(ctx, "crypto: the runtime was not initialised");
        };
        match constructor.construct::<_, Value>((message.as_ref(), self.name())) {
            Ok(error) => ctx.throw(error),
            Err(e) => e,
        }
    }
}

/// The bytes of a `Uint8Array` (empty if its buffer was detached).
pub fn bytes<'a>(array: &'a TypedArray<'_, u8>) -> &'a [u8] {
    array.as_bytes().unwrap_or(&[])
}

/// A new `ArrayBuffer` holding `bytes`.
pub fn buffer<'js>(ctx: &Ctx<'js>, bytes: impl Into<Vec<u8>>) -> Result<ArrayBuffer<'js>, JsError> {
    ArrayBuffer::new(ctx.clone(), bytes.into())
}

/// Fills `out` from WASI `random_get`.
pub fn fill_random(ctx: &Ctx<'_>, out: &mut [u8]) -> Result<(), JsError> {
    getrandom::fill(out).map_err(|_| no_randomness(ctx))
}

/// The host gave no randomness (WASI `random_get` failed). Its error code
/// is left out: describing it would pull the table of errno names in.
pub fn no_randomness(ctx: &Ctx<'_>) -> JsError {
    Fail::Operation.throw(ctx, "no randomness available: WASI random_get failed")
}

/// `host.cryptoRandom(view)`: fills a `Uint8Array` in place.
fn random_fill<'js>(ctx: Ctx<'js>, view: TypedArray<'js, u8>) -> Result<(), JsError> {
    let Some(raw) = view.as_raw() else {
        return Ok(());
    };
    // SAFETY: `raw` is the live byte range of `view`, which this call
    // holds; nothing else runs while it is written.
    let out = unsafe { std::slice::from_raw_parts_mut(raw.ptr.as_ptr(), raw.len) };
    fill_random(&ctx, out)
}

/// `host.cryptoBase64UrlEncode(bytes)`: base64url without padding (JWK).
fn base64url_encode(bytes: TypedArray<'_, u8>) -> String {
    key::b64(self::bytes(&bytes))
}

/// `host.cryptoBase64UrlDecode(text, what)`: the bytes of a JWK member; a
/// `DataError` if it is not base64url.
fn base64url_decode<'js>(
    ctx: Ctx<'js>,
    text: String,
    what: String,
) -> Result<TypedArray<'js, u8>, JsError> {
    let decoded = key::unb64(&text).ok_or_else(|| {
        Fail::Data.throw(&ctx, format!("the JWK member `{what}` is not base64url"))
    })?;
    TypedArray::new(ctx, decoded)
}
