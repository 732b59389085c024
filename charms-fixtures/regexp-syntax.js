// A regular expression literal that does not compile, at module level.
const ok = /a+/;
const broken = /(/;

export function bgUpdater() {
  return { ok: ok.test("a"), broken: String(broken) };
}
