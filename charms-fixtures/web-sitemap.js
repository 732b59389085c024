// A realistic integration: a site's sitemap, served gzip'd (sitemap.xml.gz)
// as most sites serve them, read as it arrives through
// DecompressionStream and TextDecoderStream, taking every <loc> as soon as
// it is whole (a chunk may end in the middle of one).
export const integration = "sitemap";

const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'" };

export async function bgUpdater(state, ctx) {
  const res = await fetch(ctx.input.url);
  if (!res.ok) throw new Error(`the sitemap answered ${res.status}`);
  const text = res.body
    .pipeThrough(new DecompressionStream("gzip"))
    .pipeThrough(new TextDecoderStream());
  const urls = [];
  let chunks = 0;
  let carry = "";
  const loc = /<loc>\s*([^<]*?)\s*<\/loc>/g;
  for await (const chunk of text) {
    chunks += 1;
    carry += chunk;
    let match;
    let consumed = 0;
    loc.lastIndex = 0;
    while ((match = loc.exec(carry)) !== null) {
      urls.push(match[1].replace(/&(amp|lt|gt|quot|apos);/g, (e) => ENTITIES[e]));
      consumed = loc.lastIndex;
    }
    carry = carry.slice(consumed);
  }
  const known = new Set(state.urls ?? []);
  return {
    urls,
    added: urls.filter((u) => !known.has(u)).length,
    chunks,
    bodyUsed: res.bodyUsed,
  };
}
