//! The dashboard snapshot from D1: the tenant's customers and jobs by status, sales and
//! commissions per currency, and each broker's own money figures (`by_broker`), in one
//! batch. Shared by `GET /api/dashboard` and the realtime hub's `dashboard` channel; what a
//! reader sees of it is `policy::redact_dashboard`.

use crate::domain::error::ApiResult;
use crate::domain::policy;
use crate::store::{self, t};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use worker::Env;

#[derive(Deserialize)]
struct CountRow {
    k: String,
    n: i64,
}

fn grouped(rows: Vec<CountRow>) -> (i64, Value) {
    let mut total = 0;
    let mut m = Map::new();
    for r in rows {
        total += r.n;
        m.insert(r.k, json!(r.n));
    }
    (total, Value::Object(m))
}

/// The dashboard snapshot (one D1 batch, so both counts are from one moment).
pub async fn snapshot(env: &Env, tenant: &str) -> ApiResult<Value> {
    let db = store::db(env)?;
    let mut results = store::batch(
        &db,
        vec![
            store::query(
                &db,
                "SELECT status AS k, COUNT(*) AS n FROM customers WHERE tenant_id = :tenant GROUP BY status",
                &[("tenant", t(tenant))],
            )?,
            store::query(
                &db,
                "SELECT status AS k, COUNT(*) AS n FROM jobs WHERE tenant_id = :tenant GROUP BY status",
                &[("tenant", t(tenant))],
            )?,
            store::query(
                &db,
                "SELECT currency, COUNT(*) AS n, SUM(total_minor) AS total_minor, SUM(paid_minor) AS paid_minor
                 FROM sales WHERE tenant_id = :tenant GROUP BY currency",
                &[("tenant", t(tenant))],
            )?,
            store::query(
                &db,
                "SELECT currency, status, COUNT(*) AS n, SUM(amount_minor) AS amount_minor
                 FROM commissions WHERE tenant_id = :tenant GROUP BY currency, status",
                &[("tenant", t(tenant))],
            )?,
            store::query(
                &db,
                "SELECT broker_id, currency, COUNT(*) AS n, SUM(total_minor) AS total_minor,
                   SUM(paid_minor) AS paid_minor
                 FROM sales WHERE tenant_id = :tenant GROUP BY broker_id, currency",
                &[("tenant", t(tenant))],
            )?,
            store::query(
                &db,
                "SELECT broker_id, currency, status, COUNT(*) AS n, SUM(amount_minor) AS amount_minor
                 FROM commissions WHERE tenant_id = :tenant GROUP BY broker_id, currency, status",
                &[("tenant", t(tenant))],
            )?,
        ],
    )
    .await?
    .into_iter();
    let mut next = || -> ApiResult<(i64, Value)> {
        let r = results
            .next()
            .ok_or_else(crate::domain::error::ApiError::internal)?;
        Ok(grouped(store::rows::<CountRow>(&r)?))
    };
    let (customers, customers_by_status) = next()?;
    let (jobs, jobs_by_status) = next()?;
    let mut rows = || -> ApiResult<Vec<Map<String, Value>>> {
        let r = results
            .next()
            .ok_or_else(crate::domain::error::ApiError::internal)?;
        store::rows::<Map<String, Value>>(&r)
    };
    let (sales_count, sales) = sales_by_currency(&rows()?);
    let commissions = commissions_by_currency(&rows()?);
    // Each broker's own figures, for the read policy to hand brokers theirs
    // (`policy::redact_dashboard`); only admins see this map.
    let mut by_broker = Map::new();
    let broker_of = |r: &Map<String, Value>| text(r, "broker_id");
    let sale_rows = rows()?;
    let commission_rows = rows()?;
    let mut brokers: Vec<String> = sale_rows.iter().map(broker_of).collect();
    brokers.extend(commission_rows.iter().map(broker_of));
    brokers.sort();
    brokers.dedup();
    for b in brokers {
        let mine = |rs: &[Map<String, Value>]| -> Vec<Map<String, Value>> {
            rs.iter().filter(|r| broker_of(r) == b).cloned().collect()
        };
        let (n, s) = sales_by_currency(&mine(&sale_rows));
        by_broker.insert(
            b.clone(),
            json!({"sales": {"count": n, "by_currency": s},
                   "commissions": {"by_currency": commissions_by_currency(&mine(&commission_rows))}}),
        );
    }
    Ok(json!({
        "customers": {"total": customers, "by_status": customers_by_status},
        "jobs": {"total": jobs, "by_status": jobs_by_status},
        "sales": {"count": sales_count, "by_currency": sales},
        "commissions": {"by_currency": commissions},
        policy::BY_BROKER: by_broker,
        "as_of": crate::platform::iso(crate::platform::now_ms()),
    }))
}

/// An integer column of an aggregate row (`COUNT`, `SUM` over integers; NULL is 0).
fn num(r: &Map<String, Value>, k: &str) -> i64 {
    r.get(k).and_then(Value::as_i64).unwrap_or(0)
}

fn text(r: &Map<String, Value>, k: &str) -> String {
    r.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

/// Sales rows (currency, n, total_minor, paid_minor) as (count, per-currency totals).
fn sales_by_currency(rows: &[Map<String, Value>]) -> (i64, Value) {
    let mut sales = Map::new();
    let mut count = 0;
    for r in rows {
        count += num(r, "n");
        let (total, paid) = (num(r, "total_minor"), num(r, "paid_minor"));
        sales.insert(
            text(r, "currency"),
            json!({"count": num(r, "n"), "total_minor": total, "paid_minor": paid, "balance_minor": total - paid}),
        );
    }
    (count, Value::Object(sales))
}

/// Commission rows (currency, status, n, amount_minor) as per-currency totals by status.
fn commissions_by_currency(rows: &[Map<String, Value>]) -> Value {
    let mut commissions = Map::new();
    for r in rows {
        let entry = commissions.entry(text(r, "currency")).or_insert_with(
            || json!({"pending_minor": 0, "approved_minor": 0, "paid_minor": 0, "count": 0}),
        );
        entry[format!("{}_minor", text(r, "status"))] = json!(num(r, "amount_minor"));
        entry["count"] = json!(entry["count"].as_i64().unwrap_or(0) + num(r, "n"));
    }
    Value::Object(commissions)
}
