// Does not parse: the type annotation on line 4 has no type.
export function bgUpdater(state: { n: number }) {
  const n: number = state.n;
  const m: = n + 1;
  return { n: m };
}
