//! `GET /health`: public liveness plus a D1 round trip.

use crate::domain::error::ApiResult;
use crate::store;
use crate::web::ctx::Ctx;
use crate::web::respond::json;
use serde_json::json;
use worker::Response;

pub async fn get(cx: Ctx) -> ApiResult<Response> {
    let db = cx.db()?;
    let ok = store::first::<serde_json::Value>(store::query(&db, "SELECT 1 AS one", &[])?)
        .await
        .is_ok();
    let status = if ok { 200 } else { 503 };
    json(
        status,
        &json!({"status": if ok {"ok"} else {"degraded"}, "service": "pulse", "d1": ok,
                "time": cx.now_iso()}),
    )
}
