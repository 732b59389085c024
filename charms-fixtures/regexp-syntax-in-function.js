// A regular expression literal that does not compile, in a function body.
export function bgUpdater() {
  if (false) {
    return "x".match(/[b-a]/);
  }
  return {};
}
