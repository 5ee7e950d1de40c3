//! Token refresh on live connections: the `auth` frame swaps a WebSocket's token in place
//! (same caller only), `token_expiring` warns a minute ahead, an unrefreshed socket is
//! closed at its token's expiry, and SSE resumes with a fresh token and `Last-Event-ID`.

use crate::client::{Sse, Ws};
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use pulse_testkit::token::{claim_i64, hs256};
use serde_json::json;
use std::time::Duration;

const PUBLISH: &str = "/api/realtime/publish";

fn tick(cx: &Ctx, admin: &str, i: u64) -> u64 {
    let r = cx.api.post(
        PUBLISH,
        admin,
        &json!({"type": "system:tick", "channels": ["tenant"], "data": {"i": i}}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    r.body["seq"].as_u64().expect("seq")
}

/// Frames until one with `op` (the others are kept in `seen`), failing after 10 s.
fn until_op(ws: &mut Ws, op: &str, seen: &mut Vec<serde_json::Value>) -> serde_json::Value {
    if let Some(i) = seen.iter().position(|f| f["op"] == op) {
        return seen.remove(i);
    }
    for _ in 0..50 {
        let f = ws.expect(op);
        if f["op"] == op {
            return f;
        }
        seen.push(f);
    }
    panic!("no {op} frame; saw {seen:?}");
}

/// A socket opened with a token that expires in 5 s is warned at once (it is inside the
/// last minute), swaps in a fresh token with `auth`, and is still subscribed and open
/// after the first token's expiry.
pub fn auth_frame_swaps_the_token_in_place(cx: &mut Ctx) {
    let t = fresh_tenant("tok");
    let secret = cx.server.secret.clone();
    let admin = cx.token(&t, "a1", "admin");
    let short = hs256(&secret, &t, "b1", "broker", 5);
    let exp_short: i64 = claim_i64(&short, "exp");
    let mut ws = Ws::connect(&cx.server.base, &short);
    let mut seen = Vec::new();
    ws.send(&json!({"op": "subscribe", "channels": ["tenant"]}));
    until_op(&mut ws, "subscribed", &mut seen);
    let warn = until_op(&mut ws, "token_expiring", &mut seen);
    assert_eq!(warn["exp"], exp_short, "{warn}");

    // A fresh token an hour long: no answer on success, and no warning for it now.
    let fresh = hs256(&secret, &t, "b1", "broker", 3600);
    ws.send(&json!({"op": "auth", "token": fresh}));

    // Past the first token's expiry (and its close alarm), the socket still delivers.
    std::thread::sleep(Duration::from_secs(7));
    let seq = tick(cx, &admin, 1);
    let ev = until_op(&mut ws, "event", &mut seen);
    assert_eq!(ev["seq"], seq, "{ev}");
    assert_eq!(ev["data"]["i"], 1);
    // Frames keep being accepted on the refreshed token.
    ws.send(&json!({"op": "ping", "head": true}));
    let pong = until_op(&mut ws, "pong", &mut seen);
    assert_eq!(pong["head"], seq);
    assert!(
        seen.iter()
            .all(|f| f["op"] != "error" && f["op"] != "token_expiring"),
        "no refusal and no second warning: {seen:?}"
    );
}

/// Without a refresh the socket is warned, then closed with 4001 at its token's expiry,
/// though it sends nothing.
pub fn unrefreshed_socket_closes_at_expiry(cx: &mut Ctx) {
    let t = fresh_tenant("tok-exp");
    let short = hs256(&cx.server.secret, &t, "b1", "broker", 3);
    let mut ws = Ws::connect(&cx.server.base, &short);
    ws.send(&json!({"op": "subscribe", "channels": ["tenant"]}));
    let (frames, code) = ws.until_close(Duration::from_secs(15));
    assert_eq!(code, Some(4001), "frames {frames:?}");
    assert!(
        frames.iter().any(|f| f["op"] == "token_expiring"),
        "warned first: {frames:?}"
    );
    assert!(
        frames
            .iter()
            .any(|f| f["op"] == "error" && f["code"] == "token_expired"),
        "told why: {frames:?}"
    );
}

/// A token of another user, another tenant, another role, or one that does not verify,
/// closes the socket with 1008; nothing is delivered to it afterwards.
pub fn auth_frame_refuses_another_caller(cx: &mut Ctx) {
    let t = fresh_tenant("tok-other");
    let other = fresh_tenant("tok-other2");
    let secret = cx.server.secret.clone();
    let cases = [
        ("another user", hs256(&secret, &t, "b2", "broker", 3600)),
        (
            "another tenant",
            hs256(&secret, &other, "b1", "broker", 3600),
        ),
        ("another role", hs256(&secret, &t, "b1", "admin", 3600)),
        (
            "a bad signature",
            hs256("not-the-secret", &t, "b1", "broker", 3600),
        ),
        ("garbage", "not.a.jwt".to_string()),
    ];
    for (what, token) in cases {
        let mut ws = Ws::connect(&cx.server.base, &cx.token(&t, "b1", "broker"));
        ws.subscribe(&["tenant"], None);
        ws.send(&json!({"op": "auth", "token": token}));
        let (frames, code) = ws.until_close(Duration::from_secs(10));
        assert_eq!(code, Some(1008), "{what}: {frames:?}");
        let err = frames
            .iter()
            .find(|f| f["op"] == "error")
            .expect("error frame");
        assert!(
            err["code"] == "forbidden" || err["code"] == "unauthorized",
            "{what}: {err}"
        );
    }
}

/// An SSE client whose token is about to expire reconnects with a fresh token and
/// `Last-Event-ID`, and gets exactly the events it missed.
pub fn sse_resumes_with_a_fresh_token(cx: &mut Ctx) {
    let t = fresh_tenant("tok-sse");
    let secret = cx.server.secret.clone();
    let admin = cx.token(&t, "a1", "admin");
    let first = hs256(&secret, &t, "v1", "viewer", 60);
    let path = |tok: &str| format!("/api/realtime/stream?token={tok}&channels=tenant");
    let mut sse = Sse::open(&cx.server.base, &path(&first), None);
    assert_eq!(sse.status, 200, "{}", sse.body);
    let s1 = tick(cx, &admin, 1);
    let (id, ev) = sse.next_event();
    assert_eq!(id, s1.to_string(), "{ev}");
    drop(sse);
    let missed: Vec<u64> = (2..=4).map(|i| tick(cx, &admin, i)).collect();
    let fresh = hs256(&secret, &t, "v1", "viewer", 3600);
    let mut sse = Sse::open(&cx.server.base, &path(&fresh), Some(&id));
    assert_eq!(sse.status, 200, "{}", sse.body);
    for want in &missed {
        let (id, ev) = sse.next_event();
        assert_eq!(id, want.to_string(), "{ev}");
    }
    let s5 = tick(cx, &admin, 5);
    let (id, _) = sse.next_event();
    assert_eq!(id, s5.to_string(), "live after the replay, nothing doubled");
}
