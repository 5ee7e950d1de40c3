/** React bindings of @pulse/client: a provider for one client, and hooks that subscribe
 * for the lifetime of a component. */
import { createContext, createElement, useContext, useEffect, useRef, useState, type ReactNode } from "react";
import type { PresenceUser, PulseClient, StateChange, SubscribeOptions } from "./client.js";
import type { AnyPulseEvent } from "./generated/events.js";

const PulseContext = createContext<PulseClient | null>(null);

/** Makes `client` available to the hooks below. */
export function PulseProvider(props: { client: PulseClient; children?: ReactNode }) {
  return createElement(PulseContext.Provider, { value: props.client }, props.children);
}

/** The client of the nearest `PulseProvider`. */
export function usePulse(): PulseClient {
  const client = useContext(PulseContext);
  if (!client) throw new Error("usePulse needs a <PulseProvider client={…}> above it");
  return client;
}

export interface UseChannelOptions extends SubscribeOptions {
  /** How many recent events the hook keeps (default 50). */
  limit?: number;
}

/** Subscribes to `channels` while mounted: calls `handler` for each event and returns the
 * last `limit` events (oldest first). */
export function useChannel(
  channels: string | string[],
  handler?: (ev: AnyPulseEvent) => void,
  options: UseChannelOptions = {},
): AnyPulseEvent[] {
  const client = usePulse();
  const [events, setEvents] = useState<AnyPulseEvent[]>([]);
  const latest = useRef(handler);
  latest.current = handler;
  const list = typeof channels === "string" ? [channels] : channels;
  const key = JSON.stringify([list, options.types ?? null, !!options.presence, options.limit ?? 50]);
  useEffect(() => {
    const limit = Math.max(1, options.limit ?? 50);
    const sub = client.subscribe(
      list,
      (ev) => {
        latest.current?.(ev);
        setEvents((old) => [...old.slice(-(limit - 1)), ev]);
      },
      { types: options.types, presence: options.presence },
    );
    return () => sub.unsubscribe();
    // `key` stands for the channels and options.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, key]);
  return events;
}

/** Who is present on `channel` (joined with presence while mounted; WebSocket only). */
export function usePresence(channel: string): PresenceUser[] {
  const client = usePulse();
  const [users, setUsers] = useState<PresenceUser[]>([]);
  useEffect(() => {
    let live = true;
    const load = () => client.presence(channel).then((u) => live && setUsers(u), () => {});
    const sub = client.subscribe([channel], () => {}, { presence: true });
    const offPresence = client.on("presence", (p) => {
      if (p.channel !== channel) return;
      const id = p.user_id;
      if (p.users) setUsers(p.users);
      else if (p.action === "join" && id)
        setUsers((u) => (u.some((x) => x.user_id === id) ? u : [...u, { user_id: id, connections: 1 }]));
      else if (p.action === "leave") setUsers((u) => u.filter((x) => x.user_id !== id));
    });
    // After every (re)subscribe the list is asked for again.
    const offRecovered = client.on("recovered", () => void load());
    if (client.state === "open") load();
    return () => {
      live = false;
      offPresence();
      offRecovered();
      sub.unsubscribe();
    };
  }, [client, channel]);
  return users;
}

/** The connection state, re-rendered on every change. */
export function useConnectionState(): StateChange {
  const client = usePulse();
  const [state, setState] = useState<StateChange>({
    state: client.state,
    attempt: 0,
    transport: client.transportName,
  });
  useEffect(() => client.on("state", setState), [client]);
  return state;
}
