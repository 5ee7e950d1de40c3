//! Background job rules (pure): the job resource, its lifecycle, retry backoff, how a
//! provider's answer is classified, and the queues with their retry budgets.

pub use super::status::JobStatus;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A job as `GET /api/jobs/:id` returns it and `job:*` events carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub queue: String,
    pub kind: String,
    pub status: JobStatus,
    /// Tries made so far (1 during the first run).
    pub attempts: u32,
    /// Tries allowed by the queue's configuration before the job goes dead.
    pub max_attempts: u32,
    pub progress: u8,
    pub payload: Value,
    pub result: Option<Value>,
    pub last_error: Option<String>,
    pub subject: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

pub const STATUSES: &[&str] = &[
    "queued",
    "running",
    "retrying",
    "completed",
    "failed",
    "dead",
];

/// The queue message: ids only (far below Queues' 128 KB); the job row holds the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobMessage {
    pub tenant_id: String,
    pub job_id: String,
}

impl JobMessage {
    /// Reads a queue body; `None` for anything that is not exactly a job message with
    /// plausible ids (a poison message, which goes straight to the dead letters).
    pub fn parse(body: &Value) -> Option<JobMessage> {
        let m: JobMessage = serde_json::from_value(body.clone()).ok()?;
        let ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 128
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(&b))
        };
        (ok(&m.tenant_id) && ok(&m.job_id)).then_some(m)
    }
}

/// One queue: its name in wrangler.toml, its producer binding, and its retry budget
/// (`max_retries` of its consumer in wrangler.toml; a unit test keeps the two equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: &'static str,
    pub binding: &'static str,
    pub max_retries: u32,
}

impl QueueSpec {
    /// Total tries: the first plus the retries.
    pub fn max_attempts(&self) -> u32 {
        self.max_retries + 1
    }
}

/// Retry budgets, counted as retries after the first try (wrangler.toml's `max_retries`).
pub const EMAIL: QueueSpec = QueueSpec {
    name: "pulse-email",
    binding: "EMAIL_QUEUE",
    max_retries: 3,
};
pub const SMS: QueueSpec = QueueSpec {
    name: "pulse-sms",
    binding: "SMS_QUEUE",
    max_retries: 4,
};
pub const PUBLISHING: QueueSpec = QueueSpec {
    name: "pulse-publishing",
    binding: "PUBLISHING_QUEUE",
    max_retries: 3,
};
pub const MATCHING: QueueSpec = QueueSpec {
    name: "pulse-matching",
    binding: "MATCHING_QUEUE",
    max_retries: 2,
};
pub const REPORTS: QueueSpec = QueueSpec {
    name: "pulse-reports",
    binding: "REPORTS_QUEUE",
    max_retries: 4,
};
/// The one dead-letter queue every consumer above hands exhausted messages to.
pub const DEAD_LETTER_QUEUE: &str = "pulse-dead-letter";

pub const QUEUES: &[QueueSpec] = &[EMAIL, SMS, PUBLISHING, MATCHING, REPORTS];

pub fn queue(name: &str) -> Option<QueueSpec> {
    QUEUES.iter().copied().find(|q| q.name == name)
}

/// Longest delay Queues accepts for a retry (12 h).
pub const MAX_DELAY_SECONDS: u32 = 43_200;

/// Delay before the next try after try `attempt` (1-based) failed: `base × 2^(attempt-1)`,
/// so with the default base of 5 s: 5, 10, 20, 40 s... capped at 12 h.
pub fn backoff_seconds(base: u32, attempt: u32) -> u32 {
    let exp = attempt.saturating_sub(1).min(20);
    base.max(1)
        .saturating_mul(1u32 << exp)
        .min(MAX_DELAY_SECONDS)
}

/// Why a try failed, as far as retrying goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth another try (5xx, 408, 429, timeouts, network errors, our own D1 hiccups).
    Transient(String),
    /// Will fail the same way again (4xx, bad payload): not retried, the job ends `dead`.
    Permanent(String),
}

impl Failure {
    pub fn message(&self) -> &str {
        match self {
            Failure::Transient(m) | Failure::Permanent(m) => m,
        }
    }
}

/// Classifies a provider's HTTP answer: `None` on success.
pub fn classify_http(status: u16, body_excerpt: &str) -> Option<Failure> {
    let msg = format!("provider answered {status}: {body_excerpt}");
    match status {
        200..=299 => None,
        408 | 425 | 429 => Some(Failure::Transient(msg)),
        400..=499 => Some(Failure::Permanent(msg)),
        _ => Some(Failure::Transient(msg)),
    }
}

/// What a failed try leads to: `retrying` while the queue has retries left; after the
/// last try `failed`, and the queue hands the message to the dead-letter queue, whose
/// consumer marks the job `dead`. A permanent failure is not retried: `dead` at once.
pub fn status_after_failure(failure: &Failure, attempt: u32, max_attempts: u32) -> JobStatus {
    match failure {
        Failure::Permanent(_) => JobStatus::Dead,
        Failure::Transient(_) if attempt < max_attempts => JobStatus::Retrying,
        Failure::Transient(_) => JobStatus::Failed,
    }
}

/// Whether an admin may re-run the job (`POST /api/jobs/:id/retry`).
pub fn retryable_by_admin(status: JobStatus) -> bool {
    matches!(status, JobStatus::Dead | JobStatus::Failed)
}

/// How long a run's claim lasts by default; every progress step renews it.
pub const DEFAULT_LEASE_MS: i64 = 5 * 60 * 1000;
/// A `queued` job untouched this long is assumed lost on its way to the queue.
pub const STALE_QUEUED_MS: i64 = 2 * 60 * 1000;
/// A `failed` job (its last try failed) that no dead-letter delivery marked `dead` within
/// this long is marked by the cron.
pub const FAILED_GRACE_MS: i64 = 60 * 1000;

/// Milliseconds left on a running claim at `now_ms`; 0 when it has run out, is missing or
/// cannot be read (nothing holds the job then).
pub fn lease_left_ms(lease_until: Option<&str>, now_ms: i64) -> i64 {
    lease_until
        .and_then(super::time::parse_rfc3339)
        .map_or(0, |until| (until - now_ms).max(0))
}

/// What one delivery of a job's message does, from the job as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Claim it (guarded by status and attempt as read) and run it.
    Run,
    /// Its last run ended without a record (crash, CPU limit): claim it again, guarded by
    /// the expired lease as well, and run it.
    Reclaim,
    /// A run holds a live lease: come back after this many seconds.
    Wait(u32),
    /// No tries left (`failed`, or the last try was interrupted): mark it `dead`.
    Bury,
    /// Finished (`completed`, `dead`): nothing to do.
    Done,
}

/// The delivery rule: every job ends `completed` or `dead`, whichever message reaches it.
pub fn on_delivery(
    status: JobStatus,
    attempts: u32,
    max_attempts: u32,
    lease_left_ms: i64,
) -> Delivery {
    match status {
        JobStatus::Queued | JobStatus::Retrying => Delivery::Run,
        JobStatus::Running if lease_left_ms > 0 => {
            let secs = (lease_left_ms + 999) / 1000 + 1;
            Delivery::Wait(secs.clamp(1, i64::from(MAX_DELAY_SECONDS)) as u32)
        }
        JobStatus::Running if attempts < max_attempts => Delivery::Reclaim,
        JobStatus::Running | JobStatus::Failed => Delivery::Bury,
        JobStatus::Completed | JobStatus::Dead => Delivery::Done,
    }
}

/// What the dead-letter consumer does with a job whose message ran out of deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetter {
    /// The job still has tries (only this message ran out): send it a fresh message.
    Resend,
    /// Mark it `dead`.
    Bury,
    /// Nothing: finished, or a live run holds it (the cron reclaims it if that run dies).
    Leave,
}

pub fn on_dead_letter(
    status: JobStatus,
    attempts: u32,
    max_attempts: u32,
    lease_left_ms: i64,
) -> DeadLetter {
    match on_delivery(status, attempts, max_attempts, lease_left_ms) {
        Delivery::Run | Delivery::Reclaim => DeadLetter::Resend,
        Delivery::Bury => DeadLetter::Bury,
        Delivery::Wait(_) | Delivery::Done => DeadLetter::Leave,
    }
}

/// What the every-minute sweep does with a job that may be stuck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sweep {
    /// Its message was probably lost: send another (a duplicate is harmless).
    Resend,
    /// Its run was interrupted with tries left: `retrying` (`job:failed`), then resend.
    Retry,
    /// Out of tries: `dead` (`job:dead`).
    Bury,
    Skip,
}

/// `idle_ms` = time since the row last changed; `base` = the backoff base in seconds.
pub fn sweep(
    status: JobStatus,
    attempts: u32,
    max_attempts: u32,
    lease_left_ms: i64,
    idle_ms: i64,
    base: u32,
) -> Sweep {
    match status {
        JobStatus::Queued if idle_ms >= STALE_QUEUED_MS => Sweep::Resend,
        JobStatus::Retrying
            if idle_ms >= i64::from(backoff_seconds(base, attempts)) * 1000 + STALE_QUEUED_MS =>
        {
            Sweep::Resend
        }
        JobStatus::Running if lease_left_ms <= 0 && attempts < max_attempts => Sweep::Retry,
        JobStatus::Running if lease_left_ms <= 0 => Sweep::Bury,
        JobStatus::Failed if idle_ms >= FAILED_GRACE_MS => Sweep::Bury,
        _ => Sweep::Skip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use JobStatus as J;

    #[test]
    fn backoff_doubles_from_the_base() {
        assert_eq!(backoff_seconds(5, 1), 5);
        assert_eq!(backoff_seconds(5, 2), 10);
        assert_eq!(backoff_seconds(5, 3), 20);
        assert_eq!(backoff_seconds(1, 3), 4);
        assert_eq!(backoff_seconds(5, 0), 5);
        assert_eq!(backoff_seconds(5, 60), MAX_DELAY_SECONDS);
        assert_eq!(backoff_seconds(0, 2), 2);
    }

    #[test]
    fn http_answers_are_classified() {
        assert_eq!(classify_http(200, ""), None);
        assert_eq!(classify_http(204, ""), None);
        assert!(matches!(
            classify_http(500, "x"),
            Some(Failure::Transient(_))
        ));
        assert!(matches!(
            classify_http(503, "x"),
            Some(Failure::Transient(_))
        ));
        assert!(matches!(
            classify_http(429, "x"),
            Some(Failure::Transient(_))
        ));
        assert!(matches!(
            classify_http(400, "x"),
            Some(Failure::Permanent(_))
        ));
        assert!(matches!(
            classify_http(422, "x"),
            Some(Failure::Permanent(_))
        ));
    }

    #[test]
    fn failure_outcomes() {
        let t = Failure::Transient("x".into());
        let p = Failure::Permanent("x".into());
        assert_eq!(status_after_failure(&t, 1, 4), J::Retrying);
        assert_eq!(status_after_failure(&t, 4, 4), J::Failed);
        assert_eq!(status_after_failure(&p, 1, 4), J::Dead);
        assert!(retryable_by_admin(J::Dead) && retryable_by_admin(J::Failed));
        assert!(!retryable_by_admin(J::Completed) && !retryable_by_admin(J::Running));
    }

    #[test]
    fn messages_are_small_and_strict() {
        let m = JobMessage {
            tenant_id: "t".repeat(64),
            job_id: "j".repeat(64),
        };
        assert!(serde_json::to_vec(&m).unwrap().len() < 1024);
        assert!(JobMessage::parse(&json!({"tenant_id": "acme", "job_id": "job_1"})).is_some());
        assert!(JobMessage::parse(&json!("garbage")).is_none());
        assert!(JobMessage::parse(&json!({"tenant_id": "acme"})).is_none());
        assert!(JobMessage::parse(&json!({"tenant_id": "a", "job_id": "j", "x": 1})).is_none());
        assert!(JobMessage::parse(&json!({"tenant_id": "a b", "job_id": "j"})).is_none());
        assert!(JobMessage::parse(&json!({"tenant_id": "", "job_id": "j"})).is_none());
    }

    /// The retry budgets in code are the ones wrangler.toml gives the queue consumers.
    #[test]
    fn budgets_match_wrangler_toml() {
        let toml = include_str!("../../../../wrangler.toml");
        for q in QUEUES {
            let block = toml
                .split("[[queues.consumers]]")
                .skip(1)
                .find(|b| b.contains(&format!("queue = \"{}\"", q.name)))
                .unwrap_or_else(|| panic!("no consumer for {} in wrangler.toml", q.name));
            assert!(
                block.contains(&format!("max_retries = {}", q.max_retries)),
                "{}: wrangler.toml max_retries differs from {}",
                q.name,
                q.max_retries
            );
            assert!(
                block.contains(&format!("dead_letter_queue = \"{DEAD_LETTER_QUEUE}\"")),
                "{} has no dead-letter queue",
                q.name
            );
            assert!(
                toml.contains(&format!(
                    "queue = \"{}\"\nbinding = \"{}\"",
                    q.name, q.binding
                )),
                "{}: no producer binding {}",
                q.name,
                q.binding
            );
        }
    }
    #[test]
    fn leases() {
        let now = 1_800_000_000_000;
        let iso = crate::domain::time::format_ms;
        assert_eq!(lease_left_ms(Some(&iso(now + 1500)), now), 1500);
        assert_eq!(lease_left_ms(Some(&iso(now - 1)), now), 0);
        assert_eq!(lease_left_ms(None, now), 0);
        assert_eq!(lease_left_ms(Some("garbage"), now), 0);
    }

    #[test]
    fn every_delivery_moves_a_job_towards_an_end() {
        assert_eq!(on_delivery(J::Queued, 0, 3, 0), Delivery::Run);
        assert_eq!(on_delivery(J::Retrying, 2, 3, 0), Delivery::Run);
        // A live lease: come back just after it runs out.
        assert_eq!(on_delivery(J::Running, 1, 3, 1500), Delivery::Wait(3));
        assert_eq!(
            on_delivery(J::Running, 1, 3, i64::MAX / 2),
            Delivery::Wait(MAX_DELAY_SECONDS)
        );
        // The run died: run again while tries are left, else dead.
        assert_eq!(on_delivery(J::Running, 1, 3, 0), Delivery::Reclaim);
        assert_eq!(on_delivery(J::Running, 3, 3, 0), Delivery::Bury);
        // A duplicate message reaching a job whose last try failed buries it.
        assert_eq!(on_delivery(J::Failed, 3, 3, 0), Delivery::Bury);
        assert_eq!(on_delivery(J::Completed, 1, 3, 0), Delivery::Done);
        assert_eq!(on_delivery(J::Dead, 3, 3, 0), Delivery::Done);
    }

    #[test]
    fn dead_letters_never_kill_a_job_with_tries_left() {
        assert_eq!(on_dead_letter(J::Retrying, 1, 5, 0), DeadLetter::Resend);
        assert_eq!(on_dead_letter(J::Queued, 0, 5, 0), DeadLetter::Resend);
        assert_eq!(on_dead_letter(J::Running, 2, 5, 0), DeadLetter::Resend);
        assert_eq!(on_dead_letter(J::Running, 2, 5, 10_000), DeadLetter::Leave);
        assert_eq!(on_dead_letter(J::Running, 5, 5, 0), DeadLetter::Bury);
        assert_eq!(on_dead_letter(J::Failed, 5, 5, 0), DeadLetter::Bury);
        assert_eq!(on_dead_letter(J::Completed, 1, 5, 0), DeadLetter::Leave);
    }

    #[test]
    fn the_sweep_finds_stuck_jobs_only() {
        let min = 60_000;
        assert_eq!(sweep(J::Queued, 0, 3, 0, 3 * min, 5), Sweep::Resend);
        assert_eq!(sweep(J::Queued, 0, 3, 0, min, 5), Sweep::Skip);
        // A retrying job waits out its backoff first (attempt 2 at base 5 s: 10 s).
        assert_eq!(sweep(J::Retrying, 2, 4, 0, 2 * min, 5), Sweep::Skip);
        assert_eq!(
            sweep(J::Retrying, 2, 4, 0, 2 * min + 10_000, 5),
            Sweep::Resend
        );
        assert_eq!(sweep(J::Running, 1, 3, 0, 10 * min, 5), Sweep::Retry);
        assert_eq!(sweep(J::Running, 3, 3, 0, 10 * min, 5), Sweep::Bury);
        assert_eq!(sweep(J::Running, 1, 3, 5_000, 10 * min, 5), Sweep::Skip);
        assert_eq!(sweep(J::Failed, 3, 3, 0, 2 * min, 5), Sweep::Bury);
        assert_eq!(sweep(J::Failed, 3, 3, 0, 1_000, 5), Sweep::Skip);
        assert_eq!(sweep(J::Completed, 1, 3, 0, 10 * min, 5), Sweep::Skip);
        assert_eq!(sweep(J::Dead, 3, 3, 0, 10 * min, 5), Sweep::Skip);
    }
}
