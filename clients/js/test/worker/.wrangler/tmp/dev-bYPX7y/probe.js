var __defProp = Object.defineProperty;
var __name = (target, value) => __defProp(target, "name", { value, configurable: true });

// ../../dist/index.js
var Cursor = class {
  static {
    __name(this, "Cursor");
  }
  pos;
  seen = /* @__PURE__ */ new Set();
  held = false;
  constructor(pos = null) {
    this.pos = pos;
  }
  /** Whether `seq` was delivered already. */
  has(seq) {
    return this.pos !== null && seq <= this.pos || this.seen.has(seq);
  }
  /** An event of an ordered stream: false for a duplicate, else `pos` moves to it
   * (unless held). */
  next(seq) {
    if (this.held) return this.fill(seq);
    if (this.has(seq)) return false;
    this.advance(seq);
    return true;
  }
  /** An event found out of order (a gap check): false for a duplicate. */
  fill(seq) {
    if (this.has(seq)) return false;
    this.seen.add(seq);
    return true;
  }
  /** Everything up to `seq` is known delivered. */
  advance(seq) {
    if (this.pos === null || seq > this.pos) this.pos = seq;
    for (const s of this.seen) if (s <= this.pos) this.seen.delete(s);
  }
  /** A fresh start at `head` (history not recoverable, or another epoch). */
  reset(head) {
    this.pos = head;
    this.seen.clear();
  }
  /** Whether a hub head beyond the cursor calls for a gap check. */
  behind(head) {
    return this.pos !== null && head > this.pos;
  }
};
function backoffDelay(attempt, b = {}, random = Math.random) {
  const initial = b.initialMs ?? 500;
  const max = Math.max(initial, b.maxMs ?? 3e4);
  const exp = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.round(exp / 2 + random() * (exp / 2));
}
__name(backoffDelay, "backoffDelay");
function typeMatches(type, filter) {
  if (!filter || filter.length === 0) return true;
  return filter.some((f) => f.endsWith("*") ? type.startsWith(f.slice(0, -1)) : f === type);
}
__name(typeMatches, "typeMatches");
function unionTypes(filters) {
  const out = /* @__PURE__ */ new Set();
  for (const f of filters) {
    if (!f || f.length === 0) return null;
    for (const t of f) out.add(t);
  }
  return [...out].sort();
}
__name(unionTypes, "unionTypes");
var OPERATIONS = {
  analyticsSnapshot: "GET /api/analytics/snapshot",
  approveCommission: "PUT /api/finance/commissions/{id}/approve",
  assignCustomer: "PUT /api/crm/customers/{id}/assign",
  blockIp: "POST /api/security/blocked-ips",
  cancelSchedule: "DELETE /api/publishing/schedules/{id}",
  captureCardLead: "POST /api/cards/public/{slug}/leads",
  cardPage: "GET /c/{slug}",
  cardVcard: "GET /api/cards/public/{slug}/vcard",
  completeAppointment: "PUT /api/calendar/appointments/{id}/complete",
  console: "GET /console",
  consoleFile: "GET /console/{file}",
  createAppointment: "POST /api/calendar/appointments",
  createCard: "POST /api/cards",
  createCustomer: "POST /api/crm/customers",
  createFollowup: "POST /api/crm/followups",
  createInteraction: "POST /api/crm/interactions",
  createListing: "POST /api/publishing/listings",
  createOwner: "POST /api/owners",
  createPayment: "POST /api/finance/payments",
  createProperty: "POST /api/properties",
  createReport: "POST /api/reports",
  createRoom: "POST /api/realtime/rooms",
  createSale: "POST /api/finance/sales",
  createSchedule: "POST /api/publishing/schedules",
  createSeeker: "POST /api/seekers",
  createUser: "POST /api/users",
  deleteCustomer: "DELETE /api/crm/customers/{id}",
  deleteOwner: "DELETE /api/owners/{id}",
  deleteProperty: "DELETE /api/properties/{id}",
  deletePropertyPhoto: "DELETE /api/properties/{id}/photos/{photo}",
  deleteSeeker: "DELETE /api/seekers/{id}",
  deleteUser: "DELETE /api/users/{id}",
  devHubAppend: "POST /api/dev/hub-append",
  devQueueSend: "POST /api/dev/queues/{queue}",
  docs: "GET /api/docs",
  docsFile: "GET /api/docs/{file}",
  downloadReport: "GET /api/reports/{id}/download",
  eventCatalog: "GET /api/events.json",
  getCustomer: "GET /api/crm/customers/{id}",
  getDashboard: "GET /api/dashboard",
  getFinanceSettings: "GET /api/finance/settings",
  getFollowup: "GET /api/crm/followups/{id}",
  getJob: "GET /api/jobs/{id}",
  getListing: "GET /api/publishing/listings/{id}",
  getOwner: "GET /api/owners/{id}",
  getPhoto: "GET /api/photos/{id}",
  getProperty: "GET /api/properties/{id}",
  getReport: "GET /api/reports/{id}",
  getSale: "GET /api/finance/sales/{id}",
  getSeeker: "GET /api/seekers/{id}",
  getUser: "GET /api/users/{id}",
  health: "GET /health",
  listAppointments: "GET /api/calendar/appointments",
  listAudit: "GET /api/audit",
  listBlockedIps: "GET /api/security/blocked-ips",
  listCards: "GET /api/cards",
  listCommissionRates: "GET /api/finance/commission-rates",
  listCommissions: "GET /api/finance/commissions",
  listCustomers: "GET /api/crm/customers",
  listDeadLetters: "GET /api/dev/dead-letters",
  listDevMessages: "GET /api/dev/messages",
  listDevPhotoFiles: "GET /api/dev/photo-files",
  listFollowups: "GET /api/crm/followups",
  listInteractions: "GET /api/crm/interactions",
  listJobs: "GET /api/jobs",
  listListings: "GET /api/publishing/listings",
  listMatches: "GET /api/matches",
  listNotifications: "GET /api/notifications",
  listOwners: "GET /api/owners",
  listPayments: "GET /api/finance/payments",
  listProperties: "GET /api/properties",
  listPropertyPhotos: "GET /api/properties/{id}/photos",
  listReports: "GET /api/reports",
  listRooms: "GET /api/realtime/rooms",
  listSales: "GET /api/finance/sales",
  listSchedules: "GET /api/publishing/schedules",
  listSeekers: "GET /api/seekers",
  listUsers: "GET /api/users",
  login: "POST /api/auth/login",
  logout: "POST /api/auth/logout",
  openapi: "GET /api/openapi.json",
  publicCard: "GET /api/cards/public/{slug}",
  publishListing: "POST /api/publishing/listings/{id}/publish",
  putCommissionRate: "PUT /api/finance/commission-rates",
  putFinanceSettings: "PUT /api/finance/settings",
  readAllNotifications: "POST /api/notifications/read-all",
  readNotification: "PUT /api/notifications/{id}/read",
  realtimeEvents: "GET /api/realtime/events",
  realtimePublish: "POST /api/realtime/publish",
  realtimeStats: "GET /api/realtime/stats",
  refresh: "POST /api/auth/refresh",
  retryJob: "POST /api/jobs/{id}/retry",
  roomPublish: "POST /api/realtime/rooms/{name}/publish",
  runMatching: "POST /api/matching/run",
  scanCard: "POST /api/cards/{id}/scan",
  sendCustomerSms: "POST /api/crm/customers/{id}/sms",
  stats: "GET /api/stats",
  unblockIp: "DELETE /api/security/blocked-ips/{ip}",
  unreadNotifications: "GET /api/notifications/unread-count",
  updateCustomer: "PUT /api/crm/customers/{id}",
  updateFollowup: "PUT /api/crm/followups/{id}",
  updateOwner: "PUT /api/owners/{id}",
  updateProperty: "PUT /api/properties/{id}",
  updateSeeker: "PUT /api/seekers/{id}",
  updateUser: "PUT /api/users/{id}",
  uploadPropertyPhoto: "POST /api/properties/{id}/photos"
};
var PulseError = class extends Error {
  static {
    __name(this, "PulseError");
  }
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.name = "PulseError";
  }
  status;
  code;
  details;
};
async function request(fetch, base, getToken, method, path, body, headers = {}, signal) {
  const h = { ...headers, authorization: `Bearer ${await getToken()}` };
  if (body !== void 0) h["content-type"] = "application/json";
  const res = await fetch(base + path, {
    method,
    headers: h,
    body: body === void 0 ? void 0 : JSON.stringify(body),
    signal
  });
  const type = res.headers.get("content-type") || "";
  const value = res.status === 204 ? void 0 : type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) {
    const e = value && value.error || {};
    throw new PulseError(res.status, e.code || "http_" + res.status, e.message || res.statusText, e.details);
  }
  return value;
}
__name(request, "request");
function restClient(fetch, base, getToken) {
  const out = {};
  for (const [id, route] of Object.entries(OPERATIONS)) {
    const [method, template] = route.split(" ");
    out[id] = (args = {}) => {
      const { body, headers, signal, ...params } = args;
      const query = new URLSearchParams();
      const path = template.replace(/\{(\w+)\}/g, (_, k) => {
        const v = params[k];
        delete params[k];
        return encodeURIComponent(v);
      });
      for (const [k, v] of Object.entries(params)) if (v != null) query.set(k, String(v));
      const qs = query.toString();
      return request(fetch, base, getToken, method, qs ? `${path}?${qs}` : path, body, headers, signal);
    };
  }
  return out;
}
__name(restClient, "restClient");
var ALL_EVENTS = ["analytics", "notifications"];
var WS_OPEN = 1;
var REFUSED = ["bad_channel", "forbidden", "too_many_channels", "bad_frame"];
var PulseClient = class {
  static {
    __name(this, "PulseClient");
  }
  constructor(opts) {
    this.opts = opts;
    this.base = opts.url.replace(/\/+$/, "");
    const f = opts.fetch ?? globalThis.fetch;
    this.fetch = (input, init) => f(input, init);
    this.transports = opts.transports?.length ? opts.transports : ["websocket", "sse", "poll"];
    this.cursor = new Cursor(opts.resume ? opts.resume.since : null);
    this.epoch = opts.resume?.epoch ?? null;
    this.rest = restClient(this.fetch, this.base, opts.getToken);
  }
  opts;
  rest;
  state = "closed";
  epoch = null;
  cursor;
  base;
  fetch;
  transports;
  subs = /* @__PURE__ */ new Set();
  listeners = /* @__PURE__ */ new Map();
  conn = null;
  /** Bumped whenever a connection is torn down: callbacks of older ones are ignored. */
  gen = 0;
  attempt = 0;
  failures = 0;
  transport = 0;
  opened = /* @__PURE__ */ new Set();
  timer;
  beat;
  pongDue;
  /** Subscribe frames awaiting `subscribed`: the `since` of a resume, null for the first
   * subscribe of a connection, undefined for the others. */
  pending = [];
  sentTypes = "";
  filling = false;
  stopped = false;
  waiters = /* @__PURE__ */ new Map();
  /** The resume cursor: every matching event up to this seq has been delivered. */
  get lastSeq() {
    return this.cursor.pos;
  }
  /** The transport in use (or being tried). */
  get transportName() {
    return this.conn?.kind ?? null;
  }
  on(name, cb) {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, set = /* @__PURE__ */ new Set());
    set.add(cb);
    return () => void set.delete(cb);
  }
  emit(name, value) {
    for (const cb of [...this.listeners.get(name) ?? []]) {
      try {
        cb(value);
      } catch (e) {
        if (name !== "error") this.emit("error", asError(e));
      }
    }
  }
  subscribe(channels, cb, options = {}) {
    const sub = {
      channels: [...new Set(channels)],
      types: options.types?.length ? [...options.types] : null,
      presence: !!options.presence,
      cb
    };
    this.subs.add(sub);
    this.stopped = false;
    if (this.state === "closed") this.connect();
    else if (this.conn?.kind === "websocket" && this.state === "open") {
      if (this.sentTypes !== String(this.serverTypes())) this.sendSubs(this.channels(), void 0);
      else this.sendSubs(sub.channels, void 0);
    } else if (this.conn?.kind === "sse") this.restart();
    return {
      channels: sub.channels,
      unsubscribe: /* @__PURE__ */ __name(() => this.unsubscribe(sub), "unsubscribe")
    };
  }
  unsubscribe(sub) {
    if (!this.subs.delete(sub)) return;
    const still = new Set(this.channels());
    const gone = sub.channels.filter((c) => !still.has(c));
    if (this.subs.size === 0) return this.stop("closed");
    if (gone.length && this.conn?.kind === "websocket") this.conn.send({ op: "unsubscribe", channels: gone });
    if (gone.length && this.conn?.kind === "sse") this.restart();
  }
  /** The presence list of a channel subscribed with `presence: true` (WebSocket only). */
  presence(channel, timeoutMs = 1e4) {
    return new Promise((resolve, reject) => {
      if (this.conn?.kind !== "websocket" || this.state !== "open")
        return reject(new PulseError(0, "not_connected", "presence needs an open WebSocket"));
      const list = this.waiters.get(channel) ?? [];
      const t = setTimeout(() => done(new PulseError(0, "timeout", "no presence answer")), timeoutMs);
      const done = /* @__PURE__ */ __name((v) => {
        clearTimeout(t);
        const i = list.indexOf(done);
        if (i >= 0) list.splice(i, 1);
        v instanceof Error ? reject(v) : resolve(v);
      }, "done");
      list.push(done);
      this.waiters.set(channel, list);
      this.conn.send({ op: "presence", channel });
    });
  }
  /** Closes the connection for good (subscribing again reopens it). */
  close() {
    this.subs.clear();
    this.stop("closed");
  }
  // --- connection lifecycle ---
  stop(state) {
    this.stopped = true;
    this.teardown();
    clearTimeout(this.timer);
    this.timer = void 0;
    this.setState(state);
  }
  setState(state) {
    if (this.state === state && state !== "reconnecting") return;
    this.state = state;
    this.emit("state", { state, attempt: this.attempt, transport: this.transports[this.transport] ?? null });
  }
  teardown() {
    this.gen++;
    clearInterval(this.beat);
    clearTimeout(this.pongDue);
    this.pending = [];
    this.filling = false;
    this.cursor.held = false;
    const conn = this.conn;
    this.conn = null;
    conn?.close();
    for (const [, list] of this.waiters)
      for (const w of [...list]) w(new PulseError(0, "not_connected", "the connection closed"));
  }
  /** A new connection at once (the channel set of an SSE stream changed). */
  restart() {
    this.teardown();
    this.connect();
  }
  available(t) {
    if (t === "websocket") return !!this.ws();
    return !!this.fetch;
  }
  ws() {
    return this.opts.WebSocket === void 0 ? globalThis.WebSocket : this.opts.WebSocket;
  }
  async connect() {
    this.timer = void 0;
    if (this.stopped || this.subs.size === 0) return;
    const n = this.transports.length;
    for (let i = 0; i < n && !this.available(this.transports[this.transport]); i++)
      this.transport = (this.transport + 1) % n;
    const kind = this.transports[this.transport];
    if (!this.available(kind)) {
      this.emit("error", new PulseError(0, "no_transport", "no usable transport in this runtime"));
      return this.stop("closed");
    }
    if (this.state === "closed") this.setState("connecting");
    const gen = ++this.gen;
    let token;
    try {
      token = await this.opts.getToken();
    } catch (e) {
      this.emit("error", asError(e));
      return this.drop(gen, false);
    }
    if (gen !== this.gen) return;
    this.conn = kind === "websocket" ? this.openWs(gen, token) : kind === "sse" ? this.openSse(gen, token) : this.openPoll(gen);
  }
  up(gen, kind) {
    if (gen !== this.gen) return;
    this.opened.add(kind);
    this.failures = 0;
    this.attempt = 0;
    this.setState("open");
  }
  /** The connection of `gen` ended: reconnect after a backoff (at once after a token
   * expiry), falling back to the next transport when this one never opened. */
  drop(gen, wasOpen, code = 0) {
    if (gen !== this.gen) return;
    this.teardown();
    if (this.stopped) return;
    const kind = this.transports[this.transport];
    if (!wasOpen && !this.opened.has(kind) && ++this.failures >= (this.opts.fallbackAfter ?? 2)) {
      this.failures = 0;
      this.transport = (this.transport + 1) % this.transports.length;
    }
    const delay = code === 4001 && this.attempt === 0 ? 0 : backoffDelay(this.attempt, this.opts.backoff);
    this.attempt++;
    this.setState("reconnecting");
    this.timer = setTimeout(() => this.connect(), delay);
  }
  // --- subscriptions ---
  channels() {
    const all = /* @__PURE__ */ new Set();
    for (const s of this.subs) for (const c of s.channels) all.add(c);
    return [...all].sort();
  }
  /** The server-side type filter: the union of the subscriptions' filters (none when one
   * takes every type, or when the union is over the hub's 10). */
  serverTypes() {
    const u = unionTypes([...this.subs].map((s) => s.types));
    return u && u.length <= 10 ? u : null;
  }
  wantsPresence(channel) {
    for (const s of this.subs) if (s.presence && s.channels.includes(channel)) return true;
    return false;
  }
  /** Subscribe frames for `channels`. With a cursor (`since` a number or null: the first
   * subscribe of a connection) one frame takes every channel, so there is one replay in
   * seq order; presence channels are then joined by a second frame without `since`. */
  sendSubs(channels, since) {
    const conn = this.conn;
    if (!conn || !channels.length) return;
    const types = this.serverTypes();
    this.sentTypes = String(types);
    const base = types ? { types } : {};
    const pres = channels.filter((c) => this.wantsPresence(c));
    const plain = since === void 0 ? channels.filter((c) => !pres.includes(c)) : channels;
    if (plain.length) {
      this.pending.push(since);
      const resume = typeof since === "number" ? { since, ...this.epoch ? { epoch: this.epoch } : {} } : {};
      conn.send({ op: "subscribe", channels: plain, ...base, ...resume });
    }
    if (pres.length) {
      this.pending.push(void 0);
      conn.send({ op: "subscribe", channels: pres, ...base, presence: true });
    }
  }
  /** The answer to the first subscribe of a connection (WebSocket `subscribed`, SSE's
   * opening event, the first poll). */
  subscribed(f, since) {
    const sameEpoch = !this.epoch || this.epoch === f.epoch;
    const recovered = since === null || f.recovered && sameEpoch;
    if (since === null) {
      if (this.cursor.pos === null) this.cursor.reset(f.head);
    } else if (!recovered) this.cursor.reset(f.head);
    this.epoch = f.epoch;
    this.emit("recovered", { recovered, head: f.head, epoch: f.epoch });
  }
  /** Delivers an event once: `ordered` for a stream in seq order (moves the cursor). */
  deliver(ev, ordered) {
    if (!(ordered ? this.cursor.next(ev.seq) : this.cursor.fill(ev.seq))) return false;
    this.emit("event", ev);
    for (const s of [...this.subs]) {
      if (!typeMatches(ev.type, s.types)) continue;
      if (!s.channels.some((c) => ev.channels.includes(c) || ALL_EVENTS.includes(c))) continue;
      try {
        s.cb(ev);
      } catch (e) {
        this.emit("error", asError(e));
      }
    }
    return true;
  }
  history(since, limit) {
    const q = new URLSearchParams({ limit: String(limit), channels: this.channels().join(",") });
    if (since !== null) q.set("since", String(since));
    const types = this.serverTypes();
    if (types) q.set("types", types.join(","));
    return request(this.fetch, this.base, this.opts.getToken, "GET", `/api/realtime/events?${q}`);
  }
  /** Pages of history after the cursor, delivered in order (`fill`: as a gap check, out
   * of order beside a live stream). Returns how many were new, or -1 when the cursor
   * could not be resumed (`recovered: false` was emitted). */
  async catchUp(gen, fill) {
    let since = this.cursor.pos;
    let added = 0;
    let head = since;
    try {
      for (let i = 0; i < 1e3; i++) {
        const page = await this.history(since, 1e3);
        if (gen !== this.gen) return 0;
        if (!page.recovered || this.epoch && page.epoch !== this.epoch) {
          this.cursor.held = false;
          this.subscribed({ recovered: false, head: page.head, epoch: page.epoch }, since);
          return -1;
        }
        for (const ev of page.data) if (this.deliver(ev, !fill)) added++;
        head = page.head;
        if (page.next_since >= page.head || page.next_since <= since) break;
        since = page.next_since;
      }
      this.cursor.held = false;
      this.cursor.advance(head);
      return added;
    } finally {
      if (fill && gen === this.gen) this.cursor.held = false;
    }
  }
  /** The hub head is past the cursor while no event came: fetch what the socket missed
   * (the cursor is held meanwhile, so live events cannot hide older missed ones). */
  async gapCheck(gen) {
    if (this.filling) return;
    this.filling = true;
    this.cursor.held = true;
    const from = this.cursor.pos;
    try {
      const missed = await this.catchUp(gen, true);
      if (missed > 0) this.emit("gap", { from, to: this.cursor.pos, missed });
    } catch (e) {
      if (gen === this.gen) this.emit("error", asError(e));
    } finally {
      if (gen === this.gen) this.filling = false;
    }
  }
  // --- transports ---
  openWs(gen, token) {
    const WS = this.ws();
    const url = this.base.replace(/^http/, "ws") + "/api/realtime/ws?token=" + encodeURIComponent(token);
    const ws = new WS(url);
    let open = false;
    const conn = {
      kind: "websocket",
      send: /* @__PURE__ */ __name((f) => {
        if (ws.readyState === WS_OPEN) ws.send(JSON.stringify(f));
      }, "send"),
      close: /* @__PURE__ */ __name(() => {
        try {
          ws.close(1e3);
        } catch {
        }
      }, "close")
    };
    ws.onopen = () => {
      if (gen !== this.gen) return;
      open = true;
      this.up(gen, "websocket");
      this.sendSubs(this.channels(), this.cursor.pos);
      this.beat = setInterval(() => this.ping(gen), this.opts.heartbeatMs ?? 3e4);
    };
    ws.onmessage = (m) => {
      if (gen !== this.gen) return;
      let f;
      try {
        f = JSON.parse(String(m.data));
      } catch {
        return;
      }
      this.frame(gen, f);
    };
    ws.onclose = (e) => this.drop(gen, open, e?.code ?? 0);
    ws.onerror = () => {
    };
    return conn;
  }
  ping(gen) {
    if (gen !== this.gen || !this.conn) return;
    this.conn.send({ op: "ping", head: true });
    clearTimeout(this.pongDue);
    this.pongDue = setTimeout(() => this.drop(gen, true), this.opts.pongTimeoutMs ?? 1e4);
  }
  frame(gen, f) {
    switch (f.op) {
      case "event": {
        const { op: _, ...ev } = f;
        this.deliver(ev, true);
        break;
      }
      case "subscribed": {
        const since = this.pending.shift();
        if (since !== void 0) this.subscribed(f, since);
        else if (this.cursor.pos === null) this.cursor.reset(f.head);
        break;
      }
      case "pong":
        clearTimeout(this.pongDue);
        if (typeof f.head === "number" && this.cursor.behind(f.head)) this.gapCheck(gen);
        break;
      case "presence": {
        const { op: _, ...p } = f;
        if (p.users) for (const w of [...this.waiters.get(p.channel) ?? []]) w(p.users);
        this.emit("presence", p);
        break;
      }
      case "snapshot":
        this.emit("snapshot", { channel: f.channel, seq: f.seq, data: f.data });
        break;
      case "token_expiring":
        this.emit("token_expiring", { exp: f.exp });
        this.refresh(gen);
        break;
      case "error":
        if (REFUSED.includes(f.code) && this.pending.length) this.pending.shift();
        if (f.code === "not_subscribed")
          for (const [, list] of this.waiters) for (const w of [...list]) w(new PulseError(0, f.code, f.message));
        this.emit("error", new PulseError(0, f.code, f.message));
        break;
    }
  }
  /** Sends a fresh token on the open socket (`auth`); the hub answers nothing on success. */
  async refresh(gen) {
    try {
      const token = await this.opts.getToken();
      if (gen === this.gen) this.conn?.send({ op: "auth", token });
    } catch (e) {
      this.emit("error", asError(e));
    }
  }
  streamUrl(since) {
    const q = new URLSearchParams({ channels: this.channels().join(",") });
    const types = this.serverTypes();
    if (types) q.set("types", types.join(","));
    if (since !== null) q.set("since", String(since));
    return `${this.base}/api/realtime/stream?${q}`;
  }
  openSse(gen, token) {
    const since = this.cursor.pos;
    let open = false;
    let code = 0;
    const on = /* @__PURE__ */ __name((type, data) => {
      if (gen !== this.gen) return;
      let v;
      try {
        v = JSON.parse(data);
      } catch {
        return;
      }
      if (type === "subscribed") {
        if (!open) this.up(gen, "sse");
        open = true;
        this.subscribed(v, since);
      } else if (type === "error") {
        if (v.code === "token_expired") code = 4001;
        this.emit("error", new PulseError(0, v.code, v.message));
      } else this.deliver(v, true);
    }, "on");
    const ES = this.opts.EventSource;
    if (ES) {
      const es = new ES(this.streamUrl(since) + "&token=" + encodeURIComponent(token));
      es.onmessage = (e) => on("message", e.data);
      es.addEventListener("subscribed", (e) => on("subscribed", e.data));
      es.addEventListener("error", (e) => {
        if (e && typeof e.data === "string") return on("error", e.data);
        es.close();
        this.drop(gen, open, code);
      });
      return { kind: "sse", send() {
      }, close: /* @__PURE__ */ __name(() => es.close(), "close") };
    }
    const ac = new AbortController();
    (async () => {
      try {
        const res = await this.fetch(this.streamUrl(since), {
          headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
          signal: ac.signal
        });
        if (!res.ok || !res.body) {
          const body = await res.json().catch(() => ({}));
          const e = body.error ?? {};
          this.emit("error", new PulseError(res.status, e.code ?? "http_" + res.status, e.message ?? res.statusText));
          if (res.status === 401) code = 4001;
        } else await readSse(res.body, on);
      } catch (e) {
        if (gen === this.gen) this.emit("error", asError(e));
      }
      this.drop(gen, open, code);
    })();
    return { kind: "sse", send() {
    }, close: /* @__PURE__ */ __name(() => ac.abort(), "close") };
  }
  openPoll(gen) {
    let timer;
    let open = false;
    const tick = /* @__PURE__ */ __name(async () => {
      try {
        if (!open) {
          const since = this.cursor.pos;
          if (since === null) {
            const page = await this.history(null, 1);
            if (gen !== this.gen) return;
            this.subscribed(page, null);
          } else {
            const n = await this.catchUp(gen, false);
            if (gen !== this.gen) return;
            if (n >= 0) this.emit("recovered", { recovered: true, head: this.cursor.pos, epoch: this.epoch });
          }
          open = true;
          this.up(gen, "poll");
        } else await this.catchUp(gen, false);
      } catch (e) {
        if (gen !== this.gen) return;
        this.emit("error", asError(e));
        return this.drop(gen, open);
      }
      if (gen === this.gen) timer = setTimeout(tick, this.opts.pollMs ?? 3e3);
    }, "tick");
    tick();
    return { kind: "poll", send() {
    }, close: /* @__PURE__ */ __name(() => clearTimeout(timer), "close") };
  }
};
async function readSse(body, on) {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  let type = "";
  let data = [];
  for (; ; ) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, buf[i - 1] === "\r" ? i - 1 : i);
      buf = buf.slice(i + 1);
      if (line === "") {
        if (data.length) on(type || "message", data.join("\n"));
        type = "";
        data = [];
      } else if (line[0] !== ":") {
        const c = line.indexOf(":");
        const field = c < 0 ? line : line.slice(0, c);
        const v = c < 0 ? "" : line.slice(c + (line[c + 1] === " " ? 2 : 1));
        if (field === "event") type = v;
        else if (field === "data") data.push(v);
      }
    }
  }
}
__name(readSse, "readSse");
function asError(e) {
  if (e instanceof PulseError) return e;
  return new PulseError(0, "client", e instanceof Error ? e.message : String(e));
}
__name(asError, "asError");
function createClient(options) {
  return new PulseClient(options);
}
__name(createClient, "createClient");

// probe.js
var sleep = /* @__PURE__ */ __name((ms) => new Promise((r) => setTimeout(r, ms)), "sleep");
async function until(pred, ms, what) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
__name(until, "until");
var probe_default = {
  async fetch(request2) {
    const q = new URL(request2.url).searchParams;
    const token = q.get("token");
    const opts = { url: q.get("origin"), getToken: /* @__PURE__ */ __name(async () => token, "getToken"), backoff: { initialMs: 100, maxMs: 500 } };
    if (q.get("transport") === "sse") opts.WebSocket = null;
    if (q.get("transport") === "poll") {
      opts.transports = ["poll"];
      opts.pollMs = 200;
    }
    const client = createClient(opts);
    const events = [];
    const recovered = [];
    const errors = [];
    client.on("recovered", (r) => recovered.push(r));
    client.on("error", (e) => errors.push(String(e?.message ?? e)));
    try {
      client.subscribe(["tenant"], (ev) => events.push(ev));
      await until(() => recovered.length > 0, 1e4, "the subscription");
      const created = await client.rest.createCustomer({ body: { name: `Probe ${q.get("transport")}` } });
      await until(() => events.some((e) => e.data?.id === created.id), 1e4, "the customer's event");
      return Response.json({
        runtime: "Cloudflare-Workers",
        transport: client.transportName,
        recovered,
        created: created.id,
        events: events.map((e) => ({ seq: e.seq, type: e.type, id: e.data?.id ?? null })),
        errors
      });
    } catch (e) {
      return Response.json({ failed: String(e?.stack ?? e), transport: client.transportName, errors }, { status: 500 });
    } finally {
      client.close();
    }
  }
};

// ../../../../node_modules/wrangler/templates/middleware/middleware-ensure-req-body-drained.ts
var drainBody = /* @__PURE__ */ __name(async (request2, env, _ctx, middlewareCtx) => {
  try {
    return await middlewareCtx.next(request2, env);
  } finally {
    try {
      if (request2.body !== null && !request2.bodyUsed) {
        const reader = request2.body.getReader();
        while (!(await reader.read()).done) {
        }
      }
    } catch (e) {
      console.error("Failed to drain the unused request body.", e);
    }
  }
}, "drainBody");
var middleware_ensure_req_body_drained_default = drainBody;

// ../../../../node_modules/wrangler/templates/middleware/middleware-miniflare3-json-error.ts
function reduceError(e) {
  return {
    name: e?.name,
    message: e?.message ?? String(e),
    stack: e?.stack,
    cause: e?.cause === void 0 ? void 0 : reduceError(e.cause)
  };
}
__name(reduceError, "reduceError");
var jsonError = /* @__PURE__ */ __name(async (request2, env, _ctx, middlewareCtx) => {
  try {
    return await middlewareCtx.next(request2, env);
  } catch (e) {
    const error = reduceError(e);
    const body = JSON.stringify(error);
    const headers = {
      "Content-Type": "application/json",
      "MF-Experimental-Error-Stack": "true"
    };
    const encoded = encodeURIComponent(body);
    if (encoded.length <= 8192) {
      headers["MF-Experimental-Error-Stack-Payload"] = encoded;
    }
    return new Response(body, { status: 500, headers });
  }
}, "jsonError");
var middleware_miniflare3_json_error_default = jsonError;

// .wrangler/tmp/bundle-aMaP4l/middleware-insertion-facade.js
var __INTERNAL_WRANGLER_MIDDLEWARE__ = [
  middleware_ensure_req_body_drained_default,
  middleware_miniflare3_json_error_default
];
var middleware_insertion_facade_default = probe_default;

// ../../../../node_modules/wrangler/templates/middleware/common.ts
var __facade_middleware__ = [];
function __facade_register__(...args) {
  __facade_middleware__.push(...args.flat());
}
__name(__facade_register__, "__facade_register__");
function __facade_invokeChain__(request2, env, ctx, dispatch, middlewareChain) {
  const [head, ...tail] = middlewareChain;
  const middlewareCtx = {
    dispatch,
    next(newRequest, newEnv) {
      return __facade_invokeChain__(newRequest, newEnv, ctx, dispatch, tail);
    }
  };
  return head(request2, env, ctx, middlewareCtx);
}
__name(__facade_invokeChain__, "__facade_invokeChain__");
function __facade_invoke__(request2, env, ctx, dispatch, finalMiddleware) {
  return __facade_invokeChain__(request2, env, ctx, dispatch, [
    ...__facade_middleware__,
    finalMiddleware
  ]);
}
__name(__facade_invoke__, "__facade_invoke__");

// .wrangler/tmp/bundle-aMaP4l/middleware-loader.entry.ts
var __Facade_ScheduledController__ = class ___Facade_ScheduledController__ {
  constructor(scheduledTime, cron, noRetry) {
    this.scheduledTime = scheduledTime;
    this.cron = cron;
    this.#noRetry = noRetry;
  }
  scheduledTime;
  cron;
  static {
    __name(this, "__Facade_ScheduledController__");
  }
  #noRetry;
  noRetry() {
    if (!(this instanceof ___Facade_ScheduledController__)) {
      throw new TypeError("Illegal invocation");
    }
    this.#noRetry();
  }
};
function wrapExportedHandler(worker) {
  if (__INTERNAL_WRANGLER_MIDDLEWARE__ === void 0 || __INTERNAL_WRANGLER_MIDDLEWARE__.length === 0) {
    return worker;
  }
  for (const middleware of __INTERNAL_WRANGLER_MIDDLEWARE__) {
    __facade_register__(middleware);
  }
  const fetchDispatcher = /* @__PURE__ */ __name(function(request2, env, ctx) {
    if (worker.fetch === void 0) {
      throw new Error("Handler does not export a fetch() function.");
    }
    return worker.fetch(request2, env, ctx);
  }, "fetchDispatcher");
  return {
    ...worker,
    fetch(request2, env, ctx) {
      const dispatcher = /* @__PURE__ */ __name(function(type, init) {
        if (type === "scheduled" && worker.scheduled !== void 0) {
          const controller = new __Facade_ScheduledController__(
            Date.now(),
            init.cron ?? "",
            () => {
            }
          );
          return worker.scheduled(controller, env, ctx);
        }
      }, "dispatcher");
      return __facade_invoke__(request2, env, ctx, dispatcher, fetchDispatcher);
    }
  };
}
__name(wrapExportedHandler, "wrapExportedHandler");
function wrapWorkerEntrypoint(klass) {
  if (__INTERNAL_WRANGLER_MIDDLEWARE__ === void 0 || __INTERNAL_WRANGLER_MIDDLEWARE__.length === 0) {
    return klass;
  }
  for (const middleware of __INTERNAL_WRANGLER_MIDDLEWARE__) {
    __facade_register__(middleware);
  }
  return class extends klass {
    #fetchDispatcher = /* @__PURE__ */ __name((request2, env, ctx) => {
      this.env = env;
      this.ctx = ctx;
      if (super.fetch === void 0) {
        throw new Error("Entrypoint class does not define a fetch() function.");
      }
      return super.fetch(request2);
    }, "#fetchDispatcher");
    #dispatcher = /* @__PURE__ */ __name((type, init) => {
      if (type === "scheduled" && super.scheduled !== void 0) {
        const controller = new __Facade_ScheduledController__(
          Date.now(),
          init.cron ?? "",
          () => {
          }
        );
        return super.scheduled(controller);
      }
    }, "#dispatcher");
    fetch(request2) {
      return __facade_invoke__(
        request2,
        this.env,
        this.ctx,
        this.#dispatcher,
        this.#fetchDispatcher
      );
    }
  };
}
__name(wrapWorkerEntrypoint, "wrapWorkerEntrypoint");
var WRAPPED_ENTRY;
if (typeof middleware_insertion_facade_default === "object") {
  WRAPPED_ENTRY = wrapExportedHandler(middleware_insertion_facade_default);
} else if (typeof middleware_insertion_facade_default === "function") {
  WRAPPED_ENTRY = wrapWorkerEntrypoint(middleware_insertion_facade_default);
}
var middleware_loader_entry_default = WRAPPED_ENTRY;
export {
  __INTERNAL_WRANGLER_MIDDLEWARE__,
  middleware_loader_entry_default as default
};
//# sourceMappingURL=probe.js.map
