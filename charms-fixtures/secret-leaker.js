// Does everything a careless charm might do with its secret: logs it in
// several shapes, puts it into a host name, throws with it, and returns it
// in its state (in a string, an array, a key, a number and a nested value).
export async function bgUpdater(state, ctx) {
  const key = ctx.secrets.API_KEY;
  const mode = ctx.input && ctx.input.mode;
  console.log("the key is", key);
  console.info({ headers: { authorization: `Bearer ${key}` } });
  console.warn(JSON.stringify({ key }));
  console.error(new Error(`logged error with ${key}`));
  if (mode === "throw") {
    throw new Error(`refused with key ${key}`);
  }
  if (mode === "fetch") {
    await fetch(`http://${key}.example/`); // not on the allow-list
  }
  if (mode === "reject") {
    await Promise.reject(new TypeError(`rejected ${key}`, { cause: { key } }));
  }
  return {
    ...state,
    key,
    nested: [key, { [key]: `x${key}x` }],
    pin: Number(ctx.secrets.PIN),
    runs: (state.runs || 0) + 1,
    names: Object.keys(ctx.secrets).sort(),
    frozen: Object.isFrozen(ctx.secrets),
  };
}
