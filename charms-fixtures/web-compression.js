// CompressionStream and DecompressionStream in each format: round trips,
// data compressed elsewhere (the test server's, made with another
// implementation), data compressed here and checked elsewhere (uploaded),
// and the standard's errors for corrupt, truncated and trailing input.

const FORMATS = ["gzip", "deflate", "deflate-raw"];

async function collect(readable) {
  const parts = [];
  let total = 0;
  for await (const chunk of readable) {
    parts.push(chunk);
    total += chunk.byteLength;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return { bytes: out, pieces: parts.length, allUint8: parts.every((p) => p instanceof Uint8Array) };
}

function through(bytes, transform, chunkSize = bytes.length) {
  const stream = new ReadableStream({
    start(c) {
      for (let i = 0; i < bytes.length; i += chunkSize) c.enqueue(bytes.slice(i, i + chunkSize));
      c.close();
    },
  });
  return collect(stream.pipeThrough(transform));
}

async function failure(bytes, format) {
  try {
    await through(bytes, new DecompressionStream(format));
    return "no error";
  } catch (e) {
    return `${e.name}: ${e.message}`;
  }
}

export async function bgUpdater(state, ctx) {
  const text = Array.from({ length: 4000 }, (_, i) => `line ${i}: ${"é".repeat(i % 7)} the quick brown fox\n`).join("");
  const plain = new TextEncoder().encode(text);
  const roundTrips = {};
  const uploads = {};
  for (const format of FORMATS) {
    const compressed = await through(plain, new CompressionStream(format), 10000);
    const back = await through(compressed.bytes, new DecompressionStream(format), 777);
    roundTrips[format] = {
      smaller: compressed.bytes.length < plain.length / 4,
      equal: new TextDecoder().decode(back.bytes) === text,
      pieces: back.pieces,
      uint8: back.allUint8,
    };
    const res = await fetch(`${ctx.input.upload}?format=${format}`, { method: "POST", body: compressed.bytes });
    uploads[format] = await res.text();
  }
  const fromServer = {};
  for (const format of FORMATS) {
    const res = await fetch(`${ctx.input.compressed}?format=${format}`);
    let decoded = "";
    for await (const s of res.body.pipeThrough(new DecompressionStream(format)).pipeThrough(new TextDecoderStream())) decoded += s;
    fromServer[format] = decoded;
  }
  const gzip = (await through(plain, new CompressionStream("gzip"))).bytes;
  const trailing = new Uint8Array(gzip.length + 3);
  trailing.set(gzip);
  const badCrc = gzip.slice();
  badCrc[badCrc.length - 6] ^= 0xff;
  let notBytes;
  try {
    await collect(ReadableStream.from(["a string"]).pipeThrough(new CompressionStream("gzip")));
  } catch (e) {
    notBytes = e.name;
  }
  let badFormat;
  try {
    new DecompressionStream("brotli");
  } catch (e) {
    badFormat = e.name;
  }
  const bufferSources = await collect(
    ReadableStream.from([new Uint8Array([104, 105]).buffer, new DataView(new Uint8Array([33]).buffer)])
      .pipeThrough(new CompressionStream("deflate"))
      .pipeThrough(new DecompressionStream("deflate")),
  );
  return {
    roundTrips,
    uploads,
    fromServer,
    errors: {
      corrupt: await failure(new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff]), "gzip"),
      truncated: await failure(gzip.slice(0, gzip.length - 10), "gzip"),
      trailing: await failure(trailing, "gzip"),
      checksum: await failure(badCrc, "gzip"),
      wrongFormat: await failure(gzip, "deflate"),
      empty: await failure(new Uint8Array(0), "deflate-raw"),
      notBytes,
      badFormat,
    },
    bufferSources: new TextDecoder().decode(bufferSources.bytes),
  };
}
