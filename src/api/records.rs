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
use worker::{D1Database, D1PreparedStatement, Response};

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
            (Kind::Bool, Value::Number(n)) => Value::Bool(n.as_i64().unwrap_or(0) != 0),
            (Kind::Int(..) | Kind::Money, Value::Number(n)) => Value::from(n.as_i64().unwrap_or(0)),
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
    let row: Option<Map<String, Value>> = store::first(store::query(
        db,
        &format!(
            "SELECT {} FROM {} WHERE tenant_id = :tenant AND id = :id",
            columns(spec),
            spec.table
        ),
        &[("tenant", t(tenant)), ("id", t(id))],
    )?)
    .await?;
    Ok(row.map(|r| from_row(spec, r)))
}

fn channels(spec: &Spec, id: &str) -> Vec<String> {
    vec!["tenant".into(), format!("entity:{}:{id}", spec.name)]
}

/// `… WHERE` conditions that each `Ref` field of `fields` (bound as `:<field name>`) is
/// NULL or names a row of the tenant (`:<tenant>`).
fn ref_checks<'a>(fields: impl Iterator<Item = &'a schema::Field>, tenant: &str) -> Vec<String> {
    fields
        .filter_map(|f| match f.kind {
            Kind::Ref(table) => Some(format!(
                "(:{p} IS NULL OR EXISTS (SELECT 1 FROM {table} WHERE tenant_id = :{tenant} AND id = :{p}))",
                p = f.name
            )),
            _ => None,
        })
        .collect()
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
    let mut cols = vec![("tenant_id", t(tenant)), ("id", t(&id))];
    cols.extend(spec.fields.iter().map(|f| (f.name, arg(&values[f.name]))));
    cols.extend([
        ("created_by", t(&who.user_id)),
        ("created_at", t(&now)),
        ("updated_at", t(&now)),
    ]);
    let mut checks = vec!["1".to_string()];
    checks.extend(ref_checks(spec.fields.iter(), "tenant_id"));
    let event = outbox::draft(
        &format!("{}:added", spec.events),
        channels(spec, &id),
        Value::Object(record.clone()),
    )
    .by(&who.user_id);
    let results = outbox::commit_and_deliver(
        &cx.env,
        &db,
        tenant,
        vec![
            store::insert_if(&db, spec.table, &cols, &checks.join(" AND "), &[])?,
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
    // Each given filter `?param=` is bound as `:param`.
    let mut conds = vec!["tenant_id = :tenant".to_string()];
    let mut args = vec![("tenant", t(&who.tenant_id))];
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
        args.push((f.param, a));
        conds.push(format!("{} {} :{}", f.column, f.op, f.param));
    }
    if let Some(after) = &page.after {
        args.push(("after", t(after)));
        conds.push("id < :after".to_string());
    }
    args.push(("limit", i(i64::from(page.limit) + 1)));
    let db = cx.db()?;
    let rows: Vec<Map<String, Value>> = store::all(store::query(
        &db,
        &format!(
            "SELECT {} FROM {} WHERE {} ORDER BY id DESC LIMIT :limit",
            columns(spec),
            spec.table,
            conds.join(" AND ")
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
    // The changed fields (in spec order), each bound as `:<field name>`.
    let changed: Vec<&schema::Field> = spec
        .fields
        .iter()
        .filter(|f| changes.contains_key(f.name))
        .collect();
    let mut set: Vec<store::Arg<'_>> = changed
        .iter()
        .map(|f| (f.name, arg(&changes[f.name])))
        .collect();
    set.push(("updated_at", t(&now)));
    let refs = ref_checks(changed.iter().copied(), "tenant");
    let guard: String = refs.iter().map(|r| format!(" AND {r}")).collect();
    let read = current
        .get("updated_at")
        .and_then(Value::as_str)
        .unwrap_or("");
    let names: Vec<&str> = spec.fields.iter().map(|f| f.name).collect();
    let event = outbox::draft(
        &format!("{}:updated", spec.events),
        channels(spec, &id),
        crate::domain::event::with_changes(
            &Value::Object(current.clone()),
            Value::Object(record.clone()),
            &names,
        ),
    )
    .by(&who.user_id);
    let results = outbox::commit_and_deliver(
        &cx.env,
        &db,
        tenant,
        vec![
            store::update(
                &db,
                spec.table,
                &set,
                &format!("WHERE tenant_id = :tenant AND id = :id AND updated_at = :read{guard}"),
                &[("tenant", t(tenant)), ("id", t(&id)), ("read", t(read))],
            )?,
            outbox::insert_when(
                &db,
                tenant,
                &event,
                &format!(
                    "SELECT 1 FROM {} WHERE tenant_id = :tenant AND id = :row AND updated_at = :at",
                    spec.table
                ),
                &[("row", t(&id)), ("at", t(&now))],
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
    // A property marked sold comes off the portals (the cron retries if this is cut short).
    let sold = crate::domain::status::PropertyStatus::Sold.as_str();
    if spec.table == "properties" && changes.get("status").and_then(Value::as_str) == Some(sold) {
        if let Err(e) = super::publishing::unpublish_sold(&cx.env, Some(tenant), Some(&id)).await {
            worker::console_error!("unpublishing a sold property failed: {}", e.message);
        }
    }
    json(200, &record)
}

pub async fn delete(spec: &Spec, cx: Ctx) -> ApiResult<Response> {
    delete_with(spec, &cx, |_, _, _| Ok(Vec::new())).await?;
    Ok(Response::empty()?.with_status(204))
}

/// `delete`, with what `also(db, tenant, id)` returns committed in the same batch (what
/// goes with the row). Returns the tenant and the id deleted.
pub async fn delete_with(
    spec: &Spec,
    cx: &Ctx,
    also: fn(&D1Database, &str, &str) -> ApiResult<Vec<D1PreparedStatement>>,
) -> ApiResult<(String, String)> {
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
    )
    .by(&who.user_id);
    // The event is recorded first, while the row still exists; all commit together.
    let mut stmts = vec![
        outbox::insert_if_exists(&db, tenant, &event, spec.table, &id)?,
        store::query(
            &db,
            &format!(
                "DELETE FROM {} WHERE tenant_id = :tenant AND id = :id",
                spec.table
            ),
            &[("tenant", t(tenant)), ("id", t(&id))],
        )?,
    ];
    stmts.extend(also(&db, tenant, &id)?);
    let results = outbox::commit_and_deliver(&cx.env, &db, tenant, stmts, true).await?;
    if results.get(1).map(store::changes) != Some(1) {
        return Err(ApiError::not_found(spec.name));
    }
    Ok((tenant.to_string(), id))
}
