//! `pulse-bench`: runs Pulse and its peers side by side on this machine, alternating them
//! (A B A B …) per scenario, and writes medians, spreads and ratios to bench/results/.
//! Usage: `pulse-bench [--quick] [--bare] [--only fanout,rest,resume,idle,soak,size,mixed,cold,search]`.
//! `--bare` (or `BENCH_MODE=bare`) serves every Worker from bare workerd (bench/src/bare.rs)
//! instead of `wrangler dev`; `cold` (on by default in bare mode) restarts each system a
//! few times and times its cold start. Profiling knobs (bare mode): `BENCH_COLD=name,...`
//! limits the cold scenario to some systems, `BENCH_V8_FLAGS="--flag ..."` passes V8 flags
//! to Pulse's workerd. `SOAK_SECS` shortens the soak.

mod bare;
mod client;
mod mixed;
mod scenarios;
mod search;
mod soak;
mod systems;

use scenarios::Fanout;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
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
    let bare_mode = args.iter().any(|a| a == "--bare")
        || std::env::var("BENCH_MODE").is_ok_and(|m| m == "bare");
    let want = |s: &str| match &only {
        Some(o) => o.iter().any(|x| x == s),
        // Cold starts restart every system several times: by default in bare mode only.
        None => s != "cold" || bare_mode,
    };
    let rounds = if quick { 2 } else { 3 };
    let mut out = json!({
        "mode": if bare_mode { "bare workerd" } else { "wrangler dev" },
        "machine": machine(),
        "quick": quick,
        "rounds": rounds,
        "started": format!("{:?}", std::time::SystemTime::now()),
    });

    if want("cold") {
        out["cold"] = cold(bare_mode, if quick { 3 } else { 5 });
    }
    if want("search") {
        // Its own Pulse, on a local D1 bulk-loaded before the start; no peer takes part.
        match search::run(&format!("bench-search-{}", std::process::id()), quick) {
            Ok(v) => out["search"] = v,
            Err(e) => eprintln!("search: FAILED {e}"),
        }
    }
    let only_cold = only
        .as_ref()
        .is_some_and(|o| o.iter().all(|x| x == "cold" || x == "search"));
    if only_cold {
        write(&out, quick, bare_mode);
        return;
    }

    eprintln!(
        "bench: starting systems ({}) ...",
        if bare_mode {
            "bare workerd"
        } else {
            "wrangler dev"
        }
    );
    let secret = format!("bench-{}", std::process::id());
    let (pulse, min_do, party, hono) = if bare_mode {
        (
            bare::pulse(&secret, bare::PulseParts::Full, ("GET", "/health")),
            bare::min_do(),
            bare::partyserver(),
            bare::hono(&secret),
        )
    } else {
        (
            System::pulse(&secret),
            System::min_do(),
            System::partyserver(),
            System::hono(&secret),
        )
    };
    let sio = System::socketio();
    out["startup_ms"] = json!({
        "pulse": pulse.ready_after.as_secs_f64() * 1000.0,
        "min_do": min_do.ready_after.as_secs_f64() * 1000.0,
        "partyserver": party.ready_after.as_secs_f64() * 1000.0,
        "hono_d1": hono.ready_after.as_secs_f64() * 1000.0,
        "socketio": sio.ready_after.as_secs_f64() * 1000.0,
        "note": if bare_mode {
            "process start to the first 200 on /health (bare workerd; Socket.IO: node)"
        } else {
            "process start to the first 200 on /health (wrangler dev: esbuild, miniflare and workerd startup included; Socket.IO: node)"
        },
    });
    out["first_request_ms"] = json!({
        "pulse": pulse.first_request_ms(),
        "min_do": min_do.first_request_ms(),
        "partyserver": party.first_request_ms(),
        "hono_d1": hono.first_request_ms(),
        "note": if bare_mode {
            "the first GET /health, sent once the socket accepts (timed by the bench)"
        } else {
            "wrangler's own timing of the first /health (cold isolate: module compile + startup + handler)"
        },
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
            Fanout::PulseSocketIo,
            Fanout::MinDo,
            Fanout::Party,
            Fanout::SocketIo,
        ];
        let mut table = serde_json::Map::new();
        for &n in &ns {
            #[allow(clippy::type_complexity)]
            let mut per: Vec<(Fanout, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>)> = kinds
                .iter()
                .map(|k| (*k, vec![], vec![], vec![], vec![]))
                .collect();
            let r = if n >= 2000 { 1 } else { rounds };
            for round in 0..r {
                for entry in per.iter_mut() {
                    let sys = match entry.0 {
                        Fanout::PulseRest | Fanout::PulseHub | Fanout::PulseSocketIo => &pulse,
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
                let mut p = (vec![], vec![], vec![], vec![]);
                let mut h = (vec![], vec![], vec![], vec![]);
                for round in 0..rounds {
                    for (is_pulse, sys) in [(true, &pulse), (false, &hono)] {
                        let cpu0 = sys.cpu_ms();
                        let r = scenarios::rest(sys, tenant, op == "create", c, secs, round);
                        // Work left after the answers (a create's hub append) lands in
                        // the next second; it is the system's too.
                        std::thread::sleep(Duration::from_millis(500));
                        let cpu = (sys.cpu_ms() - cpu0) / (r.rps * secs).max(1.0);
                        eprintln!("rest {op} c={c} round={round} {}: {:.0} req/s p50 {:.1} ms p99 {:.1} ms cpu {cpu:.2} ms/req errors {}", if is_pulse { "pulse" } else { "hono+d1" }, r.rps, r.p50_ms, r.p99_ms, r.errors);
                        let dst = if is_pulse { &mut p } else { &mut h };
                        dst.0.push(r.rps);
                        dst.1.push(r.p50_ms);
                        dst.2.push(r.p99_ms);
                        dst.3.push(cpu);
                    }
                }
                table.insert(format!("{op}-c{c}"), json!({
                    "pulse": {"rps": summary(&p.0), "p50_ms": summary(&p.1), "p99_ms": summary(&p.2), "cpu_ms_per_req": summary(&p.3)},
                    "hono_d1": {"rps": summary(&h.0), "p50_ms": summary(&h.1), "p99_ms": summary(&h.2), "cpu_ms_per_req": summary(&h.3)},
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
                    System::pulse(&secret)
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
    if want("mixed") {
        let plan = mixed::Plan::new(quick);
        eprintln!(
            "mixed: {} dashboards, {} s of writes ...",
            plan.dashboards, plan.secs
        );
        match mixed::run(&pulse, &plan) {
            Ok(v) => {
                mixed::summary_lines(&v)
                    .iter()
                    .for_each(|l| eprintln!("{l}"));
                out["mixed"] = v;
            }
            Err(e) => eprintln!("mixed: FAILED {e}"),
        }
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
        let (p, m) = (System::pulse(&secret), System::min_do());
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
    write(&out, quick, bare_mode);
}

/// bench/results/{quick,results}.json, or {quick,results}-bare.json in bare mode.
fn write(out: &Value, quick: bool, bare_mode: bool) {
    let dir = systems::root().join("bench/results");
    let _ = std::fs::create_dir_all(&dir);
    let stem = if quick { "quick" } else { "results" };
    let file = dir.join(if bare_mode {
        format!("{stem}-bare.json")
    } else {
        format!("{stem}.json")
    });
    std::fs::write(&file, serde_json::to_string_pretty(out).unwrap()).unwrap();
    eprintln!("bench: wrote {}", file.display());
}

/// Cold starts: each system started `rounds` times on a fresh process (one at a time),
/// timing process start to the socket accepting (bare), the first request, and process
/// start to the first 200 on /health. Pulse is also timed on a first request that
/// touches no binding (`OPTIONS /health`, a CORS preflight) and, in bare mode, as the
/// Worker alone (no D1, queue, limiter or R2 services in the config).
fn cold(bare_mode: bool, rounds: usize) -> Value {
    type Start = Box<dyn Fn() -> System>;
    let secret = format!("bench-cold-{}", std::process::id());
    let s2 = secret.clone();
    let s3 = secret.clone();
    let s4 = secret.clone();
    let systems: Vec<(&str, Start)> = if bare_mode {
        vec![
            ("min_do", Box::new(bare::min_do)),
            ("partyserver", Box::new(bare::partyserver)),
            ("hono_d1", Box::new(move || bare::hono(&s2))),
            (
                "pulse",
                Box::new(move || bare::pulse(&s3, bare::PulseParts::Full, ("GET", "/health"))),
            ),
            (
                "pulse_preflight",
                Box::new(move || bare::pulse(&s4, bare::PulseParts::Full, ("OPTIONS", "/health"))),
            ),
            (
                "pulse_worker_only_preflight",
                Box::new(move || {
                    bare::pulse(
                        &secret,
                        bare::PulseParts::WorkerOnly,
                        ("OPTIONS", "/health"),
                    )
                }),
            ),
        ]
    } else {
        vec![
            ("min_do", Box::new(System::min_do)),
            ("partyserver", Box::new(System::partyserver)),
            ("hono_d1", Box::new(move || System::hono(&s2))),
            ("pulse", Box::new(move || System::pulse(&s3))),
        ]
    };
    // BENCH_COLD=name,name limits the systems (for profiling one of them).
    let pick: Option<Vec<String>> = std::env::var("BENCH_COLD")
        .ok()
        .map(|v| v.split(',').map(String::from).collect());
    let systems: Vec<(&str, Start)> = systems
        .into_iter()
        .filter(|(n, _)| pick.as_ref().is_none_or(|p| p.iter().any(|x| x == n)))
        .collect();
    let mut table = serde_json::Map::new();
    // Bare mode times a second pass with a pause between the socket accepting and the
    // first request: that request then finds the isolates loaded (its own first-run cost).
    let passes: &[(u64, &str)] = if bare_mode {
        &[(0, ""), (1000, "_loaded")]
    } else {
        &[(0, "")]
    };
    for &(settle, suffix) in passes {
        bare::SETTLE_MS.store(settle, std::sync::atomic::Ordering::Relaxed);
        // Per system: listen, first request, ready, second /health (ms).
        type Samples = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);
        let mut samples: Vec<Samples> = systems.iter().map(|_| Default::default()).collect();
        for round in 0..rounds {
            // Alternate the systems within each round, as the other scenarios do.
            for (k, (name, start)) in systems.iter().enumerate() {
                let s = start();
                let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
                let warm = {
                    let api = pulse_testkit::Api::new(&s.base);
                    let t = Instant::now();
                    api.status("GET", "/health", None, None);
                    ms(t.elapsed())
                };
                let ready = ms(s.ready_after);
                let listen = s.listen_after.map(ms).unwrap_or(f64::NAN);
                let first = s.first_request_ms().unwrap_or(f64::NAN);
                eprintln!(
                    "cold{suffix} {name} round={round}: listen {listen:.0} ms, first request {first:.1} ms, ready {ready:.0} ms, next /health {warm:.1} ms"
                );
                // wrangler dev has no listen time (NaN): kept out of the medians.
                if listen.is_finite() {
                    samples[k].0.push(listen);
                }
                if first.is_finite() {
                    samples[k].1.push(first);
                }
                samples[k].2.push(ready);
                samples[k].3.push(warm);
                drop(s);
            }
        }
        for ((name, _), (listen, first, ready, warm)) in systems.iter().zip(samples) {
            table.insert(
                format!("{name}{suffix}"),
                json!({"listen_ms": summary(&listen), "first_request_ms": summary(&first),
                       "ready_ms": summary(&ready), "second_health_ms": summary(&warm)}),
            );
        }
    }
    bare::SETTLE_MS.store(0, std::sync::atomic::Ordering::Relaxed);
    table.insert("note".into(), json!(if bare_mode {
        "bare workerd: listen = process start to the socket accepting; first_request = the first request after that (GET /health unless named *_preflight: OPTIONS /health, no binding touched), sent at once (it waits for workerd to load every service) or, for *_loaded, 1 s later (the isolates are loaded: the request's own first-run cost); ready = process start to the first 200 on /health (for *_loaded it includes the 1 s pause); second_health = the next GET /health"
    } else {
        "wrangler dev: first_request = wrangler's own timing of the first /health; ready = process start to the first 200 on /health"
    }));
    Value::Object(table)
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
