// Fails with a TypeError; the types before the failing call on its line
// are stripped to spaces, so the stack's columns are the author's.
interface Entry { title?: { text: string } }

function parse(entry: Entry): string {
  const title: { text: string } = entry.title as { text: string }; return title.text.trim();
}

export async function bgUpdater(state: Record<string, unknown>): Promise<object> {
  const where: string | undefined = (new Error("logged here") as Error).stack; console.log("at", where!);
  const titles: string[] = [parse({ title: { text: "ok" } } as Entry), parse({} as Entry)]; return { titles };
}
