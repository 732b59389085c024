// Never returns: ended by fuel (or by the wall clock, whichever comes first).
export function bgUpdater() {
  let n = 0;
  for (;;) n++;
}
