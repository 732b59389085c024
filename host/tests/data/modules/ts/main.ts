import type { Item } from "./parse.ts";
import { parse } from "./parse.ts";

interface State {
  items: Item[];
}

export async function bgUpdater(state: State, ctx: { input: unknown }): Promise<State> {
  const text = String(ctx.input ?? "a,b");
  const items = parse(text);
  return { items };
}
