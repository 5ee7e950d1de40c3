//! Observability: every answer carries an `X-Request-Id` (a valid incoming one echoed),
//! each request writes one JSON log line under its route pattern, and no token is logged.

use crate::client::{Resp, Sse};
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::Value;
use std::time::{Duration, Instant};

const CUSTOMERS: &str = "/api/crm/customers";

fn fresh_id(prefix: &str) -> String {
    format!("{prefix}-{}", fresh_tenant("r"))
}

fn id_of(r: &Resp) -> String {
    let id = r
        .header("x-request-id")
        .unwrap_or_else(|| panic!("no X-Request-Id on {r:?}"));
    assert!(
        (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
        "bad request id {id:?}"
    );
    id.to_string()
}

/// The log lines that mention `needle`, waiting up to 10 s for at least one.
fn log_lines(cx: &Ctx, needle: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines: Vec<String> = cx
            .server
            .log_text()
            .lines()
            .filter(|l| l.contains(needle))
            .map(String::from)
            .collect();
        if !lines.is_empty() || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The JSON log record of one request id (exactly one line).
fn record(cx: &Ctx, request_id: &str) -> Value {
    let needle = format!("\"request_id\":\"{request_id}\"");
    let lines = log_lines(cx, &needle);
    assert_eq!(
        lines.len(),
        1,
        "want one log line for {request_id}: {lines:?}\n{}",
        cx.server.tail_log()
    );
    let l = &lines[0];
    let json = &l[l.find('{').unwrap()..=l.rfind('}').unwrap()];
    serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))
}

pub fn request_id_on_every_answer(cx: &mut Ctx) {
    let t = fresh_tenant("obs-id");
    let b = cx.token(&t, "b1", "broker");
    let ok = cx.api.get(CUSTOMERS, &b);
    assert_eq!(ok.status, 200, "{ok:?}");
    let a = id_of(&ok);
    let unauth = cx.api.raw("GET", CUSTOMERS, None, None, None);
    assert_eq!(unauth.status, 401);
    let u = id_of(&unauth);
    let missing = cx.api.get("/api/no/such/route", &b);
    assert_eq!(missing.status, 404);
    let m = id_of(&missing);
    let pre = cx.api.raw_with_headers(
        "OPTIONS",
        CUSTOMERS,
        &[
            ("origin", "http://app.pulse.test"),
            ("access-control-request-method", "POST"),
        ],
    );
    assert_eq!(pre.status, 204, "{pre:?}");
    let p = id_of(&pre);
    // Fresh ids are unique.
    let mut all = vec![a, u, m, p];
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 4);

    // A valid incoming id is echoed (on errors too); an invalid one is replaced.
    let mine = fresh_id("obs-echo.1_A");
    let r = cx
        .api
        .raw_with_headers("GET", CUSTOMERS, &[("x-request-id", &mine)]);
    assert_eq!(r.status, 401);
    assert_eq!(r.header("x-request-id"), Some(mine.as_str()));
    for bad in ["has space", "quote\"d", &"x".repeat(65)] {
        let r = cx
            .api
            .raw_with_headers("GET", "/health", &[("x-request-id", bad)]);
        assert_eq!(r.status, 200);
        let got = id_of(&r);
        assert_ne!(got, bad);
    }
    // The WebSocket upgrade carries it too.
    use tungstenite::client::IntoClientRequest;
    let mut req = format!(
        "{}/api/realtime/ws",
        cx.server.base.replacen("http", "ws", 1)
    )
    .into_client_request()
    .unwrap();
    let ws_id = fresh_id("obs-ws");
    req.headers_mut()
        .insert("authorization", format!("Bearer {b}").parse().unwrap());
    req.headers_mut()
        .insert("x-request-id", ws_id.parse().unwrap());
    let (mut sock, resp) = tungstenite::connect(req).expect("ws upgrade");
    assert_eq!(resp.status().as_u16(), 101);
    assert_eq!(
        resp.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some(ws_id.as_str())
    );
    let _ = sock.close(None);
}

pub fn one_json_log_line_per_request(cx: &mut Ctx) {
    let t = fresh_tenant("obs-log");
    let b = cx.token(&t, "logger", "broker");
    // A 404 for a record id: the line names the route pattern, never the id or query.
    let id = fresh_id("obs-line");
    let r = cx.api.raw_with(
        "GET",
        &format!("{CUSTOMERS}/cus_obs_secretish?probe=zz_query_zz"),
        &b,
        "",
        &[("x-request-id", &id)],
    );
    assert_eq!(r.status, 404, "{r:?}");
    let rec = record(cx, &id);
    assert_eq!(rec["route"], "/api/crm/customers/:id", "{rec}");
    assert_eq!(rec["status"], 404);
    assert_eq!(rec["method"], "GET");
    assert_eq!(rec["tenant"], t.as_str());
    assert_eq!(rec["user"], "logger");
    assert!(rec["duration_ms"].is_i64(), "{rec}");
    assert!(rec["d1_calls"].as_u64().unwrap() >= 1, "{rec}");
    let line = log_lines(cx, &id).join("\n");
    assert!(!line.contains("cus_obs_secretish") && !line.contains("zz_query_zz"));

    // A 200 list and an unauthenticated 401 (no tenant).
    let id2 = fresh_id("obs-list");
    let r = cx
        .api
        .raw_with("GET", CUSTOMERS, &b, "", &[("x-request-id", &id2)]);
    assert_eq!(r.status, 200);
    let rec = record(cx, &id2);
    assert_eq!(
        (rec["route"].as_str(), rec["status"].as_u64()),
        (Some(CUSTOMERS), Some(200))
    );
    let id3 = fresh_id("obs-anon");
    let r = cx
        .api
        .raw_with_headers("GET", CUSTOMERS, &[("x-request-id", &id3)]);
    assert_eq!(r.status, 401);
    let rec = record(cx, &id3);
    assert_eq!(rec["status"], 401);
    assert!(rec["tenant"].is_null(), "{rec}");
    // Unknown routes are logged without their path.
    let id4 = fresh_id("obs-none");
    let r = cx.api.raw_with(
        "GET",
        "/api/obs_unknown_path",
        &b,
        "",
        &[("x-request-id", &id4)],
    );
    assert_eq!(r.status, 404);
    assert!(record(cx, &id4)["route"].is_null());
    assert!(!log_lines(cx, &id4).join("\n").contains("obs_unknown_path"));
}

pub fn tokens_are_never_logged(cx: &mut Ctx) {
    let t = fresh_tenant("obs-tok");
    let header_token = cx.token(&t, "hdr", "broker");
    let query_token = cx.token(&t, "qry", "viewer");
    assert_eq!(cx.api.get(CUSTOMERS, &header_token).status, 200);
    // A stream authenticated by `?token=`.
    let mut sse = Sse::open(
        &cx.server.base,
        &format!("/api/realtime/stream?token={query_token}"),
        None,
    );
    assert_eq!(sse.status, 200, "{}", sse.body);
    let _ = sse.next_line();
    drop(sse);
    // A rejected token is not logged either.
    let bad = format!("{query_token}x");
    assert_eq!(cx.api.get(CUSTOMERS, &bad).status, 401);
    // The stream's line was written (by route and tenant; lines are written after the
    // answer, so wait for it).
    let tenant = format!("\"tenant\":\"{t}\"");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !log_lines(cx, "/api/realtime/stream")
        .iter()
        .any(|l| l.contains(&tenant))
    {
        assert!(
            Instant::now() < deadline,
            "no stream line for {t}: {:?}",
            log_lines(cx, "/api/realtime/stream")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = cx.server.log_text();
    for (what, tok) in [("header", &header_token), ("query", &query_token)] {
        // The signature part alone must not appear either.
        let sig = tok.rsplit('.').next().unwrap();
        assert_eq!(log.matches(tok.as_str()).count(), 0, "{what} token logged");
        assert_eq!(log.matches(sig).count(), 0, "{what} token signature logged");
    }
}
