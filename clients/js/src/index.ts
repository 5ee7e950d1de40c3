/** @pulse/client: the realtime connection, typed events and typed REST calls of Pulse. */
export { createClient, PulseClient } from "./client.js";
export type {
  ClientEvents,
  ClientOptions,
  ConnectionState,
  EventSourceLike,
  Gap,
  PresenceFrame,
  PresenceUser,
  Recovered,
  Snapshot,
  StateChange,
  SubscribeOptions,
  Subscription,
  Transport,
  WebSocketLike,
} from "./client.js";
export { Cursor, backoffDelay, typeMatches, unionTypes } from "./cursor.js";
export type { Backoff } from "./cursor.js";
export { PulseError } from "./rest.js";
export type { CallArgs, RestClient } from "./rest.js";
export { CATALOG_VERSION } from "./generated/events.js";
export type { AnyPulseEvent, EventData, EventType, PulseEvent, PulseEventMap } from "./generated/events.js";
export type { Operations, Schemas } from "./generated/rest.js";
