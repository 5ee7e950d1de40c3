// Peer (c): Hono on D1 serving the same authenticated customers list and create as Pulse
// (same schema and index, HS256 JWT checked with WebCrypto, same response shape).
import { Hono } from "hono";

const app = new Hono();
const enc = new TextEncoder();
let keyPromise;

function b64urlDecode(s) {
  s = s.replace(/-/g, "+").replace(/_/g, "/");
  while (s.length % 4) s += "=";
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

async function verify(c) {
  const h = c.req.header("authorization") || "";
  if (!h.startsWith("Bearer ")) return null;
  const [head, payload, sig] = h.slice(7).split(".");
  if (!sig) return null;
  keyPromise ||= crypto.subtle.importKey("raw", enc.encode(c.env.JWT_SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const ok = await crypto.subtle.verify("HMAC", await keyPromise, b64urlDecode(sig), enc.encode(`${head}.${payload}`));
  if (!ok) return null;
  const claims = JSON.parse(new TextDecoder().decode(b64urlDecode(payload)));
  if (!claims.exp || claims.exp < Date.now() / 1000 || !claims.tid || !claims.sub) return null;
  return claims;
}

const err = (c, status, code, message) => c.json({ error: { code, message } }, status);

app.get("/health", (c) => c.text("ok"));

app.get("/api/crm/customers", async (c) => {
  const who = await verify(c);
  if (!who) return err(c, 401, "unauthorized", "missing or invalid token");
  const limit = Math.min(Math.max(parseInt(c.req.query("limit") || "50", 10) || 50, 1), 100);
  const after = c.req.query("cursor") || null;
  const { results } = await c.env.DB.prepare(
    "SELECT id, name, email, phone, status, source, notes, created_by, created_at, updated_at FROM customers WHERE tenant_id = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3"
  ).bind(who.tid, after, limit + 1).all();
  const more = results.length > limit;
  const data = more ? results.slice(0, limit) : results;
  return c.json({ data, next_cursor: more ? data[data.length - 1].id : null });
});

app.post("/api/crm/customers", async (c) => {
  const who = await verify(c);
  if (!who) return err(c, 401, "unauthorized", "missing or invalid token");
  if (who.role !== "broker" && who.role !== "admin") return err(c, 403, "forbidden", "role not allowed");
  let body;
  try {
    body = await c.req.json();
  } catch {
    return err(c, 400, "bad_request", "malformed JSON");
  }
  const name = typeof body.name === "string" ? body.name.trim() : "";
  if (!name || name.length > 200) return err(c, 422, "validation_failed", "name is required");
  const now = new Date().toISOString();
  const id = "c_" + Date.now().toString(16) + crypto.randomUUID().replace(/-/g, "").slice(0, 16);
  const row = { id, name, email: body.email ?? null, phone: body.phone ?? null, status: body.status ?? "lead", source: null, notes: null, created_by: who.sub, created_at: now, updated_at: now };
  await c.env.DB.prepare(
    "INSERT INTO customers (tenant_id, id, name, email, phone, status, source, notes, created_by, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)"
  ).bind(who.tid, id, row.name, row.email, row.phone, row.status, null, null, who.sub, now).run();
  return c.json(row, 201);
});

export default app;
