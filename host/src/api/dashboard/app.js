// The charm-host dashboard: an overview of all charms and a page per charm.
//
// Rules this file keeps:
// - Everything that comes from the API is put into the page with
//   textContent / createTextNode, never as HTML: charm names, logs, state and
//   errors are text, whatever they contain.
// - The view refreshes itself every few seconds by replacing data in place,
//   so filters, sort order, page and open details stay where the user left them.
// - The token comes from the URL the daemon logs (`/#token=...`), or is asked
//   for once, when the API first answers 401; either way it is kept in
//   sessionStorage for the browser session, and a `#token=` fragment is
//   removed from the address bar and the history at once.
"use strict";

const REFRESH_MS = 5000;
const PAGE_SIZE = 50;
const TOKEN_KEY = "charm-host-token";

const view = {
  // What the token reaches: {kind: "operator" | "space", space, actor}.
  me: null,
  list: { space: "", integration: "", status: "", sort: "created", order: "desc", offset: 0 },
  openRuns: new Set(),
  timer: null,
  refresh: null,
};

// ---- small helpers -------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    node.append(child instanceof Node ? child : document.createTextNode(child === undefined || child === null ? "" : String(child)));
  }
  return node;
}

function setStatus(text, isError) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.className = isError ? "bad" : "";
}

// 45 -> "45s", 300 -> "5m", 3600 -> "1h", 5400 -> "1.5h", 172800 -> "2d".
function duration(seconds) {
  const s = Math.abs(Math.round(seconds));
  const round = (v) => (v >= 10 || Number.isInteger(v) ? Math.round(v) : Math.round(v * 10) / 10);
  if (s < 60) return `${s}s`;
  if (Math.round(s / 60) < 60) return `${Math.round(s / 60)}m`;
  if (Math.round(s / 3600) < 24) return `${round(s / 3600)}h`;
  return `${round(s / 86400)}d`;
}

function ago(ms) {
  if (!ms) return "—";
  const s = (Date.now() - ms) / 1000;
  return s >= 0 ? `${duration(s)} ago` : `in ${duration(-s)}`;
}

function when(ms) {
  return el("span", { title: ms ? new Date(ms).toISOString() : "" }, ago(ms));
}

function outcomeText(outcome) {
  const cls = outcome === "ok" ? "ok" : outcome === "cancelled" || outcome === "interrupted" || outcome === "quota" ? "warn" : outcome ? "bad" : "muted";
  return el("span", { class: `pill ${cls}`, "data-outcome": outcome || "" }, outcome || "never run");
}

// ---- the API -------------------------------------------------------------

class ApiError extends Error {}

// One prompt at a time: callers that hit 401 together share it.
let pendingLogin = null;

function askToken(message) {
  if (pendingLogin) return pendingLogin;
  const dialog = document.getElementById("login");
  const form = document.getElementById("login-form");
  const input = document.getElementById("token-input");
  document.getElementById("login-error").textContent = message || "";
  pendingLogin = new Promise((resolve) => {
    form.onsubmit = (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value);
      view.me = null;
      dialog.close();
      pendingLogin = null;
      resolve();
    };
    dialog.showModal();
    input.focus();
  });
  return pendingLogin;
}

// A request with the session's token; asks for a token once on a 401.
// Answers the response's text, or throws the API's error.
async function apiText(path, options = {}, retried = false) {
  const headers = { ...(options.body ? { "content-type": "application/json" } : {}) };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401 && !retried) {
    await askToken(token ? "That token was not accepted." : "");
    return apiText(path, options, true);
  }
  const text = await response.text();
  if (!response.ok) {
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch { body = null; }
    throw new ApiError(body && body.error ? body.error : `HTTP ${response.status}`);
  }
  return text;
}

async function api(path, options = {}) {
  const text = await apiText(path, options);
  return text ? JSON.parse(text) : null;
}

// Saves a run as a file for `charm-host replay`: the export needs the
// token, so it is fetched here and handed to the browser as a download.
async function downloadRun(id) {
  const text = await apiText(`/api/runs/${id}/export`);
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const link = el("a", { href: url, download: `run-${id}.json`, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// A run that failed in the charm (not one the host cut short) has a
// recording worth taking home.
function replayable(run) {
  return run.status === "done" && run.outcome && !["ok", "cancelled", "interrupted"].includes(run.outcome);
}

// ---- the overview --------------------------------------------------------

function chart(points, key, cls, label) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${points.length * 4} 48`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const max = Math.max(1, ...points.map((p) => p[key]));
  points.forEach((p, i) => {
    const h = Math.round((p[key] / max) * 46);
    const rect = document.createElementNS(ns, "rect");
    rect.setAttribute("x", i * 4);
    rect.setAttribute("y", 48 - h);
    rect.setAttribute("width", 3);
    rect.setAttribute("height", h);
    rect.setAttribute("class", cls);
    const title = document.createElementNS(ns, "title");
    title.textContent = `${new Date(p.minute).toLocaleTimeString()}: ${p[key]}`;
    rect.append(title);
    svg.append(rect);
  });
  return svg;
}

function card(label, value, name) {
  return el("div", { class: "card" }, el("div", { class: "label" }, label), el("div", { class: "value", "data-count": name }, value));
}

function renderStats(container, stats) {
  const total = (key) => stats.per_minute.reduce((sum, p) => sum + p[key], 0);
  container.replaceChildren(
    card("Enabled", stats.counts.enabled, "enabled"),
    card("Disabled", stats.counts.disabled, "disabled"),
    card("Running", stats.counts.running, "running"),
    card("Queued", stats.counts.queued, "queued"),
    card("Events waiting", stats.counts.events_pending, "events-pending"),
    card("Dead letters", stats.counts.events_dead, "events-dead"),
    el("div", { class: "card" }, el("div", { class: "label" }, `Runs per minute (last hour: ${total("runs")})`), chart(stats.per_minute, "runs", "runs", "runs per minute")),
    el("div", { class: "card" }, el("div", { class: "label" }, `Failures per minute (last hour: ${total("failures")})`), chart(stats.per_minute, "failures", "failures", "failures per minute")),
  );
}

const COLUMNS = [
  ["space", "Space"],
  [null, "Charm"],
  ["integration", "Integration"],
  ["interval", "Schedule"],
  ["enabled", "Status"],
  ["last_run", "Last run"],
  ["failures", "Failures"],
  ["next_run", "Next run"],
  [null, "Inbox"],
];

// A charm's schedule in words: its cron expression and zone, or its interval.
function schedule(c) {
  return c.schedule && c.schedule.cron ? `${c.schedule.cron} (${c.schedule.tz})` : `every ${duration(c.interval_s)}`;
}

// Waiting events and dead letters, as a short text.
function inbox(c) {
  const parts = [];
  if (c.pending_events) parts.push(`${c.pending_events} waiting`);
  if (c.dead_events) parts.push(el("span", { class: "bad" }, `${c.dead_events} dead`));
  return parts.length ? parts.flatMap((p, i) => (i ? [", ", p] : [p])) : "—";
}

function listQuery() {
  const q = new URLSearchParams({ limit: PAGE_SIZE, offset: view.list.offset, sort: view.list.sort, order: view.list.order });
  for (const key of ["space", "integration", "status"]) if (view.list[key]) q.set(key, view.list[key]);
  return q;
}

function renderRows(tbody, charms) {
  tbody.replaceChildren(
    ...charms.map((c) =>
      el(
        "tr",
        { class: "link", "data-charm-id": c.id, tabindex: 0, onclick: () => (location.hash = `#/charms/${c.id}`), onkeydown: (e) => e.key === "Enter" && (location.hash = `#/charms/${c.id}`) },
        el("td", {}, c.space),
        el("td", { class: "mono" }, el("div", {}, c.name), el("div", { class: "muted" }, c.id)),
        el("td", {}, c.integration || "—"),
        el("td", { title: c.schedule ? "" : `${c.interval_s} s` }, schedule(c)),
        el("td", {}, c.enabled ? el("span", { class: "pill ok" }, "enabled") : el("span", { class: "pill bad", title: c.disabled_reason || "" }, "disabled"),
          c.penalty ? [" ", el("span", { class: "pill bad", title: c.penalty, "data-penalty": c.id }, "penalty box")] : "",
          c.enabled ? "" : el("div", { class: "muted" }, c.disabled_reason || "")),
        el("td", {}, c.last_run ? [outcomeText(c.last_run.outcome), " ", when(c.last_run.finished_at)] : outcomeText(null)),
        el("td", { class: c.consecutive_failures ? "bad" : "" }, c.consecutive_failures),
        el("td", {}, c.enabled ? when(c.next_run_at) : "—"),
        el("td", { "data-inbox": c.id }, inbox(c)),
      ),
    ),
  );
}

async function showOverview(main) {
  const stats = el("section", { class: "cards", "aria-label": "overview" });
  const input = (key, label, attrs) =>
    el("label", {}, label, el("input", { ...attrs, value: view.list[key], name: key, oninput: (e) => { view.list[key] = e.target.value.trim(); view.list.offset = 0; reload(); } }));
  const status = el("select", { name: "status", onchange: (e) => { view.list.status = e.target.value; view.list.offset = 0; reload(); } },
    ...[["", "any"], ["enabled", "enabled"], ["disabled", "disabled"]].map(([v, t]) => el("option", { value: v, selected: view.list.status === v }, t)));
  const head = el("tr", {}, ...COLUMNS.map(([key, label]) => {
    if (!key) return el("th", {}, label);
    const sorted = view.list.sort === key ? (view.list.order === "asc" ? "ascending" : "descending") : "none";
    return el("th", {}, el("button", { type: "button", "aria-sort": sorted, "data-sort": key, onclick: () => {
      view.list.order = view.list.sort === key && view.list.order === "asc" ? "desc" : "asc";
      view.list.sort = key;
      view.list.offset = 0;
      showOverview(main);
    } }, label));
  }));
  const tbody = el("tbody");
  const pageInfo = el("span");
  const prev = el("button", { type: "button", onclick: () => { view.list.offset = Math.max(0, view.list.offset - PAGE_SIZE); reload(); } }, "← Previous");
  const next = el("button", { type: "button", onclick: () => { view.list.offset += PAGE_SIZE; reload(); } }, "Next →");
  main.replaceChildren(
    stats,
    el("div", { class: "filters" }, input("space", "Space", { placeholder: "any", disabled: view.me.kind === "space" }), input("integration", "Integration", { placeholder: "any" }), el("label", {}, "Status", status)),
    el("table", { "aria-label": "charms" }, el("thead", {}, head), tbody),
    el("div", { class: "pager" }, prev, pageInfo, next),
  );

  // A refresh that started before a filter changed must not paint over
  // the newer answer: only the latest request's answer is shown.
  let latest = 0;
  async function reload() {
    const mine = ++latest;
    // The service-wide counts are the operator's; a space sees its total.
    const [s, page] = await Promise.all([view.me.kind === "operator" ? api("/api/stats") : null, api(`/api/charms?${listQuery()}`)]);
    if (mine !== latest) return;
    if (s) renderStats(stats, s);
    else stats.replaceChildren(card(`Charms in space ${view.me.space}`, page.total, "space-charms"));
    renderRows(tbody, page.charms);
    const last = Math.min(page.offset + page.charms.length, page.total);
    pageInfo.textContent = page.total ? `${page.offset + 1}–${last} of ${page.total}` : "no charms match";
    prev.disabled = page.offset === 0;
    next.disabled = last >= page.total;
  }
  view.refresh = reload;
  await reload();
}

// ---- one charm ------------------------------------------------------------

function runRows(tbody, runs, cancel, download) {
  tbody.replaceChildren(
    ...runs.map((r) => {
      const details = r.error || r.log
        ? el("details", { open: view.openRuns.has(r.id), ontoggle: (e) => (e.target.open ? view.openRuns.add(r.id) : view.openRuns.delete(r.id)) },
            el("summary", {}, r.error ? r.error.split("\n")[0] : "log"),
            r.error ? el("pre", { class: "run-error" }, r.error) : "",
            r.log ? el("pre", { class: "run-log" }, r.log) : "")
        : "";
      const downloadButton = replayable(r)
        ? el("button", { type: "button", class: "small", "data-download": r.id, title: "A file for `charm-host replay`: the source, the state before, the context and what the run received (secrets redacted)",
            onclick: (e) => { e.stopPropagation(); download(r.id); } }, "Download this run")
        : "";
      return el("tr", { "data-run-id": r.id, "data-status": r.status },
        el("td", { class: "mono" }, r.id),
        el("td", {}, r.trigger),
        el("td", {}, r.status === "done" ? outcomeText(r.outcome) : [el("span", { class: "pill" }, r.status), " ",
          el("button", { type: "button", class: "small", "data-cancel": r.id, onclick: (e) => { e.stopPropagation(); cancel(r.id); } }, "Cancel")]),
        el("td", {}, when(r.started_at || r.queued_at)),
        el("td", {}, r.duration_ms === null ? "—" : `${r.duration_ms} ms`),
        el("td", {}, r.fuel === null ? "—" : r.fuel.toLocaleString()),
        el("td", {}, r.memory_bytes === null ? "—" : `${(r.memory_bytes / 1048576).toFixed(1)} MiB`),
        el("td", {}, details, downloadButton));
    }),
  );
}

async function showCharm(main, id) {
  const meta = el("dl", { class: "meta" });
  const actions = el("div", { class: "actions" });
  const state = el("pre", { id: "charm-state" });
  const source = el("pre", { id: "charm-source" });
  const lastError = el("pre", { id: "charm-error", hidden: true });
  const runs = el("tbody");
  const events = el("tbody");
  const versions = el("tbody");
  const diff = el("pre", { id: "state-diff", hidden: true });
  const play = playground(id);
  const title = el("h2", {}, "Charm");
  main.replaceChildren(
    el("p", {}, el("a", { href: "#/" }, "← All charms")),
    title,
    meta,
    actions,
    lastError,
    el("h2", {}, "Inbox"),
    el("table", { "aria-label": "inbox" },
      el("thead", {}, el("tr", {}, ...["Event", "Status", "Source", "Attempts", "Received", "Data / last error", ""].map((h) => el("th", {}, h)))),
      events),
    el("h2", {}, "Recent runs"),
    el("table", { "aria-label": "runs" },
      el("thead", {}, el("tr", {}, ...["Run", "Trigger", "Outcome", "Started", "Duration", "Fuel", "Memory", "Error / log"].map((h) => el("th", {}, h)))),
      runs),
    el("div", { class: "grid2" }, el("section", {}, el("h2", {}, "State"), state), el("section", {}, el("h2", {}, "Source"), source)),
    el("h2", {}, "State history"),
    el("table", { "aria-label": "state history" },
      el("thead", {}, el("tr", {}, ...["Version", "Written", "Size", "Written by", ""].map((h) => el("th", {}, h)))),
      versions),
    diff,
    play.section,
  );
  // The changes from a kept version to the current one, as JSON Patch
  // operations (RFC 6902), one per line.
  const showDiff = async (version) => {
    const d = await api(`/api/charms/${id}/state/diff?from=${version}`);
    diff.hidden = false;
    diff.textContent = `From version ${d.from} to ${d.to}:\n` + (d.patch.length ? d.patch.map((op) => JSON.stringify(op)).join("\n") : "no changes");
  };
  const act = async (label, work) => {
    try {
      setStatus(`${label}…`);
      await work();
      setStatus(`${label}: done`);
      await reload();
    } catch (e) {
      setStatus(`${label} failed: ${e.message}`, true);
    }
  };

  async function reload() {
    const [charm, st, rs, pending, dead, kept, secrets] = await Promise.all([
      api(`/api/charms/${id}`), api(`/api/charms/${id}/state`), api(`/api/charms/${id}/runs?limit=25`),
      api(`/api/charms/${id}/events?status=pending&limit=50`), api(`/api/charms/${id}/events?status=dead&limit=50`),
      api(`/api/charms/${id}/state/versions?limit=20`), api(`/api/charms/${id}/secrets`),
    ]);
    title.textContent = `${charm.name} (${charm.space})`;
    const rows = [
      ["Id", charm.id],
      ["Integration", charm.integration || "—"],
      ["Status", charm.enabled ? "enabled" : `disabled: ${charm.disabled_reason || ""}`],
      ["Schedule", charm.schedule ? schedule(charm) : `every ${duration(charm.interval_s)} (${charm.interval_s} s)`],
      ["Inbox", `${charm.pending_events} waiting, ${charm.dead_events} dead letters (after ${charm.max_attempts} attempts)`],
      ["Webhook", charm.webhook ? `POST /hooks/${charm.id}` : "none"],
      ["Consecutive failures", charm.consecutive_failures],
      ["Penalty box", charm.penalty || "no"],
      ["Next run", charm.enabled ? when(charm.next_run_at) : "—"],
      ["Allowed hosts", charm.allowed_hosts.length ? charm.allowed_hosts.join(", ") : "none"],
      // Names and when each changed: the API never returns a value.
      ["Secrets", secrets.secrets.length ? secrets.secrets.map((s) => `${s.name} (changed ${ago(s.updated_at)})`).join(", ") : "none"],
      ["State version", st.version],
    ];
    meta.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { "data-field": k.toLowerCase().replaceAll(" ", "-") }, v)]));
    actions.replaceChildren(
      el("button", { type: "button", class: "primary", disabled: !charm.enabled, onclick: () => act("Run now", () => api(`/api/charms/${id}/run`, { method: "POST", body: "{}" })) }, "Run now"),
      charm.enabled
        ? el("button", { type: "button", onclick: () => act("Disable", () => api(`/api/charms/${id}`, { method: "PATCH", body: JSON.stringify({ enabled: false }) })) }, "Disable")
        : el("button", { type: "button", onclick: () => act("Enable", () => api(`/api/charms/${id}`, { method: "PATCH", body: JSON.stringify({ enabled: true }) })) }, "Enable"),
      el("button", { type: "button", class: "danger", onclick: () => {
        if (!confirm(`Delete charm ${charm.name} (${charm.id}) with its state and runs?`)) return;
        act("Delete", async () => { await api(`/api/charms/${id}`, { method: "DELETE" }); location.hash = "#/"; });
      } }, "Delete"),
    );
    const failed = charm.last_run && charm.last_run.outcome !== "ok" && charm.last_run.error;
    lastError.hidden = !failed;
    lastError.textContent = failed ? `Last run failed (${charm.last_run.outcome}):\n${charm.last_run.error}` : "";
    state.textContent = JSON.stringify(st.state, null, 2);
    runRows(runs, rs.runs, (run) => act(`Cancel run ${run}`, () => api(`/api/runs/${run}/cancel`, { method: "POST", body: "{}" })),
      (run) => act(`Download run ${run}`, () => downloadRun(run)));
    const shown = [...dead.events, ...pending.events];
    events.replaceChildren(...(shown.length ? shown.map((e) => el("tr", { "data-event-id": e.id, "data-event-status": e.status },
      el("td", { class: "mono" }, e.id),
      el("td", {}, e.status === "dead" ? el("span", { class: "pill bad" }, "dead letter") : el("span", { class: "pill" }, e.status)),
      el("td", {}, e.source),
      el("td", {}, e.attempts),
      el("td", {}, when(e.received_at)),
      el("td", {}, el("pre", { class: "event-data" }, e.last_error ? e.last_error.split("\n")[0] : JSON.stringify(e.data))),
      el("td", {}, e.status === "dead" ? [
        el("button", { type: "button", class: "small", "data-redrive": e.id, onclick: () => act(`Re-drive event ${e.id}`, () => api(`/api/charms/${id}/events/redrive`, { method: "POST", body: JSON.stringify({ ids: [e.id] }) })) }, "Re-drive"), " ",
        el("button", { type: "button", class: "small danger", "data-discard": e.id, onclick: () => act(`Discard event ${e.id}`, () => api(`/api/charms/${id}/events/discard`, { method: "POST", body: JSON.stringify({ ids: [e.id] }) })) }, "Discard"),
      ] : ""))) : [el("tr", {}, el("td", { colspan: 7, class: "muted" }, "no events waiting and no dead letters"))]));
    versions.replaceChildren(...kept.versions.map((v) => el("tr", { "data-state-version": v.version },
      el("td", { class: "mono" }, v.version, v.version === st.version ? " (current)" : ""),
      el("td", {}, when(v.written_at)),
      el("td", {}, `${v.chars} chars`),
      el("td", {}, v.run_id === null ? (v.version === 0 ? "registration" : "rollback") : `run ${v.run_id}`),
      el("td", {}, v.version === st.version ? "" : [
        el("button", { type: "button", class: "small", "data-diff": v.version, onclick: () => act(`Diff from version ${v.version}`, () => showDiff(v.version)) }, "Diff to current"), " ",
        el("button", { type: "button", class: "small danger", "data-rollback": v.version, onclick: () => {
          if (!confirm(`Make version ${v.version} the state of ${charm.name} again (as a new version)?`)) return;
          act(`Roll back to version ${v.version}`, () => api(`/api/charms/${id}/state/rollback`, { method: "POST", body: JSON.stringify({ version: v.version }) }));
        } }, "Roll back"),
      ]))));
    if (!source.textContent) source.textContent = (await api(`/api/charms/${id}/source`)).source;
    play.fill(source.textContent, st.state);
  }
  view.refresh = reload;
  await reload();
}

// ---- the playground ---------------------------------------------------------

// Edit a charm's source, state and input, run it once in the sandbox with
// the charm's allow-list and limits (POST /api/charms/{id}/try), and see
// what it would do. Nothing is stored until "Save source", which is a
// normal update (compiled and validated). The fields are filled once, so
// the page's refresh never overwrites an edit.
function playground(id) {
  const src = el("textarea", { id: "play-source", rows: 14, spellcheck: "false", "aria-label": "source" });
  const state = el("textarea", { id: "play-state", rows: 5, spellcheck: "false", "aria-label": "state" });
  const input = el("textarea", { id: "play-input", rows: 3, spellcheck: "false", placeholder: "none", "aria-label": "input" });
  const result = el("div", { id: "play-result", "aria-live": "polite" });
  const parse = (text, what) => {
    if (!text.trim()) return undefined;
    try { return JSON.parse(text); } catch (e) { throw new ApiError(`the ${what} is not JSON: ${e.message}`); }
  };
  const show = (r) => result.replaceChildren(
    el("p", {}, outcomeText(r.outcome), ` ${r.fuel.toLocaleString()} fuel, ${r.duration_ms} ms, ${(r.memory_bytes / 1048576).toFixed(1)} MiB`,
      r.position ? el("span", { "data-position": `${r.position.line}:${r.position.column}` }, ` at line ${r.position.line}, column ${r.position.column}`) : ""),
    r.error ? el("pre", { class: "run-error" }, r.error) : "",
    el("h3", {}, "Change to the stored state"),
    el("pre", { id: "play-patch" }, r.patch === null ? "nested too deeply to compare" : r.patch.length ? r.patch.map((op) => JSON.stringify(op)).join("\n") : "no change"),
    el("h3", {}, "State it would leave"),
    el("pre", { id: "play-state-out" }, JSON.stringify(r.state, null, 2)),
    r.log ? [el("h3", {}, "Log"), el("pre", { class: "run-log" }, r.log)] : "",
  );
  const run = async () => {
    try {
      setStatus("Trying it out…");
      const body = { source: src.value, state: parse(state.value, "state"), input: parse(input.value, "input") };
      show(await api(`/api/charms/${id}/try`, { method: "POST", body: JSON.stringify(body) }));
      setStatus("Tried it out: nothing was stored");
    } catch (e) {
      result.replaceChildren(el("pre", { class: "run-error" }, e.message));
      setStatus(`Trying it out failed: ${e.message}`, true);
    }
  };
  const save = async () => {
    try {
      await api(`/api/charms/${id}`, { method: "PATCH", body: JSON.stringify({ source: src.value }) });
      setStatus("Source saved");
      document.getElementById("charm-source").textContent = src.value;
    } catch (e) {
      setStatus(`Saving failed: ${e.message}`, true);
    }
  };
  const section = el("details", { id: "playground" },
    el("summary", {}, el("h2", { class: "inline" }, "Playground")),
    el("p", { class: "muted" }, "Runs once in the sandbox with this charm's allow-list and limits; nothing is stored."),
    el("label", {}, "Source", src),
    el("div", { class: "grid2" }, el("label", {}, "State (JSON)", state), el("label", {}, "Input (JSON, optional)", input)),
    el("div", { class: "actions" },
      el("button", { type: "button", class: "primary", id: "play-run", onclick: run }, "Try it"),
      el("button", { type: "button", id: "play-save", onclick: save }, "Save source")),
    result);
  let filled = false;
  return {
    section,
    fill(source, current) {
      if (filled) return;
      filled = true;
      src.value = source;
      state.value = JSON.stringify(current, null, 2);
    },
  };
}

// ---- routing and refresh ----------------------------------------------------

// `#token=...` (the dashboard URL the daemon logs) signs in: the token goes to
// sessionStorage, and the fragment is replaced in the address bar and the
// history, so that it is not bookmarked, shared or read over a shoulder.
// Fragments never reach the server.
function takeTokenFromFragment() {
  if (!location.hash.startsWith("#token=")) return;
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  view.me = null;
  history.replaceState(null, "", `${location.pathname}${location.search}`);
}

// What the token reaches, shown in the header: a space token's pages show
// its own space only (the API enforces that; the page just says so).
async function whoami() {
  view.me = await api("/api/whoami");
  const badge = document.getElementById("whoami");
  badge.dataset.kind = view.me.kind;
  badge.textContent = view.me.kind === "space" ? `space ${view.me.space}` : "operator";
  if (view.me.kind === "space") view.list.space = view.me.space;
}

async function route() {
  takeTokenFromFragment();
  const main = document.getElementById("app");
  const match = location.hash.match(/^#\/charms\/([0-9a-f]{32})$/);
  view.refresh = null;
  view.openRuns.clear();
  try {
    if (!view.me) await whoami();
    if (match) await showCharm(main, match[1]);
    else await showOverview(main);
    setStatus(`updated ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    main.replaceChildren(el("p", { class: "bad" }, `Could not load: ${e.message}`));
    setStatus(e.message, true);
  }
}

async function tick() {
  if (view.refresh && !document.getElementById("login").open) {
    try {
      await view.refresh();
      setStatus(`updated ${new Date().toLocaleTimeString()}`);
    } catch (e) {
      setStatus(`refresh failed: ${e.message}`, true);
    }
  }
  view.timer = setTimeout(tick, REFRESH_MS);
}

async function start() {
  takeTokenFromFragment();
  // Ask for the token before the first API call, when the service wants one.
  const health = await fetch("/healthz").then((r) => r.json()).catch(() => ({}));
  if (health.token_required && !sessionStorage.getItem(TOKEN_KEY)) await askToken("");
  window.addEventListener("hashchange", route);
  await route();
  view.timer = setTimeout(tick, REFRESH_MS);
}

start();
