// Chains of awaits, Promise.all and a microtask that settles late: the run
// must not finish before all of it has.
const delayMicro = (value, hops) =>
  hops === 0 ? Promise.resolve(value) : Promise.resolve().then(() => delayMicro(value, hops - 1));

async function step(n) {
  const v = await delayMicro(n, 50);
  return v * 2;
}

export async function bgUpdater(state) {
  const doubled = await Promise.all([1, 2, 3].map(step));
  const sum = await doubled.reduce(async (acc, v) => (await acc) + v, Promise.resolve(0));
  const settled = await Promise.allSettled([Promise.reject(new Error("one")), step(10)]);
  return { ...state, doubled, sum, settled: settled.map((s) => s.status) };
}
