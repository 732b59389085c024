// Everything a run reads from the clocks and the random generator, mixed
// with timers and a fetch (tests/replay.rs).
export async function bgUpdater(state, ctx) {
  const seen = { random: [Math.random(), Math.random()], uuid: crypto.randomUUID() };
  seen.bytes = [...crypto.getRandomValues(new Uint8Array(8))];
  seen.wall = [Date.now(), new Date().toISOString()];
  seen.perf = [performance.now()];
  const order = [];
  const fetched = fetch(state.url).then((r) => r.text()).then((t) => order.push(`fetch:${t}:${performance.now()}`));
  await new Promise((r) => setTimeout(() => { order.push(`timeout:${Date.now()}`); r(); }, 3));
  await new Promise((r) => {
    let n = 0;
    const id = setInterval(() => {
      order.push(`tick:${performance.now()}:${Math.random()}`);
      if (++n === 3) { clearInterval(id); r(); }
    }, 2);
  });
  await fetched;
  seen.order = order;
  seen.after = [Date.now(), performance.now(), crypto.randomUUID()];
  return { ...state, seen, at: ctx.now };
}
