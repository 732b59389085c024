// URLPattern, with the URL Pattern standard's own examples.
function attempt(f) {
  try {
    return f();
  } catch (e) {
    return e.name;
  }
}

export function bgUpdater() {
  const books = new URLPattern({ pathname: "/books/:id" });
  const byString = new URLPattern("https://example.com/books/:id");
  const withBase = new URLPattern("/books/:id(\\d+)", "https://example.com");
  const optional = new URLPattern({ pathname: "/books/:id?" });
  const wildcard = new URLPattern({ pathname: "/images/*.jpg" });
  const hosts = new URLPattern({ hostname: "{*.}?example.com" });
  const caseless = new URLPattern({ pathname: "/API/v1" }, { ignoreCase: true });
  const regexp = new URLPattern({ pathname: "/(foo|bar)/:rest*" });
  const protocol = new URLPattern({ protocol: "http{s}?" });
  const hit = books.exec("https://example.com/books/123?x=1");
  const full = byString.exec("https://example.com/books/abc");
  return {
    components: [byString.protocol, byString.hostname, byString.pathname, byString.search, byString.port],
    normalised: new URLPattern({ pathname: "/café/:x" }).pathname,
    bookGroups: hit.pathname.groups,
    bookInputs: hit.inputs,
    bookSearch: hit.search,
    fullHost: full.hostname,
    test: [
      books.test("https://example.com/books/123"),
      books.test("https://example.com/books"),
      books.test("https://example.com/books/1/2"),
      withBase.test("https://example.com/books/42"),
      withBase.test("https://example.com/books/abc"),
      byString.test("/books/9", "https://example.com"),
      byString.test({ pathname: "/books/9", protocol: "https", hostname: "example.com" }),
    ],
    optional: [optional.test("https://a.test/books"), optional.exec("https://a.test/books")?.pathname.groups],
    wildcard: wildcard.exec("https://cdn.test/images/cats/tom.jpg")?.pathname.groups,
    hosts: [hosts.test("https://example.com/"), hosts.test("https://www.example.com/"), hosts.test("https://example.org/")],
    caseless: [caseless.test("https://x.test/api/v1"), books.test("https://x.test/BOOKS/1")],
    regexp: [regexp.exec("https://x.test/bar/a/b")?.pathname.groups, regexp.test("https://x.test/baz/a")],
    protocol: [protocol.test("http://x.test/"), protocol.test("https://x.test/"), protocol.test("ftp://x.test/")],
    hasRegExpGroups: [books.hasRegExpGroups, withBase.hasRegExpGroups, regexp.hasRegExpGroups],
    errors: [
      attempt(() => new URLPattern("/no/base")),
      attempt(() => new URLPattern({ pathname: "/(unclosed" })),
      attempt(() => new URLPattern({ pathname: "/:id(\\)" })),
      attempt(() => books.test({ pathname: "/books/1" }, "https://example.com")),
    ],
    notAUrl: books.exec("not a url"),
    tag: Object.prototype.toString.call(books),
  };
}
