//! Finance: sales with their commission, payments that cannot overpay, commission
//! approval, rates, roles, tenant isolation, events, idempotency and the dashboard.

use crate::assertions as check;
use crate::client::Ws;
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::{json, Value};
use std::time::Duration;

const SALES: &str = "/api/finance/sales";
const PAYMENTS: &str = "/api/finance/payments";
const COMMISSIONS: &str = "/api/finance/commissions";

fn customer(cx: &Ctx, tok: &str) -> String {
    let r = cx
        .api
        .post("/api/crm/customers", tok, &json!({"name": "Buyer"}));
    check::status(&r, 201);
    r.body["id"].as_str().unwrap().to_string()
}

fn sale(cx: &Ctx, tok: &str, customer: &str, total: i64) -> Value {
    let r = cx.api.post(
        SALES,
        tok,
        &json!({"customer_id": customer, "total_minor": total, "currency": "EUR"}),
    );
    check::status(&r, 201);
    r.body
}

/// A sale with its commission and both events; payments up to the total, then 409;
/// the sale becomes paid; the payment event carries the new balance.
pub fn sales_payments_and_events(cx: &mut Ctx) {
    let t = fresh_tenant("fin");
    let broker = cx.token(&t, "b1", "broker");
    let c = customer(cx, &broker);
    let mut ws = Ws::connect(&cx.server.base, &broker);
    ws.subscribe(&["user:b1"], None);
    let viewer = cx.token(&t, "v1", "viewer");
    let mut dash = Ws::connect(&cx.server.base, &viewer);
    dash.subscribe(&["tenant"], None);
    let s = sale(cx, &broker, &c, 25_000_000);
    // The viewer hears that the dashboard moved, but reads no money in it.
    let (d, _) = dash.wait_for("reports:dashboard:updated", Duration::from_secs(10));
    assert!(d["data"].get("sales").is_none(), "{d}");
    assert_eq!(d["data"]["money_scope"], "none");
    let id = s["id"].as_str().unwrap().to_string();
    assert_eq!(s["broker_id"], "b1");
    assert_eq!(s["status"], "open");
    assert_eq!(s["balance_minor"], 25_000_000);
    assert_eq!(s["commission_rate_bps"], 300);
    assert_eq!(s["commission"]["amount_minor"], 750_000);
    assert_eq!(s["commission"]["status"], "pending");
    let e1 = ws.next_event();
    check::event(&e1, "finance:sale:created");
    assert_eq!(e1["data"]["id"], id.as_str());
    let e2 = ws.next_event();
    check::event(&e2, "finance:commission:calculated");
    assert_eq!(e2["data"]["amount_minor"], 750_000);

    let pay = |amount: i64| json!({"sale_id": id, "amount_minor": amount, "currency": "EUR", "method": "transfer"});
    let p1 = cx.api.post(PAYMENTS, &broker, &pay(20_000_000));
    check::status(&p1, 201);
    assert_eq!(p1.body["sale_balance_minor"], 5_000_000);
    assert_eq!(p1.body["sale_status"], "open");
    let e3 = ws.next_event();
    check::event(&e3, "finance:payment:received");
    assert_eq!(e3["data"]["sale_balance_minor"], 5_000_000);
    // Overpaying is a 409 and changes nothing.
    check::error(
        &cx.api.post(PAYMENTS, &broker, &pay(5_000_001)),
        409,
        "conflict",
    );
    assert_eq!(
        cx.api.get(&format!("{SALES}/{id}"), &broker).body["paid_minor"],
        20_000_000
    );
    // Wrong currency: 422.
    let mut usd = pay(1);
    usd["currency"] = json!("USD");
    check::error(
        &cx.api.post(PAYMENTS, &broker, &usd),
        422,
        "validation_failed",
    );
    let p2 = cx.api.post(PAYMENTS, &broker, &pay(5_000_000));
    check::status(&p2, 201);
    assert_eq!(p2.body["sale_status"], "paid");
    let got = cx.api.get(&format!("{SALES}/{id}"), &broker);
    assert_eq!(got.body["status"], "paid");
    assert_eq!(got.body["balance_minor"], 0);
    check::error(&cx.api.post(PAYMENTS, &broker, &pay(1)), 409, "conflict");
    let list = cx.api.get(&format!("{PAYMENTS}?sale_id={id}"), &broker);
    assert_eq!(list.body["data"].as_array().unwrap().len(), 2);
    ws.close();
}

/// Roles, validation, cross-tenant 404s, approval once by admins, rates, pagination,
/// an idempotent payment retry, and the dashboard totals.
pub fn roles_rates_approval_and_dashboard(cx: &mut Ctx) {
    let t = fresh_tenant("fin2");
    let b1 = cx.token(&t, "b1", "broker");
    let b2 = cx.token(&t, "b2", "broker");
    let admin = cx.token(&t, "a1", "admin");
    let viewer = cx.token(&t, "v1", "viewer");
    let c = customer(cx, &b1);
    // 401, 403 viewer, 422, 404-ish references.
    check::error(
        &cx.api.raw("GET", SALES, None, None, None),
        401,
        "unauthorized",
    );
    check::error(&cx.api.get(SALES, &viewer), 403, "forbidden");
    check::error(
        &cx.api.post(
            SALES,
            &viewer,
            &json!({"customer_id": c, "total_minor": 1, "currency": "EUR"}),
        ),
        403,
        "forbidden",
    );
    let bad = cx.api.post(
        SALES,
        &b1,
        &json!({"customer_id": c, "total_minor": 1.5, "currency": "eur", "x": 1}),
    );
    check::error(&bad, 422, "validation_failed");
    for f in ["total_minor", "currency", "x"] {
        assert!(bad.body["error"]["details"]["fields"][f].is_string(), "{f}");
    }
    check::error(
        &cx.api.post(
            SALES,
            &b1,
            &json!({"customer_id": "c_nope", "total_minor": 1, "currency": "EUR"}),
        ),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.post(
            SALES,
            &b1,
            &json!({"customer_id": c, "total_minor": 1, "currency": "EUR", "broker_id": "b2"}),
        ),
        403,
        "forbidden",
    );
    // Rates: tenant default 250 bps, b2's own 500 bps; explicit beats both.
    check::error(
        &cx.api.put(
            "/api/finance/commission-rates",
            &b1,
            &json!({"rate_bps": 1}),
        ),
        403,
        "forbidden",
    );
    check::status(
        &cx.api.put(
            "/api/finance/commission-rates",
            &admin,
            &json!({"rate_bps": 250}),
        ),
        200,
    );
    check::status(
        &cx.api.put(
            "/api/finance/commission-rates",
            &admin,
            &json!({"broker_id": "b2", "rate_bps": 500}),
        ),
        200,
    );
    check::error(
        &cx.api.put(
            "/api/finance/commission-rates",
            &admin,
            &json!({"rate_bps": 10001}),
        ),
        422,
        "validation_failed",
    );
    let s1 = sale(cx, &b1, &c, 10_000);
    assert_eq!(s1["commission"]["rate_bps"], 250);
    assert_eq!(s1["commission"]["amount_minor"], 250);
    let s2 = sale(cx, &b2, &c, 10_001);
    assert_eq!(s2["commission"]["rate_bps"], 500);
    assert_eq!(s2["commission"]["amount_minor"], 500); // 500.05 → 500
                                                       // A broker may set a sale's own rate only within the tenant's broker maximum.
    let max = json!({"broker_rate_override_max_bps": 1000});
    check::status(&cx.api.put("/api/finance/settings", &admin, &max), 200);
    let r = cx.api.post(SALES, &b1, &json!({"customer_id": c, "total_minor": 1_000, "currency": "EUR", "commission_rate_bps": 1000}));
    assert_eq!(r.body["commission"]["amount_minor"], 100);
    let rates = cx.api.get("/api/finance/commission-rates", &admin);
    assert_eq!(rates.body["data"].as_array().unwrap().len(), 2);
    // Commissions: brokers see their own; admins all; approval is admin-only and once.
    assert_eq!(
        cx.api.get(COMMISSIONS, &b1).body["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        cx.api.get(COMMISSIONS, &b2).body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        cx.api.get(COMMISSIONS, &admin).body["data"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let cid = s1["commission"]["id"].as_str().unwrap();
    let approve = format!("{COMMISSIONS}/{cid}/approve");
    check::error(&cx.api.put(&approve, &b1, &json!({})), 403, "forbidden");
    let mut ws = Ws::connect(&cx.server.base, &b1);
    ws.subscribe(&["user:b1"], None);
    let ok = cx.api.put(&approve, &admin, &json!({}));
    check::status(&ok, 200);
    assert_eq!(ok.body["status"], "approved");
    assert_eq!(ok.body["approved_by"], "a1");
    check::event(&ws.next_event(), "finance:commission:approved");
    check::error(&cx.api.put(&approve, &admin, &json!({})), 409, "conflict");
    assert_eq!(
        cx.api
            .get(&format!("{COMMISSIONS}?status=approved"), &admin)
            .body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Another tenant sees nothing.
    let other = cx.token(&fresh_tenant("fin-o"), "a9", "admin");
    let sid = s1["id"].as_str().unwrap();
    check::error(
        &cx.api.get(&format!("{SALES}/{sid}"), &other),
        404,
        "not_found",
    );
    check::error(&cx.api.put(&approve, &other, &json!({})), 404, "not_found");
    check::error(
        &cx.api.post(
            PAYMENTS,
            &other,
            &json!({"sale_id": sid, "amount_minor": 1, "currency": "EUR", "method": "cash"}),
        ),
        422,
        "validation_failed",
    );
    // Pagination over the sales.
    let p1 = cx.api.get(&format!("{SALES}?limit=2"), &admin);
    assert_eq!(p1.body["data"].as_array().unwrap().len(), 2);
    let cur = p1.body["next_cursor"].as_str().unwrap();
    let p2 = cx.api.get(&format!("{SALES}?limit=2&cursor={cur}"), &admin);
    assert_eq!(p2.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        cx.api.get(&format!("{SALES}?broker_id=b2"), &admin).body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // An idempotent retry of a payment writes once.
    let body = json!({"sale_id": sid, "amount_minor": 4_000, "currency": "EUR", "method": "card"})
        .to_string();
    let key = [("idempotency-key", "pay-once-1")];
    let first = cx.api.raw_with("POST", PAYMENTS, &b1, &body, &key);
    check::status(&first, 201);
    let again = cx.api.raw_with("POST", PAYMENTS, &b1, &body, &key);
    assert_eq!(again.body, first.body);
    assert_eq!(
        cx.api.get(&format!("{SALES}/{sid}"), &b1).body["paid_minor"],
        4_000
    );
    // The dashboard agrees with the rows: 3 sales, 21,001 total, 4,000 paid.
    let d = cx.api.get("/api/dashboard", &admin);
    check::status(&d, 200);
    assert_eq!(d.body["sales"]["count"], 3);
    assert_eq!(d.body["sales"]["by_currency"]["EUR"]["total_minor"], 21_001);
    assert_eq!(d.body["sales"]["by_currency"]["EUR"]["paid_minor"], 4_000);
    assert_eq!(
        d.body["commissions"]["by_currency"]["EUR"]["approved_minor"],
        250
    );
    assert_eq!(
        d.body["commissions"]["by_currency"]["EUR"]["pending_minor"],
        600
    );
    ws.drain(Duration::from_millis(10));
}

/// A sales report (JSON) whose totals match the sales and payments recorded.
pub fn sales_report_matches_rows(cx: &mut Ctx) {
    let t = fresh_tenant("finrpt");
    let admin = cx.token(&t, "a1", "admin");
    let from = chrono::Utc::now() - chrono::Duration::minutes(5);
    let c = customer(cx, &admin);
    let mut total = 0;
    for (k, amount) in [120_000, 80_000, 55_555].iter().enumerate() {
        let s = sale(cx, &admin, &c, *amount);
        total += amount;
        if k == 0 {
            let r = cx.api.post(PAYMENTS, &admin, &json!({"sale_id": s["id"], "amount_minor": 20_000, "currency": "EUR", "method": "cash"}));
            check::status(&r, 201);
        }
    }
    let to = chrono::Utc::now() + chrono::Duration::minutes(5);
    for kind in ["sales_summary", "commissions_by_broker"] {
        let r = cx.api.post("/api/reports", &admin, &json!({"kind": kind, "format": "json", "from": from.to_rfc3339(), "to": to.to_rfc3339()}));
        check::status(&r, 202);
        let id = r.body["id"].as_str().unwrap().to_string();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let rep = loop {
            let g = cx.api.get(&format!("/api/reports/{id}"), &admin);
            if g.body["status"] == "ready" {
                break g.body;
            }
            assert!(std::time::Instant::now() < deadline, "{}", g.body);
            std::thread::sleep(Duration::from_millis(200));
        };
        let doc = cx
            .api
            .get(&format!("/api/reports/{id}/download"), &admin)
            .body;
        if kind == "sales_summary" {
            assert_eq!(rep["totals"]["by_currency"]["EUR"]["total_minor"], total);
            assert_eq!(doc["totals"]["by_currency"]["EUR"]["sales"], 3);
            assert_eq!(doc["totals"]["by_currency"]["EUR"]["paid_minor"], 20_000);
            assert_eq!(
                doc["totals"]["by_currency"]["EUR"]["balance_minor"],
                total - 20_000
            );
        } else {
            // 3 % of each, rounded half up: 3600 + 2400 + 1667.
            assert_eq!(doc["totals"]["by_currency"]["EUR"]["amount_minor"], 7_667);
            assert_eq!(doc["rows"][0]["broker_id"], "a1");
        }
    }
}
