//! Keys: the opaque native object behind each `CryptoKey`, and how keys
//! are imported, generated and exported.
//!
//! A [`Key`] is a QuickJS object with no properties whose Rust payload is
//! the parsed key; the prelude keeps it in a private field of the
//! `CryptoKey`, so a charm can reach a key's material only through
//! `exportKey`, and only if the key is extractable. Keys are parsed once,
//! at import, and freed with their `CryptoKey`.

use base64ct::{Base64UrlUnpadded, Encoding};
use getrandom::SysRng;
use javy_plugin_api::javy::quickjs::class::{JsClass, Readable, Trace, Tracer};
use javy_plugin_api::javy::quickjs::{
    Array, ArrayBuffer, Class, Constructor, Ctx, Error as JsError, JsLifetime, Object, TypedArray,
};
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::elliptic_curve::Generate;
use pkcs8::der::Decode;
use pkcs8::{EncodePrivateKey, EncodePublicKey, ObjectIdentifier, PrivateKeyInfoRef};
use rsa::pkcs1::{EncodeRsaPrivateKey, RsaPrivateKeyRef};
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, PrivateKey as RsaPrivateKey, PublicKey as RsaPublicKey};
use spki::SubjectPublicKeyInfoRef;

use super::{buffer, bytes, Fail};

/// id-ecPublicKey (RFC 5480).
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// rsaEncryption (RFC 8017): the only RSA key identifier Web Crypto accepts.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// secp256r1 and secp384r1 (RFC 5480).
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
/// secp521r1, named to say it is not supported rather than unknown.
const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// The RSA moduli this runtime makes and accepts, in bits.
const RSA_MIN_BITS: u32 = 1024;
const RSA_MAX_BITS: u32 = 4096;

/// The curves of ECDSA keys.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
}

impl Curve {
    fn parse(ctx: &Ctx<'_>, name: &str) -> Result<Curve, JsError> {
        match name {
            "P-256" => Ok(Curve::P256),
            "P-384" => Ok(Curve::P384),
            _ => Err(Fail::NotSupported.throw(
                ctx,
                format!("the curve {name} is not supported (P-256 and P-384 are)"),
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
        }
    }

    /// The size of a coordinate, a scalar, and half a signature, in bytes.
    pub fn field_bytes(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }

    fn from_oid(ctx: &Ctx<'_>, oid: ObjectIdentifier) -> Result<Curve, JsError> {
        match oid {
            SECP256R1 => Ok(Curve::P256),
            SECP384R1 => Ok(Curve::P384),
            SECP521R1 => Err(Fail::NotSupported.throw(
                ctx,
                "the curve P-521 is not supported (P-256 and P-384 are)",
            )),
            other => Err(Fail::Data.throw(
                ctx,
                format!("the key's curve ({other}) is not a named curve of Web Crypto"),
            )),
        }
    }
}

/// An elliptic-curve private key.
pub enum EcSecret {
    P256(p256::SecretKey),
    P384(p384::SecretKey),
}

/// An elliptic-curve public key.
pub enum EcPublic {
    P256(p256::PublicKey),
    P384(p384::PublicKey),
}

/// Runs `$body` with `$k` bound to the curve-specific key inside `$key`
/// (an [`EcSecret`] or [`EcPublic`]); each arm is typed on its own.
macro_rules! on_curve {
    ($enum:ident, $key:expr, $k:ident => $body:expr) => {
        match $key {
            $enum::P256($k) => $body,
            $enum::P384($k) => $body,
        }
    };
}

impl EcSecret {
    fn curve(&self) -> Curve {
        match self {
            EcSecret::P256(_) => Curve::P256,
            EcSecret::P384(_) => Curve::P384,
        }
    }

    fn public(&self) -> EcPublic {
        match self {
            EcSecret::P256(k) => EcPublic::P256(k.public_key()),
            EcSecret::P384(k) => EcPublic::P384(k.public_key()),
        }
    }
}

impl EcPublic {
    fn curve(&self) -> Curve {
        match self {
            EcPublic::P256(_) => Curve::P256,
            EcPublic::P384(_) => Curve::P384,
        }
    }

    /// The uncompressed point: 0x04, x, y.
    fn point(&self) -> Vec<u8> {
        on_curve!(EcPublic, self, k => k.to_sec1_point(false).as_bytes().to_vec())
    }

    fn from_sec1(curve: Curve, point: &[u8]) -> Option<EcPublic> {
        match curve {
            Curve::P256 => p256::PublicKey::from_sec1_bytes(point)
                .ok()
                .map(EcPublic::P256),
            Curve::P384 => p384::PublicKey::from_sec1_bytes(point)
                .ok()
                .map(EcPublic::P384),
        }
    }
}

/// What a key is.
pub enum KeyData {
    /// HMAC and AES: the secret's bytes.
    Secret(Vec<u8>),
    EcPrivate(EcSecret),
    EcPublic(EcPublic),
    RsaPrivate(Box<RsaPrivateKey>),
    RsaPublic(Box<RsaPublicKey>),
}

/// The native object a `CryptoKey` holds.
pub struct Key(pub KeyData);

impl Drop for Key {
    fn drop(&mut self) {
        // The RustCrypto keys zero themselves; a secret is zeroed here.
        if let KeyData::Secret(secret) = &mut self.0 {
            secret.iter_mut().for_each(|b| *b = 0);
        }
    }
}

// SAFETY: `Key` holds no JavaScript values, so it has no lifetime to change.
unsafe impl<'js> JsLifetime<'js> for Key {
    type Changed<'to> = Key;
}

impl<'js> Trace<'js> for Key {
    fn trace<'a>(&self, _tracer: Tracer<'a, 'js>) {}
}

impl<'js> JsClass<'js> for Key {
    const NAME: &'static str = "CryptoKeyData";
    type Mutable = Readable;

    /// No prototype: the object has no properties and no methods.
    fn prototype(_ctx: &Ctx<'js>) -> Result<Option<Object<'js>>, JsError> {
        Ok(None)
    }

    fn constructor(_ctx: &Ctx<'js>) -> Result<Option<Constructor<'js>>, JsError> {
        Ok(None)
    }
}

fn new_key<'js>(ctx: &Ctx<'js>, data: KeyData) -> Result<Class<'js, Key>, JsError> {
    Class::instance(ctx.clone(), Key(data))
}

/// base64url without padding, as JWK members are written.
pub fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// The bytes of a base64url JWK member; trailing padding is tolerated.
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(text.trim_end_matches('=')).ok()
}

/// `bytes` without leading zero bytes (JWK's RSA integers are minimal).
fn minimal(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// `host.cryptoKeyInfo(key)`: `{type, family, curve?, modulusLength?,
/// publicExponent?}`, for the `CryptoKey`'s attributes and checks.
pub fn info<'js>(ctx: Ctx<'js>, key: Class<'js, Key>) -> Result<Object<'js>, JsError> {
    let out = Object::new(ctx.clone())?;
    let rsa_parts = |out: &Object<'js>, public: &RsaPublicKey| -> Result<(), JsError> {
        let modulus_bits = public.n().as_ref().bit_width_vartime();
        out.set("modulusLength", modulus_bits)?;
        let exponent = public.e().to_be_bytes();
        out.set(
            "publicExponent",
            TypedArray::<u8>::new(ctx.clone(), minimal(&exponent).to_vec())?,
        )
    };
    match &key.borrow().0 {
        KeyData::Secret(secret) => {
            out.set("type", "secret")?;
            out.set("family", "oct")?;
            out.set("bytes", secret.len())?;
        }
        KeyData::EcPrivate(k) => {
            out.set("type", "private")?;
            out.set("family", "EC")?;
            out.set("curve", k.curve().name())?;
        }
        KeyData::EcPublic(k) => {
            out.set("type", "public")?;
            out.set("family", "EC")?;
            out.set("curve", k.curve().name())?;
        }
        KeyData::RsaPrivate(k) => {
            out.set("type", "private")?;
            out.set("family", "RSA")?;
            rsa_parts(&out, k.as_public_key())?;
        }
        KeyData::RsaPublic(k) => {
            out.set("type", "public")?;
            out.set("family", "RSA")?;
            rsa_parts(&out, k)?;
        }
    }
    Ok(out)
}

/// `host.cryptoPublicKey(privateKey)`: the public half of a key pair.
pub fn public_key<'js>(ctx: Ctx<'js>, key: Class<'js, Key>) -> Result<Class<'js, Key>, JsError> {
    let public = match &key.borrow().0 {
        KeyData::EcPrivate(k) => KeyData::EcPublic(k.public()),
        KeyData::RsaPrivate(k) => KeyData::RsaPublic(Box::new(k.to_public_key())),
        _ => return Err(Fail::InvalidAccess.throw(&ctx, "the key is not a private key")),
    };
    new_key(&ctx, public)
}

/// `host.cryptoGenerateSecret(bits)`: a random secret key of `bits` bits
/// (the bits past the last whole byte are zero).
pub fn generate_secret<'js>(ctx: Ctx<'js>, bits: u32) -> Result<Class<'js, Key>, JsError> {
    let mut secret = vec![0u8; bits.div_ceil(8) as usize];
    super::fill_random(&ctx, &mut secret)?;
    if bits % 8 != 0 {
        if let Some(last) = secret.last_mut() {
            *last &= 0xff << (8 - bits % 8);
        }
    }
    new_key(&ctx, KeyData::Secret(secret))
}

/// `host.cryptoGenerateEc(curve)`: a new private key.
pub fn generate_ec<'js>(ctx: Ctx<'js>, curve: String) -> Result<Class<'js, Key>, JsError> {
    let fail = |_| super::no_randomness(&ctx);
    let secret = match Curve::parse(&ctx, &curve)? {
        Curve::P256 => {
            EcSecret::P256(p256::SecretKey::try_generate_from_rng(&mut SysRng).map_err(fail)?)
        }
        Curve::P384 => {
            EcSecret::P384(p384::SecretKey::try_generate_from_rng(&mut SysRng).map_err(fail)?)
        }
    };
    new_key(&ctx, KeyData::EcPrivate(secret))
}

/// `host.cryptoGenerateRsa(modulusLength, publicExponent)`: a new private
/// key. This is slow: a 2048-bit key costs billions of fuel (see the
/// README's Web Crypto section).
pub fn generate_rsa<'js>(
    ctx: Ctx<'js>,
    bits: u32,
    exponent: TypedArray<'js, u8>,
) -> Result<Class<'js, Key>, JsError> {
    if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) || bits % 8 != 0 {
        return Err(Fail::Operation.throw(
            &ctx,
            format!(
                "modulusLength {bits} is not supported: it must be a multiple of 8 from {RSA_MIN_BITS} to {RSA_MAX_BITS}"
            ),
        ));
    }
    let exponent = minimal(bytes(&exponent));
    let e = match exponent {
        [3] => 3u64,
        [1, 0, 1] => 65537,
        _ => {
            return Err(Fail::Operation.throw(
                &ctx,
                "the publicExponent is not supported: use 65537 ([1, 0, 1]) or 3",
            ))
        }
    };
    let key = RsaPrivateKey::new_with_exp(&mut SysRng, bits as usize, BoxedUint::from(e))
        .map_err(|e| Fail::Operation.throw(&ctx, format!("RSA key generation failed: {e}")))?;
    new_key(&ctx, KeyData::RsaPrivate(Box::new(key)))
}

/// `host.cryptoImportSecret(bytes)`.
pub fn import_secret<'js>(
    ctx: Ctx<'js>,
    secret: TypedArray<'js, u8>,
) -> Result<Class<'js, Key>, JsError> {
    new_key(&ctx, KeyData::Secret(bytes(&secret).to_vec()))
}

/// `host.cryptoImportDer(format, bytes)`: an `spki` public key or a `pkcs8`
/// private key, EC (P-256, P-384) or RSA (rsaEncryption); the prelude
/// checks the kind against the algorithm asked for.
pub fn import_der<'js>(
    ctx: Ctx<'js>,
    format: String,
    der: TypedArray<'js, u8>,
) -> Result<Class<'js, Key>, JsError> {
    let der = bytes(&der);
    // The parsers' own error descriptions are left out: their Display code
    // and tables would cost the runtime tens of kilobytes.
    let malformed = |what: &str| Fail::Data.throw(&ctx, format!("the {what} is malformed"));
    let data = if format == "spki" {
        let info = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|_| malformed("SubjectPublicKeyInfo (spki)"))?;
        match info.algorithm.oid {
            EC_PUBLIC_KEY => {
                let curve_oid = info
                    .algorithm
                    .parameters_oid()
                    .map_err(|_| malformed("EC key's curve"))?;
                let public = match Curve::from_oid(&ctx, curve_oid)? {
                    Curve::P256 => p256::PublicKey::try_from(info).map(EcPublic::P256),
                    Curve::P384 => p384::PublicKey::try_from(info).map(EcPublic::P384),
                }
                .map_err(|_| malformed("EC public key"))?;
                KeyData::EcPublic(public)
            }
            RSA_ENCRYPTION => {
                let public =
                    RsaPublicKey::try_from(info).map_err(|_| malformed("RSA public key"))?;
                check_modulus(&ctx, &public)?;
                KeyData::RsaPublic(Box::new(public))
            }
            other => return Err(unknown_algorithm(&ctx, other)),
        }
    } else {
        let info =
            PrivateKeyInfoRef::from_der(der).map_err(|_| malformed("PrivateKeyInfo (pkcs8)"))?;
        match info.algorithm.oid {
            EC_PUBLIC_KEY => {
                let curve_oid = info
                    .algorithm
                    .parameters_oid()
                    .map_err(|_| malformed("EC key's curve"))?;
                let secret = match Curve::from_oid(&ctx, curve_oid)? {
                    Curve::P256 => p256::SecretKey::try_from(info).map(EcSecret::P256),
                    Curve::P384 => p384::SecretKey::try_from(info).map(EcSecret::P384),
                }
                .map_err(|_| malformed("EC private key"))?;
                KeyData::EcPrivate(secret)
            }
            RSA_ENCRYPTION => {
                let private =
                    RsaPrivateKey::try_from(info).map_err(|_| malformed("RSA private key"))?;
                check_modulus(&ctx, private.as_public_key())?;
                KeyData::RsaPrivate(Box::new(private))
            }
            other => return Err(unknown_algorithm(&ctx, other)),
        }
    };
    new_key(&ctx, data)
}

fn unknown_algorithm(ctx: &Ctx<'_>, oid: ObjectIdentifier) -> JsError {
    Fail::Data.throw(
        ctx,
        format!("the key's algorithm ({oid}) is neither id-ecPublicKey nor rsaEncryption"),
    )
}

/// RSA moduli are limited: verifying with a huge key is a way to burn fuel
/// no faster than any loop, but keys past 4096 bits are not in use.
fn check_modulus(ctx: &Ctx<'_>, key: &RsaPublicKey) -> Result<(), JsError> {
    let bits = key.n().as_ref().bit_width_vartime();
    if (RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(Fail::Data.throw(
            ctx,
            format!("RSA keys of {bits} bits are not supported: the modulus must have {RSA_MIN_BITS} to {RSA_MAX_BITS} bits"),
        ))
    }
}

/// `host.cryptoImportEcRaw(curve, bytes)`: a public point (uncompressed
/// or compressed).
pub fn import_ec_raw<'js>(
    ctx: Ctx<'js>,
    curve: String,
    point: TypedArray<'js, u8>,
) -> Result<Class<'js, Key>, JsError> {
    let curve = Curve::parse(&ctx, &curve)?;
    let public = EcPublic::from_sec1(curve, bytes(&point)).ok_or_else(|| {
        Fail::Data.throw(
            &ctx,
            format!("the bytes are not a point on {}", curve.name()),
        )
    })?;
    new_key(&ctx, KeyData::EcPublic(public))
}

/// `host.cryptoImportEcJwk(curve, x, y, d?)`: the decoded members of an EC
/// JWK. A private key's `x` and `y` must be its public key.
pub fn import_ec_jwk<'js>(
    ctx: Ctx<'js>,
    curve: String,
    x: TypedArray<'js, u8>,
    y: TypedArray<'js, u8>,
    d: Option<TypedArray<'js, u8>>,
) -> Result<Class<'js, Key>, JsError> {
    let curve = Curve::parse(&ctx, &curve)?;
    let size = curve.field_bytes();
    let (x, y) = (bytes(&x), bytes(&y));
    if x.len() != size || y.len() != size {
        return Err(Fail::Data.throw(
            &ctx,
            format!(
                "the JWK's x and y must be {size} bytes each for {}",
                curve.name()
            ),
        ));
    }
    let mut point = Vec::with_capacity(1 + 2 * size);
    point.push(4);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    let public = EcPublic::from_sec1(curve, &point).ok_or_else(|| {
        Fail::Data.throw(
            &ctx,
            format!("the JWK's x and y are not a point on {}", curve.name()),
        )
    })?;
    let Some(d) = d else {
        return new_key(&ctx, KeyData::EcPublic(public));
    };
    let d = bytes(&d);
    if d.len() != size {
        return Err(Fail::Data.throw(
            &ctx,
            format!("the JWK's d must be {size} bytes for {}", curve.name()),
        ));
    }
    let secret = match curve {
        Curve::P256 => p256::SecretKey::from_slice(d).map(EcSecret::P256),
        Curve::P384 => p384::SecretKey::from_slice(d).map(EcSecret::P384),
    }
    .map_err(|_| {
        Fail::Data.throw(
            &ctx,
            format!("the JWK's d is not a private key on {}", curve.name()),
        )
    })?;
    if secret.public().point() != point {
        return Err(Fail::Data.throw(&ctx, "the JWK's x and y are not the public key of its d"));
    }
    new_key(&ctx, KeyData::EcPrivate(secret))
}

/// `host.cryptoImportRsaJwk([n, e, d?, p?, q?, dp?, dq?, qi?])`: the
/// decoded members of an RSA JWK (undefined where absent). With `p` and
/// `q`, the CRT members must be the key's.
pub fn import_rsa_jwk<'js>(ctx: Ctx<'js>, members: Array<'js>) -> Result<Class<'js, Key>, JsError> {
    let mut parts: Vec<Option<Vec<u8>>> = Vec::with_capacity(8);
    for i in 0..8 {
        let member: Option<TypedArray<'js, u8>> = members.get(i)?;
        parts.push(member.map(|m| bytes(&m).to_vec()));
    }
    let bad =
        |what: &str| Fail::Data.throw(&ctx, format!("the RSA JWK is not a valid key: {what}"));
    let (Some(n), Some(e)) = (&parts[0], &parts[1]) else {
        return Err(bad("n and e are required"));
    };
    let n_bits = u32::try_from(n.len() * 8).map_err(|_| bad("n is too large"))?;
    let uint = |b: &[u8], bits: u32| {
        BoxedUint::from_be_slice(b, bits).map_err(|_| bad("a member is longer than n"))
    };
    let n_uint = uint(n, n_bits)?;
    let e_uint = uint(
        e,
        u32::try_from(e.len() * 8).map_err(|_| bad("e is too large"))?,
    )?;
    let Some(d) = &parts[2] else {
        let public = RsaPublicKey::new(n_uint, e_uint).map_err(|e| bad(&e.to_string()))?;
        check_modulus(&ctx, &public)?;
        return new_key(&ctx, KeyData::RsaPublic(Box::new(public)));
    };
    let d_uint = uint(d, n_bits)?;
    let crt = &parts[3..8];
    let primes = match crt {
        [Some(p), Some(q), Some(_), Some(_), Some(_)] => vec![uint(p, n_bits)?, uint(q, n_bits)?],
        [None, None, None, None, None] => Vec::new(),
        _ => return Err(bad("p, q, dp, dq and qi must all be present, or none")),
    };
    let private = RsaPrivateKey::from_components(n_uint, e_uint, d_uint, primes)
        .map_err(|e| bad(&e.to_string()))?;
    check_modulus(&ctx, private.as_public_key())?;
    if crt[0].is_some() {
        let fields = rsa_private_fields(&ctx, &private)?;
        let given = crt.iter().map(|m| m.as_deref().map(minimal));
        if !fields[3..8].iter().map(|f| Some(minimal(f))).eq(given) {
            return Err(bad("its p, q, dp, dq and qi do not belong together"));
        }
    }
    new_key(&ctx, KeyData::RsaPrivate(Box::new(private)))
}

/// n, e, d, p, q, dp, dq, qi of a private key, minimal big-endian, as its
/// PKCS#1 encoding has them.
fn rsa_private_fields(ctx: &Ctx<'_>, key: &RsaPrivateKey) -> Result<Vec<Vec<u8>>, JsError> {
    let fail = || Fail::Operation.throw(ctx, "the RSA key cannot be encoded");
    let der = key.to_pkcs1_der().map_err(|_| fail())?;
    let parsed = RsaPrivateKeyRef::from_der(der.as_bytes()).map_err(|_| fail())?;
    Ok([
        parsed.modulus,
        parsed.public_exponent,
        parsed.private_exponent,
        parsed.prime1,
        parsed.prime2,
        parsed.exponent1,
        parsed.exponent2,
        parsed.coefficient,
    ]
    .iter()
    .map(|u| minimal(u.as_bytes()).to_vec())
    .collect())
}

/// `host.cryptoExportSecret(key)`: a secret's bytes.
pub fn export_secret<'js>(
    ctx: Ctx<'js>,
    key: Class<'js, Key>,
) -> Result<ArrayBuffer<'js>, JsError> {
    match &key.borrow().0 {
        KeyData::Secret(secret) => buffer(&ctx, secret.clone()),
        _ => Err(Fail::InvalidAccess.throw(&ctx, "the key is not a secret key")),
    }
}

/// `host.cryptoExportDer(key, format)`: `spki` for a public key, `pkcs8`
/// for a private key.
pub fn export_der<'js>(
    ctx: Ctx<'js>,
    key: Class<'js, Key>,
    format: String,
) -> Result<ArrayBuffer<'js>, JsError> {
    let fail = || Fail::Operation.throw(&ctx, "the key cannot be encoded");
    let der: Vec<u8> = match (&key.borrow().0, format.as_str()) {
        (KeyData::EcPublic(k), "spki") => {
            on_curve!(EcPublic, k, k => k.to_public_key_der().map_err(|_| fail())?.into_vec())
        }
        (KeyData::RsaPublic(k), "spki") => k.to_public_key_der().map_err(|_| fail())?.into_vec(),
        (KeyData::EcPrivate(k), "pkcs8") => {
            on_curve!(EcSecret, k, k => k.to_pkcs8_der().map_err(|_| fail())?.as_bytes().to_vec())
        }
        (KeyData::RsaPrivate(k), "pkcs8") => {
            k.to_pkcs8_der().map_err(|_| fail())?.as_bytes().to_vec()
        }
        (_, "spki") => {
            return Err(Fail::InvalidAccess.throw(&ctx, "only a public key can be exported as spki"))
        }
        _ => {
            return Err(
                Fail::InvalidAccess.throw(&ctx, "only a private key can be exported as pkcs8")
            )
        }
    };
    buffer(&ctx, der)
}

/// `host.cryptoExportEcRaw(key)`: the uncompressed point of a public key.
pub fn export_ec_raw<'js>(
    ctx: Ctx<'js>,
    key: Class<'js, Key>,
) -> Result<ArrayBuffer<'js>, JsError> {
    match &key.borrow().0 {
        KeyData::EcPublic(k) => buffer(&ctx, k.point()),
        _ => Err(Fail::InvalidAccess.throw(&ctx, "only a public key can be exported as raw")),
    }
}

/// `host.cryptoExportJwk(key)`: the key members of an EC or RSA JWK
/// (`crv`, `x`, `y`, `d`; `n`, `e`, `d`, `p`, `q`, `dp`, `dq`, `qi`).
pub fn export_jwk<'js>(ctx: Ctx<'js>, key: Class<'js, Key>) -> Result<Object<'js>, JsError> {
    let jwk = Object::new(ctx.clone())?;
    let ec_public = |jwk: &Object<'js>, public: &EcPublic| -> Result<(), JsError> {
        let point = public.point();
        let size = public.curve().field_bytes();
        jwk.set("crv", public.curve().name())?;
        jwk.set("x", b64(&point[1..1 + size]))?;
        jwk.set("y", b64(&point[1 + size..]))
    };
    match &key.borrow().0 {
        KeyData::EcPublic(k) => ec_public(&jwk, k)?,
        KeyData::EcPrivate(k) => {
            ec_public(&jwk, &k.public())?;
            let d = on_curve!(EcSecret, k, k => b64(&k.to_bytes()));
            jwk.set("d", d)?;
        }
        KeyData::RsaPublic(k) => {
            jwk.set("n", b64(minimal(&k.n().as_ref().to_be_bytes())))?;
            jwk.set("e", b64(minimal(&k.e().to_be_bytes())))?;
        }
        KeyData::RsaPrivate(k) => {
            let fields = rsa_private_fields(&ctx, k)?;
            for (name, value) in ["n", "e", "d", "p", "q", "dp", "dq", "qi"]
                .iter()
                .zip(&fields)
            {
                jwk.set(*name, b64(value))?;
            }
        }
        KeyData::Secret(_) => {
            return Err(Fail::InvalidAccess.throw(&ctx, "a secret key's JWK is made by the prelude"))
        }
    }
    Ok(jwk)
}
