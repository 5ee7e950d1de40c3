//! The `email` queue: welcome-email jobs for new customers, their consumer (send through
//! the configured provider, retry with backoff) and the dead-letter consumer.

use super::email_provider::{EmailProvider, OutgoingEmail};
use crate::domain::auth::Principal;
use crate::domain::customer::Customer;
use crate::domain::error::ApiResult;
use crate::domain::jobs::{backoff_seconds, Job, JobMessage};
use crate::store;
use serde_json::{json, Value};
use worker::{
    D1Database, D1PreparedStatement, Env, MessageBatch, MessageExt, QueueRetryOptionsBuilder,
};

pub const QUEUE: &str = "pulse-email";
pub const DEAD_LETTER_QUEUE: &str = "pulse-email-dlq";
pub const KIND_WELCOME: &str = "welcome_email";

/// Adds the welcome job's row to `stmts` (the customer's create batch); returns its id.
pub fn welcome_job(
    db: &D1Database,
    who: &Principal,
    c: &Customer,
    to: &str,
    stmts: &mut Vec<D1PreparedStatement>,
) -> ApiResult<String> {
    let job = Job {
        id: crate::platform::new_id("job"),
        queue: QUEUE.into(),
        kind: KIND_WELCOME.into(),
        status: "queued".into(),
        attempts: 0,
        payload: json!({"customer_id": c.id, "to": to, "name": c.name}),
        result: None,
        last_error: None,
        created_by: who.user_id.clone(),
        created_at: c.created_at.clone(),
        updated_at: c.created_at.clone(),
    };
    stmts.push(super::insert(db, &who.tenant_id, &job)?);
    Ok(job.id)
}

/// Puts the job on the queue. The row is already committed; if the send fails the job
/// stays `queued` and the cron re-enqueues it.
pub async fn enqueue(env: &Env, tenant: &str, job_id: &str) {
    let msg = JobMessage {
        tenant_id: tenant.into(),
        job_id: job_id.into(),
    };
    let sent = match env.queue("EMAIL_QUEUE") {
        Ok(q) => q.send(&msg).await,
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        worker::console_error!("email enqueue of {job_id} failed (cron will retry): {e}");
    }
}

fn parse(body: &Value) -> Option<JobMessage> {
    serde_json::from_value(body.clone()).ok()
}

fn render(job: &Job, from: &str, tenant: &str) -> Option<OutgoingEmail> {
    let to = job.payload.get("to")?.as_str()?.to_string();
    let name = job
        .payload
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("there");
    Some(OutgoingEmail {
        tenant_id: tenant.into(),
        job_id: job.id.clone(),
        from: from.into(),
        to,
        subject: "Welcome!".into(),
        body: format!(
            "Hello {name},\n\nthank you for your interest. Your agent will be in touch soon.\n"
        ),
    })
}

pub async fn consume(batch: MessageBatch<Value>, env: &Env) -> worker::Result<()> {
    let provider = EmailProvider::from_env(env);
    let from = env
        .var("EMAIL_FROM")
        .map(|v| v.to_string())
        .unwrap_or_else(|_| "Pulse <no-reply@pulse.example>".into());
    for msg in batch.messages()? {
        let Some(m) = parse(msg.body()) else {
            worker::console_error!("email: malformed message {} dropped", msg.id());
            msg.ack();
            continue;
        };
        match process(env, &provider, &from, &m).await {
            Ok(()) => msg.ack(),
            Err(Some(attempt)) => msg.retry_with_options(
                &QueueRetryOptionsBuilder::new()
                    .with_delay_seconds(backoff_seconds(attempt))
                    .build(),
            ),
            Err(None) => msg.retry(),
        }
    }
    Ok(())
}

/// `Ok` = done with this message (sent, or nothing to do); `Err(attempt)` = retry it.
async fn process(
    env: &Env,
    provider: &Result<EmailProvider, String>,
    from: &str,
    m: &JobMessage,
) -> Result<(), Option<u32>> {
    let db = store::db(env).map_err(|_| None)?;
    let Some(mut job) = super::load(&db, &m.tenant_id, &m.job_id)
        .await
        .map_err(|_| None)?
    else {
        worker::console_warn!(
            "email: job {} of {} not found; dropped",
            m.job_id,
            m.tenant_id
        );
        return Ok(());
    };
    if matches!(job.status.as_str(), "completed" | "dead") {
        return Ok(()); // a duplicate delivery of a finished job
    }
    job.attempts += 1;
    let attempt = job.attempts;
    let outcome = match (provider, render(&job, from, &m.tenant_id)) {
        (Err(e), _) => Err(e.clone()),
        (_, None) => Err("job payload has no recipient".to_string()),
        (Ok(p), Some(email)) => p.send(env, &email).await,
    };
    match outcome {
        Ok(provider_id) => {
            super::transition(
                env,
                &m.tenant_id,
                job,
                "completed",
                "job:completed",
                Some(json!({"provider_message_id": provider_id})),
                None,
            )
            .await
            .map_err(|_| Some(attempt))?;
            Ok(())
        }
        Err(e) => {
            worker::console_warn!("email: job {} attempt {attempt} failed: {e}", m.job_id);
            let _ = super::transition(
                env,
                &m.tenant_id,
                job,
                "failed",
                "job:failed",
                None,
                Some(e),
            )
            .await;
            Err(Some(attempt))
        }
    }
}

/// Messages that exhausted their retries: the job is marked `dead` and `job:dead` emitted.
pub async fn consume_dead(batch: MessageBatch<Value>, env: &Env) -> worker::Result<()> {
    for msg in batch.messages()? {
        if let Some(m) = parse(msg.body()) {
            if let Ok(db) = store::db(env) {
                if let Ok(Some(job)) = super::load(&db, &m.tenant_id, &m.job_id).await {
                    if job.status != "completed" {
                        let err = job.last_error.clone();
                        if super::transition(env, &m.tenant_id, job, "dead", "job:dead", None, err)
                            .await
                            .is_err()
                        {
                            msg.retry();
                            continue;
                        }
                    }
                }
            }
        }
        msg.ack();
    }
    Ok(())
}
