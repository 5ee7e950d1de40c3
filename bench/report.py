#!/usr/bin/env python3
"""Prints the Markdown tables of BENCHMARKS.md from a results file (default
bench/results/results.json): medians with min–max over the A/B rounds, and ratios
Pulse / peer computed from medians of the same run."""
import json, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))


def f(x, d=1):
    return "—" if x is None else f"{x:,.{d}f}"


def cell(s, d=1):
    if not s or s.get("median") is None:
        return "—"
    return f"{f(s['median'], d)} ({f(s['min'], d)}–{f(s['max'], d)})"


def main():
    path = os.path.join(HERE, "results", sys.argv[1] if len(sys.argv) > 1 else "results.json")
    r = json.load(open(path))
    print(f"Source: `bench/results/{os.path.basename(path)}` ({r['machine']['cores']} cores, {r['machine']['cpu']}, rounds per point: {r['rounds']}).\n")
    if "fanout" in r:
        print(f"### Fan-out ({r.get('fanout_messages_per_round')} publishes per round; median (min–max))\n")
        print("| N | system | deliveries/s | p50 ms | p99 ms | delivered |")
        print("|---|---|---|---|---|---|")
        for n in sorted(r["fanout"], key=int):
            for k, v in r["fanout"][n].items():
                print(f"| {n} | {v['name']} | {cell(v['deliveries_per_s'], 0)} | {cell(v['p50_ms'])} | {cell(v['p99_ms'])} | {cell(v['delivered'], 3)} |")
        print("\nRatios (Pulse hub / peer, deliveries/s; p99 as Pulse / peer, lower is better):\n")
        print("| N | vs | throughput ratio (hub) | throughput ratio (REST) | p99 ratio (hub) | p99 ratio (REST) |")
        print("|---|---|---|---|---|---|")
        for n in sorted(r["fanout"], key=int):
            row = r["fanout"][n]
            med = lambda k, m: (row.get(k) or {}).get(m, {}).get("median")
            for peer in ["MinDo", "Party", "SocketIo"]:
                def ratio(a, b):
                    return "—" if not a or not b else f"{a / b:.2f}"
                print(f"| {n} | {row[peer]['name']} | {ratio(med('PulseHub', 'deliveries_per_s'), med(peer, 'deliveries_per_s'))} | {ratio(med('PulseRest', 'deliveries_per_s'), med(peer, 'deliveries_per_s'))} | {ratio(med('PulseHub', 'p99_ms'), med(peer, 'p99_ms'))} | {ratio(med('PulseRest', 'p99_ms'), med(peer, 'p99_ms'))} |")
        print()
        if any("PulseSocketIo" in r["fanout"][n] for n in r["fanout"]):
            print("Socket.IO on Pulse (hub append) against Socket.IO on Node and Pulse's own WebSocket API:\n")
            print("| N | vs | throughput ratio | p99 ratio |")
            print("|---|---|---|---|")
            for n in sorted(r["fanout"], key=int):
                row = r["fanout"][n]
                med = lambda k, m: (row.get(k) or {}).get(m, {}).get("median")
                ratio = lambda a, b: "—" if not a or not b else f"{a / b:.2f}"
                for peer in ["SocketIo", "PulseHub"]:
                    if peer in row and "PulseSocketIo" in row:
                        print(f"| {n} | {row[peer]['name']} | {ratio(med('PulseSocketIo', 'deliveries_per_s'), med(peer, 'deliveries_per_s'))} | {ratio(med('PulseSocketIo', 'p99_ms'), med(peer, 'p99_ms'))} |")
            print()
    if "rest" in r:
        print(f"### REST ({r.get('rest_seconds_per_run')} s per run; median (min–max))\n")
        print("| scenario | Pulse req/s | Hono+D1 req/s | ratio | Pulse p99 ms | Hono+D1 p99 ms | p99 ratio |")
        print("|---|---|---|---|---|---|---|")
        for k in sorted(r["rest"], key=lambda k: (k.split("-c")[0], int(k.split("-c")[1]))):
            p, h = r["rest"][k]["pulse"], r["rest"][k]["hono_d1"]
            print(f"| {k} | {cell(p['rps'], 0)} | {cell(h['rps'], 0)} | {p['rps']['median'] / h['rps']['median']:.2f} | {cell(p['p99_ms'])} | {cell(h['p99_ms'])} | {p['p99_ms']['median'] / h['p99_ms']['median']:.2f} |")
        print()
    if "resume_ms" in r:
        print("### Resume (Pulse; reconnect with `since`, until the last replayed event)\n")
        print("| missed events | ms, median (min–max) |")
        print("|---|---|")
        for g, v in r["resume_ms"].items():
            print(f"| {int(g):,} | {cell(v)} |")
        print()
    if "idle" in r:
        print("### Idle connections (fresh processes; workerd RSS before → after, KiB)\n")
        print("| connections | system | runtime before → after | proxy before → after | per connection (runtime) | per connection (both) |")
        print("|---|---|---|---|---|---|")
        for n, row in r["idle"].items():
            if "connections" in row:  # results files from before the fresh-process idle
                row = {n: row}
            for k, v in row.items():
                if "runtime_before_kib" not in v:
                    print(f"| {v['connections']:,} | {k} | — | — | — | {v['per_connection_bytes'] / 1024:.1f} KiB |")
                    continue
                print(f"| {v['connections']:,} | {k} | {v['runtime_before_kib']:,} → {v['runtime_after_kib']:,} | {v['proxy_before_kib']:,} → {v['proxy_after_kib']:,} | {v['per_connection_runtime_bytes'] / 1024:.1f} KiB | {v['per_connection_bytes'] / 1024:.1f} KiB |")
        print()
    if "soak" in r:
        k = r["soak"]
        print(f"### Soak ({k['subscribers']} subscribers, {k['per_second']} publishes/s, {k['seconds']} s; runtime RSS, MiB)\n")
        names = [x for x in ["pulse", "min_do", "hono"] if x in k]
        print("| t (s) | " + " | ".join(names) + " |")
        print("|---|" + "---|" * len(names))
        for smp in k["samples"]:
            print(f"| {smp['t_s']:.0f} | " + " | ".join(f"{smp[x]['runtime_kib'] / 1024:,.0f}" for x in names) + " |")
        print()
        print("| system | start | 2 min | end | end / 2 min | delivered | p99 ms |")
        print("|---|---|---|---|---|---|---|")
        for x in names:
            v = k[x]
            lat = (v.get("latency") or {}).get("p99_ms")
            print(f"| {x} | {v['runtime_kib_start'] / 1024:,.0f} | {v['runtime_kib_2min'] / 1024:,.0f} | {v['runtime_kib_end'] / 1024:,.0f} | {v['end_over_2min']:.2f} | {v['delivered_fraction']:.4f} | {f(lat)} |")
        print()
    if "size" in r or "startup_ms" in r:
        print("### Size and startup\n")
        if "size" in r:
            print(f"- Worker upload (`wrangler deploy --dry-run`): {r['size']['wrangler_line']}")
        if "startup_ms" in r:
            s = r["startup_ms"]
            print("- Process start → first 200 on /health (wrangler dev): " + ", ".join(f"{k} {v:,.0f} ms" for k, v in s.items() if k != "note"))
        if "first_request_ms" in r:
            s = r["first_request_ms"]
            print("- First request on a cold isolate (wrangler's timing): " + ", ".join(f"{k} {v:,.0f} ms" for k, v in s.items() if k != "note" and v is not None))
        print()


if __name__ == "__main__":
    main()
