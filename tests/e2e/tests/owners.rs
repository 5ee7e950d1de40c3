//! Owners, properties and seekers (CRUD, filters, roles, isolation, events) and matching
//! on the `matching` queue (`owners:match:found` once per new match).

use crate::assertions as check;
use crate::client::Ws;
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn create(cx: &Ctx, tok: &str, path: &str, body: Value) -> Value {
    let r = cx.api.post(path, tok, &body);
    check::status(&r, 201);
    r.body
}

fn prop(cx: &Ctx, tok: &str, title: &str, price: i64, city: &str, kind: &str, beds: i64) -> String {
    create(
        cx,
        tok,
        "/api/properties",
        json!({"title": title, "kind": kind, "price_minor": price, "currency": "EUR", "city": city, "bedrooms": beds}),
    )["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub fn crud_filters_roles_and_events(cx: &mut Ctx) {
    let t = fresh_tenant("own");
    let b = cx.token(&t, "b1", "broker");
    let admin = cx.token(&t, "a1", "admin");
    let viewer = cx.token(&t, "v1", "viewer");
    let mut ws = Ws::connect(&cx.server.base, &viewer);
    ws.subscribe(&["tenant"], None);
    let o = create(
        cx,
        &b,
        "/api/owners",
        json!({"name": "Olga", "email": "olga@example.com", "phone": "+34 600 000 000"}),
    );
    let oid = o["id"].as_str().unwrap().to_string();
    check::event(&ws.next_event(), "owners:owner:added");
    let p = create(
        cx,
        &b,
        "/api/properties",
        json!({"owner_id": oid, "title": "Loft", "kind": "apartment", "price_minor": 20_000_000, "currency": "EUR", "city": "Madrid", "bedrooms": 2}),
    );
    let pid = p["id"].as_str().unwrap().to_string();
    assert_eq!(p["status"], "available");
    let e = ws.next_event();
    check::event(&e, "owners:property:added");
    assert_eq!(e["data"]["id"], pid.as_str());
    assert_eq!(e["data"]["price_minor"], 20_000_000);
    prop(cx, &b, "House", 50_000_000, "Valencia", "house", 4);
    prop(cx, &b, "Studio", 9_000_000, "Madrid", "apartment", 0);
    // Filters.
    let q = |s: &str| {
        cx.api.get(&format!("/api/properties?{s}"), &viewer).body["data"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(q("city=Madrid"), 2);
    assert_eq!(q("kind=house"), 1);
    assert_eq!(q("min_price=10000000&max_price=30000000"), 1);
    assert_eq!(q("bedrooms_min=2"), 2);
    assert_eq!(q(&format!("owner_id={oid}")), 1);
    check::error(
        &cx.api.get("/api/properties?min_price=cheap", &viewer),
        400,
        "bad_request",
    );
    // Pagination.
    let p1 = cx.api.get("/api/properties?limit=2", &viewer);
    let cur = p1.body["next_cursor"].as_str().unwrap();
    assert_eq!(
        cx.api
            .get(&format!("/api/properties?limit=2&cursor={cur}"), &viewer)
            .body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Update (partial, null clears), 422, events.
    let u = cx.api.put(
        &format!("/api/properties/{pid}"),
        &b,
        &json!({"price_minor": 19_000_000, "district": "Centro"}),
    );
    check::status(&u, 200);
    assert_eq!(u.body["price_minor"], 19_000_000);
    assert_eq!(u.body["title"], "Loft");
    let e = ws
        .wait_for("owners:property:updated", Duration::from_secs(5))
        .0;
    assert_eq!(e["data"]["district"], "Centro");
    let u = cx.api.put(
        &format!("/api/properties/{pid}"),
        &b,
        &json!({"district": null}),
    );
    assert_eq!(u.body["district"], Value::Null);
    check::error(
        &cx.api.put(
            &format!("/api/properties/{pid}"),
            &b,
            &json!({"title": null}),
        ),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.put(
            &format!("/api/properties/{pid}"),
            &b,
            &json!({"owner_id": "own_nope"}),
        ),
        422,
        "validation_failed",
    );
    let bad = cx.api.post("/api/properties", &b, &json!({"title": "", "kind": "castle", "price_minor": -1, "currency": "euro", "city": "M", "extra": 1}));
    check::error(&bad, 422, "validation_failed");
    for f in ["title", "kind", "price_minor", "currency", "extra"] {
        assert!(bad.body["error"]["details"]["fields"][f].is_string(), "{f}");
    }
    check::error(&cx.api.post("/api/properties", &b, &json!({"owner_id": "own_nope", "title": "X", "kind": "land", "price_minor": 1, "currency": "EUR", "city": "M"})), 422, "validation_failed");
    // Roles: viewers read only; delete is admin-only.
    check::error(
        &cx.api.post("/api/owners", &viewer, &json!({"name": "V"})),
        403,
        "forbidden",
    );
    check::error(
        &cx.api.delete(&format!("/api/properties/{pid}"), &b),
        403,
        "forbidden",
    );
    check::error(
        &cx.api.raw("GET", "/api/properties", None, None, None),
        401,
        "unauthorized",
    );
    // Isolation.
    let other = cx.token(&fresh_tenant("own-o"), "a9", "admin");
    check::error(
        &cx.api.get(&format!("/api/properties/{pid}"), &other),
        404,
        "not_found",
    );
    check::error(
        &cx.api
            .put(&format!("/api/owners/{oid}"), &other, &json!({"name": "X"})),
        404,
        "not_found",
    );
    check::error(
        &cx.api.delete(&format!("/api/owners/{oid}"), &other),
        404,
        "not_found",
    );
    assert_eq!(
        cx.api.get("/api/properties", &other).body["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // Seekers: budget rule; delete.
    check::error(
        &cx.api.post(
            "/api/seekers",
            &b,
            &json!({"name": "S", "budget_min_minor": 5, "budget_max_minor": 1, "currency": "EUR"}),
        ),
        422,
        "validation_failed",
    );
    let s = create(
        cx,
        &b,
        "/api/seekers",
        json!({"name": "Sam", "budget_max_minor": 100, "currency": "EUR", "cities": ["Madrid"]}),
    );
    assert_eq!(s["active"], true);
    assert_eq!(s["cities"], json!(["Madrid"]));
    let sid = s["id"].as_str().unwrap();
    check::status(&cx.api.delete(&format!("/api/seekers/{sid}"), &admin), 204);
    check::error(
        &cx.api.get(&format!("/api/seekers/{sid}"), &admin),
        404,
        "not_found",
    );
    ws.wait_for("owners:seeker:deleted", Duration::from_secs(5));
    ws.close();
}

pub fn matching_finds_each_match_once(cx: &mut Ctx) {
    let t = fresh_tenant("match");
    let b = cx.token(&t, "b1", "broker");
    let s = create(
        cx,
        &b,
        "/api/seekers",
        json!({"name": "Nora", "budget_max_minor": 30_000_000, "currency": "EUR", "cities": ["Valencia"], "kinds": ["apartment"], "bedrooms_min": 2}),
    );
    let sid = s["id"].as_str().unwrap().to_string();
    let good1 = prop(cx, &b, "Flat A", 25_000_000, "Valencia", "apartment", 2);
    let good2 = prop(cx, &b, "Flat B", 29_000_000, "Madrid", "apartment", 3); // other city: 70
    let _bad = prop(cx, &b, "Villa", 90_000_000, "Valencia", "villa", 5);
    let mut ws = Ws::connect(&cx.server.base, &b);
    ws.subscribe(&["user:b1"], None);
    let run = |cx: &Ctx| -> String {
        let r = cx.api.post("/api/matching/run", &b, &json!({}));
        check::status(&r, 202);
        assert_eq!(r.body["queue"], "pulse-matching");
        r.body["id"].as_str().unwrap().to_string()
    };
    let wait = |cx: &Ctx, id: &str| -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let j = cx.api.get(&format!("/api/jobs/{id}"), &b);
            if j.body["status"] == "completed" {
                return j.body;
            }
            assert!(Instant::now() < deadline, "{}", j.body);
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let j1 = wait(cx, &run(cx));
    assert_eq!(j1["result"]["matches_new"], 2);
    let mut found = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while found.len() < 2 && Instant::now() < deadline {
        if let Some(f) = ws.recv(Duration::from_millis(300)) {
            if f["type"] == "owners:match:found" {
                found.push(f);
            }
        }
    }
    assert_eq!(found.len(), 2);
    let mut props: Vec<&str> = found
        .iter()
        .map(|f| f["data"]["property_id"].as_str().unwrap())
        .collect();
    props.sort();
    let mut want = vec![good1.as_str(), good2.as_str()];
    want.sort();
    assert_eq!(props, want);
    assert!(found.iter().all(|f| f["data"]["seeker_id"] == sid.as_str()));
    let m = cx.api.get(&format!("/api/matches?seeker_id={sid}"), &b);
    let rows = m.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["property_id"], good1.as_str(), "best first");
    assert_eq!(rows[0]["score"], 100);
    // A second run finds the same matches: no new rows, no new events.
    let j2 = wait(cx, &run(cx));
    assert_eq!(j2["result"]["matches_new"], 0);
    assert_eq!(j2["result"]["matches_total"], 2);
    let extra: Vec<Value> = ws
        .drain(Duration::from_millis(800))
        .into_iter()
        .filter(|f| f["type"] == "owners:match:found")
        .collect();
    assert!(extra.is_empty(), "{extra:?}");
    assert_eq!(
        cx.api.get("/api/matches", &b).body["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Decisions: a broker accepts the best match and rejects the other, each with its event.
    let (best, other) = (
        rows[0]["id"].as_str().unwrap().to_string(),
        rows[1]["id"].as_str().unwrap().to_string(),
    );
    assert_eq!(rows[0]["status"], "proposed");
    let viewer = cx.token(&t, "v1", "viewer");
    let stranger = cx.token(&fresh_tenant("match-other"), "a1", "admin");
    let decide = |who: &str, id: &str, status: &str| {
        cx.api.put(
            &format!("/api/matches/{id}"),
            who,
            &json!({"status": status}),
        )
    };
    check::error(&decide(&viewer, &best, "accepted"), 403, "forbidden");
    check::error(&decide(&stranger, &best, "accepted"), 404, "not_found");
    check::error(&decide(&b, "mch_nope", "accepted"), 404, "not_found");
    check::error(&decide(&b, &best, "proposed"), 422, "validation_failed");
    let mut tenant_ws = crate::client::Ws::connect(&cx.server.base, &b);
    tenant_ws.subscribe(&["tenant"], None);
    let r = decide(&b, &best, "accepted");
    check::status(&r, 200);
    assert_eq!(r.body["status"], "accepted");
    assert_eq!(r.body["decided_by"], "b1");
    let (ev, _) = tenant_ws.wait_for("owners:match:accepted", Duration::from_secs(5));
    assert_eq!(ev["data"]["id"], best.as_str());
    assert_eq!(
        ev["data"]["changes"]["status"],
        json!({"from": "proposed", "to": "accepted"})
    );
    let r = decide(&b, &other, "rejected");
    check::status(&r, 200);
    let (ev, _) = tenant_ws.wait_for("owners:match:rejected", Duration::from_secs(5));
    assert_eq!(ev["data"]["status"], "rejected");
    // The same decision again: the match, no event.
    check::status(&decide(&b, &other, "rejected"), 200);
    assert!(tenant_ws
        .drain(Duration::from_millis(500))
        .iter()
        .all(|f| f["op"] != "event"));
    let listed = |status: &str| {
        cx.api
            .get(&format!("/api/matches?status={status}"), &b)
            .body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(listed("accepted"), vec![best.clone()]);
    assert_eq!(listed("rejected"), vec![other.clone()]);
    // A later run does not propose a decided match again.
    let j3 = wait(cx, &run(cx));
    assert_eq!(j3["result"]["matches_new"], 0);
    assert_eq!(listed("rejected"), vec![other.clone()]);
    assert!(listed("proposed").is_empty());
    tenant_ws.close();
    // Unknown seeker: 422; viewers cannot run matching.
    check::error(
        &cx.api
            .post("/api/matching/run", &b, &json!({"seeker_id": "skr_nope"})),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.post("/api/matching/run", &viewer, &json!({})),
        403,
        "forbidden",
    );
    ws.close();
}
