// AES-GCM on the test cases of the GCM specification (McGrew and Viega,
// "The Galois/Counter Mode of Operation", appendix B): 2, 3 and 4 (AES-128),
// 10 (AES-192), 16 (AES-256); shorter tags, tampering, and generateKey.
const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
const bytes = (h) => new Uint8Array(h.match(/../g).map((x) => parseInt(x, 16)));
const failure = async (promise) => {
  try {
    await promise;
    return "no error";
  } catch (e) {
    return `${e.name}: ${e.message}`;
  }
};

const K = "feffe9928665731c6d6a8f9467308308";
const IV = bytes("cafebabefacedbaddecaf888");
const P =
  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
const A = bytes("feedfacedeadbeeffeedfacedeadbeefabaddad2");

export async function bgUpdater(state) {
  const subtle = crypto.subtle;
  const key = (hexKey, usages = ["encrypt", "decrypt"]) =>
    subtle.importKey("raw", bytes(hexKey), "AES-GCM", true, usages);
  const encrypt = async (k, p, params) => hex(await subtle.encrypt({ name: "AES-GCM", ...params }, k, bytes(p)));
  const out = {};
  const zero = await key("00".repeat(16));
  out.case2 = await encrypt(zero, "00".repeat(16), { iv: new Uint8Array(12) });
  const k128 = await key(K);
  out.case3 = await encrypt(k128, P, { iv: IV });
  out.case4 = await encrypt(k128, P.slice(0, 120), { iv: IV, additionalData: A });
  out.case10 = await encrypt(await key(K + K.slice(0, 16)), P.slice(0, 120), { iv: IV, additionalData: A });
  const k256 = await key(K + K);
  out.case16 = await encrypt(k256, P.slice(0, 120), { iv: IV, additionalData: A });

  // Decryption gives the plaintext back; a changed byte, other additional
  // data or another IV is an OperationError.
  const sealed = bytes(out.case16);
  out.decrypted = hex(await subtle.decrypt({ name: "AES-GCM", iv: IV, additionalData: A }, k256, sealed));
  const tampered = sealed.slice();
  tampered[3] ^= 0x80;
  out.tampered = await failure(subtle.decrypt({ name: "AES-GCM", iv: IV, additionalData: A }, k256, tampered));
  out.otherAad = await failure(subtle.decrypt({ name: "AES-GCM", iv: IV }, k256, sealed));
  out.otherIv = await failure(subtle.decrypt({ name: "AES-GCM", iv: new Uint8Array(12), additionalData: A }, k256, sealed));

  // A 96-bit tag is the first 12 bytes of the full tag.
  out.tag96 = await encrypt(k128, P.slice(0, 120), { iv: IV, additionalData: A, tagLength: 96 });
  out.tag96Decrypted = hex(
    await subtle.decrypt({ name: "AES-GCM", iv: IV, additionalData: A, tagLength: 96 }, k128, bytes(out.tag96)),
  );
  const short = bytes(out.tag96);
  short[short.length - 1] ^= 1;
  out.tag96Tampered = await failure(
    subtle.decrypt({ name: "AES-GCM", iv: IV, additionalData: A, tagLength: 96 }, k128, short),
  );
  out.tag32 = (await subtle.encrypt({ name: "AES-GCM", iv: IV, tagLength: 32 }, k128, new Uint8Array(5))).byteLength;

  out.errors = {
    tagLength100: await failure(subtle.encrypt({ name: "AES-GCM", iv: IV, tagLength: 100 }, k128, new Uint8Array(1))),
    iv16: await failure(subtle.encrypt({ name: "AES-GCM", iv: new Uint8Array(16) }, k128, new Uint8Array(1))),
    noIv: await failure(subtle.encrypt({ name: "AES-GCM" }, k128, new Uint8Array(1))),
    shorterThanTag: await failure(subtle.decrypt({ name: "AES-GCM", iv: IV }, k128, new Uint8Array(15))),
    key15Bytes: await failure(subtle.importKey("raw", new Uint8Array(15), "AES-GCM", true, ["encrypt"])),
    signUsage: await failure(subtle.importKey("raw", new Uint8Array(16), "AES-GCM", true, ["sign"])),
    encryptOnlyKeyDecrypts: await failure(
      key(K, ["encrypt"]).then((k) => subtle.decrypt({ name: "AES-GCM", iv: IV }, k, sealed)),
    ),
    pkcs8: await failure(subtle.importKey("pkcs8", new Uint8Array(16), "AES-GCM", true, ["encrypt"])),
    length100: await failure(subtle.generateKey({ name: "AES-GCM", length: 100 }, true, ["encrypt"])),
  };

  // generateKey, and a JWK round trip.
  const made = await subtle.generateKey({ name: "AES-GCM", length: 256 }, true, ["decrypt", "encrypt"]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const message = new TextEncoder().encode("a secret");
  const ciphertext = await subtle.encrypt({ name: "AES-GCM", iv }, made, message);
  const jwk = await subtle.exportKey("jwk", made);
  const imported = await subtle.importKey("jwk", jwk, { name: "AES-GCM" }, false, ["decrypt"]);
  out.generated = {
    algorithm: made.algorithm,
    usages: made.usages,
    jwk: { ...jwk, k: jwk.k.length },
    roundTrip: new TextDecoder().decode(await subtle.decrypt({ name: "AES-GCM", iv }, imported, ciphertext)),
    ciphertextBytes: ciphertext.byteLength,
  };
  out.jwkAlgMismatch = await failure(
    subtle.importKey("jwk", { ...jwk, alg: "A128GCM" }, "AES-GCM", true, ["encrypt"]),
  );
  // wrapKey and unwrapKey fall back to AES-GCM's encrypt and decrypt.
  const wrapper = await subtle.generateKey({ name: "AES-GCM", length: 128 }, false, ["wrapKey", "unwrapKey"]);
  const wrapped = await subtle.wrapKey("jwk", made, wrapper, { name: "AES-GCM", iv });
  const unwrapped = await subtle.unwrapKey("jwk", wrapped, wrapper, { name: "AES-GCM", iv }, "AES-GCM", true, ["decrypt"]);
  out.unwrapped = hex(await subtle.exportKey("raw", unwrapped)) === hex(await subtle.exportKey("raw", made));
  const wrappedRaw = await subtle.wrapKey("raw", made, wrapper, { name: "AES-GCM", iv });
  out.wrappedRawBytes = wrappedRaw.byteLength;
  return { ...state, ...out };
}
