//! Property photos in R2: uploads told by their bytes (JPEG, PNG, WebP; 415 otherwise, 413
//! past 10 MiB), list and delete with their events, serving (a token of the tenant until
//! the property is published, then public; ETag and 304), the photo URLs in publishing
//! webhooks, and the files removed with their photo or property (the cron retries).

use super::jobs_v2::FLAKY_PATH;
use crate::assertions as check;
use crate::client::{Resp, Ws};
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The smallest well-formed 1×1 files of each format.
const PNG: &str = "89504e470d0a1a0a0000000d49484452000000010000000108000000003a7e9b550000000a49444154789c636000000002000148afa4710000000049454e44ae426082";
const WEBP: &str = "524946461a000000574542505650384c0e0000002f00000000071011fd0f4444ff03";
const JPEG: &str = "ffd8ffe000104a46494600010100000100010000ffdb00430050373c463c32504641465a55505f78c882786e6e78f5afb991c8ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffc0000b080001000101011100ffc4001f0000010501010101010100000000000000000102030405060708090a0bffda0008010100003f00a55fffd9";
const GIF: &str =
    "474946383761010001008100000000000000000000000000002c000000000100010000080400010404003b";
const MAX: usize = 10 * 1024 * 1024;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// An answer with its raw body (images are not JSON).
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    bytes: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Resp {
        Resp {
            status: self.status,
            headers: self.headers.clone(),
            body: serde_json::from_slice(&self.bytes).unwrap_or(Value::Null),
        }
    }
}

fn send(
    url: &str,
    method: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Raw {
    let mut req = ureq::request(method, url).timeout(Duration::from_secs(60));
    if let Some(t) = token {
        req = req.set("authorization", &format!("Bearer {t}"));
    }
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let result = match body {
        Some(b) => req.send_bytes(b),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: transport error {e}"),
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .filter_map(|n| resp.header(&n).map(|v| (n.clone(), v.to_string())))
        .collect();
    let mut bytes = Vec::new();
    resp.into_reader().read_to_end(&mut bytes).unwrap();
    Raw {
        status,
        headers,
        bytes,
    }
}

fn upload(cx: &Ctx, tok: &str, property: &str, ctype: &str, body: &[u8]) -> Resp {
    send(
        &format!("{}/api/properties/{property}/photos", cx.server.base),
        "POST",
        Some(tok),
        &[("content-type", ctype)],
        Some(body),
    )
    .json()
}

fn fetch(cx: &Ctx, id: &str, token: Option<&str>, headers: &[(&str, &str)]) -> Raw {
    send(
        &format!("{}/api/photos/{id}", cx.server.base),
        "GET",
        token,
        headers,
        None,
    )
}

fn property(cx: &Ctx, tok: &str) -> String {
    let r = cx.api.post(
        "/api/properties",
        tok,
        &json!({"title": "Bright flat", "kind": "apartment", "price_minor": 25_000_000, "currency": "EUR", "city": "Madrid"}),
    );
    check::status(&r, 201);
    r.body["id"].as_str().unwrap().to_string()
}

fn listed(cx: &Ctx, tok: &str, property: &str) -> Vec<Value> {
    let r = cx
        .api
        .get(&format!("/api/properties/{property}/photos"), tok);
    check::status(&r, 200);
    r.body["data"].as_array().unwrap().clone()
}

fn files(cx: &Ctx, admin: &str) -> Vec<String> {
    let r = cx.api.get("/api/dev/photo-files", admin);
    check::status(&r, 200);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

/// The status line of a POST whose body (`total` bytes of a PNG followed by zeros) is sent
/// with a `Content-Length`, or chunked without one; the server may answer before it ends.
fn oversized_status(
    base: &str,
    path: &str,
    token: &str,
    total: usize,
    chunked: bool,
) -> Option<u16> {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_string()
    } else {
        format!("Content-Length: {total}")
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: image/png\r\n{framing}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut first = hex(PNG);
    first.resize(64 * 1024, 0);
    let zeros = vec![0u8; 64 * 1024];
    let mut sent = 0;
    while sent < total {
        let chunk = if sent == 0 { &first } else { &zeros };
        let n = chunk.len().min(total - sent);
        let ok = if chunked {
            let mut frame = format!("{n:x}\r\n").into_bytes();
            frame.extend_from_slice(&chunk[..n]);
            frame.extend_from_slice(b"\r\n");
            s.write_all(&frame).is_ok()
        } else {
            s.write_all(&chunk[..n]).is_ok()
        };
        if !ok {
            break; // the server answered and stopped reading
        }
        sent += n;
    }
    if chunked && sent >= total {
        let _ = s.write_all(b"0\r\n\r\n");
    }
    let _ = s.flush();
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        match s.read(&mut tmp) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                buf.extend_from_slice(&tmp[..n]);
                if buf.windows(2).any(|w| w == b"\r\n") {
                    break;
                }
            }
        }
    }
    let line = String::from_utf8_lossy(&buf);
    line.split_whitespace().nth(1).and_then(|c| c.parse().ok())
}

/// JPEG, PNG and WebP are told by their bytes whatever `Content-Type` says; anything else is
/// a 415 and a body past 10 MiB a 413 (exactly 10 MiB is fine); the list keeps upload
/// order; delete hides the photo; viewers read but may not change; another tenant gets 404
/// for every id; the events reach the tenant's members and nobody else.
pub fn upload_list_delete_and_roles(cx: &mut Ctx) {
    let t = fresh_tenant("pho");
    let b = cx.token(&t, "b1", "broker");
    let v = cx.token(&t, "v1", "viewer");
    let other = cx.token(&fresh_tenant("pho-o"), "a9", "admin");
    let pid = property(cx, &b);
    let mut ws = Ws::connect(&cx.server.base, &v);
    ws.subscribe(&["tenant"], None);
    let mut foreign = Ws::connect(&cx.server.base, &other);
    foreign.subscribe(&["tenant"], None);

    // The format comes from the bytes: a PNG sent as image/jpeg is a PNG.
    let mut ids = Vec::new();
    let mut answers = Vec::new();
    for (bytes, ctype, want) in [
        (hex(JPEG), "image/jpeg", "image/jpeg"),
        (hex(PNG), "image/jpeg", "image/png"),
        (hex(WEBP), "application/octet-stream", "image/webp"),
    ] {
        let r = upload(cx, &b, &pid, ctype, &bytes);
        check::status(&r, 201);
        assert_eq!(r.body["content_type"], want, "{}", r.body);
        assert_eq!(r.body["bytes"], bytes.len(), "{}", r.body);
        assert_eq!(
            (r.body["width"].as_i64(), r.body["height"].as_i64()),
            (Some(1), Some(1))
        );
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            r.body["url"].as_str(),
            Some(format!("{}/api/photos/{id}", cx.server.base).as_str())
        );
        assert_eq!(
            r.header("location"),
            Some(format!("/api/photos/{id}").as_str())
        );
        let e = ws
            .wait_for("owners:property:photo_added", Duration::from_secs(10))
            .0;
        check::event(&e, "owners:property:photo_added");
        assert_eq!(e["data"]["id"], id.as_str());
        assert_eq!(e["data"]["property_id"], pid.as_str());
        assert_eq!(e["data"]["url"], r.body["url"]);
        assert!(e["channels"]
            .as_array()
            .unwrap()
            .contains(&json!(format!("entity:property:{pid}"))));
        assert_eq!(e["data"], r.body);
        ids.push(id);
        answers.push(r.body);
    }
    // Anything else is a 415 with the standard error, whatever it claims to be.
    for (bytes, ctype) in [
        (hex(GIF), "image/gif"),
        (b"just some text, honestly".to_vec(), "image/jpeg"),
        (
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec(),
            "image/png",
        ),
        (Vec::new(), "image/png"),
    ] {
        check::error(
            &upload(cx, &b, &pid, ctype, &bytes),
            415,
            "unsupported_media_type",
        );
    }
    // 10 MiB is the limit: one byte more is a 413, with a length or streamed.
    let path = format!("/api/properties/{pid}/photos");
    assert_eq!(
        oversized_status(&cx.server.base, &path, &b, MAX + 1, false),
        Some(413)
    );
    assert_eq!(
        oversized_status(&cx.server.base, &path, &b, MAX + 1, true),
        Some(413)
    );
    let mut big = hex(PNG);
    big.resize(MAX, 0);
    let r = upload(cx, &b, &pid, "image/png", &big);
    check::status(&r, 201);
    assert_eq!(r.body["bytes"], MAX);
    ids.push(r.body["id"].as_str().unwrap().to_string());
    answers.push(r.body);
    ws.wait_for("owners:property:photo_added", Duration::from_secs(10));

    // The list: upload order, the same records, for any member.
    assert_eq!(listed(cx, &v, &pid), answers);

    // Roles: viewers may not add or remove photos (they may edit no property).
    check::error(
        &upload(cx, &v, &pid, "image/png", &hex(PNG)),
        403,
        "forbidden",
    );
    let one = format!("/api/properties/{pid}/photos/{}", ids[0]);
    check::error(&cx.api.delete(&one, &v), 403, "forbidden");

    // Another tenant: 404 for the property and the photo, whatever the route.
    check::error(
        &upload(cx, &other, &pid, "image/png", &hex(PNG)),
        404,
        "not_found",
    );
    check::error(
        &cx.api.get(&format!("/api/properties/{pid}/photos"), &other),
        404,
        "not_found",
    );
    check::error(&cx.api.delete(&one, &other), 404, "not_found");
    let r = fetch(cx, &ids[0], Some(&other), &[]);
    check::error(&r.json(), 404, "not_found");
    check::error(
        &cx.api.get("/api/properties/prp_nope/photos", &b),
        404,
        "not_found",
    );
    check::error(
        &upload(cx, &b, "prp_nope", "image/png", &hex(PNG)),
        404,
        "not_found",
    );

    // Delete: hidden at once, announced, gone from the list; a second delete is a 404.
    check::status(&cx.api.delete(&one, &b), 204);
    let e = ws
        .wait_for("owners:property:photo_removed", Duration::from_secs(10))
        .0;
    check::event(&e, "owners:property:photo_removed");
    assert_eq!(e["data"], answers[0], "the photo as it was");
    check::error(&cx.api.delete(&one, &b), 404, "not_found");
    check::error(&fetch(cx, &ids[0], Some(&b), &[]).json(), 404, "not_found");
    assert_eq!(listed(cx, &v, &pid).len(), ids.len() - 1);
    // A photo id under another property of the tenant is not that property's photo.
    let pid2 = property(cx, &b);
    check::error(
        &cx.api
            .delete(&format!("/api/properties/{pid2}/photos/{}", ids[1]), &b),
        404,
        "not_found",
    );
    ws.close();
    // The other tenant's members saw none of it.
    let seen: Vec<Value> = foreign
        .drain(Duration::from_millis(500))
        .into_iter()
        .filter(|f| f["op"] == "event")
        .collect();
    assert!(seen.is_empty(), "another tenant received {seen:?}");
    foreign.close();
}

/// Before a listing of the property is published, a photo needs a token of its tenant (401
/// without, 404 with another tenant's); the publishing webhook carries the photos' URLs;
/// once published the same URL answers without a token. ETag and If-None-Match → 304.
pub fn served_privately_then_publicly_with_webhook_urls(cx: &mut Ctx) {
    let t = fresh_tenant("phs");
    let b = cx.token(&t, "b1", "broker");
    let v = cx.token(&t, "v1", "viewer");
    let other = cx.token(&fresh_tenant("phs-o"), "a9", "admin");
    let pid = property(cx, &b);
    let png = hex(PNG);
    let jpeg = hex(JPEG);
    let first = upload(cx, &b, &pid, "image/png", &png);
    check::status(&first, 201);
    let second = upload(cx, &b, &pid, "image/jpeg", &jpeg);
    check::status(&second, 201);
    let id = first.body["id"].as_str().unwrap().to_string();
    let urls = vec![first.body["url"].clone(), second.body["url"].clone()];

    // Not published: members only (any role), 401 without a token, 404 for other tenants;
    // an unknown id answers the same, so nothing tells whether it exists.
    let r = fetch(cx, &id, None, &[]);
    check::error(&r.json(), 401, "unauthorized");
    check::error(
        &fetch(cx, "pho_nope", None, &[]).json(),
        401,
        "unauthorized",
    );
    check::error(&fetch(cx, &id, Some(&other), &[]).json(), 404, "not_found");
    check::error(
        &fetch(cx, "pho_nope", Some(&b), &[]).json(),
        404,
        "not_found",
    );
    let r = fetch(cx, &id, Some(&v), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.bytes, png, "the stored bytes come back");
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(
        r.header("cache-control").unwrap().contains("private"),
        "{:?}",
        r.headers
    );
    let etag = r.header("etag").expect("ETag").to_string();
    let again = fetch(cx, &id, Some(&v), &[("if-none-match", &etag)]);
    assert_eq!(again.status, 304);
    assert!(again.bytes.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    // A 304 is only for who may see it.
    check::error(
        &fetch(cx, &id, None, &[("if-none-match", &etag)]).json(),
        401,
        "unauthorized",
    );

    // A draft listing changes nothing.
    let r = cx.api.post(
        "/api/publishing/listings",
        &b,
        &json!({"property_id": pid, "platforms": ["flaky"]}),
    );
    check::status(&r, 201);
    let lid = r.body["id"].as_str().unwrap().to_string();
    check::error(&fetch(cx, &id, None, &[]).json(), 401, "unauthorized");

    // Publish: the webhook carries the photo URLs, in upload order, and they answer.
    let r = cx.api.post(
        &format!("/api/publishing/listings/{lid}/publish"),
        &b,
        &json!({}),
    );
    check::status(&r, 202);
    let calls = cx
        .fake
        .wait_seen(FLAKY_PATH, &lid, 1, Duration::from_secs(30));
    let sent: Value = serde_json::from_str(&calls[0].body).unwrap();
    assert_eq!(sent["data"]["photos"], Value::Array(urls.clone()), "{sent}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let l = cx.api.get(&format!("/api/publishing/listings/{lid}"), &b);
        if l.body["status"] == "published" {
            break;
        }
        assert!(Instant::now() < deadline, "never published: {}", l.body);
        std::thread::sleep(Duration::from_millis(200));
    }
    for (url, bytes) in urls.iter().zip([&png, &jpeg]) {
        let r = send(url.as_str().unwrap(), "GET", None, &[], None);
        assert_eq!(r.status, 200, "{url}");
        assert_eq!(&r.bytes, bytes);
        assert!(
            r.header("cache-control").unwrap().starts_with("public"),
            "{:?}",
            r.headers
        );
    }
    // Public means public: another tenant's token reads it too; the ETag still holds.
    assert_eq!(fetch(cx, &id, Some(&other), &[]).status, 200);
    let r = fetch(cx, &id, None, &[("if-none-match", &etag)]);
    assert_eq!(r.status, 304);
    // The list carries the same URLs.
    let list = listed(cx, &b, &pid);
    let listed_urls: Vec<Value> = list.iter().map(|p| p["url"].clone()).collect();
    assert_eq!(listed_urls, urls);
}

/// Deleting a property deletes its photos: the rows (the photos answer 404, the list
/// route too) and the files in R2.
pub fn property_delete_removes_photos(cx: &mut Ctx) {
    let t = fresh_tenant("phd");
    let b = cx.token(&t, "b1", "broker");
    let admin = cx.token(&t, "a1", "admin");
    let pid = property(cx, &b);
    let keep = property(cx, &b);
    let mut ids = Vec::new();
    for (p, img) in [(&pid, PNG), (&pid, WEBP), (&keep, JPEG)] {
        let r = upload(cx, &b, p, "image/png", &hex(img));
        check::status(&r, 201);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    // Each upload is audited as the broker's action on the property.
    let audit = cx.api.get(
        &format!("/api/audit?action=owners:property:photo_added&entity=property:{pid}"),
        &admin,
    );
    check::status(&audit, 200);
    let rows = audit.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{}", audit.body);
    assert!(rows.iter().all(|r| r["actor"] == "b1"), "{}", audit.body);
    let before = files(cx, &admin);
    assert_eq!(before.len(), 3, "{before:?}");
    assert!(
        before
            .iter()
            .all(|k| k.starts_with(&format!("photos/{t}/"))),
        "{before:?}"
    );
    check::status(
        &cx.api.delete(&format!("/api/properties/{pid}"), &admin),
        204,
    );
    for id in &ids[..2] {
        check::error(&fetch(cx, id, Some(&admin), &[]).json(), 404, "not_found");
    }
    check::error(
        &cx.api.get(&format!("/api/properties/{pid}/photos"), &admin),
        404,
        "not_found",
    );
    let after = files(cx, &admin);
    assert_eq!(after, vec![format!("photos/{t}/{keep}/{}", ids[2])]);
    assert_eq!(
        fetch(cx, &ids[2], Some(&admin), &[]).status,
        200,
        "the other property's photo stays"
    );
}

/// A file whose removal fails (here: the dev fault `r2-delete`) is removed by the next cron
/// run, for a deleted photo and for a deleted property's photos alike; the photo is hidden
/// from the moment it is deleted.
pub fn failed_file_removal_is_retried_by_the_cron(cx: &mut Ctx) {
    let t = fresh_tenant("phc");
    let b = cx.token(&t, "b1", "broker");
    let admin = cx.token(&t, "a1", "admin");
    let pid = property(cx, &b);
    let gone = property(cx, &b);
    let mut ids = Vec::new();
    for p in [&pid, &pid, &gone] {
        let r = upload(cx, &b, p, "image/png", &hex(PNG));
        check::status(&r, 201);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    let fault = [("x-pulse-fault", "r2-delete")];
    let r = cx.api.raw_with_headers(
        "DELETE",
        &format!("/api/properties/{pid}/photos/{}", ids[0]),
        &[fault[0], ("authorization", &format!("Bearer {b}"))],
    );
    check::status(&r, 204);
    let r = cx.api.raw_with_headers(
        "DELETE",
        &format!("/api/properties/{gone}"),
        &[fault[0], ("authorization", &format!("Bearer {admin}"))],
    );
    check::status(&r, 204);
    check::error(&fetch(cx, &ids[0], Some(&b), &[]).json(), 404, "not_found");
    check::error(&fetch(cx, &ids[2], Some(&b), &[]).json(), 404, "not_found");
    assert_eq!(files(cx, &admin).len(), 3, "the files are still there");
    assert_eq!(cx.server.run_cron(), 200);
    assert_eq!(
        files(cx, &admin),
        vec![format!("photos/{t}/{pid}/{}", ids[1])],
        "the cron removed the deleted photos' files, and only those"
    );
    assert_eq!(fetch(cx, &ids[1], Some(&b), &[]).status, 200);
}
