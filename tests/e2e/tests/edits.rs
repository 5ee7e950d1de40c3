//! Edits of live records: partial refunds (never past the payment, even concurrently),
//! commissions paid, appointments read, rescheduled (the reminder follows the new start)
//! and cancelled (no reminder), matches accepted or rejected, cards edited and deleted;
//! roles, validation, other tenants' ids and the events with their changes.

use crate::assertions as check;
use crate::client::{Api, Resp};
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SALES: &str = "/api/finance/sales";
const PAYMENTS: &str = "/api/finance/payments";
const COMMISSIONS: &str = "/api/finance/commissions";
const APPOINTMENTS: &str = "/api/calendar/appointments";

type Ws = crate::client::Ws;

fn public(cx: &Ctx, path: &str) -> Resp {
    cx.api.raw("GET", path, None, None, None)
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

fn customer(cx: &Ctx, tok: &str) -> String {
    let r = cx
        .api
        .post("/api/crm/customers", tok, &json!({"name": "Buyer"}));
    check::status(&r, 201);
    id_of(&r.body)
}

/// A sale of `total` with one payment of `paid`: (sale id, payment id).
fn paid_sale(cx: &Ctx, tok: &str, total: i64, paid: i64) -> (String, String) {
    let c = customer(cx, tok);
    let s = cx.api.post(
        SALES,
        tok,
        &json!({"customer_id": c, "total_minor": total, "currency": "EUR"}),
    );
    check::status(&s, 201);
    let sale = id_of(&s.body);
    let p = cx.api.post(
        PAYMENTS,
        tok,
        &json!({"sale_id": sale, "amount_minor": paid, "currency": "EUR", "method": "card"}),
    );
    check::status(&p, 201);
    (sale, id_of(&p.body))
}

/// Waits for an event of `kind` whose data `id` (or `field`) is `want`.
fn wait_event(ws: &mut Ws, kind: &str, field: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (e, _) = ws.wait_for(kind, Duration::from_secs(10));
        if e["data"][field] == want {
            return e;
        }
        assert!(Instant::now() < deadline, "no {kind} for {want}");
    }
}

/// Partial refunds up to the payment, then 409; the sale's balance and status follow;
/// validation, roles and other tenants' ids; the event to the broker with the balances.
pub fn refunds_are_partial_and_bounded(cx: &mut Ctx) {
    let t = fresh_tenant("refund");
    let b1 = cx.token(&t, "b1", "broker");
    let b2 = cx.token(&t, "b2", "broker");
    let viewer = cx.token(&t, "v1", "viewer");
    let admin = cx.token(&t, "a1", "admin");
    let (sale, pay) = paid_sale(cx, &b1, 10_000, 10_000);
    assert_eq!(
        cx.api.get(&format!("{SALES}/{sale}"), &b1).body["status"],
        "paid"
    );
    let mut ws = Ws::connect(&cx.server.base, &b1);
    ws.subscribe(&["user:b1"], None);
    let url = format!("{PAYMENTS}/{pay}/refund");
    // Validation: 422 with the fields named, nothing written.
    for bad in [
        json!({"amount_minor": 0, "reason": "x"}),
        json!({"amount_minor": 10, "reason": ""}),
        json!({"amount_minor": 10}),
        json!({"amount_minor": 10, "reason": "x", "extra": 1}),
    ] {
        let r = cx.api.post(&url, &b1, &bad);
        check::error(&r, 422, "validation_failed");
        assert!(
            r.body["error"]["details"]["fields"].is_object(),
            "{}",
            r.body
        );
    }
    // Roles: viewers and another broker may not refund; another tenant sees no payment.
    check::error(
        &cx.api
            .post(&url, &viewer, &json!({"amount_minor": 1, "reason": "x"})),
        403,
        "forbidden",
    );
    check::error(
        &cx.api
            .post(&url, &b2, &json!({"amount_minor": 1, "reason": "x"})),
        403,
        "forbidden",
    );
    let other = cx.token(&fresh_tenant("refund-other"), "a9", "admin");
    check::error(
        &cx.api
            .post(&url, &other, &json!({"amount_minor": 1, "reason": "x"})),
        404,
        "not_found",
    );
    check::error(
        &cx.api.post(
            &format!("{PAYMENTS}/pay_nope/refund"),
            &b1,
            &json!({"amount_minor": 1, "reason": "x"}),
        ),
        404,
        "not_found",
    );
    // A partial refund: the sale is open again with the refunded amount due.
    let r1 = cx.api.post(
        &url,
        &b1,
        &json!({"amount_minor": 3_000, "reason": "damaged kitchen"}),
    );
    check::status(&r1, 201);
    assert_eq!(r1.body["payment_id"], pay.as_str());
    assert_eq!(r1.body["amount_minor"], 3_000);
    assert_eq!(r1.body["reason"], "damaged kitchen");
    assert_eq!(r1.body["payment_refunded_minor"], 3_000);
    assert_eq!(r1.body["sale_balance_minor"], 3_000);
    assert_eq!(r1.body["sale_status"], "open");
    let e = wait_event(
        &mut ws,
        "finance:payment:refunded",
        "id",
        r1.body["id"].as_str().unwrap(),
    );
    check::event(&e, "finance:payment:refunded");
    assert_eq!(e["data"]["sale_balance_minor"], 3_000);
    assert_eq!(e["data"]["payment_refunded_minor"], 3_000);
    let s = cx.api.get(&format!("{SALES}/{sale}"), &b1);
    assert_eq!(s.body["paid_minor"], 7_000);
    assert_eq!(s.body["balance_minor"], 3_000);
    assert_eq!(s.body["status"], "open");
    // More than is left: 409, nothing changes.
    check::error(
        &cx.api
            .post(&url, &admin, &json!({"amount_minor": 7_001, "reason": "x"})),
        409,
        "conflict",
    );
    assert_eq!(
        cx.api.get(&format!("{SALES}/{sale}"), &b1).body["paid_minor"],
        7_000
    );
    // The rest, by an admin: nothing left afterwards.
    let r2 = cx.api.post(
        &url,
        &admin,
        &json!({"amount_minor": 7_000, "reason": "deal cancelled"}),
    );
    check::status(&r2, 201);
    assert_eq!(r2.body["sale_balance_minor"], 10_000);
    check::error(
        &cx.api
            .post(&url, &admin, &json!({"amount_minor": 1, "reason": "x"})),
        409,
        "conflict",
    );
    let list = cx.api.get(&format!("{PAYMENTS}?sale_id={sale}"), &b1);
    assert_eq!(
        list.body["data"][0]["refunded_minor"], 10_000,
        "{}",
        list.body
    );
    // The sale can be paid again up to its total.
    let again = cx.api.post(
        PAYMENTS,
        &b1,
        &json!({"sale_id": sale, "amount_minor": 10_000, "currency": "EUR", "method": "cash"}),
    );
    check::status(&again, 201);
    assert_eq!(again.body["sale_status"], "paid");
    ws.close();
}

/// Concurrent refunds of one payment: exactly as many succeed as the payment covers, the
/// rest are 409, and the payment, the sale and the events agree.
pub fn concurrent_refunds_never_exceed_the_payment(cx: &mut Ctx) {
    let t = fresh_tenant("refund-conc");
    let b = cx.token(&t, "b1", "broker");
    let admin = cx.token(&t, "a1", "admin");
    let (sale, pay) = paid_sale(cx, &b, 50_000, 10_000);
    let url = format!("{PAYMENTS}/{pay}/refund");
    let n = 14;
    let api: &Api = &cx.api;
    let resps: Vec<Resp> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..n)
            .map(|k| {
                let (url, b) = (url.clone(), b.clone());
                s.spawn(move || {
                    api.post(
                        &url,
                        &b,
                        &json!({"amount_minor": 1_000, "reason": format!("r{k}")}),
                    )
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok: Vec<&Resp> = resps.iter().filter(|r| r.status == 201).collect();
    for r in &resps {
        assert!(
            r.status == 201 || r.status == 409,
            "{} {}",
            r.status,
            r.body
        );
    }
    assert_eq!(ok.len(), 10, "exactly the payment's worth succeeds");
    // Each success reports its own point in the sequence: 1000, 2000, … 10000.
    let mut refunded: Vec<i64> = ok
        .iter()
        .map(|r| r.body["payment_refunded_minor"].as_i64().unwrap())
        .collect();
    refunded.sort();
    assert_eq!(refunded, (1..=10).map(|k| k * 1_000).collect::<Vec<_>>());
    let s = cx.api.get(&format!("{SALES}/{sale}"), &b);
    assert_eq!(s.body["paid_minor"], 0);
    assert_eq!(s.body["balance_minor"], 50_000);
    let p = cx.api.get(&format!("{PAYMENTS}?sale_id={sale}"), &b);
    assert_eq!(p.body["data"][0]["refunded_minor"], 10_000);
    // One event per refund, no more.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = cx.api.get(
            "/api/realtime/events?since=0&limit=1000&types=finance:payment:refunded",
            &admin,
        );
        let got = r.body["data"].as_array().map(Vec::len).unwrap_or(0);
        if got >= 10 || Instant::now() > deadline {
            assert_eq!(got, 10, "{}", r.body);
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Commissions: admins pay approved ones only (409 otherwise, once), with the event.
pub fn commissions_are_paid_once_approved(cx: &mut Ctx) {
    let t = fresh_tenant("compay");
    let b = cx.token(&t, "b1", "broker");
    let admin = cx.token(&t, "a1", "admin");
    let (sale, _) = paid_sale(cx, &b, 100_000, 1_000);
    let c = cx.api.get(&format!("{COMMISSIONS}?sale_id={sale}"), &admin);
    let cid = id_of(&c.body["data"][0]);
    let pay = format!("{COMMISSIONS}/{cid}/pay");
    check::error(&cx.api.put(&pay, &b, &json!({})), 403, "forbidden");
    check::error(&cx.api.put(&pay, &admin, &json!({})), 409, "conflict");
    let other = cx.token(&fresh_tenant("compay-other"), "a9", "admin");
    check::error(&cx.api.put(&pay, &other, &json!({})), 404, "not_found");
    check::status(
        &cx.api
            .put(&format!("{COMMISSIONS}/{cid}/approve"), &admin, &json!({})),
        200,
    );
    let mut ws = Ws::connect(&cx.server.base, &b);
    ws.subscribe(&["user:b1"], None);
    let r = cx.api.put(&pay, &admin, &json!({}));
    check::status(&r, 200);
    assert_eq!(r.body["status"], "paid");
    assert_eq!(r.body["paid_by"], "a1");
    let e = wait_event(&mut ws, "finance:commission:paid", "id", &cid);
    assert_eq!(e["data"]["status"], "paid");
    check::error(&cx.api.put(&pay, &admin, &json!({})), 409, "conflict");
    check::error(
        &cx.api
            .put(&format!("{COMMISSIONS}/{cid}/approve"), &admin, &json!({})),
        409,
        "conflict",
    );
    let l = cx.api.get(&format!("{COMMISSIONS}?status=paid"), &b);
    assert_eq!(l.body["data"].as_array().unwrap().len(), 1);
    ws.close();
}

fn appointment(cx: &Ctx, tok: &str, minutes: i64, title: &str) -> Value {
    let start = chrono::Utc::now() + chrono::Duration::minutes(minutes);
    let end = start + chrono::Duration::minutes(30);
    let r = cx.api.post(
        APPOINTMENTS,
        tok,
        &json!({"title": title, "starts_at": start.to_rfc3339(), "ends_at": end.to_rfc3339()}),
    );
    check::status(&r, 201);
    r.body
}

fn reminders(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f["type"] == "calendar:reminder")
        .map(|f| f["data"]["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Appointments: read one; a reschedule emits its changes and moves the reminder to the
/// new start (none for the old one); a cancelled appointment gets no reminder; roles,
/// validation, 409s and other tenants' ids.
pub fn appointments_reschedule_and_cancel(cx: &mut Ctx) {
    let t = fresh_tenant("apt-edit");
    let b = cx.token(&t, "b1", "broker");
    let viewer = cx.token(&t, "v1", "viewer");
    let mut ws = Ws::connect(&cx.server.base, &b);
    ws.subscribe(&["user:b1"], None);
    // Both start inside the 30-minute reminder window.
    let moved = appointment(cx, &b, 10, "Viewing A");
    let cancelled = appointment(cx, &b, 12, "Viewing B");
    let (mid, cid) = (id_of(&moved), id_of(&cancelled));
    let got = cx.api.get(&format!("{APPOINTMENTS}/{mid}"), &viewer);
    check::status(&got, 200);
    assert_eq!(got.body["title"], "Viewing A");
    let other = cx.token(&fresh_tenant("apt-other"), "a9", "admin");
    check::error(
        &cx.api.get(&format!("{APPOINTMENTS}/{mid}"), &other),
        404,
        "not_found",
    );
    check::error(
        &cx.api.put(
            &format!("{APPOINTMENTS}/{mid}"),
            &other,
            &json!({"title": "x"}),
        ),
        404,
        "not_found",
    );
    check::error(
        &cx.api
            .put(&format!("{APPOINTMENTS}/{mid}/cancel"), &other, &json!({})),
        404,
        "not_found",
    );
    check::error(
        &cx.api.put(
            &format!("{APPOINTMENTS}/{mid}"),
            &viewer,
            &json!({"title": "x"}),
        ),
        403,
        "forbidden",
    );
    check::error(
        &cx.api
            .put(&format!("{APPOINTMENTS}/{mid}/cancel"), &viewer, &json!({})),
        403,
        "forbidden",
    );
    // Validation: an end before the (stored) start, an empty patch, unknown fields.
    let past_end = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339();
    for bad in [
        json!({"ends_at": past_end}),
        json!({}),
        json!({"status": "done"}),
        json!({"title": null}),
    ] {
        check::error(
            &cx.api.put(&format!("{APPOINTMENTS}/{mid}"), &b, &bad),
            422,
            "validation_failed",
        );
    }
    // Moved three hours out: the rescheduled event carries the change.
    let later = chrono::Utc::now() + chrono::Duration::hours(3);
    let r = cx.api.put(
        &format!("{APPOINTMENTS}/{mid}"),
        &b,
        &json!({"starts_at": later.to_rfc3339(), "ends_at": (later + chrono::Duration::minutes(30)).to_rfc3339()}),
    );
    check::status(&r, 200);
    let e = wait_event(&mut ws, "calendar:appointment:rescheduled", "id", &mid);
    assert_eq!(
        e["data"]["changes"]["starts_at"]["from"],
        moved["starts_at"]
    );
    assert_eq!(e["data"]["changes"]["starts_at"]["to"], r.body["starts_at"]);
    assert!(e["data"]["changes"].get("title").is_none(), "{e}");
    // A plain edit is an update with its changes.
    check::status(
        &cx.api.put(
            &format!("{APPOINTMENTS}/{mid}"),
            &b,
            &json!({"location": "Office"}),
        ),
        200,
    );
    let u = wait_event(&mut ws, "calendar:appointment:updated", "id", &mid);
    assert_eq!(
        u["data"]["changes"],
        json!({"location": {"from": null, "to": "Office"}})
    );
    // Cancelled: the event, then 409 on any further change.
    let c = cx.api.put(
        &format!("{APPOINTMENTS}/{cid}/cancel"),
        &b,
        &json!({"reason": "client ill"}),
    );
    check::status(&c, 200);
    assert_eq!(c.body["status"], "cancelled");
    wait_event(&mut ws, "calendar:appointment:cancelled", "id", &cid);
    check::error(
        &cx.api
            .put(&format!("{APPOINTMENTS}/{cid}/cancel"), &b, &json!({})),
        409,
        "conflict",
    );
    check::error(
        &cx.api
            .put(&format!("{APPOINTMENTS}/{cid}"), &b, &json!({"title": "x"})),
        409,
        "conflict",
    );
    // The cron: no reminder for the moved one (its new start is far) nor the cancelled one.
    assert_eq!(cx.server.run_cron(), 200);
    let frames = ws.drain(Duration::from_millis(1500));
    assert!(reminders(&frames).is_empty(), "{frames:?}");
    // Moved back into the window: the reminder fires for the new start, once.
    let soon = chrono::Utc::now() + chrono::Duration::minutes(20);
    let r = cx.api.put(
        &format!("{APPOINTMENTS}/{mid}"),
        &b,
        &json!({"starts_at": soon.to_rfc3339(), "ends_at": (soon + chrono::Duration::minutes(30)).to_rfc3339()}),
    );
    check::status(&r, 200);
    assert_eq!(cx.server.run_cron(), 200);
    let rem = wait_event(&mut ws, "calendar:reminder", "id", &mid);
    assert_eq!(rem["data"]["starts_at"], r.body["starts_at"]);
    assert_eq!(cx.server.run_cron(), 200);
    let frames = ws.drain(Duration::from_millis(1000));
    assert!(reminders(&frames).is_empty(), "{frames:?}");
    // Reminded, then rescheduled within the window: the reminder is re-armed.
    let sooner = chrono::Utc::now() + chrono::Duration::minutes(25);
    let r = cx.api.put(
        &format!("{APPOINTMENTS}/{mid}"),
        &b,
        &json!({"starts_at": sooner.to_rfc3339(), "ends_at": (sooner + chrono::Duration::minutes(30)).to_rfc3339()}),
    );
    check::status(&r, 200);
    assert_eq!(cx.server.run_cron(), 200);
    let rem = wait_event(&mut ws, "calendar:reminder", "id", &mid);
    assert_eq!(rem["data"]["starts_at"], r.body["starts_at"]);
    ws.close();
}

/// Matches: accepted or rejected with their events, a repeated decision is a 409, roles,
/// validation and other tenants' ids.
pub fn matches_are_accepted_or_rejected(cx: &mut Ctx) {
    let t = fresh_tenant("match-edit");
    let b = cx.token(&t, "b1", "broker");
    let viewer = cx.token(&t, "v1", "viewer");
    let s = cx.api.post(
        "/api/seekers",
        &b,
        &json!({"name": "Nora", "budget_max_minor": 30_000_000, "currency": "EUR", "cities": ["Valencia"], "kinds": ["apartment"], "bedrooms_min": 2}),
    );
    check::status(&s, 201);
    let p = cx.api.post(
        "/api/properties",
        &b,
        &json!({"title": "Flat A", "kind": "apartment", "price_minor": 25_000_000, "currency": "EUR", "city": "Valencia", "bedrooms": 2}),
    );
    check::status(&p, 201);
    let mut ws = Ws::connect(&cx.server.base, &b);
    ws.subscribe(&["tenant"], None);
    check::status(&cx.api.post("/api/matching/run", &b, &json!({})), 202);
    let (found, _) = ws.wait_for("owners:match:found", Duration::from_secs(30));
    let mid = found["data"]["id"]
        .as_str()
        .expect("the match has an id")
        .to_string();
    let list = cx.api.get("/api/matches", &b);
    assert_eq!(list.body["data"][0]["id"], mid.as_str());
    assert_eq!(list.body["data"][0]["status"], "new");
    let url = format!("/api/matches/{mid}");
    for bad in [
        json!({}),
        json!({"status": "new"}),
        json!({"status": "maybe"}),
        json!({"status": "accepted", "x": 1}),
    ] {
        check::error(&cx.api.put(&url, &b, &bad), 422, "validation_failed");
    }
    check::error(
        &cx.api.put(&url, &viewer, &json!({"status": "accepted"})),
        403,
        "forbidden",
    );
    let other = cx.token(&fresh_tenant("match-other"), "a9", "admin");
    check::error(
        &cx.api.put(&url, &other, &json!({"status": "accepted"})),
        404,
        "not_found",
    );
    let r = cx.api.put(&url, &b, &json!({"status": "accepted"}));
    check::status(&r, 200);
    assert_eq!(r.body["status"], "accepted");
    assert_eq!(r.body["decided_by"], "b1");
    let e = wait_event(&mut ws, "owners:match:accepted", "id", &mid);
    assert_eq!(e["data"]["property_id"], p.body["id"]);
    check::error(
        &cx.api.put(&url, &b, &json!({"status": "accepted"})),
        409,
        "conflict",
    );
    check::status(&cx.api.put(&url, &b, &json!({"status": "rejected"})), 200);
    wait_event(&mut ws, "owners:match:rejected", "id", &mid);
    assert_eq!(
        cx.api.get("/api/matches", &b).body["data"][0]["status"],
        "rejected"
    );
    ws.close();
}

/// Cards: the owner or an admin edits (changes in `card:updated`, slug uniqueness across
/// tenants) and deletes (`card:deleted`, the public page gone); another broker 403.
pub fn cards_are_edited_and_deleted(cx: &mut Ctx) {
    let t = fresh_tenant("card-edit");
    let b1 = cx.token(&t, "b1", "broker");
    let b2 = cx.token(&t, "b2", "broker");
    let admin = cx.token(&t, "a1", "admin");
    let suffix = &t[t.len() - 8..];
    let slug = format!("jane-{suffix}");
    let c = cx.api.post(
        "/api/cards",
        &b1,
        &json!({"slug": slug, "display_name": "Jane", "title": "Broker"}),
    );
    check::status(&c, 201);
    let id = id_of(&c.body);
    let taken = format!("taken-{suffix}");
    check::status(
        &cx.api.post(
            "/api/cards",
            &b2,
            &json!({"slug": taken, "display_name": "Tom"}),
        ),
        201,
    );
    let url = format!("/api/cards/{id}");
    let mut ws = Ws::connect(&cx.server.base, &b1);
    ws.subscribe(&["user:b1"], None);
    for bad in [
        json!({}),
        json!({"slug": "No Slug"}),
        json!({"display_name": ""}),
        json!({"scans": 5}),
    ] {
        check::error(&cx.api.put(&url, &b1, &bad), 422, "validation_failed");
    }
    check::error(
        &cx.api.put(&url, &b2, &json!({"display_name": "Hijack"})),
        403,
        "forbidden",
    );
    check::error(&cx.api.delete(&url, &b2), 403, "forbidden");
    let other = cx.token(&fresh_tenant("card-other"), "a9", "admin");
    check::error(
        &cx.api.put(&url, &other, &json!({"display_name": "x"})),
        404,
        "not_found",
    );
    check::error(&cx.api.delete(&url, &other), 404, "not_found");
    check::error(
        &cx.api.put(&url, &b1, &json!({"slug": taken})),
        409,
        "conflict",
    );
    let r = cx
        .api
        .put(&url, &b1, &json!({"display_name": "Jane Doe", "title": ""}));
    check::status(&r, 200);
    assert_eq!(r.body["display_name"], "Jane Doe");
    assert!(r.body["title"].is_null());
    let e = wait_event(&mut ws, "card:updated", "id", &id);
    assert_eq!(
        e["data"]["changes"],
        json!({"display_name": {"from": "Jane", "to": "Jane Doe"}, "title": {"from": "Broker", "to": null}})
    );
    let new_slug = format!("jd-{suffix}");
    check::status(&cx.api.put(&url, &admin, &json!({"slug": new_slug})), 200);
    check::status(&public(cx, &format!("/api/cards/public/{new_slug}")), 200);
    check::error(
        &public(cx, &format!("/api/cards/public/{slug}")),
        404,
        "not_found",
    );
    check::status(&cx.api.delete(&url, &b1), 204);
    wait_event(&mut ws, "card:deleted", "id", &id);
    check::error(
        &public(cx, &format!("/api/cards/public/{new_slug}")),
        404,
        "not_found",
    );
    check::error(&cx.api.delete(&url, &b1), 404, "not_found");
    ws.close();
}
