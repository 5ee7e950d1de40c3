//! Request bodies: the API accepts exactly what its declared schemas (the OpenAPI request
//! bodies) accept, no more and no less.

use crate::assertions as check;
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::json;

/// The public scan route takes a JSON object (or no body); anything else is a 422, and
/// unknown fields are ignored as its schema says.
pub fn scan_body_is_an_object(cx: &mut Ctx) {
    let t = fresh_tenant("val-scan");
    let b = cx.token(&t, "b1", "broker");
    let slug = t.to_ascii_lowercase().replace('_', "-");
    let card = cx.api.post(
        "/api/cards",
        &b,
        &json!({"slug": slug, "display_name": "Val"}),
    );
    check::status(&card, 201);
    let path = format!("/api/cards/{}/scan", card.body["id"].as_str().unwrap());
    for body in [
        "[]",
        "\"qr\"",
        "5",
        "null",
        "{\"source\": 5}",
        "{\"source\": \"fax\"}",
    ] {
        let r = cx
            .api
            .raw("POST", &path, None, Some("application/json"), Some(body));
        check::error(&r, 422, "validation_failed");
    }
    let r = cx.api.raw(
        "POST",
        &path,
        None,
        Some("application/json"),
        Some("{\"source\": \"nfc\", \"campaign\": \"x\"}"),
    );
    check::status(&r, 202);
}

/// Integers may be written `450.0` (a JSON Schema integer); lengths count the characters
/// as sent; date-times need the `T` the schema's format requires.
pub fn numbers_lengths_and_times_follow_the_schema(cx: &mut Ctx) {
    let t = fresh_tenant("val-body");
    let admin = cx.token(&t, "a1", "admin");
    let r = cx.api.put(
        "/api/finance/settings",
        &admin,
        &json!({"broker_rate_override_max_bps": 450.0}),
    );
    check::status(&r, 200);
    assert_eq!(r.body["broker_rate_override_max_bps"], 450, "{}", r.body);

    let padded = format!(" {}", "a".repeat(200));
    let r = cx
        .api
        .post("/api/crm/customers", &admin, &json!({"name": padded}));
    check::error(&r, 422, "validation_failed");
    assert_eq!(
        r.body["error"]["details"]["fields"]["name"],
        "must be at most 200 characters"
    );
    let r = cx.api.post(
        "/api/crm/customers",
        &admin,
        &json!({"name": "é".repeat(200)}),
    );
    check::status(&r, 201);
    let customer = r.body["id"].as_str().unwrap().to_string();

    // 200 characters, 400 bytes: within the login email's 254 characters.
    let r = cx.api.post_public(
        "/api/auth/login",
        &json!({"tenant": t, "email": "é".repeat(200), "password": "x"}),
        &[],
    );
    check::error(&r, 401, "invalid_credentials");

    let r = cx.api.post(
        "/api/crm/followups",
        &admin,
        &json!({"customer_id": customer, "due_at": "2030-12-01 09:00:00Z"}),
    );
    check::error(&r, 422, "validation_failed");
    assert!(r.body["error"]["details"]["fields"]["due_at"].is_string());
    let r = cx.api.post(
        "/api/crm/followups",
        &admin,
        &json!({"customer_id": customer, "due_at": "2030-12-01T09:00:00Z"}),
    );
    check::status(&r, 201);
}
