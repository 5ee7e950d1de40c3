// The live console at /console: log in, then the tenant live through @pulse/client (event
// feed with filters, presence, jobs with progress, the connection's state and resumes),
// the dashboard's charts over REST, and the admin publish form.

import { createClient } from "@pulse/client";
import { Session, ApiError } from "./session.js";
import { Feed, parseTypes } from "./feed.js";
import { Jobs } from "./jobs.js";
import { barChart, pipelineRows, salesCharts, salesSeries, money } from "./charts.js";

const $ = (id) => document.getElementById(id);
const session = new Session(location.origin);
const feed = new Feed($("events"), $("feed-count"), $("events-empty"));
const jobs = new Jobs($("jobs-list"));

/** The live part of a logged-in session: the client, its subscription, listeners. */
let live = null;

function errorText(e) {
  // ApiError (login) and the client's PulseError share status, code, message, details.
  if (e instanceof ApiError || (e && typeof e.code === "string" && "status" in e)) {
    const fields = e.details && e.details.fields ? " (" + Object.keys(e.details.fields).join(", ") + ")" : "";
    return `${e.message}${fields} [${e.code}]`;
  }
  return String((e && e.message) || e);
}

// --- connection indicator ---------------------------------------------------------------

const conn = { state: "offline", reconnects: 0, opened: false, resumes: 0 };

function showConn(state, detail) {
  const box = $("conn");
  conn.state = state;
  box.dataset.state = state;
  box.dataset.reconnects = String(conn.reconnects);
  box.dataset.resumes = String(conn.resumes);
  const words = {
    offline: "Offline",
    connecting: "Connecting…",
    open: "Live",
    reconnecting: "Reconnecting…",
    closed: "Disconnected",
  };
  $("conn-text").textContent = words[state] || state;
  if (detail !== undefined) $("conn-detail").textContent = detail;
}

function onState(a, b) {
  // "state" reports the new state and the reconnect attempt (as an object or as arguments).
  const state = typeof a === "string" ? a : a && a.state;
  const attempt = typeof a === "string" ? b : a && a.attempt;
  if (!state) return;
  if (state === "reconnecting") {
    showConn(state, attempt ? `attempt ${attempt}` : "");
    return;
  }
  if (state === "open") {
    if (conn.opened) conn.reconnects += 1;
    conn.opened = true;
  }
  showConn(state, state === "open" && conn.reconnects ? `${conn.reconnects} reconnect(s)` : "");
}

function onRecovered(r) {
  const box = $("conn");
  box.dataset.head = String(r.head);
  box.dataset.recovered = String(r.recovered);
  live.subscribes += 1;
  if (live.subscribes === 1) {
    $("conn-detail").textContent = `from #${r.head}`;
    return;
  }
  if (r.recovered) {
    conn.resumes += 1;
    box.dataset.resumes = String(conn.resumes);
    $("conn-detail").textContent = `resumed at #${r.head}, nothing missed · ${conn.reconnects} reconnect(s)`;
    feed.mark(`Connection resumed (head #${r.head}): missed events replayed.`);
  } else {
    $("conn-detail").textContent = "history lost: views reloaded";
    feed.mark("The server's history no longer reaches back to the last event seen: views reloaded.");
    loadJobs();
    loadDashboard();
  }
}

// --- live ---------------------------------------------------------------------------------

const DASHBOARD_TYPES = ["crm:customer:", "finance:", "reports:dashboard:"];
let dashTimer = 0;

function onEvent(ev) {
  feed.add(ev);
  if (ev.type.startsWith("job:")) jobs.upsert(ev.data);
  if (DASHBOARD_TYPES.some((p) => ev.type.startsWith(p))) {
    clearTimeout(dashTimer);
    dashTimer = setTimeout(loadDashboard, 400);
  }
  addChannelOptions(ev.channels || []);
}

function addChannelOptions(channels) {
  const sel = $("filter-channel");
  const have = new Set([...sel.options].map((o) => o.value));
  for (const c of channels) {
    if (have.has(c)) continue;
    const o = document.createElement("option");
    o.value = c;
    o.textContent = c;
    sel.append(o);
    have.add(c);
  }
}

/** Who is online in the tenant: the list asked for after each (re)subscribe, then kept by
 * the join and leave frames of the `tenant` channel. */
const online = new Map();

function renderPresence() {
  const list = $("presence-list");
  list.replaceChildren(
    ...[...online.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([user, n]) => {
        const li = document.createElement("li");
        li.dataset.user = user;
        li.textContent = n > 1 ? `${user} (${n})` : user;
        return li;
      }),
  );
}

function onPresence(f) {
  if (f.channel !== "tenant") return;
  if (Array.isArray(f.users)) {
    online.clear();
    for (const u of f.users) online.set(u.user_id, u.connections);
  } else if (f.action === "join" && f.user_id) {
    online.set(f.user_id, Math.max(online.get(f.user_id) || 0, 1));
  } else if (f.action === "leave" && f.user_id) {
    online.delete(f.user_id);
  }
  renderPresence();
}

async function loadPresence() {
  if (!live) return;
  try {
    onPresence({ channel: "tenant", users: await live.pulse.presence("tenant") });
  } catch {
    // Not connected right now: the next resume asks again.
  }
}

function startLive(c) {
  const pulse = createClient({ url: location.origin, getToken: () => session.token() });
  live = { pulse, offs: [], subscribes: 0 };
  const channels = ["tenant", `user:${c.sub}`, `role:${c.role}`];
  addChannelOptions(channels);
  live.offs.push(
    pulse.on("state", onState),
    pulse.on("recovered", (r) => {
      onRecovered(r);
      loadPresence();
    }),
    pulse.on("presence", onPresence),
    pulse.on("gap", () => {
      $("conn-detail").textContent = "gap detected: fetching the missed events";
    }),
    pulse.on("error", (e) => {
      $("conn-detail").textContent = "error: " + errorText(e);
    }),
  );
  live.sub = pulse.subscribe(channels, onEvent, { presence: true });
}

function stopLive() {
  if (!live) return;
  for (const off of live.offs) if (typeof off === "function") off();
  try {
    live.sub.unsubscribe();
  } catch {
    // Closing below ends it anyway.
  }
  live.pulse.close();
  live = null;
}

// --- REST views -----------------------------------------------------------------------------

async function loadJobs() {
  if (!live) return;
  $("jobs-status").textContent = "";
  try {
    const page = await live.pulse.rest.listJobs({ limit: 20 });
    jobs.reset(page.data || []);
  } catch (e) {
    $("jobs-status").textContent = "Jobs: " + errorText(e);
  }
}

async function loadDashboard() {
  if (!live) return;
  try {
    const d = await live.pulse.rest.getDashboard();
    const pipe = $("chart-pipeline").querySelector(".plot");
    pipe.replaceChildren(barChart(document, pipelineRows((d.customers || {}).by_status || {}), "Customers by status"));
    $("dash-asof").textContent = d.as_of ? "as of " + new Date(d.as_of).toLocaleTimeString() : "";
    const totals = [["Customers", (d.customers || {}).total ?? 0], ["Jobs", (d.jobs || {}).total ?? 0]];
    const byCur = (d.sales && d.sales.by_currency) || {};
    for (const [cur, s] of Object.entries(byCur)) totals.push([`Sales ${cur}`, money(s.total_minor || 0, cur)]);
    $("dash-totals").replaceChildren(
      ...totals.map(([k, v]) => {
        const div = document.createElement("div");
        const dt = document.createElement("dt");
        dt.textContent = k;
        const dd = document.createElement("dd");
        dd.textContent = String(v);
        div.append(dt, dd);
        return div;
      }),
    );
  } catch (e) {
    $("dash-asof").textContent = "Dashboard: " + errorText(e);
  }
  const plot = $("chart-sales").querySelector(".plot");
  if (session.claims.role === "viewer") {
    plot.replaceChildren(note("Sales figures are not shown to viewers."));
    return;
  }
  try {
    const sales = [];
    let cursor = "";
    for (let i = 0; i < 5; i++) {
      const page = await live.pulse.rest.listSales(cursor ? { limit: 100, cursor } : { limit: 100 });
      sales.push(...(page.data || []));
      if (!page.next_cursor) break;
      cursor = page.next_cursor;
    }
    plot.replaceChildren(salesCharts(document, salesSeries(sales), "Sales per day"));
  } catch (e) {
    plot.replaceChildren(note("Sales: " + errorText(e)));
  }
}

function note(text) {
  const p = document.createElement("p");
  p.className = "empty";
  p.textContent = text;
  return p;
}

// --- login / logout -------------------------------------------------------------------------

function showApp(c) {
  $("login").hidden = true;
  $("app").hidden = false;
  $("who").hidden = false;
  $("who-text").textContent = `${c.sub} · ${c.role} · ${c.tid}`;
  for (const e of document.querySelectorAll(".admin-only")) e.hidden = c.role !== "admin";
  $("main").focus();
}

async function login(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  const tenant = $("login-tenant").value.trim();
  const email = $("login-email").value.trim();
  const password = $("login-password").value;
  const err = $("login-error");
  err.textContent = "";
  if (!tenant || !email || !password) {
    err.textContent = "Tenant, email and password are all needed.";
    const first = [$("login-tenant"), $("login-email"), $("login-password")].find((i) => !i.value.trim());
    if (first) first.focus();
    return;
  }
  const button = $("login-submit");
  button.disabled = true;
  button.textContent = "Logging in…";
  try {
    const c = await session.login(tenant, email, password);
    form.reset();
    $("login-tenant").value = tenant;
    showApp(c);
    showConn("connecting", "");
    startLive(c);
    loadJobs();
    loadDashboard();
  } catch (e) {
    err.textContent =
      e instanceof ApiError && e.code === "invalid_credentials" ? "Wrong tenant, email or password." : errorText(e);
    $("login-password").focus();
  } finally {
    button.disabled = false;
    button.textContent = "Log in";
  }
}

async function logout() {
  stopLive();
  await session.logout();
  feed.clear();
  feed.seen.clear();
  jobs.reset([]);
  online.clear();
  renderPresence();
  $("app").hidden = true;
  $("who").hidden = true;
  $("login").hidden = false;
  conn.reconnects = 0;
  conn.resumes = 0;
  conn.opened = false;
  showConn("offline", "");
  $("login-email").focus();
}

// --- admin: publish, report -------------------------------------------------------------------

function list(text) {
  return String(text)
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

async function publish(ev) {
  ev.preventDefault();
  const out = $("pub-status");
  let data;
  try {
    data = JSON.parse($("pub-data").value || "{}");
    if (!data || typeof data !== "object" || Array.isArray(data)) throw new Error("not an object");
  } catch {
    out.textContent = "Data must be a JSON object.";
    $("pub-data").focus();
    return;
  }
  const body = {
    type: $("pub-type").value.trim() || "system:alert",
    target_roles: [...document.querySelectorAll('#publish-form input[name="role"]:checked')].map((i) => i.value),
    target_users: list($("pub-users").value),
    channels: list($("pub-channels").value),
    data,
  };
  const button = $("pub-submit");
  button.disabled = true;
  try {
    const r = await live.pulse.rest.realtimePublish({ body });
    out.textContent = `Published ${r.type} as #${r.seq ?? "?"} to ${r.channels.join(", ")}.`;
  } catch (e) {
    out.textContent = "Not published: " + errorText(e);
  } finally {
    button.disabled = false;
  }
}

async function startReport() {
  const to = new Date(Date.now() + 86400000);
  const from = new Date(Date.now() - 30 * 86400000);
  const iso = (d) => d.toISOString().replace(/\.\d+Z$/, "Z");
  try {
    const r = await live.pulse.rest.createReport({
      body: { kind: "sales_summary", format: "json", from: iso(from), to: iso(to) },
    });
    $("jobs-status").textContent = `Report ${r.id} queued (job ${r.job_id}).`;
  } catch (e) {
    $("jobs-status").textContent = "Report: " + errorText(e);
  }
}

// --- wiring ---------------------------------------------------------------------------------

function filterChanged() {
  feed.setFilter({ channel: $("filter-channel").value, types: parseTypes($("filter-type").value) });
}

$("login-form").addEventListener("submit", login);
$("logout").addEventListener("click", logout);
$("publish-form").addEventListener("submit", publish);
$("report-start").addEventListener("click", startReport);
$("jobs-refresh").addEventListener("click", loadJobs);
$("dash-refresh").addEventListener("click", loadDashboard);
$("feed-clear").addEventListener("click", () => feed.clear());
$("filter-channel").addEventListener("change", filterChanged);
$("filter-type").addEventListener("input", filterChanged);
document.documentElement.dataset.ready = "1";
