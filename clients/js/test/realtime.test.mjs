// The client against the real Worker under `wrangler dev` (test/server.mjs): resume across
// a crash of the server, 1,000 missed events, token refresh on an open socket, gap
// detection, SSE and polling fallbacks, presence, typed REST calls, React hooks, and
// `recovered: false` past the history's retention.
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createElement as h } from "react";
import TestRenderer, { act } from "react-test-renderer";
import { createClient, PulseError } from "../dist/index.js";
import { PulseProvider, useChannel, useConnectionState, usePresence } from "../dist/react.js";
import { Server, fresh, sleep, until } from "./server.mjs";

globalThis.IS_REACT_ACT_ENVIRONMENT = false;

/** Every client a test made, closed after it (a failed test leaves no timer running). */
const clients = [];
const tracked = (c) => (clients.push(c), c);

const range = (from, to) => Array.from({ length: to - from + 1 }, (_, k) => from + k);
const quick = { initialMs: 100, maxMs: 500 };

/** A client of `tenant` as an admin, recording what it reports. */
function watch(options) {
  const c = tracked(createClient({ backoff: quick, ...options }));
  const log = { events: [], states: [], recovered: [], gaps: [], errors: [], expiring: [] };
  c.on("state", (s) => log.states.push(s.state));
  c.on("recovered", (r) => log.recovered.push(r));
  c.on("gap", (g) => log.gaps.push(g));
  c.on("error", (e) => log.errors.push(e));
  c.on("token_expiring", (e) => log.expiring.push(e));
  const seqs = () => log.events.map((e) => e.seq);
  const sub = (channels = ["tenant"], opts) => c.subscribe(channels, (ev) => log.events.push(ev), opts);
  return { c, log, seqs, sub };
}

const deferred = () => {
  let resolve;
  const promise = new Promise((r) => (resolve = r));
  return { promise, resolve };
};

describe("@pulse/client against wrangler dev", () => {
  let s;
  before(async () => {
    s = await Server.start();
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  after(async () => {
    await s?.stop();
  });

  test("server killed and restarted while subscribed: reconnects, resumes, misses and duplicates nothing", async () => {
    const t = fresh("crash");
    const admin = s.token(t, "a1", "admin");
    const writers = [s.token(t, "w1", "admin"), s.token(t, "w2", "admin")];
    // While `gate` is set the client cannot get a token, so it stays away until the test
    // has written what it must then resume.
    let gate = null;
    const getToken = async () => {
      if (gate) await gate.promise;
      return admin;
    };
    const { c, log, seqs, sub } = watch({ url: s.base, getToken });
    sub();
    await until(() => log.recovered.length === 1, 10_000, "subscribed");
    assert.equal(c.transportName, "websocket");
    await s.burst(writers, 5, { parallel: 1 });
    await until(() => log.events.length === 5, 10_000, "events before the crash");

    gate = deferred();
    await s.crash();
    await until(() => c.state === "reconnecting", 10_000, "the client noticing the crash");
    // During the outage: three committed changes whose delivery to the hub never ran
    // (outbox rows in D1, as a Worker killed after its commit leaves them).
    const now = Date.now();
    const rows = [5, 6, 7].map(
      (i) =>
        `('evt_outage_${t}_${i}', '${t}', 'system:outage', '["tenant"]', '{"i":${i}}', '${new Date(now).toISOString()}', ${now + i})`,
    );
    s.d1(`INSERT INTO outbox (id, tenant_id, type, channels, data, ts, created_ms) VALUES ${rows.join(", ")}`);
    await s.restart();
    assert.equal(await s.cron(), 200, "the cron redrives the outbox");
    // After the restart, while the client is still away.
    await s.burst(writers, 5, { parallel: 1, from: 8 });
    const missedHead = 13;
    gate.resolve();
    gate = null;
    await until(() => log.events.length >= 13, 15_000, "the resume");
    const resumed = log.recovered.at(-1);
    assert.deepEqual(resumed, { recovered: true, head: missedHead, epoch: c.epoch });
    // And live again.
    await s.burst(writers, 3, { parallel: 1, from: 13 });
    await until(() => log.events.length >= 16, 10_000, "live events after the resume");
    await sleep(300);
    assert.deepEqual(seqs(), range(1, 16), "every seq once, in order");
    assert.deepEqual(
      log.events.map((e) => e.data.i),
      range(0, 15),
      "the outage rows land between the writes before and after",
    );
    assert.deepEqual(
      log.events.slice(5, 8).map((e) => e.type),
      ["system:outage", "system:outage", "system:outage"],
    );
    assert.equal(new Set(log.events.map((e) => e.id)).size, 16);
    assert.ok(log.states.includes("reconnecting") && log.states.at(-1) === "open", log.states.join(","));
    assert.equal(c.lastSeq, 16);
    c.close();
  });

  test("1,000 missed events are resumed in order", async () => {
    const t = fresh("gap1000");
    const admin = s.token(t, "a1", "admin");
    const { c, log, seqs, sub } = watch({ url: s.base, getToken: () => admin });
    sub();
    await until(() => log.recovered.length === 1, 10_000, "subscribed");
    await s.publish(admin, { i: -1 });
    await until(() => log.events.length === 1);
    c.close();
    assert.equal(c.state, "closed");
    // Straight into the hub's history (the dev route), 500 at a time.
    for (const _ of [1, 2]) await c.rest.devHubAppend({ body: { type: "system:tick", channels: ["tenant"], repeat: 500 } });
    const t0 = Date.now();
    sub();
    await until(() => log.events.length >= 1001, 30_000, "1,000 replayed events");
    console.log(`# 1,000 missed events resumed in ${Date.now() - t0} ms`);
    assert.deepEqual(log.recovered.at(-1), { recovered: true, head: 1001, epoch: c.epoch });
    await s.publish(admin, { i: 1000 });
    await until(() => log.events.length >= 1002);
    await sleep(200);
    assert.deepEqual(seqs(), range(1, 1002));
    c.close();
  });

  test("a token is refreshed on the open socket: token_expiring, then auth; no reconnect", async () => {
    const t = fresh("tok");
    const admin = s.token(t, "a1", "admin");
    const issued = [];
    // The first token lives 4 s (inside the last minute: the hub warns at once); later
    // ones an hour.
    const getToken = () => {
      const ttl = issued.length === 0 ? 4 : 3600;
      const token = s.token(t, "b1", "broker", ttl);
      issued.push(token);
      return token;
    };
    const { c, log, seqs, sub } = watch({ url: s.base, getToken });
    sub();
    await until(() => log.expiring.length === 1, 10_000, "token_expiring");
    const exp = JSON.parse(Buffer.from(issued[0].split(".")[1], "base64url")).exp;
    assert.equal(log.expiring[0].exp, exp);
    await until(() => issued.length === 2, 5_000, "a fresh token for the auth frame");
    // Past the first token's expiry (and the hub's close alarm for it).
    await sleep(Math.max(0, exp * 1000 - Date.now()) + 1500);
    const seq = await s.publish(admin, { i: 1 });
    await until(() => seqs().includes(seq), 10_000, "an event on the refreshed socket");
    assert.deepEqual(log.states, ["connecting", "open"], "the socket stayed open");
    assert.equal(issued.length, 2, "one token to connect, one to refresh");
    assert.deepEqual(
      log.errors.map((e) => e.code),
      [],
    );
    c.close();
  });

  test("gap detection: a hub head beyond the cursor fetches the missed events over REST", async () => {
    const t = fresh("gap");
    const admin = s.token(t, "a1", "admin");
    const { c, log, seqs, sub } = watch({ url: s.base, getToken: () => admin, heartbeatMs: 400 });
    sub();
    await until(() => log.recovered.length === 1, 10_000, "subscribed");
    await s.publish(admin, { i: 0 });
    await until(() => log.events.length === 1);
    // The hub stops sending this socket its channel behind the client's back.
    c["conn"].send({ op: "unsubscribe", channels: ["tenant"] });
    await sleep(200);
    for (const i of [1, 2, 3]) await s.publish(admin, { i });
    await until(() => log.gaps.length === 1, 10_000, "a gap report");
    assert.deepEqual(log.gaps[0], { from: 1, to: 4, missed: 3 });
    assert.deepEqual(seqs(), [1, 2, 3, 4]);
    assert.equal(c.lastSeq, 4);
    await sleep(1000);
    assert.equal(log.gaps.length, 1, "a checked head is not fetched again");
    c.close();
  });

  test("SSE fallback: a runtime without WebSocket streams events and resumes with since", async () => {
    const t = fresh("sse");
    const admin = s.token(t, "a1", "admin");
    const { c, log, seqs, sub } = watch({ url: s.base, getToken: () => admin, WebSocket: null });
    sub();
    await until(() => c.state === "open" && log.recovered.length === 1, 10_000, "the stream");
    assert.equal(c.transportName, "sse");
    for (const i of [0, 1, 2]) await s.publish(admin, { i });
    await until(() => log.events.length === 3, 10_000, "SSE events");
    c.close();
    for (const i of [3, 4]) await s.publish(admin, { i });
    sub();
    await until(() => log.events.length === 5, 10_000, "resumed SSE events");
    assert.deepEqual(log.recovered.at(-1), { recovered: true, head: 5, epoch: c.epoch });
    assert.deepEqual(seqs(), [1, 2, 3, 4, 5]);
    c.close();
  });

  test("SSE: a stream ended by its token's expiry reconnects with a fresh token and loses nothing", async () => {
    const t = fresh("sse-exp");
    const admin = s.token(t, "a1", "admin");
    const issued = [];
    const getToken = () => {
      const ttl = issued.length === 0 ? 2 : 3600;
      issued.push(ttl);
      return s.token(t, "b1", "broker", ttl);
    };
    const { c, log, seqs, sub } = watch({ url: s.base, getToken, transports: ["sse"] });
    sub();
    await until(() => c.state === "open", 10_000, "the stream");
    await s.publish(admin, { i: 0 });
    await until(() => log.events.length === 1, 10_000, "the first event");
    await sleep(2500);
    // The hub finds the stream's token expired when this event comes: it ends the stream.
    await s.publish(admin, { i: 1 });
    await until(() => issued.length === 2 && c.state === "open", 10_000, "a new stream with a fresh token");
    await s.publish(admin, { i: 2 });
    await until(() => log.events.length === 3, 10_000, "every event");
    assert.deepEqual(seqs(), [1, 2, 3]);
    assert.ok(log.errors.some((e) => e.code === "token_expired"), log.errors.map((e) => e.code).join(","));
    assert.ok(log.states.includes("reconnecting"));
    c.close();
  });

  test("SSE through an injected EventSource", { skip: typeof EventSource !== "function" && "no EventSource in this Node" }, async () => {
    const t = fresh("es");
    const admin = s.token(t, "a1", "admin");
    const { c, log, seqs, sub } = watch({ url: s.base, getToken: () => admin, transports: ["sse"], EventSource });
    sub();
    await until(() => c.state === "open" && log.recovered.length === 1, 10_000, "the stream");
    for (const i of [0, 1]) await s.publish(admin, { i });
    await until(() => log.events.length === 2, 10_000, "EventSource events");
    assert.deepEqual(seqs(), [1, 2]);
    c.close();
  });

  test("polling fallback: REST history delivers events in order", async () => {
    const t = fresh("poll");
    const admin = s.token(t, "a1", "admin");
    await s.publish(admin, { i: -1 }); // history before the client: not delivered
    const { c, log, seqs, sub } = watch({ url: s.base, getToken: () => admin, transports: ["poll"], pollMs: 200 });
    sub();
    await until(() => c.state === "open", 10_000, "the first poll");
    assert.deepEqual(log.recovered[0], { recovered: true, head: 1, epoch: c.epoch });
    for (const i of [0, 1, 2]) await s.publish(admin, { i });
    await until(() => log.events.length === 3, 10_000, "polled events");
    assert.deepEqual(seqs(), [2, 3, 4]);
    c.close();
  });

  test("presence and subscription type filters", async () => {
    const t = fresh("pres");
    const admin = s.token(t, "a1", "admin");
    const { c, log } = watch({ url: s.base, getToken: () => admin });
    const crm = [];
    c.subscribe(["tenant"], (ev) => crm.push(ev), { types: ["crm:*"], presence: true });
    const all = [];
    c.subscribe(["tenant"], (ev) => all.push(ev));
    await until(() => c.state === "open" && log.recovered.length === 1, 10_000, "subscribed");
    await sleep(100);
    const users = await c.presence("tenant");
    assert.deepEqual(users.map((u) => u.user_id), ["a1"]);
    await s.publish(admin, { i: 0 });
    const customer = await c.rest.createCustomer({ body: { name: "Ada" } });
    await until(() => all.length === 2, 10_000, "both events");
    assert.deepEqual(all.map((e) => e.type), ["system:tick", "crm:customer:created"]);
    assert.deepEqual(crm.map((e) => e.data.id), [customer.id], "crm:* only");
    c.close();
  });

  test("typed REST calls: path, query and body; errors as PulseError", async () => {
    const t = fresh("rest");
    const c = tracked(createClient({ url: s.base, getToken: () => s.token(t, "b1", "broker") }));
    const made = await c.rest.createCustomer({ body: { name: "Grace", email: "grace@example.test" } });
    assert.equal(made.name, "Grace");
    const got = await c.rest.getCustomer({ id: made.id });
    assert.equal(got.id, made.id);
    await c.rest.createCustomer({ body: { name: "Linus" } });
    const page = await c.rest.listCustomers({ limit: 1 });
    assert.equal(page.data.length, 1);
    assert.ok(page.next_cursor);
    await assert.rejects(c.rest.getCustomer({ id: "c_nope" }), (e) => {
      assert.ok(e instanceof PulseError);
      assert.equal(e.status, 404);
      assert.equal(e.code, "not_found");
      return true;
    });
    await assert.rejects(c.rest.createCustomer({ body: {} }), (e) => e.status === 422);
  });

  test("React: useChannel, usePresence and useConnectionState", async () => {
    const t = fresh("react");
    const admin = s.token(t, "a1", "admin");
    const client = tracked(createClient({ url: s.base, getToken: () => admin, backoff: quick }));
    function View() {
      const events = useChannel("tenant", undefined, { limit: 2 });
      const users = usePresence("tenant");
      const { state } = useConnectionState();
      return h("p", null, `${state}|${events.map((e) => e.seq).join(",")}|${users.map((u) => u.user_id).join(",")}`);
    }
    let r;
    await act(async () => {
      r = TestRenderer.create(h(PulseProvider, { client }, h(View)));
    });
    const text = () => r.toJSON().children.join("");
    await until(() => text() === "open||a1", 10_000, "open with presence");
    for (const i of [0, 1, 2]) await s.publish(admin, { i });
    await until(() => text() === "open|2,3|a1", 10_000, "the last two events");
    await act(async () => r.unmount());
    assert.equal(client.state, "closed", "the last subscription gone closes the socket");
  });

  test("recovered: false once the cursor is past the history's retention", async () => {
    await s.restart({ HISTORY_MAX_EVENTS: "100" });
    const t = fresh("retain");
    const admin = s.token(t, "a1", "admin");
    const { c, log, seqs, sub } = watch({ url: s.base, getToken: () => admin });
    sub();
    await until(() => log.recovered.length === 1, 10_000, "subscribed");
    await s.publish(admin, { i: 0 });
    await until(() => log.events.length === 1);
    const epoch = c.epoch;
    c.close();
    await c.rest.devHubAppend({ body: { type: "system:tick", channels: ["tenant"], repeat: 150 } });
    sub();
    await until(() => log.recovered.length === 2, 10_000, "the resume answer");
    assert.deepEqual(log.recovered[1], { recovered: false, head: 151, epoch });
    assert.equal(c.lastSeq, 151, "the cursor starts again at the head");
    const seq = await s.publish(admin, { i: 1 });
    await until(() => log.events.length === 2, 10_000, "live after the reset");
    assert.deepEqual(seqs(), [1, seq]);
    c.close();

    // The same for a polling client resuming a kept cursor.
    const p = watch({ url: s.base, getToken: () => admin, transports: ["poll"], pollMs: 200, resume: { since: 1, epoch } });
    p.sub();
    await until(() => p.log.recovered.length === 1, 10_000, "the first poll");
    assert.deepEqual(p.log.recovered[0], { recovered: false, head: 152, epoch });
    assert.deepEqual(p.seqs(), []);
    p.c.close();
  });
});
