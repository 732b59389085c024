// Parses, but breaks the charm contract: no bgUpdater export.
export function update(state) {
  return state;
}
