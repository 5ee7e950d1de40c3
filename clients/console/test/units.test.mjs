// The console's pure parts: feed filters, the charts' data, the job ordering rule.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseTypes, shown, typeMatches } from "../src/feed.js";
import { exponent, pipelineRows, salesSeries, MAX_DAYS } from "../src/charts.js";
import { newer } from "../src/jobs.js";
import { claims } from "../src/session.js";

describe("console units", () => {
  it("type patterns: exact types and prefixes ending in *", () => {
    assert.deepEqual(parseTypes(" crm:*, job:progress ,,"), ["crm:*", "job:progress"]);
    assert.ok(typeMatches([], "anything"));
    assert.ok(typeMatches(["crm:*"], "crm:customer:created"));
    assert.ok(!typeMatches(["crm:*"], "card:created"));
    assert.ok(typeMatches(["job:progress"], "job:progress"));
    assert.ok(!typeMatches(["job:progress"], "job:progress:x"));
  });

  it("channel and type filters together", () => {
    const ev = { type: "system:alert", channels: ["role:admin"] };
    assert.ok(shown({ channel: "", types: [] }, ev));
    assert.ok(shown({ channel: "role:admin", types: ["system:*"] }, ev));
    assert.ok(!shown({ channel: "tenant", types: [] }, ev));
    assert.ok(!shown({ channel: "", types: ["crm:*"] }, ev));
  });

  it("pipeline rows in pipeline order, unknown statuses after", () => {
    assert.deepEqual(pipelineRows({ closed: 1, lead: 3, zeta: 2 }), [
      ["lead", 3], ["prospect", 0], ["active", 0], ["inactive", 0], ["closed", 1], ["zeta", 2],
    ]);
  });

  it("sales per day and currency, empty days as 0, never summed across currencies", () => {
    const s = salesSeries([
      { sold_at: "2026-11-01T10:00:00Z", currency: "EUR", total_minor: 100 },
      { sold_at: "2026-11-01T23:59:59Z", currency: "EUR", total_minor: 50 },
      { sold_at: "2026-11-03T01:00:00Z", currency: "USD", total_minor: 7 },
      { sold_at: "not a date", currency: "EUR", total_minor: 1 },
    ]);
    assert.deepEqual(s.days, ["2026-11-01", "2026-11-02", "2026-11-03"]);
    assert.deepEqual(s.series, [
      { currency: "EUR", values: [150, 0, 0] },
      { currency: "USD", values: [0, 0, 7] },
    ]);
    assert.deepEqual(salesSeries([]), { days: [], series: [] });
    const long = salesSeries([
      { sold_at: "2025-01-01T00:00:00Z", currency: "EUR", total_minor: 1 },
      { sold_at: "2026-01-01T00:00:00Z", currency: "EUR", total_minor: 2 },
    ]);
    assert.equal(long.days.length, MAX_DAYS);
    assert.equal(long.days.at(-1), "2026-01-01");
  });

  it("currency exponents", () => {
    assert.equal(exponent("EUR"), 2);
    assert.equal(exponent("JPY"), 0);
  });

  it("a job event older than what is shown does not move the bar back", () => {
    const at = (p, t) => ({ id: "j", progress: p, updated_at: t });
    assert.ok(newer(undefined, at(0, "2026-01-01T00:00:00Z")));
    assert.ok(newer(at(10, "2026-01-01T00:00:00Z"), at(50, "2026-01-01T00:00:01Z")));
    assert.ok(!newer(at(100, "2026-01-01T00:00:02Z"), at(50, "2026-01-01T00:00:01Z")));
    assert.ok(!newer(at(60, "2026-01-01T00:00:01Z"), at(50, "2026-01-01T00:00:01Z")));
  });

  it("reads a token's claims for display", () => {
    const part = Buffer.from(JSON.stringify({ sub: "u1", role: "admin", tid: "t" })).toString("base64url");
    assert.deepEqual(claims(`x.${part}.y`), { sub: "u1", role: "admin", tid: "t" });
    assert.deepEqual(claims("garbage"), {});
  });
});
