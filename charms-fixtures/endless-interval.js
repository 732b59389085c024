// An interval that is never cleared, and a promise nothing resolves: only
// the run's time limit ends it.
export async function bgUpdater() {
  let ticks = 0;
  setInterval(() => ticks++, 5);
  await new Promise(() => {});
}
