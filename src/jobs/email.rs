//! The `email` queue: welcome emails for new customers, appointment reminders for brokers
//! and invitations, sent through the configured email provider (`EMAIL_PROVIDER`).

use super::providers::{Outgoing, Provider};
use super::runner::{Outcome, Run};
use crate::domain::jobs::Failure;
use serde_json::{json, Value};

pub use crate::api::job_store::{reminder, welcome, KIND_REMINDER, KIND_WELCOME};

pub async fn run(run: &mut Run<'_>) -> Outcome {
    let provider = Provider::from_env(run.env, "EMAIL")?;
    let p = &run.job.payload;
    let field = |k: &str| p.get(k).and_then(Value::as_str).map(String::from);
    let body = if run.job.kind == crate::api::job_store::KIND_INVITATION {
        invitation_body(run).await?
    } else {
        field("body")
    };
    let (Some(to), Some(subject), Some(body)) = (field("to"), field("subject"), body) else {
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

/// The invitation's text with a token minted now (the job itself never holds one).
async fn invitation_body(run: &Run<'_>) -> Result<Option<String>, Failure> {
    let p = &run.job.payload;
    let field = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default();
    let token = crate::api::invitations::mint_token(run.env, &run.tenant, field("invitation_id"))
        .await
        .map_err(|e| Failure::Transient(e.message))?
        .ok_or_else(|| Failure::Permanent("the invitation is no longer open".into()))?;
    Ok(Some(format!(
        "You are invited to join as {role}.\n\nAccept with POST /api/auth/accept-invite \
         {{\"token\": \"{token}\", \"name\": \"…\", \"password\": \"…\"}} before {until}.\n",
        role = field("role"),
        until = field("expires_at"),
    )))
}
