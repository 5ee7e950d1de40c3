//! The every-minute cron: redrives undelivered outbox rows to the tenant hubs, announces
//! due follow-ups and upcoming appointments (with reminder emails), starts due publishing
//! schedules, takes listings of sold properties off the portals, flushes coalesced card scans, forgets old idempotency keys, removes deleted
//! photos' files from R2 (those a request could not), finishes stuck
//! jobs (lost messages, runs interrupted past their lease, `failed` jobs nobody buried)
//! and prunes what would otherwise grow forever, a bounded slice per run.
//! Operator-level, so it spans tenants; each step is idempotent per period.

use super::JobRow;
use crate::domain::error::ApiResult;
use crate::domain::jobs::{self as rules, JobMessage, JobStatus, Sweep};
use crate::realtime::outbox;
use crate::store::{self, i, t};
use worker::Env;

/// Rows each prune statement deletes per cron run at most (one short D1 batch).
const PRUNE_LIMIT: i64 = 500;
const DAY_MS: i64 = 24 * 3600 * 1000;
/// How long dead letters, login-attempt windows and raw card scans are kept. A card's
/// scan total lives on the card itself (`cards.scans`), so raw rows may go.
const DEAD_LETTERS_KEEP_MS: i64 = 30 * DAY_MS;
const LOGIN_ATTEMPTS_KEEP_MS: i64 = DAY_MS;
const CARD_SCANS_KEEP_MS: i64 = 90 * DAY_MS;
/// Jobs each sweep query looks at per run.
const SWEEP_LIMIT: i64 = 100;

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
    match crate::api::publishing::unpublish_sold(env, None, None).await {
        Ok(n) if n > 0 => worker::console_log!("cron: {n} unpublish jobs for sold properties"),
        Ok(_) => {}
        Err(e) => {
            worker::console_error!("cron: unpublishing sold properties failed: {}", e.message)
        }
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
    match crate::api::cards::flush_scans(env).await {
        Ok(n) if n > 0 => worker::console_log!("cron: announced pending scans of {n} cards"),
        Ok(_) => {}
        Err(e) => worker::console_error!("cron: card scan flush failed: {}", e.message),
    }
    match crate::web::idempotency::cleanup(env).await {
        Ok(n) if n > 0 => worker::console_log!("cron: forgot {n} idempotency keys"),
        Ok(_) => {}
        Err(e) => worker::console_error!("cron: idempotency cleanup failed: {}", e.message),
    }
    match crate::api::photos::purge(env).await {
        Ok(n) if n > 0 => worker::console_log!("cron: removed {n} deleted photos' files"),
        Ok(_) => {}
        Err(e) => worker::console_error!("cron: photo clean-up failed: {}", e.message),
    }
    if let Err(e) = sweep_jobs(env).await {
        worker::console_error!("cron: job sweep failed: {}", e.message);
    }
    match prune(env).await {
        Ok(n) if n > 0 => worker::console_log!("cron: pruned {n} old rows"),
        Ok(_) => {}
        Err(e) => worker::console_error!("cron: pruning failed: {}", e.message),
    }
}

/// Finds jobs that may be stuck (one query per kind, each on its partial index) and moves
/// each towards `completed` or `dead` (`rules::sweep`).
async fn sweep_jobs(env: &Env) -> ApiResult<()> {
    let db = store::db(env)?;
    let now = crate::platform::now_ms();
    let iso_now = crate::platform::iso(now);
    let cols = format!("tenant_id, {}, lease_until", super::COLUMNS);
    // Each: (the query's condition on `:bound`, that bound). The status literals repeat
    // those of the partial indexes the queries run on.
    let queries = [
        (
            format!(
                "status IN ({}, {}) AND updated_at < :bound ORDER BY updated_at",
                store::lit(JobStatus::Queued),
                store::lit(JobStatus::Retrying)
            ),
            crate::platform::iso(now - rules::STALE_QUEUED_MS),
        ),
        (
            format!(
                "status = {} AND (lease_until IS NULL OR lease_until < :bound) ORDER BY lease_until",
                store::lit(JobStatus::Running)
            ),
            iso_now.clone(),
        ),
        (
            format!(
                "status = {} AND updated_at < :bound ORDER BY updated_at",
                store::lit(JobStatus::Failed)
            ),
            crate::platform::iso(now - rules::FAILED_GRACE_MS),
        ),
    ];
    let stmts = queries
        .iter()
        .map(|(cond, bound)| {
            store::query(
                &db,
                &format!("SELECT {cols} FROM jobs WHERE {cond} LIMIT :limit"),
                &[("bound", t(bound)), ("limit", i(SWEEP_LIMIT))],
            )
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let mut rows: Vec<JobRow> = Vec::new();
    for r in store::batch(&db, stmts).await? {
        rows.extend(store::rows::<JobRow>(&r)?);
    }
    let base = super::runner::backoff_base(env);
    let mut resend: Vec<(String, rules::Job)> = Vec::new();
    let mut touches = Vec::new();
    let (mut retried, mut buried) = (0, 0);
    for r in rows {
        let left = rules::lease_left_ms(r.lease_until(), now);
        let tenant = r.tenant_id().to_string();
        let job: rules::Job = r.into();
        let idle =
            crate::domain::time::parse_rfc3339(&job.updated_at).map_or(i64::MAX, |u| now - u);
        match rules::sweep(job.status, job.attempts, job.max_attempts, left, idle, base) {
            Sweep::Skip => {}
            Sweep::Resend => {
                // Touched first, so the next run does not send it again at once.
                touches.push(store::update(
                    &db,
                    "jobs",
                    &[("updated_at", t(&iso_now))],
                    "WHERE tenant_id = :tenant AND id = :id AND status = :status",
                    &[
                        ("tenant", t(&tenant)),
                        ("id", t(&job.id)),
                        ("status", store::st(job.status)),
                    ],
                )?);
                resend.push((tenant, job));
            }
            Sweep::Retry => {
                let change = super::Change {
                    error: Some("interrupted: the run's lease ran out".into()),
                    reclaim: true,
                    ..super::Change::to(JobStatus::Retrying, "job:failed")
                };
                if let Some(j) = super::transition(env, &tenant, &job, change, vec![]).await? {
                    retried += 1;
                    resend.push((tenant, j));
                }
            }
            Sweep::Bury => {
                let reclaim = job.status == JobStatus::Running;
                if super::bury(env, &tenant, &job, reclaim).await? {
                    buried += 1;
                }
            }
        }
    }
    if !touches.is_empty() {
        store::batch(&db, touches).await?;
    }
    if !resend.is_empty() {
        let msgs: Vec<(&str, JobMessage)> = resend
            .iter()
            .map(|(tenant, j)| {
                let m = JobMessage {
                    tenant_id: tenant.clone(),
                    job_id: j.id.clone(),
                };
                (j.queue.as_str(), m)
            })
            .collect();
        super::send(env, &msgs).await;
    }
    if !resend.is_empty() || buried > 0 {
        worker::console_log!(
            "cron: jobs re-sent {}, interrupted runs retried {retried}, buried {buried}",
            resend.len()
        );
    }
    Ok(())
}

/// Deletes one bounded slice of each kind of expired row, in one D1 batch: delivered
/// outbox rows after 7 days, refresh tokens once expired, dead letters after 30 days,
/// login-attempt windows after a day, raw card scans and notifications after 90 days,
/// audit rows after a year. Returns rows deleted.
async fn prune(env: &Env) -> ApiResult<usize> {
    let db = store::db(env)?;
    let now = crate::platform::now_ms();
    // Deletes the rows of `table` whose `column` is before `before`.
    let bounded = |table: &str, column: &str, before| {
        store::query(
            &db,
            &format!(
                "DELETE FROM {table} WHERE rowid IN
                   (SELECT rowid FROM {table} WHERE {column} < :before LIMIT :limit)"
            ),
            &[("before", before), ("limit", i(PRUNE_LIMIT))],
        )
    };
    let stmts = vec![
        outbox::prune_delivered(&db, now - outbox::DELIVERED_KEEP_MS, PRUNE_LIMIT)?,
        bounded("refresh_tokens", "expires_ms", i(now))?,
        bounded(
            "dead_letters",
            "created_at",
            t(&crate::platform::iso(now - DEAD_LETTERS_KEEP_MS)),
        )?,
        bounded(
            "login_attempts",
            "window_start_ms",
            i(now - LOGIN_ATTEMPTS_KEEP_MS),
        )?,
        bounded("card_scans", "at_ms", i(now - CARD_SCANS_KEEP_MS))?,
        bounded(
            "notifications",
            "created_ms",
            i(now - crate::domain::notifications::KEEP_MS),
        )?,
        bounded("audit_log", "at_ms", i(now - crate::api::audit::KEEP_MS))?,
    ];
    let results = store::batch(&db, stmts).await?;
    Ok(results.iter().map(store::changes).sum())
}
