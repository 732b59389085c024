// Reads a response with several Set-Cookie headers (dates hold commas) and
// checks the Headers API a charm relies on.
export async function bgUpdater(state, ctx) {
  const res = await fetch(ctx.input.url);
  const names = [...res.headers.keys()];
  let invalid;
  try {
    new Headers({ "x-ok": "a\r\nInjected: b" });
  } catch (e) {
    invalid = e.name;
  }
  let immutable;
  try {
    res.headers.set("x", "y");
  } catch (e) {
    immutable = e.name;
  }
  return {
    cookies: res.headers.getSetCookie(),
    names,
    trimmed: new Headers({ A: "  spaced\t" }).get("a"),
    invalid,
    immutable,
  };
}
