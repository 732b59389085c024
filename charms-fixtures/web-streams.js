// Streams as the WHATWG Streams standard's own examples use them: a push
// source read with `for await`, backpressure with a highWaterMark, BYOB
// reads into a given buffer, tee, pipeTo cut short by an AbortSignal,
// errors travelling down a pipe chain, a transform that works across chunk
// boundaries, and the queuing strategies.

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

// A source that pushes chunks as they "arrive" (timers stand in for a
// socket), read with for await.
async function pushSource() {
  const stream = new ReadableStream({
    start(controller) {
      let n = 0;
      const id = setInterval(() => {
        controller.enqueue(`chunk ${++n}`);
        if (n === 3) {
          clearInterval(id);
          controller.close();
        }
      }, 1);
    },
  });
  const seen = [];
  for await (const chunk of stream) seen.push(chunk);
  return seen;
}

// A pull source with highWaterMark 3: the stream pulls until its queue
// holds 3 chunks, then again only as the reader takes them.
async function backpressure() {
  let pulls = 0;
  const stream = new ReadableStream(
    {
      pull(controller) {
        pulls += 1;
        controller.enqueue(pulls);
      },
    },
    { highWaterMark: 3 },
  );
  await tick();
  const beforeRead = pulls;
  const reader = stream.getReader();
  const first = await reader.read();
  await tick();
  const afterOneRead = pulls;
  await reader.cancel("enough");
  return { beforeRead, first: first.value, afterOneRead };
}

// A byte stream with a pull source that writes into the reader's own
// buffer (the BYOB request), read with the standard's readInto pattern:
// fill the buffer, moving it through each read.
async function byob() {
  let offset = 0;
  const source = new Uint8Array(20).map((_, i) => i + 1);
  const stream = new ReadableStream({
    type: "bytes",
    pull(controller) {
      const view = controller.byobRequest.view;
      const n = Math.min(3, source.length - offset, view.byteLength);
      view.set(source.subarray(offset, offset + n));
      offset += n;
      controller.byobRequest.respond(n);
      if (offset === source.length) controller.close();
    },
  });
  const reader = stream.getReader({ mode: "byob" });
  const given = new ArrayBuffer(8);
  let buffer = given;
  let filled = 0;
  const reads = [];
  while (filled < buffer.byteLength) {
    const { value, done } = await reader.read(new Uint8Array(buffer, filled, buffer.byteLength - filled));
    if (done) break;
    reads.push(value.byteLength);
    buffer = value.buffer;
    filled += value.byteLength;
  }
  const atLeast = await reader.read(new Uint8Array(10), { min: 5 });
  return {
    bytes: [...new Uint8Array(buffer)],
    reads,
    givenBufferDetached: given.byteLength === 0,
    minRead: atLeast.value.byteLength,
  };
}

async function tee() {
  const stream = ReadableStream.from(["a", "b", "c"]);
  const [left, right] = stream.tee();
  const read = async (branch) => {
    const out = [];
    for await (const chunk of branch) out.push(chunk);
    return out.join("");
  };
  return { left: await read(left), right: await read(right), locked: stream.locked };
}

// pipeTo stopped by an AbortSignal after two chunks: the pipe rejects
// with the signal's reason, the source is cancelled with it and the sink
// aborted with it.
async function pipeAbort() {
  const controller = new AbortController();
  let cancelled = null;
  let aborted = null;
  const written = [];
  const source = new ReadableStream({
    pull(c) {
      c.enqueue(written.length + 1);
    },
    cancel(reason) {
      cancelled = reason.name;
    },
  });
  const sink = new WritableStream({
    write(chunk) {
      written.push(chunk);
      if (written.length === 2) controller.abort();
    },
    abort(reason) {
      aborted = reason.name;
    },
  });
  let rejected = null;
  try {
    await source.pipeTo(sink, { signal: controller.signal });
  } catch (e) {
    rejected = e.name;
  }
  return { written, rejected, cancelled, aborted };
}

// An error in the source reaches the end of a pipe chain; an error in the
// sink reaches back to the source.
async function errors() {
  const failing = new ReadableStream({
    start(c) {
      c.enqueue("fine");
    },
    pull(c) {
      c.error(new TypeError("the source broke"));
    },
  });
  const upper = new TransformStream({
    transform(chunk, c) {
      c.enqueue(chunk.toUpperCase());
    },
  });
  const seen = [];
  let forward = null;
  try {
    for await (const chunk of failing.pipeThrough(upper)) seen.push(chunk);
  } catch (e) {
    forward = `${e.name}: ${e.message}`;
  }
  let sourceCancelled = null;
  const source = new ReadableStream({
    pull(c) {
      c.enqueue("x");
    },
    cancel(reason) {
      sourceCancelled = reason.message;
    },
  });
  let backward = null;
  try {
    await source.pipeTo(new WritableStream({
      write() {
        throw new RangeError("the sink is full");
      },
    }));
  } catch (e) {
    backward = `${e.name}: ${e.message}`;
  }
  const reader = new ReadableStream({ start: (c) => c.error(new Error("early")) }).getReader();
  let closed = null;
  await reader.closed.catch((e) => {
    closed = e.message;
  });
  return { seen, forward, backward, sourceCancelled, closed };
}

// A WritableStream with highWaterMark 2 and a slow sink: desiredSize goes
// down with each write, and `ready` waits for the sink.
async function writableBackpressure() {
  const order = [];
  const stream = new WritableStream(
    {
      async write(chunk) {
        await tick();
        order.push(`wrote ${chunk}`);
      },
      close() {
        order.push("closed");
      },
    },
    new CountQueuingStrategy({ highWaterMark: 2 }),
  );
  const writer = stream.getWriter();
  const sizes = [writer.desiredSize];
  writer.write("a");
  sizes.push(writer.desiredSize);
  writer.write("b");
  sizes.push(writer.desiredSize);
  writer.write("c");
  sizes.push(writer.desiredSize);
  await writer.ready;
  order.push("ready");
  await writer.close();
  return { sizes, order };
}

// The standard's example of a transform that replaces {{tags}}, which may
// be split across chunks.
async function templateTags() {
  const values = { name: "charm", count: "3" };
  let pending = "";
  const replacer = new TransformStream({
    transform(chunk, controller) {
      const text = pending + chunk;
      // Hold back a tag that is not closed yet, or a "{" that may open one.
      const open = text.lastIndexOf("{{");
      let cut = text.length;
      if (open >= 0 && text.indexOf("}}", open) < 0) cut = open;
      else if (text.endsWith("{")) cut = text.length - 1;
      pending = text.slice(cut);
      controller.enqueue(text.slice(0, cut).replace(/\{\{(\w+)\}\}/g, (_, key) => values[key] ?? ""));
    },
    flush(controller) {
      if (pending) controller.enqueue(pending);
    },
  });
  const parts = ["Hello {{na", "me}}, you have {", "{count}} new ", "items"];
  const out = [];
  for await (const chunk of ReadableStream.from(parts).pipeThrough(replacer)) out.push(chunk);
  return out.join("");
}

// Text through TextEncoderStream and TextDecoderStream, one byte a chunk.
async function textStreams() {
  const text = "héllo wörld 😀";
  const bytes = [];
  const encoded = ReadableStream.from(["héllo ", "wörld \uD83D", "\uDE00"]).pipeThrough(new TextEncoderStream());
  for await (const chunk of encoded) bytes.push(...chunk);
  const oneByteChunks = ReadableStream.from(bytes.map((b) => new Uint8Array([b])));
  let decoded = "";
  for await (const chunk of oneByteChunks.pipeThrough(new TextDecoderStream())) decoded += chunk;
  return { roundTrip: decoded === text, byteCount: bytes.length };
}

function strategies() {
  const bytes = new ByteLengthQueuingStrategy({ highWaterMark: 1024 });
  const count = new CountQueuingStrategy({ highWaterMark: 4 });
  const stream = new ReadableStream({}, bytes);
  const desired = [];
  new ReadableStream(
    {
      start(c) {
        desired.push(c.desiredSize);
        c.enqueue(new Uint8Array(100));
        desired.push(c.desiredSize);
      },
    },
    bytes,
  );
  return {
    byteLength: [bytes.highWaterMark, bytes.size(new Uint8Array(7))],
    count: [count.highWaterMark, count.size("anything")],
    desired,
    locked: stream.locked,
  };
}

const GLOBALS = [
  "ReadableStream", "ReadableStreamDefaultReader", "ReadableStreamBYOBReader",
  "ReadableStreamDefaultController", "ReadableByteStreamController", "ReadableStreamBYOBRequest",
  "WritableStream", "WritableStreamDefaultWriter", "WritableStreamDefaultController",
  "TransformStream", "TransformStreamDefaultController", "ByteLengthQueuingStrategy",
  "CountQueuingStrategy", "CompressionStream", "DecompressionStream", "TextEncoderStream",
  "TextDecoderStream",
];

export async function bgUpdater() {
  return {
    globals: GLOBALS.filter((name) => typeof globalThis[name] !== "function"),
    pushSource: await pushSource(),
    backpressure: await backpressure(),
    byob: await byob(),
    tee: await tee(),
    pipeAbort: await pipeAbort(),
    errors: await errors(),
    writableBackpressure: await writableBackpressure(),
    templateTags: await templateTags(),
    textStreams: await textStreams(),
    strategies: strategies(),
  };
}
