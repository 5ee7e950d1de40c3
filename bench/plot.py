#!/usr/bin/env python3
"""Draws bench/results/*.svg from bench/results/results.json (or quick.json): latency and
deliveries/s against subscribers, req/s against concurrency. Standard library only."""
import json, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
COLORS = ["#d62728", "#ff7f0e", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b"]


def svg_chart(title, xlabel, ylabel, series, xs, path, logy=False):
    """series: [(name, [y or None per x])]; a simple line chart with markers."""
    import math
    W, H, L, R, T, B = 720, 420, 80, 220, 40, 60
    ys = [y for _, vals in series for y in vals if y is not None and y > 0]
    if not ys:
        return
    ymax = max(ys) * 1.1
    ymin = min(ys) / 1.5 if logy else 0
    def fy(y):
        if logy:
            return T + (H - T - B) * (1 - (math.log10(y) - math.log10(ymin)) / (math.log10(ymax) - math.log10(ymin)))
        return T + (H - T - B) * (1 - (y - ymin) / (ymax - ymin))
    def fx(i):
        return L + (W - L - R) * (i / max(1, len(xs) - 1))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W/2 - R/2}" y="22" text-anchor="middle" font-size="15">{title}</text>',
           f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>',
           f'<text x="{(L + W - R)/2}" y="{H-15}" text-anchor="middle">{xlabel}</text>',
           f'<text x="18" y="{(T + H - B)/2}" text-anchor="middle" transform="rotate(-90 18 {(T + H - B)/2})">{ylabel}</text>']
    for i, x in enumerate(xs):
        out.append(f'<text x="{fx(i)}" y="{H-B+18}" text-anchor="middle">{x}</text>')
    ticks = 5
    for k in range(ticks + 1):
        if logy:
            y = 10 ** (math.log10(ymin) + (math.log10(ymax) - math.log10(ymin)) * k / ticks)
        else:
            y = ymin + (ymax - ymin) * k / ticks
        out.append(f'<line x1="{L-4}" y1="{fy(y)}" x2="{W-R}" y2="{fy(y)}" stroke="#eee"/>')
        out.append(f'<text x="{L-8}" y="{fy(y)+4}" text-anchor="end">{y:.3g}</text>')
    for s, (name, vals) in enumerate(series):
        c = COLORS[s % len(COLORS)]
        pts = [(fx(i), fy(v)) for i, v in enumerate(vals) if v is not None and v > 0]
        if len(pts) > 1:
            out.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in pts)}"/>')
        for x, y in pts:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{c}"/>')
        ly = T + 10 + 20 * s
        out.append(f'<rect x="{W-R+15}" y="{ly-9}" width="12" height="12" fill="{c}"/>')
        out.append(f'<text x="{W-R+32}" y="{ly+1}">{name}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out))
    print("wrote", os.path.relpath(path))


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else None
    for cand in ([name] if name else ["results.json", "quick.json"]):
        p = os.path.join(HERE, "results", cand)
        if os.path.exists(p):
            break
    else:
        sys.exit("no results file in bench/results/")
    r = json.load(open(p))
    res = os.path.join(HERE, "results")
    if "fanout" in r:
        ns = sorted(r["fanout"].keys(), key=int)
        kinds = list(r["fanout"][ns[0]].keys())
        label = lambda k: r["fanout"][ns[0]][k]["name"]
        get = lambda n, k, m: (r["fanout"][n].get(k) or {}).get(m, {}).get("median")
        svg_chart("Fan-out: p99 latency, publish → delivery", "subscribers", "p99 ms (log)",
                  [(label(k), [get(n, k, "p99_ms") for n in ns]) for k in kinds], ns, os.path.join(res, "fanout_p99.svg"), logy=True)
        svg_chart("Fan-out: deliveries per second", "subscribers", "deliveries/s (log)",
                  [(label(k), [get(n, k, "deliveries_per_s") for n in ns]) for k in kinds], ns, os.path.join(res, "fanout_throughput.svg"), logy=True)
    if "rest" in r:
        for op in ["list", "create"]:
            keys = sorted([k for k in r["rest"] if k.startswith(op)], key=lambda k: int(k.split("-c")[1]))
            cs = [k.split("-c")[1] for k in keys]
            svg_chart(f"REST {op}: requests per second", "concurrency", "req/s",
                      [(s, [r["rest"][k][s]["rps"]["median"] for k in keys]) for s in ["pulse", "hono_d1"]], cs, os.path.join(res, f"rest_{op}_rps.svg"))
            svg_chart(f"REST {op}: p99 latency", "concurrency", "p99 ms",
                      [(s, [r["rest"][k][s]["p99_ms"]["median"] for k in keys]) for s in ["pulse", "hono_d1"]], cs, os.path.join(res, f"rest_{op}_p99.svg"))


if __name__ == "__main__":
    main()
