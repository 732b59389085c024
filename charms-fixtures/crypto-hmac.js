// HMAC on RFC 4231's test cases (SHA-256, SHA-384, SHA-512) and RFC 2202's
// first (SHA-1): sign, verify, import and export (raw, jwk), generateKey.
const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
const text = (s) => new TextEncoder().encode(s);
const fill = (n, byte) => new Uint8Array(n).fill(byte);
const failure = async (promise) => {
  try {
    await promise;
    return "no error";
  } catch (e) {
    return `${e.name}: ${e.message}`;
  }
};

// RFC 4231, section 4: test cases 1, 2, 3, 4, 6 and 7.
const CASES = {
  1: [fill(20, 0x0b), text("Hi There")],
  2: [text("Jefe"), text("what do ya want for nothing?")],
  3: [fill(20, 0xaa), fill(50, 0xdd)],
  4: [Uint8Array.from({ length: 25 }, (_, i) => i + 1), fill(50, 0xcd)],
  6: [fill(131, 0xaa), text("Test Using Larger Than Block-Size Key - Hash Key First")],
  7: [
    fill(131, 0xaa),
    text(
      "This is a test using a larger than block-size key and a larger than block-size data. " +
        "The key needs to be hashed before being used by the HMAC algorithm.",
    ),
  ],
};

export async function bgUpdater(state) {
  const subtle = crypto.subtle;
  const out = { rfc4231: {} };
  for (const hash of ["SHA-256", "SHA-384", "SHA-512"]) {
    out.rfc4231[hash] = {};
    for (const [n, [keyBytes, data]] of Object.entries(CASES)) {
      const key = await subtle.importKey("raw", keyBytes, { name: "HMAC", hash }, false, ["sign", "verify"]);
      const mac = await subtle.sign("HMAC", key, data);
      out.rfc4231[hash][n] = hex(mac);
      if (!(await subtle.verify("HMAC", key, mac, data))) out.rfc4231[hash][n] += " (does not verify)";
    }
  }
  const sha1 = await subtle.importKey("raw", fill(20, 0x0b), { name: "HMAC", hash: "SHA-1" }, true, ["sign"]);
  out.rfc2202 = hex(await subtle.sign({ name: "hmac" }, sha1, text("Hi There")));

  // verify: a changed message, a changed or truncated MAC.
  const key = await subtle.importKey("raw", text("Jefe"), { name: "HMAC", hash: "SHA-256" }, true, ["sign", "verify"]);
  const mac = new Uint8Array(await subtle.sign("HMAC", key, text("message")));
  const flipped = mac.slice();
  flipped[0] ^= 1;
  out.verify = {
    good: await subtle.verify("HMAC", key, mac, text("message")),
    otherMessage: await subtle.verify("HMAC", key, mac, text("massage")),
    flipped: await subtle.verify("HMAC", key, flipped, text("message")),
    truncated: await subtle.verify("HMAC", key, mac.slice(0, 16), text("message")),
  };

  // The key's attributes, and its exports.
  // A copy: the algorithm object is changed below.
  out.key = { type: key.type, extractable: key.extractable, algorithm: { ...key.algorithm }, usages: key.usages };
  out.sameAlgorithmObject = key.algorithm === key.algorithm;
  out.sameUsagesObject = key.usages === key.usages;
  key.algorithm.name = "changed";
  out.algorithmUnchanged = (await subtle.sign("HMAC", key, text("message")).then(hex)) === hex(mac);
  out.raw = hex(await subtle.exportKey("raw", key));
  const jwk = await subtle.exportKey("jwk", key);
  out.jwk = jwk;
  out.jwkKeys = Object.keys(jwk);
  const again = await subtle.importKey("jwk", jwk, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  out.jwkRoundTrip = await subtle.verify("HMAC", again, mac, text("message"));
  out.notExtractable = await failure(subtle.exportKey("raw", again));

  // generateKey: the default length is the hash's block size.
  const made = {};
  for (const hash of ["SHA-1", "SHA-256", "SHA-384", "SHA-512"]) {
    const k = await subtle.generateKey({ name: "HMAC", hash }, true, ["sign", "verify", "sign"]);
    made[hash] = { length: k.algorithm.length, bytes: (await subtle.exportKey("raw", k)).byteLength, usages: k.usages };
  }
  const short = await subtle.generateKey({ name: "HMAC", hash: "SHA-256", length: 100 }, true, ["sign"]);
  const shortRaw = new Uint8Array(await subtle.exportKey("raw", short));
  made.length100 = { length: short.algorithm.length, bytes: shortRaw.length, lowBitsZero: (shortRaw[12] & 0x0f) === 0 };
  out.generated = made;

  // importKey's length must be within the key's last byte.
  const lengths = async (length) => failure(subtle.importKey("raw", fill(4, 1), { name: "HMAC", hash: "SHA-256", length }, true, ["sign"]));
  out.importLengths = { 32: await lengths(32), 25: await lengths(25), 24: await lengths(24), 33: await lengths(33) };
  return { ...state, ...out };
}
