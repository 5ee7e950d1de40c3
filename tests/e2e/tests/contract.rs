//! Query parameters, headers and stated rules: the server refuses exactly what the served
//! OpenAPI document forbids (the parameters' and headers' schemas), and a schema-valid
//! request it refuses falls under a rule the operation lists in `x-rules`.

use crate::assertions as check;
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::{json, Value};

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Typed query filters are checked before the handler as declared: unknown enum values,
/// empty typed values, non-canonical integers and `1` for a flag are 400; text filters
/// take anything.
pub fn typed_query_parameters_are_checked(cx: &mut Ctx) {
    let t = fresh_tenant("ctr-q");
    let v = cx.token(&t, "v1", "viewer");
    for path in [
        "/api/calendar/appointments?status=bogus",
        "/api/calendar/appointments?from=",
        "/api/calendar/appointments?from=2026-11-23%2010:00:00Z",
        "/api/finance/commissions?status=unknown",
        "/api/publishing/schedules?status=done",
        "/api/seekers?active=1",
        "/api/properties?min_price=%2B5",
        "/api/properties?bedrooms_min=51",
        "/api/crm/followups?status=",
        "/api/crm/customers?limit=05",
    ] {
        check::error(&cx.api.get(path, &v), 400, "bad_request");
    }
    check::error(
        &cx.api
            .get("/api/realtime/events?channels=tenant,entity:nope:1", &v),
        400,
        "bad_channel",
    );
    for path in [
        "/api/calendar/appointments?status=scheduled&from=2026-11-23T10:00:00Z",
        "/api/seekers?active=true&customer_id=",
        "/api/properties?min_price=5&city=anything%20at%20all",
        "/api/crm/followups?assigned_to=&status=open",
    ] {
        check::status(&cx.api.get(path, &v), 200);
    }
}

/// A cursor of the declared form is a position (the page starts after its key), whether
/// or not the server issued it; uppercase hex or a control character is a 400.
pub fn any_well_formed_cursor_is_a_position(cx: &mut Ctx) {
    let t = fresh_tenant("ctr-cur");
    let b = cx.token(&t, "b1", "broker");
    for name in ["a", "b", "c"] {
        check::status(
            &cx.api
                .post("/api/crm/customers", &b, &json!({ "name": name })),
            201,
        );
    }
    let all = cx.api.get("/api/crm/customers", &b);
    let ids: Vec<String> = all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3);
    // A made-up key just after the newest id: every customer comes after it.
    let made_up = format!("c1{}", hex(&format!("{}~", ids[0])));
    let r = cx
        .api
        .get(&format!("/api/crm/customers?cursor={made_up}"), &b);
    check::status(&r, 200);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 3);
    let r = cx
        .api
        .get(&format!("/api/crm/customers?cursor=c1{}", hex(&ids[1])), &b);
    assert_eq!(r.body["data"][0]["id"], ids[2].as_str());
    for bad in ["c14A", "c10a41", "c1", "c1c3a9", "x141"] {
        check::error(
            &cx.api.get(&format!("/api/crm/customers?cursor={bad}"), &b),
            400,
            "bad_request",
        );
    }
}

/// If-Match is read as its declared pattern (no leading zeros), and a body version that
/// disagrees with it is a 400 naming `version`.
pub fn if_match_follows_its_pattern(cx: &mut Ctx) {
    let t = fresh_tenant("ctr-im");
    let b = cx.token(&t, "b1", "broker");
    let c = cx.api.post("/api/crm/customers", &b, &json!({"name": "x"}));
    check::status(&c, 201);
    let path = format!("/api/crm/customers/{}", c.body["id"].as_str().unwrap());
    let put = |if_match: &str, body: Value| {
        cx.api.raw_with(
            "PUT",
            &path,
            &b,
            &body.to_string(),
            &[("if-match", if_match)],
        )
    };
    check::error(&put("01", json!({"name": "y"})), 400, "bad_request");
    let r = put("\"2\"", json!({"name": "y", "version": 1}));
    check::error(&r, 400, "bad_request");
    assert!(
        r.body["error"]["details"]["fields"]["version"].is_string(),
        "{}",
        r.body
    );
    check::status(&put(" W/\"1\"\t", json!({"name": "y"})), 200);
}

/// The dev hub append takes its declared body: known channels only.
pub fn hub_append_takes_its_declared_body(cx: &mut Ctx) {
    let t = fresh_tenant("ctr-hub");
    let a = cx.token(&t, "a1", "admin");
    for body in [
        json!({"type": "system:x", "channels": ["nope"]}),
        json!({"type": "system:x y", "channels": ["tenant"]}),
        json!({"type": "system:x", "channels": [1, "tenant"]}),
        json!({"type": "system:x", "channels": ["tenant"], "repeat": 0}),
    ] {
        check::error(
            &cx.api.post("/api/dev/hub-append", &a, &body),
            422,
            "validation_failed",
        );
    }
    let r = cx.api.post(
        "/api/dev/hub-append",
        &a,
        &json!({"type": "system:x", "channels": ["tenant"], "repeat": 2}),
    );
    check::status(&r, 202);
    assert_eq!(r.body["appended"], 2);
}

/// Rules no schema can say are listed per operation (`x-rules`), and a refusal under one
/// names only its fields.
pub fn stated_rules_cover_their_refusals(cx: &mut Ctx) {
    let spec = cx
        .api
        .raw("GET", "/api/openapi.json", None, None, None)
        .body;
    let rules = |path: &str, method: &str| -> Vec<String> {
        spec["paths"][path][method]["x-rules"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path}: no x-rules"))
            .iter()
            .flat_map(|r| r["fields"].as_array().unwrap().clone())
            .map(|f| f.as_str().unwrap().to_string())
            .collect()
    };
    assert!(rules("/api/calendar/appointments", "post").contains(&"ends_at".into()));
    assert!(rules("/api/crm/customers/{id}", "put").contains(&"version".into()));
    let pay = rules("/api/finance/payments", "post");
    assert!(pay.contains(&"sale_id".into()) && pay.contains(&"currency".into()));
    let t = fresh_tenant("ctr-rule");
    let b = cx.token(&t, "b1", "broker");
    let r = cx.api.post(
        "/api/calendar/appointments",
        &b,
        &json!({"title": "x", "starts_at": "2030-01-01T10:00:00Z", "ends_at": "2030-01-01T10:00:00Z"}),
    );
    check::error(&r, 422, "validation_failed");
    let fields: Vec<&String> = r.body["error"]["details"]["fields"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(fields, ["ends_at"]);
    let r = cx.api.post(
        "/api/finance/payments",
        &b,
        &json!({"sale_id": "sale_nope", "amount_minor": 1, "currency": "EUR", "method": "cash"}),
    );
    check::error(&r, 422, "validation_failed");
    assert!(r.body["error"]["details"]["fields"]["sale_id"].is_string());
}
