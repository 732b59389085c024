// charm-host.d.ts: types for charm-host charms (charm contract v1).
//
// Save it beside your charm (`charm-host types > charm-host.d.ts`) and
// reference it from the charm's first line:
//
//   /// <reference path="./charm-host.d.ts" />
//
// The web APIs come from TypeScript's own `webworker` library, which is the
// closest standard set: a charm has no DOM, no `window` and no `document`.
// The sandbox has its WinterTC Minimum Common API part (fetch, Request,
// Response, Headers, AbortController, AbortSignal, Event, EventTarget,
// CustomEvent, ErrorEvent, PromiseRejectionEvent, MessageEvent,
// MessageChannel, MessagePort, DOMException, timers, queueMicrotask,
// reportError, structuredClone, console, TextEncoder, TextDecoder, atob,
// btoa, Blob, File, FormData, URL, URLSearchParams, URLPattern, streams,
// CompressionStream, DecompressionStream, crypto and crypto.subtle,
// performance, navigator.userAgent, self) and ECMAScript with Intl. That
// library also declares what a charm does NOT have, which fails at run time:
//   - WebAssembly (a QuickJS sandbox has no WebAssembly engine);
//   - importScripts, Worker, WebSocket, EventSource, XMLHttpRequest,
//     indexedDB, caches, BroadcastChannel, Notification, location, and
//     navigator's members other than userAgent;
//   - timers given code strings (setTimeout takes functions only).
// Where the sandbox differs from the standards (fetch's charset decoding,
// console formatting, limits), see the README's "Web APIs in the sandbox".

/// <reference lib="es2023" />
/// <reference lib="webworker" />

/** A JSON value: what a charm's state, an input and an event's data are. */
type CharmJson =
  | null
  | boolean
  | number
  | string
  | CharmJson[]
  | { [key: string]: CharmJson };

/** One event of a charm's inbox, as `ctx.events` gives it. */
interface CharmEvent<Data = CharmJson> {
  /** The event's id, increasing in the order events were received. */
  readonly id: number;
  /** When the service received it, in milliseconds since the Unix epoch. */
  readonly receivedAt: number;
  /** Who sent it: a trigger with an input, a webhook delivery,
   * `charm-host run --input`, or the dashboard's playground. */
  readonly source: "manual" | "webhook" | "cli" | "playground";
  /** The event's data: the trigger's input or the webhook's body. */
  readonly data: Data;
}

/** The second argument of `bgUpdater`: who is running and why. */
interface CharmContext<Data = CharmJson> {
  /** The charm's id. */
  readonly charmId: string;
  /** The charm's space (tenant). */
  readonly space: string;
  /** The charm's integration label (`export const integration`), or null. */
  readonly integration: string | null;
  /** The run's id. */
  readonly runId: string;
  /** The newest event's data, or null when there is none (most scheduled
   * runs); kept for charms written before the inbox. */
  readonly input: Data | null;
  /** The inbox as this run receives it, oldest first. A successful run
   * acknowledges exactly these; a failed run leaves them for its retry. */
  readonly events: readonly CharmEvent<Data>[];
  /** When the run was claimed, in milliseconds since the Unix epoch. */
  readonly now: number;
  /** 1, or one more for each retry of this run. */
  readonly attempt: number;
  /** The same for a run and its retries (`<charm id>:<first run id>`):
   * send it along with writes elsewhere so that the other side can drop a
   * repeat. */
  readonly idempotencyKey: string;
  /** The charm's secrets by name (`charm-host charms secret set`), read
   * when the run starts; frozen. Their values are redacted from the run's
   * log, errors and returned state. */
  readonly secrets: Readonly<Record<string, string>>;
  /** Asks for the next scheduled run `ms` milliseconds after this one (the
   * last call counts, if the run succeeds; the service bounds it).
   * @throws {RangeError} when `ms` is negative or not finite. */
  scheduleNext(ms: number): void;
}

/** The type of a charm's `bgUpdater` export: it gets the state (`{}` on the
 * first run) and returns the new state, or `undefined` to keep the old one.
 * A thrown error or a rejected promise fails the run and keeps the state.
 *
 *   export const bgUpdater: CharmUpdater<State> = async (state, ctx) => ...
 */
type CharmUpdater<State = CharmJson, Data = CharmJson> = (
  state: State,
  ctx: CharmContext<Data>,
) => State | undefined | void | Promise<State | undefined | void>;
