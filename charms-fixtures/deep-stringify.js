// Builds an array nested `ctx.input.depth` deep and, per `ctx.input.op`,
// passes it to JSON.stringify or console.log (or neither, for the cost of
// building it): the test compares the fuel of two depths.
export function bgUpdater(state, ctx) {
  const { depth, op } = ctx.input;
  let deep = [];
  for (let i = 0; i < depth; i++) deep = [deep];
  let length = 0;
  if (op === "stringify") length = JSON.stringify(deep).length;
  if (op === "log") console.log(deep);
  return { length };
}
