// A charm of several files: the entry imports ./lib/count.js.
import { next } from "./lib/count.js";

export async function bgUpdater(state, ctx) {
  return { count: next(state.count ?? 0) };
}
