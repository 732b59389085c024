// Gets an access token as a Google service account does (RFC 7523): a JWT
// whose claims name the account, the scope and the token endpoint, signed
// with the account's private key (RS256; ES256 for an EC key), exchanged at
// the token endpoint. ctx.input.serviceAccount is the account's JSON key
// file (client_email, private_key as PKCS#8 PEM, private_key_id, token_uri).
export const integration = "service-account";

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

// base64url without padding, as JWS has it (written out here so that the
// fixture does not depend on btoa).
function base64url(bytes) {
  const chars = `${B64}-_`;
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const count = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let j = 0; j < count; j++) out += chars[(n >> (18 - 6 * j)) & 63];
  }
  return out;
}

function pemToDer(pem) {
  const chars = `${B64}+/`;
  const body = pem.replace(/-----[^-]+-----/g, "").replace(/[\s=]+/g, "");
  const out = new Uint8Array(Math.floor((body.length * 6) / 8));
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const c of body) {
    value = ((value << 6) | chars.indexOf(c)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

const ALGORITHMS = {
  RS256: { import: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, sign: { name: "RSASSA-PKCS1-v1_5" } },
  ES256: { import: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } },
};

export async function bgUpdater(state, ctx) {
  const account = ctx.input.serviceAccount;
  const alg = ctx.input.alg ?? "RS256";
  const { import: importAlgorithm, sign: signAlgorithm } = ALGORITHMS[alg];
  const key = await crypto.subtle.importKey("pkcs8", pemToDer(account.private_key), importAlgorithm, false, ["sign"]);
  const now = ctx.input.now ?? Math.floor(Date.now() / 1000);
  const encode = (value) => base64url(new TextEncoder().encode(JSON.stringify(value)));
  const header = encode({ alg, typ: "JWT", kid: account.private_key_id });
  const claims = encode({
    iss: account.client_email,
    scope: ctx.input.scope,
    aud: account.token_uri,
    iat: now,
    exp: now + 3600,
  });
  const signingInput = `${header}.${claims}`;
  const signature = await crypto.subtle.sign(signAlgorithm, key, new TextEncoder().encode(signingInput));
  const assertion = `${signingInput}.${base64url(new Uint8Array(signature))}`;
  const res = await fetch(account.token_uri, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `grant_type=${encodeURIComponent("urn:ietf:params:oauth:grant-type:jwt-bearer")}&assertion=${assertion}`,
  });
  const answer = await res.json();
  if (!res.ok) throw new Error(`the token endpoint refused the assertion: ${answer.error ?? res.status}`);
  return { ...state, accessToken: answer.access_token, expiresAt: now + answer.expires_in };
}
