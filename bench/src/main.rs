//! `pulse-bench`: runs Pulse and its peers side by side on this machine, alternating them
//! (A B A B …) per scenario, and writes medians, spreads and ratios to bench/results/.
//! Usage: `pulse-bench [--quick] [--only fanout,rest,resume,idle,soak,size]` (`SOAK_SECS`
//! shortens the soak).

mod client;
mod scenarios;
mod soak;
mod systems;

use scenarios::Fanout;
use serde_json::{json, Value};
use std::time::Instant;
use systems::System;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

fn spread(v: &[f64]) -> (f64, f64) {
    let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

fn summary(samples: &[f64]) -> Value {
    let mut s = samples.to_vec();
    let (min, max) = spread(&s);
    json!({"median": median(&mut s), "min": min, "max": max, "samples": samples})
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').map(String::from).collect());
    let want = |s: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == s));
    let rounds = if quick { 2 } else { 3 };
    let mut out = json!({
        "machine": machine(),
        "quick": quick,
        "rounds": rounds,
        "started": format!("{:?}", std::time::SystemTime::now()),
    });

    eprintln!("bench: starting systems ...");
    let pulse = System::pulse();
    let secret = pulse.secret.clone();
    let min_do = System::min_do();
    let party = System::partyserver();
    let hono = System::hono(&secret);
    let sio = System::socketio();
    out["startup_ms"] = json!({
        "pulse": pulse.ready_after.as_secs_f64() * 1000.0,
        "min_do": min_do.ready_after.as_secs_f64() * 1000.0,
        "partyserver": party.ready_after.as_secs_f64() * 1000.0,
        "hono_d1": hono.ready_after.as_secs_f64() * 1000.0,
        "socketio": sio.ready_after.as_secs_f64() * 1000.0,
        "note": "process start to the first 200 on /health (wrangler dev: esbuild, miniflare and workerd startup included; Socket.IO: node)",
    });
    out["first_request_ms"] = json!({
        "pulse": pulse.first_request_ms(),
        "min_do": min_do.first_request_ms(),
        "partyserver": party.first_request_ms(),
        "hono_d1": hono.first_request_ms(),
        "note": "wrangler's own timing of the first /health (cold isolate: module compile + startup + handler)",
    });
    eprintln!(
        "bench: systems up: {} first requests: {}",
        out["startup_ms"], out["first_request_ms"]
    );

    if want("fanout") {
        let ns: Vec<usize> = if quick {
            vec![100, 500]
        } else {
            vec![100, 500, 2000]
        };
        let m = if quick { 5 } else { 10 };
        let kinds = [
            Fanout::PulseRest,
            Fanout::PulseHub,
            Fanout::MinDo,
            Fanout::Party,
            Fanout::SocketIo,
        ];
        let mut table = serde_json::Map::new();
        for &n in &ns {
            let mut per: Vec<(Fanout, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>)> = kinds
                .iter()
                .map(|k| (*k, vec![], vec![], vec![], vec![]))
                .collect();
            let r = if n >= 2000 { 1 } else { rounds };
            for round in 0..r {
                for entry in per.iter_mut() {
                    let sys = match entry.0 {
                        Fanout::PulseRest | Fanout::PulseHub => &pulse,
                        Fanout::MinDo => &min_do,
                        Fanout::Party => &party,
                        Fanout::SocketIo => &sio,
                    };
                    let tenant = format!("fan-{n}-{round}-{:?}", entry.0).to_lowercase();
                    let t = Instant::now();
                    match scenarios::fanout(entry.0, sys, n, m, &tenant) {
                        Ok(res) => {
                            eprintln!(
                                "fanout n={n} round={round} {}: {:.0} deliveries/s p50 {:.1} ms p99 {:.1} ms max {:.1} ms delivered {:.3} ({:.1}s)",
                                entry.0.name(), res.deliveries_per_s, res.p50_ms, res.p99_ms, res.max_ms, res.delivered, t.elapsed().as_secs_f64()
                            );
                            entry.1.push(res.deliveries_per_s);
                            entry.2.push(res.p50_ms);
                            entry.3.push(res.p99_ms);
                            entry.4.push(res.delivered);
                        }
                        Err(e) => eprintln!("fanout n={n} {}: FAILED {e}", entry.0.name()),
                    }
                }
            }
            let mut row = serde_json::Map::new();
            for (k, d, p50, p99, del) in &per {
                row.insert(format!("{k:?}"), json!({"name": k.name(), "deliveries_per_s": summary(d), "p50_ms": summary(p50), "p99_ms": summary(p99), "delivered": summary(del)}));
            }
            table.insert(n.to_string(), Value::Object(row));
        }
        out["fanout"] = Value::Object(table);
        out["fanout_messages_per_round"] = json!(m);
    }

    if want("rest") {
        let tenant = "rest-bench";
        scenarios::seed(&pulse, tenant, 60);
        scenarios::seed(&hono, tenant, 60);
        let secs = if quick { 2.0 } else { 4.0 };
        let concs = [1usize, 8, 32];
        let mut table = serde_json::Map::new();
        for op in ["list", "create"] {
            for &c in &concs {
                let mut p = (vec![], vec![], vec![]);
                let mut h = (vec![], vec![], vec![]);
                for round in 0..rounds {
                    for (is_pulse, sys) in [(true, &pulse), (false, &hono)] {
                        let r = scenarios::rest(sys, tenant, op == "create", c, secs, round);
                        eprintln!("rest {op} c={c} round={round} {}: {:.0} req/s p50 {:.1} ms p99 {:.1} ms errors {}", if is_pulse { "pulse" } else { "hono+d1" }, r.rps, r.p50_ms, r.p99_ms, r.errors);
                        let dst = if is_pulse { &mut p } else { &mut h };
                        dst.0.push(r.rps);
                        dst.1.push(r.p50_ms);
                        dst.2.push(r.p99_ms);
                    }
                }
                table.insert(format!("{op}-c{c}"), json!({
                    "pulse": {"rps": summary(&p.0), "p50_ms": summary(&p.1), "p99_ms": summary(&p.2)},
                    "hono_d1": {"rps": summary(&h.0), "p50_ms": summary(&h.1), "p99_ms": summary(&h.2)},
                }));
            }
        }
        out["rest"] = Value::Object(table);
        out["rest_seconds_per_run"] = json!(secs);
    }

    if want("resume") {
        let mut table = serde_json::Map::new();
        let gaps: Vec<usize> = if quick {
            vec![1000]
        } else {
            vec![1000, 10_000]
        };
        for gap in gaps {
            let mut v = vec![];
            for round in 0..rounds {
                match scenarios::resume(&pulse, &format!("resume-{gap}-{round}"), gap) {
                    Ok(ms) => {
                        eprintln!("resume gap={gap} round={round}: {ms:.1} ms");
                        v.push(ms)
                    }
                    Err(e) => eprintln!("resume gap={gap}: FAILED {e}"),
                }
            }
            table.insert(gap.to_string(), summary(&v));
        }
        out["resume_ms"] = Value::Object(table);
    }

    if want("idle") || want("soak") {
        // The memory scenarios start their own systems without wrangler's local trace
        // collector (`X_LOCAL_OBSERVABILITY`): it stores every invocation's spans and logs
        // in the same workerd process, a cost of the dev tool that grows with the number of
        // invocations, not with the system under test (BENCHMARKS.md, "Memory"). The
        // systems started above keep it, as before.
        std::env::set_var("X_LOCAL_OBSERVABILITY", "false");
    }

    if want("idle") {
        // Each measurement on fresh processes: the heap other scenarios grew (and its
        // collection during the wait) would otherwise blur a per-connection figure.
        let ns: Vec<usize> = if quick { vec![1000] } else { vec![1000, 5000] };
        let mut table = serde_json::Map::new();
        for n in ns {
            let mut row = serde_json::Map::new();
            for (name, is_pulse) in [("pulse", true), ("min_do", false)] {
                let sys = if is_pulse {
                    System::pulse()
                } else {
                    System::min_do()
                };
                let tenant = format!("idle-{name}-{n}");
                match scenarios::idle(&sys, is_pulse, &tenant, n) {
                    Ok(r) => {
                        let per = |b: u64, a: u64| {
                            if r.open > 0 {
                                (a.saturating_sub(b) * 1024) / r.open as u64
                            } else {
                                0
                            }
                        };
                        let (b, a) = (r.before.0 + r.before.1, r.after.0 + r.after.1);
                        eprintln!(
                            "idle n={n} {name}: {} connections, runtime {} → {} KiB, proxy {} → {} KiB",
                            r.open, r.before.0, r.after.0, r.before.1, r.after.1
                        );
                        let v8 = soak::v8_heap(&sys);
                        let v8_gc = match soak::Inspector::connect(&sys) {
                            Ok(mut i) => {
                                let h = i.collect();
                                i.close();
                                h
                            }
                            Err(e) => json!({"error": e}),
                        };
                        std::thread::sleep(std::time::Duration::from_secs(2));
                        let gc = soak::rss_split(&sys);
                        let memory = if is_pulse {
                            soak::pulse_memory(&sys, &tenant)
                        } else {
                            Value::Null
                        };
                        eprintln!(
                            "idle n={n} {name}: {} connections, workerd RSS {b} KiB → {a} KiB (runtime {} → {}, proxy {} → {}); v8 heap {v8}, after a full collection {v8_gc}, runtime {} KiB; {memory}",
                            r.open, r.before.0, r.after.0, r.before.1, r.after.1, gc.0
                        );
                        row.insert(
                            name.into(),
                            json!({"connections": r.open,
                            "rss_before_kib": b, "rss_after_kib": a,
                            "runtime_before_kib": r.before.0, "runtime_after_kib": r.after.0,
                            "proxy_before_kib": r.before.1, "proxy_after_kib": r.after.1,
                            "per_connection_bytes": per(b, a),
                            "per_connection_runtime_bytes": per(r.before.0, r.after.0),
                            "per_connection_proxy_bytes": per(r.before.1, r.after.1),
                            "v8_heap": v8, "v8_heap_after_gc": v8_gc, "runtime_after_gc_kib": gc.0,
                            "pulse_stats": memory}),
                        );
                        drop(sys);
                        drop(r.socks);
                    }
                    Err(e) => eprintln!("idle n={n} {name}: FAILED {e}"),
                }
            }
            table.insert(n.to_string(), Value::Object(row));
        }
        out["idle"] = Value::Object(table);
    }

    if want("size") {
        out["size"] = size();
    }
    if want("soak") {
        // Fresh processes, so the series starts from a clean heap.
        let secs = std::env::var("SOAK_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(if quick { 180 } else { 600 });
        let env_num = |k: &str, d: u64| {
            std::env::var(k)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(d)
        };
        let cfg = soak::SoakConfig {
            secs,
            subscribers: env_num("SOAK_SUBSCRIBERS", 300) as usize,
            per_second: env_num("SOAK_RATE", 20) as u32,
            sample_every: std::time::Duration::from_secs(env_num("SOAK_SAMPLE_SECS", 15)),
            pulse_publish: if std::env::var("SOAK_PUBLISH").as_deref() == Ok("hub") {
                Fanout::PulseHub
            } else {
                Fanout::PulseRest
            },
        };
        let (p, m) = (System::pulse(), System::min_do());
        let h = System::hono(&p.secret);
        match soak::soak(&p, &m, &h, &cfg) {
            Ok(v) => {
                eprintln!(
                    "soak: pulse {} | min_do {} | hono {}",
                    v["pulse"], v["min_do"], v["hono"]
                );
                out["soak"] = v;
            }
            Err(e) => eprintln!("soak: FAILED {e}"),
        }
    }
    drop((pulse, min_do, party, hono, sio));
    let dir = systems::root().join("bench/results");
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join(if quick { "quick.json" } else { "results.json" });
    std::fs::write(&file, serde_json::to_string_pretty(&out).unwrap()).unwrap();
    eprintln!("bench: wrote {}", file.display());
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("?")
        .trim()
        .to_string();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    json!({"cpu": cpu, "cores": cores, "memory": mem})
}

/// The worker's upload size as `wrangler deploy --dry-run` reports it.
fn size() -> Value {
    let out = std::process::Command::new(systems::root().join("node_modules/.bin/wrangler"))
        .args(["deploy", "--dry-run", "--outdir", "target/bench-dry-run"])
        .current_dir(systems::root())
        .env(
            "PATH",
            format!(
                "{}:{}",
                systems::root().join("node_modules/.bin").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("WRANGLER_SEND_METRICS", "false")
        .output();
    let text = out
        .map(|o| {
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
        })
        .unwrap_or_default();
    let line = text
        .lines()
        .find(|l| l.contains("Total Upload"))
        .unwrap_or("")
        .trim()
        .to_string();
    let gz = line
        .split("gzip:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|x| x.parse::<f64>().ok());
    json!({"wrangler_line": line, "gzip_kib": gz})
}
