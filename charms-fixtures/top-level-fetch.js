// Does I/O at module top level, which runs at compile time: refused.
const preload = await fetch("https://example.com/");

export function bgUpdater() {
  return { preload: preload.status };
}
