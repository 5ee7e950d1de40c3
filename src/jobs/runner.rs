//! The consumer loop every job queue shares: read each message on its own, claim the job
//! in D1 (so a duplicate delivery does the work once, and a run interrupted past its lease
//! is taken over), run the queue's handler, and ack, retry with backoff, or give up,
//! recording each step as a `job:*` event.

use super::retry_in;
use super::Change;
use crate::domain::jobs::{
    self as rules, Delivery, Failure, Job, JobMessage, JobStatus, QueueSpec,
};
use crate::store;
use serde_json::Value;
use worker::{Env, MessageBatch, MessageExt, RawMessage};

/// One run of one job, handed to the queue's handler.
pub struct Run<'a> {
    pub env: &'a Env,
    pub tenant: String,
    pub job: Job,
}

impl Run<'_> {
    /// Reports progress (0–100) as `job:progress`; small steps are skipped.
    pub async fn progress(&mut self, pct: u8) {
        let pct = pct.min(99);
        if pct < self.job.progress.saturating_add(10) {
            return;
        }
        let change = Change {
            progress: Some(pct),
            ..Change::to(JobStatus::Running, "job:progress")
        };
        match super::transition(self.env, &self.tenant, &self.job, change, vec![]).await {
            Ok(Some(j)) => self.job = j,
            Ok(None) => {}
            Err(e) => {
                worker::console_warn!("job {}: progress not recorded: {}", self.job.id, e.message)
            }
        }
    }
}

pub type Outcome = Result<Value, Failure>;

/// What to tell the queue about one message.
enum Verdict {
    Ack,
    RetryIn(u32),
    /// Retry without delay: on the last try this hands the message to the dead-letter queue.
    Retry,
}

pub async fn consume(batch: &MessageBatch<Value>, env: &Env, spec: QueueSpec) {
    let base = backoff_base(env);
    for msg in batch.raw_iter() {
        let verdict = handle(env, spec, &msg, base).await;
        match verdict {
            Verdict::Ack => msg.ack(),
            Verdict::RetryIn(s) => retry_in(&msg, s),
            Verdict::Retry => retry_in(&msg, 0),
        }
    }
}

/// 5 s by default, overridable (`JOB_BACKOFF_BASE_SECONDS`) so tests need not wait.
pub fn backoff_base(env: &Env) -> u32 {
    crate::config::get(env).job_backoff_base_seconds
}

async fn handle(env: &Env, spec: QueueSpec, msg: &RawMessage, base: u32) -> Verdict {
    let body: Option<Value> = serde_wasm_bindgen::from_value(msg.body()).ok();
    let Some(m) = body.as_ref().and_then(JobMessage::parse) else {
        // Poison: nothing can ever read it, so it goes straight to the dead letters.
        super::dead_letter::record(
            env,
            spec.name,
            &msg.id(),
            "malformed message",
            body.as_ref(),
        )
        .await;
        return Verdict::Ack;
    };
    let Ok(db) = store::db(env) else {
        return Verdict::RetryIn(base);
    };
    // A message naming another queue's job names no job of this queue.
    let row = super::load_row(&db, &m.tenant_id, &m.job_id)
        .await
        .map(|r| r.filter(|r| r.queue == spec.name));
    let (job, lease_left): (Job, i64) = match row {
        Ok(Some(r)) => {
            let left = rules::lease_left_ms(r.lease_until(), crate::platform::now_ms());
            (r.into(), left)
        }
        Ok(None) => {
            super::dead_letter::record(env, spec.name, &msg.id(), "no such job", body.as_ref())
                .await;
            return Verdict::Ack;
        }
        Err(_) => return Verdict::RetryIn(base),
    };
    let reclaim = match rules::on_delivery(job.status, job.attempts, job.max_attempts, lease_left) {
        Delivery::Run => false,
        Delivery::Reclaim => {
            worker::console_warn!(
                "{}: job {} was interrupted; running it again",
                spec.name,
                job.id
            );
            true
        }
        // Another delivery holds it; come back once its lease could have run out.
        Delivery::Wait(secs) => return Verdict::RetryIn(secs),
        // Out of tries (a duplicate message reached a `failed` job, or the last try died).
        Delivery::Bury => {
            let reclaim = job.status == JobStatus::Running;
            return match super::bury(env, &m.tenant_id, &job, reclaim).await {
                Ok(_) => Verdict::Ack,
                Err(_) => Verdict::RetryIn(base),
            };
        }
        Delivery::Done => return Verdict::Ack, // a duplicate delivery does nothing
    };
    // Claim: -> running, attempt + 1, guarded by what we read (and the lease, on reclaim).
    let claimed = super::transition(
        env,
        &m.tenant_id,
        &job,
        Change {
            attempts: Some(job.attempts + 1),
            error: reclaim.then(|| "the previous try was interrupted".to_string()),
            reclaim,
            ..Change::to(JobStatus::Running, "job:progress")
        },
        vec![],
    )
    .await;
    let mut run = match claimed {
        Ok(Some(j)) => Run {
            env,
            tenant: m.tenant_id.clone(),
            job: j,
        },
        Ok(None) => return Verdict::Ack, // someone else claimed it first
        Err(_) => return Verdict::RetryIn(base),
    };
    let attempt = run.job.attempts;
    let outcome = super::execute(&mut run).await;
    let (change, verdict) = match outcome {
        Ok(result) => (
            Change {
                result: Some(result),
                ..Change::to(JobStatus::Completed, "job:completed")
            },
            Verdict::Ack,
        ),
        Err(failure) => {
            let status = rules::status_after_failure(&failure, attempt, spec.max_attempts());
            let verdict = match status {
                JobStatus::Retrying => Verdict::RetryIn(rules::backoff_seconds(base, attempt)),
                JobStatus::Failed => Verdict::Retry,
                _ => Verdict::Ack,
            };
            worker::console_warn!(
                "{}: job {} attempt {attempt}/{} failed ({status}): {}",
                spec.name,
                run.job.id,
                spec.max_attempts(),
                failure.message()
            );
            (
                Change {
                    error: Some(failure.message().chars().take(500).collect()),
                    ..Change::to(
                        status,
                        if status == JobStatus::Dead {
                            "job:dead"
                        } else {
                            "job:failed"
                        },
                    )
                },
                verdict,
            )
        }
    };
    match super::transition(env, &m.tenant_id, &run.job, change, vec![]).await {
        Ok(Some(j)) if j.status == JobStatus::Dead => {
            super::on_dead(env, &m.tenant_id, &j).await;
            verdict
        }
        Ok(_) => verdict,
        // The work is done or failed, but its record is not: let the queue redeliver; the
        // handlers are idempotent per job id, so a redelivery does not repeat the effect.
        Err(_) => Verdict::RetryIn(base),
    }
}
