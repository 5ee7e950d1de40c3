//! `POST /api/platform/tenants`: the operator adds a brokerage. Authorized by the
//! `PLATFORM_TOKEN` secret (`Access::Platform`), not a tenant token: it records the tenant
//! and invites its first admin, who sets their own password (`api::invitations`).

use crate::domain::error::{ApiError, ApiResult};
use crate::domain::user;
use crate::realtime::outbox;
use crate::store::{self, t};
use crate::web::ctx::Ctx;
use crate::web::respond::json;
use serde_json::json;
use worker::Response;

/// `{tenant, name, admin_email}` → 201 `{tenant: {id, name, created_at}, invitation}`, with
/// the invitation email job in `Pulse-Job-Id`. A tenant id that has a record or users
/// already is a 409, and nothing is written.
pub async fn create_tenant(mut cx: Ctx) -> ApiResult<Response> {
    let (tenant, name, admin_email) = user::validate_new_tenant(&cx.json().await?)?;
    let db = cx.db()?;
    let now_ms = cx.now_ms();
    let created_at = crate::platform::iso(now_ms);
    let tenant_row = store::query(
        &db,
        "INSERT INTO tenants (id, name, created_at)
         SELECT :tenant, :name, :created_at
         WHERE NOT EXISTS (SELECT 1 FROM tenants WHERE id = :tenant)
           AND NOT EXISTS (SELECT 1 FROM users WHERE tenant_id = :tenant)",
        &[
            ("tenant", t(&tenant)),
            ("name", t(&name)),
            ("created_at", t(&created_at)),
        ],
    )?;
    // The first admin's invitation, only with the tenant this batch created.
    let (rest, inv, job) = super::invitations::statements(
        &db,
        &tenant,
        &admin_email,
        "admin",
        "platform",
        now_ms,
        "EXISTS (SELECT 1 FROM tenants WHERE id = :tenant_id AND created_at = :tenant_created)",
        &[("tenant_created", t(&created_at))],
    )?;
    let mut stmts = vec![tenant_row];
    stmts.extend(rest);
    let results = store::batch(&db, stmts).await?;
    if results.first().map(store::changes) != Some(1) {
        return Err(ApiError::new(409, "conflict", "this tenant id is taken"));
    }
    super::job_store::enqueue(&cx.env, &tenant, std::slice::from_ref(&job)).await;
    outbox::deliver_after_write(&cx.env, &tenant).await;
    let mut resp = json(
        201,
        &json!({"tenant": {"id": tenant, "name": name, "created_at": created_at}, "invitation": inv}),
    )?;
    resp.headers_mut().set("pulse-job-id", &job.id)?;
    Ok(resp)
}
