/** Typed REST calls by operationId, from the generated operation table. */
import { OPERATIONS, type Operations } from "./generated/rest.js";

type Op = Operations[keyof Operations];

/** The one argument of a REST call: path and query parameters by name, the JSON body, and
 * header parameters (plus any extra headers). */
export type CallArgs<O extends Op> = O["params"] &
  (O["bodyRequired"] extends true ? { body: O["body"] } : { body?: O["body"] }) & {
    headers?: O["headers"] & Record<string, string>;
    signal?: AbortSignal;
  };

/** `pulse.rest.<operationId>(args)`: resolves with the answer's JSON (text for other
 * content types, undefined for 204) and rejects with a `PulseError`. */
export type RestClient = {
  [K in keyof Operations]: {} extends CallArgs<Operations[K]>
    ? (args?: CallArgs<Operations[K]>) => Promise<Operations[K]["answer"]>
    : (args: CallArgs<Operations[K]>) => Promise<Operations[K]["answer"]>;
};

/** A refused call: a non-2xx REST answer (the contract's `{"error":{"code","message","details"?}}`),
 * or an `error` frame of the realtime connection (`status` 0). */
export class PulseError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "PulseError";
  }
}

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/** Sends one request with a fresh bearer token and reads the answer. */
export async function request(
  fetch: Fetch,
  base: string,
  getToken: () => string | Promise<string>,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<any> {
  const h: Record<string, string> = { ...headers, authorization: `Bearer ${await getToken()}` };
  if (body !== undefined) h["content-type"] = "application/json";
  const res = await fetch(base + path, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  const type = res.headers.get("content-type") || "";
  const value = res.status === 204 ? undefined : type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) {
    const e = (value && value.error) || {};
    throw new PulseError(res.status, e.code || "http_" + res.status, e.message || res.statusText, e.details);
  }
  return value;
}

/** The REST client: each operation fills its path parameters, sends the others as the
 * query string. */
export function restClient(fetch: Fetch, base: string, getToken: () => string | Promise<string>): RestClient {
  const out: Record<string, unknown> = {};
  for (const [id, route] of Object.entries(OPERATIONS)) {
    const [method, template] = route.split(" ");
    out[id] = (args: Record<string, any> = {}) => {
      const { body, headers, signal, ...params } = args;
      const query = new URLSearchParams();
      const path = template.replace(/\{(\w+)\}/g, (_, k: string) => {
        const v = params[k];
        delete params[k];
        return encodeURIComponent(v);
      });
      for (const [k, v] of Object.entries(params)) if (v != null) query.set(k, String(v));
      const qs = query.toString();
      return request(fetch, base, getToken, method, qs ? `${path}?${qs}` : path, body, headers, signal);
    };
  }
  return out as RestClient;
}
