// Blob, File and FormData as the File API and the XHR standard define
// them, and their bodies in fetch: slicing, type normalisation, FormData's
// order and File conversion, multipart and urlencoded round trips.
function failure(f) {
  try {
    f();
    return "no error";
  } catch (e) {
    return e.name;
  }
}

async function rejection(promise) {
  try {
    await promise;
    return "no error";
  } catch (e) {
    return `${e.name}: ${e.message}`;
  }
}

const summary = (value) =>
  typeof value === "string" ? value : [value.constructor.name, value.name, value.type, value.size];

export async function bgUpdater() {
  const blob = new Blob(["Hello, ", new Uint8Array([0x77, 0x6f]), new Blob(["rld"])], { type: "Text/Plain" });
  const buffer = new Uint8Array([1, 2, 3, 4]);
  const copied = new Blob([buffer]);
  buffer[0] = 9;
  const blobs = {
    basics: [blob.size, blob.type, await blob.text(), String(blob)],
    slices: [
      await blob.slice(7).text(),
      await blob.slice(-5, -1).text(),
      await blob.slice(3, 1).text(),
      await blob.slice(-100, 5).text(),
      blob.slice(0, 5, "Image/PNG").type,
      blob.slice().type,
      blob.slice(0, 5).slice(1, 3).size,
    ],
    types: [new Blob([], { type: "a/b\u00e9" }).type, new Blob([], { type: " X " }).type, new Blob().size],
    endings: [
      await new Blob(["a\r\nb\rc\n"], { endings: "native" }).text(),
      (await new Blob(["a\r\nb"]).text()).length,
      failure(() => new Blob([], { endings: "dos" })),
    ],
    copied: [...(await copied.bytes())],
    arrayBuffer: (await blob.slice(0, 2).arrayBuffer()).byteLength,
    notASequence: failure(() => new Blob("abc")),
    utf8: (await new Blob(["é", "\ud800"]).bytes()).length,
  };
  let stream;
  if (typeof ReadableStream === "function") {
    const reader = blob.stream().getReader();
    const chunks = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(...r.value);
    stream = new TextDecoder().decode(new Uint8Array(chunks));
  } else {
    try {
      blob.stream();
      stream = "no error";
    } catch (e) {
      stream = `${e.name}: ${e.message}`;
    }
  }

  const file = new File(["x", "yz"], "a.txt", { type: "text/plain", lastModified: 42 });
  const before = Date.now();
  const dated = new File([], "now.bin");
  const files = {
    file: [file.name, file.lastModified, file.type, file.size, file instanceof Blob, String(file)],
    sliceIsBlob: file.slice(1) instanceof File,
    lastModifiedNow: dated.lastModified >= before && dated.lastModified <= Date.now(),
    needsName: failure(() => new File(["x"])),
  };

  const form = new FormData();
  form.append("a", "1");
  form.append("b", new Blob(["bee"], { type: "text/plain" }));
  form.append("a", "2");
  form.append("c", file, "renamed.txt");
  form.append("d", file);
  form.set("e", "x\r\ny");
  const entries = [...form].map(([name, value]) => [name, summary(value)]);
  const forms = {
    entries,
    get: [form.get("a"), form.get("zz"), form.getAll("a"), form.has("b"), form.has("zz")],
    sameFile: form.get("d") === file,
    renamedKeepsDate: form.get("c").lastModified,
    filenameNeedsBlob: failure(() => form.append("x", "y", "z.txt")),
    noForms: failure(() => new FormData({})),
  };
  form.set("a", "only");
  form.delete("b");
  forms.afterSetDelete = [...form.keys()];
  // Iteration is live: an entry appended while iterating is visited.
  const visited = [];
  for (const [name] of form) {
    visited.push(name);
    if (name === "a") form.append("late", "1");
  }
  forms.live = visited;
  const each = [];
  form.forEach((value, name, self) => each.push([name, self === form]));
  forms.forEach = each.length;

  // Fetch bodies: a Blob sends its bytes and type; a FormData is
  // multipart/form-data, which formData() reads back.
  const blobRequest = new Request("https://example.com/", { method: "POST", body: blob });
  const upload = new FormData();
  upload.append('we"ird\nname', "line1\nline2");
  upload.append("file", new File([new Uint8Array([0, 255, 13, 10, 45, 45])], 'qu"ote\r.bin', { type: "application/x-thing" }));
  upload.append("blob", new Blob(["b"]));
  const multipart = new Request("https://example.com/", { method: "POST", body: upload });
  const contentType = multipart.headers.get("content-type");
  const boundary = contentType.split("boundary=")[1];
  const wire = await multipart.clone().text();
  const back = await multipart.formData();
  const backFile = back.get("file");
  const bodies = {
    blob: [blobRequest.headers.get("content-type"), await blobRequest.text()],
    untypedBlob: new Request("https://example.com/", { method: "POST", body: new Blob(["x"]) }).headers.get("content-type"),
    contentType: contentType.startsWith("multipart/form-data; boundary=") && boundary.length >= 24,
    freshBoundary: new Request("https://example.com/", { method: "POST", body: upload }).headers.get("content-type") !== contentType,
    escaped: [
      wire.includes('name="we%22ird%0D%0Aname"'),
      wire.includes("\r\n\r\nline1\r\nline2\r\n"),
      wire.includes('filename="qu%22ote%0D.bin"\r\nContent-Type: application/x-thing\r\n'),
      wire.includes('name="blob"; filename="blob"\r\nContent-Type: application/octet-stream\r\n'),
      wire.endsWith(`--${boundary}--\r\n`),
    ],
    back: [...back].map(([name, value]) => [name, summary(value)]),
    backBytes: [...(await backFile.bytes())],
  };

  const urlencoded = new Response("a=1&b=%C3%A9+x&&c&=d&e=%zz&f=%41%4", {
    headers: { "content-type": "application/x-www-form-urlencoded;charset=UTF-8" },
  });
  const typed = new Response("hi", { headers: { "content-type": "Text/Plain; Charset=\"UTF-8\"" } });
  const typedBlob = await typed.blob();
  const responses = {
    urlencoded: [...(await urlencoded.formData())],
    blob: [typedBlob.type, await typedBlob.text()],
    notForm: await rejection(new Response("x", { headers: { "content-type": "text/plain" } }).formData()),
    noBoundary: await rejection(new Response("x", { headers: { "content-type": "multipart/form-data" } }).formData()),
    truncated: await rejection(
      new Response('--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue', {
        headers: { "content-type": "multipart/form-data; boundary=b" },
      }).formData(),
    ),
    quotedBoundary: [
      ...(await new Response('preamble\r\n--a;b\r\nContent-Disposition: form-data; name="k"\r\n\r\nv\r\n--a;b--', {
        headers: { "content-type": 'multipart/form-data; boundary="a;b"' },
      }).formData()),
    ],
  };

  return { blobs, stream, files, forms, bodies, responses };
}
