//! Realtime sees exactly what REST allows: entity, user and finance channels, money in the
//! dashboard and its snapshots, job events and history limits, over WebSocket, SSE and
//! REST history, live and replayed.

use crate::assertions as check;
use crate::client::{Sse, Ws};
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const EVENTS: &str = "/api/realtime/events";

fn history(cx: &Ctx, token: &str, query: &str) -> crate::client::Resp {
    cx.api
        .get(&format!("{EVENTS}?since=0&limit=1000&{query}"), token)
}

fn types(events: &Value) -> Vec<String> {
    events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

/// Subscribes and returns the first answer (`subscribed` or `error`).
fn try_subscribe(ws: &mut Ws, channels: &[&str], since: Option<u64>) -> Value {
    let mut f = json!({"op": "subscribe", "channels": channels});
    if let Some(s) = since {
        f["since"] = s.into();
    }
    ws.send(&f);
    ws.expect("subscribed or error")
}

fn refused(ws: &mut Ws, channels: &[&str]) {
    let f = try_subscribe(ws, channels, Some(0));
    assert_eq!(
        f["op"], "error",
        "expected a refusal of {channels:?}, got {f}"
    );
    assert_eq!(f["code"], "forbidden", "{f}");
    // Nothing is replayed after a refusal.
    assert!(ws.drain(Duration::from_millis(400)).is_empty());
}

/// Polls the history as `token` until an event of `kind` shows up.
fn wait_in_history(cx: &Ctx, token: &str, query: &str, kind: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h = history(cx, token, query);
        check::status(&h, 200);
        if let Some(e) = h.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == kind)
        {
            return e.clone();
        }
        assert!(Instant::now() < deadline, "no {kind} in {}", h.body);
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `entity:user:<id>` and `users:*` events: admins and that user only, on every transport.
pub fn user_channel_follows_rest(cx: &mut Ctx) {
    let t = fresh_tenant("sec-user");
    let admin = cx.token(&t, "a1", "admin");
    let r = cx.api.post(
        "/api/users",
        &admin,
        &json!({"email": "kim@example.test", "name": "Kim", "role": "broker", "password": "kim-password-1"}),
    );
    check::status(&r, 201);
    let id = r.body["id"].as_str().unwrap().to_string();
    let ch = format!("entity:user:{id}");
    let viewer = cx.token(&t, "v1", "viewer");
    let broker = cx.token(&t, "b1", "broker");
    // REST refuses; so does every realtime path.
    check::error(
        &cx.api.get(&format!("/api/users/{id}"), &viewer),
        403,
        "forbidden",
    );
    for tok in [&viewer, &broker] {
        check::error(
            &history(cx, tok, &format!("channels={ch}")),
            403,
            "forbidden",
        );
        let mut ws = Ws::connect(&cx.server.base, tok);
        refused(&mut ws, &[ch.as_str()]);
        // A forbidden channel next to an allowed one refuses the whole subscribe.
        refused(&mut ws, &["tenant", ch.as_str()]);
        let sse = Sse::open(
            &cx.server.base,
            &format!("/api/realtime/stream?token={tok}&channels={ch}"),
            None,
        );
        assert_eq!(sse.status, 403, "{}", sse.body);
        // Whole-tenant and own-role readers never get the user's events either.
        let h = history(cx, tok, "channels=tenant,role:viewer,role:broker");
        if h.status == 200 {
            assert!(
                !types(&h.body).iter().any(|k| k.starts_with("users:")),
                "{}",
                h.body
            );
        }
    }
    // The admin and the user themself read it, replayed from 0.
    let e = wait_in_history(cx, &admin, &format!("channels={ch}"), "users:user:created");
    assert_eq!(e["data"]["email"], "kim@example.test");
    let me = cx.token(&t, &id, "broker");
    let mut ws = Ws::connect(&cx.server.base, &me);
    let sub = try_subscribe(&mut ws, &[ch.as_str()], Some(0));
    assert_eq!(sub["op"], "subscribed", "{sub}");
    check::event(&ws.next_event(), "users:user:created");
}

/// Sale, payment and commission data: admins and the sale's broker only, live and replayed.
pub fn finance_channels_follow_rest(cx: &mut Ctx) {
    let t = fresh_tenant("sec-fin");
    let b1 = cx.token(&t, "b1", "broker");
    let b2 = cx.token(&t, "b2", "broker");
    let viewer = cx.token(&t, "v1", "viewer");
    let admin = cx.token(&t, "a1", "admin");
    // Live listeners on the whole tenant, subscribed before anything happens.
    let mut live_b2 = Ws::connect(&cx.server.base, &b2);
    live_b2.subscribe(&["tenant", "user:b2", "role:broker"], None);
    let mut live_v = Ws::connect(&cx.server.base, &viewer);
    live_v.subscribe(&["tenant", "user:v1", "role:viewer"], None);
    let c = cx
        .api
        .post("/api/crm/customers", &b1, &json!({"name": "Buyer"}));
    check::status(&c, 201);
    let s = cx.api.post(
        "/api/finance/sales",
        &b1,
        &json!({"customer_id": c.body["id"], "total_minor": 100_000, "currency": "EUR"}),
    );
    check::status(&s, 201);
    let sid = s.body["id"].as_str().unwrap().to_string();
    let p = cx.api.post(
        "/api/finance/payments",
        &b1,
        &json!({"sale_id": sid, "amount_minor": 1_000, "currency": "EUR", "method": "cash"}),
    );
    check::status(&p, 201);
    let ch = format!("entity:sale:{sid}");
    // REST: the other broker and the viewer cannot read the sale.
    check::error(
        &cx.api.get(&format!("/api/finance/sales/{sid}"), &b2),
        403,
        "forbidden",
    );
    check::error(
        &cx.api.get(&format!("/api/finance/sales/{sid}"), &viewer),
        403,
        "forbidden",
    );
    assert!(cx.api.get("/api/finance/sales", &b2).body["data"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(cx.api.get("/api/finance/payments", &b2).body["data"]
        .as_array()
        .unwrap()
        .is_empty());
    // Nor pay into it (the answer would show its balance).
    check::error(
        &cx.api.post(
            "/api/finance/payments",
            &b2,
            &json!({"sale_id": sid, "amount_minor": 1, "currency": "EUR", "method": "cash"}),
        ),
        403,
        "forbidden",
    );
    // Realtime refuses the sale's channel to them, on every transport.
    for tok in [&b2, &viewer] {
        check::error(
            &history(cx, tok, &format!("channels={ch}")),
            403,
            "forbidden",
        );
        let mut ws = Ws::connect(&cx.server.base, tok);
        refused(&mut ws, &[ch.as_str()]);
    }
    // The sale's broker and admins replay it, commission included.
    let e = wait_in_history(cx, &b1, &format!("channels={ch}"), "finance:sale:created");
    assert_eq!(e["data"]["commission"]["amount_minor"], 3_000);
    wait_in_history(
        cx,
        &admin,
        &format!("channels={ch}"),
        "finance:payment:received",
    );
    let mut own = Ws::connect(&cx.server.base, &b1);
    assert_eq!(
        try_subscribe(&mut own, &[ch.as_str()], Some(0))["op"],
        "subscribed"
    );
    check::event(&own.next_event(), "finance:sale:created");
    // Nothing of it reached the other broker or the viewer live, nor is it in their
    // history of every channel they may read.
    for (ws, tok) in [(&mut live_b2, &b2), (&mut live_v, &viewer)] {
        let got: Vec<Value> = ws.drain(Duration::from_secs(2));
        assert!(
            !got.iter().any(|f| f["type"]
                .as_str()
                .is_some_and(|k| k.starts_with("finance:"))),
            "{got:?}"
        );
        let h = history(cx, tok, "");
        assert!(
            !types(&h.body).iter().any(|k| k.starts_with("finance:")),
            "{}",
            h.body
        );
    }
}

/// Money figures: admins all, brokers their own, viewers none, in REST, the `dashboard`
/// snapshot channel and `reports:dashboard:updated`; report jobs stay with admins.
pub fn money_and_reports_follow_rest(cx: &mut Ctx) {
    let t = fresh_tenant("sec-money");
    let b1 = cx.token(&t, "b1", "broker");
    let b2 = cx.token(&t, "b2", "broker");
    let viewer = cx.token(&t, "v1", "viewer");
    let admin = cx.token(&t, "a1", "admin");
    let c = cx
        .api
        .post("/api/crm/customers", &b1, &json!({"name": "Buyer"}));
    check::status(&c, 201);
    for (tok, total) in [(&b1, 70_000), (&b2, 5_000)] {
        let s = cx.api.post(
            "/api/finance/sales",
            tok,
            &json!({"customer_id": c.body["id"], "total_minor": total, "currency": "EUR"}),
        );
        check::status(&s, 201);
    }
    let eur = |d: &Value| d["sales"]["by_currency"]["EUR"]["total_minor"].clone();
    let a = cx.api.get("/api/dashboard", &admin).body;
    assert_eq!(eur(&a), 75_000);
    assert_eq!(a["by_broker"]["b2"]["sales"]["count"], 1);
    let b = cx.api.get("/api/dashboard", &b2).body;
    assert_eq!(eur(&b), 5_000, "{b}");
    assert_eq!(b["money_scope"], "own");
    assert!(b.get("by_broker").is_none());
    let v = cx.api.get("/api/dashboard", &viewer).body;
    assert!(
        v.get("sales").is_none() && v.get("commissions").is_none(),
        "{v}"
    );
    assert!(v.get("by_broker").is_none());
    assert!(v["customers"]["total"].as_u64().is_some());
    // The snapshot channel gives each reader the same view as REST.
    for (tok, expect) in [
        (&viewer, Value::Null),
        (&b2, json!(5_000)),
        (&admin, json!(75_000)),
    ] {
        let mut ws = Ws::connect(&cx.server.base, tok);
        ws.subscribe(&["dashboard"], None);
        let snap = ws.expect("snapshot");
        assert_eq!(snap["op"], "snapshot", "{snap}");
        assert_eq!(eur(&snap["data"]), expect, "{snap}");
    }
    // `reports:dashboard:updated` in the history: the viewer's copy has no money, the
    // broker's has only their own.
    let hv = wait_in_history(cx, &viewer, "channels=tenant", "reports:dashboard:updated");
    assert!(hv["data"].get("sales").is_none(), "{hv}");
    let hb = wait_in_history(cx, &b1, "channels=tenant", "reports:dashboard:updated");
    assert!(hb["data"].get("by_broker").is_none(), "{hb}");
    // A report (admin only over REST) and its job's events stay with admins.
    let from = chrono::Utc::now() - chrono::Duration::minutes(5);
    let to = chrono::Utc::now() + chrono::Duration::minutes(5);
    let r = cx.api.post(
        "/api/reports",
        &admin,
        &json!({"kind": "sales_summary", "format": "json", "from": from.to_rfc3339(), "to": to.to_rfc3339()}),
    );
    check::status(&r, 202);
    let job = r.body["job_id"].as_str().unwrap().to_string();
    let done = wait_in_history(cx, &admin, "channels=tenant", "job:completed");
    assert_eq!(done["data"]["id"], job.as_str());
    for tok in [&b1, &viewer] {
        check::error(
            &cx.api.get(&format!("/api/jobs/{job}"), tok),
            404,
            "not_found",
        );
        let h = history(cx, tok, "");
        assert!(
            !h.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["data"]["id"] == job.as_str()
                    || e["type"].as_str().unwrap().starts_with("reports:generated")),
            "{}",
            h.body
        );
        check::error(
            &history(cx, tok, &format!("channels=entity:job:{job}")),
            403,
            "forbidden",
        );
    }
    check::status(&cx.api.get(&format!("/api/jobs/{job}"), &admin), 200);
}

/// SSE and REST history take at most 50 channels, like a WebSocket.
pub fn history_and_sse_channel_limit(cx: &mut Ctx) {
    let t = fresh_tenant("sec-lim");
    let v = cx.token(&t, "v1", "viewer");
    let many = |n: usize| {
        (0..n)
            .map(|i| format!("entity:customer:c{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    check::status(&history(cx, &v, &format!("channels={}", many(50))), 200);
    check::error(
        &history(cx, &v, &format!("channels={}", many(51))),
        400,
        "too_many_channels",
    );
    let sse = Sse::open(
        &cx.server.base,
        &format!("/api/realtime/stream?token={v}&channels={}", many(51)),
        None,
    );
    assert_eq!(sse.status, 400, "{}", sse.body);
}

/// An SSE client that stops reading is dropped once its bounded buffer fills, instead of
/// making the hub buffer every event for it.
pub fn sse_stalled_reader_is_dropped(cx: &mut Ctx) {
    use std::io::{Read, Write};
    let t = fresh_tenant("sec-slow");
    let admin = cx.token(&t, "a1", "admin");
    let v = cx.token(&t, "v1", "viewer");
    let addr = cx.server.base.trim_start_matches("http://").to_string();
    let mut sock = std::net::TcpStream::connect(&addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // A small receive buffer, so the stall reaches the server soon.
    write!(
        sock,
        "GET /api/realtime/stream?token={v}&channels=tenant HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 512];
    let n = sock.read(&mut head).unwrap();
    assert!(String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 200"));
    let sse_open = |cx: &Ctx| {
        let s = cx.api.get("/api/realtime/stats", &admin);
        check::status(&s, 200);
        s.body["connections"]["sse"].as_u64().unwrap()
    };
    assert_eq!(sse_open(cx), 1);
    // A second client that keeps reading must survive the same flood.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (base, v2, stop2) = (cx.server.base.clone(), v.clone(), stop.clone());
    let reader = std::thread::spawn(move || {
        let mut sse = Sse::open(
            &base,
            &format!("/api/realtime/stream?token={v2}&channels=tenant"),
            None,
        );
        assert_eq!(sse.status, 200);
        let mut lines = 0u64;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            match sse.next_line() {
                Some(_) => lines += 1,
                None => break,
            }
        }
        lines
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while sse_open(cx) < 2 {
        assert!(Instant::now() < deadline, "the reading stream did not open");
        std::thread::sleep(Duration::from_millis(100));
    }
    // From now on the first client reads nothing. Flood the tenant channel in appends
    // well under the buffer (20 x 20 KB), so only a reader that falls behind overflows.
    let big = "x".repeat(20_000);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut sent = 0;
    while sse_open(cx) > 1 {
        assert!(
            Instant::now() < deadline,
            "the stalled stream is still open after {sent} events"
        );
        let r = cx.api.post(
            "/api/dev/hub-append",
            &admin,
            &json!({"type": "system:flood", "channels": ["tenant"], "data": {"pad": big}, "repeat": 20}),
        );
        check::status(&r, 202);
        sent += 20;
    }
    assert!(sent >= 40, "dropped after only {sent} events: not a stall");
    // The reading client is still there.
    assert_eq!(sse_open(cx), 1);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let lines = reader.join().unwrap();
    assert!(lines > 0);
    drop(sock);
}
