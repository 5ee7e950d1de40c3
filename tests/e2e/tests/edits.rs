//! The edits a live brokerage needs: appointments rescheduled, edited and cancelled (with
//! their reminder re-armed or ended), through the real Worker and the cron.

use crate::assertions as check;
use crate::client::Ws;
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::json;
use std::time::Duration;

fn appointment(cx: &Ctx, tok: &str, title: &str, in_minutes: i64) -> (String, serde_json::Value) {
    let start = chrono::Utc::now() + chrono::Duration::minutes(in_minutes);
    let end = start + chrono::Duration::minutes(45);
    let r = cx.api.post(
        "/api/calendar/appointments",
        tok,
        &json!({"title": title, "starts_at": start.to_rfc3339(), "ends_at": end.to_rfc3339(), "location": "Hauptstr. 5"}),
    );
    check::status(&r, 201);
    (r.body["id"].as_str().unwrap().to_string(), r.body)
}

/// Reminders among the next frames (after the cron ran), by appointment id.
fn reminders(ws: &mut Ws) -> Vec<String> {
    ws.drain(Duration::from_millis(700))
        .into_iter()
        .filter(|f| f["type"] == "calendar:reminder")
        .map(|f| f["data"]["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

pub fn appointments_reschedule_edit_and_cancel(cx: &mut Ctx) {
    let t = fresh_tenant("apt-edit");
    let b = cx.token(&t, "b1", "broker");
    let v = cx.token(&t, "v1", "viewer");
    let stranger = cx.token(&fresh_tenant("apt-other"), "a1", "admin");
    let b2 = cx.token(&t, "b2", "broker");
    let mut ws = Ws::connect(&cx.server.base, &b);
    ws.subscribe(&["tenant", "user:b1"], None);
    let mut ws2 = Ws::connect(&cx.server.base, &b2);
    ws2.subscribe(&["user:b2"], None);
    let (id, created) = appointment(cx, &b, "Viewing", 10);
    check::event(&ws.next_event(), "calendar:appointment:created");
    let path = format!("/api/calendar/appointments/{id}");

    // Read: any member; another tenant's id is a 404.
    let got = cx.api.get(&path, &v);
    check::status(&got, 200);
    assert_eq!(got.body, created);
    check::error(&cx.api.get(&path, &stranger), 404, "not_found");
    check::error(
        &cx.api.get("/api/calendar/appointments/apt_nope", &b),
        404,
        "not_found",
    );

    // The reminder for the first start goes out once.
    assert_eq!(cx.server.run_cron(), 200);
    assert_eq!(reminders(&mut ws), vec![id.clone()]);

    // Refused edits change nothing.
    check::error(
        &cx.api.put(&path, &v, &json!({"title": "x"})),
        403,
        "forbidden",
    );
    check::error(
        &cx.api.put(&path, &stranger, &json!({"title": "x"})),
        404,
        "not_found",
    );
    let early = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let r = cx.api.put(&path, &b, &json!({"ends_at": early}));
    check::error(&r, 422, "validation_failed");
    assert!(
        r.body["error"]["details"]["fields"]["ends_at"].is_string(),
        "{}",
        r.body
    );
    check::error(&cx.api.put(&path, &b, &json!({})), 422, "validation_failed");
    check::error(
        &cx.api.put(&path, &b, &json!({"title": null})),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.put(&path, &b, &json!({"status": "completed"})),
        422,
        "validation_failed",
    );
    assert_eq!(cx.api.get(&path, &b).body, created);

    // Rescheduled: the event names what moved, and the reminder is due again.
    let start = chrono::Utc::now() + chrono::Duration::minutes(20);
    let end = start + chrono::Duration::minutes(30);
    let r = cx.api.put(
        &path,
        &b,
        &json!({"starts_at": start.to_rfc3339(), "ends_at": end.to_rfc3339(), "assigned_to": "b2"}),
    );
    check::status(&r, 200);
    let moved = r.body.clone();
    assert_ne!(moved["starts_at"], created["starts_at"]);
    assert_eq!(moved["assigned_to"], "b2");
    let ev = ws.next_event();
    check::event(&ev, "calendar:appointment:rescheduled");
    let changes = &ev["data"]["changes"];
    assert_eq!(changes["starts_at"]["from"], created["starts_at"]);
    assert_eq!(changes["starts_at"]["to"], moved["starts_at"]);
    assert_eq!(changes["assigned_to"], json!({"from": "b1", "to": "b2"}));
    assert!(changes.get("title").is_none(), "{changes}");
    // Both the old and the new assignee's channels carry it.
    let chans = ev["channels"].as_array().unwrap();
    assert!(
        chans.contains(&json!("user:b1")) && chans.contains(&json!("user:b2")),
        "{ev}"
    );
    check::event(&ws2.next_event(), "calendar:appointment:rescheduled");
    // The reminder is due again, for the new start, to the new assignee.
    assert_eq!(cx.server.run_cron(), 200);
    let again = ws2.wait_for("calendar:reminder", Duration::from_secs(5)).0;
    assert_eq!(again["data"]["id"], id.as_str());
    assert_eq!(again["data"]["starts_at"], moved["starts_at"]);

    // An edit that does not move it: `updated`, with only the title in `changes`.
    let r = cx.api.put(
        &path,
        &b,
        &json!({"title": "Second viewing", "location": "Hauptstr. 5"}),
    );
    check::status(&r, 200);
    let ev = ws.next_event();
    check::event(&ev, "calendar:appointment:updated");
    assert_eq!(
        ev["data"]["changes"],
        json!({"title": {"from": "Viewing", "to": "Second viewing"}})
    );
    // Changing nothing answers the appointment and emits nothing.
    let same = cx.api.put(&path, &b, &json!({"title": "Second viewing"}));
    check::status(&same, 200);
    assert_eq!(same.body, r.body);
    assert!(ws
        .drain(Duration::from_millis(500))
        .iter()
        .all(|f| f["op"] != "event"));

    // Cancelled: once; afterwards it can be neither edited, cancelled nor completed.
    check::error(
        &cx.api.put(&format!("{path}/cancel"), &v, &json!({})),
        403,
        "forbidden",
    );
    check::error(
        &cx.api.put(
            &format!("{path}/cancel"),
            &b,
            &json!({"reason": "x".repeat(501)}),
        ),
        422,
        "validation_failed",
    );
    let r = cx.api.put(
        &format!("{path}/cancel"),
        &b,
        &json!({"reason": "Client ill"}),
    );
    check::status(&r, 200);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(r.body["outcome"], "Client ill");
    let ev = ws.next_event();
    check::event(&ev, "calendar:appointment:cancelled");
    assert_eq!(ev["data"]["status"], "cancelled");
    for (p, body) in [
        (format!("{path}/cancel"), json!({})),
        (path.clone(), json!({"title": "Third"})),
        (format!("{path}/complete"), json!({})),
    ] {
        check::error(&cx.api.put(&p, &b, &body), 409, "conflict");
    }
    check::error(
        &cx.api.put(&format!("{path}/cancel"), &stranger, &json!({})),
        404,
        "not_found",
    );

    // A cancelled appointment inside the reminder window gets no reminder.
    let (second, _) = appointment(cx, &b, "Call back", 15);
    check::event(&ws.next_event(), "calendar:appointment:created");
    let r = cx.api.put(
        &format!("/api/calendar/appointments/{second}/cancel"),
        &b,
        &json!({}),
    );
    check::status(&r, 200);
    assert_eq!(r.body["outcome"], serde_json::Value::Null);
    check::event(&ws.next_event(), "calendar:appointment:cancelled");
    assert_eq!(cx.server.run_cron(), 200);
    assert!(!reminders(&mut ws).contains(&second));
}

/// Refunds: admin only, partial then full, never more than the payment even when refunds
/// race; the sale's balance follows and its event carries the new totals.
pub fn payments_refund_and_commissions_pay(cx: &mut Ctx) {
    let t = fresh_tenant("refund");
    let b1 = cx.token(&t, "b1", "broker");
    let admin = cx.token(&t, "a1", "admin");
    let viewer = cx.token(&t, "v1", "viewer");
    let stranger = cx.token(&fresh_tenant("refund-other"), "a1", "admin");
    let c = cx
        .api
        .post("/api/crm/customers", &b1, &json!({"name": "Buyer"}));
    check::status(&c, 201);
    let s = cx.api.post(
        "/api/finance/sales",
        &b1,
        &json!({"customer_id": c.body["id"], "total_minor": 100_000, "currency": "EUR"}),
    );
    check::status(&s, 201);
    let sale_id = s.body["id"].as_str().unwrap().to_string();
    let p = cx.api.post(
        "/api/finance/payments",
        &b1,
        &json!({"sale_id": sale_id, "amount_minor": 100_000, "currency": "EUR", "method": "transfer"}),
    );
    check::status(&p, 201);
    assert_eq!(p.body["sale_status"], "paid");
    assert_eq!(p.body["refunded_minor"], 0);
    let refund = format!(
        "/api/finance/payments/{}/refund",
        p.body["id"].as_str().unwrap()
    );
    let mut ws = Ws::connect(&cx.server.base, &b1);
    ws.subscribe(&["user:b1"], None);

    // Refused: roles, another tenant, bad bodies, more than the payment.
    let body = json!({"amount_minor": 30_000, "reason": "Deposit returned"});
    check::error(&cx.api.post(&refund, &b1, &body), 403, "forbidden");
    check::error(&cx.api.post(&refund, &viewer, &body), 403, "forbidden");
    check::error(&cx.api.post(&refund, &stranger, &body), 404, "not_found");
    check::error(
        &cx.api
            .post("/api/finance/payments/pay_nope/refund", &admin, &body),
        404,
        "not_found",
    );
    for bad in [
        json!({"amount_minor": 0, "reason": "x"}),
        json!({"amount_minor": 10}),
        json!({"amount_minor": "10", "reason": "x"}),
        json!({"amount_minor": 10, "reason": "  "}),
    ] {
        check::error(
            &cx.api.post(&refund, &admin, &bad),
            422,
            "validation_failed",
        );
    }
    let r = cx.api.post(
        &refund,
        &admin,
        &json!({"amount_minor": 100_001, "reason": "x"}),
    );
    check::error(&r, 409, "conflict");
    assert_eq!(r.body["error"]["details"]["refundable_minor"], 100_000);

    // A partial refund: the sale is open again with the refund as its balance.
    let r = cx.api.post(&refund, &admin, &body);
    check::status(&r, 201);
    assert_eq!(r.body["amount_minor"], 30_000);
    assert_eq!(r.body["payment_refunded_minor"], 30_000);
    assert_eq!(r.body["sale_balance_minor"], 30_000);
    assert_eq!(r.body["sale_status"], "open");
    assert_eq!(r.body["reason"], "Deposit returned");
    let (ev, _) = ws.wait_for("finance:payment:refunded", Duration::from_secs(5));
    check::event(&ev, "finance:payment:refunded");
    assert_eq!(ev["data"]["sale_balance_minor"], 30_000);
    let sale = cx.api.get(&format!("/api/finance/sales/{sale_id}"), &admin);
    assert_eq!(sale.body["paid_minor"], 70_000);
    assert_eq!(sale.body["balance_minor"], 30_000);
    let pays = cx
        .api
        .get(&format!("/api/finance/payments?sale_id={sale_id}"), &admin);
    assert_eq!(pays.body["data"][0]["refunded_minor"], 30_000);

    // Racing refunds of 40,000 each against the 70,000 left: exactly one wins.
    let answers: Vec<u16> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let (api, refund, admin) = (&cx.api, &refund, &admin);
                sc.spawn(move || {
                    api.post(
                        refund,
                        admin,
                        &json!({"amount_minor": 40_000, "reason": "race"}),
                    )
                    .status
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        answers.iter().filter(|s| **s == 201).count(),
        1,
        "{answers:?}"
    );
    assert_eq!(
        answers.iter().filter(|s| **s == 409).count(),
        2,
        "{answers:?}"
    );
    let pays = cx
        .api
        .get(&format!("/api/finance/payments?sale_id={sale_id}"), &admin);
    assert_eq!(pays.body["data"][0]["refunded_minor"], 70_000);
    // The rest, then nothing more.
    let r = cx.api.post(
        &refund,
        &admin,
        &json!({"amount_minor": 30_000, "reason": "Cancelled"}),
    );
    check::status(&r, 201);
    assert_eq!(r.body["payment_refunded_minor"], 100_000);
    assert_eq!(r.body["sale_balance_minor"], 100_000);
    let r = cx
        .api
        .post(&refund, &admin, &json!({"amount_minor": 1, "reason": "x"}));
    check::error(&r, 409, "conflict");
    assert_eq!(r.body["error"]["details"]["refundable_minor"], 0);
    assert_eq!(
        cx.api
            .get(&format!("/api/finance/sales/{sale_id}"), &admin)
            .body["paid_minor"],
        0
    );

    // Commissions: paid only once approved, by an admin, once.
    let com = s.body["commission"]["id"].as_str().unwrap().to_string();
    let pay = format!("/api/finance/commissions/{com}/pay");
    let r = cx.api.put(&pay, &admin, &json!({}));
    check::error(&r, 409, "conflict");
    check::status(
        &cx.api.put(
            &format!("/api/finance/commissions/{com}/approve"),
            &admin,
            &json!({}),
        ),
        200,
    );
    check::error(&cx.api.put(&pay, &b1, &json!({})), 403, "forbidden");
    check::error(&cx.api.put(&pay, &stranger, &json!({})), 404, "not_found");
    let r = cx.api.put(&pay, &admin, &json!({}));
    check::status(&r, 200);
    assert_eq!(r.body["status"], "paid");
    assert_eq!(r.body["paid_by"], "a1");
    assert!(r.body["paid_at"].is_string());
    assert_eq!(r.body["approved_by"], "a1");
    let (ev, _) = ws.wait_for("finance:commission:paid", Duration::from_secs(5));
    assert_eq!(ev["data"]["status"], "paid");
    check::error(&cx.api.put(&pay, &admin, &json!({})), 409, "conflict");
    let listed = cx.api.get("/api/finance/commissions?status=paid", &b1);
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
}

/// Cards: edited (partially, slug included) and deleted by their owner or an admin only;
/// the public page follows; events carry the changes.
pub fn cards_edit_and_delete(cx: &mut Ctx) {
    let t = fresh_tenant("card-edit");
    let run = &t[t.len() - 8..];
    let b1 = cx.token(&t, "b1", "broker");
    let b2 = cx.token(&t, "b2", "broker");
    let admin = cx.token(&t, "a1", "admin");
    let stranger = cx.token(&fresh_tenant("card-other"), "a1", "admin");
    let slug = format!("ana-{run}");
    let r = cx.api.post(
        "/api/cards",
        &b1,
        &json!({"slug": slug, "display_name": "Ana", "title": "Broker", "phone": "+34 600 000 001"}),
    );
    check::status(&r, 201);
    let id = r.body["id"].as_str().unwrap().to_string();
    let path = format!("/api/cards/{id}");
    let mut ws = Ws::connect(&cx.server.base, &admin);
    ws.subscribe(&["tenant"], None);

    // Another broker may not; another tenant sees nothing; bad bodies change nothing.
    check::error(
        &cx.api.put(&path, &b2, &json!({"title": "x"})),
        403,
        "forbidden",
    );
    check::error(
        &cx.api.put(&path, &stranger, &json!({"title": "x"})),
        404,
        "not_found",
    );
    check::error(
        &cx.api.put(&path, &b1, &json!({})),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.put(&path, &b1, &json!({"slug": "No Spaces"})),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.put(&path, &b1, &json!({"email": "not-an-email"})),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.put(&path, &b1, &json!({"display_name": null})),
        422,
        "validation_failed",
    );
    // A slug taken by another card (any tenant) is a 409.
    let other_slug = format!("taken-{run}");
    check::status(
        &cx.api.post(
            "/api/cards",
            &stranger,
            &json!({"slug": other_slug, "display_name": "X"}),
        ),
        201,
    );
    check::error(
        &cx.api.put(&path, &b1, &json!({"slug": other_slug})),
        409,
        "conflict",
    );

    // The owner edits: the answer, the public page and the event agree.
    let new_slug = format!("ana-garcia-{run}");
    let r = cx.api.put(
        &path,
        &b1,
        &json!({"slug": new_slug, "title": "", "bio": "Twenty years in Valencia."}),
    );
    check::status(&r, 200);
    assert_eq!(r.body["slug"], new_slug.as_str());
    assert_eq!(r.body["title"], serde_json::Value::Null);
    assert_eq!(r.body["phone"], "+34 600 000 001");
    let ev = ws.next_event();
    check::event(&ev, "card:updated");
    assert_eq!(
        ev["data"]["changes"],
        json!({
            "slug": {"from": slug, "to": new_slug},
            "title": {"from": "Broker", "to": null},
            "bio": {"from": null, "to": "Twenty years in Valencia."}
        })
    );
    let public = cx.api.raw(
        "GET",
        &format!("/api/cards/public/{new_slug}"),
        None,
        None,
        None,
    );
    check::status(&public, 200);
    assert_eq!(public.body["bio"], "Twenty years in Valencia.");
    let old = cx.api.raw(
        "GET",
        &format!("/api/cards/public/{slug}"),
        None,
        None,
        None,
    );
    check::error(&old, 404, "not_found");
    // An admin may edit any card of the tenant.
    check::status(
        &cx.api
            .put(&path, &admin, &json!({"display_name": "Ana García"})),
        200,
    );
    check::event(&ws.next_event(), "card:updated");

    // Deleted: by its owner or an admin only; its public page is gone.
    check::error(&cx.api.delete(&path, &b2), 403, "forbidden");
    check::error(&cx.api.delete(&path, &stranger), 404, "not_found");
    check::status(&cx.api.delete(&path, &b1), 204);
    let ev = ws.next_event();
    check::event(&ev, "card:deleted");
    assert_eq!(
        ev["data"],
        json!({"id": id, "slug": new_slug, "owner_id": "b1"})
    );
    check::error(&cx.api.get(&path, &admin), 404, "not_found");
    let gone = cx.api.raw(
        "GET",
        &format!("/api/cards/public/{new_slug}"),
        None,
        None,
        None,
    );
    check::error(&gone, 404, "not_found");
    check::error(&cx.api.delete(&path, &b1), 404, "not_found");
}
