// Bodies as streams (fetch standard): res.body is a ReadableStream over the
// response's bytes, and reading it marks the body used; a ReadableStream
// is a request body (sent whole, read before the request starts) and a
// Response body.

const encoder = new TextEncoder();

async function rejection(promise) {
  try {
    await promise;
    return "resolved";
  } catch (e) {
    return e.name;
  }
}

export async function bgUpdater(state, ctx) {
  const { echo, text } = ctx.input;

  // Reading through res.body.
  const res = await fetch(text);
  const body = res.body;
  const isStream = body instanceof ReadableStream && res.body === body;
  const reader = body.getReader();
  const usedWhileLocked = res.bodyUsed;
  const lockedText = await rejection(res.text());
  const parts = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parts.push(...value);
  }
  const decoder = new TextDecoder();
  const received = decoder.decode(new Uint8Array(parts));
  const usedAfterRead = res.bodyUsed;
  const afterRead = await rejection(res.arrayBuffer());

  // text() after a clone; BYOB reads of a response body.
  const res2 = await fetch(text);
  const copy = res2.clone();
  const byob = res2.body.getReader({ mode: "byob" });
  const first = await byob.read(new Uint8Array(5));
  const copyText = await copy.text();

  // A ReadableStream request body, made as it is read.
  let pulled = 0;
  const upload = new ReadableStream({
    pull(controller) {
      pulled += 1;
      controller.enqueue(encoder.encode(`part ${pulled};`));
      if (pulled === 3) controller.close();
    },
  });
  const posted = await fetch(echo, { method: "POST", body: upload, duplex: "half" });
  const echoed = await posted.text();

  // The same as a Request, and a stream of bytes through `new Response`.
  const request = new Request(echo, {
    method: "PUT",
    body: ReadableStream.from([new Uint8Array([0xff, 0x00]), new Uint8Array([0x80, 0x41])]),
    duplex: "half",
  });
  const binary = await fetch(request).then((r) => r.arrayBuffer());
  const made = new Response(ReadableStream.from([encoder.encode('{"from":'), encoder.encode('"a stream"}')]));
  const madeJson = await made.json();

  // What is refused.
  let noDuplex;
  try {
    await fetch(echo, { method: "POST", body: new ReadableStream() });
  } catch (e) {
    noDuplex = e.name;
  }
  const tooBig = new ReadableStream({
    pull(controller) {
      controller.enqueue(new Uint8Array(256 * 1024));
    },
  });
  let overLimit;
  try {
    await fetch(echo, { method: "POST", body: tooBig, duplex: "half" });
  } catch (e) {
    overLimit = `${e.name}: ${e.message}`;
  }
  // A stream that never ends, with a deadline: the abort rejects the fetch
  // while the body is still being read, and nothing is sent.
  const endless = new ReadableStream({
    pull: () => new Promise((resolve) => setTimeout(resolve, 1000)),
  });
  let abortedWhileReading;
  try {
    await fetch(echo, { method: "POST", body: endless, duplex: "half", signal: AbortSignal.timeout(20) });
  } catch (e) {
    abortedWhileReading = e.name;
  }
  const disturbed = new ReadableStream({ start: (c) => c.enqueue(new Uint8Array(1)) });
  await disturbed.getReader().read();
  let usedStream;
  try {
    new Response(disturbed);
  } catch (e) {
    usedStream = e.name;
  }

  return {
    isStream,
    usedWhileLocked,
    lockedText,
    received,
    usedAfterRead,
    afterRead,
    byobFirst: decoder.decode(first.value),
    copyText,
    echoed,
    pulled,
    binary: [...new Uint8Array(binary)],
    madeJson,
    noDuplex,
    overLimit,
    abortedWhileReading,
    usedStream,
  };
}
