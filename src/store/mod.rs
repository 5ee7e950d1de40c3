//! D1 access shared by the resources: the binding, argument helpers, statement builders
//! with named parameters (`query`, `insert`, `update`), statement runners and one mapping
//! of D1 failures to `ApiError`. The SQL itself lives beside each resource.

pub mod dashboard;
pub mod notifications;
pub mod row;
pub mod sql;

use crate::domain::error::{ApiError, ApiResult};
use crate::domain::status::Status;
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

/// Nullable integer argument.
pub fn oi(n: Option<i64>) -> JsValue {
    n.map_or(JsValue::NULL, i)
}

/// A status argument (its stored text).
pub fn st(s: impl Status) -> JsValue {
    t(s.as_str())
}

/// A status as SQL literal text, only for a query that a partial index serves (its WHERE
/// must repeat the index's literal); everywhere else statuses are bound (`st`).
pub fn lit(s: impl Status) -> String {
    format!("'{}'", s.as_str())
}

/// One named argument: `:name` in the SQL, its value beside it.
pub type Arg<'a> = (&'a str, JsValue);

fn prepare(db: &D1Database, sql: &str, args: &[JsValue]) -> ApiResult<D1PreparedStatement> {
    db.prepare(sql)
        .bind(args)
        .map_err(|e| internal("D1 bind", e))
}

/// A statement with named arguments, each bound beside its name:
/// `query(&db, "SELECT … WHERE tenant_id = :tenant AND id = :id", &[("tenant", t(x)), ("id", t(y))])`.
pub fn query(db: &D1Database, sql: &str, args: &[Arg<'_>]) -> ApiResult<D1PreparedStatement> {
    let names: Vec<&str> = args.iter().map(|(n, _)| *n).collect();
    let sql = sql::positional(sql, &names).map_err(|e| internal("SQL parameters", e))?;
    let values: Vec<JsValue> = args.iter().map(|(_, v)| v.clone()).collect();
    prepare(db, &sql, &values)
}

/// `cols` then `args`, as one argument list.
fn joined<'a>(cols: &[Arg<'a>], args: &[Arg<'a>]) -> Vec<Arg<'a>> {
    cols.iter().chain(args).cloned().collect()
}

fn names<'a>(cols: &[Arg<'a>]) -> Vec<&'a str> {
    cols.iter().map(|(n, _)| *n).collect()
}

/// `INSERT INTO table (a, b) VALUES (:a, :b)`: each column beside its value (the
/// parameters are named after the columns).
pub fn insert(db: &D1Database, table: &str, cols: &[Arg<'_>]) -> ApiResult<D1PreparedStatement> {
    query(db, &sql::insert_values(table, &names(cols)), cols)
}

/// `insert` followed by `tail` (an `ON CONFLICT …` clause, a `RETURNING`), which may use
/// the columns' names and its own `args`.
pub fn insert_then(
    db: &D1Database,
    table: &str,
    cols: &[Arg<'_>],
    tail: &str,
    args: &[Arg<'_>],
) -> ApiResult<D1PreparedStatement> {
    let sql = format!("{} {tail}", sql::insert_values(table, &names(cols)));
    query(db, &sql, &joined(cols, args))
}

/// `INSERT INTO table (a, b) SELECT :a, :b WHERE cond`: the row is written only when
/// `cond` holds at commit time. `cond` may use the columns' names (`:tenant_id`,
/// `:customer_id`) and its own `args`, and may end in an `ON CONFLICT …` clause.
pub fn insert_if(
    db: &D1Database,
    table: &str,
    cols: &[Arg<'_>],
    cond: &str,
    args: &[Arg<'_>],
) -> ApiResult<D1PreparedStatement> {
    let sql = format!("{} WHERE {cond}", sql::insert_select(table, &names(cols)));
    query(db, &sql, &joined(cols, args))
}

/// `UPDATE table SET a = :a, b = :b <rest>`: each column beside its value. `rest` is the
/// remainder of the statement (further `, col = <expr>` assignments, the `WHERE` clause),
/// which may use the columns' names and its own `args`.
pub fn update(
    db: &D1Database,
    table: &str,
    set: &[Arg<'_>],
    rest: &str,
    args: &[Arg<'_>],
) -> ApiResult<D1PreparedStatement> {
    let sql = format!(
        "UPDATE {table} SET {} {rest}",
        sql::assignments(&names(set))
    );
    query(db, &sql, &joined(set, args))
}

pub async fn all<T: DeserializeOwned>(s: D1PreparedStatement) -> ApiResult<Vec<T>> {
    count_d1_call();
    let r = s.all().await.map_err(|e| internal("D1 query", e))?;
    rows(&r)
}

/// Each row read twice, as `A` and as `B` (the fields each names): a row's extra columns
/// beside a resource, without `#[serde(flatten)]`, whose buffering decoder is large.
pub async fn all_pairs<A: DeserializeOwned, B: DeserializeOwned>(
    s: D1PreparedStatement,
) -> ApiResult<Vec<(A, B)>> {
    count_d1_call();
    let r = s.all().await.map_err(|e| internal("D1 query", e))?;
    let raw = raw_rows(&r)?;
    let mut out = Vec::with_capacity(raw.len());
    for v in raw {
        out.push((decode(v.0.clone())?, decode(v.0)?));
    }
    Ok(out)
}

pub async fn first<T: DeserializeOwned>(s: D1PreparedStatement) -> ApiResult<Option<T>> {
    count_d1_call();
    let row = s
        .first::<row::Raw>(None)
        .await
        .map_err(|e| internal("D1 query", e))?;
    row.map(|r| decode(r.0)).transpose()
}

/// A result's rows as `T` (decoded by `row`, not serde_wasm_bindgen: see there).
/// A plain loop over the non-generic `raw_rows`: this function is compiled once per row
/// type, so it stays small (an iterator `collect` into `Result` cost ~1 KB per type).
pub fn rows<T: DeserializeOwned>(r: &D1Result) -> ApiResult<Vec<T>> {
    let raw = raw_rows(r)?;
    let mut out = Vec::with_capacity(raw.len());
    for v in raw {
        out.push(decode(v.0)?);
    }
    Ok(out)
}

#[inline(never)]
fn raw_rows(r: &D1Result) -> ApiResult<Vec<row::Raw>> {
    r.results::<row::Raw>()
        .map_err(|e| internal("D1 decode", e))
}

/// One row as `T`.
pub fn decode<T: DeserializeOwned>(v: JsValue) -> ApiResult<T> {
    row::from_js(v).map_err(decode_failed)
}

#[inline(never)]
#[cold]
fn decode_failed(e: row::Error) -> ApiError {
    internal("D1 decode", e)
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
