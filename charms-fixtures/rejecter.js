// Fails by returning a promise that rejects with a plain value, not an Error.
export function bgUpdater() {
  return Promise.reject("upstream said no");
}
