// Sends a webhook signed as GitHub, Stripe and Slack sign theirs: the body
// is JSON, and `X-Signature: sha256=<hex>` is the HMAC-SHA256 of exactly
// those bytes under a secret shared with the receiver (ctx.input.secret).
export const integration = "signed-webhook";

const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

export async function bgUpdater(state, ctx) {
  const { url, secret } = ctx.input;
  const sent = (state.sent ?? 0) + 1;
  const event = {
    id: sent,
    type: "feed.updated",
    data: { title: "Grüße aus Köln ☃", items: [1, 2, 3] },
  };
  const body = new TextEncoder().encode(JSON.stringify(event));
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const signature = hex(await crypto.subtle.sign("HMAC", key, body));
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-signature": `sha256=${signature}`,
      "x-delivery": crypto.randomUUID(),
    },
    body,
  });
  if (!res.ok) throw new Error(`the receiver refused the webhook: ${res.status} ${await res.text()}`);
  return { ...state, sent, signature, receiver: await res.json() };
}
