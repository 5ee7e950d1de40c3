// Compile-time checks of the public types (tsc -p test; never run).
import { createClient, type AnyPulseEvent, type Schemas } from "../src/index.js";
import { useChannel } from "../src/react.js";

const pulse = createClient({ url: "http://127.0.0.1:8787", getToken: async () => "t" });

pulse.subscribe(["tenant"], (ev: AnyPulseEvent) => {
  const seq: number = ev.seq;
  void seq;
}, { types: ["crm:*"], presence: true });

pulse.on("recovered", (r) => {
  const ok: boolean = r.recovered;
  void ok;
});
// @ts-expect-error: not an event of the client
pulse.on("nope", () => {});

async function rest() {
  const c: Schemas["Customer"] = await pulse.rest.createCustomer({ body: { name: "Ada" } });
  const again = await pulse.rest.getCustomer({ id: c.id! });
  const page = await pulse.rest.listCustomers({ limit: 10 });
  const first: Schemas["Customer"] | undefined = page.data[0];
  void again;
  void first;
  // @ts-expect-error: the body is required
  await pulse.rest.createCustomer();
  // @ts-expect-error: the path parameter is required
  await pulse.rest.getCustomer({});
  // @ts-expect-error: a limit is a number
  await pulse.rest.listCustomers({ limit: "ten" });
  // @ts-expect-error: no such operation
  await pulse.rest.nope();
}
void rest;
void useChannel;
