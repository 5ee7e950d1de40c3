//! Lead ownership and search (assignee, reassignment and its events, list filters, text
//! search) and public lead capture from digital cards (HTML page, vCard, JSON and form
//! posts, honeypot, limits, the owner's event and email).

use crate::assertions as check;
use crate::client::{Resp, Ws};
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const C: &str = "/api/crm/customers";

/// A user of the tenant created by its admin: (id, token).
fn user(cx: &Ctx, admin: &str, tenant: &str, name: &str, role: &str) -> (String, String) {
    let r = cx.api.post(
        "/api/users",
        admin,
        &json!({"email": format!("{name}@example.test"), "name": name, "role": role,
                "password": "long-enough-password"}),
    );
    check::status(&r, 201);
    let id = r.body["id"].as_str().unwrap().to_string();
    let tok = cx.token(tenant, &id, role);
    (id, tok)
}

fn customer(cx: &Ctx, tok: &str, body: Value) -> Value {
    let r = cx.api.post(C, tok, &body);
    check::status(&r, 201);
    r.body
}

fn ids(r: &Resp) -> Vec<String> {
    r.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data: {}", r.body))
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

fn names(r: &Resp) -> Vec<String> {
    let mut v: Vec<String> = r.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data: {}", r.body))
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

fn search(cx: &Ctx, tok: &str, q: &str) -> Vec<String> {
    let r = cx.api.get(&format!("{C}?q={}", enc(q)), tok);
    check::status(&r, 200);
    names(&r)
}

fn enc(s: &str) -> String {
    pulse_core::domain::query::encode(s)
}

/// The events that arrive within `window`.
fn events(ws: &mut Ws, window: Duration) -> Vec<Value> {
    ws.drain(window)
        .into_iter()
        .filter(|f| f["op"] == "event")
        .collect()
}

fn types(evs: &[Value]) -> Vec<String> {
    evs.iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_string())
        .collect()
}

pub fn assign_rules_and_events(cx: &mut Ctx) {
    let t = fresh_tenant("lead-assign");
    let admin = cx.token(&t, "a1", "admin");
    let (b1, b1_tok) = user(cx, &admin, &t, "bea", "broker");
    let (b2, b2_tok) = user(cx, &admin, &t, "bo", "broker");
    let (b3, b3_tok) = user(cx, &admin, &t, "bex", "broker");
    let (v1, v1_tok) = user(cx, &admin, &t, "vic", "viewer");
    let c = customer(cx, &b1_tok, json!({"name": "Ada"}));
    let id = c["id"].as_str().unwrap().to_string();
    // The creator owns a new customer; existing reads show the assignee.
    assert_eq!(c["assigned_to"], b1.as_str());
    assert_eq!(
        cx.api.get(&format!("{C}/{id}"), &v1_tok).body["assigned_to"],
        b1.as_str()
    );
    let assign = |tok: &str, to: &str| {
        cx.api.put(
            &format!("{C}/{id}/assign"),
            tok,
            &json!({ "assigned_to": to }),
        )
    };

    let mut w1 = Ws::connect(&cx.server.base, &b1_tok);
    w1.subscribe(&[&format!("user:{b1}")], None);
    let mut w2 = Ws::connect(&cx.server.base, &b2_tok);
    w2.subscribe(&[&format!("user:{b2}")], None);
    let mut w3 = Ws::connect(&cx.server.base, &b3_tok);
    w3.subscribe(&[&format!("user:{b3}")], None);
    // Another broker cannot listen on the assignee's channel.
    w3.send(&json!({"op": "subscribe", "channels": [format!("user:{b1}")]}));
    assert_eq!(w3.expect("a refusal")["code"], "forbidden");

    // Role rules: viewers (router) and brokers who are not the assignee.
    check::error(&assign(&v1_tok, &b2), 403, "forbidden");
    check::error(&assign(&b2_tok, &b2), 403, "forbidden");
    // Who may be assigned: a user of the tenant whose role owns leads.
    for (to, problem) in [
        ("ghost", "no such user"),
        (
            v1.as_str(),
            "this user's role may not own leads (broker or admin only)",
        ),
    ] {
        let r = assign(&b1_tok, to);
        check::error(&r, 422, "validation_failed");
        assert_eq!(r.body["error"]["details"]["fields"]["assigned_to"], problem);
    }
    for bad in [
        json!({}),
        json!({"assigned_to": "a b"}),
        json!({"assigned_to": b2, "x": 1}),
    ] {
        let r = cx.api.put(&format!("{C}/{id}/assign"), &b1_tok, &bad);
        check::error(&r, 422, "validation_failed");
    }
    // Unknown ids and another tenant's customers are 404.
    let other = cx.token(&fresh_tenant("lead-assign-x"), "x1", "admin");
    let foreign = customer(cx, &other, json!({"name": "Foreign"}));
    for cid in ["c_nope", foreign["id"].as_str().unwrap()] {
        let r = cx.api.put(
            &format!("{C}/{cid}/assign"),
            &admin,
            &json!({ "assigned_to": b2 }),
        );
        check::error(&r, 404, "not_found");
    }
    assert!(events(&mut w1, Duration::from_millis(300)).is_empty());

    // The assignee hands it over: both hear it, nobody else does.
    let r = assign(&b1_tok, &b2);
    check::status(&r, 200);
    assert_eq!(
        (r.body["assigned_to"].as_str(), r.body["version"].as_i64()),
        (Some(b2.as_str()), Some(2))
    );
    for ws in [&mut w1, &mut w2] {
        let e = ws.next_event();
        check::event(&e, "crm:customer:assigned");
        assert_eq!(e["data"]["id"], id.as_str());
        assert_eq!(e["data"]["assigned_to"], b2.as_str());
        assert_eq!(e["data"]["previous_assigned_to"], b1.as_str());
        let chans: Vec<&str> = e["channels"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            chans.contains(&format!("user:{b1}").as_str())
                && chans.contains(&format!("user:{b2}").as_str())
        );
        assert!(chans.contains(&format!("entity:customer:{id}").as_str()));
    }
    assert!(events(&mut w3, Duration::from_millis(500)).is_empty());
    // The previous assignee no longer may; the new one and admins may.
    check::error(&assign(&b1_tok, &b3), 403, "forbidden");
    check::status(&assign(&b2_tok, &b3), 200);
    let r = assign(&admin, &b1);
    check::status(&r, 200);
    assert_eq!(r.body["assigned_to"], b1.as_str());
    // Assigning to the current assignee changes nothing and says nothing.
    let before = events(&mut w1, Duration::from_millis(800));
    let r = assign(&b1_tok, &b1);
    check::status(&r, 200);
    assert_eq!(r.body["version"], 4);
    assert!(
        events(&mut w1, Duration::from_millis(500)).is_empty(),
        "{before:?}"
    );
    assert_eq!(
        cx.api.get(&format!("{C}?mine=1"), &b1_tok).body["data"][0]["id"],
        id.as_str()
    );
}

pub fn list_filters_and_mine(cx: &mut Ctx) {
    let t = fresh_tenant("lead-filter");
    let admin = cx.token(&t, "a1", "admin");
    let (b1, b1_tok) = user(cx, &admin, &t, "fa", "broker");
    let (_b2, b2_tok) = user(cx, &admin, &t, "fb", "broker");
    for k in 0..4 {
        customer(
            cx,
            &b1_tok,
            json!({"name": format!("One {k}"), "status": if k % 2 == 0 { "lead" } else { "active" }, "source": "web"}),
        );
    }
    for k in 0..3 {
        customer(
            cx,
            &b2_tok,
            json!({"name": format!("Two {k}"), "source": "phone"}),
        );
    }
    let get = |q: &str, tok: &str| cx.api.get(&format!("{C}?{q}"), tok);
    assert_eq!(ids(&get("", &admin)).len(), 7);
    assert_eq!(ids(&get("mine=1", &b1_tok)).len(), 4);
    assert_eq!(ids(&get("mine=1", &b2_tok)).len(), 3);
    assert_eq!(ids(&get("mine=0", &b2_tok)).len(), 7);
    assert_eq!(ids(&get(&format!("assigned_to={b1}"), &b2_tok)).len(), 4);
    assert_eq!(names(&get("status=active", &admin)), ["One 1", "One 3"]);
    assert_eq!(ids(&get("source=phone", &admin)).len(), 3);
    assert_eq!(
        names(&get(
            &format!("source=web&status=lead&assigned_to={b1}"),
            &admin
        )),
        ["One 0", "One 2"]
    );
    assert_eq!(ids(&get("source=web&mine=1", &b2_tok)).len(), 0);
    assert_eq!(ids(&get("assigned_to=nobody", &admin)).len(), 0);
    // Empty text filters are no filter; typed ones are checked.
    assert_eq!(ids(&get("source=&assigned_to=&q=", &admin)).len(), 7);
    check::error(&get("status=vip", &admin), 400, "bad_request");
    check::error(&get("mine=2", &admin), 400, "bad_request");
    check::error(&get("mine=true", &admin), 400, "bad_request");
    // Filters page like every list: newest first, no duplicates, no gaps.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = get(&format!("mine=1&limit=3&cursor={cursor}"), &b1_tok);
        check::status(&r, 200);
        seen.extend(ids(&r));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 4);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(seen, sorted);
    // Another tenant sees none of them.
    let other = cx.token(&fresh_tenant("lead-filter-x"), "x", "admin");
    assert_eq!(ids(&get("source=web", &other)).len(), 0);
}

pub fn search_by_name_email_and_phone(cx: &mut Ctx) {
    let t = fresh_tenant("lead-search");
    let b = cx.token(&t, "b1", "broker");
    let ada = customer(
        cx,
        &b,
        json!({"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+34 600 123 456"}),
    );
    customer(
        cx,
        &b,
        json!({"name": "José García", "email": "jose.garcia@correo.es", "phone": "+1 (555) 010-9999", "status": "active"}),
    );
    customer(
        cx,
        &b,
        json!({"name": "Adam Smith", "email": "adam@smith.example"}),
    );
    customer(cx, &b, json!({"name": "Grace Hopper", "phone": "555-0142"}));
    // Another tenant's Ada never shows.
    let other = cx.token(&fresh_tenant("lead-search-x"), "x", "broker");
    customer(
        cx,
        &other,
        json!({"name": "Ada Other", "phone": "+34 600 123 456"}),
    );

    // Names: case- and accent-insensitive word prefixes, every word must match.
    assert_eq!(search(cx, &b, "ada"), ["Ada Lovelace", "Adam Smith"]);
    assert_eq!(search(cx, &b, "ADA"), ["Ada Lovelace", "Adam Smith"]);
    assert_eq!(search(cx, &b, "ada love"), ["Ada Lovelace"]);
    assert_eq!(search(cx, &b, "LOVELACE"), ["Ada Lovelace"]);
    assert_eq!(search(cx, &b, "garcia"), ["José García"]);
    assert_eq!(search(cx, &b, "JOSÉ"), ["José García"]);
    assert!(
        search(cx, &b, "ovelace").is_empty(),
        "word prefixes, not substrings"
    );
    // Emails: any word of the address, or the address as a phrase.
    assert_eq!(search(cx, &b, "correo"), ["José García"]);
    assert_eq!(search(cx, &b, "ada@example.com"), ["Ada Lovelace"]);
    assert_eq!(search(cx, &b, "Jose.Garcia@Corr"), ["José García"]);
    assert_eq!(search(cx, &b, "smith.example"), ["Adam Smith"]);
    // Phones: any run of digits, whatever the punctuation.
    assert_eq!(search(cx, &b, "600123"), ["Ada Lovelace"]);
    assert_eq!(search(cx, &b, "+34 600 123 456"), ["Ada Lovelace"]);
    assert_eq!(search(cx, &b, "123456"), ["Ada Lovelace"]);
    assert_eq!(search(cx, &b, "5550109999"), ["José García"]);
    assert_eq!(search(cx, &b, "(555) 010"), ["José García"]);
    assert_eq!(search(cx, &b, "555"), ["Grace Hopper", "José García"]);
    // Nothing to search for, or no match: an empty page (not an error).
    for q in ["zzz", "+", "\"", "a\" OR \"b", "NEAR(ada love)", "*"] {
        assert!(search(cx, &b, q).is_empty(), "{q}");
    }
    // q with the other filters.
    let r = cx.api.get(&format!("{C}?q=a&status=active"), &b);
    assert_eq!(names(&r), Vec::<String>::new());
    let r = cx.api.get(&format!("{C}?q=jos&status=active&mine=1"), &b);
    assert_eq!(names(&r), ["José García"]);
    // The index follows updates and deletes.
    let id = ada["id"].as_str().unwrap();
    let r = cx.api.put(
        &format!("{C}/{id}"),
        &b,
        &json!({"name": "Augusta King", "phone": null}),
    );
    check::status(&r, 200);
    assert_eq!(r.body["version"], 2);
    assert_eq!(search(cx, &b, "augusta"), ["Augusta King"]);
    assert!(search(cx, &b, "lovelace").is_empty());
    assert!(search(cx, &b, "600123").is_empty());
    assert_eq!(
        search(cx, &b, "ada"),
        ["Adam Smith", "Augusta King"],
        "the email still says ada"
    );
    let admin = cx.token(&t, "a1", "admin");
    assert_eq!(cx.api.delete(&format!("{C}/{id}"), &admin).status, 204);
    assert_eq!(search(cx, &b, "ada"), ["Adam Smith"]);

    // Pages: newest first, every match once, then no cursor.
    let mut made = Vec::new();
    for k in 0..7 {
        made.push(
            customer(cx, &b, json!({"name": format!("Pager Number{k}")}))["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    made.reverse();
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = cx
            .api
            .get(&format!("{C}?q=pager&limit=3&cursor={cursor}"), &b);
        check::status(&r, 200);
        let page = ids(&r);
        assert!(page.len() <= 3);
        seen.extend(page);
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, made);
    // A made-up cursor is a position, not an error.
    let fake = pulse_core::domain::pagination::encode_cursor("c_zzzz");
    let r = cx.api.get(&format!("{C}?q=pager&cursor={fake}"), &b);
    check::status(&r, 200);
    assert_eq!(ids(&r).len(), 7);
    let r = cx.api.get(
        &format!(
            "{C}?q=pager&cursor={}",
            pulse_core::domain::pagination::encode_cursor("c_0")
        ),
        &b,
    );
    assert_eq!(ids(&r).len(), 0);
}

/// A request with these headers, no redirect followed: (status, headers, body text).
fn send(
    cx: &Ctx,
    method: &str,
    path: &str,
    ctype: Option<&str>,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    let agent = ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(30))
        .build();
    let mut req = agent.request(method, &format!("{}{}", cx.server.base, path));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    if let Some(c) = ctype {
        req = req.set("content-type", c);
    }
    let r = match body {
        Some(b) => req.send_string(b),
        None => req.call(),
    };
    let r = match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = r.status();
    let hs = r
        .headers_names()
        .into_iter()
        .filter_map(|n| r.header(&n).map(|v| (n.clone(), v.to_string())))
        .collect();
    (status, hs, r.into_string().unwrap_or_default())
}

fn hdr<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    hs.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A card of `owner`; returns its slug.
fn card(cx: &Ctx, tok: &str, slug: &str, name: &str, bio: &str) -> String {
    let r = cx.api.post(
        "/api/cards",
        tok,
        &json!({"slug": slug, "display_name": name, "title": "Broker, Sales; <b>", "phone": "+34 600 000 111",
                "email": "owner@example.test", "bio": bio}),
    );
    check::status(&r, 201);
    slug.to_string()
}

fn unique_slug(prefix: &str) -> String {
    fresh_tenant(prefix)
}

/// A client address no other test uses.
fn ip() -> String {
    let t = fresh_tenant("x");
    let hex = t.trim_start_matches("x-");
    format!("2001:db8::{}:{}", &hex[..4], &hex[4..])
}

fn lead_json(cx: &Ctx, slug: &str, body: &Value, from: &str) -> Resp {
    cx.api.post_public(
        &format!("/api/cards/public/{slug}/leads"),
        body,
        &[("cf-connecting-ip", from)],
    )
}

fn lead_form(cx: &Ctx, slug: &str, form: &str, from: &str) -> (u16, Vec<(String, String)>, String) {
    send(
        cx,
        "POST",
        &format!("/api/cards/public/{slug}/leads"),
        Some("application/x-www-form-urlencoded"),
        Some(form),
        &[
            ("cf-connecting-ip", from),
            ("accept", "text/html,application/xhtml+xml,*/*;q=0.8"),
        ],
    )
}

pub fn card_page_and_vcard_escape_everything(cx: &mut Ctx) {
    let t = fresh_tenant("lead-page");
    let b = cx.token(&t, "b1", "broker");
    let xss = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>";
    let slug = card(
        cx,
        &b,
        &unique_slug("xss"),
        xss,
        "Line one\r\nLine two, with; specials \\",
    );
    let (status, hs, html) = send(
        cx,
        "GET",
        &format!("/c/{slug}"),
        None,
        None,
        &[("accept", "text/html")],
    );
    assert_eq!(status, 200, "{html}");
    assert!(hdr(&hs, "content-type").unwrap().starts_with("text/html"));
    assert!(hdr(&hs, "content-security-policy")
        .unwrap()
        .contains("default-src 'none'"));
    assert_eq!(hdr(&hs, "x-content-type-options"), Some("nosniff"));
    assert!(
        !html.contains("<script") && !html.contains("<img"),
        "{html}"
    );
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains("Broker, Sales; &lt;b&gt;"));
    assert!(html.contains(&format!(
        "<form method=post action=\"/api/cards/public/{slug}/leads\">"
    )));
    assert!(html.contains(&format!("href=\"/api/cards/public/{slug}/vcard\"")));
    assert!(html.contains("name=website"), "the honeypot field");
    // Without any Accept the page is still HTML; the thank-you variant says so.
    let (status, _, html) = send(cx, "GET", &format!("/c/{slug}?sent=1"), None, None, &[]);
    assert_eq!(status, 200);
    assert!(html.contains("Thank you"));
    check::error(
        &cx.api
            .raw_with_headers("GET", &format!("/c/{slug}?sent=yes"), &[]),
        400,
        "bad_request",
    );

    let (status, hs, v) = send(
        cx,
        "GET",
        &format!("/api/cards/public/{slug}/vcard"),
        None,
        None,
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(hdr(&hs, "content-type"), Some("text/vcard; charset=utf-8"));
    assert!(hdr(&hs, "content-disposition")
        .unwrap()
        .contains(&format!("{slug}.vcf")));
    assert!(
        v.starts_with("BEGIN:VCARD\r\nVERSION:4.0\r\n") && v.ends_with("END:VCARD\r\n"),
        "{v}"
    );
    let unfolded = v.replace("\r\n ", "");
    assert!(unfolded.contains("TITLE:Broker\\, Sales\\; <b>\r\n"), "{v}");
    assert!(
        unfolded.contains("NOTE:Line one\\nLine two\\, with\\; specials \\\\\r\n"),
        "{v}"
    );
    assert!(unfolded.contains("TEL;VALUE=text;TYPE=work:+34 600 000 111\r\n"));
    assert!(unfolded.contains("URL:http") && unfolded.contains(&format!("/c/{slug}\r\n")));
    assert!(v.split("\r\n").all(|l| l.len() <= 75));

    // Unknown slugs: 404, as HTML or JSON per Accept.
    let (status, hs, html) = send(
        cx,
        "GET",
        "/c/no-such-card",
        None,
        None,
        &[("accept", "text/html")],
    );
    assert_eq!(status, 404);
    assert!(
        hdr(&hs, "content-type").unwrap().starts_with("text/html")
            && html.contains("Card not found")
    );
    let r = cx
        .api
        .raw_with_headers("GET", "/c/no-such-card", &[("accept", "application/json")]);
    check::error(&r, 404, "not_found");
    check::error(
        &cx.api
            .raw_with_headers("GET", "/c/NOT_A_SLUG", &[("accept", "application/json")]),
        404,
        "not_found",
    );
    check::error(
        &cx.api
            .raw_with_headers("GET", "/api/cards/public/no-such-card/vcard", &[]),
        404,
        "not_found",
    );
    let (status, _, html) = send(
        cx,
        "GET",
        "/api/cards/public/no-such-card/vcard",
        None,
        None,
        &[("accept", "text/html")],
    );
    assert_eq!(status, 404);
    assert!(html.contains("<!doctype html>"));
}

pub fn lead_capture_json_form_and_honeypot(cx: &mut Ctx) {
    let t = fresh_tenant("lead-cap");
    let admin = cx.token(&t, "a1", "admin");
    let (owner, owner_tok) = user(cx, &admin, &t, "olga", "broker");
    let (b2, b2_tok) = user(cx, &admin, &t, "otto", "broker");
    let (_v, v_tok) = user(cx, &admin, &t, "vera", "viewer");
    let slug = card(cx, &owner_tok, &unique_slug("cap"), "Olga Owner", "Homes");
    let mut w_owner = Ws::connect(&cx.server.base, &owner_tok);
    w_owner.subscribe(&[&format!("user:{owner}")], None);
    let mut w_b2 = Ws::connect(&cx.server.base, &b2_tok);
    let b2_channel = format!("user:{b2}");
    w_b2.subscribe(&["tenant", &b2_channel], None);
    let mut w_v = Ws::connect(&cx.server.base, &v_tok);
    w_v.subscribe(&["tenant"], None);

    // JSON: 201 with nothing internal in it.
    let body = json!({"name": "Lena Lead", "email": "Lena@Example.com", "message": "Call me <b>soon</b>", "consent": true});
    let r = lead_json(cx, &slug, &body, &ip());
    check::status(&r, 201);
    assert_eq!(r.body, json!({"status": "received"}));
    let (e, _) = w_owner.wait_for("crm:lead:captured", Duration::from_secs(10));
    check::event(&e, "crm:lead:captured");
    assert_eq!(e["channels"], json!([format!("user:{owner}")]));
    let c = &e["data"]["customer"];
    assert_eq!(
        (
            c["name"].as_str(),
            c["email"].as_str(),
            c["source"].as_str()
        ),
        (Some("Lena Lead"), Some("lena@example.com"), Some("card"))
    );
    assert_eq!(
        (c["assigned_to"].as_str(), c["status"].as_str()),
        (Some(owner.as_str()), Some("lead"))
    );
    assert_eq!(c["notes"], "Call me <b>soon</b>");
    assert_eq!(e["data"]["card"]["slug"], slug.as_str());
    // The others see the customer appear (they read customers) but not the owner's notice.
    for ws in [&mut w_b2, &mut w_v] {
        let evs = events(ws, Duration::from_millis(1500));
        let ts = types(&evs);
        assert!(ts.contains(&"crm:customer:created".to_string()), "{ts:?}");
        assert!(!ts.contains(&"crm:lead:captured".to_string()), "{ts:?}");
    }
    let listed = cx.api.get(&format!("{C}?source=card"), &owner_tok);
    assert_eq!(names(&listed), ["Lena Lead"]);
    assert_eq!(
        cx.api.get(&format!("{C}?mine=1"), &owner_tok).body["data"][0]["source"],
        "card"
    );
    // The owner gets an email (recorded in dev).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = cx.api.get("/api/dev/messages", &admin);
        let found = m.body["data"].as_array().unwrap().iter().any(|m| {
            m["recipient"] == "olga@example.test"
                && m["body"].as_str().unwrap_or("").contains("Lena Lead")
        });
        if found {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no email to the owner: {}",
            m.body
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // A form post: 303 to the thank-you, the same customer record.
    let (status, hs, _) = lead_form(
        cx,
        &slug,
        "name=Fred+Form&phone=%2B34+611+222+333&message=Hi&consent=on",
        &ip(),
    );
    assert_eq!(status, 303);
    assert_eq!(
        hdr(&hs, "location"),
        Some(format!("/c/{slug}?sent=1").as_str())
    );
    assert_eq!(search(cx, &owner_tok, "611222333"), ["Fred Form"]);

    // Refusals: JSON gets the contract's errors.
    let cases = [
        (
            json!({"name": "A", "email": "a@b.co"}),
            "consent",
            "is required",
        ),
        (
            json!({"name": "A", "email": "a@b.co", "consent": false}),
            "consent",
            "must be true",
        ),
        (
            json!({"name": "A", "consent": true}),
            "email",
            "give an email or a phone",
        ),
        (
            json!({"name": "A", "email": "nope", "consent": true}),
            "email",
            "is not a valid email address",
        ),
        (
            json!({"email": "a@b.co", "consent": true}),
            "name",
            "is required",
        ),
        (
            json!({"name": "A", "email": "a@b.co", "consent": true, "id": "c_1"}),
            "id",
            "is not a known field",
        ),
        (
            json!({"name": "x".repeat(121), "email": "a@b.co", "consent": true}),
            "name",
            "must be at most 120 characters",
        ),
    ];
    for (body, field, problem) in cases {
        let r = lead_json(cx, &slug, &body, &ip());
        check::error(&r, 422, "validation_failed");
        assert_eq!(
            r.body["error"]["details"]["fields"][field], problem,
            "{body}"
        );
    }
    let r = cx.api.raw(
        "POST",
        &format!("/api/cards/public/{slug}/leads"),
        None,
        Some("text/plain"),
        Some("name=x"),
    );
    check::error(&r, 415, "unsupported_media_type");
    let big =
        json!({"name": "A", "email": "a@b.co", "consent": true, "message": "x".repeat(20_000)});
    assert_eq!(lead_json(cx, &slug, &big, &ip()).status, 413);
    check::error(
        &lead_json(cx, "no-such-card", &body, &ip()),
        404,
        "not_found",
    );
    // Forms get HTML: the form again with the problems and the values, escaped.
    let (status, hs, html) = lead_form(
        cx,
        &slug,
        "name=%3Cscript%3Ex%3C%2Fscript%3E&email=bad&consent=off",
        &ip(),
    );
    assert_eq!(status, 422);
    assert!(hdr(&hs, "content-type").unwrap().starts_with("text/html"));
    assert!(
        html.contains("email: is not a valid email address")
            && html.contains("consent: must be true"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    let (status, _, html) = lead_form(cx, "no-such-card", "name=x", &ip());
    assert_eq!(status, 404);
    assert!(html.contains("Card not found"));

    // The honeypot: answered like a success, nothing stored or said.
    let before = ids(&cx.api.get(C, &admin)).len();
    let _ = events(&mut w_owner, Duration::from_millis(300));
    let bot = json!({"name": "Bot", "email": "bot@spam.example", "consent": true, "website": "http://spam.example"});
    let r = lead_json(cx, &slug, &bot, &ip());
    check::status(&r, 201);
    assert_eq!(r.body, json!({"status": "received"}));
    let (status, hs, _) = lead_form(
        cx,
        &slug,
        "name=Bot&email=bot%40spam.example&consent=on&website=x",
        &ip(),
    );
    assert_eq!(
        (status, hdr(&hs, "location")),
        (303, Some(format!("/c/{slug}?sent=1").as_str()))
    );
    assert_eq!(ids(&cx.api.get(C, &admin)).len(), before);
    let heard = types(&events(&mut w_owner, Duration::from_millis(1000)));
    assert!(!heard.iter().any(|t| t.starts_with("crm:")), "{heard:?}");
    assert!(search(cx, &admin, "bot").is_empty());
}

pub fn lead_limits_per_address_and_card(cx: &mut Ctx) {
    let t = fresh_tenant("lead-limit");
    let b = cx.token(&t, "b1", "broker");
    let slug = card(cx, &b, &unique_slug("lim"), "Lim", "x");
    let other_slug = card(cx, &b, &unique_slug("lim2"), "Lim Two", "x");
    let body = |k: usize| json!({"name": format!("Visitor {k}"), "phone": "+34 600 000 000", "consent": true});
    // One address: 5 leads per 15 minutes, across cards.
    let x = ip();
    for k in 0..5 {
        check::status(&lead_json(cx, &slug, &body(k), &x), 201);
    }
    let r = lead_json(cx, &slug, &body(5), &x);
    check::error(&r, 429, "rate_limited");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    check::error(
        &lead_json(cx, &other_slug, &body(6), &x),
        429,
        "rate_limited",
    );
    let (status, hs, html) = lead_form(cx, &other_slug, "name=X&phone=600000000&consent=on", &x);
    assert_eq!(status, 429);
    assert!(hdr(&hs, "retry-after").is_some() && html.contains("Too many messages"));
    // A refused body is not counted as a lead: the address is still limited, nothing stored.
    assert_eq!(search(cx, &b, "visitor").len(), 5);
    // One card: 20 leads per 15 minutes from all addresses.
    for k in 0..15 {
        check::status(&lead_json(cx, &slug, &body(10 + k), &ip()), 201);
    }
    check::error(&lead_json(cx, &slug, &body(99), &ip()), 429, "rate_limited");
    // Other cards still take leads.
    check::status(&lead_json(cx, &other_slug, &body(100), &ip()), 201);
    assert_eq!(search(cx, &b, "visitor").len(), 21);
}
