//! Memory over time: which workerd process of a `wrangler dev` holds what (`procs`), and
//! the soak scenario: Pulse (WebSocket subscribers on one tenant, customer creates over
//! REST) and the minimal JS DO (subscribers in one room, a WebSocket publisher) under the
//! same message rate side by side, each system's workerd RSS sampled at a fixed interval.

use crate::client::{self, Socket};
use crate::scenarios::{self, Fanout};
use crate::systems::System;
use hdrhistogram::Histogram;
use pulse_testkit::Api;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// One workerd process of a system.
#[derive(Debug, Clone, Copy)]
pub struct Proc {
    pub pid: u32,
    /// Wrangler's proxy (listens on the public port and forwards every request and
    /// WebSocket); otherwise the runtime that runs the Worker, its Durable Objects, D1 and
    /// the other local bindings.
    pub proxy: bool,
    pub rss_kib: u64,
    /// RSS split as the kernel reports it: anonymous (heaps), file-backed (mapped files,
    /// code) and shared memory, KiB.
    pub anon_kib: u64,
    pub file_kib: u64,
    pub shmem_kib: u64,
}

/// The workerd processes in the system's process group, by role.
pub fn procs(sys: &System) -> Vec<Proc> {
    let Some(pgid) = sys.pgid() else {
        return vec![];
    };
    let entry = format!("entry=127.0.0.1:{}", sys.port);
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let p = e.path();
        let stat = std::fs::read_to_string(p.join("stat")).unwrap_or_default();
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let pgrp: u32 = after
            .split_whitespace()
            .nth(2)
            .and_then(|x| x.parse().ok())
            .unwrap_or(0);
        if pgrp != pgid {
            continue;
        }
        let cmd = std::fs::read_to_string(p.join("cmdline"))
            .unwrap_or_default()
            .replace('\0', " ");
        if !cmd.contains("workerd") {
            continue;
        }
        let status = std::fs::read_to_string(p.join("status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|x| x.parse::<u64>().ok())
                .unwrap_or(0)
        };
        out.push(Proc {
            pid,
            proxy: cmd.contains(&entry),
            rss_kib: field("VmRSS:"),
            anon_kib: field("RssAnon:"),
            file_kib: field("RssFile:"),
            shmem_kib: field("RssShmem:"),
        });
    }
    out.sort_by_key(|p| p.pid);
    out
}

/// RSS (KiB) of the runtime process(es) and of the proxy.
pub fn rss_split(sys: &System) -> (u64, u64) {
    procs(sys).iter().fold((0, 0), |(rt, px), p| {
        if p.proxy {
            (rt, px + p.rss_kib)
        } else {
            (rt + p.rss_kib, px)
        }
    })
}

/// A DevTools-protocol session on a system's Worker isolate, through wrangler's inspector
/// proxy (`--inspector-port`): V8 heap figures of the isolate that runs the Worker and,
/// locally, its Durable Objects.
pub struct Inspector {
    ws: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
    next: u64,
}

impl Inspector {
    pub fn connect(sys: &System) -> Result<Inspector, String> {
        use tungstenite::client::IntoClientRequest;
        if sys.inspector == 0 {
            return Err("no inspector port".into());
        }
        let mut req = format!("ws://127.0.0.1:{}/ws", sys.inspector)
            .into_client_request()
            .map_err(|e| e.to_string())?;
        // The proxy admits DevTools from local origins only.
        req.headers_mut()
            .insert("origin", "http://localhost".parse().unwrap());
        // Bounded waits throughout: a busy proxy must not stall the bench.
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], sys.inspector));
        let tcp = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        tcp.set_write_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        let (ws, _) =
            tungstenite::client::client(req, tungstenite::stream::MaybeTlsStream::Plain(tcp))
                .map_err(|e| e.to_string())?;
        if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
            let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        }
        Ok(Inspector { ws, next: 1 })
    }

    /// One protocol call; its `result`, or `{"error"}`. Events in between are dropped.
    pub fn call(&mut self, method: &str, params: Value, timeout: Duration) -> Value {
        let id = self.next;
        self.next += 1;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        if let Err(e) = self.ws.send(tungstenite::Message::text(msg)) {
            return json!({"error": e.to_string()});
        }
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match self.ws.read() {
                Ok(tungstenite::Message::Text(t)) => {
                    let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                    if v["id"] == id {
                        return v.get("result").cloned().unwrap_or(v);
                    }
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return json!({"error": e.to_string()}),
            }
        }
        json!({"error": "timeout"})
    }

    /// `usedSize` / `totalSize` of the V8 heap (bytes).
    pub fn heap(&mut self) -> Value {
        self.call("Runtime.getHeapUsage", json!({}), Duration::from_secs(10))
    }

    /// A heap snapshot (its chunks thrown away): V8 runs a full garbage collection first,
    /// so the heap figures right after it are the live objects only.
    pub fn collect(&mut self) -> Value {
        let r = self.call(
            "HeapProfiler.takeHeapSnapshot",
            json!({"reportProgress": false}),
            Duration::from_secs(120),
        );
        if r.get("error").is_some() {
            return r;
        }
        self.heap()
    }

    pub fn close(mut self) {
        let _ = self.ws.close(None);
        let _ = self.ws.flush();
    }
}

/// The Worker isolate's V8 heap (`Runtime.getHeapUsage`), on a fresh session.
pub fn v8_heap(sys: &System) -> Value {
    match Inspector::connect(sys) {
        Ok(mut i) => {
            let h = i.heap();
            i.close();
            h
        }
        Err(e) => json!({"error": e}),
    }
}

/// Listening TCP ports (127.0.0.1) of process `pid`.
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            l.to_string_lossy()
                .strip_prefix("socket:[")
                .map(|r| r.trim_end_matches(']').to_string())
        })
        .collect();
    std::fs::read_to_string(format!("/proc/{pid}/net/tcp"))
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // local address, state (0A = LISTEN), inode
            let (local, st, inode) = (f.get(1)?, f.get(3)?, f.get(9)?);
            if *st != "0A" || !inodes.iter().any(|i| i == inode) {
                return None;
            }
            u16::from_str_radix(local.rsplit(':').next()?, 16).ok()
        })
        .collect()
}

/// A plain GET on 127.0.0.1:`port`; `None` on any failure or a non-HTTP answer.
fn raw_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").ok()?;
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    let (head, body) = buf.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.").then(|| body.to_string())
}

/// V8 heap use of every isolate of the runtime process but the user Worker's (wrangler
/// holds that one's session; see `v8_heap`): miniflare's D1, rate-limit, entry and other
/// service workers, from workerd's own inspector.
pub fn service_heaps(sys: &System) -> Value {
    let Some(rt) = procs(sys).into_iter().find(|p| !p.proxy) else {
        return json!({});
    };
    let mut out = serde_json::Map::new();
    for port in listening_ports(rt.pid) {
        let Some(list) = raw_get(port, "/json/list") else {
            continue;
        };
        let Ok(Value::Array(targets)) = serde_json::from_str::<Value>(&list) else {
            continue;
        };
        for t in targets {
            let id = t["id"].as_str().unwrap_or("").to_string();
            if id.starts_with("core:user:") && !id.contains("observability") {
                continue;
            }
            let url = format!("ws://127.0.0.1:{port}/{id}");
            let Ok(mut ws) = Socket::open(&url, None) else {
                continue;
            };
            ws.set_read_timeout(Duration::from_millis(100));
            let _ = ws.try_send_text(r#"{"id":1,"method":"Runtime.getHeapUsage"}"#);
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline {
                if let Ok(Some(text)) = ws.try_read_text() {
                    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if v["id"] == 1 {
                        let r = &v["result"];
                        out.insert(
                            id.clone(),
                            json!([r["usedSize"], r["embedderHeapUsedSize"], r["totalSize"]]),
                        );
                        break;
                    }
                }
            }
            ws.close();
        }
        break;
    }
    Value::Object(out)
}

/// Pulse's dev-only memory figures from `/api/realtime/stats` (`memory`), for `tenant`.
pub fn pulse_memory(sys: &System, tenant: &str) -> Value {
    let api = Api::new(&sys.base);
    let tok = client::token(&sys.secret, tenant, "soak-admin", "admin");
    // The client panics on a transport error (a stalled runtime): report it instead.
    let Ok(r) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        api.get("/api/realtime/stats", &tok)
    })) else {
        return json!({"error": "no answer"});
    };
    if r.status != 200 {
        return json!({"status": r.status});
    }
    let v = r.body;
    json!({"memory": v["memory"], "websockets": v["connections"]["websocket"],
           "history_events": v["history"]["events"], "outbox": v["outbox"]})
}

pub struct SoakConfig {
    pub secs: u64,
    pub subscribers: usize,
    pub per_second: u32,
    pub sample_every: Duration,
    /// Pulse's publish: a customer create (`PulseRest`) or a hub append (`PulseHub`, dev
    /// only, no D1), to tell the hub's share from the REST path's.
    pub pulse_publish: Fanout,
}

/// Milliseconds since `t0`, as carried in the messages.
fn since(t0: Instant) -> u64 {
    t0.elapsed().as_millis() as u64
}

/// `soak:<k>:<sent ms>:` anywhere in a frame.
fn stamp(text: &str) -> Option<(u64, u64)> {
    let i = text.find("soak:")? + 5;
    let mut it = text[i..].splitn(3, ':');
    let k = it.next()?.parse().ok()?;
    let at = it.next()?.parse().ok()?;
    Some((k, at))
}

/// What one system's side of the soak shares between its threads.
struct Side {
    delivered: AtomicU64,
    published: AtomicU64,
    publish_errors: AtomicU64,
    dropped: AtomicU64,
    /// Worst publish → deliver latency (µs) since the last sample.
    window_max_us: AtomicU64,
}

impl Side {
    fn new() -> Arc<Side> {
        Arc::new(Side {
            delivered: AtomicU64::new(0),
            published: AtomicU64::new(0),
            publish_errors: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            window_max_us: AtomicU64::new(0),
        })
    }
}

/// Subscribers of one system, each on its own thread until `stop`; returns their
/// latency histograms.
fn subscribers(
    kind: Fanout,
    sys: &System,
    tenant: &str,
    n: usize,
    t0: Instant,
    side: Arc<Side>,
    stop: Arc<AtomicBool>,
) -> Result<mpsc::Receiver<Histogram<u64>>, String> {
    let (tx, rx) = mpsc::channel();
    let (rtx, rrx) = mpsc::channel::<Result<(), String>>();
    for i in 0..n {
        if i % 50 == 0 && i > 0 {
            std::thread::sleep(Duration::from_millis(30));
        }
        let (tx, rtx, side, stop, tenant) = (
            tx.clone(),
            rtx.clone(),
            side.clone(),
            stop.clone(),
            tenant.to_string(),
        );
        let shadow = (sys.ws_base(), sys.base.clone(), sys.secret.clone());
        std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn(move || {
                let sys = System::shadow(shadow.0, shadow.1, shadow.2);
                let mut sock = match scenarios::subscriber(kind, &sys, &tenant, i) {
                    Ok(s) => {
                        let _ = rtx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = rtx.send(Err(e));
                        return;
                    }
                };
                let mut hist = Histogram::<u64>::new(3).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    match sock.try_read_text() {
                        Ok(Some(t)) => {
                            if let Some((_, at)) = stamp(&t) {
                                let us = since(t0).saturating_sub(at) * 1000;
                                let _ = hist.record(us.max(1));
                                side.delivered.fetch_add(1, Ordering::Relaxed);
                                side.window_max_us.fetch_max(us, Ordering::Relaxed);
                            }
                        }
                        Ok(None) => {}
                        Err(_) => {
                            side.dropped.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                    }
                }
                let _ = tx.send(hist);
                sock.close();
            })
            .map_err(|e| e.to_string())?;
    }
    drop(rtx);
    let mut failed = 0;
    let mut first = None;
    for r in rrx.iter().take(n) {
        if let Err(e) = r {
            failed += 1;
            first.get_or_insert(e);
        }
    }
    if failed > n / 20 {
        return Err(format!(
            "{failed} of {n} subscribers failed: {}",
            first.unwrap_or_default()
        ));
    }
    Ok(rx)
}

/// Publishes `per_second` messages a second until `stop`, on a fixed schedule (a late
/// publish does not shift the ones after it).
fn publisher(
    kind: Fanout,
    sys: &System,
    tenant: &str,
    per_second: u32,
    t0: Instant,
    side: Arc<Side>,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    // Pulse: creates over REST from 4 threads, each cycling through 3 brokers, so no
    // caller comes near the per-user limit (600/min) and a slow request delays no other
    // thread. The JS DO: one WebSocket client whose messages the room broadcasts.
    let threads = if kind == Fanout::MinDo { 1 } else { 4 };
    let every = Duration::from_secs_f64(threads as f64 / per_second as f64);
    (0..threads)
        .map(|th| {
            let (side, stop, tenant) = (side.clone(), stop.clone(), tenant.to_string());
            let (base, ws_base, secret) = (sys.base.clone(), sys.ws_base(), sys.secret.clone());
            std::thread::spawn(move || {
                let api = Api::new(&base);
                let role = if kind == Fanout::PulseHub {
                    "admin"
                } else {
                    "broker"
                };
                let tokens: Vec<String> = (0..3)
                    .map(|u| client::token(&secret, &tenant, &format!("pub{th}-{u}"), role))
                    .collect();
                let mut sock: Option<Socket> = if kind == Fanout::MinDo {
                    client::ws(&format!("{ws_base}/room"), None).ok()
                } else {
                    None
                };
                if let Some(s) = sock.as_mut() {
                    s.set_read_timeout(Duration::from_millis(5));
                }
                // Padding so the JS DO's frames are about as large as Pulse's event frames.
                let pad = "x".repeat(240);
                let start = Instant::now() + every.mul_f64(th as f64 / threads as f64);
                let mut k: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    let due = start + every * k as u32;
                    // The JS DO's publisher also receives every broadcast: keep reading.
                    while Instant::now() < due {
                        match sock.as_mut() {
                            Some(s) => {
                                let _ = s.try_read_text();
                            }
                            None => std::thread::sleep(due - Instant::now()),
                        }
                    }
                    let id = k * threads as u64 + th as u64;
                    let m = format!("soak:{id}:{}:", since(t0));
                    let ok = match sock.as_mut() {
                        Some(s) => s.try_send_text(&format!("{m}{pad}")).is_ok(),
                        None => {
                            let tok = &tokens[k as usize % tokens.len()];
                            let (path, body) = if kind == Fanout::PulseHub {
                                ("/api/dev/hub-append", json!({"type": "system:soak", "channels": ["tenant"], "data": {"m": m}}))
                            } else {
                                ("/api/crm/customers", json!({"name": m}))
                            };
                            let st = api.status("POST", path, Some(tok), Some(&body.to_string()));
                            (200..300).contains(&st)
                        }
                    };
                    if ok {
                        side.published.fetch_add(1, Ordering::Relaxed);
                    } else {
                        side.publish_errors.fetch_add(1, Ordering::Relaxed);
                    }
                    k += 1;
                }
                if let Some(s) = sock {
                    s.close();
                }
            })
        })
        .collect()
}

/// Runs both systems' soak at once and returns the series and the summary.
/// `hono`: a control beside them, Hono on D1 taking the same customer creates (no
/// subscribers, no realtime): what a plain JS Worker's REST writes cost locally.
pub fn soak(
    pulse: &System,
    min_do: &System,
    hono: &System,
    cfg: &SoakConfig,
) -> Result<Value, String> {
    let tenant = "soak";
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let (ps, ms, hs) = (Side::new(), Side::new(), Side::new());
    let p_rx = subscribers(
        cfg.pulse_publish,
        pulse,
        tenant,
        cfg.subscribers,
        t0,
        ps.clone(),
        stop.clone(),
    )?;
    let m_rx = subscribers(
        Fanout::MinDo,
        min_do,
        tenant,
        cfg.subscribers,
        t0,
        ms.clone(),
        stop.clone(),
    )?;
    std::thread::sleep(Duration::from_secs(2));
    let mut pubs = publisher(
        cfg.pulse_publish,
        pulse,
        tenant,
        cfg.per_second,
        t0,
        ps.clone(),
        stop.clone(),
    );
    pubs.extend(publisher(
        Fanout::MinDo,
        min_do,
        tenant,
        cfg.per_second,
        t0,
        ms.clone(),
        stop.clone(),
    ));
    pubs.extend(publisher(
        Fanout::PulseRest,
        hono,
        tenant,
        cfg.per_second,
        t0,
        hs.clone(),
        stop.clone(),
    ));
    let started = Instant::now();
    let mut samples = vec![];
    let detail = |sys: &System| -> Value {
        procs(sys)
            .iter()
            .filter(|p| !p.proxy)
            .map(|p| json!({"anon_kib": p.anon_kib, "file_kib": p.file_kib, "shmem_kib": p.shmem_kib}))
            .collect()
    };
    let sample = |at: f64| {
        let (prt, ppx) = rss_split(pulse);
        let (mrt, mpx) = rss_split(min_do);
        let (hrt, hpx) = rss_split(hono);
        let s = json!({
            "t_s": at,
            "pulse": {"runtime_kib": prt, "proxy_kib": ppx, "runtime_detail": detail(pulse), "v8": v8_heap(pulse), "services_v8": service_heaps(pulse),
                      "published": ps.published.load(Ordering::Relaxed),
                      "publish_errors": ps.publish_errors.load(Ordering::Relaxed),
                      "delivered": ps.delivered.load(Ordering::Relaxed),
                      "window_max_ms": ps.window_max_us.swap(0, Ordering::Relaxed) / 1000,
                      "stats": pulse_memory(pulse, tenant)},
            "min_do": {"runtime_kib": mrt, "proxy_kib": mpx, "runtime_detail": detail(min_do), "v8": v8_heap(min_do),
                       "published": ms.published.load(Ordering::Relaxed),
                       "delivered": ms.delivered.load(Ordering::Relaxed),
                       "window_max_ms": ms.window_max_us.swap(0, Ordering::Relaxed) / 1000},
            "hono": {"runtime_kib": hrt, "proxy_kib": hpx, "v8": v8_heap(hono),
                     "published": hs.published.load(Ordering::Relaxed),
                     "publish_errors": hs.publish_errors.load(Ordering::Relaxed)},
        });
        let used = |v: &Value| v["usedSize"].as_u64().unwrap_or(0) / 1024;
        eprintln!(
            "soak t={at:.0}s pulse runtime {prt} KiB (v8 {} KiB) proxy {ppx} KiB, {} published, {} delivered, {} | min_do runtime {mrt} KiB (v8 {} KiB) proxy {mpx} KiB, {} published, {} delivered | hono runtime {hrt} KiB (v8 {} KiB) proxy {hpx} KiB, {} published",
            used(&s["pulse"]["v8"]), s["pulse"]["published"], s["pulse"]["delivered"], s["pulse"]["stats"]["memory"],
            used(&s["min_do"]["v8"]), s["min_do"]["published"], s["min_do"]["delivered"],
            used(&s["hono"]["v8"]), s["hono"]["published"]
        );
        s
    };
    samples.push(sample(0.0));
    let end = started + Duration::from_secs(cfg.secs);
    let mut next = started + cfg.sample_every;
    while next <= end {
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        samples.push(sample(started.elapsed().as_secs_f64().round()));
        next += cfg.sample_every;
    }
    stop.store(true, Ordering::Relaxed);
    for h in pubs {
        let _ = h.join();
    }
    let hist = |rx: mpsc::Receiver<Histogram<u64>>| {
        let mut all = Histogram::<u64>::new(3).unwrap();
        for h in rx.iter() {
            let _ = all.add(h);
        }
        json!({"p50_ms": all.value_at_quantile(0.5) as f64 / 1000.0,
               "p99_ms": all.value_at_quantile(0.99) as f64 / 1000.0,
               "max_ms": all.max() as f64 / 1000.0})
    };
    let (pl, ml) = (hist(p_rx), hist(m_rx));
    // A full collection in each Worker isolate, then RSS again: what stays is held, not
    // garbage waiting for the collector.
    let after_gc = |sys: &System| {
        let v8 = match Inspector::connect(sys) {
            Ok(mut i) => {
                let h = i.collect();
                i.close();
                h
            }
            Err(e) => json!({"error": e}),
        };
        std::thread::sleep(Duration::from_secs(2));
        let (rt, px) = rss_split(sys);
        json!({"v8": v8, "runtime_kib": rt, "proxy_kib": px})
    };
    let gc = json!({"pulse": after_gc(pulse), "min_do": after_gc(min_do), "hono": after_gc(hono)});
    eprintln!("soak: after a full collection {gc}");
    let summary = |name: &str, side: &Side, latency: Value| {
        let series: Vec<(f64, u64)> = samples
            .iter()
            .map(|s| {
                (
                    s["t_s"].as_f64().unwrap_or(0.0),
                    s[name]["runtime_kib"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        let at = |t: f64| {
            series
                .iter()
                .find(|(s, _)| *s >= t)
                .or(series.last())
                .map(|x| x.1)
                .unwrap_or(0)
        };
        let first = series.first().map(|x| x.1).unwrap_or(0);
        let last = series.last().map(|x| x.1).unwrap_or(0);
        let two = at(120.0);
        let published = side.published.load(Ordering::Relaxed);
        let delivered = side.delivered.load(Ordering::Relaxed);
        json!({
            "runtime_kib_start": first, "runtime_kib_2min": two, "runtime_kib_end": last,
            "end_over_2min": if two > 0 { last as f64 / two as f64 } else { f64::NAN },
            "growth_from_2min_kib": last as i64 - two as i64,
            "growth_from_start_kib": last as i64 - first as i64,
            "published": published,
            "publish_errors": side.publish_errors.load(Ordering::Relaxed),
            "delivered": delivered,
            "delivered_fraction": if published > 0 { delivered as f64 / (published as f64 * cfg.subscribers as f64) } else { 0.0 },
            "subscribers_dropped": side.dropped.load(Ordering::Relaxed),
            "latency": latency,
        })
    };
    let out = json!({
        "seconds": cfg.secs,
        "subscribers": cfg.subscribers,
        "per_second": cfg.per_second,
        "sample_every_s": cfg.sample_every.as_secs(),
        "pulse": summary("pulse", &ps, pl),
        "min_do": summary("min_do", &ms, ml),
        "hono": summary("hono", &hs, Value::Null),
        "after_full_gc": gc,
        "samples": samples,
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_found_in_any_frame() {
        assert_eq!(stamp("soak:12:3400:xxxx"), Some((12, 3400)));
        assert_eq!(
            stamp(r#"{"op":"event","data":{"name":"soak:7:99:"}}"#),
            Some((7, 99))
        );
        assert_eq!(stamp("hello"), None);
    }
}
