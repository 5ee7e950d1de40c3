//! The scenarios: fan-out (N subscribers, a burst of publishes), REST (list and create at
//! a concurrency), resume (replay after a gap), idle (hibernating connections and memory).
//! Each returns plain numbers; `main` alternates the systems and aggregates.

use crate::client::{self, Socket};
use crate::systems::System;
use hdrhistogram::Histogram;
use pulse_testkit::Api;
use serde_json::{json, Value};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fanout {
    /// Pulse, publish = a REST write (D1 + outbox + hub).
    PulseRest,
    /// Pulse, publish = an append straight into the hub DO (no D1).
    PulseHub,
    /// Pulse's Socket.IO endpoint, publish = a hub append (as `PulseHub`).
    PulseSocketIo,
    MinDo,
    Party,
    SocketIo,
}

impl Fanout {
    pub fn name(self) -> &'static str {
        match self {
            Fanout::PulseRest => "pulse (REST write → outbox → hub)",
            Fanout::PulseHub => "pulse (hub append, no D1)",
            Fanout::PulseSocketIo => "pulse Socket.IO (hub append, no D1)",
            Fanout::MinDo => "minimal JS DO",
            Fanout::Party => "partyserver",
            Fanout::SocketIo => "socket.io (Node 24)",
        }
    }
}

pub struct FanoutResult {
    pub deliveries_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub delivered: f64,
}

fn marker(text: &str) -> Option<u32> {
    let i = text.find("bmk:")? + 4;
    let rest = &text[i..];
    let end = rest.find(':')?;
    rest[..end].parse().ok()
}

/// Opens one subscriber and waits until it is ready to receive.
pub fn subscriber(kind: Fanout, sys: &System, tenant: &str, i: usize) -> Result<Socket, String> {
    match kind {
        Fanout::PulseRest | Fanout::PulseHub => {
            let tok = client::token(&sys.secret, tenant, &format!("s{i}"), "viewer");
            let mut s = client::ws(&format!("{}/api/realtime/ws", sys.ws_base()), Some(&tok))?;
            s.try_send_text(r#"{"op":"subscribe","channels":["tenant"]}"#)?;
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Some(t) = s.try_read_text()? {
                    if t.contains("\"subscribed\"") {
                        return Ok(s);
                    }
                }
            }
            Err("no subscribed frame".into())
        }
        Fanout::PulseSocketIo => {
            let tok = client::token(&sys.secret, tenant, &format!("s{i}"), "viewer");
            let url = format!(
                "{}/socket.io/?EIO=4&transport=websocket&tenant={tenant}&token={tok}",
                sys.ws_base()
            );
            let mut s = client::ws(&url, None)?;
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                match s.try_read_text()? {
                    // `?token=` keys the Worker's rate limit per user: 500 handshakes from
                    // one address would otherwise meet the per-address limit.
                    Some(t) if t.starts_with("0{") => s.try_send_text("40")?,
                    Some(t) if t.starts_with(r#"42["connected""#) => return Ok(s),
                    Some(t) if t.starts_with("44") => return Err(t),
                    _ => {}
                }
            }
            Err("no connected event".into())
        }
        Fanout::MinDo => client::ws(&format!("{}/room", sys.ws_base()), None),
        Fanout::Party => client::ws(&format!("{}/parties/bench/room1", sys.ws_base()), None),
        Fanout::SocketIo => socketio_connect(sys),
    }
}

fn socketio_connect(sys: &System) -> Result<Socket, String> {
    let mut s = client::ws(
        &format!("{}/socket.io/?EIO=4&transport=websocket", sys.ws_base()),
        None,
    )?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut opened = false;
    while Instant::now() < deadline {
        match s.try_read_text()? {
            Some(t) if t.starts_with('0') && !opened => {
                opened = true;
                s.try_send_text("40")?;
            }
            Some(t) if t.starts_with("40") => return Ok(s),
            _ => {}
        }
    }
    Err("socket.io handshake timed out".into())
}

struct Publisher {
    kind: Fanout,
    api: Api,
    token: String,
    sock: Option<Socket>,
}

impl Publisher {
    fn new(kind: Fanout, sys: &System, tenant: &str) -> Publisher {
        let (token, sock) = match kind {
            Fanout::PulseRest => (client::token(&sys.secret, tenant, "pub", "broker"), None),
            Fanout::PulseHub | Fanout::PulseSocketIo => {
                (client::token(&sys.secret, tenant, "pub", "admin"), None)
            }
            Fanout::MinDo | Fanout::Party => (
                String::new(),
                subscriber(kind, sys, tenant, usize::MAX).ok(),
            ),
            Fanout::SocketIo => (String::new(), socketio_connect(sys).ok()),
        };
        Publisher {
            kind,
            api: Api::new(&sys.base),
            token,
            sock,
        }
    }

    fn publish(&mut self, k: u32) {
        let m = format!("bmk:{k}:");
        match self.kind {
            Fanout::PulseRest => {
                let body = json!({"name": m}).to_string();
                self.api
                    .status("POST", "/api/crm/customers", Some(&self.token), Some(&body));
            }
            Fanout::PulseHub | Fanout::PulseSocketIo => {
                let body =
                    json!({"type": "system:bench", "channels": ["tenant"], "data": {"m": m}})
                        .to_string();
                self.api.status(
                    "POST",
                    "/api/dev/hub-append",
                    Some(&self.token),
                    Some(&body),
                );
            }
            Fanout::MinDo | Fanout::Party => {
                if let Some(s) = self.sock.as_mut() {
                    let _ = s.try_send_text(&m);
                }
            }
            Fanout::SocketIo => {
                if let Some(s) = self.sock.as_mut() {
                    let _ = s.try_send_text(&format!(r#"42["publish","{m}"]"#));
                }
            }
        }
    }
}

/// N subscribers, then `m` publishes back to back; every delivery's latency is measured
/// from its publish call's start.
pub fn fanout(
    kind: Fanout,
    sys: &System,
    n: usize,
    m: u32,
    tenant: &str,
) -> Result<FanoutResult, String> {
    let ready = Arc::new(Barrier::new(n + 1));
    let (tx, rx) = mpsc::channel::<Vec<(u32, Instant)>>();
    let (etx, erx) = mpsc::channel::<String>();
    let start_gate = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Connect in waves so the dev proxy is not flooded.
    let per_wave = 50;
    let mut handles = Vec::new();
    for i in 0..n {
        let (tx, etx, ready, tenant) = (tx.clone(), etx.clone(), ready.clone(), tenant.to_string());
        let sys_ws = (kind, sys.ws_base(), sys.base.clone(), sys.secret.clone());
        let gate = start_gate.clone();
        if i % per_wave == 0 && i > 0 {
            std::thread::sleep(Duration::from_millis(30));
        }
        let h = std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn(move || {
                let shadow = System::shadow(sys_ws.1.clone(), sys_ws.2.clone(), sys_ws.3.clone());
                let sock = subscriber(sys_ws.0, &shadow, &tenant, i);
                let mut sock = match sock {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = etx.send(e);
                        ready.wait();
                        return;
                    }
                };
                ready.wait();
                let mut got = Vec::with_capacity(m as usize);
                let deadline = Instant::now() + Duration::from_secs(60);
                while (got.len() as u32) < m && Instant::now() < deadline {
                    match sock.try_read_text() {
                        Ok(Some(t)) => {
                            if t == "2" {
                                let _ = sock.try_send_text("3");
                                continue;
                            }
                            if let Some(k) = marker(&t) {
                                if gate.load(std::sync::atomic::Ordering::Relaxed) {
                                    got.push((k, Instant::now()));
                                }
                            }
                        }
                        Ok(None) => {}
                        Err(_) => break,
                    }
                }
                let _ = tx.send(got);
                sock.close();
            })
            .map_err(|e| e.to_string())?;
        handles.push(h);
    }
    drop(tx);
    drop(etx);
    let mut publisher = Publisher::new(kind, sys, tenant);
    ready.wait();
    let errors: Vec<String> = erx.try_iter().collect();
    if errors.len() > n / 20 {
        return Err(format!(
            "{} of {n} subscribers failed: {}",
            errors.len(),
            errors[0]
        ));
    }
    std::thread::sleep(Duration::from_millis(300));
    start_gate.store(true, std::sync::atomic::Ordering::Relaxed);
    let t0 = Instant::now();
    let sent: Vec<Instant> = if matches!(
        kind,
        Fanout::PulseRest | Fanout::PulseHub | Fanout::PulseSocketIo
    ) {
        // HTTP publishes go out concurrently (one connection each), so the burst is not
        // paced by request round trips (the WebSocket peers fire theirs without waiting).
        let go = Arc::new(Barrier::new(m as usize + 1));
        let hs: Vec<_> = (0..m)
            .map(|k| {
                let go = go.clone();
                let mut p = Publisher::new(kind, sys, tenant);
                p.token = client::token(
                    &sys.secret,
                    tenant,
                    &format!("pub{k}"),
                    if kind == Fanout::PulseRest {
                        "broker"
                    } else {
                        "admin"
                    },
                );
                std::thread::spawn(move || {
                    go.wait();
                    let at = Instant::now();
                    p.publish(k);
                    at
                })
            })
            .collect();
        go.wait();
        hs.into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Instant::now()))
            .collect()
    } else {
        let mut v = Vec::with_capacity(m as usize);
        for k in 0..m {
            v.push(Instant::now());
            publisher.publish(k);
        }
        v
    };
    let t0 = sent.iter().min().copied().unwrap_or(t0);
    let mut hist = Histogram::<u64>::new(3).unwrap();
    let mut deliveries = 0u64;
    let mut last = t0;
    for got in rx.iter() {
        for (k, at) in got {
            let Some(s) = sent.get(k as usize) else {
                continue;
            };
            let us = at.saturating_duration_since(*s).as_micros() as u64;
            let _ = hist.record(us.max(1));
            deliveries += 1;
            last = last.max(at);
        }
    }
    for h in handles {
        let _ = h.join();
    }
    let span = last.saturating_duration_since(t0).as_secs_f64().max(1e-6);
    Ok(FanoutResult {
        deliveries_per_s: deliveries as f64 / span,
        p50_ms: hist.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: hist.value_at_quantile(0.99) as f64 / 1000.0,
        max_ms: hist.max() as f64 / 1000.0,
        delivered: deliveries as f64 / (n as f64 * m as f64),
    })
}

pub struct RestResult {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

/// `conc` threads calling list (50 rows) or create for `secs`. Tokens rotate users every
/// 300 calls (Pulse's per-user rate limit is 600/min; the peer has none).
pub fn rest(
    sys: &System,
    tenant: &str,
    create: bool,
    conc: usize,
    secs: f64,
    round: usize,
) -> RestResult {
    let (tx, rx) = mpsc::channel::<(Histogram<u64>, u64, u64)>();
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut hs = Vec::new();
    for th in 0..conc {
        let (tx, base, secret, tenant) = (
            tx.clone(),
            sys.base.clone(),
            sys.secret.clone(),
            tenant.to_string(),
        );
        hs.push(std::thread::spawn(move || {
            let api = Api::new(&base);
            let mut hist = Histogram::<u64>::new(3).unwrap();
            let (mut ok, mut bad) = (0u64, 0u64);
            let mut tok = String::new();
            let mut n = 0u64;
            while Instant::now() < deadline {
                if n.is_multiple_of(300) {
                    tok = client::token(
                        &secret,
                        &tenant,
                        &format!("r{round}-{create}-{conc}-{th}-{}", n / 300),
                        "broker",
                    );
                }
                n += 1;
                let t = Instant::now();
                let status = if create {
                    api.status(
                        "POST",
                        "/api/crm/customers",
                        Some(&tok),
                        Some(r#"{"name":"bench customer"}"#),
                    )
                } else {
                    api.status("GET", "/api/crm/customers?limit=50", Some(&tok), None)
                };
                let _ = hist.record((t.elapsed().as_micros() as u64).max(1));
                if (200..300).contains(&status) {
                    ok += 1;
                } else {
                    bad += 1;
                }
            }
            let _ = tx.send((hist, ok, bad));
        }));
    }
    drop(tx);
    let mut hist = Histogram::<u64>::new(3).unwrap();
    let (mut ok, mut bad) = (0, 0);
    for (h, o, b) in rx.iter() {
        let _ = hist.add(h);
        ok += o;
        bad += b;
    }
    for h in hs {
        let _ = h.join();
    }
    RestResult {
        rps: ok as f64 / secs,
        p50_ms: hist.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: hist.value_at_quantile(0.99) as f64 / 1000.0,
        errors: bad,
    }
}

/// Seeds `rows` customers for the list scenario.
pub fn seed(sys: &System, tenant: &str, rows: usize) {
    let api = Api::new(&sys.base);
    for k in 0..rows {
        let tok = client::token(&sys.secret, tenant, &format!("seed{}", k / 300), "broker");
        let body = json!({"name": format!("Customer {k}"), "phone": "+34 600 000 000"}).to_string();
        api.status("POST", "/api/crm/customers", Some(&tok), Some(&body));
    }
}

/// Resume: `gap` events are appended (hub only, in batches), then a client subscribes
/// with `since` = the head before them; the time until the last replayed event arrives.
pub fn resume(sys: &System, tenant: &str, gap: usize) -> Result<f64, String> {
    let api = Api::new(&sys.base);
    let admin = client::token(&sys.secret, tenant, "admin", "admin");
    let tok = client::token(&sys.secret, tenant, "reader", "viewer");
    let mut probe = client::ws(&format!("{}/api/realtime/ws", sys.ws_base()), Some(&tok))?;
    probe.try_send_text(r#"{"op":"subscribe","channels":["tenant"]}"#)?;
    let mut head = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while head.is_none() && Instant::now() < deadline {
        if let Some(t) = probe.try_read_text()? {
            let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
            if v["op"] == "subscribed" {
                head = v["head"].as_u64();
            }
        }
    }
    let head = head.ok_or("no head")?;
    probe.close();
    let mut left = gap;
    while left > 0 {
        let n = left.min(500);
        let body = json!({"type": "system:bench", "channels": ["tenant"], "data": {"k": "x"}, "repeat": n}).to_string();
        let s = api.status("POST", "/api/dev/hub-append", Some(&admin), Some(&body));
        if s != 202 {
            return Err(format!("hub-append answered {s}"));
        }
        left -= n;
    }
    let t = Instant::now();
    let mut s = client::ws(&format!("{}/api/realtime/ws", sys.ws_base()), Some(&tok))?;
    s.set_read_timeout(Duration::from_millis(50));
    s.try_send_text(&format!(
        r#"{{"op":"subscribe","channels":["tenant"],"since":{head}}}"#
    ))?;
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen < gap && Instant::now() < deadline {
        if let Some(text) = s.try_read_text()? {
            if text.contains("\"op\":\"event\"") {
                seen += 1;
            }
        }
    }
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    s.close();
    if seen < gap {
        return Err(format!("replayed {seen} of {gap}"));
    }
    Ok(ms)
}

pub struct IdleResult {
    pub open: usize,
    /// Runtime (Worker, Durable Objects, local bindings) and wrangler-proxy RSS, KiB.
    pub before: (u64, u64),
    pub after: (u64, u64),
    /// Still open: the caller reads whatever else it wants first, then drops them.
    pub socks: Vec<Socket>,
}

/// Idle: `n` connections that subscribe (Pulse) or just connect (minimal DO) and stay
/// silent; the RSS of the system's workerd processes before and after, once the hub had
/// time to hibernate. A few connections are opened and closed first, so the one-off
/// costs (the hub's first instance, the first upgrade's code paths) are in the baseline.
pub fn idle(sys: &System, pulse: bool, tenant: &str, n: usize) -> Result<IdleResult, String> {
    let open = |i: usize| {
        if pulse {
            subscriber(Fanout::PulseHub, sys, tenant, 100_000 + i)
        } else {
            subscriber(Fanout::MinDo, sys, tenant, i)
        }
    };
    for i in 0..10 {
        open(n + i)?.close();
    }
    std::thread::sleep(Duration::from_secs(15));
    let before = crate::soak::rss_split(sys);
    let mut socks = Vec::with_capacity(n);
    for i in 0..n {
        match open(i) {
            Ok(s) => socks.push(s),
            Err(e) => {
                eprintln!("idle: connection {i} failed: {e}");
                break;
            }
        }
    }
    std::thread::sleep(Duration::from_secs(15));
    let after = crate::soak::rss_split(sys);
    Ok(IdleResult {
        open: socks.len(),
        before,
        after,
        socks,
    })
}
