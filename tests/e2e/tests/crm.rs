//! CRM activity: interactions and follow-ups, their events, and the due-follow-up cron.

use crate::assertions as check;
use crate::client::Ws;
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::json;
use std::time::Duration;

fn customer(cx: &Ctx, tok: &str, name: &str) -> String {
    cx.api
        .post("/api/crm/customers", tok, &json!({"name": name}))
        .body["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub fn interactions(cx: &mut Ctx) {
    let t = fresh_tenant("crm-int");
    let b = cx.token(&t, "b1", "broker");
    let v = cx.token(&t, "v1", "viewer");
    let c = customer(cx, &b, "Ada");
    let mut ws = Ws::connect(&cx.server.base, &v);
    ws.subscribe(&[&format!("entity:customer:{c}")], None);
    let r = cx.api.post("/api/crm/interactions", &b, &json!({"customer_id": c, "type": "call", "summary": "Discussed the flat", "occurred_at": "2026-11-20T15:30:00+01:00"}));
    check::status(&r, 201);
    assert_eq!(r.body["occurred_at"], "2026-11-20T14:30:00.000Z");
    let e = ws.next_event();
    check::event(&e, "crm:interaction:created");
    assert_eq!(e["data"], r.body);
    // Unknown or foreign customers are refused, and nothing is written or emitted.
    let other = customer(
        cx,
        &cx.token(&fresh_tenant("crm-int-b"), "x", "admin"),
        "Foreign",
    );
    for cid in ["c_nope", other.as_str()] {
        let r = cx.api.post(
            "/api/crm/interactions",
            &b,
            &json!({"customer_id": cid, "type": "note", "summary": "x"}),
        );
        check::error(&r, 422, "validation_failed");
        assert_eq!(
            r.body["error"]["details"]["fields"]["customer_id"],
            "no such customer"
        );
    }
    check::error(
        &cx.api.post(
            "/api/crm/interactions",
            &b,
            &json!({"customer_id": c, "type": "fax", "summary": ""}),
        ),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.post(
            "/api/crm/interactions",
            &v,
            &json!({"customer_id": c, "type": "note", "summary": "x"}),
        ),
        403,
        "forbidden",
    );
    assert!(ws.drain(Duration::from_millis(500)).is_empty());
    let l = cx
        .api
        .get(&format!("/api/crm/interactions?customer_id={c}"), &v);
    check::status(&l, 200);
    assert_eq!(l.body["data"].as_array().unwrap().len(), 1);
}

pub fn followups_and_due_cron(cx: &mut Ctx) {
    let t = fresh_tenant("crm-fu");
    let b = cx.token(&t, "b1", "broker");
    let c = customer(cx, &b, "Grace");
    let mut ws = Ws::connect(&cx.server.base, &b);
    ws.subscribe(&["user:b1"], None);
    let past = "2020-01-01T09:00:00Z";
    let r = cx.api.post(
        "/api/crm/followups",
        &b,
        &json!({"customer_id": c, "due_at": past, "note": "Send the contract"}),
    );
    check::status(&r, 201);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        (r.body["assigned_to"].as_str(), r.body["status"].as_str()),
        (Some("b1"), Some("open"))
    );
    check::event(&ws.next_event(), "crm:followup:created");
    check::error(
        &cx.api.post(
            "/api/crm/followups",
            &b,
            &json!({"customer_id": c, "due_at": past, "assigned_to": "ghost"}),
        ),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.post(
            "/api/crm/followups",
            &b,
            &json!({"customer_id": c, "due_at": "soon"}),
        ),
        422,
        "validation_failed",
    );
    // The cron announces it once.
    assert_eq!(cx.server.run_cron(), 200);
    let due = ws.next_event();
    check::event(&due, "crm:followup:due");
    assert_eq!(due["data"]["id"], id.as_str());
    assert_eq!(cx.server.run_cron(), 200);
    assert!(
        ws.drain(Duration::from_millis(600))
            .iter()
            .all(|f| f["type"] != "crm:followup:due"),
        "announced twice"
    );
    // Rescheduling makes it due again; completing it emits completed.
    let u = cx.api.put(
        &format!("/api/crm/followups/{id}"),
        &b,
        &json!({"due_at": "2021-01-01T09:00:00Z"}),
    );
    check::status(&u, 200);
    check::event(&ws.next_event(), "crm:followup:updated");
    assert_eq!(cx.server.run_cron(), 200);
    check::event(&ws.next_event(), "crm:followup:due");
    let done = cx.api.put(
        &format!("/api/crm/followups/{id}"),
        &b,
        &json!({"status": "done"}),
    );
    check::status(&done, 200);
    check::event(&ws.next_event(), "crm:followup:completed");
    let open = cx.api.get("/api/crm/followups?status=open", &b);
    assert_eq!(open.body["data"].as_array().unwrap().len(), 0);
    check::status(&cx.api.get(&format!("/api/crm/followups/{id}"), &b), 200);
    let stranger = cx.token(&fresh_tenant("crm-fu-b"), "s", "admin");
    check::error(
        &cx.api.get(&format!("/api/crm/followups/{id}"), &stranger),
        404,
        "not_found",
    );
    check::error(
        &cx.api.put(
            &format!("/api/crm/followups/{id}"),
            &stranger,
            &json!({"status": "open"}),
        ),
        404,
        "not_found",
    );
    check::error(
        &cx.api.get("/api/crm/followups?due_before=later", &b),
        400,
        "bad_request",
    );
}

pub fn calendar(cx: &mut Ctx) {
    let t = fresh_tenant("cal");
    let b = cx.token(&t, "b1", "broker");
    let v = cx.token(&t, "v1", "viewer");
    let c = customer(cx, &b, "Viewer of flats");
    let mut ws = Ws::connect(&cx.server.base, &b);
    ws.subscribe(&["user:b1"], None);
    // Starts in 10 minutes: inside the 30-minute reminder window.
    let start = chrono::Utc::now() + chrono::Duration::minutes(10);
    let end = start + chrono::Duration::minutes(45);
    let body = json!({"title": "Viewing Hauptstr. 5", "customer_id": c, "starts_at": start.to_rfc3339(), "ends_at": end.to_rfc3339(), "location": "Hauptstr. 5"});
    let r = cx.api.post("/api/calendar/appointments", &b, &body);
    check::status(&r, 201);
    let id = r.body["id"].as_str().unwrap().to_string();
    check::event(&ws.next_event(), "calendar:appointment:created");
    check::error(
        &cx.api.post("/api/calendar/appointments", &v, &body),
        403,
        "forbidden",
    );
    let mut bad = body.clone();
    bad["ends_at"] = json!(start.to_rfc3339());
    check::error(
        &cx.api.post("/api/calendar/appointments", &b, &bad),
        422,
        "validation_failed",
    );
    bad = body.clone();
    bad["customer_id"] = json!("c_unknown");
    check::error(
        &cx.api.post("/api/calendar/appointments", &b, &bad),
        422,
        "validation_failed",
    );
    // The reminder comes once.
    assert_eq!(cx.server.run_cron(), 200);
    let rem = ws.next_event();
    check::event(&rem, "calendar:reminder");
    assert_eq!(rem["data"]["id"], id.as_str());
    assert_eq!(cx.server.run_cron(), 200);
    assert!(ws
        .drain(Duration::from_millis(500))
        .iter()
        .all(|f| f["type"] != "calendar:reminder"));
    let l = cx
        .api
        .get("/api/calendar/appointments?status=scheduled", &v);
    assert_eq!(l.body["data"].as_array().unwrap().len(), 1);
    let done = cx.api.put(
        &format!("/api/calendar/appointments/{id}/complete"),
        &b,
        &json!({"outcome": "Offer expected"}),
    );
    check::status(&done, 200);
    assert_eq!(done.body["status"], "completed");
    check::event(&ws.next_event(), "calendar:appointment:completed");
    check::error(
        &cx.api.put(
            &format!("/api/calendar/appointments/{id}/complete"),
            &b,
            &json!({}),
        ),
        409,
        "conflict",
    );
    let other = cx.token(&fresh_tenant("cal-b"), "x", "admin");
    check::error(
        &cx.api.put(
            &format!("/api/calendar/appointments/{id}/complete"),
            &other,
            &json!({}),
        ),
        404,
        "not_found",
    );
}

pub fn cards_public_flow(cx: &mut Ctx) {
    let t = fresh_tenant("cards");
    let b = cx.token(&t, "jane", "broker");
    let mut ws = Ws::connect(&cx.server.base, &b);
    ws.subscribe(&["user:jane"], None);
    let slug = format!("jane-{}", &t[t.len() - 8..]);
    let r = cx.api.post("/api/cards", &b, &json!({"slug": slug, "display_name": "Jane Doe", "title": "Senior Broker", "email": "jane@example.com"}));
    check::status(&r, 201);
    let id = r.body["id"].as_str().unwrap().to_string();
    check::event(&ws.next_event(), "card:created");
    check::error(
        &cx.api.post(
            "/api/cards",
            &b,
            &json!({"slug": slug, "display_name": "Copycat"}),
        ),
        409,
        "conflict",
    );
    // The public page needs no token and shows the card only.
    let p = cx.api.raw(
        "GET",
        &format!("/api/cards/public/{slug}"),
        None,
        None,
        None,
    );
    check::status(&p, 200);
    assert_eq!(p.body["display_name"], "Jane Doe");
    assert!(
        p.body.get("owner_id").is_none() && p.body.get("tenant_id").is_none(),
        "{}",
        p.body
    );
    check::error(
        &cx.api
            .raw("GET", "/api/cards/public/no-such-card", None, None, None),
        404,
        "not_found",
    );
    // Scans: no token; once per visitor per 10 minutes.
    let scan = |ip: &'static str| {
        cx.api.raw_with_headers(
            "POST",
            &format!("/api/cards/{id}/scan"),
            &[("cf-connecting-ip", ip)],
        )
    };
    let s1 = scan("198.51.100.20");
    check::status(&s1, 202);
    assert_eq!(
        (s1.body["counted"].as_bool(), s1.body["scans"].as_u64()),
        (Some(true), Some(1))
    );
    let e = ws.next_event();
    check::event(&e, "card:scanned");
    assert_eq!(e["data"]["scans"], 1);
    let a = ws.next_event();
    check::event(&a, "card:analytics:updated");
    assert_eq!(a["data"]["scans"], 1);
    assert_eq!(a["data"]["card_id"], id.as_str());
    assert_eq!(scan("198.51.100.20").body["counted"], false);
    assert_eq!(scan("198.51.100.21").body["scans"], 2);
    check::error(
        &cx.api
            .raw("POST", "/api/cards/card_nope/scan", None, None, None),
        404,
        "not_found",
    );
    let l = cx.api.get("/api/cards", &b);
    assert_eq!(l.body["data"][0]["scans"], 2);
    check::error(
        &cx.api.post(
            "/api/cards",
            &cx.token(&t, "v", "viewer"),
            &json!({"slug": "viewer-card", "display_name": "V"}),
        ),
        403,
        "forbidden",
    );
}

pub fn stats_and_analytics(cx: &mut Ctx) {
    let t = fresh_tenant("stats");
    let admin = cx.token(&t, "boss", "admin");
    let viewer = cx.token(&t, "val", "viewer");
    let c1 = customer(cx, &admin, "One");
    customer(cx, &admin, "Two");
    cx.api.post(
        "/api/crm/interactions",
        &admin,
        &json!({"customer_id": c1, "type": "note", "summary": "hello"}),
    );
    cx.api.post(
        "/api/crm/followups",
        &admin,
        &json!({"customer_id": c1, "due_at": "2030-01-01T00:00:00Z"}),
    );
    let s = cx.api.get("/api/stats", &admin);
    check::status(&s, 200);
    assert_eq!(
        (
            s.body["customers"].as_u64(),
            s.body["interactions"].as_u64(),
            s.body["open_followups"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(s.body["outbox_pending"], 0);
    check::error(&cx.api.get("/api/stats", &viewer), 403, "forbidden");
    let a = cx.api.get("/api/analytics/snapshot", &viewer);
    check::status(&a, 200);
    assert_eq!(a.body["events_by_type"]["crm:customer:created"], 2);
    assert_eq!(a.body["events_by_type"]["crm:interaction:created"], 1);
    assert_eq!(a.body["events"], 4);
}
