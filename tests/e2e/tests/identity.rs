//! Identity: password login (seeded users), failed-login rate limits, refresh-token
//! rotation and reuse detection, logout, and `/api/users` management by role.

use crate::assertions as check;
use crate::client::{Resp, Ws};
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::{json, Value};
use std::time::Duration;

const LOGIN: &str = "/api/auth/login";
const REFRESH: &str = "/api/auth/refresh";
const LOGOUT: &str = "/api/auth/logout";
const USERS: &str = "/api/users";
const PW: &str = "pulse-dev-password";

/// Each test logs in from its own made-up client address, so per-IP budgets never leak
/// between tests.
fn ip(n: u8) -> String {
    format!("198.51.100.{n}")
}

fn login(cx: &Ctx, tenant: &str, email: &str, password: &str, from: &str) -> Resp {
    cx.api.post_public(
        LOGIN,
        &json!({"tenant": tenant, "email": email, "password": password}),
        &[("cf-connecting-ip", from)],
    )
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("JWT payload");
    let std_b64 = payload.replace('-', "+").replace('_', "/");
    let bytes = pulse::domain::password::b64_decode(&std_b64).expect("base64url");
    serde_json::from_slice(&bytes).expect("claims JSON")
}

fn tokens_ok(r: &Resp) -> (String, String) {
    check::status(r, 200);
    assert_eq!(r.body["token_type"], "Bearer", "{}", r.body);
    assert_eq!(r.body["expires_in"], 900, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    (
        r.body["access_token"].as_str().expect("access").to_string(),
        r.body["refresh_token"]
            .as_str()
            .expect("refresh")
            .to_string(),
    )
}

fn refresh(cx: &Ctx, token: &str) -> Resp {
    cx.api
        .post_public(REFRESH, &json!({"refresh_token": token}), &[])
}

/// Creates a user in `tenant` as an admin; returns its id.
fn make_user(cx: &Ctx, admin: &str, email: &str, role: &str, password: &str) -> String {
    let r = cx.api.post(
        USERS,
        admin,
        &json!({"email": email, "name": "Test User", "role": role, "password": password}),
    );
    check::status(&r, 201);
    r.body["id"].as_str().expect("id").to_string()
}

pub fn login_seeded_user(cx: &mut Ctx) {
    let r = login(cx, "demo", "Admin@Demo.test", PW, &ip(1));
    let (access, refresh_token) = tokens_ok(&r);
    let c = claims(&access);
    assert_eq!(
        (&c["sub"], &c["tid"], &c["role"]),
        (&json!("demo-admin"), &json!("demo"), &json!("admin"))
    );
    let (iat, exp) = (c["iat"].as_i64().unwrap(), c["exp"].as_i64().unwrap());
    assert_eq!(exp - iat, 900);
    assert!(refresh_token.starts_with("demo."), "{refresh_token}");
    // The access token from login works on the API.
    check::status(&cx.api.get("/api/crm/customers", &access), 200);

    // Every seeded user logs in with the contract's password, with its role.
    for (tenant, role) in [("acme", "viewer"), ("acme", "broker"), ("demo", "viewer")] {
        let r = login(cx, tenant, &format!("{role}@{tenant}.test"), PW, &ip(1));
        let (access, _) = tokens_ok(&r);
        assert_eq!(claims(&access)["role"], role);
        assert_eq!(claims(&access)["sub"], format!("{tenant}-{role}"));
    }
    let (viewer, _) = tokens_ok(&login(cx, "acme", "viewer@acme.test", PW, &ip(1)));
    check::status(&cx.api.get("/api/crm/customers", &viewer), 200);
    check::error(
        &cx.api
            .post("/api/crm/customers", &viewer, &json!({"name": "X"})),
        403,
        "forbidden",
    );
}

pub fn login_rejects_bad_credentials_and_input(cx: &mut Ctx) {
    let t = fresh_tenant("idlogin");
    let admin = cx.token(&t, "boss", "admin");
    make_user(cx, &admin, "ann@example.test", "broker", "ann-password-1");
    let from = ip(2);
    let wrong = login(cx, &t, "ann@example.test", "not-her-password", &from);
    check::error(&wrong, 401, "invalid_credentials");
    let unknown = login(cx, &t, "nobody@example.test", "ann-password-1", &from);
    check::error(&unknown, 401, "invalid_credentials");
    assert_eq!(wrong.body, unknown.body, "same answer for both");
    // Emails are per tenant: the right password in another tenant is wrong.
    check::error(
        &login(cx, "demo", "ann@example.test", "ann-password-1", &from),
        401,
        "invalid_credentials",
    );
    // The seeded password does not open a fresh tenant's namesake.
    check::error(
        &login(cx, &t, "admin@demo.test", PW, &from),
        401,
        "invalid_credentials",
    );
    tokens_ok(&login(cx, &t, "ann@example.test", "ann-password-1", &from));

    let r = cx
        .api
        .post_public(LOGIN, &json!({"email": "ann@example.test"}), &[]);
    check::error(&r, 422, "validation_failed");
    let f = &r.body["error"]["details"]["fields"];
    assert_eq!(f["tenant"], "is required");
    assert_eq!(f["password"], "is required");
    check::error(
        &cx.api.raw(
            "POST",
            LOGIN,
            None,
            Some("application/json"),
            Some("{\"email\": "),
        ),
        400,
        "bad_request",
    );
    check::error(
        &cx.api
            .raw("POST", LOGIN, None, Some("text/plain"), Some("hello")),
        415,
        "unsupported_media_type",
    );
    check::error(
        &cx.api.raw("GET", LOGIN, None, None, None),
        405,
        "method_not_allowed",
    );
}

pub fn login_is_rate_limited(cx: &mut Ctx) {
    let t = fresh_tenant("idrate");
    let admin = cx.token(&t, "boss", "admin");
    make_user(cx, &admin, "bob@example.test", "viewer", "bob-password-1");
    make_user(cx, &admin, "cy@example.test", "viewer", "cy-password-12");
    let from = ip(3);
    for n in 1..=5 {
        let r = login(cx, &t, "bob@example.test", "guess-guess", &from);
        check::error(&r, 401, "invalid_credentials");
        assert!(r.header("retry-after").is_none(), "attempt {n}");
    }
    // Locked: even the right password gets a 429 now, with Retry-After.
    for pw in ["guess-guess", "bob-password-1"] {
        let r = login(cx, &t, "bob@example.test", pw, &from);
        check::error(&r, 429, "rate_limited");
        let wait: u32 = r
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .expect("seconds");
        assert!((1..=900).contains(&wait), "Retry-After {wait}");
    }
    // Per account: another user from the same address is not locked.
    tokens_ok(&login(cx, &t, "cy@example.test", "cy-password-12", &from));
    // Another address is locked out of bob too (the account budget is per tenant+email).
    check::error(
        &login(cx, &t, "bob@example.test", "bob-password-1", &ip(4)),
        429,
        "rate_limited",
    );

    // Per IP: 20 failures over many emails lock the address, whatever the account.
    let spray = ip(5);
    for n in 0..20 {
        let r = login(cx, &t, &format!("x{n}@example.test"), "nope-nope", &spray);
        check::error(&r, 401, "invalid_credentials");
    }
    let r = login(cx, &t, "cy@example.test", "cy-password-12", &spray);
    check::error(&r, 429, "rate_limited");
    assert!(r.header("retry-after").is_some());
    // Other addresses are unaffected.
    tokens_ok(&login(cx, &t, "cy@example.test", "cy-password-12", &ip(6)));
}

pub fn refresh_rotates_and_detects_reuse(cx: &mut Ctx) {
    let (_, r1) = tokens_ok(&login(cx, "acme", "admin@acme.test", PW, &ip(7)));
    let (a2, r2) = tokens_ok(&refresh(cx, &r1));
    assert_ne!(r1, r2, "refresh rotates the refresh token");
    assert_eq!(claims(&a2)["sub"], "acme-admin");
    check::status(&cx.api.get("/api/crm/customers", &a2), 200);
    let (_, r3) = tokens_ok(&refresh(cx, &r2));

    // Replaying r1 (already rotated) is reuse: refused, and the family is revoked...
    check::error(&refresh(cx, &r1), 401, "invalid_refresh_token");
    // ...so even the newest token of that family stops working.
    check::error(&refresh(cx, &r3), 401, "invalid_refresh_token");
    check::error(&refresh(cx, &r2), 401, "invalid_refresh_token");

    // Another login starts a new, independent family.
    let (_, s1) = tokens_ok(&login(cx, "acme", "admin@acme.test", PW, &ip(7)));
    tokens_ok(&refresh(cx, &s1));

    // Garbage and foreign-looking tokens.
    for bad in [
        "nope".to_string(),
        format!("acme.{}", "0".repeat(64)),
        format!("demo.{}", r1.split('.').nth(1).unwrap()),
    ] {
        check::error(&refresh(cx, &bad), 401, "invalid_refresh_token");
    }
    check::error(
        &cx.api.post_public(REFRESH, &json!({"token": r1}), &[]),
        422,
        "validation_failed",
    );
}

pub fn logout_ends_the_session(cx: &mut Ctx) {
    let (_, r1) = tokens_ok(&login(cx, "demo", "broker@demo.test", PW, &ip(8)));
    let (_, r2) = tokens_ok(&refresh(cx, &r1));
    let out = cx
        .api
        .post_public(LOGOUT, &json!({"refresh_token": r2}), &[]);
    check::status(&out, 204);
    check::error(&refresh(cx, &r2), 401, "invalid_refresh_token");
    // Idempotent, and says nothing about unknown tokens.
    check::status(
        &cx.api
            .post_public(LOGOUT, &json!({"refresh_token": r2}), &[]),
        204,
    );
    check::status(
        &cx.api
            .post_public(LOGOUT, &json!({"refresh_token": "whatever"}), &[]),
        204,
    );
    check::error(
        &cx.api.post_public(LOGOUT, &json!({}), &[]),
        422,
        "validation_failed",
    );
    // Other sessions of the same user are untouched.
    let (_, s1) = tokens_ok(&login(cx, "demo", "broker@demo.test", PW, &ip(8)));
    tokens_ok(&refresh(cx, &s1));
}

pub fn users_crud_roles_and_isolation(cx: &mut Ctx) {
    let t = fresh_tenant("idusers");
    let admin = cx.token(&t, "boss", "admin");
    let broker = cx.token(&t, "b1", "broker");
    let viewer = cx.token(&t, "v1", "viewer");

    check::error(
        &cx.api.raw("GET", USERS, None, None, None),
        401,
        "unauthorized",
    );
    let body = json!({"email": "Dee@Example.test", "name": "Dee", "role": "viewer",
                      "password": "dee-password-1"});
    check::error(&cx.api.post(USERS, &broker, &body), 403, "forbidden");
    let r = cx.api.post(USERS, &admin, &body);
    check::status(&r, 201);
    let id = r.body["id"].as_str().unwrap().to_string();
    let one = format!("{USERS}/{id}");
    assert_eq!(r.body["email"], "dee@example.test");
    assert_eq!(r.body["role"], "viewer");
    assert!(r.body.get("password_hash").is_none() && r.body.get("password").is_none());
    assert_eq!(r.header("location"), Some(one.as_str()));
    check::error(&cx.api.post(USERS, &admin, &body), 409, "conflict");

    let bad = cx.api.post(
        USERS,
        &admin,
        &json!({"email": "x", "role": "owner", "password": "short", "extra": 1}),
    );
    check::error(&bad, 422, "validation_failed");
    let f = &bad.body["error"]["details"]["fields"];
    for k in ["email", "name", "role", "password", "extra"] {
        assert!(f[k].is_string(), "{k} in {f}");
    }
    check::error(
        &cx.api
            .raw("POST", USERS, Some(&admin), Some("text/plain"), Some("{}")),
        415,
        "unsupported_media_type",
    );

    // Reads: admins, and each user their own record (the list holds only themself).
    let g = cx.api.get(&one, &admin);
    check::status(&g, 200);
    assert_eq!(g.body, r.body);
    check::error(&cx.api.get(&one, &broker), 403, "forbidden");
    let mine = cx.api.get(USERS, &broker);
    check::status(&mine, 200);
    assert!(mine.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["id"] == claim_sub(&broker)));
    check::status(&cx.api.get(USERS, &viewer), 200);
    check::error(&cx.api.get(&one, &viewer), 403, "forbidden");
    let dee = cx.token(&t, &id, "viewer");
    check::status(&cx.api.get(&one, &dee), 200);

    // The new user logs in; a role change shows on the next refresh.
    let (access, refresh_token) =
        tokens_ok(&login(cx, &t, "dee@example.test", "dee-password-1", &ip(9)));
    assert_eq!(claims(&access)["role"], "viewer");
    check::error(
        &cx.api.put(&one, &broker, &json!({"role": "broker"})),
        403,
        "forbidden",
    );
    check::error(
        &cx.api.put(&one, &admin, &json!({})),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api
            .put(&one, &admin, &json!({"email": "new@example.test"})),
        422,
        "validation_failed",
    );
    let u = cx
        .api
        .put(&one, &admin, &json!({"role": "broker", "name": "Dee B"}));
    check::status(&u, 200);
    assert_eq!(
        (&u.body["role"], &u.body["name"]),
        (&json!("broker"), &json!("Dee B"))
    );
    assert_eq!(cx.api.get(&one, &admin).body, u.body);
    let (access, refresh_token) = tokens_ok(&refresh(cx, &refresh_token));
    assert_eq!(claims(&access)["role"], "broker");

    // An admin cannot set another user's password (nothing changes; the session lives).
    check::error(
        &cx.api
            .put(&one, &admin, &json!({"password": "dee-password-2"})),
        403,
        "forbidden",
    );
    let (_, refresh_token) = tokens_ok(&refresh(cx, &refresh_token));
    check::error(
        &login(cx, &t, "dee@example.test", "dee-password-2", &ip(9)),
        401,
        "invalid_credentials",
    );
    // An admin's own password reset ends their sessions; the new password works.
    let ada = make_user(cx, &admin, "ada@example.test", "admin", "ada-password-1");
    let (ada_access, ada_refresh) =
        tokens_ok(&login(cx, &t, "ada@example.test", "ada-password-1", &ip(9)));
    check::status(
        &cx.api.put(
            &format!("{USERS}/{ada}"),
            &ada_access,
            &json!({"password": "ada-password-2"}),
        ),
        200,
    );
    check::error(&refresh(cx, &ada_refresh), 401, "invalid_refresh_token");
    check::error(
        &login(cx, &t, "ada@example.test", "ada-password-1", &ip(9)),
        401,
        "invalid_credentials",
    );
    tokens_ok(&login(cx, &t, "ada@example.test", "ada-password-2", &ip(9)));

    // Another tenant's admin sees nothing of it.
    let other = cx.token(&fresh_tenant("idother"), "boss", "admin");
    check::error(&cx.api.get(&one, &other), 404, "not_found");
    check::error(
        &cx.api.put(&one, &other, &json!({"name": "Hijack"})),
        404,
        "not_found",
    );
    check::error(&cx.api.delete(&one, &other), 404, "not_found");
    assert_eq!(
        cx.api.get(USERS, &other).body["data"],
        json!([]),
        "other tenant lists nobody"
    );

    // Admins cannot delete themselves or demote themselves.
    let me = make_user(cx, &admin, "root@example.test", "admin", "root-password-1");
    let me_tok = cx.token(&t, &me, "admin");
    check::error(
        &cx.api.delete(&format!("{USERS}/{me}"), &me_tok),
        409,
        "conflict",
    );
    check::error(
        &cx.api.put(
            &format!("{USERS}/{me}"),
            &me_tok,
            &json!({"role": "viewer"}),
        ),
        422,
        "validation_failed",
    );

    // Delete: admin only; the user's sessions end with it.
    check::error(&cx.api.delete(&one, &broker), 403, "forbidden");
    check::status(&cx.api.delete(&one, &me_tok), 204);
    check::error(&cx.api.get(&one, &admin), 404, "not_found");
    check::error(&cx.api.delete(&one, &admin), 404, "not_found");
    check::error(&refresh(cx, &refresh_token), 401, "invalid_refresh_token");
    check::error(
        &cx.api.get(&format!("{USERS}/not/a-path"), &admin),
        404,
        "route_not_found",
    );
    check::error(
        &cx.api.get(&format!("{USERS}/u_nope"), &admin),
        404,
        "not_found",
    );
}

pub fn users_pagination(cx: &mut Ctx) {
    let t = fresh_tenant("idpage");
    let admin = cx.token(&t, "boss", "admin");
    let mut ids: Vec<String> = (0..3)
        .map(|n| {
            make_user(
                cx,
                &admin,
                &format!("p{n}@example.test"),
                "viewer",
                "page-password-1",
            )
        })
        .collect();
    ids.reverse(); // newest first
    let p1 = cx.api.get(&format!("{USERS}?limit=2"), &admin);
    check::status(&p1, 200);
    let cursor = p1.body["next_cursor"].as_str().expect("cursor").to_string();
    let p2 = cx
        .api
        .get(&format!("{USERS}?limit=2&cursor={cursor}"), &admin);
    check::status(&p2, 200);
    assert_eq!(p2.body["next_cursor"], Value::Null);
    let seen: Vec<String> = p1.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p2.body["data"].as_array().unwrap())
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, ids);
    check::error(
        &cx.api.get(&format!("{USERS}?limit=0"), &admin),
        400,
        "bad_request",
    );
}

pub fn user_events_reach_admins_without_secrets(cx: &mut Ctx) {
    let t = fresh_tenant("idevents");
    let admin = cx.token(&t, "boss", "admin");
    let mut ws = Ws::connect(&cx.server.base, &admin);
    ws.subscribe(&["role:admin"], None);
    let id = make_user(cx, &admin, "eve@example.test", "broker", "eve-password-1");
    let (created, _) = ws.wait_for("users:user:created", Duration::from_secs(10));
    check::event(&created, "users:user:created");
    assert_eq!(created["data"]["id"], id.as_str());
    assert!(!created.to_string().contains("pbkdf2"), "{created}");
    assert_eq!(
        created["channels"],
        json!(["role:admin", format!("entity:user:{id}")])
    );
    let one = format!("{USERS}/{id}");
    check::status(&cx.api.put(&one, &admin, &json!({"role": "viewer"})), 200);
    let (updated, _) = ws.wait_for("users:user:updated", Duration::from_secs(10));
    assert_eq!(updated["data"]["role"], "viewer");
    assert!(!updated.to_string().contains("pbkdf2"), "{updated}");
    check::status(&cx.api.delete(&one, &admin), 204);
    let (deleted, _) = ws.wait_for("users:user:deleted", Duration::from_secs(10));
    assert_eq!(deleted["data"], json!({"id": id}));
    ws.close();
}

fn claim_sub(token: &str) -> String {
    crate::client::claim(token, "sub")
}
