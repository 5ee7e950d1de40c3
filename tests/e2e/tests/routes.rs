//! The served OpenAPI document against the running Worker: every endpoint answers as its
//! declaration says (who may call it, checked before the handler runs), and the document
//! states what the router does for every endpoint.

use crate::assertions as check;
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::{json, Value};

fn served_spec(cx: &Ctx) -> Value {
    let spec = cx.api.raw("GET", "/api/openapi.json", None, None, None);
    check::status(&spec, 200);
    spec.body
}

/// `/a/{id}/b` with every path parameter filled in (no such record: the access rule comes
/// first, so the value does not matter).
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "x_nope" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// Without a token every non-public endpoint is a 401, and a viewer gets 403 wherever its
/// `x-roles` leave viewers out: the router applies the declared rule before the handler, so
/// neither a missing WebSocket upgrade nor an empty body nor an unknown id is looked at.
pub fn access_rules_match_the_document(cx: &mut Ctx) {
    let spec = served_spec(cx);
    let viewer = cx.token(&fresh_tenant("routes"), "v1", "viewer");
    let (mut anonymous, mut refused) = (0, 0);
    for (path, item) in spec["paths"].as_object().expect("paths") {
        let url = concrete(path);
        for (method, op) in item.as_object().expect("path item") {
            let method = method.to_uppercase();
            let roles: Vec<&str> = op["x-roles"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if op["security"] == json!([]) {
                assert!(roles.is_empty(), "{method} {path}: public yet has roles");
                continue;
            }
            let body = (method == "POST" || method == "PUT").then_some("{}");
            let ctype = body.map(|_| "application/json");
            // The operator's routes: no tenant roles; a tenant's token is no platform token.
            if op["security"] == json!([{"platformToken": []}]) {
                assert!(
                    roles.is_empty(),
                    "{method} {path}: operator route with roles"
                );
                for tok in [None, Some(viewer.as_str())] {
                    let r = cx.api.raw(&method, &url, tok, ctype, body);
                    check::error(&r, 401, "unauthorized");
                }
                anonymous += 1;
                continue;
            }
            assert!(!roles.is_empty(), "{method} {path}: no x-roles");
            let r = cx.api.raw(&method, &url, None, ctype, body);
            assert_eq!(r.status, 401, "{method} {url} without a token: {}", r.body);
            check::error(&r, 401, "unauthorized");
            assert!(op["responses"]["401"].is_object(), "{method} {path}: 401");
            anonymous += 1;
            if !roles.contains(&"viewer") {
                let r = cx.api.raw(&method, &url, Some(&viewer), ctype, body);
                assert_eq!(r.status, 403, "{method} {url} as a viewer: {}", r.body);
                check::error(&r, 403, "forbidden");
                assert!(op["responses"]["403"].is_object(), "{method} {path}: 403");
                refused += 1;
            }
        }
    }
    assert!(anonymous >= 80, "only {anonymous} endpoints checked");
    assert!(refused >= 40, "only {refused} role refusals checked");
}

/// What the router does to every request is in every operation: the rate limit (429) on
/// all but `/health`, 401 on every non-public one, `Idempotency-Key` on every non-public
/// POST, a 404 on every path with an id, and unique operation ids.
pub fn document_states_the_router_rules(cx: &mut Ctx) {
    let spec = served_spec(cx);
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let at = format!("{method} {path}");
            let id = op["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_string()), "{at}: operationId {id} twice");
            let responses = &op["responses"];
            assert_eq!(responses["429"].is_object(), path != "/health", "{at}: 429");
            let public = op["security"] == json!([]);
            assert!(responses["401"].is_object() || public, "{at}: 401");
            if path.contains('{') {
                assert!(responses["404"].is_object(), "{at}: 404");
            }
            let idempotent = op["parameters"].as_array().is_some_and(|ps| {
                ps.iter()
                    .any(|p| p["$ref"] == "#/components/parameters/idempotencyKey")
            });
            let operator = op["security"] == json!([{"platformToken": []}]);
            assert_eq!(
                idempotent,
                method == "post" && !public && !operator,
                "{at}: Idempotency-Key"
            );
        }
    }
}

/// Outside dev (`PULSE_ENV` not `dev`), every dev-only endpoint of the document answers 404
/// before any other check, even to an admin; the same requests reach their handlers in dev.
pub fn dev_routes_are_404_outside_dev(cx: &mut Ctx) {
    let spec = served_spec(cx);
    let admin = cx.token(&fresh_tenant("devgate"), "a1", "admin");
    let dev_paths: Vec<String> = spec["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|p| p.starts_with("/api/dev/"))
        .cloned()
        .collect();
    assert!(!dev_paths.is_empty(), "the document lists the dev routes");
    let messages = cx.api.get("/api/dev/messages", &admin);
    check::status(&messages, 200);
    cx.restart_with(&[("PULSE_ENV", "production")]);
    for path in &dev_paths {
        for method in spec["paths"][path].as_object().unwrap().keys() {
            let r = cx.api.raw(
                &method.to_uppercase(),
                &concrete(path),
                Some(&admin),
                Some("application/json"),
                Some("{}"),
            );
            assert_eq!(r.status, 404, "{method} {path} outside dev: {:?}", r.body);
        }
    }
    cx.restart_with(&[]);
    check::status(&cx.api.get("/api/dev/messages", &admin), 200);
}
