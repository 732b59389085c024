// Web Crypto's algorithms, each as the standard specifies its operations:
// SHA-1/256/384/512 (digest), HMAC, ECDSA (P-256, P-384),
// RSASSA-PKCS1-v1_5 and RSA-PSS (sign, verify, generateKey, importKey,
// exportKey), and AES-GCM (encrypt, decrypt, generateKey, importKey,
// exportKey). The key material and the arithmetic are native
// (src/ops/crypto/); what is here is the standard's checks, in its order.
(function (internals) {
  "use strict";
  const host = internals.host;
  const { DOMException } = internals;
  const {
    algorithms, newKey, domError, bufferSource, required, params, intersect, checkUsages, jwkObject,
  } = internals.crypto;
  const stringify = JSON.stringify;
  const EMPTY = new Uint8Array(0);

  function register(entry) {
    algorithms.set(entry.name.toUpperCase(), entry);
  }

  // Calls a native function; a DOMException it throws gets the method's
  // name in front of its message, like the prelude's own errors.
  function native(what, call) {
    try {
      return call();
    } catch (error) {
      if (error instanceof DOMException) throw domError(error.name, `${what}: ${error.message}`);
      throw error;
    }
  }

  const quote = (value) => (value === undefined ? "absent" : stringify(value));

  // The checks every JWK import makes (kty, use, key_ops, ext).
  function checkJwk(jwk, kty, use, extractable, usages, what) {
    if (jwk.kty !== kty) {
      throw domError("DataError", `${what}: the JWK's kty must be "${kty}", not ${quote(jwk.kty)}`);
    }
    if (usages.length > 0 && jwk.use !== undefined && jwk.use !== use) {
      throw domError("DataError", `${what}: the JWK's use is ${quote(jwk.use)}, not "${use}"`);
    }
    if (jwk.key_ops !== undefined) {
      if (new Set(jwk.key_ops).size !== jwk.key_ops.length) {
        throw domError("DataError", `${what}: the JWK's key_ops repeat a value`);
      }
      for (const usage of usages) {
        if (!jwk.key_ops.includes(usage)) {
          throw domError("DataError", `${what}: the JWK's key_ops do not include "${usage}"`);
        }
      }
    }
    if (jwk.ext === false && extractable) {
      throw domError("DataError", `${what}: the JWK is not extractable (ext is false), so extractable must be false`);
    }
  }

  // A base64url member of a JWK, decoded.
  function jwkBytes(jwk, member, what) {
    if (jwk[member] === undefined) throw domError("DataError", `${what}: the JWK has no ${member}`);
    return native(what, () => host.cryptoBase64UrlDecode(jwk[member], member));
  }

  function notSupportedFormat(name, format, formats, what) {
    return domError(
      "NotSupportedError",
      `${what}: ${name} keys cannot be imported or exported as "${format}" (use ${formats.map((f) => `"${f}"`).join(" or ")})`,
    );
  }

  // ---- SHA ----

  // Per hash: HMAC's default key length (the block size, in bits), and the
  // JWK `alg` names that imply it.
  const HASHES = {
    "SHA-1": { block: 512, suffix: "1" },
    "SHA-256": { block: 512, suffix: "256" },
    "SHA-384": { block: 1024, suffix: "384" },
    "SHA-512": { block: 1024, suffix: "512" },
  };
  for (const name of Object.keys(HASHES)) register({ name, params: { digest: null } });

  // The hash a JWK `alg` of the family `prefix` ("HS", "RS", "PS") names.
  function hashOfJwkAlg(alg, prefix) {
    for (const [name, { suffix }] of Object.entries(HASHES)) {
      if (alg === prefix + suffix) return name;
    }
    return undefined;
  }

  function checkJwkAlg(jwk, prefix, hash, what) {
    if (jwk.alg === undefined) return;
    const named = hashOfJwkAlg(jwk.alg, prefix);
    if (named !== hash) {
      throw domError(
        "DataError",
        `${what}: the JWK's alg ${quote(jwk.alg)} does not match the hash ${hash} ("${prefix}${HASHES[hash].suffix}")`,
      );
    }
  }

  // ---- HMAC ----

  const HMAC_USAGES = ["sign", "verify"];
  // HMAC keys this runtime generates are at most this long (1 MiB): longer
  // keys are hashed down by HMAC anyway.
  const MAX_SECRET_BITS = 8 * 1024 * 1024;

  function hmacParams(dict, what) {
    const out = { hash: params.hash(dict, what) };
    if (dict.length !== undefined) out.length = params.unsignedLong(dict.length, `${what}: length`);
    return out;
  }

  register({
    name: "HMAC",
    params: { sign: null, verify: null, generateKey: hmacParams, importKey: hmacParams },
    sign(alg, key, data, what) {
      return native(what, () => host.cryptoSign("HMAC", key.algorithm.hash.name, key.handle, data, 0));
    },
    verify(alg, key, signature, data, what) {
      return native(what, () => host.cryptoVerify("HMAC", key.algorithm.hash.name, key.handle, signature, data, 0));
    },
    generateKey(alg, extractable, usages, what) {
      checkUsages(usages, HMAC_USAGES, what);
      const length = alg.length === undefined ? HASHES[alg.hash.name].block : alg.length;
      if (length === 0) throw domError("OperationError", `${what}: an HMAC key's length must not be 0`);
      if (length > MAX_SECRET_BITS) {
        throw domError("OperationError", `${what}: HMAC keys of more than ${MAX_SECRET_BITS} bits are not supported`);
      }
      const handle = native(what, () => host.cryptoGenerateSecret(length));
      return newKey("secret", extractable, { name: "HMAC", length, hash: { name: alg.hash.name } }, usages, handle);
    },
    importKey(format, keyData, alg, extractable, usages, what) {
      checkUsages(usages, HMAC_USAGES, what);
      const hash = alg.hash.name;
      let bytes;
      if (format === "raw") {
        bytes = keyData;
      } else if (format === "jwk") {
        checkJwk(keyData, "oct", "sig", extractable, usages, what);
        bytes = jwkBytes(keyData, "k", what);
        checkJwkAlg(keyData, "HS", hash, what);
      } else {
        throw notSupportedFormat("HMAC", format, ["raw", "jwk"], what);
      }
      let length = bytes.length * 8;
      if (length === 0) throw domError("DataError", `${what}: the HMAC key is empty`);
      if (alg.length !== undefined) {
        if (alg.length > length) {
          throw domError("DataError", `${what}: the length ${alg.length} is more than the key's ${length} bits`);
        }
        if (alg.length <= length - 8) {
          throw domError("DataError", `${what}: the length ${alg.length} leaves out whole bytes of the key's ${length} bits`);
        }
        length = alg.length;
      }
      const handle = native(what, () => host.cryptoImportSecret(bytes));
      return newKey("secret", extractable, { name: "HMAC", length, hash: { name: hash } }, usages, handle);
    },
    exportKey(format, key, what) {
      if (format === "raw") return host.cryptoExportSecret(key.handle);
      if (format !== "jwk") throw notSupportedFormat("HMAC", format, ["raw", "jwk"], what);
      const k = host.cryptoBase64UrlEncode(new Uint8Array(host.cryptoExportSecret(key.handle)));
      return jwkObject({ kty: "oct", k, alg: `HS${HASHES[key.algorithm.hash.name].suffix}` }, key);
    },
  });

  // ---- ECDSA ----

  const CURVES = ["P-256", "P-384"];
  const JWK_CURVE_OF_ALG = { ES256: "P-256", ES384: "P-384", ES512: "P-521" };

  function checkCurve(curve, errorName, what) {
    if (CURVES.includes(curve)) return;
    if (curve === "P-521") {
      throw domError("NotSupportedError", `${what}: the curve P-521 is not supported (P-256 and P-384 are)`);
    }
    throw domError(errorName, `${what}: ${quote(curve)} is not a supported named curve (P-256 and P-384 are)`);
  }

  function ecParams(dict, what) {
    return { namedCurve: String(required(dict, "namedCurve", what)) };
  }
  function ecdsaParams(dict, what) {
    return { hash: params.hash(dict, what) };
  }

  function checkType(key, type, what) {
    if (key.type !== type) {
      throw domError("InvalidAccessError", `${what}: this needs a ${type} key, and the key is ${key.type}`);
    }
  }

  // A private key and its public key, with the standard's usages and
  // extractability (a public key is always extractable).
  function keyPair(privateHandle, algorithm, extractable, usages, publicUsages, privateUsages) {
    const publicHandle = host.cryptoPublicKey(privateHandle);
    return {
      privateKey: newKey("private", extractable, algorithm, intersect(usages, privateUsages), privateHandle),
      publicKey: newKey("public", true, algorithm, intersect(usages, publicUsages), publicHandle),
    };
  }

  function importDer(format, keyData, family, usages, what) {
    checkUsages(usages, format === "spki" ? ["verify"] : ["sign"], what);
    const handle = native(what, () => host.cryptoImportDer(format, keyData));
    const info = host.cryptoKeyInfo(handle);
    if (info.family !== family) {
      throw domError("DataError", `${what}: the key is an ${info.family} key, not an ${family} key`);
    }
    return { handle, info };
  }

  register({
    name: "ECDSA",
    params: { sign: ecdsaParams, verify: ecdsaParams, generateKey: ecParams, importKey: ecParams },
    sign(alg, key, data, what) {
      checkType(key, "private", what);
      return native(what, () => host.cryptoSign("ECDSA", alg.hash.name, key.handle, data, 0));
    },
    verify(alg, key, signature, data, what) {
      checkType(key, "public", what);
      return native(what, () => host.cryptoVerify("ECDSA", alg.hash.name, key.handle, signature, data, 0));
    },
    generateKey(alg, extractable, usages, what) {
      checkUsages(usages, ["sign", "verify"], what);
      checkCurve(alg.namedCurve, "NotSupportedError", what);
      const handle = native(what, () => host.cryptoGenerateEc(alg.namedCurve));
      const algorithm = { name: "ECDSA", namedCurve: alg.namedCurve };
      return keyPair(handle, algorithm, extractable, usages, ["verify"], ["sign"]);
    },
    importKey(format, keyData, alg, extractable, usages, what) {
      const curve = alg.namedCurve;
      let handle;
      if (format === "spki" || format === "pkcs8") {
        const imported = importDer(format, keyData, "EC", usages, what);
        if (imported.info.curve !== curve) {
          throw domError("DataError", `${what}: the key is on ${imported.info.curve}, not ${quote(curve)}`);
        }
        handle = imported.handle;
      } else if (format === "jwk") {
        const isPrivate = keyData.d !== undefined;
        checkUsages(usages, isPrivate ? ["sign"] : ["verify"], what);
        checkJwk(keyData, "EC", "sig", extractable, usages, what);
        if (keyData.crv !== curve) {
          throw domError("DataError", `${what}: the JWK's crv is ${quote(keyData.crv)}, not ${quote(curve)}`);
        }
        checkCurve(curve, "DataError", what);
        if (keyData.alg !== undefined && JWK_CURVE_OF_ALG[keyData.alg] !== curve) {
          throw domError("DataError", `${what}: the JWK's alg ${quote(keyData.alg)} is not ECDSA on ${curve}`);
        }
        const x = jwkBytes(keyData, "x", what);
        const y = jwkBytes(keyData, "y", what);
        const d = isPrivate ? jwkBytes(keyData, "d", what) : undefined;
        handle = native(what, () => host.cryptoImportEcJwk(curve, x, y, d));
      } else if (format === "raw") {
        checkUsages(usages, ["verify"], what);
        checkCurve(curve, "DataError", what);
        handle = native(what, () => host.cryptoImportEcRaw(curve, keyData));
      } else {
        throw notSupportedFormat("ECDSA", format, ["spki", "pkcs8", "jwk", "raw"], what);
      }
      const type = host.cryptoKeyInfo(handle).type;
      return newKey(type, extractable, { name: "ECDSA", namedCurve: curve }, usages, handle);
    },
    exportKey(format, key, what) {
      switch (format) {
        case "spki":
          checkType(key, "public", what);
          return native(what, () => host.cryptoExportDer(key.handle, "spki"));
        case "pkcs8":
          checkType(key, "private", what);
          return native(what, () => host.cryptoExportDer(key.handle, "pkcs8"));
        case "raw":
          checkType(key, "public", what);
          return native(what, () => host.cryptoExportEcRaw(key.handle));
        default: {
          const m = native(what, () => host.cryptoExportJwk(key.handle));
          return jwkObject({ kty: "EC", crv: m.crv, x: m.x, y: m.y, d: m.d }, key);
        }
      }
    },
  });

  // ---- RSASSA-PKCS1-v1_5 and RSA-PSS ----

  function rsaKeyGenParams(dict, what) {
    const modulusLength = params.unsignedLong(required(dict, "modulusLength", what), `${what}: modulusLength`);
    const exponent = required(dict, "publicExponent", what);
    if (!(exponent instanceof Uint8Array)) {
      throw new TypeError(`${what}: publicExponent must be a Uint8Array, such as new Uint8Array([1, 0, 1])`);
    }
    return { modulusLength, publicExponent: exponent.slice(), hash: params.hash(dict, what) };
  }
  function rsaImportParams(dict, what) {
    return { hash: params.hash(dict, what) };
  }
  function pssParams(dict, what) {
    return { saltLength: params.unsignedLong(required(dict, "saltLength", what), `${what}: saltLength`) };
  }

  const RSA_MEMBERS = ["n", "e", "d", "p", "q", "dp", "dq", "qi"];

  function rsa(name, prefix, signParams) {
    const algorithmOf = (info, hash) => ({
      name,
      modulusLength: info.modulusLength,
      publicExponent: info.publicExponent,
      hash: { name: hash },
    });
    register({
      name,
      params: { sign: signParams, verify: signParams, generateKey: rsaKeyGenParams, importKey: rsaImportParams },
      sign(alg, key, data, what) {
        checkType(key, "private", what);
        return native(what, () =>
          host.cryptoSign(name, key.algorithm.hash.name, key.handle, data, alg.saltLength ?? 0));
      },
      verify(alg, key, signature, data, what) {
        checkType(key, "public", what);
        return native(what, () =>
          host.cryptoVerify(name, key.algorithm.hash.name, key.handle, signature, data, alg.saltLength ?? 0));
      },
      generateKey(alg, extractable, usages, what) {
        checkUsages(usages, ["sign", "verify"], what);
        const handle = native(what, () => host.cryptoGenerateRsa(alg.modulusLength, alg.publicExponent));
        const algorithm = algorithmOf(host.cryptoKeyInfo(handle), alg.hash.name);
        return keyPair(handle, algorithm, extractable, usages, ["verify"], ["sign"]);
      },
      importKey(format, keyData, alg, extractable, usages, what) {
        let handle;
        if (format === "spki" || format === "pkcs8") {
          handle = importDer(format, keyData, "RSA", usages, what).handle;
        } else if (format === "jwk") {
          const isPrivate = keyData.d !== undefined;
          checkUsages(usages, isPrivate ? ["sign"] : ["verify"], what);
          checkJwk(keyData, "RSA", "sig", extractable, usages, what);
          checkJwkAlg(keyData, prefix, alg.hash.name, what);
          if (keyData.oth !== undefined) {
            throw domError("NotSupportedError", `${what}: RSA keys with more than two primes (oth) are not supported`);
          }
          const members = RSA_MEMBERS.map((m) => (keyData[m] === undefined ? undefined : jwkBytes(keyData, m, what)));
          if (members[0] === undefined || members[1] === undefined) {
            throw domError("DataError", `${what}: an RSA JWK needs n and e`);
          }
          handle = native(what, () => host.cryptoImportRsaJwk(members));
        } else {
          throw notSupportedFormat(name, format, ["spki", "pkcs8", "jwk"], what);
        }
        const info = host.cryptoKeyInfo(handle);
        return newKey(info.type, extractable, algorithmOf(info, alg.hash.name), usages, handle);
      },
      exportKey(format, key, what) {
        switch (format) {
          case "spki":
            checkType(key, "public", what);
            return native(what, () => host.cryptoExportDer(key.handle, "spki"));
          case "pkcs8":
            checkType(key, "private", what);
            return native(what, () => host.cryptoExportDer(key.handle, "pkcs8"));
          case "jwk": {
            const m = native(what, () => host.cryptoExportJwk(key.handle));
            m.kty = "RSA";
            m.alg = prefix + HASHES[key.algorithm.hash.name].suffix;
            return jwkObject(m, key);
          }
          default:
            throw notSupportedFormat(name, format, ["spki", "pkcs8", "jwk"], what);
        }
      },
    });
  }
  rsa("RSASSA-PKCS1-v1_5", "RS", null);
  rsa("RSA-PSS", "PS", pssParams);

  // ---- AES-GCM ----

  const AES_USAGES = ["encrypt", "decrypt", "wrapKey", "unwrapKey"];
  const TAG_LENGTHS = [32, 64, 96, 104, 112, 120, 128];

  function gcmParams(dict, what) {
    const out = { iv: bufferSource(required(dict, "iv", what), `${what}: iv`) };
    if (dict.additionalData !== undefined) {
      out.additionalData = bufferSource(dict.additionalData, `${what}: additionalData`);
    }
    if (dict.tagLength !== undefined) out.tagLength = params.octet(dict.tagLength, `${what}: tagLength`);
    return out;
  }
  function aesKeyGenParams(dict, what) {
    return { length: params.unsignedShort(required(dict, "length", what), `${what}: length`) };
  }

  function tagBits(alg, what) {
    const bits = alg.tagLength === undefined ? 128 : alg.tagLength;
    if (!TAG_LENGTHS.includes(bits)) {
      throw domError("OperationError", `${what}: the tagLength ${bits} is not one of ${TAG_LENGTHS.join(", ")}`);
    }
    return bits;
  }

  function gcm(encrypt, alg, key, data, what) {
    const bits = tagBits(alg, what);
    if (!encrypt && data.length * 8 < bits) {
      throw domError("OperationError", `${what}: the data is shorter than the ${bits}-bit tag`);
    }
    return native(what, () =>
      host.cryptoAesGcm(encrypt, key.handle, alg.iv, alg.additionalData ?? EMPTY, bits / 8, data));
  }

  register({
    name: "AES-GCM",
    params: { encrypt: gcmParams, decrypt: gcmParams, generateKey: aesKeyGenParams, importKey: null },
    encrypt(alg, key, data, what) {
      return gcm(true, alg, key, data, what);
    },
    decrypt(alg, key, data, what) {
      return gcm(false, alg, key, data, what);
    },
    generateKey(alg, extractable, usages, what) {
      checkUsages(usages, AES_USAGES, what);
      if (![128, 192, 256].includes(alg.length)) {
        throw domError("OperationError", `${what}: an AES key's length must be 128, 192 or 256 bits, not ${alg.length}`);
      }
      const handle = native(what, () => host.cryptoGenerateSecret(alg.length));
      return newKey("secret", extractable, { name: "AES-GCM", length: alg.length }, usages, handle);
    },
    importKey(format, keyData, alg, extractable, usages, what) {
      checkUsages(usages, AES_USAGES, what);
      let bytes;
      if (format === "raw") {
        bytes = keyData;
      } else if (format === "jwk") {
        checkJwk(keyData, "oct", "enc", extractable, usages, what);
        bytes = jwkBytes(keyData, "k", what);
        const expected = `A${bytes.length * 8}GCM`;
        if (keyData.alg !== undefined && keyData.alg !== expected && [16, 24, 32].includes(bytes.length)) {
          throw domError("DataError", `${what}: the JWK's alg is ${quote(keyData.alg)}, but a key of this length is "${expected}"`);
        }
      } else {
        throw notSupportedFormat("AES-GCM", format, ["raw", "jwk"], what);
      }
      if (![16, 24, 32].includes(bytes.length)) {
        throw domError("DataError", `${what}: an AES key must be 16, 24 or 32 bytes, not ${bytes.length}`);
      }
      const handle = native(what, () => host.cryptoImportSecret(bytes));
      return newKey("secret", extractable, { name: "AES-GCM", length: bytes.length * 8 }, usages, handle);
    },
    exportKey(format, key, what) {
      if (format === "raw") return host.cryptoExportSecret(key.handle);
      if (format !== "jwk") throw notSupportedFormat("AES-GCM", format, ["raw", "jwk"], what);
      const k = host.cryptoBase64UrlEncode(new Uint8Array(host.cryptoExportSecret(key.handle)));
      return jwkObject({ kty: "oct", k, alg: `A${key.algorithm.length}GCM` }, key);
    },
  });
});
