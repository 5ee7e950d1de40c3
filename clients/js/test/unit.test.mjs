// Pure logic of the client: the resume cursor (duplicates, gap fills), the reconnect
// delays, and type filters.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Cursor, backoffDelay, typeMatches, unionTypes } from "../dist/index.js";

test("cursor: an ordered stream moves the resume point and drops duplicates", () => {
  const c = new Cursor();
  assert.equal(c.pos, null);
  assert.equal(c.behind(10), false, "no cursor yet: nothing to check");
  c.reset(10);
  assert.equal(c.next(9), false, "older than the start");
  assert.equal(c.next(10), false);
  assert.equal(c.next(12), true);
  assert.equal(c.next(12), false, "a duplicate");
  assert.equal(c.next(11), false, "behind the resume point: a replay already seen");
  assert.equal(c.pos, 12);
});

test("cursor: the hub head beyond the cursor calls for a gap check; a fill is delivered once", () => {
  const c = new Cursor(5);
  assert.equal(c.behind(5), false);
  assert.equal(c.behind(8), true);
  // A gap check (head 8) finds 7 and 8 while the live stream brings 9 (out of order).
  c.held = true;
  assert.equal(c.fill(7), true);
  assert.equal(c.next(9), true, "live event during the check");
  assert.equal(c.pos, 5, "held: the check may still bring older events");
  assert.equal(c.fill(8), true, "8 is above the old cursor and was never seen");
  assert.equal(c.fill(7), false, "a second fill of the same event");
  assert.equal(c.next(7), false, "the socket's late copy of a filled event");
  c.held = false;
  c.advance(8);
  assert.equal(c.pos, 8, "everything up to the checked head");
  assert.deepEqual([...c.seen], [9], "9 stays known above the cursor");
  assert.equal(c.next(9), false, "a replay of 9 after a reconnect is a duplicate");
  c.advance(6);
  assert.equal(c.pos, 8, "advance never moves back");
  assert.equal(c.next(10), true);
  assert.equal(c.seen.size, 0, "seen is pruned below the cursor");
});

test("cursor: a fill that overtakes the stream is remembered until the stream passes it", () => {
  const c = new Cursor(1);
  assert.equal(c.fill(4), true);
  assert.equal(c.next(2), true);
  assert.equal(c.next(3), true);
  assert.equal(c.next(4), false, "4 came by the fill");
  assert.equal(c.next(5), true);
  assert.deepEqual([...c.seen], []);
});

test("cursor: reset (another epoch, or past retention) starts again at the head", () => {
  const c = new Cursor(500);
  c.fill(502);
  c.reset(20);
  assert.equal(c.pos, 20);
  assert.equal(c.next(21), true, "a new history's seqs are not duplicates");
  assert.equal(c.next(502), true);
});

test("backoff: exponential, capped, jittered within the upper half", () => {
  const b = { initialMs: 100, maxMs: 1000 };
  assert.equal(backoffDelay(0, b, () => 0), 50);
  assert.equal(backoffDelay(0, b, () => 1), 100);
  assert.equal(backoffDelay(1, b, () => 1), 200);
  assert.equal(backoffDelay(3, b, () => 1), 800);
  assert.equal(backoffDelay(4, b, () => 1), 1000, "capped at maxMs");
  assert.equal(backoffDelay(50, b, () => 0), 500, "never below half the cap");
  assert.equal(backoffDelay(1e9, b, () => 0.5), 750, "huge attempts do not overflow");
  const seen = new Set();
  for (let i = 0; i < 50; i++) {
    const d = backoffDelay(2, b);
    assert.ok(d >= 200 && d <= 400, `attempt 2 in [200, 400]: ${d}`);
    seen.add(d);
  }
  assert.ok(seen.size > 5, "jitter spreads the delays");
  assert.equal(backoffDelay(0, {}, () => 0), 250, "defaults: 500 ms first, jittered");
});

test("type filters: exact types and prefixes; union across subscriptions", () => {
  assert.equal(typeMatches("crm:customer:created", ["crm:*"]), true);
  assert.equal(typeMatches("crm:customer:created", ["crm:customer:updated"]), false);
  assert.equal(typeMatches("job:progress", []), true);
  assert.equal(typeMatches("job:progress", null), true);
  assert.deepEqual(unionTypes([["job:*"], ["crm:*", "job:*"]]), ["crm:*", "job:*"]);
  assert.equal(unionTypes([["job:*"], null]), null, "one subscription takes every type");
});
