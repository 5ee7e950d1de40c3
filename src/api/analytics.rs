//! `GET /api/analytics/snapshot` (events by type over 24 h, from the tenant hub) and
//! `GET /api/stats` (admin: the tenant's totals from D1, one batch).

use crate::domain::error::ApiResult;
use crate::domain::status::{AppointmentStatus, FollowupStatus, JobStatus};
use crate::realtime::hub_client;
use crate::store::{self, st, t};
use crate::web::ctx::Ctx;
use crate::web::respond::json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use worker::Response;

pub async fn snapshot(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let mut hub = hub_client::get(&cx.env, &who, "", "/analytics", &[]).await?;
    let data: Value = hub.json().await?;
    json(200, &data)
}

#[derive(Deserialize)]
struct N {
    n: i64,
}

/// Each entry: (name, SQL counting rows of `:tenant`; statuses it names are bound by
/// `stats`).
const COUNTS: &[(&str, &str)] = &[
    (
        "users",
        "SELECT COUNT(*) AS n FROM users WHERE tenant_id = :tenant",
    ),
    (
        "customers",
        "SELECT COUNT(*) AS n FROM customers WHERE tenant_id = :tenant",
    ),
    (
        "interactions",
        "SELECT COUNT(*) AS n FROM interactions WHERE tenant_id = :tenant",
    ),
    (
        "open_followups",
        "SELECT COUNT(*) AS n FROM followups WHERE tenant_id = :tenant AND status = :open",
    ),
    (
        "scheduled_appointments",
        "SELECT COUNT(*) AS n FROM appointments WHERE tenant_id = :tenant AND status = :scheduled",
    ),
    (
        "cards",
        "SELECT COUNT(*) AS n FROM cards WHERE tenant_id = :tenant",
    ),
    (
        "card_scans",
        "SELECT COALESCE(SUM(scans), 0) AS n FROM cards WHERE tenant_id = :tenant",
    ),
    (
        "jobs",
        "SELECT COUNT(*) AS n FROM jobs WHERE tenant_id = :tenant",
    ),
    (
        "dead_jobs",
        "SELECT COUNT(*) AS n FROM jobs WHERE tenant_id = :tenant AND status = :dead",
    ),
    (
        "outbox_pending",
        "SELECT COUNT(*) AS n FROM outbox WHERE tenant_id = :tenant AND delivered_seq IS NULL",
    ),
];

pub async fn stats(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    crate::realtime::outbox::flush_here(&cx.env).await;
    let db = cx.db()?;
    let stmts = COUNTS
        .iter()
        .map(|(name, sql)| {
            let mut args = vec![("tenant", t(&who.tenant_id))];
            match *name {
                "open_followups" => args.push(("open", st(FollowupStatus::Open))),
                "scheduled_appointments" => {
                    args.push(("scheduled", st(AppointmentStatus::Scheduled)))
                }
                "dead_jobs" => args.push(("dead", st(JobStatus::Dead))),
                _ => {}
            }
            store::query(&db, sql, &args)
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let results = store::batch(&db, stmts).await?;
    let mut out = Map::new();
    for ((name, _), r) in COUNTS.iter().zip(results) {
        let n = store::rows::<N>(&r)
            .ok()
            .and_then(|v| v.into_iter().next())
            .map_or(0, |x| x.n);
        out.insert(name.to_string(), json!(n));
    }
    out.insert("as_of".into(), json!(cx.now_iso()));
    json(200, &Value::Object(out))
}
