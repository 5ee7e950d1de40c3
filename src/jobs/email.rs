//! The `email` queue: welcome emails for new customers and appointment reminders for
//! brokers, sent through the configured email provider (`EMAIL_PROVIDER`).

use super::providers::{Outgoing, Provider};
use super::runner::{Outcome, Run};
use crate::domain::jobs::Failure;
use serde_json::{json, Value};

pub use crate::api::job_store::{reminder, welcome, KIND_REMINDER, KIND_WELCOME};

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
