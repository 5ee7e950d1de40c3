//! The every-minute cron: redrives undelivered outbox rows to the tenant hubs, announces
//! due follow-ups and upcoming appointments (with reminder emails), starts due publishing
//! schedules, forgets old idempotency keys and re-sends jobs whose queue send was lost.
//! Operator-level, so it spans tenants; each step is idempotent per period.

use crate::domain::jobs::JobMessage;
use crate::realtime::outbox;
use crate::store::{self, t};
use serde::Deserialize;
use worker::Env;

/// A `queued` job untouched this long is assumed lost on its way to the queue.
const STALE_QUEUED_MS: i64 = 2 * 60 * 1000;

#[derive(Deserialize)]
struct StaleJob {
    tenant_id: String,
    id: String,
    queue: String,
}

pub async fn run(env: &Env) {
    match outbox::redrive(env).await {
        Ok((tenants, events)) if tenants > 0 => {
            worker::console_log!("cron: redrove {events} events for {tenants} tenants")
        }
        Ok(_) => {}
        Err(e) => worker::console_error!("cron: outbox redrive failed: {}", e.message),
    }
    match crate::api::followups::announce_due(env).await {
        Ok(n) if n > 0 => worker::console_log!("cron: {n} follow-ups came due"),
        Ok(_) => {}
        Err(e) => worker::console_error!("cron: follow-up announcements failed: {}", e.message),
    }
    match crate::api::calendar::remind(env).await {
        Ok(n) if n > 0 => worker::console_log!("cron: {n} appointment reminders"),
        Ok(_) => {}
        Err(e) => worker::console_error!("cron: appointment reminders failed: {}", e.message),
    }
    match crate::api::publishing::start_due(env).await {
        Ok(n) if n > 0 => worker::console_log!("cron: started {n} publishing schedules"),
        Ok(_) => {}
        Err(e) => worker::console_error!("cron: publishing schedules failed: {}", e.message),
    }
    match crate::http::idempotency::cleanup(env).await {
        Ok(n) if n > 0 => worker::console_log!("cron: forgot {n} idempotency keys"),
        Ok(_) => {}
        Err(e) => worker::console_error!("cron: idempotency cleanup failed: {}", e.message),
    }
    if let Err(e) = requeue_stale(env).await {
        worker::console_error!("cron: job requeue failed: {}", e.message);
    }
}

async fn requeue_stale(env: &Env) -> crate::domain::error::ApiResult<()> {
    let db = store::db(env)?;
    let now = crate::platform::now_ms();
    let cutoff = crate::platform::iso(now - STALE_QUEUED_MS);
    let stale: Vec<StaleJob> = store::all(store::stmt(
        &db,
        "SELECT tenant_id, id, queue FROM jobs WHERE status = 'queued' AND updated_at < ?1
         ORDER BY updated_at LIMIT 100",
        &[t(&cutoff)],
    )?)
    .await?;
    if stale.is_empty() {
        return Ok(());
    }
    // Touch them first (one batch), so the next cron run does not send them again at once.
    let iso_now = crate::platform::iso(now);
    let touches = stale
        .iter()
        .map(|j| {
            store::stmt(
                &db,
                "UPDATE jobs SET updated_at = ?3 WHERE tenant_id = ?1 AND id = ?2 AND status = 'queued'",
                &[t(&j.tenant_id), t(&j.id), t(&iso_now)],
            )
        })
        .collect::<crate::domain::error::ApiResult<Vec<_>>>()?;
    store::batch(&db, touches).await?;
    let msgs: Vec<(&str, JobMessage)> = stale
        .iter()
        .map(|j| {
            let m = JobMessage {
                tenant_id: j.tenant_id.clone(),
                job_id: j.id.clone(),
            };
            (j.queue.as_str(), m)
        })
        .collect();
    super::send(env, &msgs).await;
    worker::console_log!("cron: re-sent {} stale queued jobs", stale.len());
    Ok(())
}
