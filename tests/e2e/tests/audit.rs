//! The audit trail: every committed change by a caller, failed logins on existing accounts
//! and role changes, filtered by entity, actor, action and time, for admins only.

use crate::assertions as check;
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::{json, Value};

const A: &str = "/api/audit";

fn entries(cx: &Ctx, tok: &str, query: &str) -> Vec<Value> {
    let r = cx.api.get(&format!("{A}{query}"), tok);
    check::status(&r, 200);
    r.body["data"].as_array().unwrap().clone()
}

fn actions(v: &[Value]) -> Vec<&str> {
    v.iter().map(|e| e["action"].as_str().unwrap()).collect()
}

pub fn changes_are_audited_with_their_actor(cx: &mut Ctx) {
    let t = fresh_tenant("audit");
    let admin = cx.token(&t, "boss", "admin");
    let start = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    std::thread::sleep(std::time::Duration::from_millis(5));
    let u = cx.api.post(
        "/api/users",
        &admin,
        &json!({"email": "bo@audit.test", "name": "Bo", "role": "broker", "password": "bo-password-123"}),
    );
    check::status(&u, 201);
    let bo = u.body["id"].as_str().unwrap().to_string();
    let broker = cx.token(&t, &bo, "broker");
    let c = cx
        .api
        .post("/api/crm/customers", &broker, &json!({"name": "Ann"}));
    check::status(&c, 201);
    let cid = c.body["id"].as_str().unwrap().to_string();
    let upd = cx.api.put(
        &format!("/api/crm/customers/{cid}"),
        &broker,
        &json!({"name": "Ann B", "version": 1}),
    );
    check::status(&upd, 200);
    // A role change by the admin, and a failed login on Bo's account.
    check::status(
        &cx.api.put(
            &format!("/api/users/{bo}"),
            &admin,
            &json!({"role": "viewer"}),
        ),
        200,
    );
    let bad = cx.api.post_public(
        "/api/auth/login",
        &json!({"tenant": t, "email": "bo@audit.test", "password": "wrong-password-1"}),
        &[],
    );
    check::status(&bad, 401);
    // An unknown account records nothing.
    let unknown = cx.api.post_public(
        "/api/auth/login",
        &json!({"tenant": t, "email": "nobody@audit.test", "password": "wrong-password-1"}),
        &[],
    );
    check::status(&unknown, 401);

    let all = entries(cx, &admin, "");
    assert_eq!(
        actions(&all),
        vec![
            "auth:login:failed",
            "users:user:updated",
            "crm:customer:updated",
            "crm:customer:created",
            "users:user:created"
        ],
        "{all:?}"
    );
    let failed = &all[0];
    assert_eq!(failed["actor"], "anonymous");
    assert_eq!(failed["entity"], format!("user:{bo}"));
    assert_eq!(failed["changes"]["email"], "bo@audit.test");
    let role = &all[1];
    assert_eq!(
        (role["actor"].as_str(), role["entity"].as_str()),
        (Some("boss"), Some(format!("user:{bo}").as_str()))
    );
    assert_eq!(
        role["changes"]["role"],
        json!({"from": "broker", "to": "viewer"}),
        "{role}"
    );
    assert!(all
        .iter()
        .all(|e| e["at"].is_string() && e["id"].as_str().unwrap().starts_with("aud_")));

    // Filters.
    let by_bo = entries(cx, &admin, &format!("?actor={bo}"));
    assert_eq!(
        actions(&by_bo),
        vec!["crm:customer:updated", "crm:customer:created"]
    );
    assert_eq!(by_bo[0]["changes"]["name"]["to"], "Ann B");
    // An update's change set is what it changed, nothing else.
    assert_eq!(
        by_bo[0]["changes"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["name"]
    );
    assert_eq!(
        entries(cx, &admin, &format!("?entity=customer:{cid}")).len(),
        2
    );
    assert_eq!(entries(cx, &admin, "?entity=customer").len(), 2);
    assert_eq!(entries(cx, &admin, "?entity=user").len(), 3);
    assert_eq!(
        actions(&entries(cx, &admin, "?action=crm:customer:*")),
        vec!["crm:customer:updated", "crm:customer:created"]
    );
    assert_eq!(entries(cx, &admin, "?action=auth:login:failed").len(), 1);
    assert!(entries(cx, &admin, &format!("?to={start}")).is_empty());
    assert_eq!(entries(cx, &admin, &format!("?from={start}")).len(), 5);
    let p = cx.api.get(&format!("{A}?limit=2"), &admin);
    let next = p.body["next_cursor"].as_str().unwrap().to_string();
    assert_eq!(
        entries(cx, &admin, &format!("?limit=2&cursor={next}")).len(),
        2
    );
    check::error(
        &cx.api.get(&format!("{A}?from=yesterday"), &admin),
        400,
        "bad_request",
    );

    // Admins only; another tenant's admin sees none of it.
    check::error(&cx.api.get(A, &broker), 403, "forbidden");
    let other = cx.token(&fresh_tenant("audit-x"), "boss", "admin");
    assert!(entries(cx, &other, "").is_empty());
}
