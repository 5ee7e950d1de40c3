//! Background jobs on Cloudflare Queues: the `jobs` rows that track them, the dispatch of
//! each queue's batches to its consumer, and the lifecycle events (`job:*`).

pub mod email;
pub mod email_provider;
pub mod maintenance_cron;

use crate::domain::error::{ApiError, ApiResult};
use crate::domain::jobs::Job;
use crate::realtime::outbox;
use crate::store::{self, i, ot, t};
use serde::Deserialize;
use serde_json::Value;
use worker::{D1Database, D1PreparedStatement, Env, MessageBatch};

/// Retries the queue itself makes (wrangler.toml `max_retries`); after them, the DLQ.
pub const MAX_RETRIES: u32 = 3;

#[derive(Deserialize)]
struct JobRow {
    id: String,
    queue: String,
    kind: String,
    status: String,
    attempts: f64,
    payload: String,
    result: Option<String>,
    last_error: Option<String>,
    created_by: String,
    created_at: String,
    updated_at: String,
}

impl From<JobRow> for Job {
    fn from(r: JobRow) -> Job {
        Job {
            id: r.id,
            queue: r.queue,
            kind: r.kind,
            status: r.status,
            attempts: r.attempts as u32,
            payload: serde_json::from_str(&r.payload).unwrap_or(Value::Null),
            result: r.result.and_then(|s| serde_json::from_str(&s).ok()),
            last_error: r.last_error,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

pub async fn load(db: &D1Database, tenant: &str, id: &str) -> ApiResult<Option<Job>> {
    let row: Option<JobRow> = store::first(store::stmt(
        db,
        "SELECT id, queue, kind, status, attempts, payload, result, last_error, created_by,
                created_at, updated_at
         FROM jobs WHERE tenant_id = ?1 AND id = ?2",
        &[t(tenant), t(id)],
    )?)
    .await?;
    Ok(row.map(Job::from))
}

/// The statement creating a queued job (to batch with the change that asks for it).
pub fn insert(db: &D1Database, tenant: &str, job: &Job) -> ApiResult<D1PreparedStatement> {
    store::stmt(
        db,
        "INSERT INTO jobs (tenant_id, id, queue, kind, status, attempts, payload, created_by,
                           created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 'queued', 0, ?5, ?6, ?7, ?7)",
        &[
            t(tenant),
            t(&job.id),
            t(&job.queue),
            t(&job.kind),
            t(&store::json_text(&job.payload)?),
            t(&job.created_by),
            t(&job.created_at),
        ],
    )
}

/// Moves a job to `status` and records its `job:<event>` event, atomically.
pub async fn transition(
    env: &Env,
    tenant: &str,
    mut job: Job,
    status: &str,
    event: &str,
    result: Option<Value>,
    error: Option<String>,
) -> ApiResult<Job> {
    let db = store::db(env)?;
    job.status = status.to_string();
    job.updated_at = crate::platform::iso(crate::platform::now_ms());
    if result.is_some() {
        job.result = result;
    }
    job.last_error = error;
    let result_text = match &job.result {
        Some(v) => Some(store::json_text(v)?),
        None => None,
    };
    let draft = outbox::draft(
        event,
        vec![
            "tenant".into(),
            format!("entity:job:{}", job.id),
            format!("user:{}", job.created_by),
        ],
        serde_json::to_value(&job)?,
    );
    store::batch(
        &db,
        vec![
            store::stmt(
                &db,
                "UPDATE jobs SET status = ?3, attempts = ?4, result = ?5, last_error = ?6,
                 updated_at = ?7 WHERE tenant_id = ?1 AND id = ?2",
                &[
                    t(tenant),
                    t(&job.id),
                    t(status),
                    i(i64::from(job.attempts)),
                    ot(result_text.as_deref()),
                    ot(job.last_error.as_deref()),
                    t(&job.updated_at),
                ],
            )?,
            outbox::insert(&db, tenant, &draft)?,
        ],
    )
    .await?;
    outbox::deliver_after_write(env, tenant).await;
    Ok(job)
}

/// Sends each batch to its queue's consumer.
pub async fn dispatch(batch: MessageBatch<Value>, env: &Env) -> worker::Result<()> {
    let queue = batch.queue();
    match queue.as_str() {
        email::QUEUE => email::consume(batch, env).await,
        email::DEAD_LETTER_QUEUE => email::consume_dead(batch, env).await,
        other => {
            worker::console_error!(
                "no consumer for queue {other}; acking {} messages",
                batch.messages()?.len()
            );
            batch.ack_all();
            Ok(())
        }
    }
}

pub fn not_found() -> ApiError {
    ApiError::not_found("job")
}
