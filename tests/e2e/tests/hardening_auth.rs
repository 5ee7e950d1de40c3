//! Authentication hardening: idempotent replays never skip the route's checks, one bearer
//! reader for guard and handlers (and a blocklist over every tenant-attributable request),
//! atomic login lockout, `nbf` and partial JWKS, streamed body limits, opaque visitor ids.

use crate::assertions as check;
use crate::client::Resp;
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const USERS: &str = "/api/users";
const CUSTOMERS: &str = "/api/crm/customers";
const LOGIN: &str = "/api/auth/login";
const BLOCKED: &str = "/api/security/blocked-ips";

fn login(cx: &Ctx, tenant: &str, email: &str, password: &str, from: &str) -> Resp {
    cx.api.post_public(
        LOGIN,
        &json!({"tenant": tenant, "email": email, "password": password}),
        &[("cf-connecting-ip", from)],
    )
}

/// A replayed key answers only the caller whose own authorized request produced it; keys
/// are per route too.
pub fn idempotency_replay_runs_the_role_check(cx: &mut Ctx) {
    let t = fresh_tenant("sec-idem");
    let admin = cx.token(&t, "boss", "admin");
    let admin2 = cx.token(&t, "boss2", "admin");
    let viewer = cx.token(&t, "vic", "viewer");
    let body = json!({"email": "new@sec.test", "name": "New", "role": "viewer",
                      "password": "new-password-1"})
    .to_string();
    let key = [("idempotency-key", "sec-user-1")];
    let first = cx.api.raw_with("POST", USERS, &admin, &body, &key);
    check::status(&first, 201);

    // The viewer presenting the admin's key and body is checked like any viewer.
    let stolen = cx.api.raw_with("POST", USERS, &viewer, &body, &key);
    check::error(&stolen, 403, "forbidden");
    assert!(stolen.header("idempotent-replayed").is_none());
    check::error(
        &cx.api.raw_with("POST", USERS, &viewer, &body, &[]),
        403,
        "forbidden",
    );
    // Another admin runs the route (the user exists now), no replay of someone else's answer.
    let other = cx.api.raw_with("POST", USERS, &admin2, &body, &key);
    assert!(other.header("idempotent-replayed").is_none(), "{other:?}");
    assert_ne!(other.status, 201, "{other:?}");
    // An anonymous caller gets 401, not the stored answer.
    let anon = cx
        .api
        .raw("POST", USERS, None, Some("application/json"), Some(&body));
    assert_eq!(anon.status, 401);

    // The original caller still gets the replay.
    let again = cx.api.raw_with("POST", USERS, &admin, &body, &key);
    check::status(&again, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    // Keys are per route: the same key on another route is a new request.
    let c = cx.api.raw_with(
        "POST",
        CUSTOMERS,
        &admin,
        &json!({"name": "Keyed"}).to_string(),
        &key,
    );
    check::status(&c, 201);
    // Same route, other body: still refused.
    check::error(
        &cx.api.raw_with(
            "POST",
            USERS,
            &admin,
            &json!({"email": "x@sec.test", "name": "X", "role": "viewer", "password": "x-password-12"})
                .to_string(),
            &key,
        ),
        422,
        "idempotency_key_reused",
    );
    let users = cx.api.get(USERS, &admin);
    let n = users.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["email"] == "new@sec.test")
        .count();
    assert_eq!(n, 1, "written once");
}

fn block(cx: &Ctx, admin: &str, ip: &str) {
    check::status(
        &cx.api.raw_with(
            "POST",
            BLOCKED,
            admin,
            &json!({"ip": ip, "reason": "test"}).to_string(),
            &[("cf-connecting-ip", "192.0.2.200")],
        ),
        201,
    );
}

type Sock = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

/// Opens a WebSocket from a given client address: the socket, or the refusal's status.
fn dial_from(base: &str, path: &str, ip: &str) -> Result<Sock, u16> {
    use tungstenite::client::IntoClientRequest;
    let url = format!("{}{path}", base.replacen("http://", "ws://", 1));
    let mut req = url.into_client_request().expect("ws request");
    req.headers_mut()
        .insert("cf-connecting-ip", ip.parse().expect("header"));
    match tungstenite::connect(req) {
        Ok((sock, _)) => {
            if let tungstenite::stream::MaybeTlsStream::Plain(s) = sock.get_ref() {
                s.set_read_timeout(Some(Duration::from_millis(200))).ok();
            }
            Ok(sock)
        }
        Err(tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("ws connect failed: {e}"),
    }
}

/// The next JSON text frame within 10 s.
fn frame(ws: &mut Sock) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match ws.read() {
            Ok(tungstenite::Message::Text(t)) => {
                return serde_json::from_str(t.as_str()).expect("JSON frame")
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("ws read: {e}"),
        }
    }
    panic!("no frame within 10 s");
}

/// Every spelling of the bearer scheme reaches the same reader, so the blocklist sees the
/// caller; logins, refreshes, public cards and public rooms of the tenant are covered too.
pub fn bearer_reader_and_blocklist_cover_everything(cx: &mut Ctx) {
    let t = fresh_tenant("sec-bearer");
    let admin = cx.token(&t, "boss", "admin");
    let viewer = cx.token(&t, "vic", "viewer");
    let bad_ip = "203.0.113.99";
    let good_ip = "192.0.2.77";
    block(cx, &admin, bad_ip);

    let spellings = [
        format!("bearer {viewer}"),
        format!("Bearer  {viewer}"),
        format!("BEARER\t{viewer} "),
        format!("  Bearer {viewer}"),
    ];
    for h in &spellings {
        let r = cx.api.raw_with_headers(
            "GET",
            CUSTOMERS,
            &[("authorization", h), ("cf-connecting-ip", bad_ip)],
        );
        check::error(&r, 403, "ip_blocked");
        let r = cx.api.raw_with_headers(
            "GET",
            CUSTOMERS,
            &[("authorization", h), ("cf-connecting-ip", good_ip)],
        );
        check::status(&r, 200);
    }
    // `?token=` is for streaming routes only.
    check::error(
        &cx.api.raw_with_headers(
            "GET",
            &format!("{CUSTOMERS}?token={viewer}"),
            &[("cf-connecting-ip", good_ip)],
        ),
        401,
        "unauthorized",
    );

    // Logins and refreshes to the tenant.
    check::error(
        &login(cx, &t, "nobody@sec.test", "whatever-pw", bad_ip),
        403,
        "ip_blocked",
    );
    check::error(
        &login(cx, &t, "nobody@sec.test", "whatever-pw", good_ip),
        401,
        "invalid_credentials",
    );
    let fake_refresh = format!("{t}.{}", "ab".repeat(32));
    check::error(
        &cx.api.post_public(
            "/api/auth/refresh",
            &json!({"refresh_token": fake_refresh}),
            &[("cf-connecting-ip", bad_ip)],
        ),
        403,
        "ip_blocked",
    );

    // The tenant's public card page and scans.
    let slug = format!("sec-{}", &t[t.len() - 6..]).to_lowercase();
    let card = cx.api.post(
        "/api/cards",
        &admin,
        &json!({"slug": slug, "display_name": "Sec Card"}),
    );
    check::status(&card, 201);
    let id = card.body["id"].as_str().unwrap().to_string();
    let page = format!("/api/cards/public/{slug}");
    let scan = format!("/api/cards/{id}/scan");
    check::error(
        &cx.api
            .raw_with_headers("GET", &page, &[("cf-connecting-ip", bad_ip)]),
        403,
        "ip_blocked",
    );
    check::status(
        &cx.api
            .raw_with_headers("GET", &page, &[("cf-connecting-ip", good_ip)]),
        200,
    );
    check::error(
        &cx.api.post_public(
            &scan,
            &json!({"source": "qr"}),
            &[("cf-connecting-ip", bad_ip)],
        ),
        403,
        "ip_blocked",
    );
    check::status(
        &cx.api.post_public(
            &scan,
            &json!({"source": "qr"}),
            &[("cf-connecting-ip", good_ip)],
        ),
        202,
    );

    // The tenant's public room.
    check::status(
        &cx.api.post(
            "/api/realtime/rooms",
            &admin,
            &json!({"name": "lobby", "public": true}),
        ),
        201,
    );
    let room = format!("/api/public/rooms/{t}/lobby/ws");
    match dial_from(&cx.server.base, &room, bad_ip) {
        Err(s) => assert_eq!(s, 403),
        Ok(_) => panic!("a blocked address joined the public room"),
    }
    match dial_from(&cx.server.base, &room, good_ip) {
        Ok(mut ws) => {
            let _ = ws.close(None);
        }
        Err(s) => panic!("public room refused: {s}"),
    }
}

fn make_user(cx: &Ctx, admin: &str, email: &str, password: &str) {
    let r = cx.api.post(
        USERS,
        admin,
        &json!({"email": email, "name": "Target", "role": "viewer", "password": password}),
    );
    check::status(&r, 201);
}

/// Sends `n` logins at once; returns the responses.
fn parallel_logins(
    cx: &Ctx,
    n: usize,
    attempt: impl Fn(usize) -> (Value, String) + Sync,
) -> Vec<Resp> {
    let attempt = &attempt;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|k| {
                let api = &cx.api;
                s.spawn(move || {
                    let (body, ip) = attempt(k);
                    api.post_public(LOGIN, &body, &[("cf-connecting-ip", &ip)])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn tally(rs: &[Resp], limit: usize, what: &str) {
    let denied = rs.iter().filter(|r| r.status == 401).count();
    let limited: Vec<&Resp> = rs.iter().filter(|r| r.status == 429).collect();
    assert_eq!(
        denied + limited.len(),
        rs.len(),
        "{what}: only 401 or 429: {:?}",
        rs.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(
        (1..=limit).contains(&denied),
        "{what}: {denied} attempts reached the password check (limit {limit})"
    );
    for r in limited {
        check::error(r, 429, "rate_limited");
        let wait: u32 = r
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .expect("seconds");
        assert!((1..=900).contains(&wait), "{what}: Retry-After {wait}");
    }
}

/// 50 parallel wrong passwords for one account (from 50 addresses), then 50 over many
/// accounts from one address: no more than each limit reach the password check.
pub fn login_lockout_is_atomic(cx: &mut Ctx) {
    let t = fresh_tenant("sec-lock");
    let admin = cx.token(&t, "boss", "admin");
    make_user(cx, &admin, "target@sec.test", "target-password-1");
    let rs = parallel_logins(cx, 50, |k| {
        (
            json!({"tenant": t, "email": "target@sec.test", "password": format!("wrong-{k}")}),
            format!("198.18.7.{}", k + 1),
        )
    });
    tally(&rs, 5, "one account");
    // Locked, even with the right password.
    check::error(
        &login(
            cx,
            &t,
            "target@sec.test",
            "target-password-1",
            "198.18.7.200",
        ),
        429,
        "rate_limited",
    );

    // Credential stuffing: one address over many accounts of two tenants.
    let t2 = fresh_tenant("sec-lock-b");
    let rs = parallel_logins(cx, 50, |k| {
        let tenant = if k % 2 == 0 { &t } else { &t2 };
        (
            json!({"tenant": tenant, "email": format!("u{k}@sec.test"), "password": "nope-nope-1"}),
            "198.18.8.1".to_string(),
        )
    });
    tally(&rs, 20, "one address");
    // Another address is unaffected.
    check::error(
        &login(cx, &t2, "someone@sec.test", "nope-nope-1", "198.18.8.2"),
        401,
        "invalid_credentials",
    );
}

fn mint_with_nbf(secret: &str, tenant: &str, nbf_offset: i64) -> String {
    use jwt_compact::alg::{Hs256, Hs256Key};
    use jwt_compact::{AlgorithmExt, Claims, Header};
    let now = chrono::Utc::now();
    let mut claims = Claims::new(pulse::domain::auth::PulseClaims {
        sub: "early".into(),
        tid: tenant.into(),
        role: "admin".into(),
        iss: None,
        aud: None,
    });
    claims.issued_at = Some(now);
    claims.expiration = Some(now + chrono::Duration::hours(3));
    claims.not_before = Some(now + chrono::Duration::seconds(nbf_offset));
    Hs256
        .token(&Header::empty(), &claims, &Hs256Key::new(secret.as_bytes()))
        .expect("token")
}

/// `nbf` an hour ahead is refused; one malformed key in `JWT_JWKS` leaves the others usable.
pub fn jwt_nbf_and_partial_jwks(cx: &mut Ctx) {
    let t = fresh_tenant("sec-jwt");
    let early = mint_with_nbf(&cx.server.secret, &t, 3600);
    check::error(&cx.api.get(CUSTOMERS, &early), 401, "unauthorized");
    let ready = mint_with_nbf(&cx.server.secret, &t, -60);
    check::status(&cx.api.get(CUSTOMERS, &ready), 200);

    let good: Value = serde_json::from_str(&crate::fixtures::jwks()).unwrap();
    let mut keys = vec![json!({"kty": "OKP", "crv": "Ed25519", "kid": "broken", "x": "AAAA"})];
    keys.extend(good["keys"].as_array().unwrap().iter().cloned());
    let jwks = json!({ "keys": keys }).to_string();
    cx.restart_with(&[("JWT_JWKS", &jwks)]);
    let kp = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(
        crate::fixtures::ED25519_SEED,
    ));
    let tok = pulse::domain::auth::mint_ed25519(
        &kp.sk,
        Some(crate::fixtures::ED25519_KID),
        "ed-user",
        &t,
        "viewer",
        chrono::Utc::now(),
        600,
    );
    let r = cx.api.get(CUSTOMERS, &tok);
    cx.restart_with(&[]);
    check::status(&r, 200);
}

/// Sends a chunked body of `total` bytes without finishing it, and returns the status line
/// the server answers with (None if it waits for the rest of the body).
fn chunked_without_end(
    base: &str,
    path: &str,
    token: &str,
    extra: &str,
    total: usize,
) -> Option<u16> {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(15))).ok();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n{extra}\r\n"
    );
    s.write_all(head.as_bytes()).expect("write head");
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0;
    while sent < total {
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(&chunk);
        frame.extend_from_slice(b"\r\n");
        if s.write_all(&frame).is_err() {
            break; // the server answered and stopped reading
        }
        sent += chunk.len();
    }
    let _ = s.flush();
    let started = Instant::now();
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    while started.elapsed() < Duration::from_secs(15) {
        match s.read(&mut tmp) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&tmp[..n]);
                if buf.windows(2).any(|w| w == b"\r\n") {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let line = String::from_utf8_lossy(&buf);
    line.split_whitespace().nth(1).and_then(|c| c.parse().ok())
}

/// A chunked body is refused with 413 as soon as it passes 1 MiB, before it ends (so it is
/// never buffered whole), on the plain and on the idempotency path.
pub fn chunked_body_is_limited_while_streaming(cx: &mut Ctx) {
    let t = fresh_tenant("sec-body");
    let b = cx.token(&t, "bea", "broker");
    let base = cx.server.base.clone();
    let total = 1024 * 1024 + 256 * 1024;
    assert_eq!(
        chunked_without_end(&base, CUSTOMERS, &b, "", total),
        Some(413),
        "plain path"
    );
    assert_eq!(
        chunked_without_end(
            &base,
            CUSTOMERS,
            &b,
            "Idempotency-Key: sec-big-1\r\n",
            total
        ),
        Some(413),
        "idempotency path"
    );
    // A small chunked body is read normally.
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(15))).ok();
    let body = json!({"name": "Chunked"}).to_string();
    let req = format!(
        "POST {CUSTOMERS} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {b}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 201"), "{out}");
}

fn fnv_tag(ip: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in ip.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("anon-{:08x}", h >> 32)
}

fn visitor_id(cx: &Ctx, room: &str, ip: &str) -> String {
    let mut ws = dial_from(&cx.server.base, room, ip)
        .unwrap_or_else(|s| panic!("public room refused a visitor: {s}"));
    let sub = json!({"op": "subscribe", "channels": ["public"], "presence": true});
    ws.send(tungstenite::Message::text(sub.to_string()))
        .expect("ws send");
    let subscribed = frame(&mut ws);
    assert_eq!(subscribed["op"], "subscribed", "{subscribed}");
    let join = frame(&mut ws);
    let id = join["user_id"].as_str().expect("user_id").to_string();
    let _ = ws.close(None);
    id
}

/// A public-room visitor's id is a keyed tag: not a function of the address alone.
pub fn public_visitor_id_hides_the_ip(cx: &mut Ctx) {
    let t = fresh_tenant("sec-anon");
    let admin = cx.token(&t, "boss", "admin");
    check::status(
        &cx.api.post(
            "/api/realtime/rooms",
            &admin,
            &json!({"name": "hall", "public": true}),
        ),
        201,
    );
    let room = format!("/api/public/rooms/{t}/hall/ws");
    let ip = "198.18.9.9";
    let id = visitor_id(cx, &room, ip);
    assert!(id.starts_with("anon-"), "{id}");
    assert_ne!(id, fnv_tag(ip), "the id is the unkeyed hash of the address");
    let tag = id.trim_start_matches("anon-");
    assert!(
        tag.len() >= 16 && tag.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    assert_ne!(visitor_id(cx, &room, "198.18.9.10"), id);
}

/// A key left `pending` by a request that died is freed within a minute: a retry after
/// that runs (201) instead of waiting out the key's 24 h; a fresh pending claim still
/// answers 409 with `Retry-After`.
pub fn dead_pending_idempotency_key_is_freed(cx: &mut Ctx) {
    let t = crate::fixtures::fresh_tenant("sec-idem-dead");
    let admin = cx.token(&t, "a1", "admin");
    let path = "/api/crm/customers";
    let body = json!({"name": "Retried"}).to_string();
    let mut material = path.as_bytes().to_vec();
    material.push(0);
    material.extend_from_slice(body.as_bytes());
    let hash = pulse::domain::password::sha256_hex(&material);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Claims as a request leaves them when its isolate dies mid-way: one 5 s old, one 2 min.
    for (k, age_ms) in [("fresh", 5_000), ("dead", 120_000)] {
        cx.server.d1(&format!(
            "INSERT INTO idempotency (tenant_id, key, request_hash, state, created_ms)
             VALUES ('{t}', 'a1 admin POST {path} {k}', '{hash}', 'pending', {})",
            now - age_ms
        ));
    }
    let fresh = cx
        .api
        .raw_with("POST", path, &admin, &body, &[("idempotency-key", "fresh")]);
    check::error(&fresh, 409, "request_in_progress");
    assert!(fresh.header("retry-after").is_some());
    let dead = cx
        .api
        .raw_with("POST", path, &admin, &body, &[("idempotency-key", "dead")]);
    check::status(&dead, 201);
    // And it is a normal key from then on: the retry replays.
    let again = cx
        .api
        .raw_with("POST", path, &admin, &body, &[("idempotency-key", "dead")]);
    check::status(&again, 201);
    assert_eq!(again.body, dead.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
}
