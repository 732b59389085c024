// Records each run's inbox events in its state: `seen` gets one entry per
// run, the list of its events' `n` (or their data). An event whose data
// has `slow` makes the run fetch that URL first; one with `poison` makes
// the run fail (before the state changes).
export async function bgUpdater(state, ctx) {
  for (const event of ctx.events) {
    if (event.data?.poison) throw new Error(`poison event ${event.id}`);
    if (event.data?.slow) await (await fetch(event.data.slow)).text();
  }
  const seen = [...(state.seen ?? []), ctx.events.map((e) => e.data?.n ?? e.data)];
  const ids = [...(state.ids ?? []), ctx.events.map((e) => e.id)];
  return { seen, ids, input: ctx.input, sources: ctx.events.map((e) => e.source) };
}
