// The Deno baselines for `make bench`: the original service's way of running
// charms, measured on the same machine in the same run as charm-host.
//
//   deno run --allow-read --allow-net=127.0.0.1 baseline.js MODE N CHARM [URL]
//
// MODE fresh:  a new Web Worker per task (isolation between tasks)
// MODE reused: one worker, one postMessage round trip per task
// MODE pool:   5 workers, N tasks submitted at once, each fetching URL
// MODE fanout: one worker, N runs of a charm fetching every URL of the JSON
//              array URL at once
//
// Prints one JSON object: per-task latencies in microseconds (fresh, reused)
// or completion delays in milliseconds after submission (pool).
const [mode, count, charmPath, url] = Deno.args;
const n = Number(count);
const charm = new URL(`file://${Deno.realPathSync(charmPath)}`).href;
const workerUrl = new URL(`./worker.js?charm=${encodeURIComponent(charm)}`, import.meta.url);

function spawn() {
  return new Worker(workerUrl, { type: "module" });
}

function ask(worker, message) {
  return new Promise((resolve, reject) => {
    worker.onmessage = (e) => (e.data.ok ? resolve(e.data.state) : reject(new Error(e.data.error)));
    worker.onerror = (e) => reject(e);
    worker.postMessage(message);
  });
}

const ctx = (input) => ({ charmId: "bench", space: "default", runId: "0", input, now: Date.now() });

async function fresh() {
  const micros = [];
  let state = {};
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const worker = spawn();
    state = await ask(worker, { state, ctx: ctx(null) });
    worker.terminate();
    micros.push((performance.now() - t0) * 1000);
  }
  return { micros, count: state.count };
}

async function reused() {
  const worker = spawn();
  let state = {};
  for (let i = 0; i < 200; i++) state = await ask(worker, { state, ctx: ctx(null) });
  const micros = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    state = await ask(worker, { state, ctx: ctx(null) });
    micros.push((performance.now() - t0) * 1000);
  }
  worker.terminate();
  return { micros, count: state.count };
}

async function pool() {
  const workers = Array.from({ length: 5 }, spawn);
  // Let every worker load its charm before the clock starts.
  await Promise.all(workers.map((w) => ask(w, { state: {}, ctx: ctx({ url }) })));
  const queue = Array.from({ length: n }, (_, i) => i);
  const delays = [];
  const t0 = performance.now();
  await Promise.all(workers.map(async (worker) => {
    while (queue.length > 0) {
      queue.pop();
      await ask(worker, { state: {}, ctx: ctx({ url }) });
      delays.push(performance.now() - t0);
    }
  }));
  const wallMs = performance.now() - t0;
  workers.forEach((w) => w.terminate());
  return { delays_ms: delays, wall_ms: wallMs };
}

async function fanout() {
  const worker = spawn();
  const urls = JSON.parse(url);
  // Load the charm before the clock starts.
  await ask(worker, { state: {}, ctx: ctx({ urls: [] }) });
  const walls = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await ask(worker, { state: {}, ctx: ctx({ urls }) });
    walls.push(performance.now() - t0);
  }
  worker.terminate();
  return { walls_ms: walls };
}

const modes = { fresh, reused, pool, fanout };
if (!modes[mode]) {
  console.error(`unknown mode ${mode}; use fresh, reused or pool`);
  Deno.exit(2);
}
console.log(JSON.stringify(await modes[mode]()));
