// TypeScript that strips to JavaScript: every construct a charm author
// commonly writes, and an enum (lowered in place).
import type { Feed, Item } from "./ts-types.ts";
export type { Feed };

interface State {
  count: number;
  titles?: string[];
}
type Pair<A, B = A> = [A, B];
declare const neverDefined: number;

export enum Level {
  Low = 1,
  High,
  Named = "named",
}

abstract class Base<T> {
  protected abstract readonly kind: string;
  describe(): string {
    return `${this.kind}`;
  }
}

class Counter<T extends number> extends Base<T> {
  protected readonly kind: string = "counter";
  private total: number;
  declare marker: string;
  constructor(start: T) {
    super();
    this.total = start;
  }
  add(n: T, times?: number): this {
    this.total += n * (times ?? 1);
    return this;
  }
  get value(): number {
    return this.total;
  }
}

function first<T>(items: readonly T[]): T | undefined {
  return items[0];
}

function overloaded(x: string): string;
function overloaded(x: number): number;
function overloaded(x: any): any {
  return x;
}

export const integration = "ts-demo" satisfies string;

export async function bgUpdater(state: Partial<State>, ctx: { input: unknown }): Promise<State> {
  const count = (state.count as number | undefined) ?? 0;
  const pair: Pair<number> = [count, count + 1];
  const counter = new Counter<number>(pair[1]!).add(2, 3);
  const titles = (state.titles ?? []).concat(first<string>(["a", "b"])!);
  const config = { level: Level.High } satisfies { level: Level };
  const generic = <T,>(x: T): T => x;
  return {
    count: counter.value,
    titles,
    level: config.level,
    named: Level.Named,
    reverse: Level[Level.Low],
    kind: counter.describe(),
    same: generic<string>(overloaded("x")),
    typeofDeclared: typeof neverDefined === "undefined" ? "gone" : "there",
  } as State;
}
