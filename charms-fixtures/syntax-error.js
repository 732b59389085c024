// Does not parse: the object literal on line 4 is missing a comma.
export function bgUpdater(state) {
  return {
    a: 1
    b: 2,
  };
}
