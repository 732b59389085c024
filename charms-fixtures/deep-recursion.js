// Recurses `ctx.input.depth` frames deep, or without end when no depth is
// given: the stack limit must end it cleanly, while ordinary depths (a few
// thousand frames) must work.
function down(n, limit) {
  return n === limit ? 0 : down(n + 1, limit) + 1;
}

export function bgUpdater(state, ctx) {
  return { depth: down(0, ctx.input?.depth ?? -1) };
}
