//! Concurrency hardening: payments report the balance their own guarded update left,
//! partial updates of customers, users and follow-ups never drop a concurrent change
//! (versions, If-Match, ETag, 409), and only admins (or capped brokers) set a sale's rate.

use crate::assertions as check;
use crate::client::{Api, Resp};
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PAYMENTS: &str = "/api/finance/payments";
const SALES: &str = "/api/finance/sales";
const SETTINGS: &str = "/api/finance/settings";

/// The tenant's events of `kind` (admin view), polled until there are `n` or 15 s pass.
fn events_of(cx: &Ctx, admin: &str, kind: &str, n: usize) -> Vec<Value> {
    let t0 = Instant::now();
    loop {
        let r = cx.api.get(
            &format!("/api/realtime/events?since=0&limit=1000&types={kind}"),
            admin,
        );
        check::status(&r, 200);
        let data = r.body["data"].as_array().cloned().unwrap_or_default();
        if data.len() >= n || t0.elapsed() > Duration::from_secs(15) {
            return data;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One request of a concurrent burst.
type Call = Box<dyn Fn(&Api) -> Resp + Send + Sync>;

/// Runs the requests at once, one thread each; the responses in the same order.
fn concurrently(cx: &Ctx, reqs: Vec<Call>) -> Vec<Resp> {
    let api = &cx.api;
    let mut out: Vec<Option<Resp>> = (0..reqs.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = reqs.iter().map(|f| s.spawn(move || f(api))).collect();
        for (k, h) in handles.into_iter().enumerate() {
            out[k] = Some(h.join().expect("request thread"));
        }
    });
    out.into_iter().map(Option::unwrap).collect()
}

fn put_with(cx: &Ctx, path: &str, tok: &str, body: &Value, if_match: &str) -> Resp {
    cx.api.raw_with(
        "PUT",
        path,
        tok,
        &body.to_string(),
        &[("if-match", if_match)],
    )
}

/// Concurrent payments: each answer's balance is the total minus every payment committed
/// up to and including it, and the events carry exactly those balances.
pub fn payments_report_their_own_balance(cx: &mut Ctx) {
    let t = fresh_tenant("conc-pay");
    let broker = cx.token(&t, "b1", "broker");
    let admin = cx.token(&t, "boss", "admin");
    let c = cx
        .api
        .post("/api/crm/customers", &broker, &json!({"name": "Buyer"}));
    check::status(&c, 201);
    let total: i64 = 1_000_000;
    let s = cx.api.post(
        SALES,
        &broker,
        &json!({"customer_id": c.body["id"], "total_minor": total, "currency": "EUR"}),
    );
    check::status(&s, 201);
    let sale = s.body["id"].as_str().unwrap().to_string();
    // Distinct amounts, so each balance names one point in the commit order.
    let amounts: Vec<i64> = (0..12).map(|k| 1_000 + k).collect();
    let reqs: Vec<Call> = amounts
        .iter()
        .map(|&a| {
            let (sale, broker) = (sale.clone(), broker.clone());
            Box::new(move |api: &Api| {
                api.post(
                    PAYMENTS,
                    &broker,
                    &json!({"sale_id": sale, "amount_minor": a, "currency": "EUR", "method": "card"}),
                )
            }) as Call
        })
        .collect();
    let resps = concurrently(cx, reqs);
    let mut seen: Vec<(i64, i64, String)> = Vec::new(); // (balance, amount, payment id)
    for r in &resps {
        check::status(r, 201);
        seen.push((
            r.body["sale_balance_minor"].as_i64().unwrap(),
            r.body["amount_minor"].as_i64().unwrap(),
            r.body["id"].as_str().unwrap().to_string(),
        ));
        assert_eq!(r.body["sale_status"], "open", "{}", r.body);
    }
    seen.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut running = total;
    for (balance, amount, id) in &seen {
        running -= amount;
        assert_eq!(
            *balance,
            running,
            "payment {id} of {amount} reports a stale balance; all answers (balance, amount): {:?}",
            seen.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>()
        );
    }
    let got = cx.api.get(&format!("{SALES}/{sale}"), &broker);
    assert_eq!(got.body["balance_minor"], running);
    // The events: one per payment, each with that payment's balance.
    let events = events_of(cx, &admin, "finance:payment:received", amounts.len());
    assert_eq!(events.len(), amounts.len(), "{events:?}");
    let mut balances: Vec<i64> = Vec::new();
    for e in &events {
        let d = &e["data"];
        let id = d["id"].as_str().unwrap();
        let mine = seen.iter().find(|s| s.2 == id).expect("event of a payment");
        assert_eq!(d["sale_balance_minor"], mine.0, "event {e}");
        assert_eq!(d["sale_status"], "open");
        assert_eq!(d["amount_minor"], mine.1);
        balances.push(mine.0);
    }
    balances.sort();
    balances.dedup();
    assert_eq!(
        balances.len(),
        amounts.len(),
        "event balances are not distinct"
    );

    // A burst past the balance: exactly the payments that fit succeed, their balances step
    // down to 0 and the last one is `paid`; the rest are 409 and write nothing.
    let s2 = cx.api.post(
        SALES,
        &broker,
        &json!({"customer_id": c.body["id"], "total_minor": 10_000, "currency": "EUR"}),
    );
    let sale2 = s2.body["id"].as_str().unwrap().to_string();
    let reqs: Vec<Call> = (0..8)
        .map(|_| {
            let (sale2, broker) = (sale2.clone(), broker.clone());
            Box::new(move |api: &Api| {
                api.post(
                    PAYMENTS,
                    &broker,
                    &json!({"sale_id": sale2, "amount_minor": 2_000, "currency": "EUR", "method": "cash"}),
                )
            }) as Call
        })
        .collect();
    let resps = concurrently(cx, reqs);
    let mut ok: Vec<i64> = Vec::new();
    for r in &resps {
        if r.status == 201 {
            ok.push(r.body["sale_balance_minor"].as_i64().unwrap());
            let paid = r.body["sale_balance_minor"] == 0;
            assert_eq!(r.body["sale_status"], if paid { "paid" } else { "open" });
        } else {
            check::error(r, 409, "conflict");
        }
    }
    ok.sort();
    assert_eq!(ok, [0, 2_000, 4_000, 6_000, 8_000]);
}

fn customer_path(id: &Value) -> String {
    format!("/api/crm/customers/{}", id.as_str().unwrap())
}

/// Customers: concurrent blind partial updates of different fields all survive; a stale
/// `version` or `If-Match` is a 409 that changes nothing; GET and PUT carry the ETag.
pub fn customer_partial_updates_never_drop_fields(cx: &mut Ctx) {
    let t = fresh_tenant("conc-cust");
    let b = cx.token(&t, "b1", "broker");
    let admin = cx.token(&t, "boss", "admin");
    let r = cx
        .api
        .post("/api/crm/customers", &b, &json!({"name": "Orig"}));
    check::status(&r, 201);
    assert_eq!(r.body["version"], 1);
    let path = customer_path(&r.body["id"]);
    let g = cx.api.get(&path, &b);
    assert_eq!(g.body["version"], 1);
    assert_eq!(g.header("etag"), Some("\"1\""));

    let patches = [
        json!({"phone": "+1 555 0101"}),
        json!({"source": "web"}),
        json!({"notes": "likes gardens"}),
        json!({"status": "active"}),
    ];
    let reqs: Vec<Call> = patches
        .iter()
        .map(|p| {
            let (p, path, b) = (p.clone(), path.clone(), b.clone());
            Box::new(move |api: &Api| api.put(&path, &b, &p)) as Call
        })
        .collect();
    for r in concurrently(cx, reqs) {
        check::status(&r, 200);
    }
    let g = cx.api.get(&path, &b);
    let c = &g.body;
    assert_eq!(
        (
            c["name"].as_str(),
            c["phone"].as_str(),
            c["source"].as_str(),
            c["notes"].as_str(),
            c["status"].as_str()
        ),
        (
            Some("Orig"),
            Some("+1 555 0101"),
            Some("web"),
            Some("likes gardens"),
            Some("active")
        ),
        "a concurrent partial update was lost: {c}"
    );
    assert_eq!(c["version"], 5);
    assert_eq!(g.header("etag"), Some("\"5\""));

    // With the version read: the first writer wins, the second gets 409 and changes nothing.
    let w = cx
        .api
        .put(&path, &b, &json!({"name": "First", "version": 5}));
    check::status(&w, 200);
    assert_eq!(w.body["version"], 6);
    assert_eq!(w.header("etag"), Some("\"6\""));
    let lost = cx
        .api
        .put(&path, &b, &json!({"name": "Second", "version": 5}));
    check::error(&lost, 409, "conflict");
    assert_eq!(lost.body["error"]["details"]["version"], 6);
    // The same through If-Match with the ETag.
    let w = put_with(cx, &path, &b, &json!({"notes": "via etag"}), "\"6\"");
    check::status(&w, 200);
    assert_eq!(w.body["version"], 7);
    check::error(
        &put_with(cx, &path, &b, &json!({"notes": "stale"}), "\"6\""),
        409,
        "conflict",
    );
    check::error(
        &put_with(cx, &path, &b, &json!({"notes": "bad"}), "yesterday"),
        400,
        "bad_request",
    );
    check::error(
        &put_with(
            cx,
            &path,
            &b,
            &json!({"notes": "both", "version": 7}),
            "\"6\"",
        ),
        400,
        "bad_request",
    );
    check::error(
        &cx.api
            .put(&path, &b, &json!({"notes": "x", "version": "7"})),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.put(&path, &b, &json!({"version": 7})),
        422,
        "validation_failed",
    );
    let g = cx.api.get(&path, &b);
    assert_eq!(
        (
            g.body["name"].as_str(),
            g.body["notes"].as_str(),
            g.body["version"].as_i64()
        ),
        (Some("First"), Some("via etag"), Some(7))
    );
    // Exactly one event per applied update, carrying that update's version.
    let ev = events_of(cx, &admin, "crm:customer:updated", 6);
    let mut versions: Vec<i64> = ev
        .iter()
        .map(|e| e["data"]["version"].as_i64().unwrap())
        .collect();
    versions.sort();
    assert_eq!(versions, [2, 3, 4, 5, 6, 7], "{ev:?}");
}

/// Users and follow-ups: the same contract (blind concurrent changes both survive; a
/// stale version is a 409; GET has the ETag).
pub fn users_and_followups_are_versioned(cx: &mut Ctx) {
    let t = fresh_tenant("conc-uf");
    let admin = cx.token(&t, "boss", "admin");
    let b = cx.token(&t, "b1", "broker");
    let u = cx.api.post(
        "/api/users",
        &admin,
        &json!({"email": "pat@conc.test", "name": "Pat", "role": "broker", "password": "correct-horse-1"}),
    );
    check::status(&u, 201);
    assert_eq!(u.body["version"], 1);
    let upath = format!("/api/users/{}", u.body["id"].as_str().unwrap());
    let patches = [json!({"name": "Pat Renamed"}), json!({"role": "viewer"})];
    let reqs: Vec<Call> = patches
        .iter()
        .map(|p| {
            let (p, path, a) = (p.clone(), upath.clone(), admin.clone());
            Box::new(move |api: &Api| api.put(&path, &a, &p)) as Call
        })
        .collect();
    for r in concurrently(cx, reqs) {
        check::status(&r, 200);
    }
    let g = cx.api.get(&upath, &admin);
    assert_eq!(
        (
            g.body["name"].as_str(),
            g.body["role"].as_str(),
            g.body["version"].as_i64()
        ),
        (Some("Pat Renamed"), Some("viewer"), Some(3)),
        "{}",
        g.body
    );
    assert_eq!(g.header("etag"), Some("\"3\""));
    check::error(
        &cx.api
            .put(&upath, &admin, &json!({"name": "Stale", "version": 2})),
        409,
        "conflict",
    );
    check::error(
        &put_with(cx, &upath, &admin, &json!({"role": "admin"}), "\"2\""),
        409,
        "conflict",
    );
    let w = put_with(cx, &upath, &admin, &json!({"name": "Pat Again"}), "\"3\"");
    check::status(&w, 200);
    assert_eq!(w.body["version"], 4);
    let g = cx.api.get(&upath, &admin);
    assert_eq!(
        (g.body["name"].as_str(), g.body["role"].as_str()),
        (Some("Pat Again"), Some("viewer"))
    );

    // Follow-ups.
    let c = cx
        .api
        .post("/api/crm/customers", &b, &json!({"name": "Fu"}));
    let f = cx.api.post(
        "/api/crm/followups",
        &b,
        &json!({"customer_id": c.body["id"], "due_at": "2099-01-01T09:00:00Z", "note": "call"}),
    );
    check::status(&f, 201);
    assert_eq!(f.body["version"], 1);
    let fpath = format!("/api/crm/followups/{}", f.body["id"].as_str().unwrap());
    let patches = [
        json!({"note": "call back"}),
        json!({"due_at": "2099-02-01T09:00:00Z"}),
        json!({"status": "done"}),
    ];
    let reqs: Vec<Call> = patches
        .iter()
        .map(|p| {
            let (p, path, b) = (p.clone(), fpath.clone(), b.clone());
            Box::new(move |api: &Api| api.put(&path, &b, &p)) as Call
        })
        .collect();
    for r in concurrently(cx, reqs) {
        check::status(&r, 200);
    }
    let g = cx.api.get(&fpath, &b);
    assert_eq!(
        (
            g.body["note"].as_str(),
            g.body["due_at"].as_str(),
            g.body["status"].as_str(),
            g.body["version"].as_i64()
        ),
        (
            Some("call back"),
            Some("2099-02-01T09:00:00.000Z"),
            Some("done"),
            Some(4)
        ),
        "{}",
        g.body
    );
    assert_eq!(g.header("etag"), Some("\"4\""));
    check::error(
        &cx.api
            .put(&fpath, &b, &json!({"status": "open", "version": 3})),
        409,
        "conflict",
    );
    assert_eq!(cx.api.get(&fpath, &b).body["status"], "done");
    // Completed exactly once, by the change that applied it.
    let done = events_of(cx, &admin, "crm:followup:completed", 1);
    assert_eq!(done.len(), 1, "{done:?}");
    let upd = events_of(cx, &admin, "crm:followup:updated", 2);
    assert_eq!(upd.len(), 2, "{upd:?}");
}

/// A sale's own commission rate: admins any; brokers only within the tenant's maximum,
/// and not at all while none is set (403, nothing written).
pub fn broker_cannot_set_commission_rate(cx: &mut Ctx) {
    let t = fresh_tenant("conc-rate");
    let admin = cx.token(&t, "boss", "admin");
    let broker = cx.token(&t, "b1", "broker");
    let c = cx
        .api
        .post("/api/crm/customers", &broker, &json!({"name": "Buyer"}));
    let sale = |rate: Option<i64>| {
        let mut b = json!({"customer_id": c.body["id"], "total_minor": 100_000, "currency": "EUR"});
        if let Some(r) = rate {
            b["commission_rate_bps"] = json!(r);
        }
        b
    };
    let r = cx.api.post(SALES, &broker, &sale(Some(5_000)));
    check::error(&r, 403, "forbidden");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("commission_rate_bps"),
        "{}",
        r.body
    );
    assert_eq!(
        cx.api.get(SALES, &admin).body["data"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "a refused sale was written"
    );
    let ok = cx.api.post(SALES, &broker, &sale(None));
    check::status(&ok, 201);
    assert_eq!(ok.body["commission_rate_bps"], 300);
    let own = cx.api.post(SALES, &admin, &sale(Some(5_000)));
    check::status(&own, 201);
    assert_eq!(own.body["commission"]["rate_bps"], 5_000);

    // The tenant's broker maximum (admin-managed).
    let g = cx.api.get(SETTINGS, &admin);
    check::status(&g, 200);
    assert_eq!(g.body["broker_rate_override_max_bps"], Value::Null);
    check::error(
        &cx.api.put(
            SETTINGS,
            &broker,
            &json!({"broker_rate_override_max_bps": 10_000}),
        ),
        403,
        "forbidden",
    );
    check::error(&cx.api.get(SETTINGS, &broker), 403, "forbidden");
    check::error(
        &cx.api.put(
            SETTINGS,
            &admin,
            &json!({"broker_rate_override_max_bps": 10_001}),
        ),
        422,
        "validation_failed",
    );
    let p = cx.api.put(
        SETTINGS,
        &admin,
        &json!({"broker_rate_override_max_bps": 400}),
    );
    check::status(&p, 200);
    assert_eq!(
        cx.api.get(SETTINGS, &admin).body["broker_rate_override_max_bps"],
        400
    );
    let over = cx.api.post(SALES, &broker, &sale(Some(401)));
    check::error(&over, 403, "forbidden");
    assert!(over.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("400"));
    let within = cx.api.post(SALES, &broker, &sale(Some(400)));
    check::status(&within, 201);
    assert_eq!(within.body["commission"]["rate_bps"], 400);
    assert_eq!(within.body["commission"]["amount_minor"], 4_000);
    check::status(
        &cx.api.put(
            SETTINGS,
            &admin,
            &json!({"broker_rate_override_max_bps": null}),
        ),
        200,
    );
    check::error(
        &cx.api.post(SALES, &broker, &sale(Some(100))),
        403,
        "forbidden",
    );
    assert_eq!(
        cx.api.get(SALES, &admin).body["data"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}
