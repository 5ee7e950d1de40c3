//! Generic REST for the schema-described resources (`/api/owners`, `/api/properties`,
//! `/api/seekers`): create, list with filters, get, patch, delete, each write with its
//! `<events>:added|updated|deleted` event in the same D1 batch.

use crate::domain::error::{ApiError, ApiResult};
use crate::domain::schema::{self, Kind, Spec};
use crate::realtime::outbox;
use crate::store::{self, i, t};
use crate::web::ctx::Ctx;
use crate::web::respond::{json, json_page};
use serde_json::{Map, Value};
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, Response};

const META: [&str; 3] = ["created_by", "created_at", "updated_at"];

fn columns(spec: &Spec) -> String {
    let mut c = vec!["id"];
    c.extend(spec.fields.iter().map(|f| f.name));
    c.extend(META);
    c.join(", ")
}

/// A column value as a D1 argument (lists as JSON text, booleans as 0/1).
fn arg(v: &Value) -> JsValue {
    match v {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => i(i64::from(*b)),
        Value::Number(n) => n.as_i64().map_or(JsValue::NULL, i),
        Value::String(s) => t(s),
        other => t(&other.to_string()),
    }
}

/// A D1 row as the API returns it (lists parsed, booleans and integers restored).
pub fn from_row(spec: &Spec, mut row: Map<String, Value>) -> Map<String, Value> {
    for f in spec.fields {
        let v = row.remove(f.name).unwrap_or(Value::Null);
        let v = match (f.kind, v) {
            (Kind::List(..), Value::String(s)) => {
                serde_json::from_str(&s).unwrap_or(Value::Array(vec![]))
            }
            (Kind::Bool, Value::Number(n)) => Value::Bool(n.as_f64().unwrap_or(0.0) != 0.0),
            (Kind::Int(..) | Kind::Money, Value::Number(n)) => {
                Value::from(n.as_f64().unwrap_or(0.0) as i64)
            }
            (_, v) => v,
        };
        row.insert(f.name.to_string(), v);
    }
    row
}

pub async fn load(
    db: &D1Database,
    spec: &Spec,
    tenant: &str,
    id: &str,
) -> ApiResult<Option<Map<String, Value>>> {
    let row: Option<Map<String, Value>> = store::first(store::stmt(
        db,
        &format!(
            "SELECT {} FROM {} WHERE tenant_id = ?1 AND id = ?2",
            columns(spec),
            spec.table
        ),
        &[t(tenant), t(id)],
    )?)
    .await?;
    Ok(row.map(|r| from_row(spec, r)))
}

fn channels(spec: &Spec, id: &str) -> Vec<String> {
    vec!["tenant".into(), format!("entity:{}:{id}", spec.name)]
}

/// `… WHERE` conditions that every `Ref` field (placeholder `?k`) names a row of the tenant.
fn ref_checks(spec: &Spec, first_param: usize) -> String {
    let mut conds = vec!["1".to_string()];
    for (k, f) in spec.fields.iter().enumerate() {
        if let Kind::Ref(table) = f.kind {
            let p = first_param + k;
            conds.push(format!("(?{p} IS NULL OR EXISTS (SELECT 1 FROM {table} WHERE tenant_id = ?1 AND id = ?{p}))"));
        }
    }
    conds.join(" AND ")
}

fn bad_ref(spec: &Spec) -> ApiError {
    let names: Vec<&str> = spec
        .fields
        .iter()
        .filter(|f| matches!(f.kind, Kind::Ref(_)))
        .map(|f| f.name)
        .collect();
    ApiError::field(
        names.first().copied().unwrap_or("body"),
        format!("{}: no such record in this tenant", names.join(" or ")),
    )
}

pub async fn create(spec: &Spec, mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let input = cx.json().await?;
    let values = schema::validate_create(spec, &input)?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let now = cx.now_iso();
    let id = crate::platform::new_id(spec.id_prefix);
    let mut record = Map::new();
    record.insert("id".into(), Value::String(id.clone()));
    record.extend(values.clone());
    record.insert("created_by".into(), Value::String(who.user_id.clone()));
    record.insert("created_at".into(), Value::String(now.clone()));
    record.insert("updated_at".into(), Value::String(now.clone()));
    // ?1 tenant, ?2 id, ?3.. fields, then created_by, created_at (= updated_at).
    let n = spec.fields.len();
    let params: Vec<String> = (3..3 + n).map(|k| format!("?{k}")).collect();
    let sql = format!(
        "INSERT INTO {} (tenant_id, {}) SELECT ?1, ?2, {}, ?{}, ?{}, ?{} WHERE {}",
        spec.table,
        columns(spec),
        params.join(", "),
        3 + n,
        4 + n,
        4 + n,
        ref_checks(spec, 3)
    );
    let mut args = vec![t(tenant), t(&id)];
    args.extend(spec.fields.iter().map(|f| arg(&values[f.name])));
    args.push(t(&who.user_id));
    args.push(t(&now));
    let event = outbox::draft(
        &format!("{}:added", spec.events),
        channels(spec, &id),
        Value::Object(record.clone()),
    );
    let results = outbox::commit_and_deliver(
        &cx.env,
        &db,
        tenant,
        vec![
            store::stmt(&db, &sql, &args)?,
            outbox::insert_if_exists(&db, tenant, &event, spec.table, &id)?,
        ],
        true,
    )
    .await?;
    if results.first().map(store::changes) != Some(1) {
        return Err(bad_ref(spec));
    }
    let mut resp = json(201, &record)?;
    resp.headers_mut()
        .set("location", &format!("/api/{}/{id}", spec.table))?;
    Ok(resp)
}

pub async fn list(spec: &Spec, cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let page = cx.page()?;
    let mut conds = vec!["tenant_id = ?1".to_string()];
    let mut args = vec![t(&who.tenant_id)];
    for f in spec.filters {
        let Some(v) = cx.query(f.param).filter(|v| !v.is_empty()) else {
            continue;
        };
        let a = if f.int {
            let n = match v.as_str() {
                "true" => 1,
                "false" => 0,
                s => s.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!("{} must be an integer", f.param))
                })?,
            };
            i(n)
        } else {
            t(&v)
        };
        args.push(a);
        conds.push(format!("{} {} ?{}", f.column, f.op, args.len()));
    }
    if let Some(after) = &page.after {
        args.push(t(after));
        conds.push(format!("id < ?{}", args.len()));
    }
    args.push(i(i64::from(page.limit) + 1));
    let db = cx.db()?;
    let rows: Vec<Map<String, Value>> = store::all(store::stmt(
        &db,
        &format!(
            "SELECT {} FROM {} WHERE {} ORDER BY id DESC LIMIT ?{}",
            columns(spec),
            spec.table,
            conds.join(" AND "),
            args.len()
        ),
        &args,
    )?)
    .await?;
    let rows: Vec<Map<String, Value>> = rows.into_iter().map(|r| from_row(spec, r)).collect();
    json_page(rows, page.limit, |r| {
        r.get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    })
}

pub async fn get(spec: &Spec, cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id(spec.name)?;
    let db = cx.db()?;
    match load(&db, spec, &who.tenant_id, &id).await? {
        Some(r) => json(200, &r),
        None => Err(ApiError::not_found(spec.name)),
    }
}

/// `PUT` (partial, like the other resources): the given fields only (`null` clears an optional one), guarded by the
/// `updated_at` that was read, so a concurrent change is a 409 rather than lost.
pub async fn update(spec: &Spec, mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id(spec.name)?;
    let input = cx.json().await?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let current = load(&db, spec, tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(spec.name))?;
    let changes = schema::validate_patch(spec, &input, &current)?;
    let now = cx.now_iso();
    let mut record = current.clone();
    record.extend(changes.clone());
    record.insert("updated_at".into(), Value::String(now.clone()));
    // ?1 tenant, ?2 id, ?3 read updated_at, ?4 now, ?5.. changed fields (in spec order).
    let changed: Vec<&schema::Field> = spec
        .fields
        .iter()
        .filter(|f| changes.contains_key(f.name))
        .collect();
    let sets: Vec<String> = changed
        .iter()
        .enumerate()
        .map(|(k, f)| format!("{} = ?{}", f.name, 5 + k))
        .collect();
    let mut args = vec![
        t(tenant),
        t(&id),
        t(current
            .get("updated_at")
            .and_then(Value::as_str)
            .unwrap_or("")),
        t(&now),
    ];
    args.extend(changed.iter().map(|f| arg(&changes[f.name])));
    let refs: Vec<String> = changed
        .iter()
        .enumerate()
        .filter_map(|(k, f)| match f.kind {
            Kind::Ref(table) => Some(format!(
                "(?{p} IS NULL OR EXISTS (SELECT 1 FROM {table} WHERE tenant_id = ?1 AND id = ?{p}))",
                p = 5 + k
            )),
            _ => None,
        })
        .collect();
    let guard = if refs.is_empty() {
        String::new()
    } else {
        format!(" AND {}", refs.join(" AND "))
    };
    let sql = format!(
        "UPDATE {} SET {}, updated_at = ?4 WHERE tenant_id = ?1 AND id = ?2 AND updated_at = ?3{guard}",
        spec.table,
        sets.join(", ")
    );
    let event = outbox::draft(
        &format!("{}:updated", spec.events),
        channels(spec, &id),
        Value::Object(record.clone()),
    );
    let results = outbox::commit_and_deliver(
        &cx.env,
        &db,
        tenant,
        vec![
            store::stmt(&db, &sql, &args)?,
            outbox::insert_when(
                &db,
                tenant,
                &event,
                &format!(
                    "SELECT 1 FROM {} WHERE tenant_id = ?2 AND id = ?8 AND updated_at = ?9",
                    spec.table
                ),
                &[t(&id), t(&now)],
            )?,
        ],
        true,
    )
    .await?;
    if results.first().map(store::changes) != Some(1) {
        if !refs.is_empty() {
            return Err(bad_ref(spec));
        }
        return Err(ApiError::new(
            409,
            "conflict",
            format!("the {} changed meanwhile; read it again", spec.name),
        ));
    }
    json(200, &record)
}

pub async fn delete(spec: &Spec, cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id(spec.name)?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let current = load(&db, spec, tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(spec.name))?;
    let event = outbox::draft(
        &format!("{}:deleted", spec.events),
        channels(spec, &id),
        Value::Object(current),
    );
    // The event is recorded first, while the row still exists; both commit together.
    let results = outbox::commit_and_deliver(
        &cx.env,
        &db,
        tenant,
        vec![
            outbox::insert_if_exists(&db, tenant, &event, spec.table, &id)?,
            store::stmt(
                &db,
                &format!(
                    "DELETE FROM {} WHERE tenant_id = ?1 AND id = ?2",
                    spec.table
                ),
                &[t(tenant), t(&id)],
            )?,
        ],
        true,
    )
    .await?;
    if results.get(1).map(store::changes) != Some(1) {
        return Err(ApiError::not_found(spec.name));
    }
    Ok(Response::empty()?.with_status(204))
}
