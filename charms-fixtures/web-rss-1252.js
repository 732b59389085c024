// A feed served as windows-1252 (Content-Type application/rss+xml;
// charset=windows-1252), read with res.text() as any feed reader would:
// the declared charset decodes it, and a BOM would outrank the charset.
function titles(xml) {
  return [...xml.matchAll(/<title>([^<]*)<\/title>/g)].map((m) => m[1]);
}

export async function bgUpdater(state, ctx) {
  const feed = await fetch(ctx.input.feedUrl);
  const xml = await feed.text();
  const bom = await fetch(ctx.input.bomUrl);
  const undeclared = await fetch(ctx.input.utf8Url);
  return {
    contentType: feed.headers.get("content-type"),
    encoding: xml.match(/encoding="([^"]+)"/)[1],
    titles: titles(xml),
    bomTitles: titles(await bom.text()),
    utf8Titles: titles(await undeclared.text()),
    json: await (await fetch(ctx.input.jsonUrl)).json(),
  };
}
