// Bench cluster rows: a run that only computes (about 20 ms of CPU).
export function bgUpdater(state) {
  let n = 0;
  for (let i = 0; i < 1500000; i++) n = (n + i * 7) % 1000003;
  return { count: (state.count ?? 0) + 1, n };
}
