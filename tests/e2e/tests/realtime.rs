//! The WebSocket hub: auth before upgrade, frames, live events with consecutive seq,
//! resume with `since`, and tenant isolation.

use crate::assertions as check;
use crate::client::{dial, Dial, Ws};
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::json;
use std::time::Duration;

const C: &str = "/api/crm/customers";

pub fn rejects_without_valid_token(cx: &mut Ctx) {
    let base = cx.server.base.clone();
    match dial(&base, None, None) {
        Dial::Refused(s, body) => {
            assert_eq!(s, 401);
            // tungstenite keeps the body only sometimes; when it does, it is the JSON error.
            assert!(body.is_empty() || body.contains("unauthorized"), "{body}");
        }
        Dial::Open(_) => panic!("upgrade without a token must be refused"),
    }
    match dial(&base, Some("not.a.jwt"), None) {
        Dial::Refused(s, _) => assert_eq!(s, 401),
        Dial::Open(_) => panic!("upgrade with a bad token must be refused"),
    }
    // ?token= works for browsers.
    let t = cx.token(&fresh_tenant("wsq"), "u1", "viewer");
    match dial(&base, Some(&t), None) {
        Dial::Open(mut ws) => {
            ws.subscribe(&["tenant"], None);
            ws.close();
        }
        Dial::Refused(s, b) => panic!("?token= refused: {s} {b}"),
    }
    // A plain GET (no upgrade) gets a JSON 426.
    let r = cx.api.get("/api/realtime/ws", &t);
    check::error(&r, 426, "upgrade_required");
}

pub fn frames_and_channel_rules(cx: &mut Ctx) {
    let t = fresh_tenant("frames");
    let mut ws = Ws::connect(&cx.server.base, &cx.token(&t, "u1", "broker"));
    ws.send(&json!({"op": "ping"}));
    assert_eq!(ws.expect("pong")["op"], "pong");
    ws.send_text(r#"{ "op" : "ping" }"#); // not the auto-response's exact text: handled by the DO
    assert_eq!(ws.expect("pong")["op"], "pong");
    ws.send_text("hello");
    let e = ws.expect("error");
    assert_eq!(
        (e["op"].as_str(), e["code"].as_str()),
        (Some("error"), Some("bad_frame"))
    );
    ws.send(&json!({"op": "subscribe", "channels": ["user:someone-else"]}));
    assert_eq!(ws.expect("error")["code"], "forbidden");
    ws.send(&json!({"op": "subscribe", "channels": ["role:admin"]}));
    assert_eq!(ws.expect("error")["code"], "forbidden");
    ws.send(&json!({"op": "subscribe", "channels": ["galaxy"]}));
    assert_eq!(ws.expect("error")["code"], "bad_channel");
    let s = ws.subscribe(&["tenant", "user:u1", "role:broker"], None);
    assert_eq!(s["head"], 0);
    assert_eq!(s["recovered"], true);
    // The socket still works after errors.
    ws.send(&json!({"op": "ping"}));
    assert_eq!(ws.expect("pong")["op"], "pong");
    ws.close();
}

pub fn live_events_consecutive_seq(cx: &mut Ctx) {
    let t = fresh_tenant("live");
    let tok = cx.token(&t, "a1", "admin");
    let mut ws = Ws::connect(&cx.server.base, &tok);
    let head = ws.subscribe(&["tenant"], None)["head"].as_u64().unwrap();
    let id = cx.api.post(C, &tok, &json!({"name": "Live One"})).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let created = ws.next_event();
    check::event(&created, "crm:customer:created");
    assert_eq!(created["data"]["id"], id.as_str());
    assert_eq!(created["data"]["name"], "Live One");
    let ch: Vec<&str> = created["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        ch,
        vec!["tenant".to_string(), format!("entity:customer:{id}")]
    );
    assert_eq!(created["seq"].as_u64().unwrap(), head + 1);
    cx.api
        .put(&format!("{C}/{id}"), &tok, &json!({"name": "Live Two"}));
    let id2 = cx.api.post(C, &tok, &json!({"name": "Other"})).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    cx.api.delete(&format!("{C}/{id}"), &tok);
    let rest = [ws.next_event(), ws.next_event(), ws.next_event()];
    check::event(&rest[0], "crm:customer:updated");
    assert_eq!(rest[0]["data"]["name"], "Live Two");
    check::event(&rest[1], "crm:customer:created");
    assert_eq!(rest[1]["data"]["id"], id2.as_str());
    check::event(&rest[2], "crm:customer:deleted");
    assert_eq!(rest[2]["data"]["id"], id.as_str());
    let mut all = vec![created];
    all.extend(rest);
    check::consecutive(&check::seqs(&all));
    // Rejected requests produce no event.
    let viewer = cx.token(&t, "v1", "viewer");
    cx.api.post(C, &viewer, &json!({"name": "nope"}));
    cx.api.post(C, &tok, &json!({"name": ""}));
    assert!(
        ws.recv(Duration::from_millis(800)).is_none(),
        "a rejected request emitted an event"
    );
    ws.close();
}

pub fn resume_since(cx: &mut Ctx) {
    let t = fresh_tenant("resume");
    let tok = cx.token(&t, "b1", "broker");
    let mut ws = Ws::connect(&cx.server.base, &tok);
    ws.subscribe(&["tenant"], None);
    for n in 0..2 {
        cx.api
            .post(C, &tok, &json!({"name": format!("before {n}")}));
    }
    let seen = [ws.next_event(), ws.next_event()];
    let last = seen[1]["seq"].as_u64().unwrap();
    ws.close();
    // Missed while offline:
    let mut missed_ids = Vec::new();
    for n in 0..3 {
        let r = cx
            .api
            .post(C, &tok, &json!({"name": format!("missed {n}")}));
        missed_ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    let mut ws = Ws::connect(&cx.server.base, &tok);
    let s = ws.subscribe(&["tenant"], Some(last));
    assert_eq!(s["recovered"], true);
    assert_eq!(s["head"].as_u64().unwrap(), last + 3);
    let replay = [ws.next_event(), ws.next_event(), ws.next_event()];
    let ids: Vec<&str> = replay
        .iter()
        .map(|e| e["data"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        missed_ids.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(check::seqs(&replay), vec![last + 1, last + 2, last + 3]);
    // Then live, continuing the sequence, with nothing duplicated in between.
    cx.api.post(C, &tok, &json!({"name": "live after resume"}));
    let live = ws.next_event();
    assert_eq!(live["seq"].as_u64().unwrap(), last + 4);
    assert_eq!(live["data"]["name"], "live after resume");
    assert!(ws.recv(Duration::from_millis(500)).is_none());
    ws.close();
    // A `since` from the future (history reset) is reported as not recovered.
    let mut ws = Ws::connect(&cx.server.base, &tok);
    assert_eq!(
        ws.subscribe(&["tenant"], Some(last + 1000))["recovered"],
        false
    );
    ws.close();
}

pub fn tenant_isolation(cx: &mut Ctx) {
    let ta = fresh_tenant("wsiso-a");
    let tb = fresh_tenant("wsiso-b");
    let a = cx.token(&ta, "a1", "admin");
    let b = cx.token(&tb, "b1", "admin");
    let mut wb = Ws::connect(&cx.server.base, &b);
    wb.subscribe(&["tenant"], Some(0));
    cx.api.post(C, &a, &json!({"name": "A only"}));
    assert!(
        wb.recv(Duration::from_millis(800)).is_none(),
        "tenant B saw tenant A's event"
    );
    wb.close();
}

/// A write whose hub delivery fails still reaches the history: redelivered by the cron
/// trigger, or by the next write, in commit order and exactly once.
pub fn outbox_redelivers_after_hub_failure(cx: &mut Ctx) {
    let t = fresh_tenant("redrive");
    let tok = cx.token(&t, "b1", "broker");
    let mut ws = Ws::connect(&cx.server.base, &tok);
    let head = ws.subscribe(&["tenant"], None)["head"].as_u64().unwrap();
    let post_failing = |cx: &Ctx, name: &str| {
        let body = json!({ "name": name }).to_string();
        let r = cx
            .api
            .raw_with("POST", C, &tok, &body, &[("x-pulse-fault", "hub-down")]);
        check::status(&r, 201);
        r.body["id"].as_str().unwrap().to_string()
    };
    // 1. Redelivered by the cron.
    let lost = post_failing(cx, "lost then found");
    assert!(
        ws.recv(Duration::from_millis(800)).is_none(),
        "fault injection did not hold the event back"
    );
    assert_eq!(cx.server.run_cron(), 200);
    let e = ws.next_event();
    assert_eq!(
        (e["data"]["id"].as_str(), e["seq"].as_u64()),
        (Some(lost.as_str()), Some(head + 1))
    );
    // 2. Redelivered by the next write, before that write's own event.
    let held = post_failing(cx, "held back");
    let next = cx.api.post(C, &tok, &json!({"name": "next write"})).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let a = ws.next_event();
    let b = ws.next_event();
    assert_eq!(a["data"]["id"], held.as_str());
    assert_eq!(b["data"]["id"], next.as_str());
    check::consecutive(&[
        head + 1,
        a["seq"].as_u64().unwrap(),
        b["seq"].as_u64().unwrap(),
    ]);
    // 3. Redriving again delivers nothing twice.
    assert_eq!(cx.server.run_cron(), 200);
    assert!(
        ws.recv(Duration::from_millis(800)).is_none(),
        "an event was delivered twice"
    );
    let mut again = Ws::connect(&cx.server.base, &tok);
    again.subscribe(&["tenant"], Some(head));
    let replay = [again.next_event(), again.next_event(), again.next_event()];
    check::consecutive(&check::seqs(&replay));
    assert!(again.recv(Duration::from_millis(500)).is_none());
    again.close();
    ws.close();
}
