// Returns a value JSON cannot represent (a BigInt).
export function bgUpdater() {
  return { big: 10n ** 30n };
}
