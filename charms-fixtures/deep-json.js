// Reads JSON nested 100,000 levels deep from a server, and builds and
// prints deep values itself: each is a RangeError it can catch, or work
// that stays cheap.
export async function bgUpdater(state, ctx) {
  const out = {};
  try {
    await (await fetch(ctx.input.url)).json();
    out.json = "parsed";
  } catch (e) {
    out.json = `${e.name}: ${e.message}`;
  }
  let deep = [];
  for (let i = 0; i < 5000; i++) deep = [deep];
  try {
    out.string = String(deep).length;
  } catch (e) {
    out.string = e.name;
  }
  function down(n) {
    return down(n + 1) + 1;
  }
  try {
    down(0);
  } catch (e) {
    out.recursion = `${e.name}: ${e.message}`;
  }
  return out;
}
