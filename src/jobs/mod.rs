//! Background jobs on Cloudflare Queues: the dispatch of each queue's batches to the
//! consumer file that owns that queue, burying exhausted jobs, and message retries. The
//! rows, transitions and sends are `api::job_store` (re-exported here).

pub mod dead_letter;
pub mod email;
pub mod maintenance_cron;
pub mod matching;
pub mod providers;
pub mod publishing;
pub mod reports;
pub mod runner;
pub mod sms;

use crate::domain::error::ApiResult;
use crate::domain::jobs::{self as rules, Job};
use serde_json::Value;
use worker::{Env, MessageBatch};

// The job rows themselves live with the features that create them (`api::job_store`);
// the queue side reads and moves them through the same functions.
pub use crate::api::job_store::*;

/// Sends each batch to the consumer of its queue. Never returns an error: every message
/// is acked or retried on its own, so one bad message cannot fail (and replay) a batch.
pub async fn dispatch(batch: MessageBatch<Value>, env: &Env) -> worker::Result<()> {
    let queue = batch.queue();
    if queue == rules::DEAD_LETTER_QUEUE {
        dead_letter::consume(&batch, env).await;
    } else if let Some(spec) = rules::queue(&queue) {
        runner::consume(&batch, env, spec).await;
    } else {
        worker::console_error!("no consumer for queue {queue}; its messages go to dead letters");
        dead_letter::consume_unknown(&batch, env, &queue).await;
    }
    Ok(())
}

/// Runs one claimed job with the handler of its queue.
async fn execute(run: &mut runner::Run<'_>) -> runner::Outcome {
    let q = run.job.queue.clone();
    if q == rules::EMAIL.name {
        email::run(run).await
    } else if q == rules::SMS.name {
        sms::run(run).await
    } else if q == rules::PUBLISHING.name {
        publishing::run(run).await
    } else if q == rules::MATCHING.name {
        matching::run(run).await
    } else if q == rules::REPORTS.name {
        reports::run(run).await
    } else {
        Err(rules::Failure::Permanent(format!(
            "no handler for queue {q}"
        )))
    }
}

/// Marks a job `dead` (`job:dead`) when its tries are used up, keeping its last error;
/// `reclaim` when it is `running` (its lease must have run out). Returns whether this
/// call made the change.
pub async fn bury(env: &Env, tenant: &str, job: &Job, reclaim: bool) -> ApiResult<bool> {
    let error = job.last_error.clone().or_else(|| {
        Some(if reclaim {
            "interrupted on its last try".into()
        } else {
            "retries exhausted".into()
        })
    });
    let change = Change {
        error,
        reclaim,
        ..Change::to(rules::JobStatus::Dead, "job:dead")
    };
    match transition(env, tenant, job, change, vec![]).await? {
        Some(dead) => {
            on_dead(env, tenant, &dead).await;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// A job went `dead`: lets its queue's domain record the failure on its own resource.
pub async fn on_dead(env: &Env, tenant: &str, job: &Job) {
    if job.queue == rules::REPORTS.name {
        reports::give_up(env, tenant, job).await;
    }
}

/// Retries a message after `seconds`. (Always with options: workers-rs's bare `retry()`
/// passes `null`, which the runtime rejects, and the `unwrap` inside would panic.)
pub fn retry_in(msg: &worker::RawMessage, seconds: u32) {
    worker::MessageExt::retry_with_options(
        msg,
        &worker::QueueRetryOptionsBuilder::new()
            .with_delay_seconds(seconds)
            .build(),
    );
}
