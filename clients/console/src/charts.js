// The dashboard's charts as inline SVG (no chart library): the pipeline by status as bars,
// sales per currency over time as one line chart per currency (each on its own scale, so
// currencies are never added up). Each chart has a text title and a data table beside it.

const SVG = "http://www.w3.org/2000/svg";

/** The customer statuses in pipeline order (others follow, by name). */
export const PIPELINE = ["lead", "prospect", "active", "inactive", "closed"];

/** `{status: n}` → `[[status, n]]` in pipeline order, every pipeline status present. */
export function pipelineRows(byStatus) {
  const m = { ...byStatus };
  const rows = PIPELINE.map((s) => [s, Number(m[s]) || 0]);
  for (const k of Object.keys(m).sort()) if (!PIPELINE.includes(k)) rows.push([k, Number(m[k]) || 0]);
  return rows;
}

/** The digits after the decimal point of a currency's major unit (2 when unknown). */
export function exponent(currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

/** Minor units as a formatted amount of the currency. */
export function money(minor, currency) {
  const e = exponent(currency);
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(minor / 10 ** e);
  } catch {
    return `${(minor / 10 ** e).toFixed(e)} ${currency}`;
  }
}

const DAY_MS = 86400000;
/** At most this many days on the time axis (the latest ones). */
export const MAX_DAYS = 60;

/**
 * Sales grouped by day (of `sold_at`, UTC) and currency: `{days: ["2026-11-01", …],
 * series: [{currency, values: [minor per day]}]}`, days without sales as 0, currencies by name.
 */
export function salesSeries(sales) {
  const sums = new Map();
  let first = Infinity;
  let last = -Infinity;
  for (const s of sales) {
    const t = Date.parse(s.sold_at || s.created_at);
    if (!Number.isFinite(t) || !s.currency) continue;
    const day = Math.floor(t / DAY_MS);
    first = Math.min(first, day);
    last = Math.max(last, day);
    const key = s.currency + "|" + day;
    sums.set(key, (sums.get(key) || 0) + (Number(s.total_minor) || 0));
  }
  if (!Number.isFinite(first)) return { days: [], series: [] };
  first = Math.max(first, last - MAX_DAYS + 1);
  const days = [];
  for (let d = first; d <= last; d++) days.push(d);
  const currencies = [...new Set([...sums.keys()].map((k) => k.split("|")[0]))].sort();
  return {
    days: days.map((d) => new Date(d * DAY_MS).toISOString().slice(0, 10)),
    series: currencies.map((currency) => ({
      currency,
      values: days.map((d) => sums.get(currency + "|" + d) || 0),
    })),
  };
}

function el(doc, name, attrs = {}, text) {
  const e = doc.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function svgRoot(doc, w, h, title, desc) {
  const id = "t" + Math.random().toString(36).slice(2, 9);
  const svg = el(doc, "svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-labelledby": `${id}a ${id}b` });
  svg.append(el(doc, "title", { id: id + "a" }, title), el(doc, "desc", { id: id + "b" }, desc));
  return svg;
}

function table(doc, head, rows) {
  const details = doc.createElement("details");
  const sum = doc.createElement("summary");
  sum.textContent = "Data";
  const t = doc.createElement("table");
  const tr = doc.createElement("tr");
  for (const h of head) {
    const th = doc.createElement("th");
    th.scope = "col";
    th.textContent = h;
    tr.append(th);
  }
  t.append(tr);
  for (const r of rows) {
    const row = doc.createElement("tr");
    for (const c of r) {
      const td = doc.createElement("td");
      td.textContent = String(c);
      row.append(td);
    }
    t.append(row);
  }
  details.append(sum, t);
  return details;
}

function emptyNote(doc, text) {
  const p = doc.createElement("p");
  p.className = "empty";
  p.textContent = text;
  return p;
}

/** Horizontal bars, one per `[label, value]`. */
export function barChart(doc, rows, title) {
  const total = rows.reduce((a, [, v]) => a + v, 0);
  const frag = doc.createDocumentFragment();
  if (total === 0) {
    frag.append(emptyNote(doc, "No customers yet."));
    return frag;
  }
  const W = 360, bar = 22, gap = 8, left = 78, right = 40;
  const H = rows.length * (bar + gap) + gap;
  const max = Math.max(...rows.map(([, v]) => v), 1);
  const svg = svgRoot(doc, W, H, title, rows.map(([k, v]) => `${k}: ${v}`).join(", "));
  rows.forEach(([k, v], i) => {
    const y = gap + i * (bar + gap);
    const w = ((W - left - right) * v) / max;
    svg.append(
      el(doc, "text", { x: left - 6, y: y + bar * 0.7, "text-anchor": "end" }, k),
      el(doc, "rect", { x: left, y, width: Math.max(w, v ? 2 : 0), height: bar, rx: 3, class: "s" + (i % 6) }),
      el(doc, "text", { x: left + w + 5, y: y + bar * 0.7, class: "val" }, String(v)),
    );
  });
  svg.append(el(doc, "line", { x1: left, x2: left, y1: 0, y2: H, class: "axis" }));
  frag.append(svg, table(doc, ["Status", "Customers"], rows));
  return frag;
}

/** One small line chart per currency over the same days. */
export function salesCharts(doc, data, title) {
  const frag = doc.createDocumentFragment();
  if (data.series.length === 0) {
    frag.append(emptyNote(doc, "No sales yet."));
    return frag;
  }
  const W = 360, H = 116, left = 8, right = 8, top = 24, bottom = 18;
  const n = data.days.length;
  const x = (i) => (n === 1 ? (W - left - right) / 2 + left : left + ((W - left - right) * i) / (n - 1));
  data.series.forEach((s, si) => {
    const max = Math.max(...s.values, 1);
    const y = (v) => top + (H - top - bottom) * (1 - v / max);
    const total = s.values.reduce((a, b) => a + b, 0);
    const svg = svgRoot(
      doc,
      W,
      H,
      `${title}: ${s.currency}`,
      `${money(total, s.currency)} in ${n} day(s) from ${data.days[0]} to ${data.days[n - 1]}`,
    );
    svg.dataset.currency = s.currency;
    svg.append(
      el(doc, "line", { x1: left, x2: W - right, y1: H - bottom, y2: H - bottom, class: "axis" }),
      el(doc, "text", { x: left, y: 11 }, `${s.currency} · max ${money(max, s.currency)}/day`),
      el(doc, "text", { x: left, y: H - 4 }, data.days[0]),
    );
    if (n > 1) svg.append(el(doc, "text", { x: W - right, y: H - 4, "text-anchor": "end" }, data.days[n - 1]));
    const d = s.values.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join("");
    svg.append(el(doc, "path", { d, class: "line s" + (si % 6) }));
    s.values.forEach((v, i) => {
      if (v) svg.append(el(doc, "circle", { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 3, class: "s" + (si % 6) }));
    });
    frag.append(svg);
  });
  const legend = doc.createElement("ul");
  legend.className = "legend";
  data.series.forEach((s, si) => {
    const li = doc.createElement("li");
    const sw = doc.createElement("span");
    sw.className = "s" + (si % 6);
    li.append(sw, `${s.currency}: ${money(s.values.reduce((a, b) => a + b, 0), s.currency)}`);
    legend.append(li);
  });
  const rows = [];
  data.days.forEach((day, i) => {
    for (const s of data.series) if (s.values[i]) rows.push([day, s.currency, money(s.values[i], s.currency)]);
  });
  frag.append(legend, table(doc, ["Day", "Currency", "Sales"], rows));
  return frag;
}
