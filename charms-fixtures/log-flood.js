// Logs without end: ended by the log volume limit, not by filling the disk.
export function bgUpdater() {
  for (let i = 0; ; i++) console.log(`line ${i}: ${"spam ".repeat(20)}`);
}
