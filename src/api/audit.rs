//! `GET /api/audit` (admins): the tenant's audit trail, newest first. Rows are written by
//! the outbox trigger (migration 0024) for every event that names its actor, so the trail
//! has exactly the changes that committed, with no second write a handler could skip.

use crate::domain::error::{ApiError, ApiResult};
use crate::domain::pagination;
use crate::domain::time;
use crate::platform;
use crate::store::{self, i, oi, ot, t};
use crate::web::ctx::Ctx;
use crate::web::respond::json;
use serde::Deserialize;
use serde_json::{json, Value};
use worker::Response;

/// Audit rows are kept this long.
pub const KEEP_MS: i64 = 366 * 24 * 3600 * 1000;

#[derive(Deserialize)]
struct Row {
    id: String,
    at_ms: i64,
    actor: String,
    action: String,
    entity: Option<String>,
    changes: String,
}

fn render(r: &Row) -> Value {
    json!({
        "id": r.id,
        "at": platform::iso(r.at_ms),
        "actor": r.actor,
        "action": r.action,
        "entity": r.entity,
        "changes": serde_json::from_str::<Value>(&r.changes).unwrap_or(Value::Null),
    })
}

/// A time bound of the query (`from`, `to`) as epoch ms.
fn bound(cx: &Ctx, key: &str) -> ApiResult<Option<i64>> {
    match cx.query(key).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => time::parse_rfc3339(&v)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("{key} must be an RFC 3339 time"))),
    }
}

pub async fn list(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let page = cx.page()?;
    let q = |k: &str| cx.query(k).filter(|v| !v.is_empty());
    // `entity=customer` matches every customer; `entity=customer:cus_1` one of them.
    let entity = q("entity");
    let (entity_exact, entity_kind) = match &entity {
        Some(e) if e.contains(':') => (Some(e.clone()), None),
        Some(e) => (None, Some(format!("{e}:"))),
        None => (None, None),
    };
    // `action=crm:customer:*` matches a family of events.
    let action = q("action");
    let (action_exact, action_prefix) = match &action {
        Some(a) => match a.strip_suffix('*') {
            Some(p) => (None, Some(p.to_string())),
            None => (Some(a.clone()), None),
        },
        None => (None, None),
    };
    let (from, to) = (bound(&cx, "from")?, bound(&cx, "to")?);
    let db = cx.db()?;
    let rows: Vec<Row> = store::all(store::query(
        &db,
        "SELECT id, at_ms, actor, action, entity, changes FROM audit_log
         WHERE tenant_id = :tenant
           AND (:actor IS NULL OR actor = :actor)
           AND (:entity IS NULL OR entity = :entity)
           AND (:kind IS NULL OR substr(entity, 1, length(:kind)) = :kind)
           AND (:action IS NULL OR action = :action)
           AND (:prefix IS NULL OR substr(action, 1, length(:prefix)) = :prefix)
           AND (:from IS NULL OR at_ms >= :from)
           AND (:to IS NULL OR at_ms < :to)
           AND (:after IS NULL OR id < :after)
         ORDER BY id DESC LIMIT :limit",
        &[
            ("tenant", t(&who.tenant_id)),
            ("actor", ot(q("actor").as_deref())),
            ("entity", ot(entity_exact.as_deref())),
            ("kind", ot(entity_kind.as_deref())),
            ("action", ot(action_exact.as_deref())),
            ("prefix", ot(action_prefix.as_deref())),
            ("from", oi(from)),
            ("to", oi(to)),
            ("after", ot(page.after.as_deref())),
            ("limit", i(i64::from(page.limit) + 1)),
        ],
    )?)
    .await?;
    let (rows, next) = pagination::finish(rows, page.limit, |r| r.id.clone());
    let data: Vec<Value> = rows.iter().map(render).collect();
    json(200, &json!({"data": data, "next_cursor": next}))
}
