// Uploads a form with a text field and files as multipart/form-data, the
// way a charm posts an attachment to an API; then reads a multipart answer
// with res.formData().
export async function bgUpdater(state, ctx) {
  const form = new FormData();
  form.append("title", "Rapport d’été");
  const everyByte = new Uint8Array(256).map((_, i) => i);
  form.append("attachment", new File([everyByte], "données.bin", { type: "application/octet-stream" }));
  form.append("notes", new Blob(["line 1\nline 2"], { type: "text/plain" }), "notes.txt");
  const res = await fetch(ctx.input.uploadUrl, { method: "POST", body: form });
  const answer = await res.json();

  const echoed = await (await fetch(ctx.input.formUrl)).formData();
  const entries = [];
  for (const [name, value] of echoed) {
    entries.push(
      typeof value === "string"
        ? [name, value]
        : [name, value.name, value.type, [...(await value.bytes())]],
    );
  }
  return { status: res.status, answer, entries };
}
