// The errors of SubtleCrypto, as the standard names them: every method
// rejects its promise (never throws) with a TypeError for arguments of the
// wrong type, or a DOMException: NotSupportedError, SyntaxError (usages),
// InvalidAccessError (the key's algorithm, type, usages, extractability),
// DataError (the key data) or OperationError.
const text = (s) => new TextEncoder().encode(s);
const failure = async (call) => {
  let promise;
  try {
    promise = call();
  } catch (e) {
    return `threw instead of rejecting: ${e.name}: ${e.message}`;
  }
  try {
    await promise;
    return "no error";
  } catch (e) {
    const dom = e instanceof DOMException ? ` (DOMException ${e.code})` : "";
    return `${e.name}${dom}: ${e.message}`;
  }
};

export async function bgUpdater(state) {
  const subtle = crypto.subtle;
  const hmac = { name: "HMAC", hash: "SHA-256" };
  const secret = text("0123456789abcdef");
  const signOnly = await subtle.importKey("raw", secret, hmac, false, ["sign"]);
  const aes = await subtle.importKey("raw", secret, "AES-GCM", true, ["encrypt", "decrypt"]);
  const jwk = { kty: "oct", k: "MDEyMzQ1Njc4OWFiY2RlZg", alg: "HS256" };
  const out = {
    // NotSupportedError
    unknownAlgorithm: await failure(() => subtle.sign("HMAC-SHA256", signOnly, text("x"))),
    algorithmForOtherOp: await failure(() => subtle.encrypt({ name: "HMAC" }, signOnly, text("x"))),
    unknownHash: await failure(() => subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-3" }, true, ["sign"])),
    deriveBits: await failure(() => subtle.deriveBits({ name: "HKDF" }, signOnly, 128)),
    formatNotForAlgorithm: await failure(() => subtle.importKey("spki", secret, hmac, true, ["verify"])),
    // SyntaxError
    usageNotForAlgorithm: await failure(() => subtle.importKey("raw", secret, hmac, true, ["encrypt"])),
    noUsages: await failure(() => subtle.importKey("raw", secret, hmac, true, [])),
    generateNoUsages: await failure(() => subtle.generateKey({ name: "AES-GCM", length: 128 }, true, [])),
    // InvalidAccessError
    missingUsage: await failure(() => subtle.verify(hmac, signOnly, new Uint8Array(32), text("x"))),
    otherAlgorithmsKey: await failure(() => subtle.sign("HMAC", aes, text("x"))),
    notExtractable: await failure(() => subtle.exportKey("jwk", signOnly)),
    // DataError
    emptyKey: await failure(() => subtle.importKey("raw", new Uint8Array(0), hmac, true, ["sign"])),
    wrongKty: await failure(() => subtle.importKey("jwk", { ...jwk, kty: "RSA" }, hmac, true, ["sign"])),
    noK: await failure(() => subtle.importKey("jwk", { kty: "oct" }, hmac, true, ["sign"])),
    algMismatch: await failure(() => subtle.importKey("jwk", { ...jwk, alg: "HS512" }, hmac, true, ["sign"])),
    useEnc: await failure(() => subtle.importKey("jwk", { ...jwk, use: "enc" }, hmac, true, ["sign"])),
    keyOpsMissing: await failure(() => subtle.importKey("jwk", { ...jwk, key_ops: ["verify"] }, hmac, true, ["sign"])),
    keyOpsRepeated: await failure(() => subtle.importKey("jwk", { ...jwk, key_ops: ["sign", "sign"] }, hmac, true, ["sign"])),
    extFalse: await failure(() => subtle.importKey("jwk", { ...jwk, ext: false }, hmac, true, ["sign"])),
    badSpki: await failure(() => subtle.importKey("spki", text("not DER"), { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"])),
    // OperationError
    wrongAesKey: await failure(async () => {
      const other = await subtle.importKey("raw", new Uint8Array(16), "AES-GCM", true, ["decrypt"]);
      const iv = new Uint8Array(12);
      const sealed = await subtle.encrypt({ name: "AES-GCM", iv }, aes, text("x"));
      return subtle.decrypt({ name: "AES-GCM", iv }, other, sealed);
    }),
    rsaModulus512: await failure(() =>
      subtle.generateKey(
        { name: "RSASSA-PKCS1-v1_5", modulusLength: 512, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
        true,
        ["sign"],
      )),
    // TypeError
    keyNotACryptoKey: await failure(() => subtle.sign("HMAC", { type: "secret" }, text("x"))),
    dataNotBytes: await failure(() => subtle.sign("HMAC", signOnly, "x")),
    badFormat: await failure(() => subtle.importKey("pem", secret, hmac, true, ["sign"])),
    badUsage: await failure(() => subtle.importKey("raw", secret, hmac, true, ["sign", "print"])),
    usagesNotASequence: await failure(() => subtle.importKey("raw", secret, hmac, true, "sign")),
    jwkAsBytes: await failure(() => subtle.importKey("jwk", secret, hmac, true, ["sign"])),
    bytesAsJwk: await failure(() => subtle.importKey("raw", jwk, hmac, true, ["sign"])),
    missingHash: await failure(() => subtle.importKey("raw", secret, "HMAC", true, ["sign"])),
    noAlgorithmName: await failure(() => subtle.digest({ hash: "SHA-256" }, secret)),
    rsaExponentNotBytes: await failure(() =>
      subtle.generateKey(
        { name: "RSA-PSS", modulusLength: 2048, publicExponent: [1, 0, 1], hash: "SHA-256" },
        true,
        ["sign"],
      )),
    tooFewArguments: await failure(() => subtle.encrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, aes)),
  };
  const rejected = subtle.exportKey("raw", signOnly);
  out.rejectionIsAPromise = rejected instanceof Promise;
  await rejected.catch(() => {});
  return { ...state, errors: out };
}
