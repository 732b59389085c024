//! Web Crypto in the sandbox: `crypto.getRandomValues`, `randomUUID` and
//! `crypto.subtle`, tested through the real binary on the standards' and
//! RFCs' own test vectors (FIPS 180-4, RFC 4231, RFC 2202, the GCM
//! specification, RFC 6979), with every error the standard names; and two
//! integrations against loopback servers that check the charm's signatures
//! with `ring`, an implementation independent of the guest's RustCrypto:
//! an HMAC-signed webhook and a service account's JWT (RS256 and ES256).

mod support;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};
use serde_json::{json, Value};
use support::{run_fixture, Ran, Reply, SeenRequest, TestServer};

/// A 2048-bit RSA key made for these tests (`openssl genpkey`), PKCS#8 PEM.
const RSA_KEY_PEM: &str = include_str!("data/rsa-2048-test-key.pem");

fn ok(ran: &Ran) -> Value {
    assert_eq!(ran.code, 0, "{ran:?}");
    ran.state()
}

fn run(fixture: &str, input: Value) -> Value {
    ok(&run_fixture(fixture, &["--input", &input.to_string()]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).expect("PEM base64")
}

fn der_to_pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

/// Asserts that each `(field, prefix)` of `errors` starts with `prefix`
/// (the error's name and, for a DOMException, its code).
fn assert_errors(errors: &Value, expected: &[(&str, &str)]) {
    for (field, prefix) in expected {
        let got = errors[field].as_str().unwrap_or("(missing)");
        assert!(
            got.starts_with(prefix),
            "{field}: expected `{prefix}...`, got `{got}`"
        );
    }
}

#[test]
fn get_random_values_and_random_uuid_follow_the_standard() {
    let state = run("crypto-random.js", json!(null));
    assert_eq!(state["returnsItsArgument"], true);
    assert_eq!(state["filled"], true);
    assert_eq!(state["uint32"], 4);
    assert_eq!(state["bigint"], "bigint");
    assert_eq!(state["clamped"], 8);
    assert_eq!(state["largest"], 65536);
    assert_eq!(state["outsideTheView"], json!([0, 0, 0, 0, 0, 0, 0, 0]));
    assert_errors(
        &state,
        &[
            (
                "tooLarge",
                "QuotaExceededError (code 22): Crypto.getRandomValues: 65537 bytes",
            ),
            (
                "tooLargeWords",
                "QuotaExceededError (code 22): Crypto.getRandomValues: 65540 bytes",
            ),
            (
                "float32",
                "TypeMismatchError (code 17): Crypto.getRandomValues: a Float32Array is not",
            ),
            ("float64", "TypeMismatchError (code 17)"),
            (
                "dataView",
                "TypeMismatchError (code 17): Crypto.getRandomValues: a DataView is not",
            ),
            ("plainArray", "TypeError"),
        ],
    );
    assert_eq!(state["uuidsAreV4"], true);
    assert_eq!(state["distinctUuids"], 200);
}

#[test]
fn crypto_is_a_readonly_global_whose_interfaces_charms_cannot_construct() {
    let state = run("crypto-random.js", json!(null));
    assert_eq!(state["isCrypto"], true);
    assert_eq!(state["subtleIsSubtleCrypto"], true);
    assert_eq!(state["sameSubtle"], true);
    assert_eq!(state["toStringTag"], "[object Crypto]");
    assert_eq!(
        state["descriptor"],
        json!({"get": "function", "set": "undefined", "enumerable": true, "configurable": true})
    );
    // A module is strict code: assigning to a getter-only property throws.
    assert_errors(
        &state,
        &[
            ("assign", "TypeError"),
            ("newCrypto", "TypeError: Illegal constructor"),
            ("newSubtleCrypto", "TypeError: Illegal constructor"),
            ("newCryptoKey", "TypeError: Illegal constructor"),
            (
                "detachedMethod",
                "TypeError: Crypto.getRandomValues: illegal invocation",
            ),
        ],
    );
    assert_eq!(state["stillCrypto"], true);
    assert_eq!(
        state["methodsEnumerable"],
        json!(["getRandomValues", "randomUUID", "subtle"])
    );
}

#[test]
fn randomness_is_drawn_per_run_not_baked_into_the_snapshot() {
    let first = run("crypto-random.js", json!(null));
    let second = run("crypto-random.js", json!(null));
    assert_ne!(first["uuid"], second["uuid"]);
    assert_ne!(first["randomHex"], second["randomHex"]);
}

#[test]
fn digest_gives_fips_180_4s_values() {
    let state = run("crypto-digest.js", json!(null));
    let expected = [
        (
            "SHA-1",
            "a9993e364706816aba3e25717850c26c9cd0d89d",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
        ),
        (
            "SHA-256",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ),
        (
            "SHA-384",
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
             8086072ba1e7cc2358baeca134c825a7",
            "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da\
             274edebfe76f65fbd51ad2f14898b95b",
            "3391fdddfc8dc7393707a65b1b4709397cf8b1d162af05abfe8f450de5f36bc6\
             b0455a8520bc4e6f5fe95b1fe3c8452b",
        ),
        (
            "SHA-512",
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce\
             47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
            "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335\
             96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445",
        ),
    ];
    for (name, abc, empty, two_blocks) in expected {
        assert_eq!(state[name]["abc"], abc, "{name}(\"abc\")");
        assert_eq!(state[name]["empty"], empty, "{name}(\"\")");
        assert_eq!(state[name]["twoBlocks"], two_blocks, "{name}(448 bits)");
    }
    assert_eq!(
        state["millionA"],
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    );
    let abc256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    let ab = "fb8e20fc2e4c3f248c60c39bd652f3c1347298bb977b8b4d5903b85055620603";
    assert_eq!(state["kinds"], json!([abc256, abc256, abc256, ab]));
    assert_eq!(state["returnsPromise"], true);
    assert_eq!(state["resultIsArrayBuffer"], true);
    assert_errors(
        &state["errors"],
        &[
            ("unknown", "NotSupportedError: SubtleCrypto.digest: the algorithm \"SHA-224\" is not supported for digest (supported: SHA-1, SHA-256, SHA-384, SHA-512)"),
            ("md5", "NotSupportedError"),
            ("noName", "TypeError: SubtleCrypto.digest: the algorithm: the name member is required"),
            ("notBytes", "TypeError: SubtleCrypto.digest: data must be an ArrayBuffer, a typed array or a DataView"),
            ("noData", "TypeError: SubtleCrypto.digest: 2 arguments required, but only 1 present"),
            ("wrongThis", "TypeError: SubtleCrypto.digest: illegal invocation"),
        ],
    );
}

#[test]
fn hmac_gives_rfc_4231s_values_and_round_trips_its_keys() {
    let state = run("crypto-hmac.js", json!(null));
    let rfc4231 = [
        (
            "SHA-256",
            "1",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            "SHA-256",
            "2",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            "SHA-256",
            "3",
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        ),
        (
            "SHA-256",
            "4",
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        ),
        (
            "SHA-256",
            "6",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
        (
            "SHA-256",
            "7",
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        ),
        (
            "SHA-384",
            "1",
            "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c\
             faea9ea9076ede7f4af152e8b2fa9cb6",
        ),
        (
            "SHA-384",
            "2",
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
             8e2240ca5e69e2c78b3239ecfab21649",
        ),
        (
            "SHA-512",
            "1",
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde\
             daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
        ),
        (
            "SHA-512",
            "2",
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
             9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        ),
    ];
    for (hash, case, mac) in rfc4231 {
        assert_eq!(
            state["rfc4231"][hash][case], mac,
            "RFC 4231 case {case}, {hash}"
        );
    }
    // Every case of every hash verifies (a failure is marked in the value).
    for hash in ["SHA-256", "SHA-384", "SHA-512"] {
        for (case, mac) in state["rfc4231"][hash].as_object().unwrap() {
            assert!(
                !mac.as_str().unwrap().contains(' '),
                "{hash} case {case}: {mac}"
            );
        }
    }
    assert_eq!(state["rfc2202"], "b617318655057264e28bc0b6fb378c8ef146be00");
    assert_eq!(
        state["verify"],
        json!({"good": true, "otherMessage": false, "flipped": false, "truncated": false})
    );
    assert_eq!(
        state["key"],
        json!({
            "type": "secret",
            "extractable": true,
            "algorithm": {"name": "HMAC", "length": 32, "hash": {"name": "SHA-256"}},
            "usages": ["sign", "verify"],
        })
    );
    assert_eq!(state["sameAlgorithmObject"], true);
    assert_eq!(state["sameUsagesObject"], true);
    assert_eq!(state["algorithmUnchanged"], true);
    assert_eq!(state["raw"], hex(b"Jefe"));
    assert_eq!(
        state["jwk"],
        json!({"alg": "HS256", "ext": true, "k": "SmVmZQ", "key_ops": ["sign", "verify"], "kty": "oct"})
    );
    assert_eq!(
        state["jwkKeys"],
        json!(["alg", "ext", "k", "key_ops", "kty"])
    );
    assert_eq!(state["jwkRoundTrip"], true);
    assert_errors(
        &state,
        &[(
            "notExtractable",
            "InvalidAccessError: SubtleCrypto.exportKey: the key is not extractable",
        )],
    );
    let usages = json!(["sign", "verify"]);
    assert_eq!(
        state["generated"]["SHA-1"],
        json!({"length": 512, "bytes": 64, "usages": usages})
    );
    assert_eq!(
        state["generated"]["SHA-256"],
        json!({"length": 512, "bytes": 64, "usages": usages})
    );
    assert_eq!(
        state["generated"]["SHA-384"],
        json!({"length": 1024, "bytes": 128, "usages": usages})
    );
    assert_eq!(
        state["generated"]["SHA-512"],
        json!({"length": 1024, "bytes": 128, "usages": usages})
    );
    assert_eq!(
        state["generated"]["length100"],
        json!({"length": 100, "bytes": 13, "lowBitsZero": true})
    );
    assert_eq!(state["importLengths"]["32"], "no error");
    assert_eq!(state["importLengths"]["25"], "no error");
    assert_errors(
        &state["importLengths"],
        &[("24", "DataError"), ("33", "DataError")],
    );
}

#[test]
fn aes_gcm_gives_the_gcm_specifications_values() {
    let state = run("crypto-aes-gcm.js", json!(null));
    let c = "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
             21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091";
    assert_eq!(
        state["case2"],
        "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf"
    );
    assert_eq!(
        state["case3"],
        format!("{c}473f59854d5c2af327cd64a62cf35abd2ba6fab4")
    );
    assert_eq!(
        state["case4"],
        format!("{c}5bc94fbc3221a5db94fae95ae7121a47")
    );
    assert_eq!(
        state["case10"],
        "3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c\
         7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710\
         2519498e80f1478f37ba55bd6d27618c"
    );
    assert_eq!(
        state["case16"],
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
         8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662\
         76fc6ece0f4e1768cddf8853bb2d551b"
    );
    let plaintext = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                     1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
    assert_eq!(state["decrypted"], plaintext);
    // A 96-bit tag is the full tag's first 12 bytes.
    assert_eq!(state["tag96"], format!("{c}5bc94fbc3221a5db94fae95a"));
    assert_eq!(state["tag96Decrypted"], plaintext);
    assert_eq!(state["tag32"], 9);
    let failed = "OperationError: SubtleCrypto.decrypt: AES-GCM decryption failed";
    assert_errors(
        &state,
        &[
            ("tampered", failed),
            ("otherAad", failed),
            ("otherIv", failed),
            ("tag96Tampered", failed),
        ],
    );
    assert_errors(
        &state["errors"],
        &[
            ("tagLength100", "OperationError: SubtleCrypto.encrypt: the tagLength 100 is not one of 32, 64, 96"),
            ("iv16", "NotSupportedError: SubtleCrypto.encrypt: AES-GCM IVs of 16 bytes are not supported: use 12 bytes"),
            ("noIv", "TypeError: SubtleCrypto.encrypt: the iv member is required"),
            ("shorterThanTag", "OperationError: SubtleCrypto.decrypt: the data is shorter than the 128-bit tag"),
            ("key15Bytes", "DataError: SubtleCrypto.importKey: an AES key must be 16, 24 or 32 bytes, not 15"),
            ("signUsage", "SyntaxError: SubtleCrypto.importKey: the usage \"sign\" is not allowed here"),
            ("encryptOnlyKeyDecrypts", "InvalidAccessError: SubtleCrypto.decrypt: the key's usages (\"encrypt\") do not include \"decrypt\""),
            ("pkcs8", "NotSupportedError: SubtleCrypto.importKey: AES-GCM keys cannot be imported or exported as \"pkcs8\""),
            ("length100", "OperationError: SubtleCrypto.generateKey: an AES key's length must be 128, 192 or 256 bits, not 100"),
        ],
    );
    assert_eq!(
        state["generated"],
        json!({
            "algorithm": {"name": "AES-GCM", "length": 256},
            "usages": ["encrypt", "decrypt"],
            "jwk": {"alg": "A256GCM", "ext": true, "k": 43, "key_ops": ["encrypt", "decrypt"], "kty": "oct"},
            "roundTrip": "a secret",
            "ciphertextBytes": 24,
        })
    );
    assert_errors(&state, &[("jwkAlgMismatch", "DataError")]);
    assert_eq!(state["unwrapped"], true);
    assert_eq!(state["wrappedRawBytes"], 48);
}

#[test]
fn ecdsa_signs_exactly_as_rfc_6979_and_round_trips_every_format() {
    let state = run("crypto-ecdsa.js", json!(null));
    let p256 = &state["P-256"];
    assert_eq!(
        p256["sample"],
        "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716\
         f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8"
    );
    assert_eq!(
        p256["test"],
        "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367\
         019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083"
    );
    let p384 = &state["P-384"];
    assert_eq!(
        p384["sample"],
        "94edbb92a5ecb8aad4736e56c691916b3f88140666ce9fa73d64c4ea95ad133c\
         81a648152e44acf96e36dd1e80fabe46\
         99ef4aeb15f178cea1fe40db2603138f130e740a19624526203b6351d0a3a94f\
         a329c145786e679e7b82c71a38628ac8"
    );
    assert_eq!(
        p384["test"],
        "8203b63d3c853e8d77227fb377bcf7b7b772e97892a80f36ab775d509d7a5feb\
         0542a7f0812998da8f1dd3ca3cf023db\
         ddd0760448d42d8a43af45af836fce4de8be06b485e9b61b827c2f13173923e0\
         6a739f040649a667bf3b828246baa5a5"
    );
    for (curve, v) in [("P-256", p256), ("P-384", p384)] {
        assert_eq!(v["verifies"], true, "{curve}");
        assert_eq!(v["otherMessage"], false, "{curve}");
        assert_eq!(v["shortSignature"], false, "{curve}");
        assert_eq!(v["pkcs8SignsAlike"], true, "{curve}");
        assert_eq!(v["spkiVerifies"], true, "{curve}");
        assert_eq!(v["publicJwkVerifies"], true, "{curve}");
        assert_eq!(v["types"], json!(["private", "public"]), "{curve}");
        assert_eq!(
            v["algorithm"],
            json!({"name": "ECDSA", "namedCurve": curve}),
            "{curve}"
        );
    }
    // The RFC's public key, in SubjectPublicKeyInfo (RFC 5480) and raw.
    let point = "0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6\
                 7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";
    assert_eq!(p256["raw"], point);
    assert_eq!(
        p256["spki"],
        format!("3059301306072a8648ce3d020106082a8648ce3d030107034200{point}")
    );
    assert_eq!(
        p256["privateJwk"],
        json!({
            "crv": "P-256",
            "d": "ya-p2EW6dRZrXCFXZ7HWk05Qw9s26JsSe4piKxIPZyE",
            "ext": true,
            "key_ops": ["sign"],
            "kty": "EC",
            "x": "YP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Y",
            "y": "eQP-EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpk",
        })
    );
    assert_eq!(
        state["generated"],
        json!({
            "private": {"type": "private", "extractable": false, "usages": ["sign"]},
            "public": {"type": "public", "extractable": true, "usages": ["verify"]},
            "algorithm": {"name": "ECDSA", "namedCurve": "P-256"},
            "pairKeys": ["privateKey", "publicKey"],
        })
    );
    assert_eq!(
        state["rounds"],
        json!({
            "P-256/SHA-512": [64, true],
            "P-256/SHA-1": [64, true],
            "P-384/SHA-1": [96, true],
            "P-384/SHA-256": [96, true],
        })
    );
    assert_eq!(state["compressedPoint"], true);
    assert_errors(
        &state["errors"],
        &[
            ("signWithPublic", "InvalidAccessError: SubtleCrypto.sign: the key's usages (\"verify\") do not include \"sign\""),
            ("verifyUsageOnPrivate", "SyntaxError: SubtleCrypto.importKey: the usage \"verify\" is not allowed here (allowed: \"sign\")"),
            ("wrongD", "DataError: SubtleCrypto.importKey: the JWK's x and y are not the public key of its d"),
            ("offCurve", "DataError: SubtleCrypto.importKey: the bytes are not a point on P-256"),
            ("crvMismatch", "DataError: SubtleCrypto.importKey: the JWK's crv is \"P-384\", not \"P-256\""),
            ("spkiAsOtherCurve", "DataError: SubtleCrypto.importKey: the key is on P-256, not \"P-384\""),
            ("p521", "NotSupportedError: SubtleCrypto.generateKey: the curve P-521 is not supported (P-256 and P-384 are)"),
            ("unknownCurve", "NotSupportedError: SubtleCrypto.generateKey: \"K-256\" is not a supported named curve"),
            ("noHash", "TypeError: SubtleCrypto.sign: the hash member is required"),
            ("exportPrivateRaw", "InvalidAccessError: SubtleCrypto.exportKey: this needs a public key, and the key is private"),
            ("publicOnlyUsages", "SyntaxError: SubtleCrypto.generateKey: a private key needs at least one usage"),
            ("badBase64", "DataError: SubtleCrypto.importKey: the JWK member `x` is not base64url"),
        ],
    );
}

/// The public key of the test RSA key, and its own RS256 signature of
/// `message` (PKCS#1 v1.5 is deterministic), from `ring`.
fn ring_rs256(message: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let pair = RsaKeyPair::from_pkcs8(&pem_to_der(RSA_KEY_PEM)).expect("the test key");
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(
        &signature::RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        message,
        &mut signature,
    )
    .expect("ring signs");
    (pair.public().as_ref().to_vec(), signature)
}

#[test]
fn rsa_signatures_are_the_ones_ring_makes_and_verifies() {
    let message = "a message to sign";
    let state = run(
        "crypto-rsa.js",
        json!({"pem": RSA_KEY_PEM, "message": message}),
    );
    let (public_key, expected) = ring_rs256(message.as_bytes());
    assert_eq!(state["rs256"], hex(&expected), "RS256 signature");
    assert_eq!(state["rs256Verifies"], true);
    assert_eq!(state["rs256OtherMessage"], false);
    // ring checks the RSA-PSS signature (its PS256 takes a 32-byte salt).
    let pss = unhex(state["ps256"].as_str().unwrap());
    UnparsedPublicKey::new(&signature::RSA_PSS_2048_8192_SHA256, &public_key)
        .verify(message.as_bytes(), &pss)
        .expect("ring verifies the charm's RSA-PSS signature");
    // The SPKI wraps the PKCS#1 public key ring has.
    assert!(
        state["spki"].as_str().unwrap().ends_with(&hex(&public_key)),
        "{}",
        state["spki"]
    );
    assert_eq!(
        state["algorithm"],
        json!({
            "name": "RSASSA-PKCS1-v1_5",
            "modulusLength": 2048,
            "publicExponent": {"0": 1, "1": 0, "2": 1},
            "hash": {"name": "SHA-256"},
        })
    );
    assert_eq!(
        state["jwkMembers"],
        json!(["alg", "d", "dp", "dq", "e", "ext", "key_ops", "kty", "n", "p", "q", "qi"])
    );
    assert_eq!(state["jwkAlg"], "RS256");
    assert_eq!(state["pkcs8RoundTrip"], true);
    assert_eq!(state["jwkSignsAlike"], true);
    assert_eq!(state["recoveredSignsAlike"], true);
    assert_eq!(state["pssRandomized"], true);
    assert_eq!(state["pssVerifies"], true);
    assert_eq!(state["pssWrongSaltLength"], false);
    assert_eq!(state["pssZeroSalt"], true);
    assert_errors(
        &state,
        &[
            ("badCrt", "DataError: SubtleCrypto.importKey: the RSA JWK is not a valid key"),
            ("otherHashAlg", "DataError: SubtleCrypto.importKey: the JWK's alg \"RS256\" does not match the hash SHA-384 (\"RS384\")"),
            ("pssNoSaltLength", "TypeError: SubtleCrypto.sign: the saltLength member is required"),
            ("pssKeyForPkcs1", "InvalidAccessError: SubtleCrypto.sign: the key is a RSA-PSS key, not RSASSA-PKCS1-v1_5"),
            ("pssHugeSalt", "OperationError: SubtleCrypto.sign: RSA-PSS signing failed"),
            ("rawFormat", "NotSupportedError: SubtleCrypto.importKey: RSASSA-PKCS1-v1_5 keys cannot be imported or exported as \"raw\""),
            ("ecdsaKeyAsRsa", "DataError: SubtleCrypto.importKey: the key is an EC key, not an RSA key"),
        ],
    );
}

#[test]
fn rsa_key_generation_makes_a_pair_that_signs_and_verifies() {
    // 1024 bits: a 2048-bit key costs 3 to 7 billion fuel (README), too
    // close to the default budget for a test whose prime search is random.
    let state = run("crypto-rsa-keygen.js", json!({"modulusLength": 1024}));
    assert_eq!(
        state["algorithm"],
        json!({
            "name": "RSASSA-PKCS1-v1_5",
            "modulusLength": 1024,
            "publicExponent": {"0": 1, "1": 0, "2": 1},
            "hash": {"name": "SHA-256"},
        })
    );
    assert_eq!(state["signatureBytes"], 128);
    assert_eq!(state["verifies"], true);
    // The JWK's n is 128 bytes in base64url (no padding).
    assert_eq!(state["nBytes"], 171);
    assert_eq!(state["usages"], json!([["sign"], ["verify"]]));
}

#[test]
fn subtle_crypto_rejects_with_the_standards_errors() {
    let state = run("crypto-errors.js", json!(null));
    let errors = &state["errors"];
    assert_errors(
        errors,
        &[
            ("unknownAlgorithm", "NotSupportedError (DOMException 9): SubtleCrypto.sign: the algorithm \"HMAC-SHA256\" is not supported for sign (supported: HMAC, ECDSA, RSASSA-PKCS1-v1_5, RSA-PSS)"),
            ("algorithmForOtherOp", "NotSupportedError (DOMException 9): SubtleCrypto.encrypt: the algorithm \"HMAC\" is not supported for encrypt (supported: AES-GCM)"),
            ("unknownHash", "NotSupportedError (DOMException 9): SubtleCrypto.importKey: hash: the algorithm \"SHA-3\" is not supported for digest"),
            ("deriveBits", "NotSupportedError (DOMException 9): SubtleCrypto.deriveBits: the algorithm \"HKDF\" is not supported for deriveBits"),
            ("formatNotForAlgorithm", "NotSupportedError (DOMException 9): SubtleCrypto.importKey: HMAC keys cannot be imported or exported as \"spki\""),
            ("usageNotForAlgorithm", "SyntaxError (DOMException 12): SubtleCrypto.importKey: the usage \"encrypt\" is not allowed here (allowed: \"sign\", \"verify\")"),
            ("noUsages", "SyntaxError (DOMException 12): SubtleCrypto.importKey: a secret key needs at least one usage"),
            ("generateNoUsages", "SyntaxError (DOMException 12)"),
            ("missingUsage", "InvalidAccessError (DOMException 15): SubtleCrypto.verify: the key's usages (\"sign\") do not include \"verify\""),
            ("otherAlgorithmsKey", "InvalidAccessError (DOMException 15): SubtleCrypto.sign: the key is a AES-GCM key, not HMAC"),
            ("notExtractable", "InvalidAccessError (DOMException 15): SubtleCrypto.exportKey: the key is not extractable"),
            ("emptyKey", "DataError (DOMException 0): SubtleCrypto.importKey: the HMAC key is empty"),
            ("wrongKty", "DataError (DOMException 0): SubtleCrypto.importKey: the JWK's kty must be \"oct\", not \"RSA\""),
            ("noK", "DataError (DOMException 0): SubtleCrypto.importKey: the JWK has no k"),
            ("algMismatch", "DataError (DOMException 0): SubtleCrypto.importKey: the JWK's alg \"HS512\" does not match the hash SHA-256 (\"HS256\")"),
            ("useEnc", "DataError (DOMException 0): SubtleCrypto.importKey: the JWK's use is \"enc\", not \"sig\""),
            ("keyOpsMissing", "DataError (DOMException 0): SubtleCrypto.importKey: the JWK's key_ops do not include \"sign\""),
            ("keyOpsRepeated", "DataError (DOMException 0): SubtleCrypto.importKey: the JWK's key_ops repeat a value"),
            ("extFalse", "DataError (DOMException 0): SubtleCrypto.importKey: the JWK is not extractable"),
            ("badSpki", "DataError (DOMException 0): SubtleCrypto.importKey: the SubjectPublicKeyInfo (spki) is malformed"),
            ("wrongAesKey", "OperationError (DOMException 0): SubtleCrypto.decrypt: AES-GCM decryption failed"),
            ("rsaModulus512", "OperationError (DOMException 0): SubtleCrypto.generateKey: modulusLength 512 is not supported"),
            ("keyNotACryptoKey", "TypeError: SubtleCrypto.sign: key must be a CryptoKey"),
            ("dataNotBytes", "TypeError: SubtleCrypto.sign: data must be an ArrayBuffer"),
            ("badFormat", "TypeError: SubtleCrypto.importKey: format: \"pem\" is not one of \"raw\", \"spki\", \"pkcs8\", \"jwk\""),
            ("badUsage", "TypeError: SubtleCrypto.importKey: a key usage: \"print\" is not one of"),
            ("usagesNotASequence", "TypeError: SubtleCrypto.importKey: keyUsages must be a sequence"),
            ("jwkAsBytes", "TypeError: SubtleCrypto.importKey: a \"jwk\" key must be a JWK object, not bytes"),
            ("bytesAsJwk", "TypeError: SubtleCrypto.importKey: a \"raw\" key must be an ArrayBuffer"),
            ("missingHash", "TypeError: SubtleCrypto.importKey: the hash member is required"),
            ("noAlgorithmName", "TypeError: SubtleCrypto.digest: the algorithm: the name member is required"),
            ("rsaExponentNotBytes", "TypeError: SubtleCrypto.generateKey: publicExponent must be a Uint8Array"),
            ("tooFewArguments", "TypeError: SubtleCrypto.encrypt: 3 arguments required, but only 2 present"),
        ],
    );
    assert_eq!(state["errors"]["rejectionIsAPromise"], true);
}

/// Hex of the HMAC-SHA256 of `body` under `secret`, checked with ring.
fn webhook_receiver(secret: &'static str) -> TestServer {
    TestServer::start(vec![(
        "/hook",
        Box::new(move |request: &SeenRequest| {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
            let given = request
                .headers
                .get("x-signature")
                .and_then(|v| v.strip_prefix("sha256="))
                .map(unhex)
                .unwrap_or_default();
            let verified = ring::hmac::verify(&key, &request.body, &given).is_ok();
            let body = json!({ "verified": verified }).to_string();
            Reply {
                status: if verified { 200 } else { 401 },
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.into_bytes(),
            }
        }),
    )])
}

#[test]
fn a_webhook_signed_with_hmac_sha256_is_verified_by_its_receiver() {
    let server = webhook_receiver("whsec_8f2c1a");
    let ran = run_fixture(
        "webhook-hmac.js",
        &[
            "--allow-host",
            &server.host_port(),
            "--input",
            &json!({"url": server.url("/hook"), "secret": "whsec_8f2c1a"}).to_string(),
        ],
    );
    let state = ok(&ran);
    assert_eq!(state["receiver"], json!({"verified": true}));
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    let body: Value = serde_json::from_slice(&seen[0].body).expect("a JSON body");
    assert_eq!(body["data"]["title"], "Grüße aus Köln ☃");
    assert_eq!(
        seen[0].headers["x-signature"],
        format!("sha256={}", state["signature"].as_str().unwrap())
    );
    assert_eq!(seen[0].headers["x-delivery"].len(), 36);

    // With another secret the receiver refuses it, and the run fails.
    let ran = run_fixture(
        "webhook-hmac.js",
        &[
            "--allow-host",
            &server.host_port(),
            "--input",
            &json!({"url": server.url("/hook"), "secret": "not the secret"}).to_string(),
        ],
    );
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr.contains("the receiver refused the webhook: 401"),
        "{ran:?}"
    );
}

/// A token endpoint that accepts a JWT bearer assertion (RFC 7523) whose
/// signature `verify` accepts, and records its header and claims.
fn token_endpoint(verify: impl Fn(&[u8], &[u8]) -> bool + Send + Sync + 'static) -> TestServer {
    TestServer::start(vec![(
        "/token",
        Box::new(move |request: &SeenRequest| {
            let form = String::from_utf8_lossy(&request.body).into_owned();
            let assertion = form
                .split('&')
                .find_map(|pair| pair.strip_prefix("assertion="))
                .unwrap_or("");
            let parts: Vec<&str> = assertion.split('.').collect();
            let verified = parts.len() == 3
                && URL_SAFE_NO_PAD
                    .decode(parts[2])
                    .is_ok_and(|sig| verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig));
            let grant =
                form.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer");
            let (status, body) = if verified && grant {
                (
                    200,
                    json!({"access_token": "ya29.test-token", "expires_in": 3599, "token_type": "Bearer"}),
                )
            } else {
                (400, json!({"error": "invalid_grant"}))
            };
            Reply {
                status,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.to_string().into_bytes(),
            }
        }),
    )])
}

fn decode_segment(segment: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).expect("base64url")).expect("JSON")
}

fn run_service_account(server: &TestServer, alg: &str, private_key: &str) -> (Value, Vec<String>) {
    let account = json!({
        "type": "service_account",
        "client_email": "charm@example-project.iam.gserviceaccount.com",
        "private_key_id": "4f1c0ffee",
        "private_key": private_key,
        "token_uri": server.url("/token"),
    });
    let input = json!({
        "serviceAccount": account,
        "alg": alg,
        "scope": "https://www.googleapis.com/auth/spreadsheets.readonly",
        "now": 1_764_500_000,
    });
    let ran = run_fixture(
        "service-account-jwt.js",
        &[
            "--allow-host",
            &server.host_port(),
            "--input",
            &input.to_string(),
        ],
    );
    let state = ok(&ran);
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    let form = String::from_utf8_lossy(&seen[0].body).into_owned();
    let assertion = form
        .split('&')
        .find_map(|pair| pair.strip_prefix("assertion="))
        .expect("an assertion");
    let parts = assertion.split('.').map(str::to_string).collect();
    (state, parts)
}

#[test]
fn a_service_accounts_rs256_jwt_is_the_signature_ring_makes() {
    let der = pem_to_der(RSA_KEY_PEM);
    let pair = RsaKeyPair::from_pkcs8(&der).expect("the test key");
    let public_key = pair.public().as_ref().to_vec();
    let server = token_endpoint(move |message, sig| {
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &public_key)
            .verify(message, sig)
            .is_ok()
    });
    let (state, parts) = run_service_account(&server, "RS256", RSA_KEY_PEM);
    assert_eq!(state["accessToken"], "ya29.test-token");
    assert_eq!(state["expiresAt"], 1_764_500_000 + 3599);
    assert_eq!(
        decode_segment(&parts[0]),
        json!({"alg": "RS256", "typ": "JWT", "kid": "4f1c0ffee"})
    );
    assert_eq!(
        decode_segment(&parts[1]),
        json!({
            "iss": "charm@example-project.iam.gserviceaccount.com",
            "scope": "https://www.googleapis.com/auth/spreadsheets.readonly",
            "aud": server.url("/token"),
            "iat": 1_764_500_000,
            "exp": 1_764_500_000 + 3600,
        })
    );
    // PKCS#1 v1.5 is deterministic: ring's own signature is the same bytes.
    let (_, expected) = ring_rs256(format!("{}.{}", parts[0], parts[1]).as_bytes());
    assert_eq!(URL_SAFE_NO_PAD.decode(&parts[2]).unwrap(), expected);
}

#[test]
fn a_service_accounts_es256_jwt_verifies_with_ring() {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .expect("ring makes a P-256 key");
    let pair = EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8.as_ref(),
        &rng,
    )
    .expect("the P-256 key");
    let public_key = pair.public_key().as_ref().to_vec();
    let server = token_endpoint(move |message, sig| {
        // ES256 signatures are r and s side by side (RFC 7518, 3.4): the
        // format Web Crypto's ECDSA returns.
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &public_key)
            .verify(message, sig)
            .is_ok()
    });
    let (state, parts) = run_service_account(&server, "ES256", &der_to_pem(pkcs8.as_ref()));
    assert_eq!(state["accessToken"], "ya29.test-token");
    assert_eq!(decode_segment(&parts[0])["alg"], "ES256");
    assert_eq!(URL_SAFE_NO_PAD.decode(&parts[2]).unwrap().len(), 64);
}
