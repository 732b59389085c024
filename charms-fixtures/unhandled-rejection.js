// Starts a promise that rejects and never handles it; the run must fail,
// as Deno and Node fail, instead of counting as a success.
export async function bgUpdater(state) {
  Promise.reject(new TypeError("nobody handles this"));
  await new Promise((resolve) => setTimeout(resolve, 5));
  return { ...state, finished: true };
}
