// TextDecoder, TextEncoder, atob and btoa, on the Encoding and HTML
// standards' own examples: labels, legacy encodings, fatal decoding, BOMs,
// a stream cut in the middle of a character, encodeInto into a short buffer.
const bytes = (...values) => new Uint8Array(values);
const codes = (text) => [...text].map((c) => c.codePointAt(0).toString(16));

function failure(f) {
  try {
    f();
    return "no error";
  } catch (e) {
    return `${e.name}: ${e instanceof DOMException ? e.code : e instanceof Error}`;
  }
}

export function bgUpdater() {
  const labels = [
    "utf8", " UTF-8\n", "unicode-1-1-utf-8", "latin1", "ISO-8859-1", "ascii", "us-ascii",
    "windows-1252", "iso-8859-2", "koi8-r", "sjis", "gb2312", "gb18030", "big5", "euc-kr",
    "csiso2022jp", "utf-16", "utf-16be", "x-user-defined",
  ];
  const names = labels.map((label) => new TextDecoder(label).encoding);

  // Windows-1252 keeps 0x80-0x9F for punctuation and the euro sign.
  const cp1252 = new TextDecoder("windows-1252").decode(
    bytes(0x93, 0x48, 0x69, 0x94, 0x20, 0x96, 0x20, 0xe9, 0xfc, 0x20, 0x80),
  );
  const legacy = {
    shiftJis: new TextDecoder("shift_jis").decode(bytes(0x82, 0xa0, 0x93, 0xfa)),
    eucKr: new TextDecoder("euc-kr").decode(bytes(0xc7, 0xd1)),
    big5: new TextDecoder("big5").decode(bytes(0xa4, 0xa4)),
    gbk: new TextDecoder("gbk").decode(bytes(0xd6, 0xd0)),
    koi8: new TextDecoder("koi8-r").decode(bytes(0xf0, 0xd2, 0xc9)),
    userDefined: codes(new TextDecoder("x-user-defined").decode(bytes(0x41, 0x80, 0xff))),
  };

  // Fatal decoding throws a TypeError; the default replaces each error.
  const fatal = {
    utf8: failure(() => new TextDecoder("utf-8", { fatal: true }).decode(bytes(0x61, 0xc3, 0x28))),
    truncated: failure(() => new TextDecoder("utf-8", { fatal: true }).decode(bytes(0xe2, 0x82))),
    shiftJis: failure(() => new TextDecoder("shift_jis", { fatal: true }).decode(bytes(0x82))),
    valid: new TextDecoder("utf-8", { fatal: true }).decode(bytes(0xe2, 0x82, 0xac)),
    replaced: codes(new TextDecoder().decode(bytes(0x61, 0xc3, 0x28, 0xff, 0xf0, 0x9f, 0x98, 0x62))),
    flags: [new TextDecoder("utf-8", { fatal: true }).fatal, new TextDecoder().fatal],
  };

  // A BOM of the decoder's encoding is removed unless ignoreBOM is set;
  // it never switches the encoding.
  const bom = {
    utf8: new TextDecoder().decode(bytes(0xef, 0xbb, 0xbf, 0x41)),
    kept: codes(new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes(0xef, 0xbb, 0xbf, 0x41))),
    utf16le: new TextDecoder("utf-16le").decode(bytes(0xff, 0xfe, 0x41, 0x00)),
    utf16be: new TextDecoder("utf-16be").decode(bytes(0xfe, 0xff, 0x00, 0x41, 0xd8, 0x3d, 0xde, 0x00)),
    otherBom: codes(new TextDecoder("utf-16le").decode(bytes(0xef, 0xbb, 0xbf, 0x00))),
    ignoreFlag: new TextDecoder("utf-8", { ignoreBOM: true }).ignoreBOM,
  };

  // {stream: true} keeps a character cut between chunks.
  const euro = new TextDecoder();
  const stream = [
    euro.decode(bytes(0x41, 0xe2, 0x82), { stream: true }),
    euro.decode(bytes(0xac, 0x42), { stream: true }),
    euro.decode(),
  ];
  const cut = new TextDecoder();
  const flushed = codes(cut.decode(bytes(0xe2, 0x82), { stream: true }) + cut.decode());
  const cutFatal = new TextDecoder("utf-8", { fatal: true });
  cutFatal.decode(bytes(0xf0, 0x9f), { stream: true });
  const flushedFatal = failure(() => cutFatal.decode());
  const afterError = cutFatal.decode(bytes(0x41));
  const utf16 = new TextDecoder("utf-16le");
  const emoji = [0x3d, 0xd8, 0x00, 0xde].map((b) => utf16.decode(bytes(b), { stream: true })).join("") + utf16.decode();
  const jis = new TextDecoder("iso-2022-jp");
  const jisText = [
    jis.decode(bytes(0x1b, 0x24, 0x42, 0x24), { stream: true }),
    jis.decode(bytes(0x22, 0x24, 0x24, 0x1b, 0x28), { stream: true }),
    jis.decode(bytes(0x42, 0x41)),
  ];

  // Any BufferSource: an ArrayBuffer, a view into part of one, a DataView.
  const buffer = new TextEncoder().encode("xhéllox").buffer;
  const sources = [
    new TextDecoder().decode(new Uint8Array(buffer, 1, 6)),
    new TextDecoder().decode(new DataView(buffer, 1, 6)),
    new TextDecoder().decode(buffer),
    new TextDecoder("utf-16le").decode(new Uint16Array([0x68, 0x69])),
    failure(() => new TextDecoder().decode("text")),
  ];

  const encoder = new TextEncoder();
  const short = new Uint8Array(5);
  const into = encoder.encodeInto("A€😀", short);
  const encode = {
    encoding: encoder.encoding,
    utf8: [...encoder.encode("A€😀")],
    loneSurrogate: [...encoder.encode("a\ud800b")],
    empty: encoder.encode().length,
    into: [into.read, into.written, [...short]],
    fits: encoder.encodeInto("héllo😀", new Uint8Array(16)),
    loneInto: encoder.encodeInto("\udc00x", new Uint8Array(8)),
    notUint8: failure(() => encoder.encodeInto("a", new Uint16Array(4))),
  };

  const base64 = {
    btoa: btoa("Hello, world!"),
    btoaLatin1: btoa("\xff\xfe\x00"),
    atob: atob(" SGVs\nbG8= "),
    noPadding: atob("YQ"),
    binary: [...atob("/wCA")].map((c) => c.charCodeAt(0)),
    trailingBits: atob("YR=="),
    errors: [
      failure(() => atob("a")),
      failure(() => atob("ab=c")),
      failure(() => atob("YQ===")),
      failure(() => atob("Y!==")),
      failure(() => btoa("€")),
      failure(() => atob()),
    ],
  };

  return {
    names,
    badLabels: [failure(() => new TextDecoder("nope")), failure(() => new TextDecoder("iso-2022-kr"))],
    cp1252,
    latin1: new TextDecoder("iso-8859-1").decode(bytes(0xe9, 0x80)),
    legacy,
    fatal,
    bom,
    stream,
    flushed,
    flushedFatal,
    afterError,
    emoji,
    jisText,
    sources,
    encode,
    base64,
    tags: [String(new TextDecoder()), String(new TextEncoder())],
  };
}
