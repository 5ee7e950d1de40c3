//! `GET /api/dashboard` (the snapshot as the caller may read it) and the
//! `reports:dashboard:updated` announcement after a change to the money figures.

use crate::domain::error::ApiResult;
use crate::domain::policy;
use crate::store;
pub use crate::store::dashboard::snapshot;
use crate::web::ctx::Ctx;
use crate::web::respond::json;
use worker::{Env, Response};

/// After a change that moves the money figures (sales, payments, commission approvals):
/// records `reports:dashboard:updated` with a fresh snapshot, then delivers the tenant's
/// pending events (the change's own and this one) to the hub in one go. The snapshot is
/// derived data, so a failure to build it is only logged; delivery happens regardless.
pub async fn announce_and_deliver(env: &Env, tenant: &str) {
    let record = async {
        let snap = snapshot(env, tenant).await?;
        let db = store::db(env)?;
        let event = crate::realtime::outbox::draft(
            "reports:dashboard:updated",
            vec!["tenant".into()],
            snap,
        );
        store::run(crate::realtime::outbox::insert(&db, tenant, &event)?).await?;
        Ok::<(), crate::domain::error::ApiError>(())
    };
    if let Err(e) = record.await {
        worker::console_warn!("dashboard announce for {tenant} failed: {}", e.message);
    }
    crate::realtime::outbox::deliver_after_write(env, tenant).await;
}

/// The snapshot with the money figures the caller may read (`policy::redact_dashboard`:
/// admins all, brokers their own, viewers none), like the `dashboard` channel.
pub async fn get(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let snap = snapshot(&cx.env, &who.tenant_id).await?;
    json(200, &policy::redact_dashboard(&who.reader(), &snap))
}
