// Awaits a promise nothing will ever resolve: the run must fail, not
// "finish" early as async updaters did in the original service.
export async function bgUpdater(state) {
  await new Promise(() => {});
  return { ...state, finished: true };
}
