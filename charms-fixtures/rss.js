// An RSS reader: fetches a feed, keeps the items it has not seen before.
//
// ctx.input.feedUrl names the feed (the tests serve one on loopback); the
// state keeps up to 200 items, newest first, deduplicated by guid (or link).
export const integration = "rss";

const MAX_ITEMS = 200;

function tag(xml, name) {
  const m = xml.match(new RegExp(`<${name}[^>]*>([\\s\\S]*?)</${name}>`));
  if (!m) return undefined;
  return m[1].replace(/^<!\[CDATA\[([\s\S]*)\]\]>$/, "$1").trim();
}

function parseItems(xml) {
  const items = [];
  for (const m of xml.matchAll(/<item\b[^>]*>([\s\S]*?)<\/item>/g)) {
    const body = m[1];
    const link = tag(body, "link");
    items.push({ id: tag(body, "guid") ?? link, title: tag(body, "title") ?? "(untitled)", link });
  }
  return items;
}

export async function bgUpdater(state, ctx) {
  const feedUrl = ctx.input?.feedUrl ?? state.feedUrl;
  if (!feedUrl) throw new Error("no feed URL: pass { feedUrl } as the run input");
  const res = await fetch(feedUrl, { headers: { accept: "application/rss+xml" } });
  if (!res.ok) throw new Error(`feed answered ${res.status} ${res.statusText}`);
  const items = parseItems(await res.text());
  const known = new Set((state.items ?? []).map((i) => i.id));
  const fresh = items.filter((i) => i.id && !known.has(i.id));
  console.log(`${items.length} items in the feed, ${fresh.length} new`);
  return {
    feedUrl,
    items: [...fresh, ...(state.items ?? [])].slice(0, MAX_ITEMS),
    lastChecked: ctx.now,
  };
}
