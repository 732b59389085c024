// Sets timers until one is refused. With `ctx.input.catch`, it catches the
// refusal and reports it; without, the refusal ends the run.
export async function bgUpdater(state, ctx) {
  let set = 0;
  try {
    for (;;) {
      setTimeout(() => {}, 60_000);
      set++;
    }
  } catch (e) {
    if (!ctx.input.catch) throw e;
    return { set, error: `${e.name}: ${e.message}` };
  }
}
