// The official socket.io-client (v4, npm) against Pulse's Socket.IO endpoint under the real
// `wrangler dev` (test/server.mjs): default transports (polling, then the upgrade) and
// WebSocket only, events caused by REST writes, client events with acks, the seeds'
// own snippets with only the tenant option added, refusals, and connection-state
// recovery across a SIGKILL and restart of the server.
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { Server, fresh, sleep } from "./server.mjs";

const sockets = [];

/** A connected socket (or the connect_error), tracked so each test closes its own. */
function open(s, tenant, token, opts = {}) {
  const socket = io(s.base, {
    query: { tenant },
    auth: token === undefined ? undefined : { token },
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    ...opts,
  });
  sockets.push(socket);
  return socket;
}

const once = (socket, name, ms = 10_000) =>
  new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no '${name}' within ${ms} ms`)), ms);
    socket.once(name, (...args) => {
      clearTimeout(t);
      resolve(args);
    });
  });

const connected = (socket) => once(socket, "connected").then(([d]) => d);

/** Every event of `type` a socket receives. */
function record(socket, type) {
  const got = [];
  socket.on(type, (env) => got.push(env));
  return got;
}

async function until(f, ms = 10_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return;
    await sleep(50);
  }
  throw new Error("condition not met in time");
}

describe("socket.io-client against Pulse", () => {
  let s;
  before(async () => {
    s = await Server.start();
  });
  afterEach(() => {
    for (const c of sockets.splice(0)) c.close();
  });
  after(async () => {
    await s?.stop();
  });

  for (const [name, opts] of [
    ["default transports (polling, then the upgrade)", {}],
    ["WebSocket only", { transports: ["websocket"] }],
  ]) {
    test(`${name}: connects, joins its rooms and receives events caused by REST writes`, async () => {
      const t = fresh("sio");
      const broker = s.token(t, "b1", "broker");
      const socket = open(s, t, broker, opts);
      const hello = await connected(socket);
      assert.deepEqual(hello.user, { id: "b1", role: "broker" });
      assert.equal(hello.tenant, t);
      assert.equal(typeof hello.head, "number");
      const created = record(socket, "crm:customer:created");
      if (!opts.transports) await until(() => socket.io.engine.transport.name === "websocket");
      const r = await s.api("POST", "/api/crm/customers", broker, { name: "Ana", email: "ana@example.com" });
      assert.equal(r.status, 201);
      await until(() => created.length === 1);
      const env = created[0];
      assert.equal(env.type, "crm:customer:created");
      assert.equal(env.data.id, r.body.id);
      assert.ok(env.seq > hello.head);
      assert.ok(env.channels.includes("tenant"));
      // No event is delivered twice (polling, then the socket).
      await sleep(300);
      assert.equal(created.length, 1);
    });
  }

  test("polling only keeps working (long-polls answered by events)", async () => {
    const t = fresh("sio-poll");
    const admin = s.token(t, "a1", "admin");
    const socket = open(s, t, admin, { transports: ["polling"] });
    await connected(socket);
    const got = record(socket, "system:tick");
    for (let i = 0; i < 3; i++) await s.publish(admin, { i });
    await until(() => got.length === 3);
    assert.deepEqual(got.map((e) => e.data.i), [0, 1, 2]);
  });

  test("client events answer through acks, with the WebSocket API's authorization", async () => {
    const t = fresh("sio-acks");
    const broker = s.token(t, "b1", "broker");
    const viewer = s.token(t, "v1", "viewer");
    const socket = open(s, t, broker, { transports: ["websocket"] });
    await connected(socket);
    const c = await s.api("POST", "/api/crm/customers", broker, { name: "Room" });
    const join = await socket.emitWithAck("join_room", { roomType: "customer", customerId: c.body.id });
    assert.equal(join.ok, true);
    assert.equal(typeof join.head, "number");
    const updated = record(socket, "crm:customer:updated");
    await s.api("PUT", `/api/crm/customers/${c.body.id}`, broker, { notes: "called" });
    await until(() => updated.length >= 1);
    const left = await socket.emitWithAck("leave_room", { roomType: "customer", id: c.body.id });
    assert.equal(left.ok, true);
    const bad = await socket.emitWithAck("join_room", { roomType: "customer" });
    assert.equal(bad.ok, false);
    assert.equal(bad.error.code, "bad_frame");
    const forbidden = await socket.emitWithAck("subscribe", { channels: ["role:admin"] });
    assert.deepEqual([forbidden.ok, forbidden.error.code], [false, "forbidden"]);
    const unknown = await socket.emitWithAck("payment_completed", {});
    assert.equal(unknown.error.code, "unknown_event");

    // subscribe:* answer with their initial state, then updates follow.
    const initial = once(socket, "dashboard:initial");
    const dash = await socket.emitWithAck("subscribe:dashboard");
    assert.equal(dash.ok, true);
    const [d] = await initial;
    assert.equal(typeof d, "object");
    const notes = once(socket, "notifications:initial");
    assert.equal((await socket.emitWithAck("subscribe:notifications")).ok, true);
    await notes;
    const analytics = once(socket, "analytics:initial");
    assert.equal((await socket.emitWithAck("subscribe:analytics")).ok, true);
    await analytics;

    // A viewer's socket never gets what REST refuses it: finance events stay away.
    const vs = open(s, t, viewer, { transports: ["websocket"] });
    await connected(vs);
    const sales = record(vs, "finance:sale:created");
    const mine = record(socket, "finance:sale:created");
    const sale = await s.api("POST", "/api/finance/sales", broker, {
      customer_id: c.body.id,
      total_minor: 100_000,
      currency: "EUR",
    });
    assert.equal(sale.status, 201);
    await until(() => mine.length === 1);
    await sleep(300);
    assert.equal(sales.length, 0);
  });

  test("refusals: no token, another tenant's token, another namespace", async () => {
    const t = fresh("sio-refuse");
    const none = open(s, t, undefined, { transports: ["websocket"], reconnection: false });
    const [e1] = await once(none, "connect_error");
    assert.equal(e1.data.error.code, "unauthorized");
    const other = open(s, t, s.token(fresh("other"), "b1", "broker"), {
      transports: ["websocket"],
      reconnection: false,
    });
    const [e2] = await once(other, "connect_error");
    assert.equal(e2.data.error.code, "unauthorized");
    const admin = io(`${s.base}/admin`, {
      query: { tenant: t },
      auth: { token: s.token(t, "a1", "admin") },
      transports: ["websocket"],
      reconnection: false,
    });
    sockets.push(admin);
    const [e3] = await once(admin, "connect_error");
    assert.match(e3.message, /Invalid namespace/);
    // `?token=` at the handshake is accepted too.
    const q = io(s.base, { query: { tenant: t, token: s.token(t, "b1", "broker") }, transports: ["websocket"] });
    sockets.push(q);
    assert.equal((await connected(q)).user.id, "b1");
  });

  test("a polling session that floods packets is cut at the frame budget and closed", async () => {
    const t = fresh("sio-flood");
    const base = `${s.base}/socket.io/?EIO=4&tenant=${t}&transport=polling`;
    const open = await (await fetch(base)).text();
    assert.equal(open[0], "0");
    const { sid } = JSON.parse(open.slice(1));
    // 5,000 empty packets in one POST: each spends the frame budget (100 a minute).
    const r = await fetch(`${base}&sid=${sid}`, { method: "POST", body: "\x1e".repeat(4999) });
    assert.equal(r.status, 200);
    const payload = (await (await fetch(`${base}&sid=${sid}`)).text()).split("\x1e");
    assert.ok(payload.length <= 110, `at most the budget's answers, got ${payload.length}`);
    assert.ok(payload.includes("1"), "the session is closed");
    assert.ok(payload.some((p) => p.startsWith('42["error"') && p.includes("rate_limited")));
    const gone = await fetch(`${base}&sid=${sid}`);
    assert.equal(gone.status, 400);
  });

  test("the seeds' client snippets run unchanged apart from the tenant option", async () => {
    const t = fresh("sio-seeds");
    const token = s.token(t, "b1", "broker");
    // Seed 003 ("Manual Testing"): connected, then subscribe with eventTypes.
    const socket = io(s.base, { query: { tenant: t }, auth: { token } });
    sockets.push(socket);
    const seen = [];
    socket.on("connected", (data) => seen.push(["connected", data]));
    socket.emit("subscribe", { eventTypes: ["crm:customer:created"] });
    socket.on("crm:customer:created", (event) => seen.push(["event", event]));
    await until(() => seen.length === 1);
    await s.publish(s.token(t, "a1", "admin"), { i: 0 }); // another type: filtered out
    await s.api("POST", "/api/crm/customers", token, { name: "Seed" });
    await until(() => seen.length === 2);
    assert.equal(seen[1][1].type, "crm:customer:created");
    // Seed 002 (React dashboard): join_room on connect, for a room type Pulse does not have.
    const dash = io(s.base, { query: { tenant: t }, auth: { token }, transports: ["websocket", "polling"] });
    sockets.push(dash);
    const acked = new Promise((resolve) =>
      dash.on("connect", () => dash.emit("join_room", { roomType: "venue", venueId: "v1" }, resolve)),
    );
    const r = await acked;
    assert.equal(r.ok, false);
  });

  test("recovery: missed events arrive and socket.recovered is true, across a SIGKILL and restart", async () => {
    const t = fresh("sio-recover");
    const admin = s.token(t, "a1", "admin", 3600);
    const socket = open(s, t, admin, { transports: ["websocket"] });
    await connected(socket);
    assert.equal(socket.recovered, false);
    const ticks = record(socket, "system:tick");
    await s.publish(admin, { i: 0 });
    await until(() => ticks.length === 1);
    socket.io.engine.close(); // a dropped connection (the client reconnects by itself)
    await s.crash();
    await s.spawn();
    // Written while the client is away (the REST call also wakes the restarted hub).
    for (let i = 1; i <= 3; i++) await s.publish(admin, { i });
    await until(() => socket.connected && ticks.length === 4, 30_000);
    assert.equal(socket.recovered, true);
    assert.deepEqual(ticks.map((e) => e.data.i), [0, 1, 2, 3]);
    assert.deepEqual(ticks.map((e) => e.seq), [...ticks.map((e) => e.seq)].sort((a, b) => a - b));
  });

  test("recovery without an earlier event works; an unknown session is not recovered", async () => {
    const t = fresh("sio-fresh");
    const admin = s.token(t, "a1", "admin");
    const socket = open(s, t, admin, { transports: ["websocket"] });
    await connected(socket);
    const ticks = record(socket, "system:tick");
    socket.io.engine.close();
    await s.publish(admin, { i: 1 });
    await until(() => socket.connected && ticks.length === 1);
    assert.equal(socket.recovered, true);
    // A session id the hub never issued starts afresh.
    socket._pid = "not-a-session";
    socket.io.engine.close();
    await once(socket, "connected");
    assert.equal(socket.recovered, false);
  });
});
