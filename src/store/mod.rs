//! D1 access shared by the resources: the binding, argument helpers, statement runners
//! and one mapping of D1 failures to `ApiError`. The SQL itself lives beside each resource.

pub mod dashboard;
pub mod sql;

use crate::domain::error::{ApiError, ApiResult};
use serde::de::DeserializeOwned;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result, Env};

thread_local! {
    /// D1 round trips of the request being polled (`web::observe` scopes it per request).
    static D1_CALLS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Counts one D1 round trip.
pub fn count_d1_call() {
    D1_CALLS.with(|c| c.set(c.get().saturating_add(1)));
}

/// Replaces the D1 call counter, returning the old value.
pub fn swap_d1_calls(n: u32) -> u32 {
    D1_CALLS.with(|c| c.replace(n))
}

pub fn db(env: &Env) -> ApiResult<D1Database> {
    env.d1("DB").map_err(|e| internal("D1 binding DB", e))
}

pub fn internal(what: &str, e: impl std::fmt::Display) -> ApiError {
    worker::console_error!("{what}: {e}");
    ApiError::internal()
}

/// Text argument.
pub fn t(s: &str) -> JsValue {
    JsValue::from_str(s)
}

/// Nullable text argument.
pub fn ot(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, JsValue::from_str)
}

/// Integer argument (D1 numbers are f64 on the JS side; ids/counters stay far below 2^53).
pub fn i(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

pub fn stmt(db: &D1Database, sql: &str, args: &[JsValue]) -> ApiResult<D1PreparedStatement> {
    db.prepare(sql)
        .bind(args)
        .map_err(|e| internal("D1 bind", e))
}

/// A statement with named arguments, each bound beside its name:
/// `query(&db, "SELECT … WHERE tenant_id = :tenant AND id = :id", &[("tenant", t(x)), ("id", t(y))])`.
pub fn query(
    db: &D1Database,
    sql: &str,
    args: &[(&str, JsValue)],
) -> ApiResult<D1PreparedStatement> {
    let names: Vec<&str> = args.iter().map(|(n, _)| *n).collect();
    let sql = sql::positional(sql, &names).map_err(|e| internal("SQL parameters", e))?;
    let values: Vec<JsValue> = args.iter().map(|(_, v)| v.clone()).collect();
    stmt(db, &sql, &values)
}

pub async fn all<T: DeserializeOwned>(s: D1PreparedStatement) -> ApiResult<Vec<T>> {
    count_d1_call();
    let r = s.all().await.map_err(|e| internal("D1 query", e))?;
    r.results::<T>().map_err(|e| internal("D1 decode", e))
}

pub async fn first<T: DeserializeOwned>(s: D1PreparedStatement) -> ApiResult<Option<T>> {
    count_d1_call();
    s.first::<T>(None)
        .await
        .map_err(|e| internal("D1 query", e))
}

pub async fn run(s: D1PreparedStatement) -> ApiResult<D1Result> {
    count_d1_call();
    s.run().await.map_err(|e| internal("D1 run", e))
}

/// Runs statements atomically (a D1 batch is one transaction).
pub async fn batch(db: &D1Database, stmts: Vec<D1PreparedStatement>) -> ApiResult<Vec<D1Result>> {
    count_d1_call();
    db.batch(stmts).await.map_err(|e| internal("D1 batch", e))
}

/// Rows changed by a write.
pub fn changes(r: &D1Result) -> usize {
    r.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0)
}

/// Serializes a value for a JSON TEXT column.
pub fn json_text<T: serde::Serialize>(v: &T) -> ApiResult<String> {
    serde_json::to_string(v).map_err(|e| internal("JSON encode", e))
}
