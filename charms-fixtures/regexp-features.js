// RegExp at run time: a bad pattern is a catchable SyntaxError; the `v`
// flag (unicodeSets) is recognised, though quickjs-ng 0.15.1 implements
// little of it (see the README); recent features that work.
function attempt(f) {
  try {
    return f();
  } catch (e) {
    return `${e.name}: ${e.message}`;
  }
}

export function bgUpdater() {
  return {
    runtime: attempt(() => new RegExp("(")),
    runtimeFlags: attempt(() => new RegExp("a", "uv")),
    vFlag: attempt(() => {
      const re = /[a-z]/v;
      return [re.unicodeSets, re.flags, re.test("q")];
    }),
    vSetOperations: attempt(() => String(new RegExp("[\\p{L}--[a-z]]", "v").test("A"))),
    named: "2026-11-30".replace(/(?<y>\d{4})-(?<m>\d{2})-(?<d>\d{2})/, "$<d>.$<m>.$<y>"),
    lookbehind: "$42 €17".match(/(?<=€)\d+/)[0],
    modifiers: attempt(() => new RegExp("(?i:a)b").test("Ab")),
    escape: typeof RegExp.escape === "function" ? RegExp.escape("a.b") : "no RegExp.escape",
  };
}
