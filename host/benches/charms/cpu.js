// Bench cluster rows: a run that only computes (50,000 loop iterations).
export function bgUpdater(state) {
  let n = 0;
  for (let i = 0; i < 50000; i++) n = (n + i * 7) % 1000003;
  return { count: (state.count ?? 0) + 1, n };
}
