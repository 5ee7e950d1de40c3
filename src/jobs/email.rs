//! The `email` queue: welcome emails for new customers and appointment reminders for
//! brokers, sent through the configured email provider (`EMAIL_PROVIDER`).

use super::providers::{Outgoing, Provider};
use super::runner::{Outcome, Run};
use crate::domain::auth::Principal;
use crate::domain::customer::Customer;
use crate::domain::jobs::{Failure, Job, EMAIL};
use serde_json::{json, Value};

pub const KIND_WELCOME: &str = "welcome_email";
pub const KIND_REMINDER: &str = "appointment_reminder_email";

/// The welcome email job for a new customer (the caller batches `jobs::insert` of it).
pub fn welcome(who: &Principal, c: &Customer, to: &str) -> Job {
    let name = c.name.as_str();
    super::new_job(
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
    super::new_job(
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

pub async fn run(run: &mut Run<'_>) -> Outcome {
    let provider = Provider::from_env(run.env, "EMAIL")?;
    let p = &run.job.payload;
    let field = |k: &str| p.get(k).and_then(Value::as_str).map(String::from);
    let (Some(to), Some(subject), Some(body)) = (field("to"), field("subject"), field("body"))
    else {
        return Err(Failure::Permanent(
            "job payload lacks to/subject/body".into(),
        ));
    };
    let from = crate::config::get(run.env).email_from.clone();
    let msg = Outgoing {
        tenant_id: run.tenant.clone(),
        job_id: run.job.id.clone(),
        channel: "email".into(),
        to,
        subject,
        body,
        data: Some(json!({ "from": from })),
    };
    let answer = provider.send(run.env, &msg).await?;
    Ok(json!({ "provider_message_id": answer.get("id").cloned().unwrap_or(Value::Null) }))
}
