//! `GET /api/dashboard`: the tenant's live totals from D1 (customers and jobs by status).
//! The realtime `dashboard` channel sends this same snapshot, then fresh ones on change.

use crate::domain::auth::Action;
use crate::domain::error::ApiResult;
use crate::http::auth;
use crate::http::router::json;
use crate::store::{self, t};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use worker::{Env, Request, Response};

#[derive(Deserialize)]
struct CountRow {
    k: String,
    n: f64,
}

fn grouped(rows: Vec<CountRow>) -> (u64, Value) {
    let mut total = 0;
    let mut m = Map::new();
    for r in rows {
        total += r.n as u64;
        m.insert(r.k, json!(r.n as u64));
    }
    (total, Value::Object(m))
}

/// The dashboard snapshot (one D1 batch, so both counts are from one moment).
pub async fn snapshot(env: &Env, tenant: &str) -> ApiResult<Value> {
    let db = store::db(env)?;
    let mut results = store::batch(
        &db,
        vec![
            store::stmt(
                &db,
                "SELECT status AS k, COUNT(*) AS n FROM customers WHERE tenant_id = ?1 GROUP BY status",
                &[t(tenant)],
            )?,
            store::stmt(
                &db,
                "SELECT status AS k, COUNT(*) AS n FROM jobs WHERE tenant_id = ?1 GROUP BY status",
                &[t(tenant)],
            )?,
        ],
    )
    .await?
    .into_iter();
    let mut next = || -> ApiResult<(u64, Value)> {
        let r = results
            .next()
            .ok_or_else(crate::domain::error::ApiError::internal)?;
        Ok(grouped(
            r.results::<CountRow>()
                .map_err(|e| store::internal("D1 decode", e))?,
        ))
    };
    let (customers, customers_by_status) = next()?;
    let (jobs, jobs_by_status) = next()?;
    Ok(json!({
        "customers": {"total": customers, "by_status": customers_by_status},
        "jobs": {"total": jobs, "by_status": jobs_by_status},
        "as_of": crate::platform::iso(crate::platform::now_ms()),
    }))
}

pub async fn get(req: Request, env: &Env) -> ApiResult<Response> {
    let who = auth::require(&req, env, Action::Read)?;
    json(200, &snapshot(env, &who.tenant_id).await?)
}
