// Bench row 8: Web Crypto inside a charm. `ctx.input` is `{ op, n }`: `n`
// HMAC-SHA256 signatures of 1 KiB ("hmac") or RS256 signatures
// (RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit key) of the same 1 KiB ("rs256").
// The key is imported in every run, also with n = 0: the bench subtracts that
// run, so what remains is the cost of the signatures alone.

// A throwaway 2048-bit RSA key made for this bench (PKCS #8, base64).
const RSA_PKCS8 =
  "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQChd6VAph/i/flk" +
  "XkegyIiupOQgHpQTpANxOTg0+Dd70YeMogfQH36TeFzqxkvIdk843rxLb+zbhTuR" +
  "itYBBerDhR/yXjFNa5KXsNW/NCvq315F5DK6HwmlpUti0gqcgEmLiLnMwgSGDl8S" +
  "lPinlOXCUzkv4+1UAkT42ad5E+He6IujSXI34rqDv+1h4KP1lSBrILleRSQBLe6B" +
  "aTXzzcNyAGdE3kgdCcjcaLmCxzffBoVgad4+YCu7LImZW7k0TlwENVF09nFkbrb/" +
  "1L0f7fEAiOtcvUH07paQzSUFMQ+PobPh0uwuay4hW+ymJjM+1t+iUlUWFmgG56LO" +
  "B6pjkaeVAgMBAAECggEABZArv2h53MZHW2/sI9wE6Y+A1KJ5E5wpCjOgfiK3Nqrn" +
  "cq76ee872zTgbq5aWhPJcvopnqfCj2Wtwbv415wulIH3sdAQ/svgBx3un2HayYLc" +
  "qqfMH6GGIZDqYgM+nlnFLuuNC0L8COph2DANyShWKjXX2JCP0r8pRTGqlX9b3uQy" +
  "J87n/+K2Esk/XNKaZ2GYKy3hjUn3qfo6giMp9udVkda4L6Bj3BwIV2Nsb9wAPyes" +
  "RD4hY38nlWkwWbaNNix/srkEM6XqnHFxOsypTDb9MTkGG0kPgLgWWeKFLBz+8gh3" +
  "GyMqhQqEzpZ53VrMzvaN9z+RNnPSjt2mu5IYrx6CmQKBgQDgKHoxz0Mf+nygm+RM" +
  "xuYstoHxagM4/uryWcWf/gsyUFZKIilvINN7c+ismmmN8kFtwp4rv8ORagpERsHJ" +
  "1/6g0dYL00E00qJEfgMRqAxBZM7NGZFj/PNzY+oq/bFlc8pPQcRXtem1kQ5Gg3Q8" +
  "MZ0AsGvRQbaxSMBNMNCXXYoMDwKBgQC4Z2petAzmx+w2Fyp1V3+cxdj5Bq2+HmQJ" +
  "Cb7IvoNADItF6UYGgVOAfhFqou5RXJEBZ46+U+vXs66n2zqYbvAOupFHXs2yNi+S" +
  "56RPFPyCdg/nzrd0jiKye+xhWuxiVtzuwrgAJzY1F/sPl9lmo6IR/GJEkHVeAXl2" +
  "lLs9g71+GwKBgQDV5opEQa2iNFr8wAXpJdu7SyVQg4Mzvj3gqb2l4Lw6dOMCtvqm" +
  "6sIkCgU7v9V9+HBrFs3snX83oeLOKF8ABzcZq2L/wcV1bJIfnce774pSVKnqmb1d" +
  "lqGRuQRZpeDEGOwzGWUM9bBg7Fyc+Q/P6OATKkaYVobJQc0PW8eQyVfUDQKBgEnp" +
  "SX1D9ZfashbMGjyGIaQYuOq3fpQhYj8tJMcZdUoKvRf8dBDPbUSnQxvWymbaD1Tc" +
  "yR4ITRNb9blZ6ZaHgLimluxgV1oC1fav2e/InZ087Qsgk++nuMiJWyl6ZBzWbB9W" +
  "9KE7FkMZpYuOdZjqJV/IJSsOK7zOIn0hCBuT3jPZAoGAbhdIsU/DQ5FhwHGKl7hj" +
  "2O3aADyUauy/PHQLZV0/btyXO1VgdixhjfDzEDy+XJglZrCiLxDCTWin8JM0xoBP" +
  "AYcoki5gV2AxFJWSI2mo3ee2jyPtScq0PbkjG2EuexihKlltRl9A1AMQMqzydpfx" +
  "e787KZfxgqhRdeO7g/mOkoA=";

function bytes(base64) {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

async function key(op) {
  if (op === "hmac") {
    return crypto.subtle.importKey(
      "raw",
      new Uint8Array(32).fill(7),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
  }
  if (op === "rs256") {
    return crypto.subtle.importKey(
      "pkcs8",
      bytes(RSA_PKCS8),
      { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      false,
      ["sign"],
    );
  }
  throw new Error(`unknown op ${op}`);
}

export async function bgUpdater(state, ctx) {
  const { op, n } = ctx.input;
  const signer = await key(op);
  const algorithm = op === "hmac" ? "HMAC" : "RSASSA-PKCS1-v1_5";
  const message = new Uint8Array(1024).map((_, i) => i & 0xff);
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const signature = await crypto.subtle.sign(algorithm, signer, message);
    bytes = signature.byteLength;
  }
  return { count: (state.count ?? 0) + 1, signed: n, bytes };
}
