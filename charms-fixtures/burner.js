// A runaway: loops until its fuel runs out, every run.
export function bgUpdater() {
  let spins = 0;
  for (;;) spins++;
}
