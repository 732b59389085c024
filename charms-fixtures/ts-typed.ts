/// <reference path="../host/src/cli/charm-host.d.ts" />
// A charm typed with charm-host.d.ts (`charm-host types`): the reference
// and the types are comments and whitespace once stripped.
interface State {
  runs: number;
  lastRunId?: string;
}

export const integration = "typed";

export const bgUpdater: CharmUpdater<State> = async (state, ctx: CharmContext) => {
  const events: readonly CharmEvent[] = ctx.events;
  ctx.scheduleNext(60_000);
  return {
    runs: (state.runs ?? 0) + 1,
    lastRunId: ctx.runId,
    space: ctx.space,
    attempt: ctx.attempt,
    integration: ctx.integration,
    events: events.length,
  } as State;
};
