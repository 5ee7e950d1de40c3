// The console's session: log in with tenant, email and password, keep the access token
// fresh through the refresh token (rotation: each refresh hands out a new one), log out.
// Tokens live in this page's memory only (never localStorage): a reload logs out. Every
// other REST call goes through @pulse/client's typed `rest`, with `token()` as its getToken.

/** An API error as the contract shapes it: `{"error": {"code", "message", "details"?}}`. */
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

async function answer(res) {
  if (res.status === 204) return null;
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const e = (body && body.error) || {};
    throw new ApiError(res.status, e.code || "http_" + res.status, e.message || res.statusText, e.details);
  }
  return body;
}

/** The claims of a JWT (display only: the server verifies every token). */
export function claims(token) {
  const part = String(token).split(".")[1] || "";
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "===".slice((b64.length + 3) % 4);
  try {
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(padded), (c) => c.charCodeAt(0))));
  } catch {
    return {};
  }
}

/** Refresh this many seconds before the access token's `exp`. */
const EARLY_S = 90;

export class Session {
  /** @param {string} base the API origin, e.g. location.origin */
  constructor(base, fetchImpl = (...a) => globalThis.fetch(...a)) {
    this.base = base;
    this.fetch = fetchImpl;
    this.tokens = null;
    this.claims = {};
    this.refreshing = null;
  }

  async login(tenant, email, password) {
    const res = await this.fetch(this.base + "/api/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tenant, email, password }),
    });
    this.set(await answer(res));
    return this.claims;
  }

  set(pair) {
    this.tokens = pair;
    this.claims = claims(pair.access_token);
  }

  /** A valid access token, refreshed first when it expires within EARLY_S seconds. */
  async token() {
    if (!this.tokens) throw new ApiError(401, "unauthorized", "not logged in");
    const exp = Number(this.claims.exp) || 0;
    if (exp - Date.now() / 1000 > EARLY_S) return this.tokens.access_token;
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = null;
    });
    await this.refreshing;
    return this.tokens.access_token;
  }

  async refresh() {
    const res = await this.fetch(this.base + "/api/auth/refresh", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refresh_token: this.tokens.refresh_token }),
    });
    this.set(await answer(res));
  }

  async logout() {
    const pair = this.tokens;
    this.tokens = null;
    this.claims = {};
    if (!pair) return;
    await this.fetch(this.base + "/api/auth/logout", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refresh_token: pair.refresh_token }),
    }).catch(() => {});
  }
}
