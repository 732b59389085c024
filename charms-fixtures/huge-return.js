// Returns a state far over the output limit (8 MiB).
export function bgUpdater() {
  return { blob: "y".repeat(8 * 1024 * 1024) };
}
