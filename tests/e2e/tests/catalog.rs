//! The event catalog against the running Worker: it is served as committed, and the events
//! of every area, live and from history, are the ones it declares (the test clients check
//! each event they receive; this test makes sure every area emits some).

use crate::assertions as check;
use crate::client::Resp;
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// `GET /api/events.json` is public and is the committed document (the one client types
/// are generated from and the test clients check against).
pub fn served_catalog_is_the_committed_one(cx: &mut Ctx) {
    let r = cx.api.raw("GET", "/api/events.json", None, None, None);
    check::status(&r, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{:?}",
        r.headers
    );
    assert_eq!(&r.body, pulse_testkit::catalog::document());
    assert_eq!(r.body["version"], 1);
    let types: Vec<&str> = r.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(types.contains(&"crm:customer:created") && types.contains(&"job:completed"));
    // The OpenAPI document lists it like its own route.
    let spec = cx.api.raw("GET", "/api/openapi.json", None, None, None);
    assert_eq!(
        spec.body["paths"]["/api/events.json"]["get"]["operationId"],
        "eventCatalog"
    );
}

fn ok(r: Resp, status: u16) -> Value {
    check::status(&r, status);
    r.body
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// An admin watching `tenant` and `role:admin` receives, over the WebSocket and then from
/// the REST history, events of every area (CRM, calendar, cards, owners, matching, users,
/// finance, dashboard, publishing, jobs, system notices), each matching the catalog.
pub fn events_of_every_area_match_the_catalog(cx: &mut Ctx) {
    let t = fresh_tenant("catalog");
    let admin = cx.token(&t, "a1", "admin");
    let api = &cx.api;
    let mut ws = crate::client::Ws::connect(&cx.server.base, &admin);
    ws.subscribe(&["tenant", "role:admin"], None);

    let c = ok(
        api.post(
            "/api/crm/customers",
            &admin,
            &json!({"name": "Ada", "email": "ada@cat.test"}),
        ),
        201,
    );
    let cid = id(&c);
    ok(
        api.put(
            &format!("/api/crm/customers/{cid}"),
            &admin,
            &json!({"phone": "+34 600 000 001"}),
        ),
        200,
    );
    ok(
        api.post(
            "/api/crm/interactions",
            &admin,
            &json!({"customer_id": cid, "type": "call", "summary": "Hello"}),
        ),
        201,
    );
    let fu = ok(
        api.post(
            "/api/crm/followups",
            &admin,
            &json!({"customer_id": cid, "due_at": "2030-01-01T10:00:00Z"}),
        ),
        201,
    );
    ok(
        api.put(
            &format!("/api/crm/followups/{}", id(&fu)),
            &admin,
            &json!({"status": "done"}),
        ),
        200,
    );
    let apt = ok(api.post("/api/calendar/appointments", &admin, &json!({"title": "Viewing", "starts_at": "2030-01-01T10:00:00Z", "ends_at": "2030-01-01T11:00:00Z"})), 201);
    ok(
        api.put(
            &format!("/api/calendar/appointments/{}/complete", id(&apt)),
            &admin,
            &json!({"outcome": "sold"}),
        ),
        200,
    );
    ok(
        api.post(
            "/api/cards",
            &admin,
            &json!({"slug": format!("cat-{}", &t[t.len() - 6..]), "display_name": "Ada"}),
        ),
        201,
    );
    let owner = ok(
        api.post("/api/owners", &admin, &json!({"name": "Olga"})),
        201,
    );
    let p = ok(api.post("/api/properties", &admin, &json!({"owner_id": id(&owner), "title": "Flat", "kind": "apartment", "price_minor": 25_000_000, "currency": "EUR", "city": "Valencia", "bedrooms": 2})), 201);
    let pid = id(&p);
    ok(
        api.put(
            &format!("/api/properties/{pid}"),
            &admin,
            &json!({"price_minor": 24_000_000}),
        ),
        200,
    );
    ok(api.post("/api/seekers", &admin, &json!({"name": "Nora", "budget_max_minor": 30_000_000, "currency": "EUR", "cities": ["Valencia"], "kinds": ["apartment"]})), 201);
    ok(api.post("/api/matching/run", &admin, &json!({})), 202);
    let u = ok(api.post("/api/users", &admin, &json!({"email": "kim@cat.test", "name": "Kim", "role": "broker", "password": "kim-password-1"})), 201);
    ok(
        api.put(
            &format!("/api/users/{}", id(&u)),
            &admin,
            &json!({"name": "Kim B."}),
        ),
        200,
    );
    ok(api.delete(&format!("/api/users/{}", id(&u)), &admin), 204);
    let sale = ok(api.post("/api/finance/sales", &admin, &json!({"customer_id": cid, "property_id": pid, "total_minor": 100_000, "currency": "EUR"})), 201);
    ok(api.post("/api/finance/payments", &admin, &json!({"sale_id": id(&sale), "amount_minor": 1_000, "currency": "EUR", "method": "cash"})), 201);
    ok(
        api.put(
            &format!(
                "/api/finance/commissions/{}/approve",
                id(&sale["commission"])
            ),
            &admin,
            &json!({}),
        ),
        200,
    );
    ok(
        api.put(
            "/api/finance/commission-rates",
            &admin,
            &json!({"rate_bps": 250}),
        ),
        200,
    );
    ok(
        api.put(
            "/api/finance/settings",
            &admin,
            &json!({"broker_rate_override_max_bps": 450}),
        ),
        200,
    );
    let listing = ok(
        api.post(
            "/api/publishing/listings",
            &admin,
            &json!({"property_id": pid, "platforms": ["local"]}),
        ),
        201,
    );
    let lid = id(&listing);
    let sch = ok(
        api.post(
            "/api/publishing/schedules",
            &admin,
            &json!({"listing_id": lid, "run_at": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339()}),
        ),
        201,
    );
    ok(
        api.delete(&format!("/api/publishing/schedules/{}", id(&sch)), &admin),
        200,
    );
    ok(
        api.post(
            &format!("/api/publishing/listings/{lid}/publish"),
            &admin,
            &json!({}),
        ),
        202,
    );
    let gone_seeker = ok(
        api.post(
            "/api/seekers",
            &admin,
            &json!({"name": "Gone", "budget_max_minor": 1_000, "currency": "EUR"}),
        ),
        201,
    );
    ok(
        api.delete(&format!("/api/seekers/{}", id(&gone_seeker)), &admin),
        204,
    );
    let gone = ok(
        api.post("/api/crm/customers", &admin, &json!({"name": "Gone"})),
        201,
    );
    ok(
        api.delete(&format!("/api/crm/customers/{}", id(&gone)), &admin),
        204,
    );
    ok(
        api.post(
            "/api/realtime/publish",
            &admin,
            &json!({"type": "system:alert", "target_roles": ["admin"], "data": {"message": "hi"}}),
        ),
        202,
    );

    let want: BTreeSet<&str> = [
        "crm:customer:created",
        "crm:customer:updated",
        "crm:customer:deleted",
        "crm:interaction:created",
        "crm:followup:created",
        "crm:followup:completed",
        "calendar:appointment:created",
        "calendar:appointment:completed",
        "card:created",
        "owners:owner:added",
        "owners:property:added",
        "owners:property:updated",
        "owners:seeker:added",
        "owners:seeker:deleted",
        "owners:match:found",
        "users:user:created",
        "users:user:updated",
        "users:user:deleted",
        "finance:sale:created",
        "finance:commission:calculated",
        "finance:payment:received",
        "finance:commission:approved",
        "finance:commission_rate:updated",
        "finance:settings:updated",
        "reports:dashboard:updated",
        "publishing:listing:created",
        "publishing:schedule:created",
        "publishing:schedule:cancelled",
        "publishing:started",
        "publishing:completed",
        "job:queued",
        "job:progress",
        "job:completed",
        "system:alert",
    ]
    .into_iter()
    .collect();
    // Every frame `recv` reads is checked against the catalog as it arrives.
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && !want.iter().all(|k| seen.contains(*k)) {
        if let Some(f) = ws.recv(Duration::from_millis(500)) {
            if f["op"] == "event" {
                seen.insert(f["type"].as_str().unwrap_or_default().to_string());
            }
        }
    }
    let missing: Vec<&&str> = want.iter().filter(|k| !seen.contains(**k)).collect();
    assert!(missing.is_empty(), "no live {missing:?}; saw {seen:?}");
    ws.close();

    // The same events from the REST history, checked by the client too.
    let mut history = BTreeSet::new();
    let mut since = 0;
    loop {
        let page = ok(
            api.get(
                &format!("/api/realtime/events?since={since}&limit=100"),
                &admin,
            ),
            200,
        );
        let items = page["data"].as_array().expect("data").clone();
        for e in &items {
            history.insert(e["type"].as_str().unwrap_or_default().to_string());
            since = e["seq"].as_u64().expect("seq");
        }
        if items.len() < 100 {
            break;
        }
    }
    let missing: Vec<&&str> = want.iter().filter(|k| !history.contains(**k)).collect();
    assert!(missing.is_empty(), "not in the history: {missing:?}");
}
