//! The `sms` queue: text messages to customers (`POST /api/crm/customers/:id/sms`), sent
//! through the configured SMS provider (`SMS_PROVIDER`).

use super::providers::{Outgoing, Provider};
use super::runner::{Outcome, Run};
use crate::domain::jobs::Failure;
use serde_json::{json, Value};

pub use crate::api::job_store::{customer_sms, KIND_CUSTOMER_SMS};

pub async fn run(run: &mut Run<'_>) -> Outcome {
    let provider = Provider::from_env(run.env, "SMS")?;
    let p = &run.job.payload;
    let field = |k: &str| p.get(k).and_then(Value::as_str).map(String::from);
    let (Some(to), Some(message)) = (field("to"), field("message")) else {
        return Err(Failure::Permanent("job payload lacks to/message".into()));
    };
    let msg = Outgoing {
        tenant_id: run.tenant.clone(),
        job_id: run.job.id.clone(),
        channel: "sms".into(),
        to,
        subject: String::new(),
        body: message,
        data: None,
    };
    let answer = provider.send(run.env, &msg).await?;
    Ok(json!({ "provider_message_id": answer.get("id").cloned().unwrap_or(Value::Null) }))
}
