export interface Item {
  name: string;
}

export function parse(text: string): Item[] {
  if (text === "boom") {
    const reason: string = "cannot parse " + text;
    throw new Error(reason);
  }
  return text.split(",").map((name: string): Item => ({ name }));
}
