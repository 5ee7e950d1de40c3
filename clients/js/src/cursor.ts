/** The resume cursor, reconnect delays and type filters: pure logic, no I/O. */

/**
 * Where a client stands in its tenant's history.
 *
 * `pos` is the resume point: every event the client's channels match with `seq <= pos` has
 * been delivered. Events that arrive in seq order (a WebSocket or SSE stream, a polled
 * page) move `pos` to their seq; events found by a gap check may be older than events
 * already seen, so they are remembered in `seen` until `pos` passes them. An event whose
 * seq is at most `pos`, or in `seen`, is a duplicate. While a gap check is out (`held`),
 * stream events do not move `pos` either: the check may still bring older ones.
 */
export class Cursor {
  pos: number | null;
  readonly seen = new Set<number>();
  held = false;

  constructor(pos: number | null = null) {
    this.pos = pos;
  }

  /** Whether `seq` was delivered already. */
  has(seq: number): boolean {
    return (this.pos !== null && seq <= this.pos) || this.seen.has(seq);
  }

  /** An event of an ordered stream: false for a duplicate, else `pos` moves to it
   * (unless held). */
  next(seq: number): boolean {
    if (this.held) return this.fill(seq);
    if (this.has(seq)) return false;
    this.advance(seq);
    return true;
  }

  /** An event found out of order (a gap check): false for a duplicate. */
  fill(seq: number): boolean {
    if (this.has(seq)) return false;
    this.seen.add(seq);
    return true;
  }

  /** Everything up to `seq` is known delivered. */
  advance(seq: number): void {
    if (this.pos === null || seq > this.pos) this.pos = seq;
    for (const s of this.seen) if (s <= this.pos) this.seen.delete(s);
  }

  /** A fresh start at `head` (history not recoverable, or another epoch). */
  reset(head: number): void {
    this.pos = head;
    this.seen.clear();
  }

  /** Whether a hub head beyond the cursor calls for a gap check. */
  behind(head: number): boolean {
    return this.pos !== null && head > this.pos;
  }
}

export interface Backoff {
  /** First delay (default 500 ms). */
  initialMs?: number;
  /** Largest delay (default 30 s). */
  maxMs?: number;
}

/**
 * The delay before reconnect attempt `attempt` (0-based): exponential from `initialMs`,
 * capped at `maxMs`, with "equal jitter" (uniform in the upper half), so a crowd of clients
 * does not reconnect in step and no delay is shorter than half the exponential one.
 */
export function backoffDelay(attempt: number, b: Backoff = {}, random: () => number = Math.random): number {
  const initial = b.initialMs ?? 500;
  const max = Math.max(initial, b.maxMs ?? 30_000);
  const exp = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** Whether `type` passes a filter of exact types and prefixes ending in `*` (none: all). */
export function typeMatches(type: string, filter?: readonly string[] | null): boolean {
  if (!filter || filter.length === 0) return true;
  return filter.some((f) => (f.endsWith("*") ? type.startsWith(f.slice(0, -1)) : f === type));
}

/** The union of several type filters (null when one of them takes every type). */
export function unionTypes(filters: (readonly string[] | null | undefined)[]): string[] | null {
  const out = new Set<string>();
  for (const f of filters) {
    if (!f || f.length === 0) return null;
    for (const t of f) out.add(t);
  }
  return [...out].sort();
}
