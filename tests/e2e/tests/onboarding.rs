//! Onboarding: admins invite people by email, the invitee sets their own name and password
//! with the one-time token from the invitation email, and nobody else ever sets it.

use crate::assertions as check;
use crate::client::Ws;
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The token in the invitation email of `job` (recorded by the dev email provider).
fn emailed_token(cx: &Ctx, admin: &str, job: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let msgs = cx.api.get("/api/dev/messages", admin);
        let found = msgs.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["job_id"] == job)
            .cloned();
        if let Some(m) = found {
            let body = m["body"].as_str().unwrap_or_default().to_string();
            let start = body.find("\"token\": \"").expect("a token in the email") + 10;
            let end = start + body[start..].find('"').unwrap();
            return body[start..end].to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no invitation email: {}",
            msgs.body
        );
        std::thread::sleep(Duration::from_millis(150));
    }
}

fn accept(cx: &Ctx, token: &str, name: &str, password: &str) -> crate::client::Resp {
    cx.api.post_public(
        "/api/auth/accept-invite",
        &json!({"token": token, "name": name, "password": password}),
        &[],
    )
}

pub fn invitations_let_people_set_their_own_password(cx: &mut Ctx) {
    let t = fresh_tenant("invite");
    let admin = cx.token(&t, "boss", "admin");
    let broker = cx.token(&t, "b1", "broker");
    let mut ws = Ws::connect(&cx.server.base, &admin);
    ws.subscribe(&["role:admin"], None);

    // Only admins invite; bad bodies are 422.
    let body = json!({"email": "Ivy@Example.test", "role": "broker"});
    check::error(
        &cx.api.post("/api/users/invite", &broker, &body),
        403,
        "forbidden",
    );
    for bad in [
        json!({"email": "not-an-email", "role": "broker"}),
        json!({"email": "a@b.test", "role": "owner"}),
        json!({"email": "a@b.test"}),
    ] {
        check::error(
            &cx.api.post("/api/users/invite", &admin, &bad),
            422,
            "validation_failed",
        );
    }
    let r = cx.api.post("/api/users/invite", &admin, &body);
    check::status(&r, 201);
    assert_eq!(r.body["email"], "ivy@example.test");
    assert_eq!(r.body["role"], "broker");
    assert_eq!(r.body["invited_by"], "boss");
    assert!(r.body.get("token").is_none(), "{}", r.body);
    let job = r.header("pulse-job-id").expect("Pulse-Job-Id").to_string();
    let (ev, _) = ws.wait_for("users:invitation:created", Duration::from_secs(5));
    assert_eq!(ev["data"]["email"], "ivy@example.test");
    let token = emailed_token(cx, &admin, &job);
    assert!(
        !ev.to_string().contains(&token),
        "the event never carries the token"
    );
    // Nor does the job an admin can read, nor the tenant's event history.
    let j = cx.api.get(&format!("/api/jobs/{job}"), &admin);
    check::status(&j, 200);
    let secret = &token[token.len() - 64..];
    assert!(!j.body.to_string().contains(secret), "{}", j.body);
    let history = cx.api.get("/api/realtime/events?since=0&limit=100", &admin);
    check::status(&history, 200);
    assert!(
        !history.body.to_string().contains(secret),
        "the history never carries the token"
    );

    // Bad tokens are one 401; a bad body is a 422.
    for bad in [
        format!("{t}.{}", "0".repeat(64)),
        "nope".into(),
        format!("other.{}", &token[token.len() - 64..]),
    ] {
        check::error(
            &accept(cx, &bad, "Ivy", "ivy-password-1"),
            401,
            "invalid_invitation",
        );
    }
    check::error(
        &accept(cx, &token, "Ivy", "short"),
        422,
        "validation_failed",
    );

    // Accepted: answered like a login, as the invited role.
    let r = accept(cx, &token, "Ivy Green", "ivy-password-1");
    check::status(&r, 200);
    let access = r.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(crate::client::claim(&access, "role"), "broker");
    assert_eq!(crate::client::claim(&access, "tid"), t.as_str());
    assert!(r.body["refresh_token"].is_string());
    let me = crate::client::claim(&access, "sub");
    let got = cx.api.get(&format!("/api/users/{me}"), &access);
    check::status(&got, 200);
    assert_eq!(got.body["name"], "Ivy Green");
    assert_eq!(got.body["email"], "ivy@example.test");
    let (ev, _) = ws.wait_for("users:invitation:accepted", Duration::from_secs(5));
    assert_eq!(ev["data"]["user_id"], me.as_str());
    let login = cx.api.post_public(
        "/api/auth/login",
        &json!({"tenant": t, "email": "ivy@example.test", "password": "ivy-password-1"}),
        &[],
    );
    check::status(&login, 200);
    // Once only.
    check::error(
        &accept(cx, &token, "Ivy", "ivy-password-2"),
        401,
        "invalid_invitation",
    );
    // The email is a user now: inviting it again is a 409.
    check::error(
        &cx.api.post("/api/users/invite", &admin, &body),
        409,
        "conflict",
    );

    // A newer invitation replaces an open one: only the newest token works.
    let first = cx.api.post(
        "/api/users/invite",
        &admin,
        &json!({"email": "max@example.test", "role": "viewer"}),
    );
    check::status(&first, 201);
    let first_token = emailed_token(cx, &admin, first.header("pulse-job-id").unwrap());
    let second = cx.api.post(
        "/api/users/invite",
        &admin,
        &json!({"email": "max@example.test", "role": "admin"}),
    );
    check::status(&second, 201);
    let second_token = emailed_token(cx, &admin, second.header("pulse-job-id").unwrap());
    check::error(
        &accept(cx, &first_token, "Max", "max-password-1"),
        401,
        "invalid_invitation",
    );
    let r = accept(cx, &second_token, "Max", "max-password-1");
    check::status(&r, 200);
    assert_eq!(
        crate::client::claim(r.body["access_token"].as_str().unwrap(), "role"),
        "admin"
    );

    // An admin never sets another user's password; each user sets their own.
    check::error(
        &cx.api.put(
            &format!("/api/users/{me}"),
            &admin,
            &json!({"password": "taken-over-1"}),
        ),
        403,
        "forbidden",
    );
    let _: Value = got.body;
}

/// The operator adds a brokerage with `PLATFORM_TOKEN`: the tenant and its first admin's
/// invitation; the admin accepts and works in the new tenant.
pub fn the_operator_adds_a_brokerage(cx: &mut Ctx) {
    let platform = pulse_testkit::server::PLATFORM_TOKEN;
    let t = fresh_tenant("brokerage");
    let body = json!({"tenant": t, "name": "Casa Norte", "admin_email": "Owner@CasaNorte.test"});
    let post = |tok: Option<&str>, b: &Value| {
        cx.api.raw(
            "POST",
            "/api/platform/tenants",
            tok,
            Some("application/json"),
            Some(&b.to_string()),
        )
    };
    // Not without the platform token: a tenant admin's JWT is not one.
    let some_admin = cx.token(&fresh_tenant("other"), "a1", "admin");
    for tok in [
        None,
        Some(some_admin.as_str()),
        Some("platform-test-token-wrong"),
    ] {
        check::error(&post(tok, &body), 401, "unauthorized");
    }
    for bad in [
        json!({"tenant": "has spaces", "name": "X", "admin_email": "a@b.test"}),
        json!({"tenant": t, "name": "", "admin_email": "a@b.test"}),
        json!({"tenant": t, "name": "X"}),
    ] {
        check::error(&post(Some(platform), &bad), 422, "validation_failed");
    }
    let r = post(Some(platform), &body);
    check::status(&r, 201);
    assert_eq!(r.body["tenant"]["id"], t.as_str());
    assert_eq!(r.body["tenant"]["name"], "Casa Norte");
    assert_eq!(r.body["invitation"]["email"], "owner@casanorte.test");
    assert_eq!(r.body["invitation"]["role"], "admin");
    let job = r.header("pulse-job-id").unwrap().to_string();
    // Once: the id is taken now (and nothing more is written).
    check::error(&post(Some(platform), &body), 409, "conflict");
    // A tenant that already has users is taken too.
    let used = fresh_tenant("used");
    let used_admin = cx.token(&used, "boss", "admin");
    check::status(
        &cx.api.post(
            "/api/users",
            &used_admin,
            &json!({"email": "x@used.test", "name": "X", "role": "broker", "password": "x-password-1"}),
        ),
        201,
    );
    check::error(
        &post(
            Some(platform),
            &json!({"tenant": used, "name": "Used", "admin_email": "o@used.test"}),
        ),
        409,
        "conflict",
    );

    // The first admin accepts and works in the new tenant.
    let reader = cx.token(&t, "dev-reader", "admin");
    let token = emailed_token(cx, &reader, &job);
    let r = accept(cx, &token, "Olga Norte", "olga-password-1");
    check::status(&r, 200);
    let access = r.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(crate::client::claim(&access, "tid"), t.as_str());
    assert_eq!(crate::client::claim(&access, "role"), "admin");
    let invite = cx.api.post(
        "/api/users/invite",
        &access,
        &json!({"email": "first.broker@casanorte.test", "role": "broker"}),
    );
    check::status(&invite, 201);
}

/// A brokerage's settings: read by every member, changed by admins, each value written
/// where the rest of the API reads it (commission default and maximum for sales, platforms
/// for listings).
pub fn settings_are_the_brokerages_own(cx: &mut Ctx) {
    let t = fresh_tenant("settings");
    let admin = cx.token(&t, "a1", "admin");
    let broker = cx.token(&t, "b1", "broker");
    let viewer = cx.token(&t, "v1", "viewer");
    let got = cx.api.get("/api/settings", &viewer);
    check::status(&got, 200);
    assert_eq!(got.body["name"], t.as_str());
    assert_eq!(got.body["timezone"], "UTC");
    assert_eq!(got.body["currency"], "EUR");
    assert_eq!(got.body["commission_default_bps"], 300);
    assert_eq!(got.body["commission_max_bps"], Value::Null);
    let all: Vec<String> = got.body["publishing_platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    assert!(all.len() >= 2, "{}", got.body);

    for tok in [&broker, &viewer] {
        check::error(
            &cx.api.put("/api/settings", tok, &json!({"name": "X"})),
            403,
            "forbidden",
        );
    }
    for bad in [
        json!({}),
        json!({"timezone": "Mars/Olympus Mons"}),
        json!({"currency": "euro"}),
        json!({"commission_default_bps": 10_001}),
        json!({"publishing_platforms": ["nope"]}),
        json!({"name": null}),
    ] {
        check::error(
            &cx.api.put("/api/settings", &admin, &bad),
            422,
            "validation_failed",
        );
    }
    assert_eq!(
        cx.api.get("/api/settings", &admin).body,
        got.body,
        "refusals change nothing"
    );

    let mut ws = Ws::connect(&cx.server.base, &admin);
    ws.subscribe(&["role:admin"], None);
    let r = cx.api.put(
        "/api/settings",
        &admin,
        &json!({"name": "Casa Sur", "timezone": "Europe/Madrid", "currency": "USD",
                "commission_default_bps": 250, "commission_max_bps": 500,
                "publishing_platforms": [all[0]]}),
    );
    check::status(&r, 200);
    assert_eq!(r.body["name"], "Casa Sur");
    assert_eq!(r.body["publishing_platforms"], json!([all[0]]));
    assert_eq!(r.body["updated_by"], "a1");
    let (ev, _) = ws.wait_for("settings:updated", Duration::from_secs(5));
    assert_eq!(
        ev["data"]["changes"]["timezone"],
        json!({"from": "UTC", "to": "Europe/Madrid"})
    );
    assert_eq!(
        ev["data"]["changes"]["commission_default_bps"],
        json!({"from": 300, "to": 250})
    );
    assert_eq!(cx.api.get("/api/settings", &viewer).body, r.body);
    // Written where the rest of the API reads them.
    let fin = cx.api.get("/api/finance/settings", &admin);
    assert_eq!(fin.body["broker_rate_override_max_bps"], 500);
    let c = cx
        .api
        .post("/api/crm/customers", &broker, &json!({"name": "Buyer"}));
    let sale = cx.api.post(
        "/api/finance/sales",
        &broker,
        &json!({"customer_id": c.body["id"], "total_minor": 100_000, "currency": "EUR"}),
    );
    check::status(&sale, 201);
    assert_eq!(sale.body["commission"]["rate_bps"], 250);
    let p = cx.api.post(
        "/api/properties",
        &broker,
        &json!({"title": "Flat", "kind": "apartment", "listing": "sale", "price_minor": 1_000_000,
                "currency": "EUR", "city": "Sevilla"}),
    );
    check::status(&p, 201);
    let listing = |platform: &str| {
        cx.api.post(
            "/api/publishing/listings",
            &broker,
            &json!({"property_id": p.body["id"], "platforms": [platform]}),
        )
    };
    check::error(&listing(&all[1]), 422, "validation_failed");
    check::status(&listing(&all[0]), 201);
    // A patch that changes nothing emits nothing.
    check::status(
        &cx.api
            .put("/api/settings", &admin, &json!({"currency": "USD"})),
        200,
    );
    assert!(ws
        .drain(Duration::from_millis(500))
        .iter()
        .all(|f| f["type"] != "settings:updated"));
}

/// A brokerage names its own front ends' origins: a page there may call the API with its
/// members' tokens, never with another brokerage's, and the list takes effect at once.
pub fn a_brokerage_names_its_own_origins(cx: &mut Ctx) {
    let a = fresh_tenant("origins-a");
    let b = fresh_tenant("origins-b");
    let admin = cx.token(&a, "a1", "admin");
    let broker_a = cx.token(&a, "b1", "broker");
    let broker_b = cx.token(&b, "b1", "broker");
    // A unique origin per run, so that other runs' tenants never list it.
    let own = format!("https://{a}.casa.example");
    let preflight = |cx: &Ctx| {
        cx.api.raw_with_headers(
            "OPTIONS",
            "/api/crm/customers",
            &[
                ("origin", own.as_str()),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization, content-type",
                ),
            ],
        )
    };
    let read = |cx: &Ctx, tok: &str| {
        cx.api.raw_with(
            "GET",
            "/api/crm/customers",
            tok,
            "",
            &[("origin", own.as_str())],
        )
    };
    check::error(&preflight(cx), 403, "forbidden");
    assert_eq!(
        read(cx, &broker_a).header("access-control-allow-origin"),
        None
    );

    for bad in [
        json!({"cors_origins": ["*"]}),
        json!({"cors_origins": ["https://casa.example/app"]}),
        json!({"cors_origins": ["casa.example"]}),
        json!({"cors_origins": "https://casa.example"}),
    ] {
        let r = cx.api.put("/api/settings", &admin, &bad);
        check::error(&r, 422, "validation_failed");
        assert!(r.body.to_string().contains("cors_origins"), "{}", r.body);
    }
    check::error(
        &cx.api
            .put("/api/settings", &broker_a, &json!({"cors_origins": [own]})),
        403,
        "forbidden",
    );

    let r = cx
        .api
        .put("/api/settings", &admin, &json!({"cors_origins": [own]}));
    check::status(&r, 200);
    assert_eq!(r.body["cors_origins"], json!([own]));
    assert_eq!(
        cx.api.get("/api/settings", &broker_a).body["cors_origins"],
        json!([own])
    );

    let pre = preflight(cx);
    assert_eq!(pre.status, 204);
    assert_eq!(
        pre.header("access-control-allow-origin"),
        Some(own.as_str())
    );
    // The brokerage's own members' answers are readable there ...
    let mine = read(cx, &broker_a);
    check::status(&mine, 200);
    assert_eq!(
        mine.header("access-control-allow-origin"),
        Some(own.as_str())
    );
    assert!(mine
        .header("access-control-expose-headers")
        .unwrap()
        .contains("x-request-id"));
    // ... another brokerage's are not (its page cannot read them) ...
    let theirs = read(cx, &broker_b);
    check::status(&theirs, 200);
    assert_eq!(theirs.header("access-control-allow-origin"), None);
    // ... and an answer without a caller (a refused token here) is, so the page can show it.
    let anon = cx
        .api
        .raw_with_headers("GET", "/api/crm/customers", &[("origin", own.as_str())]);
    check::error(&anon, 401, "unauthorized");
    assert_eq!(
        anon.header("access-control-allow-origin"),
        Some(own.as_str())
    );
    // The deployment's origins stay allowed for every brokerage.
    let dep = cx.api.raw_with(
        "GET",
        "/api/crm/customers",
        &broker_b,
        "",
        &[("origin", "http://app.pulse.test")],
    );
    assert_eq!(
        dep.header("access-control-allow-origin"),
        Some("http://app.pulse.test")
    );

    // Removed: refused again at once.
    check::status(
        &cx.api
            .put("/api/settings", &admin, &json!({"cors_origins": []})),
        200,
    );
    check::error(&preflight(cx), 403, "forbidden");
    assert_eq!(
        read(cx, &broker_a).header("access-control-allow-origin"),
        None
    );
}
