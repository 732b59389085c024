// URL and URLSearchParams, with the URL standard's own examples.
function tryUrl(input, base) {
  try {
    return base === undefined ? new URL(input).href : new URL(input, base).href;
  } catch (e) {
    return `${e.name}`;
  }
}

function parsing() {
  // The standard's "URL parsing" examples: [input, base, result].
  const cases = [
    ["https:example.org", undefined],
    ["https://////example.com///", undefined],
    ["https://example.com/././foo", undefined],
    ["hello:world", "https://example.com/"],
    ["https:example.org", "https://example.com/"],
    ["\\example\\..\\demo/.\\", "https://example.com/"],
    ["example", "https://example.com/demo"],
    ["file:///C|/demo", undefined],
    ["..", "file:///C:/demo"],
    ["file://loc%61lhost/", undefined],
    ["https://user:password@example.org/", undefined],
    ["https://example.org/foo bar", undefined],
    ["https://EXAMPLE.com/../x", undefined],
    ["https://ex ample.org/", undefined],
    ["example", undefined],
    ["https://example.com:demo", undefined],
    ["http://[www.example.com]/", undefined],
    ["https://example.org//", undefined],
    ["https://example.com/[]?[]#[]", undefined],
    ["https://example/%?%#%", undefined],
    ["https://example/%25?%25#%25", undefined],
    // Hosts: IPv4 shorthands, IPv6 compression, IDNA.
    ["http://127.1/", undefined],
    ["http://0x7F.1/", undefined],
    ["http://[0:0::1]/", undefined],
    ["https://faß.example/", undefined],
    ["https://example%2Ecom/", undefined],
  ];
  return cases.map(([input, base]) => tryUrl(input, base));
}

function components() {
  const url = new URL("https://user:pa%20ss@EXAMPLE.org:8080/a/./b/../c?x=1&y=2#frag");
  return {
    href: url.href,
    origin: url.origin,
    protocol: url.protocol,
    username: url.username,
    password: url.password,
    host: url.host,
    hostname: url.hostname,
    port: url.port,
    pathname: url.pathname,
    search: url.search,
    hash: url.hash,
    json: JSON.stringify({ url }),
    string: `${url}`,
    opaqueOrigin: new URL("data:text/plain,hi").origin,
    defaultPort: new URL("https://example.org:443/").port,
    blobOrigin: new URL("blob:https://example.org/uuid").origin,
  };
}

function setters() {
  const out = {};
  const url = new URL("http://example.org/path?q=1#h");
  url.protocol = "https";
  out.protocol = url.href;
  url.protocol = "foo"; // special to non-special: ignored
  out.protocolIgnored = url.protocol;
  url.username = "us er";
  url.password = "p@ss";
  out.credentials = url.href;
  url.host = "example.com:8443";
  out.host = url.href;
  url.hostname = "example.net:99"; // a ":" makes the hostname setter fail
  out.hostname = url.href;
  url.port = "8080abc";
  out.port = url.port;
  url.port = "443"; // the default port of https
  out.defaultPort = [url.port, url.host];
  url.port = "99999"; // out of range: ignored
  out.badPort = url.port;
  url.pathname = "a b/c";
  out.pathname = url.pathname;
  url.search = "x y=1";
  out.search = url.search;
  url.hash = "#x y";
  out.hash = url.hash;
  url.search = "";
  url.hash = "";
  out.cleared = url.href;
  const mail = new URL("mailto:someone@example.org");
  mail.username = "ignored";
  mail.host = "ignored.example";
  out.noHost = mail.href;
  try {
    url.href = "not a url";
    out.badHref = "no error";
  } catch (e) {
    out.badHref = e.name;
  }
  url.href = "https://example.com/new?a=b";
  out.href = [url.href, url.searchParams.get("a")];
  return out;
}

function searchParamsLink() {
  const url = new URL("https://example.org/?q=🏳️‍🌈&key=e1f7bc78");
  url.searchParams.sort();
  const sorted = url.search;
  const params = url.searchParams;
  params.append("a", "b c");
  const appended = url.href;
  url.search = "?x=1&x=2";
  const fromSearch = [params.getAll("x"), params.size, params === url.searchParams];
  params.delete("x");
  const emptied = url.href;
  url.hash = "#keep";
  params.set("z", "1");
  return { sorted, appended, fromSearch, emptied, withHash: url.href };
}

function searchParams() {
  const p = new URLSearchParams("?a=1&b=2&a=3&c=%zz&d&e=x+y%20z");
  const entries = [...p];
  const getAll = p.getAll("a");
  const get = [p.get("a"), p.get("missing"), p.get("d"), p.get("e"), p.get("c")];
  const has = [p.has("a"), p.has("a", "3"), p.has("a", "4"), p.has("nope")];
  p.delete("a", "1");
  const deletedOne = p.toString();
  p.set("b", "new");
  p.append("b", "again");
  p.set("b", "only");
  const setReplaces = p.toString();
  const encoded = new URLSearchParams({ q: "a b&c=d/é~*'()", "€": "1" }).toString();
  const fromPairs = new URLSearchParams([["x", "1"], ["y", "2"]]).toString();
  const fromParams = new URLSearchParams(new URLSearchParams("k=v")).toString();
  const fromRecord = new URLSearchParams({ one: 1, two: true }).toString();
  const lone = new URLSearchParams({ s: "\uD800" }).toString();
  const sort = new URLSearchParams("z=b&a=b&z=a&a=a&é=1&e=2");
  sort.sort();
  let badPair;
  try {
    new URLSearchParams([["a", "b", "c"]]);
  } catch (e) {
    badPair = e.name;
  }
  const seen = [];
  new URLSearchParams("a=1&b=2").forEach((value, name, self) => seen.push(`${name}=${value}:${self.size}`));
  const keys = [...new URLSearchParams("a=1&b=2").keys()];
  const values = [...new URLSearchParams("a=1&b=2").values()];
  // Iteration sees appends made while iterating.
  const live = new URLSearchParams("a=1");
  const liveSeen = [];
  for (const [name] of live) {
    liveSeen.push(name);
    if (live.size < 3) live.append(`n${live.size}`, "x");
  }
  return {
    entries,
    getAll,
    get,
    has,
    deletedOne,
    setReplaces,
    encoded,
    fromPairs,
    fromParams,
    fromRecord,
    lone,
    sorted: sort.toString(),
    badPair,
    seen,
    keys,
    values,
    liveSeen,
    size: new URLSearchParams("a=1&a=2&b").size,
    tag: Object.prototype.toString.call(new URLSearchParams()),
  };
}

function statics() {
  return {
    canParse: [URL.canParse("https://example.org"), URL.canParse("/x"), URL.canParse("/x", "https://example.org")],
    parse: [URL.parse("/a", "https://example.org/b/")?.href, URL.parse("nope")],
    parseIsURL: URL.parse("https://example.org") instanceof URL,
  };
}

function errors() {
  const out = {};
  try {
    new URL("/relative");
  } catch (e) {
    out.relative = [e.name, e.message];
  }
  try {
    new URL("x", "not a base");
  } catch (e) {
    out.badBase = e.name;
  }
  try {
    new URL();
  } catch (e) {
    out.noArgs = e.name;
  }
  return out;
}

export function bgUpdater() {
  return {
    parsing: parsing(),
    components: components(),
    setters: setters(),
    link: searchParamsLink(),
    params: searchParams(),
    statics: statics(),
    errors: errors(),
  };
}
