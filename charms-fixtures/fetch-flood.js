// Fetches ctx.input.url thousands of times, catching every failure: the
// fetch-count limit must end the run anyway.
export async function bgUpdater(state, ctx) {
  let ok = 0;
  let caught = 0;
  for (let i = 0; i < 5000; i++) {
    try {
      await (await fetch(ctx.input.url)).text();
      ok++;
    } catch (e) {
      caught++;
    }
  }
  return { ok, caught };
}
