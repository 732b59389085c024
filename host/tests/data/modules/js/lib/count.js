import { STEP } from "../step.js";

export function next(n) {
  return n + STEP;
}
