// SubtleCrypto.digest on FIPS 180-4's own examples (SHA-1, SHA-256,
// SHA-384, SHA-512), each BufferSource kind, and the errors.
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

export async function bgUpdater(state) {
  const subtle = crypto.subtle;
  const out = {};
  const two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  for (const name of ["SHA-1", "SHA-256", "SHA-384", "SHA-512"]) {
    out[name] = {
      abc: hex(await subtle.digest(name, text("abc"))),
      empty: hex(await subtle.digest(name, new Uint8Array(0))),
      twoBlocks: hex(await subtle.digest({ name }, text(two))),
    };
  }
  out.millionA = hex(await subtle.digest("SHA-256", new Uint8Array(1000000).fill(0x61)));
  // Names are case-insensitive; an ArrayBuffer, a DataView and a view with
  // an offset all hash their bytes.
  const buffer = text("xabcx").buffer;
  out.kinds = [
    hex(await subtle.digest("sha-256", text("abc").buffer)),
    hex(await subtle.digest("Sha-256", new DataView(buffer, 1, 3))),
    hex(await subtle.digest("SHA-256", new Uint8Array(buffer, 1, 3))),
    hex(await subtle.digest("SHA-256", new Uint16Array(text("abcd").buffer, 0, 1))),
  ];
  const pending = subtle.digest("SHA-256", text("abc"));
  out.returnsPromise = pending instanceof Promise;
  await pending;
  out.resultIsArrayBuffer = (await pending) instanceof ArrayBuffer;
  out.errors = {
    unknown: await failure(subtle.digest("SHA-224", text("abc"))),
    md5: await failure(subtle.digest({ name: "MD5" }, text("abc"))),
    noName: await failure(subtle.digest({}, text("abc"))),
    notBytes: await failure(subtle.digest("SHA-256", "abc")),
    noData: await failure(subtle.digest("SHA-256")),
    wrongThis: await failure(subtle.digest.call({}, "SHA-256", text("abc"))),
  };
  return { ...state, ...out };
}
