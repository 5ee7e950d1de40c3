//! Each brokerage's own CORS origins as this isolate knows them: every tenant's list, read
//! from D1 at most once per `TENANT_ORIGINS_TTL_MS` and only for an origin the
//! deployment's `CORS_ORIGINS` does not already allow.

use crate::domain::cors::{self, TenantOrigins, TENANT_ORIGINS_TTL_MS};
use serde::Deserialize;
use std::cell::RefCell;
use std::rc::Rc;
use worker::Env;

thread_local! {
    /// (read at ms, the lists). Shared by reference so a check never copies them.
    static CACHE: RefCell<Option<(i64, Rc<TenantOrigins>)>> = const { RefCell::new(None) };
}

#[derive(Deserialize)]
struct Row {
    id: String,
    cors_origins: Option<String>,
}

/// A stored list (JSON array of origins); anything unreadable counts as none.
pub fn parse(stored: Option<&str>) -> Vec<String> {
    stored
        .and_then(|j| serde_json::from_str::<Vec<String>>(j).ok())
        .unwrap_or_default()
}

/// Drops this isolate's copy, after a settings write changed a list.
pub fn forget() {
    CACHE.with(|c| *c.borrow_mut() = None);
}

/// Every tenant's list: the cached copy while fresh, else read again. A failed read is
/// answered as "no tenant lists any origin" (the deployment's list still applies) and
/// retried on the next request.
pub async fn all(env: &Env) -> Rc<TenantOrigins> {
    let now = crate::platform::now_ms();
    let fresh = CACHE.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|(at, _)| now >= *at && now - at < TENANT_ORIGINS_TTL_MS)
            .map(|(_, t)| t.clone())
    });
    if let Some(t) = fresh {
        return t;
    }
    let Ok(rows) = read(env).await else {
        return Rc::new(TenantOrigins::default());
    };
    let t = Rc::new(TenantOrigins::new(
        rows.into_iter()
            .map(|r| (r.id, parse(r.cors_origins.as_deref()))),
    ));
    CACHE.with(|c| *c.borrow_mut() = Some((now, t.clone())));
    t
}

async fn read(env: &Env) -> crate::domain::error::ApiResult<Vec<Row>> {
    let db = crate::store::db(env)?;
    crate::store::all(crate::store::query(
        &db,
        "SELECT id, cors_origins FROM tenants
          WHERE cors_origins IS NOT NULL AND cors_origins != '[]'",
        &[],
    )?)
    .await
}

/// Whether a page at `origin` may read the answer: the deployment's list first (no D1),
/// then the tenants' own.
pub async fn allowed(env: &Env, origin: &str, caller_tenant: Option<&str>) -> bool {
    crate::config::get(env).cors.allow(origin).is_some()
        || tenant_allowed(env, origin, caller_tenant).await
}

/// Whether the tenants' own lists let a page at `origin` read the answer
/// (`cors::tenant_allows`), for a caller the deployment's list did not already allow.
pub async fn tenant_allowed(env: &Env, origin: &str, caller_tenant: Option<&str>) -> bool {
    cors::valid_origin(origin) && cors::tenant_allows(&*all(env).await, caller_tenant, origin)
}
