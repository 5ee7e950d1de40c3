//! A handler's input: the request, the env, the path parameters, the caller the router
//! verified for the endpoint's access rule, and what every handler reads (D1, the typed
//! config, the clock), so no handler opens with its own token and binding lines.

use crate::config::Config;
use crate::domain::auth::{AuthError, Principal};
use crate::domain::error::{ApiError, ApiResult};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use worker::{D1Database, Env, Request, Response};

/// A feature's handler as the endpoint table names it (a non-capturing closure
/// `|c| Box::pin(api::customers::list(c))` coerces to it).
pub type Handler = fn(Ctx) -> Pin<Box<dyn Future<Output = ApiResult<Response>>>>;

pub struct Ctx {
    pub req: Request,
    pub env: Env,
    params: Vec<String>,
    caller: Option<Rc<Principal>>,
}

impl Ctx {
    pub fn new(req: Request, env: Env, params: Vec<String>, caller: Option<Principal>) -> Self {
        Ctx {
            req,
            env,
            params,
            caller: caller.map(Rc::new),
        }
    }

    /// The verified caller; 401 on a route that verified none (a public route).
    pub fn who(&self) -> ApiResult<Rc<Principal>> {
        self.caller
            .clone()
            .ok_or_else(|| ApiError::unauthorized(AuthError::Missing.message()))
    }

    /// The verified caller, if the route's access rule admitted one (`Access::Optional`
    /// routes may have none).
    pub fn caller(&self) -> Option<Rc<Principal>> {
        self.caller.clone()
    }

    /// The `n`th `:param` of the route's path ("" when the route has fewer).
    pub fn param(&self, n: usize) -> &str {
        self.params.get(n).map_or("", String::as_str)
    }

    /// The first path parameter as a record id: a malformed one is a 404 for `what`, like an
    /// unknown one.
    pub fn path_id(&self, what: &str) -> ApiResult<String> {
        super::body::path_id(self.param(0), what)
    }

    /// The tenant's D1 database.
    pub fn db(&self) -> ApiResult<D1Database> {
        crate::store::db(&self.env)
    }

    /// The typed settings of this isolate.
    pub fn config(&self) -> Rc<Config> {
        crate::config::get(&self.env)
    }

    /// The clock, milliseconds since the epoch.
    pub fn now_ms(&self) -> i64 {
        crate::platform::now_ms()
    }

    /// The clock as RFC 3339 (what rows store).
    pub fn now_iso(&self) -> String {
        crate::platform::iso(self.now_ms())
    }

    /// The JSON body (415 unless `application/json`, 413 past the cap, 400 malformed).
    pub async fn json(&mut self) -> ApiResult<Value> {
        super::body::json(&mut self.req).await
    }

    /// Like `json`, but an absent or empty body reads as `{}`.
    pub async fn json_or_empty(&mut self) -> ApiResult<Value> {
        super::body::json_or_empty(&mut self.req).await
    }

    /// A versioned update's body and the version it expects (`version` or `If-Match`).
    pub async fn versioned_json(&mut self) -> ApiResult<(Value, Option<i64>)> {
        super::body::versioned_json(&mut self.req).await
    }

    /// The raw body, read as it streams in: 413 past `limit` bytes (never buffered beyond it).
    pub async fn bytes(&mut self, limit: usize) -> ApiResult<Vec<u8>> {
        super::body::read_limited(&mut self.req, limit).await
    }

    /// A query parameter.
    pub fn query(&self, key: &str) -> Option<String> {
        super::body::query(&self.req, key)
    }

    /// `?limit=` and `?cursor=` of a list request.
    pub fn page(&self) -> ApiResult<crate::domain::pagination::Page> {
        super::body::page(&self.req)
    }
}
