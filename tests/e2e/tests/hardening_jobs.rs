//! Reliability: jobs finish after a crash or duplicate messages, retried matching runs
//! announce nothing old, anonymous card scans are coalesced, and the cron prunes old rows.

use super::jobs_v2::SMS_PATH;
use crate::assertions as check;
use crate::client::Ws;
use crate::fakes::Answer;
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn d1(cx: &Ctx, sql: &str) -> Vec<Value> {
    cx.server.d1(sql)
}

/// `COUNT(*)` of each `(table, condition)`, in one query (each D1 call from outside
/// starts a runtime of its own, about a second).
fn counts<const N: usize>(cx: &Ctx, queries: [(&str, String); N]) -> [i64; N] {
    let columns: Vec<String> = queries
        .iter()
        .enumerate()
        .map(|(k, (table, cond))| format!("(SELECT COUNT(*) FROM {table} WHERE {cond}) AS n{k}"))
        .collect();
    let row = &d1(cx, &format!("SELECT {}", columns.join(", ")))[0];
    std::array::from_fn(|k| row[format!("n{k}")].as_i64().unwrap())
}

fn customer_with_phone(cx: &Ctx, tok: &str) -> String {
    let r = cx.api.post(
        "/api/crm/customers",
        tok,
        &json!({"name": "Rel", "phone": "+34600111333"}),
    );
    check::status(&r, 201);
    r.body["id"].as_str().unwrap().to_string()
}

fn sms(cx: &Ctx, tok: &str, customer: &str, message: &str) -> String {
    let r = cx.api.post(
        &format!("/api/crm/customers/{customer}/sms"),
        tok,
        &json!({ "message": message }),
    );
    check::status(&r, 202);
    r.body["id"].as_str().unwrap().to_string()
}

/// Polls the job until `done(job)` holds (or panics after `timeout`).
fn wait_job(
    cx: &Ctx,
    tok: &str,
    id: &str,
    timeout: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let j = cx.api.get(&format!("/api/jobs/{id}"), tok);
        check::status(&j, 200);
        if done(&j.body) {
            return j.body;
        }
        assert!(
            Instant::now() < deadline,
            "job {id}: want {what}, is {}",
            j.body
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The tenant's events since `head` of one type, from the REST history.
fn history(cx: &Ctx, tok: &str, head: u64, kind: &str) -> Vec<Value> {
    let h = cx.api.get(
        &format!("/api/realtime/events?since={head}&limit=500&types={kind}"),
        tok,
    );
    check::status(&h, 200);
    h.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind)
        .cloned()
        .collect()
}

fn head(cx: &Ctx, tok: &str) -> u64 {
    let h = cx.api.get("/api/realtime/events?limit=1", tok);
    check::status(&h, 200);
    h.body["head"].as_u64().unwrap()
}

const LEASE: &[(&str, &str)] = &[("JOB_LEASE_MS", "3000"), ("PROVIDER_TIMEOUT_MS", "30000")];

/// A job whose runtime is killed mid-run (SIGKILL while the provider call hangs) stays
/// `running` under its lease; after a restart the cron reclaims it once the lease ran
/// out, and it runs again to `completed`.
pub fn job_survives_a_crash_mid_run(cx: &mut Ctx) {
    cx.restart_with(LEASE);
    let t = fresh_tenant("crash");
    let tok = cx.token(&t, "b1", "broker");
    let c = customer_with_phone(cx, &tok);
    cx.fake
        .script(SMS_PATH, &t, &[Answer::Hang(Duration::from_secs(20))]);
    let id = sms(cx, &tok, &c, "sent across a crash");
    cx.fake.wait_seen(SMS_PATH, &id, 1, Duration::from_secs(30));
    let j = cx.api.get(&format!("/api/jobs/{id}"), &tok).body;
    assert_eq!(
        (j["status"].as_str(), j["attempts"].as_u64()),
        (Some("running"), Some(1)),
        "{j}"
    );
    let crashed = Instant::now();
    cx.server.crash();
    cx.restart_with(LEASE);
    let mut ws = Ws::connect(&cx.server.base, &tok);
    ws.subscribe(&["user:b1"], None);
    // The lease (3 s, taken before the crash) has run out 3.5 s after the crash; then the
    // cron takes over.
    std::thread::sleep(Duration::from_millis(3500).saturating_sub(crashed.elapsed()));
    assert_eq!(cx.server.run_cron(), 200);
    let (done, _) = ws.wait_for("job:completed", Duration::from_secs(30));
    assert_eq!(done["data"]["id"], id.as_str());
    let j = wait_job(cx, &tok, &id, Duration::from_secs(10), "completed", |j| {
        j["status"] == "completed"
    });
    assert_eq!(j["attempts"], 2, "{j}");
    assert!(
        j["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("interrupted"),
        "the takeover is recorded: {j}"
    );
    assert!(
        cx.fake.seen(SMS_PATH, &id).len() >= 2,
        "the provider was asked again"
    );
    ws.close();
    cx.restart_with(&[]);
}

/// Duplicate queue messages share the job's tries: a duplicate that makes the last try
/// (leaving it `failed`) and comes back buries it; the job ends `dead`, never stuck.
pub fn duplicate_messages_end_dead_not_failed(cx: &mut Ctx) {
    let t = fresh_tenant("dupdead");
    let tok = cx.token(&t, "b1", "broker");
    let admin = cx.token(&t, "a1", "admin");
    let c = customer_with_phone(cx, &tok);
    // Five tries (1 + 4 retries), each answered 500.
    cx.fake.script(SMS_PATH, &t, &[Answer::Status(500); 5]);
    let id = sms(cx, &tok, &c, "never delivered");
    // After the 4th failure the job waits 8 s for its message: a duplicate arrives first.
    wait_job(
        cx,
        &tok,
        &id,
        Duration::from_secs(30),
        "retrying after 4 tries",
        |j| j["status"] == "retrying" && j["attempts"] == 4,
    );
    let r = cx.api.post(
        "/api/dev/queues/pulse-sms",
        &admin,
        &json!({"messages": [{"tenant_id": t, "job_id": id}]}),
    );
    check::status(&r, 202);
    let j = wait_job(cx, &tok, &id, Duration::from_secs(30), "dead", |j| {
        j["status"] == "dead"
    });
    assert_eq!(j["attempts"], 5, "{j}");
    assert!(
        j["last_error"].as_str().unwrap_or("").contains("500"),
        "{j}"
    );
    // The original message comes back (8 s backoff) and does nothing.
    std::thread::sleep(Duration::from_secs(9));
    let j = cx.api.get(&format!("/api/jobs/{id}"), &tok).body;
    assert_eq!(
        (j["status"].as_str(), j["attempts"].as_u64()),
        (Some("dead"), Some(5))
    );
    assert_eq!(cx.fake.seen(SMS_PATH, &id).len(), 5, "five tries, no more");
}

/// A matching job retried after its matches committed (its completion record lost) and
/// a second run announce no match again: `owners:match:found` only for rows a run inserted.
pub fn matching_retry_announces_nothing_old(cx: &mut Ctx) {
    let t = fresh_tenant("rematch");
    let b = cx.token(&t, "b1", "broker");
    let admin = cx.token(&t, "a1", "admin");
    let s = cx.api.post(
        "/api/seekers",
        &b,
        &json!({"name": "Nora", "budget_max_minor": 30_000_000, "currency": "EUR", "cities": ["Valencia"], "kinds": ["apartment"], "bedrooms_min": 2}),
    );
    check::status(&s, 201);
    for (title, price) in [("Flat A", 25_000_000), ("Flat B", 26_000_000)] {
        let p = cx.api.post(
            "/api/properties",
            &b,
            &json!({"title": title, "kind": "apartment", "price_minor": price, "currency": "EUR", "city": "Valencia", "bedrooms": 2}),
        );
        check::status(&p, 201);
    }
    let h0 = head(cx, &b);
    let run = |cx: &Ctx| -> String {
        let r = cx.api.post("/api/matching/run", &b, &json!({}));
        check::status(&r, 202);
        r.body["id"].as_str().unwrap().to_string()
    };
    let id = run(cx);
    let j = wait_job(cx, &b, &id, Duration::from_secs(30), "completed", |j| {
        j["status"] == "completed"
    });
    assert_eq!(j["result"]["matches_new"], 2, "{j}");
    let found = |cx: &Ctx| {
        // Delivery follows the commit; give the hub a moment.
        std::thread::sleep(Duration::from_millis(500));
        history(cx, &b, h0, "owners:match:found").len()
    };
    assert_eq!(found(cx), 2);
    // The work committed but the completion did not (as after a crash): the job is
    // `retrying` again and its message comes back.
    d1(
        cx,
        &format!("UPDATE jobs SET status = 'retrying' WHERE tenant_id = '{t}' AND id = '{id}'"),
    );
    let r = cx.api.post(
        "/api/dev/queues/pulse-matching",
        &admin,
        &json!({"messages": [{"tenant_id": t, "job_id": id}]}),
    );
    check::status(&r, 202);
    let j = wait_job(
        cx,
        &b,
        &id,
        Duration::from_secs(30),
        "completed again",
        |j| j["status"] == "completed" && j["attempts"] == 2,
    );
    assert_eq!(j["result"]["matches_new"], 0, "{j}");
    assert_eq!(found(cx), 2, "the retry announced old matches again");
    // A second run finds the same matches and announces none.
    let id2 = run(cx);
    wait_job(cx, &b, &id2, Duration::from_secs(30), "completed", |j| {
        j["status"] == "completed"
    });
    assert_eq!(found(cx), 2);
}

/// A burst of anonymous scans from many addresses makes one `card:scanned` (and one
/// `card:analytics:updated`) per window (`CARD_SCAN_EVENT_WINDOW_MS`, shortened for the
/// test server), carrying the count since the last one; every scan is still counted, and
/// the cron announces the trailing scans of a burst.
pub fn card_scans_are_coalesced(cx: &mut Ctx) {
    let t = fresh_tenant("scanflood");
    let b = cx.token(&t, "b1", "broker");
    let admin = cx.token(&t, "a1", "admin");
    let slug = format!("flood-{}", &t[t.len() - 8..]);
    let r = cx.api.post(
        "/api/cards",
        &b,
        &json!({"slug": slug, "display_name": "Flood Test"}),
    );
    check::status(&r, 201);
    let card = r.body["id"].as_str().unwrap().to_string();
    let h0 = head(cx, &admin);
    let mut n = 0u32;
    let mut scan = |cx: &Ctx| {
        n += 1;
        let ip = format!("203.0.113.{n}");
        let r = cx.api.raw_with_headers(
            "POST",
            &format!("/api/cards/{card}/scan"),
            &[("cf-connecting-ip", ip.as_str())],
        );
        check::status(&r, 202);
        assert_eq!(r.body["counted"], true, "{}", r.body);
    };
    let window = crate::fixtures::card_scan_window();
    let t0 = Instant::now();
    scan(cx);
    // The first scan's window opened before its answer came back.
    let opened = Instant::now();
    for _ in 1..20 {
        scan(cx);
    }
    assert!(
        t0.elapsed() < window - Duration::from_secs(1),
        "the burst was too slow"
    );
    let events = |cx: &Ctx| {
        std::thread::sleep(Duration::from_millis(500));
        (
            history(cx, &admin, h0, "card:scanned"),
            history(cx, &admin, h0, "card:analytics:updated"),
        )
    };
    let (s, a) = events(cx);
    assert_eq!(s.len(), 1, "one announcement per window");
    assert_eq!(
        (
            s[0]["data"]["count"].as_u64(),
            s[0]["data"]["scans"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["data"]["scans"], 1);
    let total = |cx: &Ctx| {
        cx.api.get("/api/cards", &b).body["data"][0]["scans"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(total(cx), 20, "every scan is counted");
    // After the window, the next scan announces everything since the last announcement.
    std::thread::sleep(window.saturating_sub(opened.elapsed()) + Duration::from_millis(300));
    scan(cx);
    let (s, a) = events(cx);
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(
        (
            s[1]["data"]["count"].as_u64(),
            s[1]["data"]["scans"].as_u64()
        ),
        (Some(20), Some(21))
    );
    assert_eq!(
        (
            a[1]["data"]["count"].as_u64(),
            a[1]["data"]["scans"].as_u64()
        ),
        (Some(20), Some(21))
    );
    // The trailing scans of a burst: announced by the cron once the window has passed.
    let t1 = Instant::now();
    for _ in 0..3 {
        scan(cx);
    }
    assert_eq!(cx.server.run_cron(), 200);
    assert_eq!(
        events(cx).0.len(),
        2,
        "the cron announced inside the window"
    );
    std::thread::sleep(window.saturating_sub(t1.elapsed()) + Duration::from_millis(300));
    assert_eq!(cx.server.run_cron(), 200);
    let (s, a) = events(cx);
    assert_eq!(s.len(), 3, "{s:?}");
    assert_eq!(
        (
            s[2]["data"]["count"].as_u64(),
            s[2]["data"]["scans"].as_u64()
        ),
        (Some(3), Some(24))
    );
    assert_eq!(a.len(), 3);
    assert_eq!(total(cx), 24);
}

/// The cron deletes old rows (delivered outbox rows after 7 days, expired refresh tokens,
/// dead letters after 30 days, login attempts after a day, raw card scans after 90 days)
/// and keeps fresh ones; a card's scan total survives the pruning of its raw scans.
pub fn cron_prunes_old_rows(cx: &mut Ctx) {
    let t = fresh_tenant("prune");
    let b = cx.token(&t, "b1", "broker");
    let r = cx.api.post(
        "/api/cards",
        &b,
        &json!({"slug": format!("prune-{}", &t[t.len() - 8..]), "display_name": "Old Card"}),
    );
    check::status(&r, 201);
    let card = r.body["id"].as_str().unwrap().to_string();
    let s = cx.api.raw_with_headers(
        "POST",
        &format!("/api/cards/{card}/scan"),
        &[("cf-connecting-ip", "198.51.100.77")],
    );
    check::status(&s, 202);
    let now = now_ms();
    let day = 24 * 3600 * 1000i64;
    let iso = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    d1(
        cx,
        &format!(
            "INSERT INTO outbox (id, tenant_id, type, channels, data, ts, created_ms, delivered_seq) VALUES
               ('evt_old_{t}', '{t}', 'system:old', '[]', '{{}}', '{old8}', {o8}, 1),
               ('evt_new_{t}', '{t}', 'system:new', '[]', '{{}}', '{fresh}', {now}, 2);
             INSERT INTO refresh_tokens (tenant_id, token_hash, family_id, user_id, created_ms, expires_ms) VALUES
               ('{t}', 'old', 'f', 'b1', {o8}, {past}), ('{t}', 'new', 'f', 'b1', {now}, {future});
             INSERT INTO dead_letters (id, queue, message_id, reason, body, created_at) VALUES
               ('dl_old_{t}', 'q', 'old_{t}', 'r', '{{}}', '{old31}'),
               ('dl_new_{t}', 'q', 'new_{t}', 'r', '{{}}', '{fresh}');
             INSERT INTO login_attempts (tenant_id, key, window_start_ms, failures) VALUES
               ('{t}', 'email:old', {o2}, 3), ('{t}', 'email:new', {now}, 1);
             INSERT INTO card_scans (tenant_id, card_id, visitor, source, at_ms) VALUES
               ('{t}', '{card}', 'v-old', 'qr', {o91});
             INSERT INTO notifications (tenant_id, id, user_id, event_id, type, channels, data, created_ms) VALUES
               ('{t}', 'ntf_old', 'b1', 'evt_o', 'system:old', '[]', '{{}}', {o91}),
               ('{t}', 'ntf_new', 'b1', 'evt_n', 'system:new', '[]', '{{}}', {now});
             INSERT INTO audit_log (tenant_id, id, at_ms, actor, action, entity, changes, event_id) VALUES
               ('{t}', 'aud_old', {o367}, 'b1', 'x:old', NULL, '{{}}', 'evt_o'),
               ('{t}', 'aud_new', {o364}, 'b1', 'x:new', NULL, '{{}}', 'evt_n');
             UPDATE cards SET scans = scans + 1 WHERE tenant_id = '{t}' AND id = '{card}';",
            old8 = iso(now - 8 * day),
            o8 = now - 8 * day,
            fresh = iso(now),
            past = now - 1000,
            future = now + day,
            old31 = iso(now - 31 * day),
            o2 = now - 2 * day,
            o91 = now - 91 * day,
            o364 = now - 364 * day,
            o367 = now - 367 * day,
        ),
    );
    let left = |cx: &Ctx| {
        counts(
            cx,
            [
                ("outbox", format!("id IN ('evt_old_{t}', 'evt_new_{t}')")),
                ("refresh_tokens", format!("tenant_id = '{t}'")),
                (
                    "dead_letters",
                    format!("id IN ('dl_old_{t}', 'dl_new_{t}')"),
                ),
                ("login_attempts", format!("tenant_id = '{t}'")),
                ("card_scans", format!("tenant_id = '{t}'")),
                ("notifications", format!("tenant_id = '{t}'")),
                (
                    "audit_log",
                    format!("tenant_id = '{t}' AND id IN ('aud_old', 'aud_new')"),
                ),
            ],
        )
    };
    assert_eq!(left(cx), [2, 2, 2, 2, 2, 2, 2]);
    assert_eq!(cx.server.run_cron(), 200);
    assert_eq!(
        left(cx),
        [1, 1, 1, 1, 1, 1, 1],
        "old rows pruned, fresh rows kept"
    );
    let fresh = d1(
        cx,
        &format!(
            "SELECT (SELECT id FROM outbox WHERE id IN ('evt_old_{t}', 'evt_new_{t}')) AS e,
                    (SELECT token_hash FROM refresh_tokens WHERE tenant_id = '{t}') AS r,
                    (SELECT key FROM login_attempts WHERE tenant_id = '{t}') AS k,
                    (SELECT visitor FROM card_scans WHERE tenant_id = '{t}') AS v,
                    (SELECT id FROM notifications WHERE tenant_id = '{t}') AS n,
                    (SELECT id FROM audit_log WHERE tenant_id = '{t}' AND id IN ('aud_old', 'aud_new')) AS a"
        ),
    );
    assert_eq!(fresh[0]["e"], format!("evt_new_{t}"));
    assert_eq!(fresh[0]["r"], "new");
    assert_eq!(fresh[0]["k"], "email:new");
    assert_ne!(fresh[0]["v"], "v-old");
    assert_eq!(fresh[0]["n"], "ntf_new", "notifications kept 90 days");
    assert_eq!(fresh[0]["a"], "aud_new", "audit rows kept a year");
    // The card's total still counts the pruned scan.
    assert_eq!(cx.api.get("/api/cards", &b).body["data"][0]["scans"], 2);
}
