export const STEP = 1;
