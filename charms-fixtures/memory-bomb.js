// Allocates until something stops it: the memory limit must, uncatchably.
export function bgUpdater() {
  const hoard = [];
  try {
    for (;;) hoard.push("x".repeat(1 << 20) + hoard.length);
  } catch (e) {
    // A catchable out-of-memory would let the charm carry on; it must not get here.
    return { escaped: String(e) };
  }
}
