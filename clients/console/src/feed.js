// The live event feed: filters (channel, type patterns), the rows, and what the feed
// checks about what it receives (no duplicate seq).

import { money } from "./charts.js";

/** Type patterns from "crm:*, job:progress": exact types, or prefixes ending in `*`. */
export function parseTypes(text) {
  return String(text)
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Whether an event type matches the patterns (no pattern matches everything). */
export function typeMatches(patterns, type) {
  if (patterns.length === 0) return true;
  return patterns.some((p) => (p.endsWith("*") ? type.startsWith(p.slice(0, -1)) : p === type));
}

/** Whether an event is shown under the filters. */
export function shown(filter, ev) {
  if (filter.channel && !(ev.channels || []).includes(filter.channel)) return false;
  return typeMatches(filter.types, ev.type);
}

/** A short line about an event's data: what a person scanning the feed wants first. */
export function summary(ev) {
  const d = ev.data || {};
  if (ev.type.startsWith("job:")) {
    return `${d.kind || d.queue || "job"} ${d.status || ""} ${d.progress ?? ""}%`.replace(/\s+/g, " ").trim();
  }
  if (ev.type === "reports:dashboard:updated") {
    return `customers ${(d.customers || {}).total ?? "?"} · jobs ${(d.jobs || {}).total ?? "?"} · sales ${(d.sales || {}).count ?? "–"}`;
  }
  for (const k of ["message", "name", "title", "email", "kind", "slug"]) {
    if (typeof d[k] === "string" && d[k]) return d[k];
  }
  for (const k of ["total_minor", "amount_minor"]) {
    if (typeof d[k] === "number" && d.currency) return money(d[k], d.currency) + (d.status ? ` · ${d.status}` : "");
  }
  const json = JSON.stringify(d);
  return json.length > 120 ? json.slice(0, 117) + "…" : json;
}

const MAX_ROWS = 300;

export class Feed {
  /** @param {HTMLOListElement} list */
  constructor(list, counter, empty) {
    this.list = list;
    this.counter = counter;
    this.empty = empty;
    this.filter = { channel: "", types: [] };
    this.seen = new Set();
    this.duplicates = 0;
    this.total = 0;
  }

  setFilter(filter) {
    this.filter = { ...this.filter, ...filter };
    for (const li of this.list.children) {
      if (li.ev) li.hidden = !shown(this.filter, li.ev);
    }
    this.count();
  }

  /** Adds an event at the top; a seq seen before is counted, never shown twice. */
  add(ev) {
    if (typeof ev.seq === "number") {
      if (this.seen.has(ev.seq)) {
        this.duplicates += 1;
        this.list.dataset.duplicates = String(this.duplicates);
        return;
      }
      this.seen.add(ev.seq);
    }
    const doc = this.list.ownerDocument;
    const li = doc.createElement("li");
    li.ev = ev;
    li.dataset.seq = String(ev.seq);
    li.dataset.type = ev.type;
    const seq = doc.createElement("span");
    seq.className = "seq";
    seq.textContent = "#" + ev.seq;
    const type = doc.createElement("code");
    type.className = "type";
    type.textContent = ev.type;
    const time = doc.createElement("time");
    time.dateTime = ev.ts || "";
    time.textContent = ev.ts ? new Date(ev.ts).toLocaleTimeString() : "";
    const sum = doc.createElement("span");
    sum.className = "summary";
    sum.textContent = summary(ev);
    const chans = doc.createElement("span");
    chans.className = "chans";
    chans.textContent = (ev.channels || []).join(" · ");
    li.append(seq, type, time, sum, chans);
    li.hidden = !shown(this.filter, ev);
    this.list.prepend(li);
    this.total += 1;
    while (this.list.children.length > MAX_ROWS) this.list.lastElementChild.remove();
    this.count();
  }

  /** A line in the feed about the connection itself (resume, history lost). */
  mark(text) {
    const li = this.list.ownerDocument.createElement("li");
    li.className = "marker";
    li.textContent = text;
    this.list.prepend(li);
    this.count();
  }

  clear() {
    this.list.textContent = "";
    this.total = 0;
    this.count();
  }

  count() {
    let visible = 0;
    let rows = 0;
    for (const li of this.list.children) {
      if (!li.ev) continue;
      rows += 1;
      if (!li.hidden) visible += 1;
    }
    this.counter.textContent = rows ? `(${visible} of ${rows})` : "";
    this.empty.hidden = rows > 0;
  }
}
