// Rejects a promise and handles it later in the same turn: not unhandled.
export async function bgUpdater(state) {
  const p = Promise.reject(new Error("handled soon"));
  await null;
  const caught = await p.catch((e) => e.message);
  return { ...state, caught };
}
