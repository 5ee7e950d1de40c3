//! `GET /api/jobs/:id`: a background job's status, tenant-scoped.

use crate::domain::auth::Action;
use crate::domain::error::ApiResult;
use crate::http::router::json;
use crate::http::{auth, body};
use worker::{Env, Request, Response};

pub async fn get(req: Request, env: &Env, id: &str) -> ApiResult<Response> {
    let who = auth::require(&req, env, Action::Read)?;
    let id = body::path_id(id, "job")?;
    let db = crate::store::db(env)?;
    match crate::jobs::load(&db, &who.tenant_id, &id).await? {
        Some(job) => json(200, &job),
        None => Err(crate::jobs::not_found()),
    }
}
