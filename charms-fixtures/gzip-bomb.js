// A gzip bomb: a small download that inflates to far more than the run's
// memory. Read piece by piece it needs little memory (and costs fuel);
// read whole it must end at the memory limit, not hang.
export async function bgUpdater(state, ctx) {
  const res = await fetch(ctx.input.url);
  const inflated = res.body.pipeThrough(new DecompressionStream("gzip"));
  if (ctx.input.mode === "whole") {
    const all = await new Response(inflated).arrayBuffer();
    return { bytes: all.byteLength };
  }
  let bytes = 0;
  let largest = 0;
  const reader = inflated.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    largest = Math.max(largest, value.byteLength);
  }
  return { bytes, largest };
}
