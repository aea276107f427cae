// The ibu-gitops hub dashboard: a plain ES module, no framework, served by the hub controller
// itself (addon/hub/dashboard/assets.ts) under a strict Content-Security-Policy.
//
// - Auth: the token comes once from the login form or `#token=` in the URL fragment (never sent
//   to the server; removed from the address bar at once), lives in sessionStorage, and goes out
//   only as `Authorization: Bearer` on fetch(). The event stream is read with fetch() and a
//   ReadableStream, not EventSource, so the token never appears in a URL.
// - Every string from a cluster is untrusted: the DOM is built with createElement and text
//   nodes only (the h() helper refuses event-handler attributes); nothing uses innerHTML.
// - The cluster table is windowed: only the rows in view (plus a margin) exist, recycled from a
//   pool, and a cell is written only when its text changed. One click and one keydown listener
//   on the table body serve every row (event delegation). Updates coalesce into one animation
//   frame.
/* global document, window, sessionStorage, location, history, fetch, requestAnimationFrame,
   performance, TextDecoderStream, AbortController, getComputedStyle, setTimeout, clearTimeout,
   setInterval */

const TOKEN_KEY = "ibu-gitops.hub-token";
const STAGES = ["Idle", "Prep", "Upgrade", "Rollback", "Unknown"];
const STATES = ["Idle", "Pending", "InProgress", "Completed", "Failed", "Blocked", "NoReport"];
/** A symbol and words for each state, so that colour is never the only signal. */
const STATE_LABEL = {
  Idle: "○ Idle",
  Pending: "… Pending",
  InProgress: "▶ In progress",
  Completed: "✔ Completed",
  Failed: "✖ Failed",
  Blocked: "⊘ Blocked",
  NoReport: "? No report",
};
/** Going back to Idle, in words: LCA's finalize, or its abort (a cancel). */
const OPERATION_LABEL = {
  finalize: { InProgress: "▶ Finalizing", Failed: "✖ Finalize failed" },
  cancel: { InProgress: "▶ Cancelling", Failed: "✖ Cancel failed" },
};
const NO_GROUP = "\u0000none";
const OVERSCAN = 12;
/** Without a byte (data or heartbeat, every 15 s) for this long, the stream is taken as dead. */
const STREAM_IDLE_MS = 45_000;
const TICK_MS = 10_000;

const $ = id => /** @type {HTMLElement} */ (document.getElementById(id));

const app = {
  token: /** @type {string | null} */ (null),
  /** name → ClusterSummary as the hub sent it */
  clusters: new Map(),
  stuckAfterMs: 30 * 60_000,
  /** server clock − browser clock, from the summaries' generatedAt */
  skewMs: 0,
  leader: undefined,
  sort: { key: "name", dir: 1 },
  filter: { name: "", stage: "", state: "", group: "", attention: false },
  /** the filtered, sorted clusters */
  view: [],
  listDirty: true,
  summaryDirty: true,
  frame: 0,
  rowHeight: 32,
  /** the cluster whose row takes the keyboard focus (roving tabindex) */
  activeName: /** @type {string | null} */ (null),
  detailName: /** @type {string | null} */ (null),
  detailTimer: 0,
  stream: /** @type {AbortController | null} */ (null),
  lastSummaryKey: "",
  groupOptionsKey: "",
  resyncAt: 0,
  firstRenderDone: false,
  /** rows of the pool, in DOM order */
  pool: [],
};

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// ---------------------------------------------------------------------------------------------
// DOM helpers: text only.

/**
 * createElement with attributes and children; strings become text nodes. Attribute values may
 * be untrusted (a title), names never are: event handlers and URL attributes are refused.
 */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (/^on|^(href|src|action|formaction|style)$/i.test(k)) throw new Error(`attribute ${k}`);
    el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(
      typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c,
    );
  }
  return el;
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

// ---------------------------------------------------------------------------------------------
// Formatting.

function duration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return "";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  const hr = Math.floor(m / 60);
  if (hr < 48) return `${hr}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(hr / 24)}d ${hr % 24}h`;
}

function age(iso, now) {
  const t = Date.parse(iso ?? "");
  if (!t) return "never";
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 172800) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

function when(iso) {
  const t = Date.parse(iso ?? "");
  return t ? new Date(t).toLocaleString() : "—";
}

const serverNow = () => Date.now() + app.skewMs;

/** The hub's rule (docs/hub.md): in progress or pending, no progress for --stuck-after. */
function isStuck(c, now) {
  if (c.state !== "InProgress" && c.state !== "Pending") return false;
  const p = Date.parse(c.progressTime ?? "");
  return p > 0 ? now - p > app.stuckAfterMs : false;
}

/** The state in words; going back to Idle says whether it finalizes or cancels. */
function stateLabel(c) {
  return OPERATION_LABEL[c.operation]?.[c.state] ?? STATE_LABEL[c.state] ?? c.state;
}

/** `4.17.0 → 4.18.1`, or one version once the cluster runs its target. */
function versionText(c) {
  const now = c.currentVersion ?? "?";
  if (!c.targetVersion) return c.currentVersion ?? "";
  return now === c.targetVersion ? now : `${now} → ${c.targetVersion}`;
}

function flagsOf(c, now) {
  const f = [];
  if (c.state === "Failed") f.push("✖ Failed");
  if (isStuck(c, now)) f.push("⚠ Stuck");
  if (c.autoRolledBack) f.push("↺ Auto rolled back");
  if (c.autoImportDisabled) f.push("⚑ Auto-import off");
  return f;
}

// ---------------------------------------------------------------------------------------------
// The hub API.

function authHeaders() {
  return { Authorization: `Bearer ${app.token}` };
}

async function api(path, signal) {
  const res = await fetch(path, { headers: authHeaders(), cache: "no-store", signal });
  if (res.ok) return res.json();
  let message = `HTTP ${res.status}`;
  try {
    const body = await res.json();
    if (body && typeof body.error === "string") message = body.error;
  } catch {
    // not JSON
  }
  throw new HttpError(res.status, message);
}

/** The summary (for the stuck threshold and the clock) and every cluster, page by page. */
async function loadAll(signal) {
  const summary = await api("api/v1/summary", signal);
  noteSummary(summary);
  const clusters = new Map();
  let cont = "";
  for (;;) {
    const q = `api/v1/clusters?limit=5000${cont ? `&continue=${encodeURIComponent(cont)}` : ""}`;
    const page = await api(q, signal);
    for (const c of page.items) clusters.set(c.name, c);
    cont = page.metadata?.continue ?? "";
    if (!cont) break;
  }
  app.clusters = clusters;
  app.listDirty = true;
  app.summaryDirty = true;
  schedule();
}

function noteSummary(s) {
  if (typeof s.stuckAfterSeconds === "number") app.stuckAfterMs = s.stuckAfterSeconds * 1000;
  const t = Date.parse(s.generatedAt ?? "");
  if (t) app.skewMs = t - Date.now();
  if (typeof s.leader === "boolean") app.leader = s.leader;
}

// ---------------------------------------------------------------------------------------------
// Views: login, not authorized, the dashboard.

function show(which) {
  $("login").hidden = which !== "login";
  $("denied").hidden = which !== "denied";
  $("app").hidden = which !== "app";
  $("logout").hidden = which === "login";
}

function showLogin(message) {
  stopStream();
  sessionStorage.removeItem(TOKEN_KEY);
  app.token = null;
  app.clusters = new Map();
  setText($("login-error"), message);
  setConnection("Not signed in");
  show("login");
  $("token").focus();
}

function showDenied(message) {
  stopStream();
  app.clusters = new Map();
  setText(
    $("denied-text"),
    `Not authorized: the hub accepted your token, but ${message}. ` +
      "Ask for list access to clusterupgrades.ibu-gitops.dev in all namespaces.",
  );
  setConnection("Not authorized");
  show("denied");
}

function setConnection(text) {
  setText($("connection"), text);
}

function failed(err) {
  if (err instanceof HttpError && err.status === 401) {
    showLogin("The hub did not accept this token (401). Sign in again.");
    return true;
  }
  if (err instanceof HttpError && err.status === 403) {
    showDenied(err.message);
    return true;
  }
  return false;
}

/** Reads `#token=` once and removes it from the address bar (it never reaches the server). */
function tokenFromFragment() {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (!m) return;
  try {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
  } finally {
    history.replaceState(null, "", location.pathname + location.search);
  }
}

async function start() {
  stopStream();
  tokenFromFragment();
  app.token = sessionStorage.getItem(TOKEN_KEY);
  if (!app.token) return showLogin("");
  setConnection("Loading…");
  try {
    await loadAll();
  } catch (err) {
    if (failed(err)) return;
    setConnection(`Cannot reach the hub: ${err.message}. Retrying…`);
    setTimeout(() => void start(), 5000);
    return;
  }
  show("app");
  schedule();
  void connect();
}

function stopStream() {
  app.stream?.abort();
  app.stream = null;
}

// ---------------------------------------------------------------------------------------------
// The event stream, read with fetch() so the token stays in a header; reconnects on a drop.

async function connect() {
  const session = new AbortController();
  app.stream = session;
  let retryMs = 3000;
  let resync = false;
  while (!session.signal.aborted) {
    const conn = new AbortController();
    const abort = () => conn.abort();
    session.signal.addEventListener("abort", abort);
    let idle = 0;
    const alive = () => {
      clearTimeout(idle);
      idle = setTimeout(abort, STREAM_IDLE_MS);
    };
    try {
      alive();
      const res = await fetch("api/v1/events", {
        headers: { ...authHeaders(), Accept: "text/event-stream" },
        cache: "no-store",
        signal: conn.signal,
      });
      if (res.status === 401 || res.status === 403) {
        let msg = `HTTP ${res.status}`;
        try {
          msg = (await res.json()).error ?? msg;
        } catch {
          // not JSON
        }
        failed(new HttpError(res.status, msg));
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      // Changes made while disconnected were not sent: read everything again.
      if (resync) await loadAll(conn.signal);
      setConnection(statusLine("Live"));
      await readEvents(
        res.body,
        alive,
        (event, data) => onEvent(event, data),
        r => (retryMs = r),
      );
    } catch (err) {
      if (session.signal.aborted) return;
      if (failed(err)) return;
    } finally {
      clearTimeout(idle);
      session.signal.removeEventListener("abort", abort);
    }
    if (session.signal.aborted) return;
    resync = true;
    setConnection(`Disconnected; reconnecting in ${Math.round(retryMs / 1000)} s…`);
    await new Promise(r => setTimeout(r, retryMs));
  }
}

/** Server-sent events framing: `field: value` lines, a blank line ends an event. */
async function readEvents(body, alive, onEvent, onRetry) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    alive();
    buf += value.replace(/\r\n?/g, "\n");
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (!line || line.startsWith(":")) continue;
        const c = line.indexOf(":");
        const field = c < 0 ? line : line.slice(0, c);
        let v = c < 0 ? "" : line.slice(c + 1);
        if (v.startsWith(" ")) v = v.slice(1);
        if (field === "event") event = v;
        else if (field === "data") data.push(v);
        else if (field === "retry" && /^\d+$/.test(v)) onRetry(Number(v));
      }
      if (data.length) onEvent(event, data.join("\n"));
    }
  }
}

function statusLine(prefix) {
  const role =
    app.leader === undefined
      ? ""
      : app.leader
        ? " · hub replica: leader"
        : " · hub replica: follower";
  return `${prefix} · updated ${new Date().toLocaleTimeString()}${role}`;
}

function onEvent(event, text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    return;
  }
  if (event === "cluster" && data && typeof data.name === "string") {
    app.clusters.set(data.name, data);
    app.listDirty = true;
    app.summaryDirty = true;
    if (data.name === app.detailName) refreshDetailSoon();
    schedule();
  } else if (event === "deleted" && data && typeof data.name === "string") {
    app.clusters.delete(data.name);
    app.listDirty = true;
    app.summaryDirty = true;
    schedule();
  } else if (event === "summary" && data) {
    noteSummary(data);
    setConnection(statusLine("Live"));
    checkConsistency(data);
  }
}

/**
 * The hub's periodic summary against what this page counts from its clusters: when they
 * disagree (an event lost, say), read everything again, at most every 30 s.
 */
function checkConsistency(server) {
  const mine = countFleet(serverNow());
  const same =
    mine.total === server.total &&
    STAGES.every(s => (mine.byStage[s] ?? 0) === (server.byStage?.[s] ?? 0)) &&
    STATES.every(s => (mine.byState[s] ?? 0) === (server.byState?.[s] ?? 0));
  if (same || Date.now() < app.resyncAt) return;
  app.resyncAt = Date.now() + 30_000;
  loadAll(app.stream?.signal).catch(err => void failed(err));
}

// ---------------------------------------------------------------------------------------------
// Counting: the same rules as the hub's fleetSummary, over this page's clusters.

function countFleet(now) {
  const s = {
    total: 0,
    reported: 0,
    byStage: {},
    byState: {},
    byStageState: {},
    groups: new Map(),
    ungrouped: null,
    failed: 0,
    stuck: 0,
    rolledBack: 0,
    autoImportDisabled: 0,
  };
  const bump = (m, k) => (m[k] = (m[k] ?? 0) + 1);
  const newCounts = () => ({
    total: 0,
    done: 0,
    byStage: {},
    byState: {},
    current: {},
    target: {},
    batches: new Map(),
    currentBatch: undefined,
  });
  /** The hub's rule of progress: `done` comes with each cluster from the API (isDone). */
  const add = (g, c) => {
    g.total++;
    if (c.done) g.done++;
    bump(g.byStage, c.stage);
    bump(g.byState, c.state);
    bump(g.current, c.currentVersion ?? "?");
    bump(g.target, c.targetVersion ?? "?");
  };
  for (const c of app.clusters.values()) {
    s.total++;
    if (c.state !== "NoReport") s.reported++;
    bump(s.byStage, c.stage);
    bump(s.byState, c.state);
    bump((s.byStageState[c.stage] ??= {}), c.state);
    if (c.state === "Failed") s.failed++;
    if (isStuck(c, now)) s.stuck++;
    if (c.autoRolledBack) s.rolledBack++;
    if (c.autoImportDisabled) s.autoImportDisabled++;
    let g;
    if (c.group === undefined) g = s.ungrouped ??= newCounts();
    else if (!(g = s.groups.get(c.group))) s.groups.set(c.group, (g = newCounts()));
    add(g, c);
    if (c.currentBatch !== undefined) g.currentBatch = c.currentBatch;
    if (c.batch !== undefined) {
      let b = g.batches.get(c.batch);
      if (!b) g.batches.set(c.batch, (b = newCounts()));
      add(b, c);
    }
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Rendering, one animation frame at a time.

function schedule() {
  if (!app.frame) app.frame = requestAnimationFrame(render);
}

function render() {
  app.frame = 0;
  if ($("app").hidden) return;
  const now = serverNow();
  if (app.summaryDirty) {
    app.summaryDirty = false;
    renderSummary(now);
  }
  if (app.listDirty) {
    app.view = computeView(now);
    app.listDirty = false;
  }
  renderRows(now);
  if (!app.firstRenderDone && app.clusters.size > 0) {
    app.firstRenderDone = true;
    performance.mark("ibu-first-render");
  }
}

function renderSummary(now) {
  const s = countFleet(now);
  const key = JSON.stringify(s, (k, v) => (v instanceof Map ? [...v] : v));
  if (key === app.lastSummaryKey) return;
  app.lastSummaryKey = key;
  setText($("sum-total"), String(s.total));
  setText($("sum-reported"), String(s.reported));
  setText($("sum-failed"), String(s.failed));
  setText($("sum-stuck"), String(s.stuck));
  setText($("sum-rolledback"), String(s.rolledBack));
  setText($("sum-autoimport"), String(s.autoImportDisabled));
  renderMatrix(s);
  renderGroups(s);
  renderGroupOptions(s);
}

function renderMatrix(s) {
  const stages = STAGES.filter(st => s.byStage[st]).concat(
    Object.keys(s.byStage).filter(st => !STAGES.includes(st)),
  );
  const head = h("tr", {}, h("th", { scope: "col" }, "Stage"));
  for (const st of STATES) head.append(h("th", { scope: "col" }, STATE_LABEL[st]));
  head.append(h("th", { scope: "col" }, "Total"));
  $("matrix-head").replaceWith(Object.assign(head, { id: "matrix-head" }));
  const body = document.createDocumentFragment();
  for (const stage of stages) {
    const tr = h("tr", {}, h("th", { scope: "row" }, stage));
    for (const st of STATES)
      tr.append(
        h(
          "td",
          { "data-stage": stage, "data-state": st },
          String(s.byStageState[stage]?.[st] ?? 0),
        ),
      );
    tr.append(h("td", { "data-stage": stage, "data-total": "" }, String(s.byStage[stage] ?? 0)));
    body.append(tr);
  }
  const total = h("tr", {}, h("th", { scope: "row" }, "All stages"));
  for (const st of STATES)
    total.append(h("td", { "data-state-total": st }, String(s.byState[st] ?? 0)));
  total.append(h("td", {}, String(s.total)));
  body.append(total);
  $("matrix-body").replaceChildren(body);
}

function stagesText(byStage) {
  return Object.entries(byStage)
    .sort(([a], [b]) => STAGES.indexOf(a) - STAGES.indexOf(b))
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
}

function progressCell(done, total, label) {
  const pct = total ? Math.round((done / total) * 100) : 0;
  return h(
    "td",
    {},
    h("progress", { max: total || 1, value: done, "aria-label": label }),
    h("span", { class: "pct" }, `${pct} %`),
  );
}

/** `4.17.0 ×2, 4.18.1`: most common first. */
function versionsText(m) {
  return Object.entries(m)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([v, n]) => (n > 1 ? `${v} ×${n}` : v))
    .join(", ");
}

function groupRow(name, g, batch, isCurrent) {
  const failedN = (g.byState.Failed ?? 0) + (g.byState.Blocked ?? 0);
  const running = (g.byState.InProgress ?? 0) + (g.byState.Pending ?? 0);
  const batchText =
    batch === undefined
      ? g.currentBatch !== undefined
        ? `all (current: ${g.currentBatch})`
        : "all"
      : `${batch}${isCurrent ? " (current)" : ""}`;
  const label = `${name}${batch === undefined ? "" : ` batch ${batch}`}: ${g.done} of ${g.total} done`;
  return h(
    "tr",
    { class: batch === undefined ? "group" : "batch", "data-group": name, "data-batch": batch },
    batch === undefined ? h("th", { scope: "row" }, name) : h("td", {}, name),
    h("td", {}, batchText),
    h("td", { class: "num", "data-count": "total" }, String(g.total)),
    h("td", {}, stagesText(g.byStage)),
    h("td", {}, `${versionsText(g.current)} → ${versionsText(g.target)}`),
    h("td", { class: "num", "data-count": "done" }, String(g.done)),
    h("td", { class: "num" }, String(running)),
    h("td", { class: "num" }, String(failedN)),
    progressCell(g.done, g.total, label),
  );
}

function renderGroups(s) {
  const body = document.createDocumentFragment();
  for (const name of [...s.groups.keys()].sort()) {
    const g = s.groups.get(name);
    body.append(groupRow(name, g));
    for (const b of [...g.batches.keys()].sort((x, y) => x - y))
      body.append(groupRow(name, g.batches.get(b), b, b === g.currentBatch));
  }
  if (s.ungrouped) {
    const row = groupRow("(no group)", s.ungrouped);
    row.className = "ungrouped";
    row.removeAttribute("data-group");
    body.append(row);
  }
  if (!body.childNodes.length)
    body.append(h("tr", {}, h("td", { colspan: 9, class: "empty" }, "No clusters yet.")));
  $("groups-body").replaceChildren(body);
}

function renderGroupOptions(s) {
  const names = [...s.groups.keys()].sort();
  const key = JSON.stringify([names, !!s.ungrouped]);
  if (key === app.groupOptionsKey) return;
  app.groupOptionsKey = key;
  const select = /** @type {HTMLSelectElement} */ ($("f-group"));
  const keep = select.value;
  const opts = [h("option", { value: "" }, "Any")];
  for (const n of names) opts.push(h("option", { value: n }, n));
  if (s.ungrouped) opts.push(h("option", { value: NO_GROUP }, "(no group)"));
  select.replaceChildren(...opts);
  select.value = [...select.options].some(o => o.value === keep) ? keep : "";
}

const SORT_KEYS = {
  name: c => c.name,
  stage: c => STAGES.indexOf(c.stage),
  state: c => STATES.indexOf(c.state),
  group: c => c.group ?? "\uffff",
  report: c => c.reportTime ?? "",
};

function computeView(now) {
  const f = app.filter;
  const out = [];
  for (const c of app.clusters.values()) {
    if (f.stage && c.stage !== f.stage) continue;
    if (f.state && c.state !== f.state) continue;
    if (f.group && (f.group === NO_GROUP ? c.group !== undefined : c.group !== f.group)) continue;
    if (f.name && !c.name.includes(f.name)) continue;
    if (
      f.attention &&
      !(c.state === "Failed" || c.state === "Blocked" || c.autoRolledBack || isStuck(c, now))
    )
      continue;
    out.push(c);
  }
  const key = SORT_KEYS[app.sort.key];
  const dir = app.sort.dir;
  out.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    if (x < y) return -dir;
    if (x > y) return dir;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
  return out;
}

// The table body: [top spacer, ...pooled rows, bottom spacer].
const COLS = 9;
let spacerTop;
let spacerBottom;

function makeRow() {
  const tr = document.createElement("tr");
  tr.tabIndex = -1;
  for (let i = 0; i < COLS; i++) tr.append(document.createElement("td"));
  tr.cells[2].dataset.col = "state";
  return tr;
}

function renderRows(now) {
  const rows = $("rows");
  const scroller = $("scroller");
  const total = app.view.length;
  const headH = /** @type {HTMLElement} */ ($("table").tHead).offsetHeight;
  const top = Math.max(0, scroller.scrollTop - headH);
  const first = Math.max(0, Math.floor(top / app.rowHeight) - OVERSCAN);
  const last = Math.min(total, Math.ceil((top + scroller.clientHeight) / app.rowHeight) + OVERSCAN);
  const n = Math.max(0, last - first);
  const heightBefore = scroller.clientHeight;
  const hadFocus = rows.contains(document.activeElement);
  if (app.pool.length < n) {
    const frag = document.createDocumentFragment();
    while (app.pool.length < n) {
      const tr = makeRow();
      app.pool.push(tr);
      frag.append(tr);
    }
    rows.insertBefore(frag, spacerBottom);
  }
  for (let i = 0; i < app.pool.length; i++) {
    const tr = app.pool[i];
    if (i < n) {
      if (tr.hidden) tr.hidden = false;
      fillRow(tr, app.view[first + i], first + i, now);
    } else if (!tr.hidden) {
      tr.hidden = true;
      tr.dataset.name = "";
      tr.tabIndex = -1;
    }
  }
  spacerTop.firstChild.style.height = `${first * app.rowHeight}px`;
  spacerBottom.firstChild.style.height = `${(total - last) * app.rowHeight}px`;
  $("table").setAttribute("aria-rowcount", String(total + 1));
  setText($("count"), `Showing ${total} of ${app.clusters.size} clusters`);
  // One row is in the Tab order: the active one if shown, else the first shown.
  let tabbable = n ? rowOf(app.activeName) : null;
  if (!tabbable && n) tabbable = app.pool[0];
  for (let i = 0; i < n; i++) {
    const want = app.pool[i] === tabbable ? 0 : -1;
    if (app.pool[i].tabIndex !== want) app.pool[i].tabIndex = want;
  }
  if (hadFocus && tabbable && document.activeElement !== tabbable)
    tabbable.focus({ preventScroll: true });
  // The list grows with its rows (up to its max-height): fill the room it now has.
  if (scroller.clientHeight !== heightBefore) schedule();
  if (n) {
    const measured = app.pool[0].getBoundingClientRect().height;
    if (measured > 0 && Math.abs(measured - app.rowHeight) > 0.5) {
      app.rowHeight = measured;
      schedule();
    }
  }
}

function fillRow(tr, c, index, now) {
  if (tr.dataset.name !== c.name) tr.dataset.name = c.name;
  tr.setAttribute("aria-rowindex", String(index + 2));
  const stuck = isStuck(c, now);
  const cls =
    c.state === "Failed"
      ? "is-failed"
      : stuck
        ? "is-stuck"
        : c.autoRolledBack
          ? "is-rolledback"
          : "";
  if (tr.className !== cls) tr.className = cls;
  const cells = tr.cells;
  const texts = [
    c.name,
    c.stage,
    stateLabel(c),
    c.group ?? "—",
    c.batch === undefined ? "" : `${c.batch}${c.batch === c.currentBatch ? " (current)" : ""}`,
    versionText(c),
    flagsOf(c, now).join(" · "),
    age(c.reportTime, now),
    c.message ?? "",
  ];
  for (let i = 0; i < COLS; i++) {
    setText(cells[i], texts[i]);
    // Narrow columns cut text with an ellipsis: the whole of it is the cell's title.
    const title = i === 7 ? (c.reportTime ? when(c.reportTime) : "") : texts[i];
    if (cells[i].title !== title) cells[i].title = title;
  }
  const stateCls = `state-${c.state}`;
  if (cells[2].className !== stateCls) cells[2].className = stateCls;
}

function rowOf(name) {
  if (!name) return null;
  for (const tr of app.pool) if (!tr.hidden && tr.dataset.name === name) return tr;
  return null;
}

/** Moves the keyboard focus to view index `i`, scrolling it into view. */
function focusIndex(i) {
  if (!app.view.length) return;
  i = Math.max(0, Math.min(app.view.length - 1, i));
  app.activeName = app.view[i].name;
  const scroller = $("scroller");
  const headH = /** @type {HTMLElement} */ ($("table").tHead).offsetHeight;
  const y = i * app.rowHeight;
  const viewH = scroller.clientHeight - headH;
  if (y < scroller.scrollTop) scroller.scrollTop = y;
  else if (y + app.rowHeight > scroller.scrollTop + viewH)
    scroller.scrollTop = y + app.rowHeight - viewH;
  renderRows(serverNow());
  rowOf(app.activeName)?.focus({ preventScroll: true });
}

// ---------------------------------------------------------------------------------------------
// The per-cluster view.

function refreshDetailSoon() {
  clearTimeout(app.detailTimer);
  app.detailTimer = setTimeout(() => void refreshDetail(), 200);
}

async function openDetail(name) {
  const dialog = /** @type {HTMLDialogElement} */ ($("detail"));
  app.detailName = name;
  app.activeName = name;
  setText($("detail-heading"), name);
  $("detail-body").replaceChildren(h("p", { role: "status" }, "Loading…"));
  if (!dialog.open) dialog.showModal();
  await refreshDetail();
}

async function refreshDetail() {
  const name = app.detailName;
  if (!name) return;
  try {
    const d = await api(`api/v1/clusters/${encodeURIComponent(name)}`);
    if (app.detailName === name) $("detail-body").replaceChildren(detailView(d, serverNow()));
  } catch (err) {
    if (failed(err)) return;
    if (app.detailName === name)
      $("detail-body").replaceChildren(
        h("p", { class: "error", role: "alert" }, `Cannot load ${name}: ${err.message}`),
      );
  }
}

function facts(pairs) {
  const dl = h("dl", { class: "facts" });
  for (const [k, v] of pairs) if (v !== undefined) dl.append(h("dt", {}, k), h("dd", {}, v));
  return dl;
}

function detailView(d, now) {
  const flags = flagsOf(d, now);
  const frag = document.createDocumentFragment();
  frag.append(
    facts([
      ["Stage", d.stage],
      ["State", h("span", { class: `state-${d.state}` }, stateLabel(d))],
      ["Flags", flags.length ? flags.join(" · ") : "none"],
      ["Message", d.message || "—"],
      ["Group", d.group ?? "none"],
      [
        "Batch",
        d.batch === undefined ? undefined : `${d.batch} (current batch: ${d.currentBatch ?? "—"})`,
      ],
      ["Upgrade object", d.upgrade],
      ["Version", d.currentVersion ?? "unknown (the booted stateroot names none)"],
      ["Target version", d.targetVersion],
      ["Done", d.done ? "yes: on the target version, finalized" : "no"],
      ["Agent version", d.agentVersion],
      ["Last report", d.reportTime ? `${when(d.reportTime)} (${age(d.reportTime, now)})` : "never"],
      [
        "Last progress",
        d.progressTime ? `${when(d.progressTime)} (${age(d.progressTime, now)})` : undefined,
      ],
    ]),
  );
  frag.append(h("h3", {}, "Auto-import"));
  const ai = d.autoImport ?? {};
  frag.append(
    facts([
      [
        "Annotation",
        ai.annotation === null || ai.annotation === undefined
          ? "absent: auto-import enabled"
          : `present (${JSON.stringify(ai.annotation)}): auto-import disabled`,
      ],
      ["Hub rule", ai.intent ? `${ai.intent}: ${ai.reason ?? ""}` : "no report"],
      [
        "Agent's view",
        ai.agentIntent ? `${ai.agentIntent.intent}: ${ai.agentIntent.reason}` : undefined,
      ],
    ]),
  );
  frag.append(h("h3", {}, "Valid next stages"));
  frag.append(
    d.validNextStages?.length
      ? h("ul", { class: "next" }, ...d.validNextStages.map(s => h("li", {}, s)))
      : h("p", {}, "None reported."),
  );
  frag.append(h("h3", {}, "Stateroots"));
  const roots = d.node?.stateroots ?? (d.node?.bootedStateroot ? [d.node.bootedStateroot] : []);
  frag.append(
    roots.length
      ? h(
          "ul",
          { class: "stateroots" },
          ...roots.map(r => h("li", {}, r, r === d.node?.bootedStateroot ? " (booted)" : "")),
        )
      : h("p", {}, "None reported."),
  );
  if (d.node?.containerStorageUsedPercent !== undefined)
    frag.append(h("p", {}, `Container storage used: ${d.node.containerStorageUsedPercent} %`));
  frag.append(h("h3", {}, "Precache"));
  const pc = d.node?.precache;
  frag.append(
    pc
      ? h(
          "p",
          { class: "precache" },
          h("progress", {
            max: pc.total || 1,
            value: pc.pulled,
            "aria-label": "Precache progress",
          }),
          ` ${pc.pulled} of ${pc.total} images pulled${pc.failed ? `, ${pc.failed} failed` : ""}`,
        )
      : h("p", {}, "No precache progress reported."),
  );
  if (d.history?.length || !d.lastHistory?.length) {
    frag.append(h("h3", {}, "Timeline"));
    frag.append(timeline(d.history ?? [], now));
  } else {
    // LCA clears the history when the IBU goes back to Idle; the hub kept the last one.
    frag.append(h("h3", {}, "Timeline (before the IBU went back to Idle)"));
    frag.append(timeline(d.lastHistory, now));
  }
  frag.append(h("h3", {}, "Conditions"));
  frag.append(conditionsTable(d.conditions ?? []));
  return frag;
}

function span(start, end, now) {
  const s = Date.parse(start ?? "");
  const e = Date.parse(end ?? "");
  if (!s) return h("span", { class: "when" }, "not started");
  if (e) return h("span", { class: "dur" }, duration(e - s));
  return h("span", { class: "running" }, `running for ${duration(now - s)}`);
}

function timeline(history, now) {
  if (!history.length)
    return h("p", {}, "No stage history: the IBU has not left Idle since the hub started.");
  const ol = h("ol", { class: "timeline", "aria-label": "Stages and phases" });
  for (const st of history) {
    const li = h(
      "li",
      { "data-stage": st.stage },
      h("strong", {}, st.stage),
      " — ",
      span(st.startTime, st.completionTime, now),
      h(
        "div",
        { class: "when" },
        `started ${when(st.startTime)}${st.completionTime ? `, completed ${when(st.completionTime)}` : ""}`,
      ),
    );
    if (st.phases?.length) {
      const ul = h("ul", { class: "phases", "aria-label": `${st.stage} phases` });
      for (const p of st.phases)
        ul.append(
          h(
            "li",
            { "data-phase": p.phase },
            `${p.phase}: `,
            span(p.startTime, p.completionTime, now),
          ),
        );
      li.append(ul);
    }
    ol.append(li);
  }
  return ol;
}

function conditionsTable(conditions) {
  if (!conditions.length) return h("p", {}, "No conditions reported.");
  const body = h("tbody");
  for (const c of conditions)
    body.append(
      h(
        "tr",
        {},
        h("th", { scope: "row" }, c.type),
        h(
          "td",
          {},
          c.status === "True" ? "✔ True" : c.status === "False" ? "✖ False" : `? ${c.status}`,
        ),
        h("td", {}, c.reason ?? ""),
        h("td", { class: "msg" }, c.message ?? ""),
        h("td", {}, when(c.lastTransitionTime)),
      ),
    );
  return h(
    "table",
    { class: "detail-table conditions" },
    h("caption", {}, "IBU conditions"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ...["Type", "Status", "Reason", "Message", "Last transition"].map(t =>
          h("th", { scope: "col" }, t),
        ),
      ),
    ),
    body,
  );
}

// ---------------------------------------------------------------------------------------------
// Wiring: one listener per kind of interaction, never one per row.

function wire() {
  const rows = $("rows");
  spacerTop = h("tr", { class: "spacer", "aria-hidden": "true" }, h("td", { colspan: COLS }));
  spacerBottom = h("tr", { class: "spacer", "aria-hidden": "true" }, h("td", { colspan: COLS }));
  rows.replaceChildren(spacerTop, spacerBottom);
  const rowHeight = parseFloat(
    getComputedStyle(document.documentElement).getPropertyValue("--row-height"),
  );
  if (rowHeight > 0) app.rowHeight = rowHeight;

  const rowName = target => {
    const tr = /** @type {HTMLElement} */ (target).closest?.("tr[data-name]");
    return tr && tr.dataset.name ? tr.dataset.name : null;
  };
  rows.addEventListener("click", e => {
    const name = rowName(e.target);
    if (name) void openDetail(name);
  });
  rows.addEventListener("focusin", e => {
    const name = rowName(e.target);
    if (name) app.activeName = name;
  });
  rows.addEventListener("keydown", e => {
    const name = rowName(e.target);
    if (!name) return;
    const i = app.view.findIndex(c => c.name === name);
    const page = Math.max(1, Math.floor($("scroller").clientHeight / app.rowHeight) - 1);
    const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page };
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      void openDetail(name);
    } else if (e.key in moves) {
      e.preventDefault();
      focusIndex(i + moves[e.key]);
    } else if (e.key === "Home" || e.key === "End") {
      e.preventDefault();
      focusIndex(e.key === "Home" ? 0 : app.view.length - 1);
    }
  });
  $("scroller").addEventListener("scroll", () => schedule(), { passive: true });
  window.addEventListener("resize", () => schedule());

  $("table").tHead.addEventListener("click", e => {
    const th = /** @type {HTMLElement} */ (e.target).closest?.("th[data-sort]");
    if (!th) return;
    const key = th.dataset.sort;
    app.sort = { key, dir: app.sort.key === key ? -app.sort.dir : 1 };
    for (const other of $("table").tHead.querySelectorAll("th[data-sort]"))
      other.setAttribute(
        "aria-sort",
        other === th ? (app.sort.dir === 1 ? "ascending" : "descending") : "none",
      );
    app.listDirty = true;
    schedule();
  });

  const stageSel = $("f-stage");
  for (const s of STAGES) stageSel.append(h("option", { value: s }, s));
  const stateSel = $("f-state");
  for (const s of STATES) stateSel.append(h("option", { value: s }, STATE_LABEL[s]));
  const filters = $("filters");
  const readFilters = () => {
    app.filter = {
      name: /** @type {HTMLInputElement} */ ($("f-name")).value.trim(),
      stage: /** @type {HTMLSelectElement} */ (stageSel).value,
      state: /** @type {HTMLSelectElement} */ (stateSel).value,
      group: /** @type {HTMLSelectElement} */ ($("f-group")).value,
      attention: /** @type {HTMLInputElement} */ ($("f-attention")).checked,
    };
    app.listDirty = true;
    $("scroller").scrollTop = 0;
    schedule();
  };
  filters.addEventListener("input", readFilters);
  filters.addEventListener("change", readFilters);
  filters.addEventListener("submit", e => e.preventDefault());

  const dialog = /** @type {HTMLDialogElement} */ ($("detail"));
  $("detail-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    const name = app.detailName;
    app.detailName = null;
    clearTimeout(app.detailTimer);
    const i = app.view.findIndex(c => c.name === name);
    if (i >= 0) focusIndex(i);
  });

  $("login-form").addEventListener("submit", e => {
    e.preventDefault();
    const input = /** @type {HTMLInputElement} */ ($("token"));
    const token = input.value.trim();
    input.value = "";
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    void start();
  });
  $("logout").addEventListener("click", () => showLogin(""));
  $("denied-retry").addEventListener("click", () => showLogin(""));
  window.addEventListener("hashchange", () => {
    if (/(?:^#|&)token=/.test(location.hash)) void start();
  });

  // Ages, and the stuck flag, move with the clock.
  setInterval(() => {
    app.listDirty = app.listDirty || app.filter.attention;
    app.summaryDirty = true;
    schedule();
  }, TICK_MS);
}

wire();
void start();
