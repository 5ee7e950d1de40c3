//! Jobs on every queue against fake providers on loopback: retries with backoff, dead
//! letters and the admin's retry, poison messages, duplicate deliveries, SMS, publishing,
//! reports in R2, and the cron paths.

use crate::assertions as check;
use crate::client::Ws;
use crate::fakes::{Answer, Fake};
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub const SMS_PATH: &str = "/sms";
pub const FLAKY_PATH: &str = "/platforms/flaky";
pub const REJECTING_PATH: &str = "/platforms/rejecting";
pub const SMS_TOKEN: &str = "sms-test-token";
pub const WEBHOOK_SECRET: &str = "whsec-test";

/// The server's provider settings: SMS over HTTP to the fake, and three listing
/// platforms (one recorded in D1, two on the fake).
pub fn provider_vars(fake: &Fake) -> Vec<(String, String)> {
    vec![
        ("SMS_PROVIDER".into(), "http".into()),
        (
            "SMS_PROVIDER_URL".into(),
            format!("{}{SMS_PATH}", fake.base),
        ),
        ("SMS_PROVIDER_TOKEN".into(), SMS_TOKEN.into()),
        (
            "PUBLISHING_PLATFORMS".into(),
            format!(
                "local=record,flaky={}{FLAKY_PATH},rejecting={}{REJECTING_PATH}",
                fake.base, fake.base
            ),
        ),
        ("PUBLISHING_WEBHOOK_SECRET".into(), WEBHOOK_SECRET.into()),
    ]
}

fn customer_with_phone(cx: &Ctx, tok: &str, name: &str) -> String {
    let r = cx.api.post(
        "/api/crm/customers",
        tok,
        &json!({"name": name, "phone": "+34600111222"}),
    );
    check::status(&r, 201);
    r.body["id"].as_str().unwrap().to_string()
}

fn wait_job(cx: &Ctx, tok: &str, id: &str, status: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let j = cx.api.get(&format!("/api/jobs/{id}"), tok);
        check::status(&j, 200);
        if j.body["status"] == status {
            return j.body;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} is {} (want {status}): {}",
            j.body["status"],
            j.body
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn sms(cx: &Ctx, tok: &str, customer: &str, message: &str, headers: &[(&str, &str)]) -> Value {
    let r = cx.api.raw_with(
        "POST",
        &format!("/api/crm/customers/{customer}/sms"),
        tok,
        &json!({ "message": message }).to_string(),
        headers,
    );
    check::status(&r, 202);
    assert_eq!(r.body["status"], "queued");
    assert_eq!(r.body["queue"], "pulse-sms");
    r.body
}

/// SMS through the HTTP provider: the bearer token and an idempotency key (the job id)
/// reach the provider; bad input and a phoneless customer change nothing.
pub fn sms_reaches_the_provider(cx: &mut Ctx) {
    let t = fresh_tenant("sms");
    let tok = cx.token(&t, "b1", "broker");
    let c = customer_with_phone(cx, &tok, "Ana");
    let mut ws = Ws::connect(&cx.server.base, &tok);
    ws.subscribe(&["user:b1"], None);
    let job = sms(cx, &tok, &c, "Your viewing is at 10:00", &[]);
    let id = job["id"].as_str().unwrap();
    let (done, before) = ws.wait_for("job:completed", Duration::from_secs(30));
    assert_eq!(done["data"]["id"], id);
    assert_eq!(done["data"]["attempts"], 1);
    assert!(before
        .iter()
        .any(|e| e["type"] == "job:queued" && e["data"]["id"] == id));
    let seen = cx.fake.seen(SMS_PATH, id);
    assert_eq!(seen.len(), 1);
    let h = &seen[0].headers;
    assert_eq!(h["authorization"], format!("Bearer {SMS_TOKEN}"));
    assert_eq!(h["idempotency-key"], id);
    let sent: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(sent["to"], "+34600111222");
    assert_eq!(sent["body"], "Your viewing is at 10:00");
    // 422 (empty, unknown field), 404 (unknown / other tenant's customer), 409 (no phone),
    // 403 (viewer): none of them makes a job.
    let before_jobs = cx.api.get("/api/jobs?queue=pulse-sms", &tok).body["data"]
        .as_array()
        .unwrap()
        .len();
    check::error(
        &cx.api.post(
            &format!("/api/crm/customers/{c}/sms"),
            &tok,
            &json!({"message": ""}),
        ),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.post(
            &format!("/api/crm/customers/{c}/sms"),
            &tok,
            &json!({"message": "x", "to": "+1"}),
        ),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.post(
            "/api/crm/customers/cus_nope/sms",
            &tok,
            &json!({"message": "x"}),
        ),
        404,
        "not_found",
    );
    let other = cx.token(&fresh_tenant("sms-o"), "b9", "broker");
    check::error(
        &cx.api.post(
            &format!("/api/crm/customers/{c}/sms"),
            &other,
            &json!({"message": "x"}),
        ),
        404,
        "not_found",
    );
    let nophone = cx
        .api
        .post("/api/crm/customers", &tok, &json!({"name": "NoPhone"}));
    let np = nophone.body["id"].as_str().unwrap();
    check::error(
        &cx.api.post(
            &format!("/api/crm/customers/{np}/sms"),
            &tok,
            &json!({"message": "x"}),
        ),
        409,
        "conflict",
    );
    let viewer = cx.token(&t, "v1", "viewer");
    check::error(
        &cx.api.post(
            &format!("/api/crm/customers/{c}/sms"),
            &viewer,
            &json!({"message": "x"}),
        ),
        403,
        "forbidden",
    );
    let after_jobs = cx.api.get("/api/jobs?queue=pulse-sms", &tok).body["data"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before_jobs, after_jobs);
    ws.close();
}

/// A provider that keeps failing (5xx): retried with backoff up to the queue's budget,
/// then dead-lettered and marked dead; visible in the API; an admin's retry completes it.
/// A 4xx is not retried: dead after one call.
pub fn dead_jobs_and_admin_retry(cx: &mut Ctx) {
    let t = fresh_tenant("dead");
    let tok = cx.token(&t, "b1", "broker");
    let admin = cx.token(&t, "a1", "admin");
    let c = customer_with_phone(cx, &tok, "Bo");
    let mut ws = Ws::connect(&cx.server.base, &admin);
    ws.subscribe(&["tenant"], None);
    // pulse-sms: max_retries 4 → 5 tries, all 503.
    cx.fake.script(SMS_PATH, &t, &[Answer::Status(503); 5]);
    let job = sms(cx, &tok, &c, "will fail", &[]);
    let id = job["id"].as_str().unwrap().to_string();
    let (dead, before) = ws.wait_for("job:dead", Duration::from_secs(90));
    assert_eq!(dead["data"]["id"], id.as_str());
    assert_eq!(dead["data"]["status"], "dead");
    assert_eq!(dead["data"]["attempts"], 5);
    assert!(dead["data"]["last_error"].as_str().unwrap().contains("503"));
    let failed: Vec<u64> = before
        .iter()
        .filter(|e| e["type"] == "job:failed" && e["data"]["id"] == id.as_str())
        .map(|e| e["data"]["attempts"].as_u64().unwrap())
        .collect();
    assert_eq!(failed, vec![1, 2, 3, 4, 5], "one job:failed per try");
    let calls = cx.fake.seen(SMS_PATH, &id);
    assert_eq!(calls.len(), 5);
    // Backoff (base 1 s in tests): gaps of at least 1, 2, 4, 8 s between tries.
    for (k, pair) in calls.windows(2).enumerate() {
        let gap = pair[1].at.duration_since(pair[0].at);
        let want = Duration::from_millis(1000 << k) - Duration::from_millis(150);
        assert!(gap >= want, "gap {k} was {gap:?}, want >= {want:?}");
    }
    // Visible as dead; a broker may not retry it; an admin may, once.
    let list = cx.api.get("/api/jobs?status=dead", &admin);
    check::status(&list, 200);
    assert!(list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|j| j["id"] == id.as_str()));
    check::error(
        &cx.api
            .post(&format!("/api/jobs/{id}/retry"), &tok, &json!({})),
        403,
        "forbidden",
    );
    let r = cx
        .api
        .post(&format!("/api/jobs/{id}/retry"), &admin, &json!({}));
    check::status(&r, 202);
    assert_eq!(r.body["status"], "queued");
    let done = wait_job(cx, &admin, &id, "completed", Duration::from_secs(30));
    assert_eq!(done["attempts"], 1);
    assert_eq!(cx.fake.seen(SMS_PATH, &id).len(), 6);
    check::error(
        &cx.api
            .post(&format!("/api/jobs/{id}/retry"), &admin, &json!({})),
        409,
        "conflict",
    );
    let other = cx.token(&fresh_tenant("dead-o"), "a9", "admin");
    check::error(
        &cx.api
            .post(&format!("/api/jobs/{id}/retry"), &other, &json!({})),
        404,
        "not_found",
    );

    // 400 from the provider: permanent, no retry.
    cx.fake.script(SMS_PATH, &t, &[Answer::Status(400)]);
    let job = sms(cx, &tok, &c, "rejected", &[]);
    let id2 = job["id"].as_str().unwrap().to_string();
    let j = wait_job(cx, &admin, &id2, "dead", Duration::from_secs(30));
    assert_eq!(j["attempts"], 1);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        cx.fake.seen(SMS_PATH, &id2).len(),
        1,
        "a 4xx is not retried"
    );
    // A provider that hangs past the timeout is retried, then succeeds.
    cx.fake
        .script(SMS_PATH, &t, &[Answer::Hang(Duration::from_secs(4))]);
    let job = sms(cx, &tok, &c, "slow", &[]);
    let id3 = job["id"].as_str().unwrap().to_string();
    let j = wait_job(cx, &admin, &id3, "completed", Duration::from_secs(40));
    assert_eq!(j["attempts"], 2, "{j}");
    ws.close();
}

/// Poison messages in a batch go to the dead letters while the valid message next to
/// them runs; delivering a job's message twice (or after it finished) does the work once.
pub fn poison_and_duplicate_messages(cx: &mut Ctx) {
    let t = fresh_tenant("poison");
    let tok = cx.token(&t, "b1", "broker");
    let admin = cx.token(&t, "a1", "admin");
    let c = customer_with_phone(cx, &tok, "Cy");
    // A job whose queue message was "lost": it stays queued.
    let job = sms(
        cx,
        &tok,
        &c,
        "batch mate",
        &[("x-pulse-fault", "no-enqueue")],
    );
    let id = job["id"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        cx.api.get(&format!("/api/jobs/{id}"), &tok).body["status"],
        "queued"
    );
    let marker = format!("poison-{t}");
    let valid = json!({"tenant_id": t, "job_id": id});
    let r = cx.api.post(
        "/api/dev/queues/pulse-sms",
        &admin,
        &json!({"messages": [marker, valid, {"tenant_id": t, "job_id": id, "extra": marker}, valid]}),
    );
    check::status(&r, 202);
    let j = wait_job(cx, &tok, &id, "completed", Duration::from_secs(30));
    assert_eq!(
        j["attempts"], 1,
        "the duplicate in the same batch did nothing"
    );
    let dl = cx.api.get("/api/dev/dead-letters?limit=100", &admin);
    check::status(&dl, 200);
    let mine: Vec<&Value> = dl.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["body"].as_str().unwrap_or("").contains(&marker))
        .collect();
    assert_eq!(
        mine.len(),
        2,
        "both poison messages are dead letters: {}",
        dl.body
    );
    assert!(mine
        .iter()
        .all(|d| d["queue"] == "pulse-sms" && d["reason"] == "malformed message"));
    // Redeliver the finished job: nothing runs again.
    let r = cx.api.post(
        "/api/dev/queues/pulse-sms",
        &admin,
        &json!({"messages": [valid, valid]}),
    );
    check::status(&r, 202);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        cx.fake.seen(SMS_PATH, &id).len(),
        1,
        "the provider was called once"
    );
    assert_eq!(
        cx.api.get(&format!("/api/jobs/{id}"), &tok).body["attempts"],
        1
    );
    // Dev routes need an admin.
    check::error(
        &cx.api
            .post("/api/dev/queues/pulse-sms", &tok, &json!({"messages": [1]})),
        403,
        "forbidden",
    );
    check::error(
        &cx.api
            .post("/api/dev/queues/nope", &admin, &json!({"messages": [1]})),
        404,
        "not_found",
    );
}

/// The job list: filters, role scoping (brokers see their own), pagination, bad status.
pub fn jobs_list(cx: &mut Ctx) {
    let t = fresh_tenant("jlist");
    let b1 = cx.token(&t, "b1", "broker");
    let b2 = cx.token(&t, "b2", "broker");
    let admin = cx.token(&t, "a1", "admin");
    let c = customer_with_phone(cx, &b1, "Di");
    let mut ids = Vec::new();
    for k in 0..3 {
        ids.push(
            sms(cx, &b1, &c, &format!("m{k}"), &[])["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    sms(cx, &b2, &c, "from b2", &[]);
    let all = cx.api.get("/api/jobs?queue=pulse-sms", &admin);
    assert_eq!(all.body["data"].as_array().unwrap().len(), 4);
    let mine = cx.api.get("/api/jobs?queue=pulse-sms", &b1);
    assert_eq!(mine.body["data"].as_array().unwrap().len(), 3);
    let p1 = cx.api.get("/api/jobs?queue=pulse-sms&limit=2", &b1);
    assert_eq!(p1.body["data"].as_array().unwrap().len(), 2);
    let cur = p1.body["next_cursor"].as_str().unwrap();
    let p2 = cx.api.get(
        &format!("/api/jobs?queue=pulse-sms&limit=2&cursor={cur}"),
        &b1,
    );
    assert_eq!(p2.body["data"].as_array().unwrap().len(), 1);
    assert!(p2.body["next_cursor"].is_null());
    let subj = cx
        .api
        .get(&format!("/api/jobs?subject=customer:{c}"), &admin);
    assert_eq!(subj.body["data"].as_array().unwrap().len(), 4);
    check::error(
        &cx.api.get("/api/jobs?status=bogus", &admin),
        400,
        "bad_request",
    );
    check::error(
        &cx.api.raw("GET", "/api/jobs", None, None, None),
        401,
        "unauthorized",
    );
}

fn wait_report(cx: &Ctx, tok: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = cx.api.get(&format!("/api/reports/{id}"), tok);
        check::status(&r, 200);
        if r.body["status"] == "ready" || r.body["status"] == "failed" {
            return r.body;
        }
        assert!(Instant::now() < deadline, "report {id} stuck: {}", r.body);
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A pipeline report (CSV and JSON) built on the reports queue, stored in R2 and
/// downloaded; its numbers match the customers created.
pub fn pipeline_report_matches_rows(cx: &mut Ctx) {
    let t = fresh_tenant("rpt");
    let admin = cx.token(&t, "a1", "admin");
    let broker = cx.token(&t, "b1", "broker");
    let from = chrono::Utc::now() - chrono::Duration::minutes(5);
    for (status, n) in [("lead", 3), ("prospect", 2), ("active", 1)] {
        for k in 0..n {
            let r = cx.api.post(
                "/api/crm/customers",
                &broker,
                &json!({"name": format!("{status}-{k}"), "status": status}),
            );
            check::status(&r, 201);
        }
    }
    let to = chrono::Utc::now() + chrono::Duration::minutes(5);
    let mut ws = Ws::connect(&cx.server.base, &admin);
    ws.subscribe(&["role:admin"], None);
    let body = json!({"kind": "pipeline", "format": "csv", "from": from.to_rfc3339(), "to": to.to_rfc3339()});
    check::error(
        &cx.api.post("/api/reports", &broker, &body),
        403,
        "forbidden",
    );
    let r = cx.api.post("/api/reports", &admin, &body);
    check::status(&r, 202);
    assert_eq!(r.body["status"], "queued");
    let id = r.body["id"].as_str().unwrap().to_string();
    let (ev, _) = ws.wait_for("reports:generated", Duration::from_secs(30));
    assert_eq!(ev["data"]["id"], id.as_str());
    let rep = wait_report(cx, &admin, &id);
    assert_eq!(rep["status"], "ready");
    assert_eq!(rep["row_count"], 3);
    assert_eq!(rep["totals"]["customers"], 6);
    let file = cx.api.get(&format!("/api/reports/{id}/download"), &admin);
    check::status(&file, 200);
    assert!(file.header("content-type").unwrap().starts_with("text/csv"));
    let csv = file.body.as_str().expect("csv text").to_string();
    assert_eq!(
        csv, "status,customers\r\nactive,1\r\nlead,3\r\nprospect,2\r\n",
        "the CSV is the aggregate of the rows created"
    );
    // JSON format, same numbers; another tenant cannot see or download it.
    let mut jb = body.clone();
    jb["format"] = json!("json");
    let r = cx.api.post("/api/reports", &admin, &jb);
    let jid = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(wait_report(cx, &admin, &jid)["status"], "ready");
    let doc = cx.api.get(&format!("/api/reports/{jid}/download"), &admin);
    check::status(&doc, 200);
    assert_eq!(doc.body["totals"]["customers"], 6);
    assert_eq!(doc.body["rows"][0]["status"], "active");
    let other = cx.token(&fresh_tenant("rpt-o"), "a9", "admin");
    check::error(
        &cx.api.get(&format!("/api/reports/{id}/download"), &other),
        404,
        "not_found",
    );
    check::error(
        &cx.api.get(&format!("/api/reports/{id}"), &other),
        404,
        "not_found",
    );
    // Validation, and the list.
    check::error(
        &cx.api.post(
            "/api/reports",
            &admin,
            &json!({"kind": "nope", "from": "x"}),
        ),
        422,
        "validation_failed",
    );
    let list = cx.api.get("/api/reports?kind=pipeline", &admin);
    assert_eq!(list.body["data"].as_array().unwrap().len(), 2);
    // A job:progress was emitted for the run, and the job completed.
    let job = cx.api.get(
        &format!("/api/jobs/{}", rep["job_id"].as_str().unwrap()),
        &admin,
    );
    assert_eq!(job.body["status"], "completed");
    assert_eq!(job.body["progress"], 100);
    ws.close();
}

fn property(cx: &Ctx, tok: &str) -> String {
    let r = cx.api.post(
        "/api/properties",
        tok,
        &json!({"title": "Sunny flat", "kind": "apartment", "listing": "sale", "price_minor": 25_000_000,
                "currency": "EUR", "bedrooms": 2, "city": "Valencia"}),
    );
    check::status(&r, 201);
    r.body["id"].as_str().unwrap().to_string()
}

fn check_signature(rec: &crate::fakes::Recorded) {
    use hmac::{Hmac, Mac};
    let sig = &rec.headers["x-pulse-signature"];
    let (t, v1) = sig.split_once(",v1=").expect("t=..,v1=..");
    let ts = t.trim_start_matches("t=");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(format!("{ts}.{}", rec.body).as_bytes());
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, want, "the webhook signature is HMAC-SHA256 over t.body");
}

/// Publishing on a platform that fails twice, then succeeds: three signed calls with one
/// idempotency key, backoff between them, the events in order, the listing published.
/// A rejecting platform (4xx) fails at once; the recorded platform publishes too.
pub fn publishing_retries_then_succeeds(cx: &mut Ctx) {
    let t = fresh_tenant("pub");
    let tok = cx.token(&t, "b1", "broker");
    let p = property(cx, &tok);
    let r = cx.api.post(
        "/api/publishing/listings",
        &tok,
        &json!({"property_id": p, "platforms": ["flaky", "local", "rejecting"]}),
    );
    check::status(&r, 201);
    assert_eq!(r.body["status"], "draft");
    assert_eq!(r.body["title"], "Sunny flat");
    let lid = r.body["id"].as_str().unwrap().to_string();
    let mut ws = Ws::connect(&cx.server.base, &tok);
    ws.subscribe(&[&format!("entity:listing:{lid}")], None);
    cx.fake
        .script(FLAKY_PATH, &t, &[Answer::Status(503), Answer::Status(502)]);
    cx.fake.script(REJECTING_PATH, &t, &[Answer::Status(422)]);
    let r = cx.api.post(
        &format!("/api/publishing/listings/{lid}/publish"),
        &tok,
        &json!({}),
    );
    check::status(&r, 202);
    assert_eq!(r.body["jobs"].as_array().unwrap().len(), 3);
    assert_eq!(r.body["listing"]["status"], "publishing");
    // Publishing again while in flight is a conflict.
    check::error(
        &cx.api.post(
            &format!("/api/publishing/listings/{lid}/publish"),
            &tok,
            &json!({"platforms": ["flaky"]}),
        ),
        409,
        "conflict",
    );
    let calls = cx
        .fake
        .wait_seen(FLAKY_PATH, &lid, 3, Duration::from_secs(30));
    for c in &calls {
        check_signature(c);
        assert_eq!(
            c.headers["idempotency-key"],
            calls[0].headers["idempotency-key"]
        );
    }
    let gap1 = calls[1].at.duration_since(calls[0].at);
    let gap2 = calls[2].at.duration_since(calls[1].at);
    assert!(gap1 >= Duration::from_millis(850), "first backoff {gap1:?}");
    assert!(
        gap2 >= Duration::from_millis(1850),
        "second backoff {gap2:?}"
    );
    // Events for the flaky platform: started ×3, failed ×2 (will retry), completed ×1.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut evs: Vec<Value> = Vec::new();
    while Instant::now() < deadline
        && !evs.iter().any(|e| {
            e["type"] == "publishing:completed"
                && e["data"]["publications"].as_array().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["platform"] == "flaky" && p["status"] == "published")
                })
        })
    {
        if let Some(f) = ws.recv(Duration::from_millis(500)) {
            if f["op"] == "event" {
                evs.push(f);
            }
        }
    }
    let flaky = |kind: &str| {
        evs.iter()
            .filter(|e| e["type"] == kind && (e["data"]["platform"] == "flaky"))
            .count()
    };
    assert_eq!(flaky("publishing:started"), 3, "{evs:?}");
    assert_eq!(flaky("publishing:failed"), 2);
    let l = cx.api.get(&format!("/api/publishing/listings/{lid}"), &tok);
    let pubs = l.body["publications"].as_array().unwrap().clone();
    let by = |name: &str| {
        pubs.iter()
            .find(|p| p["platform"] == name)
            .unwrap_or_else(|| panic!("no {name} publication in {}", l.body))
            .clone()
    };
    assert_eq!(by("flaky")["status"], "published");
    assert_eq!(by("flaky")["attempts"], 3);
    assert!(by("flaky")["external_id"]
        .as_str()
        .unwrap()
        .starts_with("ext-"));
    assert_eq!(by("local")["status"], "published");
    assert_eq!(by("rejecting")["status"], "failed");
    assert_eq!(
        cx.fake.seen(REJECTING_PATH, &lid).len(),
        1,
        "a 4xx is not retried"
    );
    assert_eq!(l.body["status"], "partially_published");
    // Cross-tenant and validation.
    let other = cx.token(&fresh_tenant("pub-o"), "b9", "broker");
    check::error(
        &cx.api
            .get(&format!("/api/publishing/listings/{lid}"), &other),
        404,
        "not_found",
    );
    check::error(
        &cx.api.post(
            "/api/publishing/listings",
            &tok,
            &json!({"property_id": p, "platforms": ["myspace"]}),
        ),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.post(
            "/api/publishing/listings",
            &other,
            &json!({"property_id": p, "platforms": ["local"]}),
        ),
        422,
        "validation_failed",
    );
    let viewer = cx.token(&t, "v1", "viewer");
    check::error(
        &cx.api.post(
            &format!("/api/publishing/listings/{lid}/publish"),
            &viewer,
            &json!({}),
        ),
        403,
        "forbidden",
    );
    ws.close();
}

/// A schedule due now is started by the cron (through the local scheduled endpoint),
/// exactly once even when the cron runs twice; a cancelled one never starts.
pub fn scheduled_publishing_via_cron(cx: &mut Ctx) {
    let t = fresh_tenant("sched");
    let tok = cx.token(&t, "b1", "broker");
    let p = property(cx, &tok);
    let r = cx.api.post(
        "/api/publishing/listings",
        &tok,
        &json!({"property_id": p, "platforms": ["local"]}),
    );
    let lid = r.body["id"].as_str().unwrap().to_string();
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let r = cx.api.post(
        "/api/publishing/schedules",
        &tok,
        &json!({"listing_id": lid, "run_at": soon}),
    );
    check::status(&r, 201);
    let sid = r.body["id"].as_str().unwrap().to_string();
    let later = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let c = cx.api.post(
        "/api/publishing/schedules",
        &tok,
        &json!({"listing_id": lid, "run_at": later}),
    );
    let cid = c.body["id"].as_str().unwrap().to_string();
    check::status(
        &cx.api
            .delete(&format!("/api/publishing/schedules/{cid}"), &tok),
        200,
    );
    check::error(
        &cx.api
            .delete(&format!("/api/publishing/schedules/{cid}"), &tok),
        409,
        "conflict",
    );
    check::error(
        &cx.api.post(
            "/api/publishing/schedules",
            &tok,
            &json!({"listing_id": lid, "run_at": "2001-01-01T00:00:00Z"}),
        ),
        422,
        "validation_failed",
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(cx.server.run_cron(), 200);
    assert_eq!(cx.server.run_cron(), 200);
    let list = cx
        .api
        .get(&format!("/api/publishing/schedules?listing_id={lid}"), &tok);
    let s = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == sid.as_str())
        .unwrap()
        .clone();
    assert_eq!(s["status"], "started");
    assert_eq!(s["job_ids"].as_array().unwrap().len(), 1, "started once");
    let c = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == cid.as_str())
        .unwrap()
        .clone();
    assert_eq!(c["status"], "cancelled");
    let jid = s["job_ids"][0].as_str().unwrap();
    wait_job(cx, &tok, jid, "completed", Duration::from_secs(30));
    let jobs = cx
        .api
        .get(&format!("/api/jobs?subject=listing:{lid}"), &tok);
    assert_eq!(jobs.body["data"].as_array().unwrap().len(), 1);
    let l = cx.api.get(&format!("/api/publishing/listings/{lid}"), &tok);
    assert_eq!(l.body["status"], "published");
}

/// The cron's appointment reminder also starts one reminder email to the assignee (a
/// user with an email), once even when the cron runs twice.
pub fn reminder_email_via_cron(cx: &mut Ctx) {
    let t = fresh_tenant("remind");
    let admin = cx.token(&t, "a1", "admin");
    let email = format!("agent@{t}.example");
    let u = cx.api.post(
        "/api/users",
        &admin,
        &json!({"email": email, "name": "Agent", "role": "broker", "password": "correct horse battery"}),
    );
    check::status(&u, 201);
    let uid = u.body["id"].as_str().unwrap().to_string();
    let start = chrono::Utc::now() + chrono::Duration::minutes(10);
    let end = start + chrono::Duration::minutes(30);
    let a = cx.api.post(
        "/api/calendar/appointments",
        &admin,
        &json!({"title": "Viewing", "assigned_to": uid, "starts_at": start.to_rfc3339(), "ends_at": end.to_rfc3339()}),
    );
    check::status(&a, 201);
    let aid = a.body["id"].as_str().unwrap().to_string();
    assert_eq!(cx.server.run_cron(), 200);
    assert_eq!(cx.server.run_cron(), 200);
    let jobs = cx
        .api
        .get(&format!("/api/jobs?subject=appointment:{aid}"), &admin);
    let list = jobs.body["data"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1, "one reminder email: {}", jobs.body);
    assert_eq!(list[0]["kind"], "appointment_reminder_email");
    let jid = list[0]["id"].as_str().unwrap();
    wait_job(cx, &admin, jid, "completed", Duration::from_secs(30));
    let msgs = cx.api.get("/api/dev/messages", &admin);
    let m: Vec<&Value> = msgs.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["job_id"] == jid)
        .collect();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["recipient"], email.as_str());
    assert_eq!(m[0]["subject"], "Reminder: Viewing");
}

/// The listing as the API has it now.
fn listing(cx: &Ctx, tok: &str, lid: &str) -> Value {
    cx.api
        .get(&format!("/api/publishing/listings/{lid}"), tok)
        .body
}

fn publication(l: &Value, platform: &str) -> String {
    l["publications"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["platform"] == platform))
        .and_then(|p| p["status"].as_str())
        .unwrap_or("none")
        .to_string()
}

/// Waits until `platform`'s publication of the listing reaches `status`.
fn wait_publication(cx: &Ctx, tok: &str, lid: &str, platform: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let l = listing(cx, tok, lid);
        if publication(&l, platform) == status {
            return l;
        }
        assert!(Instant::now() < deadline, "{platform} never {status}: {l}");
        std::thread::sleep(Duration::from_millis(150));
    }
}

/// Listings are edited, withdrawn from a platform by a signed webhook, and come off every
/// platform when their property is sold.
pub fn listings_edit_unpublish_and_sold(cx: &mut Ctx) {
    let t = fresh_tenant("unpub");
    let tok = cx.token(&t, "b1", "broker");
    let viewer = cx.token(&t, "v1", "viewer");
    let stranger = cx.token(&fresh_tenant("unpub-o"), "a1", "admin");
    let p = property(cx, &tok);
    let r = cx.api.post(
        "/api/publishing/listings",
        &tok,
        &json!({"property_id": p, "platforms": ["flaky", "local"]}),
    );
    check::status(&r, 201);
    let lid = r.body["id"].as_str().unwrap().to_string();
    let path = format!("/api/publishing/listings/{lid}");
    let mut ws = Ws::connect(&cx.server.base, &tok);
    ws.subscribe(&[&format!("entity:listing:{lid}")], None);

    // Edits: the advert's text and price, with the changes in the event.
    check::error(
        &cx.api.put(&path, &viewer, &json!({"title": "x"})),
        403,
        "forbidden",
    );
    check::error(
        &cx.api.put(&path, &stranger, &json!({"title": "x"})),
        404,
        "not_found",
    );
    check::error(
        &cx.api.put(&path, &tok, &json!({"price_minor": 0})),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.put(&path, &tok, &json!({"platforms": ["local"]})),
        422,
        "validation_failed",
    );
    let r = cx.api.put(
        &path,
        &tok,
        &json!({"title": "Sunny flat, sea view", "price_minor": 24_000_000}),
    );
    check::status(&r, 200);
    assert_eq!(r.body["price_minor"], 24_000_000);
    let (ev, _) = ws.wait_for("publishing:listing:updated", Duration::from_secs(5));
    assert_eq!(
        ev["data"]["changes"],
        json!({"title": {"from": "Sunny flat", "to": "Sunny flat, sea view"},
               "price_minor": {"from": 25_000_000, "to": 24_000_000}})
    );

    // Nothing is published yet: nothing to withdraw.
    check::error(
        &cx.api.post(&format!("{path}/unpublish"), &tok, &json!({})),
        409,
        "conflict",
    );
    check::status(
        &cx.api.post(&format!("{path}/publish"), &tok, &json!({})),
        202,
    );
    wait_publication(cx, &tok, &lid, "flaky", "published");
    let l = wait_publication(cx, &tok, &lid, "local", "published");
    assert_eq!(l["status"], "published");

    // Withdrawn from one platform: a signed webhook with the platform's own id.
    check::error(
        &cx.api
            .post(&format!("{path}/unpublish"), &viewer, &json!({})),
        403,
        "forbidden",
    );
    check::error(
        &cx.api.post(
            &format!("{path}/unpublish"),
            &tok,
            &json!({"platforms": ["rejecting"]}),
        ),
        422,
        "validation_failed",
    );
    let r = cx.api.post(
        &format!("{path}/unpublish"),
        &tok,
        &json!({"platforms": ["flaky"]}),
    );
    check::status(&r, 202);
    assert_eq!(r.body["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["jobs"][0]["kind"], "unpublish_listing");
    assert_eq!(publication(&r.body["listing"], "flaky"), "unpublishing");
    let calls = cx
        .fake
        .wait_seen(FLAKY_PATH, "unpublish", 1, Duration::from_secs(30));
    check_signature(&calls[0]);
    let sent: Value = serde_json::from_str(&calls[0].body).unwrap();
    assert_eq!(sent["data"]["action"], "unpublish", "{sent}");
    assert_eq!(sent["data"]["listing_id"], lid.as_str());
    assert!(sent["data"]["external_id"].is_string(), "{sent}");
    let (ev, _) = ws.wait_for("publishing:unpublished", Duration::from_secs(10));
    assert_eq!(publication(&ev["data"], "flaky"), "unpublished");
    let l = wait_publication(cx, &tok, &lid, "flaky", "unpublished");
    assert_eq!(l["status"], "published", "still live on local: {l}");
    // Not published there any more.
    check::error(
        &cx.api.post(
            &format!("{path}/unpublish"),
            &tok,
            &json!({"platforms": ["flaky"]}),
        ),
        409,
        "conflict",
    );

    // The property is sold: the listing comes off the remaining platform by itself.
    let r = cx.api.put(
        &format!("/api/properties/{p}"),
        &tok,
        &json!({"status": "sold"}),
    );
    check::status(&r, 200);
    let l = wait_publication(cx, &tok, &lid, "local", "unpublished");
    assert_eq!(l["status"], "draft", "on no platform: {l}");
    let admin = cx.token(&t, "a1", "admin");
    let msgs = cx.api.get("/api/dev/messages", &admin);
    assert!(
        msgs.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["channel"] == "publishing:local"
                && m["body"]
                    .as_str()
                    .is_some_and(|b| b.contains("\"action\":\"unpublish\""))),
        "the recorded platform got the unpublish: {}",
        msgs.body
    );
    // And can be published again.
    check::status(
        &cx.api.post(
            &format!("{path}/publish"),
            &tok,
            &json!({"platforms": ["local"]}),
        ),
        202,
    );
    wait_publication(cx, &tok, &lid, "local", "published");
}
