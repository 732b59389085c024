// ECDSA on RFC 6979's own keys and signatures (appendix A.2.5, P-256, and
// A.2.6, P-384, both with SHA of the curve's size): the signature is r and
// s side by side (IEEE P1363), as Web Crypto has it. Then imports and
// exports in every format, generateKey, and verification that fails.
const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
const bytes = (h) => new Uint8Array(h.match(/../g).map((x) => parseInt(x, 16)));
const b64url = (h) => {
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const b = bytes(h);
  let out = "";
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i] << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    const count = Math.min(4, Math.ceil(((b.length - i) * 8) / 6));
    for (let j = 0; j < count; j++) out += chars[(n >> (18 - 6 * j)) & 63];
  }
  return out;
};
const text = (s) => new TextEncoder().encode(s);
const failure = async (promise) => {
  try {
    await promise;
    return "no error";
  } catch (e) {
    return `${e.name}: ${e.message}`;
  }
};

// RFC 6979, A.2.5 and A.2.6: private key x, public key (Ux, Uy).
const RFC6979 = {
  "P-256": {
    hash: "SHA-256",
    d: "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
    x: "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6",
    y: "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299",
  },
  "P-384": {
    hash: "SHA-384",
    d: "6b9d3dad2e1b8c1c05b19875b6659f4de23c3b667bf297ba9aa47740787137d896d5724e4c70a825f872c9ea60d2edf5",
    x: "ec3a4e415b4e19a4568618029f427fa5da9a8bc4ae92e02e06aae5286b300c64def8f0ea9055866064a254515480bc13",
    y: "8015d9b72d7d57244ea8ef9ac0c621896708a59367f9dfb9f54ca84b3f1c9db1288b231c3ae0d4fe7344fd2533264720",
  },
};

export async function bgUpdater(state) {
  const subtle = crypto.subtle;
  const out = {};
  for (const [crv, v] of Object.entries(RFC6979)) {
    const algorithm = { name: "ECDSA", namedCurve: crv };
    const jwk = { kty: "EC", crv, x: b64url(v.x), y: b64url(v.y), d: b64url(v.d) };
    const privateKey = await subtle.importKey("jwk", jwk, algorithm, true, ["sign"]);
    const publicKey = await subtle.importKey("raw", bytes(`04${v.x}${v.y}`), algorithm, true, ["verify"]);
    const params = { name: "ECDSA", hash: v.hash };
    const sample = await subtle.sign(params, privateKey, text("sample"));
    const test = await subtle.sign(params, privateKey, text("test"));
    out[crv] = {
      sample: hex(sample),
      test: hex(test),
      verifies: await subtle.verify(params, publicKey, sample, text("sample")),
      otherMessage: await subtle.verify(params, publicKey, sample, text("test")),
      shortSignature: await subtle.verify(params, publicKey, sample.slice(1), text("sample")),
      spki: hex(await subtle.exportKey("spki", publicKey)),
      raw: hex(await subtle.exportKey("raw", publicKey)),
      privateJwk: await subtle.exportKey("jwk", privateKey),
      algorithm: privateKey.algorithm,
      types: [privateKey.type, publicKey.type],
    };
    // pkcs8 out and back in signs the same (RFC 6979 is deterministic).
    const pkcs8 = await subtle.exportKey("pkcs8", privateKey);
    const again = await subtle.importKey("pkcs8", pkcs8, algorithm, false, ["sign"]);
    out[crv].pkcs8SignsAlike = hex(await subtle.sign(params, again, text("sample"))) === hex(sample);
    const spkiKey = await subtle.importKey("spki", await subtle.exportKey("spki", publicKey), algorithm, true, ["verify"]);
    out[crv].spkiVerifies = await subtle.verify(params, spkiKey, sample, text("sample"));
    const publicJwk = await subtle.importKey("jwk", { kty: "EC", crv, x: jwk.x, y: jwk.y }, algorithm, true, ["verify"]);
    out[crv].publicJwkVerifies = await subtle.verify(params, publicJwk, sample, text("sample"));
  }

  // Generated keys, with the hashes the curve is not named after.
  const pair = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  out.generated = {
    private: { type: pair.privateKey.type, extractable: pair.privateKey.extractable, usages: pair.privateKey.usages },
    public: { type: pair.publicKey.type, extractable: pair.publicKey.extractable, usages: pair.publicKey.usages },
    algorithm: pair.publicKey.algorithm,
    pairKeys: Object.keys(pair),
  };
  const rounds = {};
  for (const [crv, hash] of [["P-256", "SHA-512"], ["P-256", "SHA-1"], ["P-384", "SHA-1"], ["P-384", "SHA-256"]]) {
    const k = await subtle.generateKey({ name: "ECDSA", namedCurve: crv }, true, ["sign", "verify"]);
    const signature = await subtle.sign({ name: "ECDSA", hash }, k.privateKey, text("round trip"));
    rounds[`${crv}/${hash}`] = [
      signature.byteLength,
      await subtle.verify({ name: "ECDSA", hash }, k.publicKey, signature, text("round trip")),
    ];
  }
  out.rounds = rounds;
  const compressed = bytes(`02${RFC6979["P-256"].x}`);
  compressed[0] = parseInt(RFC6979["P-256"].y.slice(-2), 16) & 1 ? 3 : 2;
  const fromCompressed = await subtle.importKey("raw", compressed, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
  out.compressedPoint = hex(await subtle.exportKey("raw", fromCompressed)) === `04${RFC6979["P-256"].x}${RFC6979["P-256"].y}`;

  const p256 = { name: "ECDSA", namedCurve: "P-256" };
  const v = RFC6979["P-256"];
  out.errors = {
    signWithPublic: await failure(
      subtle.importKey("raw", bytes(`04${v.x}${v.y}`), p256, true, ["verify"]).then((k) =>
        subtle.sign({ name: "ECDSA", hash: "SHA-256" }, k, text("x"))),
    ),
    verifyUsageOnPrivate: await failure(
      subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: b64url(v.x), y: b64url(v.y), d: b64url(v.d) }, p256, true, ["verify"]),
    ),
    wrongD: await failure(
      subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: b64url(v.x), y: b64url(v.y), d: b64url(v.d.replace(/.$/, "0")) }, p256, true, ["sign"]),
    ),
    offCurve: await failure(subtle.importKey("raw", bytes(`04${v.x}${v.x}`), p256, true, ["verify"])),
    crvMismatch: await failure(
      subtle.importKey("jwk", { kty: "EC", crv: "P-384", x: b64url(v.x), y: b64url(v.y) }, p256, true, ["verify"]),
    ),
    spkiAsOtherCurve: await failure(
      subtle.importKey("raw", bytes(`04${v.x}${v.y}`), p256, true, ["verify"])
        .then((k) => subtle.exportKey("spki", k))
        .then((spki) => subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-384" }, true, ["verify"])),
    ),
    p521: await failure(subtle.generateKey({ name: "ECDSA", namedCurve: "P-521" }, true, ["sign"])),
    unknownCurve: await failure(subtle.generateKey({ name: "ECDSA", namedCurve: "K-256" }, true, ["sign"])),
    noHash: await failure(
      subtle.generateKey(p256, true, ["sign"]).then((k) => subtle.sign("ECDSA", k.privateKey, text("x"))),
    ),
    exportPrivateRaw: await failure(
      subtle.generateKey(p256, true, ["sign"]).then((k) => subtle.exportKey("raw", k.privateKey)),
    ),
    publicOnlyUsages: await failure(subtle.generateKey(p256, true, ["verify"])),
    badBase64: await failure(
      subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: "not*base64", y: b64url(v.y) }, p256, true, ["verify"]),
    ),
  };
  return { ...state, ...out };
}
