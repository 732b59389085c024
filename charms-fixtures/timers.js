// Timers in the HTML standard's order (by deadline, then by creation),
// cleared timers that never fire, an interval that stops itself, and
// arguments passed through.
export async function bgUpdater(state) {
  const order = [];
  setTimeout(() => order.push("b@20"), 20);
  setTimeout((x) => order.push(x), 10, "a@10");
  setTimeout(() => order.push("c@10"), 10);
  const cleared = setTimeout(() => order.push("cleared"), 5);
  clearTimeout(cleared);
  // Deadline 30 is after every timer above, however late the loop wakes:
  // the order asserted does not depend on the machine's load.
  await new Promise((resolve) => setTimeout(resolve, 30));
  let ticks = 0;
  await new Promise((resolve) => {
    const interval = setInterval(() => {
      order.push(`tick${ticks}`);
      if (++ticks === 3) {
        clearInterval(interval);
        resolve();
      }
    }, 7);
  });
  await new Promise((resolve) => setTimeout(resolve, 30));
  // Delays wrap as 32-bit integers: these fire at once (0 and 5 ms).
  await new Promise((resolve) => setTimeout(resolve, Infinity));
  await new Promise((resolve) => setTimeout(resolve, 2 ** 32 + 5));
  order.push("wrapped");
  return { ...state, order };
}
