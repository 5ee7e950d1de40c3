// @pulse/client inside workerd: `GET /run?origin=&token=&transport=websocket|sse|poll`
// makes a client of Pulse at `origin`, subscribes to `tenant`, creates a customer with the
// client's typed REST call, waits for that customer's event and answers what it saw.
// `sse` takes WebSocket away (Workers have no EventSource: the client reads the stream with
// `fetch`); `poll` allows only polling REST history. Built from the package's dist/ (what
// an application would import).
import { createClient } from "../../dist/index.js";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(pred, ms, what) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export default {
  async fetch(request) {
    const q = new URL(request.url).searchParams;
    const token = q.get("token");
    const opts = { url: q.get("origin"), getToken: async () => token, backoff: { initialMs: 100, maxMs: 500 } };
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
      await until(() => recovered.length > 0, 10_000, "the subscription");
      const created = await client.rest.createCustomer({ body: { name: `Probe ${q.get("transport")}` } });
      await until(() => events.some((e) => e.data?.id === created.id), 10_000, "the customer's event");
      return Response.json({
        runtime: navigator.userAgent,
        transport: client.transportName,
        recovered,
        created: created.id,
        events: events.map((e) => ({ seq: e.seq, type: e.type, id: e.data?.id ?? null })),
        errors,
      });
    } catch (e) {
      return Response.json({ failed: String(e?.stack ?? e), transport: client.transportName, errors }, { status: 500 });
    } finally {
      client.close();
    }
  },
};
