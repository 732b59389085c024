// Generates an RSA key pair (slow in a sandbox: the README gives its fuel),
// signs with it and verifies. ctx.input.modulusLength picks the size.
export async function bgUpdater(state, ctx) {
  const subtle = crypto.subtle;
  const algorithm = {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: ctx.input?.modulusLength ?? 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  };
  const pair = await subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const message = new TextEncoder().encode("generated");
  const signature = await subtle.sign(algorithm, pair.privateKey, message);
  const jwk = await subtle.exportKey("jwk", pair.privateKey);
  return {
    ...state,
    algorithm: pair.publicKey.algorithm,
    signatureBytes: signature.byteLength,
    verifies: await subtle.verify(algorithm, pair.publicKey, signature, message),
    nBytes: jwk.n.length,
    usages: [pair.privateKey.usages, pair.publicKey.usages],
  };
}
