//! `/api/crm/customers` over HTTP: CRUD, roles, validation, pagination, isolation.

use crate::assertions as check;
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::{json, Value};

const C: &str = "/api/crm/customers";

pub fn health_is_public(cx: &mut Ctx) {
    let r = cx.api.raw("GET", "/health", None, None, None);
    check::status(&r, 200);
    assert_eq!(r.body["status"], "ok");
    check::error(
        &cx.api.raw("GET", "/nope", None, None, None),
        404,
        "route_not_found",
    );
    let spec = cx.api.raw("GET", "/api/openapi.json", None, None, None);
    check::status(&spec, 200);
    assert_eq!(spec.body["openapi"], "3.1.0");
    assert!(spec.body["paths"]["/api/crm/customers"]["post"].is_object());
    let page = cx.api.raw("GET", "/api/docs", None, None, None);
    check::status(&page, 200);
    assert!(page
        .body
        .as_str()
        .is_some_and(|h| h.contains("/api/openapi.json")));
}

pub fn round_trip(cx: &mut Ctx) {
    let t = fresh_tenant("crud");
    let broker = cx.token(&t, "b1", "broker");
    let admin = cx.token(&t, "a1", "admin");
    let r = cx.api.post(
        C,
        &broker,
        &json!({"name": "Ada Lovelace", "email": "ADA@example.com", "phone": "+44 20 7946 0000"}),
    );
    check::status(&r, 201);
    let id = r.body["id"].as_str().expect("id").to_string();
    assert_eq!(r.body["email"], "ada@example.com");
    assert_eq!(r.body["status"], "lead");
    assert_eq!(r.body["created_by"], "b1");
    assert_eq!(r.header("location"), Some(format!("{C}/{id}").as_str()));

    let g = cx.api.get(&format!("{C}/{id}"), &broker);
    check::status(&g, 200);
    assert_eq!(g.body, r.body);

    let u = cx.api.put(
        &format!("{C}/{id}"),
        &broker,
        &json!({"status": "active", "phone": null}),
    );
    check::status(&u, 200);
    assert_eq!(u.body["status"], "active");
    assert_eq!(u.body["phone"], Value::Null);
    assert_eq!(u.body["name"], "Ada Lovelace");
    assert_eq!(cx.api.get(&format!("{C}/{id}"), &broker).body, u.body);

    let l = cx.api.get(C, &broker);
    check::status(&l, 200);
    assert_eq!(l.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(l.body["next_cursor"], Value::Null);

    check::status(&cx.api.delete(&format!("{C}/{id}"), &admin), 204);
    check::error(&cx.api.get(&format!("{C}/{id}"), &broker), 404, "not_found");
    check::error(
        &cx.api.delete(&format!("{C}/{id}"), &admin),
        404,
        "not_found",
    );
    check::error(
        &cx.api
            .put(&format!("{C}/{id}"), &admin, &json!({"name": "Ghost"})),
        404,
        "not_found",
    );
    assert_eq!(
        cx.api.get(C, &broker).body["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

pub fn roles(cx: &mut Ctx) {
    let t = fresh_tenant("roles");
    let viewer = cx.token(&t, "v1", "viewer");
    let broker = cx.token(&t, "b1", "broker");
    let admin = cx.token(&t, "a1", "admin");
    check::error(
        &cx.api.post(C, &viewer, &json!({"name": "X"})),
        403,
        "forbidden",
    );
    let id = cx.api.post(C, &broker, &json!({"name": "Kept"})).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let one = format!("{C}/{id}");
    check::status(&cx.api.get(C, &viewer), 200);
    check::status(&cx.api.get(&one, &viewer), 200);
    check::error(
        &cx.api.put(&one, &viewer, &json!({"name": "Y"})),
        403,
        "forbidden",
    );
    check::error(&cx.api.delete(&one, &viewer), 403, "forbidden");
    check::error(&cx.api.delete(&one, &broker), 403, "forbidden");
    assert_eq!(cx.api.get(&one, &viewer).body["name"], "Kept");
    check::status(&cx.api.delete(&one, &admin), 204);
}

pub fn bad_input_changes_nothing(cx: &mut Ctx) {
    let t = fresh_tenant("bad");
    let b = cx.token(&t, "b1", "broker");
    let r = cx.api.post(
        C,
        &b,
        &json!({"email": "not-an-email", "status": "vip", "extra": 1}),
    );
    check::error(&r, 422, "validation_failed");
    let f = &r.body["error"]["details"]["fields"];
    assert_eq!(f["name"], "is required");
    assert_eq!(f["email"], "is not a valid email address");
    assert!(f["status"].is_string() && f["extra"].is_string(), "{f}");
    check::error(
        &cx.api.post(C, &b, &json!({"name": ""})),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.post(C, &b, &json!({"name": 42})),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.post(C, &b, &json!(["name"])),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.raw(
            "POST",
            C,
            Some(&b),
            Some("application/json"),
            Some("{\"name\": "),
        ),
        400,
        "bad_request",
    );
    check::error(
        &cx.api.raw(
            "POST",
            C,
            Some(&b),
            Some("text/plain"),
            Some("{\"name\":\"x\"}"),
        ),
        415,
        "unsupported_media_type",
    );
    let big = json!({"name": "x", "notes": "n".repeat(1024 * 1024 + 10)});
    check::error(&cx.api.post(C, &b, &big), 413, "payload_too_large");
    check::error(&cx.api.get(&format!("{C}?limit=0"), &b), 400, "bad_request");
    check::error(
        &cx.api.get(&format!("{C}?limit=abc"), &b),
        400,
        "bad_request",
    );
    check::error(
        &cx.api.get(&format!("{C}?cursor=garbage"), &b),
        400,
        "bad_request",
    );
    check::error(
        &cx.api.get(&format!("{C}/c_doesnotexist"), &b),
        404,
        "not_found",
    );
    check::error(&cx.api.get(&format!("{C}/bad%20id"), &b), 404, "not_found");
    check::error(
        &cx.api.raw("PATCH", C, Some(&b), None, None),
        405,
        "method_not_allowed",
    );
    // Nothing was created by any of the above.
    let l = cx.api.get(C, &b);
    assert_eq!(l.body["data"].as_array().unwrap().len(), 0, "{}", l.body);
    // An update with nothing valid leaves the row as it was.
    let id = cx.api.post(C, &b, &json!({"name": "Stable"})).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    check::error(
        &cx.api.put(&format!("{C}/{id}"), &b, &json!({})),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.put(
            &format!("{C}/{id}"),
            &b,
            &json!({"name": null, "email": "x"}),
        ),
        422,
        "validation_failed",
    );
    assert_eq!(cx.api.get(&format!("{C}/{id}"), &b).body["name"], "Stable");
}

pub fn pagination(cx: &mut Ctx) {
    let t = fresh_tenant("page");
    let b = cx.token(&t, "b1", "broker");
    let mut created = Vec::new();
    for n in 0..5 {
        let r = cx.api.post(C, &b, &json!({"name": format!("P{n}")}));
        check::status(&r, 201);
        created.push(r.body["id"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("{C}?limit=2&cursor={c}"),
            None => format!("{C}?limit=2"),
        };
        let r = cx.api.get(&path, &b);
        check::status(&r, 200);
        pages += 1;
        for c in r.body["data"].as_array().unwrap() {
            seen.push(c["id"].as_str().unwrap().to_string());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages < 10, "pagination does not terminate");
    }
    assert_eq!(pages, 3);
    created.reverse(); // newest first
    assert_eq!(seen, created);
}

pub fn cross_tenant_isolation(cx: &mut Ctx) {
    let ta = fresh_tenant("iso-a");
    let tb = fresh_tenant("iso-b");
    let a = cx.token(&ta, "a-admin", "admin");
    let b = cx.token(&tb, "b-admin", "admin");
    let id = cx.api.post(C, &a, &json!({"name": "Tenant A secret"})).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let one = format!("{C}/{id}");
    check::error(&cx.api.get(&one, &b), 404, "not_found");
    check::error(
        &cx.api.put(&one, &b, &json!({"name": "pwned"})),
        404,
        "not_found",
    );
    check::error(&cx.api.delete(&one, &b), 404, "not_found");
    assert_eq!(cx.api.get(C, &b).body["data"].as_array().unwrap().len(), 0);
    let still = cx.api.get(&one, &a);
    check::status(&still, 200);
    assert_eq!(still.body["name"], "Tenant A secret");
}

pub fn cors(cx: &mut Ctx) {
    let t = fresh_tenant("cors");
    let b = cx.token(&t, "b1", "broker");
    let pre = |origin: &str| {
        cx.api.raw_with_headers(
            "OPTIONS",
            C,
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization, content-type",
                ),
            ],
        )
    };
    let ok = pre("http://app.pulse.test");
    assert_eq!(ok.status, 204);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("http://app.pulse.test")
    );
    assert!(ok
        .header("access-control-allow-headers")
        .unwrap()
        .contains("authorization"));
    check::error(&pre("https://evil.test"), 403, "forbidden");
    let r = cx
        .api
        .raw_with("GET", C, &b, "", &[("origin", "http://app.pulse.test")]);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://app.pulse.test")
    );
    assert!(r
        .header("access-control-expose-headers")
        .unwrap()
        .contains("pulse-job-id"));
    let r = cx
        .api
        .raw_with("GET", C, &b, "", &[("origin", "https://evil.test")]);
    assert_eq!(r.header("access-control-allow-origin"), None);
}

pub fn idempotent_retry(cx: &mut Ctx) {
    let t = fresh_tenant("idem");
    let b = cx.token(&t, "b1", "broker");
    let mut ws = crate::client::Ws::connect(&cx.server.base, &b);
    ws.subscribe(&["tenant"], None);
    let body = json!({"name": "Once Only", "email": "once@example.com"}).to_string();
    let key = [("idempotency-key", "retry-me-1")];
    let first = cx.api.raw_with("POST", C, &b, &body, &key);
    check::status(&first, 201);
    let again = cx.api.raw_with("POST", C, &b, &body, &key);
    check::status(&again, 201);
    assert_eq!(again.body, first.body, "the retry gets the first response");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.header("pulse-job-id"), first.header("pulse-job-id"));
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(
        cx.api.get(C, &b).body["data"].as_array().unwrap().len(),
        1,
        "written once"
    );
    let e = ws.next_event();
    assert_eq!(e["type"], "crm:customer:created");
    let rest = ws.drain(std::time::Duration::from_millis(600));
    assert!(
        rest.iter().all(|f| f["type"] != "crm:customer:created"),
        "one event only: {rest:?}"
    );
    // The same key with another body is refused; a bad key is a 400.
    let other = json!({"name": "Someone Else"}).to_string();
    check::error(
        &cx.api.raw_with("POST", C, &b, &other, &key),
        422,
        "idempotency_key_reused",
    );
    check::error(
        &cx.api
            .raw_with("POST", C, &b, &body, &[("idempotency-key", "")]),
        400,
        "bad_request",
    );
    // Keys are per tenant.
    let other_tenant = cx.token(&fresh_tenant("idem-b"), "b2", "broker");
    let r = cx.api.raw_with("POST", C, &other_tenant, &body, &key);
    check::status(&r, 201);
    assert_ne!(r.body["id"], first.body["id"]);
    // Rejected requests are replayed too (nothing written).
    let bad = json!({"name": ""}).to_string();
    let k2 = [("idempotency-key", "bad-1")];
    check::error(
        &cx.api.raw_with("POST", C, &b, &bad, &k2),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.raw_with("POST", C, &b, &bad, &k2),
        422,
        "validation_failed",
    );
}

pub fn rate_limit_per_caller(cx: &mut Ctx) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;
    let t = fresh_tenant("limit");
    let noisy = cx.token(&t, "noisy", "viewer");
    let quiet = cx.token(&t, "quiet", "viewer");
    // The limiter counts in fixed 60 s windows: 1,300 requests in well under two windows
    // put more than 600 into one of them, wherever the window boundary falls.
    let hit = AtomicBool::new(false);
    let first_429: Mutex<Option<crate::client::Resp>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..4 {
            let (api, tok, hit, first) = (&cx.api, &noisy, &hit, &first_429);
            s.spawn(move || {
                for _ in 0..325 {
                    if hit.load(Ordering::Relaxed) {
                        break;
                    }
                    let r = api.get(C, tok);
                    if r.status == 429 {
                        hit.store(true, Ordering::Relaxed);
                        first.lock().unwrap().get_or_insert(r);
                    }
                }
            });
        }
    });
    let limited = first_429
        .into_inner()
        .unwrap()
        .expect("1,300 requests within a minute were never limited");
    check::error(&limited, 429, "rate_limited");
    assert_eq!(limited.header("retry-after"), Some("60"));
    check::status(&cx.api.get(C, &quiet), 200); // another caller is unaffected
}

pub fn ip_blocklist(cx: &mut Ctx) {
    let t = fresh_tenant("ids");
    let admin = cx.token(&t, "boss", "admin");
    let broker = cx.token(&t, "bob", "broker");
    let list = "/api/security/blocked-ips";
    let from = |ip: &'static str| [("cf-connecting-ip", ip)];
    let r = cx.api.raw_with(
        "POST",
        list,
        &admin,
        &json!({"ip": "203.0.113.7", "reason": "credential stuffing"}).to_string(),
        &from("198.51.100.1"),
    );
    check::status(&r, 201);
    check::error(
        &cx.api.raw_with(
            "POST",
            list,
            &admin,
            &json!({"ip": "198.51.100.1"}).to_string(),
            &from("198.51.100.1"),
        ),
        409,
        "conflict",
    );
    check::error(
        &cx.api.post(list, &admin, &json!({"ip": "not-an-ip"})),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.post(list, &broker, &json!({"ip": "192.0.2.1"})),
        403,
        "forbidden",
    );
    let blocked = cx.api.raw_with("GET", C, &broker, "", &from("203.0.113.7"));
    check::error(&blocked, 403, "ip_blocked");
    check::status(
        &cx.api.raw_with("GET", C, &broker, "", &from("192.0.2.55")),
        200,
    );
    let other = cx.token(&fresh_tenant("ids-other"), "x", "viewer");
    check::status(
        &cx.api.raw_with("GET", C, &other, "", &from("203.0.113.7")),
        200,
    );
    assert_eq!(
        cx.api.get(list, &admin).body["data"][0]["ip"],
        "203.0.113.7"
    );
    check::status(&cx.api.delete(&format!("{list}/203.0.113.7"), &admin), 204);
    check::status(
        &cx.api.raw_with("GET", C, &broker, "", &from("203.0.113.7")),
        200,
    );
    check::error(
        &cx.api.delete(&format!("{list}/203.0.113.7"), &admin),
        404,
        "not_found",
    );
}
