// RSASSA-PKCS1-v1_5 and RSA-PSS with a PKCS#8 key given as PEM in
// ctx.input.pem: sign, verify, and the key's exports (spki, pkcs8, jwk).
// The test checks the signatures with an independent implementation.
const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
const text = (s) => new TextEncoder().encode(s);
const failure = async (promise) => {
  try {
    await promise;
    return "no error";
  } catch (e) {
    return `${e.name}: ${e.message}`;
  }
};

// The DER inside a PEM block (base64 decoded here, so that the fixture
// does not depend on atob).
function pemToDer(pem) {
  const body = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const out = [];
  let bits = 0;
  let value = 0;
  for (const c of body.replace(/=+$/, "")) {
    value = (value << 6) | chars.indexOf(c);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >> bits) & 0xff);
    }
  }
  return new Uint8Array(out);
}

export async function bgUpdater(state, ctx) {
  const subtle = crypto.subtle;
  const der = pemToDer(ctx.input.pem);
  const message = text(ctx.input.message);
  const rs256 = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  const privateKey = await subtle.importKey("pkcs8", der, rs256, true, ["sign"]);
  const signature = await subtle.sign("RSASSA-PKCS1-v1_5", privateKey, message);
  const jwk = await subtle.exportKey("jwk", privateKey);
  const publicKey = await subtle.importKey("jwk", { kty: "RSA", n: jwk.n, e: jwk.e, alg: "RS256" }, rs256, true, ["verify"]);
  const out = {
    algorithm: privateKey.algorithm,
    rs256: hex(signature),
    rs256Verifies: await subtle.verify("RSASSA-PKCS1-v1_5", publicKey, signature, message),
    rs256OtherMessage: await subtle.verify("RSASSA-PKCS1-v1_5", publicKey, signature, text("other")),
    spki: hex(await subtle.exportKey("spki", publicKey)),
    jwkMembers: Object.keys(jwk),
    jwkAlg: jwk.alg,
    pkcs8RoundTrip: hex(await subtle.exportKey("pkcs8", privateKey)) === hex(der),
  };
  // The private JWK imports back and signs alike (PKCS#1 v1.5 is
  // deterministic); with only n, e and d the primes are recovered.
  const fromJwk = await subtle.importKey("jwk", jwk, rs256, false, ["sign"]);
  out.jwkSignsAlike = hex(await subtle.sign(rs256, fromJwk, message)) === out.rs256;
  const { p, q, dp, dq, qi, ...withoutPrimes } = jwk;
  const recovered = await subtle.importKey("jwk", withoutPrimes, rs256, false, ["sign"]);
  out.recoveredSignsAlike = hex(await subtle.sign(rs256, recovered, message)) === out.rs256;
  out.badCrt = await failure(subtle.importKey("jwk", { ...jwk, qi: jwk.dp }, rs256, false, ["sign"]));
  out.otherHashAlg = await failure(
    subtle.importKey("jwk", jwk, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-384" }, false, ["sign"]),
  );

  // RSA-PSS with a 32-byte salt (what RS's PS256 uses).
  const ps256 = { name: "RSA-PSS", hash: "SHA-256" };
  const pssPrivate = await subtle.importKey("pkcs8", der, ps256, false, ["sign"]);
  const pssPublic = await subtle.importKey("spki", await subtle.exportKey("spki", publicKey), ps256, false, ["verify"]);
  const pss = await subtle.sign({ name: "RSA-PSS", saltLength: 32 }, pssPrivate, message);
  const pss2 = await subtle.sign({ name: "RSA-PSS", saltLength: 32 }, pssPrivate, message);
  out.ps256 = hex(pss);
  out.pssRandomized = hex(pss) !== hex(pss2);
  out.pssVerifies = await subtle.verify({ name: "RSA-PSS", saltLength: 32 }, pssPublic, pss, message);
  out.pssWrongSaltLength = await subtle.verify({ name: "RSA-PSS", saltLength: 20 }, pssPublic, pss, message);
  out.pssZeroSalt = await subtle.sign({ name: "RSA-PSS", saltLength: 0 }, pssPrivate, message).then(
    (s) => subtle.verify({ name: "RSA-PSS", saltLength: 0 }, pssPublic, s, message),
  );
  out.pssNoSaltLength = await failure(subtle.sign({ name: "RSA-PSS" }, pssPrivate, message));
  out.pssKeyForPkcs1 = await failure(subtle.sign("RSASSA-PKCS1-v1_5", pssPrivate, message));
  out.pssHugeSalt = await failure(subtle.sign({ name: "RSA-PSS", saltLength: 1000 }, pssPrivate, message));
  out.rawFormat = await failure(subtle.importKey("raw", der, rs256, true, ["sign"]));
  out.ecdsaKeyAsRsa = await failure(
    subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign"])
      .then((k) => subtle.exportKey("pkcs8", k.privateKey))
      .then((pkcs8) => subtle.importKey("pkcs8", pkcs8, rs256, true, ["sign"])),
  );
  return { ...state, ...out };
}
