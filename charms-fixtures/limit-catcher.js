// Grows a giant string and catches every error it can, trying to carry on
// past the host's limits. The memory limit is not an exception, so the run
// still ends there.
export function bgUpdater() {
  let s = "x";
  let caught = 0;
  for (;;) {
    try {
      s = s.repeat(2);
    } catch (e) {
      caught++;
      s = "x";
    }
  }
}
