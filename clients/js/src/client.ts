/** The realtime client: one connection (WebSocket, else SSE, else polling), resumed by seq
 * and epoch after every drop, checked against the hub head, with tokens refreshed in place. */
import { Cursor, backoffDelay, typeMatches, unionTypes, type Backoff } from "./cursor.js";
import { PulseError, request, restClient, type Fetch, type RestClient } from "./rest.js";
import type { AnyPulseEvent, EventType } from "./generated/events.js";

export type Transport = "websocket" | "sse" | "poll";
export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

export interface StateChange {
  state: ConnectionState;
  /** Reconnect attempts since the connection was last open. */
  attempt: number;
  transport: Transport | null;
}
/** After each (re)subscribe: `recovered: false` means events were lost (history past
 * retention, or another epoch): reload what you show over REST. */
export interface Recovered {
  recovered: boolean;
  head: number;
  epoch: string;
}
/** Events the hub head revealed as missed, fetched over REST and delivered late. */
export interface Gap {
  from: number;
  to: number;
  missed: number;
}
export interface PresenceUser {
  user_id: string;
  connections: number;
}
export interface PresenceFrame {
  channel: string;
  action?: "join" | "leave";
  user_id?: string;
  users?: PresenceUser[];
}
export interface Snapshot {
  channel: string;
  seq: number;
  data: Record<string, unknown>;
}

export interface ClientEvents {
  event: AnyPulseEvent;
  state: StateChange;
  recovered: Recovered;
  gap: Gap;
  presence: PresenceFrame;
  snapshot: Snapshot;
  token_expiring: { exp: number };
  error: PulseError;
}

export interface WebSocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
  onmessage: ((ev: any) => void) | null;
}
export interface EventSourceLike {
  close(): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: any) => void) | null;
  addEventListener(type: string, cb: (ev: any) => void): void;
}

export interface ClientOptions {
  /** The Pulse origin, e.g. `https://api.example.com` (http(s); WebSocket URLs follow). */
  url: string;
  /** A valid access token; called for every connection, REST call and refresh. */
  getToken: () => string | Promise<string>;
  /** Tried in this order; a transport that never opened is left after `fallbackAfter`
   * failed attempts (default all three). */
  transports?: Transport[];
  WebSocket?: (new (url: string) => WebSocketLike) | null;
  /** When given, SSE uses it (token in `?token=`); otherwise SSE reads a `fetch` stream. */
  EventSource?: (new (url: string) => EventSourceLike) | null;
  fetch?: Fetch;
  backoff?: Backoff;
  /** How often the WebSocket asks for the hub head (default 30 s). */
  heartbeatMs?: number;
  /** A ping unanswered this long drops the socket (default 10 s). */
  pongTimeoutMs?: number;
  /** Polling interval of the `poll` transport (default 3 s). */
  pollMs?: number;
  /** Failed opens before falling back to the next transport (default 2). */
  fallbackAfter?: number;
  /** Resume from a cursor kept earlier (`lastSeq` and `epoch` of a previous client). */
  resume?: { since: number; epoch?: string };
}

export interface SubscribeOptions {
  /** Exact types or prefixes ending in `*`. */
  types?: (EventType | `${string}*`)[];
  /** Join the channels' presence (WebSocket only). */
  presence?: boolean;
}

export interface Subscription {
  readonly channels: readonly string[];
  unsubscribe(): void;
}

interface Sub {
  channels: string[];
  types: string[] | null;
  presence: boolean;
  cb: (ev: AnyPulseEvent) => void;
}

interface Conn {
  kind: Transport;
  send(frame: object): void;
  close(): void;
}

interface HistoryPage {
  data: AnyPulseEvent[];
  head: number;
  epoch: string;
  recovered: boolean;
  next_since: number;
}

/** Channels whose events do not name them: a subscriber gets every event it may read. */
const ALL_EVENTS = ["analytics", "notifications"];
const WS_OPEN = 1;
/** `error` codes that refuse a whole subscribe frame. */
const REFUSED = ["bad_channel", "forbidden", "too_many_channels", "bad_frame"];

export class PulseClient {
  readonly rest: RestClient;
  state: ConnectionState = "closed";
  epoch: string | null = null;
  private readonly cursor: Cursor;
  private readonly base: string;
  private readonly fetch: Fetch;
  private readonly transports: Transport[];
  private readonly subs = new Set<Sub>();
  private readonly listeners = new Map<string, Set<(v: any) => void>>();
  private conn: Conn | null = null;
  /** Bumped whenever a connection is torn down: callbacks of older ones are ignored. */
  private gen = 0;
  private attempt = 0;
  private failures = 0;
  private transport = 0;
  private readonly opened = new Set<Transport>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private beat: ReturnType<typeof setInterval> | undefined;
  private pongDue: ReturnType<typeof setTimeout> | undefined;
  /** Subscribe frames awaiting `subscribed`: the `since` of a resume, null for the first
   * subscribe of a connection, undefined for the others. */
  private pending: (number | null | undefined)[] = [];
  private sentTypes = "";
  private filling = false;
  private stopped = false;
  private readonly waiters = new Map<string, ((users: PresenceUser[] | Error) => void)[]>();

  constructor(private readonly opts: ClientOptions) {
    this.base = opts.url.replace(/\/+$/, "");
    const f = opts.fetch ?? globalThis.fetch;
    this.fetch = (input, init) => f(input, init);
    this.transports = opts.transports?.length ? opts.transports : ["websocket", "sse", "poll"];
    this.cursor = new Cursor(opts.resume ? opts.resume.since : null);
    this.epoch = opts.resume?.epoch ?? null;
    this.rest = restClient(this.fetch, this.base, opts.getToken);
  }

  /** The resume cursor: every matching event up to this seq has been delivered. */
  get lastSeq(): number | null {
    return this.cursor.pos;
  }

  /** The transport in use (or being tried). */
  get transportName(): Transport | null {
    return this.conn?.kind ?? null;
  }

  on<K extends keyof ClientEvents>(name: K, cb: (value: ClientEvents[K]) => void): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(cb);
    return () => void set!.delete(cb);
  }

  private emit<K extends keyof ClientEvents>(name: K, value: ClientEvents[K]): void {
    for (const cb of [...(this.listeners.get(name) ?? [])]) {
      try {
        cb(value);
      } catch (e) {
        if (name !== "error") this.emit("error", asError(e));
      }
    }
  }

  subscribe(
    channels: string[],
    cb: (ev: AnyPulseEvent) => void,
    options: SubscribeOptions = {},
  ): Subscription {
    const sub: Sub = {
      channels: [...new Set(channels)],
      types: options.types?.length ? [...options.types] : null,
      presence: !!options.presence,
      cb,
    };
    this.subs.add(sub);
    this.stopped = false;
    if (this.state === "closed") this.connect();
    else if (this.conn?.kind === "websocket" && this.state === "open") {
      if (this.sentTypes !== String(this.serverTypes())) this.sendSubs(this.channels(), undefined);
      else this.sendSubs(sub.channels, undefined);
    } else if (this.conn?.kind === "sse") this.restart();
    return {
      channels: sub.channels,
      unsubscribe: () => this.unsubscribe(sub),
    };
  }

  private unsubscribe(sub: Sub): void {
    if (!this.subs.delete(sub)) return;
    const still = new Set(this.channels());
    const gone = sub.channels.filter((c) => !still.has(c));
    if (this.subs.size === 0) return this.stop("closed");
    if (gone.length && this.conn?.kind === "websocket") this.conn.send({ op: "unsubscribe", channels: gone });
    if (gone.length && this.conn?.kind === "sse") this.restart();
  }

  /** The presence list of a channel subscribed with `presence: true` (WebSocket only). */
  presence(channel: string, timeoutMs = 10_000): Promise<PresenceUser[]> {
    return new Promise((resolve, reject) => {
      if (this.conn?.kind !== "websocket" || this.state !== "open")
        return reject(new PulseError(0, "not_connected", "presence needs an open WebSocket"));
      const list = this.waiters.get(channel) ?? [];
      const t = setTimeout(() => done(new PulseError(0, "timeout", "no presence answer")), timeoutMs);
      const done = (v: PresenceUser[] | Error) => {
        clearTimeout(t);
        const i = list.indexOf(done);
        if (i >= 0) list.splice(i, 1);
        v instanceof Error ? reject(v) : resolve(v);
      };
      list.push(done);
      this.waiters.set(channel, list);
      this.conn.send({ op: "presence", channel });
    });
  }

  /** Closes the connection for good (subscribing again reopens it). */
  close(): void {
    this.subs.clear();
    this.stop("closed");
  }

  // --- connection lifecycle ---

  private stop(state: ConnectionState): void {
    this.stopped = true;
    this.teardown();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.setState(state);
  }

  private setState(state: ConnectionState): void {
    if (this.state === state && state !== "reconnecting") return;
    this.state = state;
    this.emit("state", { state, attempt: this.attempt, transport: this.transports[this.transport] ?? null });
  }

  private teardown(): void {
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
  private restart(): void {
    this.teardown();
    this.connect();
  }

  private available(t: Transport): boolean {
    if (t === "websocket") return !!this.ws();
    return !!this.fetch;
  }

  private ws() {
    return this.opts.WebSocket === undefined ? (globalThis as any).WebSocket : this.opts.WebSocket;
  }

  private async connect(): Promise<void> {
    this.timer = undefined;
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
    let token: string;
    try {
      token = await this.opts.getToken();
    } catch (e) {
      this.emit("error", asError(e));
      return this.drop(gen, false);
    }
    if (gen !== this.gen) return;
    this.conn =
      kind === "websocket" ? this.openWs(gen, token) : kind === "sse" ? this.openSse(gen, token) : this.openPoll(gen);
  }

  private up(gen: number, kind: Transport): void {
    if (gen !== this.gen) return;
    this.opened.add(kind);
    this.failures = 0;
    this.attempt = 0;
    this.setState("open");
  }

  /** The connection of `gen` ended: reconnect after a backoff (at once after a token
   * expiry), falling back to the next transport when this one never opened. */
  private drop(gen: number, wasOpen: boolean, code = 0): void {
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

  private channels(): string[] {
    const all = new Set<string>();
    for (const s of this.subs) for (const c of s.channels) all.add(c);
    return [...all].sort();
  }

  /** The server-side type filter: the union of the subscriptions' filters (none when one
   * takes every type, or when the union is over the hub's 10). */
  private serverTypes(): string[] | null {
    const u = unionTypes([...this.subs].map((s) => s.types));
    return u && u.length <= 10 ? u : null;
  }

  private wantsPresence(channel: string): boolean {
    for (const s of this.subs) if (s.presence && s.channels.includes(channel)) return true;
    return false;
  }

  /** Subscribe frames for `channels`. With a cursor (`since` a number or null: the first
   * subscribe of a connection) one frame takes every channel, so there is one replay in
   * seq order; presence channels are then joined by a second frame without `since`. */
  private sendSubs(channels: string[], since: number | null | undefined): void {
    const conn = this.conn;
    if (!conn || !channels.length) return;
    const types = this.serverTypes();
    this.sentTypes = String(types);
    const base: Record<string, unknown> = types ? { types } : {};
    const pres = channels.filter((c) => this.wantsPresence(c));
    const plain = since === undefined ? channels.filter((c) => !pres.includes(c)) : channels;
    if (plain.length) {
      this.pending.push(since);
      const resume = typeof since === "number" ? { since, ...(this.epoch ? { epoch: this.epoch } : {}) } : {};
      conn.send({ op: "subscribe", channels: plain, ...base, ...resume });
    }
    if (pres.length) {
      this.pending.push(undefined);
      conn.send({ op: "subscribe", channels: pres, ...base, presence: true });
    }
  }

  /** The answer to the first subscribe of a connection (WebSocket `subscribed`, SSE's
   * opening event, the first poll). */
  private subscribed(f: Recovered, since: number | null): void {
    const sameEpoch = !this.epoch || this.epoch === f.epoch;
    const recovered = since === null || (f.recovered && sameEpoch);
    if (since === null) {
      if (this.cursor.pos === null) this.cursor.reset(f.head);
    } else if (!recovered) this.cursor.reset(f.head);
    this.epoch = f.epoch;
    this.emit("recovered", { recovered, head: f.head, epoch: f.epoch });
  }

  /** Delivers an event once: `ordered` for a stream in seq order (moves the cursor). */
  private deliver(ev: AnyPulseEvent, ordered: boolean): boolean {
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

  private history(since: number | null, limit: number): Promise<HistoryPage> {
    const q = new URLSearchParams({ limit: String(limit), channels: this.channels().join(",") });
    if (since !== null) q.set("since", String(since));
    const types = this.serverTypes();
    if (types) q.set("types", types.join(","));
    return request(this.fetch, this.base, this.opts.getToken, "GET", `/api/realtime/events?${q}`);
  }

  /** Pages of history after the cursor, delivered in order (`fill`: as a gap check, out
   * of order beside a live stream). Returns how many were new, or -1 when the cursor
   * could not be resumed (`recovered: false` was emitted). */
  private async catchUp(gen: number, fill: boolean): Promise<number> {
    let since = this.cursor.pos!;
    let added = 0;
    let head = since;
    try {
      for (let i = 0; i < 1000; i++) {
        const page = await this.history(since, 1000);
        if (gen !== this.gen) return 0;
        if (!page.recovered || (this.epoch && page.epoch !== this.epoch)) {
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
  private async gapCheck(gen: number): Promise<void> {
    if (this.filling) return;
    this.filling = true;
    this.cursor.held = true;
    const from = this.cursor.pos!;
    try {
      const missed = await this.catchUp(gen, true);
      if (missed > 0) this.emit("gap", { from, to: this.cursor.pos!, missed });
    } catch (e) {
      if (gen === this.gen) this.emit("error", asError(e));
    } finally {
      if (gen === this.gen) this.filling = false;
    }
  }

  // --- transports ---

  private openWs(gen: number, token: string): Conn {
    const WS = this.ws()!;
    const url = this.base.replace(/^http/, "ws") + "/api/realtime/ws?token=" + encodeURIComponent(token);
    const ws: WebSocketLike = new WS(url);
    let open = false;
    const conn: Conn = {
      kind: "websocket",
      send: (f) => {
        if (ws.readyState === WS_OPEN) ws.send(JSON.stringify(f));
      },
      close: () => {
        try {
          ws.close(1000);
        } catch {}
      },
    };
    ws.onopen = () => {
      if (gen !== this.gen) return;
      open = true;
      this.up(gen, "websocket");
      this.sendSubs(this.channels(), this.cursor.pos);
      this.beat = setInterval(() => this.ping(gen), this.opts.heartbeatMs ?? 30_000);
    };
    ws.onmessage = (m) => {
      if (gen !== this.gen) return;
      let f: any;
      try {
        f = JSON.parse(String(m.data));
      } catch {
        return;
      }
      this.frame(gen, f);
    };
    ws.onclose = (e) => this.drop(gen, open, e?.code ?? 0);
    ws.onerror = () => {};
    return conn;
  }

  private ping(gen: number): void {
    if (gen !== this.gen || !this.conn) return;
    this.conn.send({ op: "ping", head: true });
    clearTimeout(this.pongDue);
    this.pongDue = setTimeout(() => this.drop(gen, true), this.opts.pongTimeoutMs ?? 10_000);
  }

  private frame(gen: number, f: any): void {
    switch (f.op) {
      case "event": {
        const { op: _, ...ev } = f;
        this.deliver(ev as AnyPulseEvent, true);
        break;
      }
      case "subscribed": {
        const since = this.pending.shift();
        if (since !== undefined) this.subscribed(f, since);
        else if (this.cursor.pos === null) this.cursor.reset(f.head);
        break;
      }
      case "pong":
        clearTimeout(this.pongDue);
        if (typeof f.head === "number" && this.cursor.behind(f.head)) this.gapCheck(gen);
        break;
      case "presence": {
        const { op: _, ...p } = f;
        if (p.users) for (const w of [...(this.waiters.get(p.channel) ?? [])]) w(p.users);
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
  private async refresh(gen: number): Promise<void> {
    try {
      const token = await this.opts.getToken();
      if (gen === this.gen) this.conn?.send({ op: "auth", token });
    } catch (e) {
      this.emit("error", asError(e));
    }
  }

  private streamUrl(since: number | null): string {
    const q = new URLSearchParams({ channels: this.channels().join(",") });
    const types = this.serverTypes();
    if (types) q.set("types", types.join(","));
    if (since !== null) q.set("since", String(since));
    return `${this.base}/api/realtime/stream?${q}`;
  }

  private openSse(gen: number, token: string): Conn {
    const since = this.cursor.pos;
    let open = false;
    let code = 0;
    const on = (type: string, data: string) => {
      if (gen !== this.gen) return;
      let v: any;
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
    };
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
      return { kind: "sse", send() {}, close: () => es.close() };
    }
    const ac = new AbortController();
    (async () => {
      try {
        const res = await this.fetch(this.streamUrl(since), {
          headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
          signal: ac.signal,
        });
        if (!res.ok || !res.body) {
          const body: any = await res.json().catch(() => ({}));
          const e = body.error ?? {};
          this.emit("error", new PulseError(res.status, e.code ?? "http_" + res.status, e.message ?? res.statusText));
          if (res.status === 401) code = 4001;
        } else await readSse(res.body, on);
      } catch (e) {
        if (gen === this.gen) this.emit("error", asError(e));
      }
      this.drop(gen, open, code);
    })();
    return { kind: "sse", send() {}, close: () => ac.abort() };
  }

  private openPoll(gen: number): Conn {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let open = false;
    const tick = async () => {
      try {
        if (!open) {
          const since = this.cursor.pos;
          if (since === null) {
            const page = await this.history(null, 1);
            if (gen !== this.gen) return;
            this.subscribed(page, null);
          } else {
            // The resume itself; catchUp emits `recovered: false` for a cursor it cannot resume.
            const n = await this.catchUp(gen, false);
            if (gen !== this.gen) return;
            if (n >= 0) this.emit("recovered", { recovered: true, head: this.cursor.pos!, epoch: this.epoch! });
          }
          open = true;
          this.up(gen, "poll");
        } else await this.catchUp(gen, false);
      } catch (e) {
        if (gen !== this.gen) return;
        this.emit("error", asError(e));
        return this.drop(gen, open);
      }
      if (gen === this.gen) timer = setTimeout(tick, this.opts.pollMs ?? 3000);
    };
    tick();
    return { kind: "poll", send() {}, close: () => clearTimeout(timer) };
  }
}

/** Reads an SSE body, calling `on(type, data)` per message. */
async function readSse(body: ReadableStream<Uint8Array>, on: (type: string, data: string) => void): Promise<void> {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  let type = "";
  let data: string[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let i: number;
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

function asError(e: unknown): PulseError {
  if (e instanceof PulseError) return e;
  return new PulseError(0, "client", e instanceof Error ? e.message : String(e));
}

/** A Pulse client; it connects on the first `subscribe`. */
export function createClient(options: ClientOptions): PulseClient {
  return new PulseClient(options);
}
