// POSTs the bytes ff 00 80 41 as an ArrayBuffer, a typed array view into a
// larger buffer, and a DataView; the server must see them byte for byte.
export async function bgUpdater(state, ctx) {
  const bytes = [0xff, 0x00, 0x80, 0x41];
  const padded = new Uint8Array([9, 9, ...bytes, 9]);
  const bodies = [
    new Uint8Array(bytes).buffer,
    padded.subarray(2, 6),
    new DataView(padded.buffer, 2, 4),
  ];
  const statuses = [];
  for (const body of bodies) {
    statuses.push((await fetch(ctx.input.url, { method: "POST", body })).status);
  }
  let getWithBody;
  try {
    await fetch(ctx.input.url, { method: "GET", body: "x" });
  } catch (e) {
    getWithBody = e.name;
  }
  return { statuses, getWithBody };
}
