//! The `jobs` table: the rows that track background jobs, their creation (with
//! `job:queued`) and sending to their queue, state transitions with their `job:*` events,
//! and the jobs the API starts (welcome and reminder emails, customer SMS). Features create
//! jobs through this module; the queue consumers (`crate::jobs`) run them.

use crate::domain::auth::Principal;
use crate::domain::customer::Customer;
use crate::domain::error::{ApiError, ApiResult};
use crate::domain::jobs::{self as rules, Job, JobMessage, JobStatus, QueueSpec, EMAIL, SMS};
use crate::realtime::outbox;
use crate::store::{self, i, ot, st, t, Arg};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{D1Database, D1PreparedStatement, Env};

pub const COLUMNS: &str =
    "id, queue, kind, status, attempts, progress, payload, result, last_error,
    subject, created_by, created_at, updated_at, started_at, finished_at";

#[derive(Deserialize)]
pub struct JobRow {
    id: String,
    pub queue: String,
    kind: String,
    status: JobStatus,
    attempts: i64,
    progress: i64,
    payload: String,
    result: Option<String>,
    last_error: Option<String>,
    subject: Option<String>,
    created_by: String,
    created_at: String,
    updated_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    /// Only when selected (`COLUMNS` leaves them out: not part of the resource).
    lease_until: Option<String>,
    tenant_id: Option<String>,
}

impl JobRow {
    pub fn lease_until(&self) -> Option<&str> {
        self.lease_until.as_deref()
    }

    pub fn tenant_id(&self) -> &str {
        self.tenant_id.as_deref().unwrap_or_default()
    }
}

impl From<JobRow> for Job {
    fn from(r: JobRow) -> Job {
        let max_attempts = rules::queue(&r.queue).map_or(1, |q| q.max_attempts());
        Job {
            id: r.id,
            queue: r.queue,
            kind: r.kind,
            status: r.status,
            attempts: u32::try_from(r.attempts).unwrap_or(0),
            max_attempts,
            progress: r.progress.clamp(0, 100) as u8,
            payload: serde_json::from_str(&r.payload).unwrap_or(Value::Null),
            result: r.result.and_then(|s| serde_json::from_str(&s).ok()),
            last_error: r.last_error,
            subject: r.subject,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
        }
    }
}

pub async fn load(db: &D1Database, tenant: &str, id: &str) -> ApiResult<Option<Job>> {
    Ok(load_row(db, tenant, id).await?.map(Job::from))
}

/// The job's row with its lease (for the delivery rules).
pub async fn load_row(db: &D1Database, tenant: &str, id: &str) -> ApiResult<Option<JobRow>> {
    store::first(store::query(
        db,
        &format!("SELECT {COLUMNS}, lease_until FROM jobs WHERE tenant_id = :tenant AND id = :id"),
        &[("tenant", t(tenant)), ("id", t(id))],
    )?)
    .await
}

/// Who hears about a job: the tenant (as since the first job), anyone watching the job,
/// and its creator's own channel.
pub fn channels(job: &Job) -> Vec<String> {
    vec![
        "tenant".into(),
        format!("entity:job:{}", job.id),
        format!("user:{}", job.created_by),
    ]
}

/// A new queued job (not yet written).
pub fn new_job(
    created_by: &str,
    spec: QueueSpec,
    kind: &str,
    payload: Value,
    subject: Option<String>,
) -> Job {
    let now = crate::platform::iso(crate::platform::now_ms());
    Job {
        id: crate::platform::new_id("job"),
        queue: spec.name.into(),
        kind: kind.into(),
        status: JobStatus::Queued,
        attempts: 0,
        max_attempts: spec.max_attempts(),
        progress: 0,
        payload,
        result: None,
        last_error: None,
        subject,
        created_by: created_by.to_string(),
        created_at: now.clone(),
        updated_at: now,
        started_at: None,
        finished_at: None,
    }
}

/// The statements creating `job` and its `job:queued` event, to batch with the change
/// that asks for the work (so the job exists exactly when the change does).
pub fn insert(db: &D1Database, tenant: &str, job: &Job) -> ApiResult<Vec<D1PreparedStatement>> {
    insert_when(db, tenant, job, "SELECT 1", &[])
}

/// Like `insert`, but only when `cond_sql` (a `SELECT 1 …` that may use `:tenant` and the
/// names of `extra`; its own names must be other than the job's `job_*`) finds a row at
/// commit time.
pub fn insert_when(
    db: &D1Database,
    tenant: &str,
    job: &Job,
    cond_sql: &str,
    extra: &[Arg<'_>],
) -> ApiResult<Vec<D1PreparedStatement>> {
    let queued = outbox::draft("job:queued", channels(job), serde_json::to_value(job)?);
    let mut args = vec![
        ("tenant", t(tenant)),
        ("job_id", t(&job.id)),
        ("job_queue", t(&job.queue)),
        ("job_kind", t(&job.kind)),
        ("job_status", st(job.status)),
        ("job_attempts", i(i64::from(job.attempts))),
        ("job_progress", i(i64::from(job.progress))),
        ("job_payload", t(&store::json_text(&job.payload)?)),
        ("job_subject", ot(job.subject.as_deref())),
        ("job_created_by", t(&job.created_by)),
        ("job_created_at", t(&job.created_at)),
        ("job_updated_at", t(&job.updated_at)),
    ];
    args.extend_from_slice(extra);
    Ok(vec![
        store::query(
            db,
            &format!(
                "INSERT INTO jobs (tenant_id, id, queue, kind, status, attempts, progress, payload,
                                   subject, created_by, created_at, updated_at)
                 SELECT :tenant, :job_id, :job_queue, :job_kind, :job_status, :job_attempts,
                   :job_progress, :job_payload, :job_subject, :job_created_by, :job_created_at,
                   :job_updated_at
                 WHERE EXISTS ({cond_sql})"
            ),
            &args,
        )?,
        outbox::insert_if_exists(db, tenant, &queued, "jobs", &job.id)?,
    ])
}

/// Puts committed jobs on their queues, one `send_batch` per queue. A failed send leaves
/// the job `queued`; the cron re-sends it (`maintenance_cron`), so nothing is lost.
pub async fn enqueue(env: &Env, tenant: &str, jobs: &[Job]) {
    let msgs: Vec<(&str, JobMessage)> = jobs
        .iter()
        .map(|j| {
            let m = JobMessage {
                tenant_id: tenant.into(),
                job_id: j.id.clone(),
            };
            (j.queue.as_str(), m)
        })
        .collect();
    send(env, &msgs).await;
}

/// Sends `(queue name, message)` pairs, grouped into one `send_batch` per queue.
pub async fn send(env: &Env, msgs: &[(&str, JobMessage)]) {
    for spec in rules::QUEUES {
        let batch: Vec<&JobMessage> = msgs
            .iter()
            .filter(|(q, _)| *q == spec.name)
            .map(|(_, m)| m)
            .collect();
        if batch.is_empty() {
            continue;
        }
        let sent = match env.queue(spec.binding) {
            Ok(q) if batch.len() == 1 => q.send(batch[0]).await,
            Ok(q) => q.send_batch(batch.clone()).await,
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            worker::console_error!(
                "enqueue of {} jobs on {} failed (the cron re-sends them): {e}",
                batch.len(),
                spec.name
            );
        }
    }
}

/// How a job's row changes in a transition.
pub struct Change<'a> {
    pub status: JobStatus,
    pub event: &'a str,
    pub attempts: Option<u32>,
    pub result: Option<Value>,
    pub error: Option<String>,
    pub progress: Option<u8>,
    /// Also require the running claim to have run out (taking over an interrupted run).
    pub reclaim: bool,
}

impl Change<'_> {
    /// A change to `status` with `event` and nothing else (fill in the rest).
    pub fn to(status: JobStatus, event: &str) -> Change<'_> {
        Change {
            status,
            event,
            attempts: None,
            result: None,
            error: None,
            progress: None,
            reclaim: false,
        }
    }
}

/// How long a running claim lasts (`JOB_LEASE_MS`, default 5 min); progress renews it.
pub fn lease_ms(env: &Env) -> i64 {
    crate::config::get(env).job_lease_ms
}

/// Moves a job to a new status and records its `job:*` event in one D1 batch, guarded
/// by the status and attempt it was read with (a stale runner changes nothing) and, for
/// `reclaim`, by an expired lease (a live run is never taken over).
/// `extra` statements (the domain's own writes and events) commit in the same batch.
/// Returns the job as written, or `None` when the guard did not hold.
pub async fn transition(
    env: &Env,
    tenant: &str,
    job: &Job,
    change: Change<'_>,
    extra: Vec<D1PreparedStatement>,
) -> ApiResult<Option<Job>> {
    let db = store::db(env)?;
    let mut next = job.clone();
    let now = crate::platform::iso(crate::platform::now_ms());
    next.status = change.status;
    if let Some(a) = change.attempts {
        next.attempts = a;
    }
    next.updated_at = now.clone();
    if let Some(r) = change.result {
        next.result = Some(r);
    }
    if let Some(p) = change.progress {
        next.progress = p.min(100);
    }
    if change.status == JobStatus::Completed {
        next.progress = 100;
    }
    next.last_error = change.error.or(next.last_error);
    if matches!(change.status, JobStatus::Completed | JobStatus::Dead) {
        next.finished_at = Some(now.clone());
    }
    let result_text = match &next.result {
        Some(v) => Some(store::json_text(v)?),
        None => None,
    };
    let lease = (change.status == JobStatus::Running)
        .then(|| crate::platform::iso(crate::platform::now_ms() + lease_ms(env)));
    let draft = outbox::draft(change.event, channels(&next), serde_json::to_value(&next)?);
    let mut stmts = vec![
        store::update(
            &db,
            "jobs",
            &[
                ("status", st(next.status)),
                ("attempts", i(i64::from(next.attempts))),
                ("progress", i(i64::from(next.progress))),
                ("result", ot(result_text.as_deref())),
                ("last_error", ot(next.last_error.as_deref())),
                ("updated_at", t(&now)),
                ("finished_at", ot(next.finished_at.as_deref())),
                ("lease_until", ot(lease.as_deref())),
            ],
            ", started_at = COALESCE(started_at, CASE WHEN :status = :running THEN :updated_at END)
             WHERE tenant_id = :tenant AND id = :id AND status = :read_status
               AND attempts = :read_attempts
               AND (:reclaim = 0 OR lease_until IS NULL OR lease_until < :updated_at)",
            &[
                ("running", st(JobStatus::Running)),
                ("tenant", t(tenant)),
                ("id", t(&job.id)),
                ("read_status", st(job.status)),
                ("read_attempts", i(i64::from(job.attempts))),
                ("reclaim", i(i64::from(change.reclaim))),
            ],
        )?,
        outbox::insert_when(
            &db,
            tenant,
            &draft,
            "SELECT 1 FROM jobs WHERE tenant_id = :tenant AND id = :job
               AND status = :status AND updated_at = :at",
            &[
                ("job", t(&job.id)),
                ("status", st(next.status)),
                ("at", t(&now)),
            ],
        )?,
    ];
    stmts.extend(extra);
    let results = store::batch(&db, stmts).await?;
    if results.first().map(store::changes) != Some(1) {
        return Ok(None);
    }
    outbox::deliver_after_write(env, tenant).await;
    if next.status == JobStatus::Running {
        next.started_at = next.started_at.or(Some(now));
    }
    Ok(Some(next))
}

pub fn not_found() -> ApiError {
    ApiError::not_found("job")
}

pub const KIND_WELCOME: &str = "welcome_email";
pub const KIND_INVITATION: &str = "invitation_email";
pub const KIND_REMINDER: &str = "appointment_reminder_email";

/// The email that carries an invitation's one-time token. The token is not in the job:
/// jobs and their events are readable by admins, so the email consumer mints it when it
/// sends (`jobs::email`), storing only its hash; a retried send mints a new one.
pub fn invitation(invited_by: &str, inv: &crate::domain::user::Invitation) -> Job {
    new_job(
        invited_by,
        EMAIL,
        KIND_INVITATION,
        json!({
            "to": inv.email,
            "subject": "You are invited to Pulse",
            "invitation_id": inv.id,
            "role": inv.role,
            "expires_at": inv.expires_at,
        }),
        Some(format!("invitation:{}", inv.id)),
    )
}

/// The welcome email job for a new customer (the caller batches `jobs::insert` of it).
pub fn welcome(who: &Principal, c: &Customer, to: &str) -> Job {
    let name = c.name.as_str();
    new_job(
        &who.user_id,
        EMAIL,
        KIND_WELCOME,
        json!({
            "to": to,
            "subject": "Welcome!",
            "body": format!("Hello {name},\n\nthank you for your interest. Your agent will be in touch soon.\n"),
            "customer_id": c.id,
        }),
        Some(format!("customer:{}", c.id)),
    )
}

/// A reminder email to the broker who owns an appointment (`created_by`: who booked it).
pub fn reminder(created_by: &str, to: &str, appointment: &Value) -> Job {
    let title = appointment
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or("appointment");
    let starts = appointment
        .get("starts_at")
        .and_then(Value::as_str)
        .unwrap_or("");
    let id = appointment.get("id").and_then(Value::as_str).unwrap_or("");
    new_job(
        created_by,
        EMAIL,
        KIND_REMINDER,
        json!({
            "to": to,
            "subject": format!("Reminder: {title}"),
            "body": format!("Your appointment \"{title}\" starts at {starts}.\n"),
            "appointment_id": id,
        }),
        Some(format!("appointment:{id}")),
    )
}

pub const KIND_CUSTOMER_SMS: &str = "customer_sms";

pub fn customer_sms(who: &Principal, customer_id: &str, phone: &str, message: &str) -> Job {
    new_job(
        &who.user_id,
        SMS,
        KIND_CUSTOMER_SMS,
        json!({ "to": phone, "message": message, "customer_id": customer_id }),
        Some(format!("customer:{customer_id}")),
    )
}
