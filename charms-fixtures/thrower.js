// Fails with a TypeError thrown two calls deep.
function parse(entry) {
  return entry.title.trim();
}

export async function bgUpdater(state) {
  await null;
  return { titles: [parse({ title: "ok" }), parse({})] };
}
