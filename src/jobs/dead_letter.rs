//! The dead-letter queue's consumer: a job whose message ran out of retries is marked
//! `dead` (`job:dead`) when its own tries are used up too, and re-sent when only that
//! message ran out; poison messages that name no job are kept in `dead_letters`.

use crate::domain::jobs::{self as rules, DeadLetter, JobMessage};
use crate::store::{self, t};
use serde_json::Value;
use worker::{Env, MessageBatch, MessageExt};

pub async fn consume(batch: &MessageBatch<Value>, env: &Env) {
    for msg in batch.raw_iter() {
        let body: Option<Value> = serde_wasm_bindgen::from_value(msg.body()).ok();
        let Some(m) = body.as_ref().and_then(JobMessage::parse) else {
            record(
                env,
                super::rules::DEAD_LETTER_QUEUE,
                &msg.id(),
                "malformed message",
                body.as_ref(),
            )
            .await;
            msg.ack();
            continue;
        };
        if mark_dead(env, &m).await {
            msg.ack();
        } else {
            super::retry_in(&msg, 5);
        }
    }
}

/// `false` when D1 could not be reached (try again later).
async fn mark_dead(env: &Env, m: &JobMessage) -> bool {
    let Ok(db) = store::db(env) else { return false };
    let row = match super::load_row(&db, &m.tenant_id, &m.job_id).await {
        Ok(r) => r,
        Err(_) => return false,
    };
    let Some(row) = row else { return true };
    let left = rules::lease_left_ms(row.lease_until(), crate::platform::now_ms());
    let job: rules::Job = row.into();
    match rules::on_dead_letter(job.status, job.attempts, job.max_attempts, left) {
        DeadLetter::Leave => true,
        DeadLetter::Resend => {
            super::send(env, &[(job.queue.as_str(), m.clone())]).await;
            true
        }
        DeadLetter::Bury => {
            let reclaim = job.status == rules::JobStatus::Running;
            super::bury(env, &m.tenant_id, &job, reclaim).await.is_ok()
        }
    }
}

/// Batches from a queue this worker has no consumer for.
pub async fn consume_unknown(batch: &MessageBatch<Value>, env: &Env, queue: &str) {
    for msg in batch.raw_iter() {
        let body: Option<Value> = serde_wasm_bindgen::from_value(msg.body()).ok();
        record(
            env,
            queue,
            &msg.id(),
            "no consumer for this queue",
            body.as_ref(),
        )
        .await;
        msg.ack();
    }
}

/// Keeps a message nobody can process (once per queue and message id).
pub async fn record(env: &Env, queue: &str, message_id: &str, reason: &str, body: Option<&Value>) {
    worker::console_error!("{queue}: message {message_id} dead-lettered: {reason}");
    let text: String = body
        .map(|b| b.to_string())
        .unwrap_or_else(|| "<not JSON>".into())
        .chars()
        .take(2048)
        .collect();
    let now = crate::platform::iso(crate::platform::now_ms());
    let stmt = store::db(env).and_then(|db| {
        store::insert_then(
            &db,
            "dead_letters",
            &[
                ("id", t(&crate::platform::new_id("dl"))),
                ("queue", t(queue)),
                ("message_id", t(message_id)),
                ("reason", t(reason)),
                ("body", t(&text)),
                ("created_at", t(&now)),
            ],
            "ON CONFLICT (queue, message_id) DO NOTHING",
            &[],
        )
    });
    if let Ok(s) = stmt {
        if let Err(e) = store::run(s).await {
            worker::console_error!("dead letter not stored: {}", e.message);
        }
    }
}
