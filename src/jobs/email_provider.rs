//! Email providers behind one interface: `record` stores the message in D1 (local default,
//! readable via `GET /api/dev/messages`); `http` POSTs it to `EMAIL_PROVIDER_URL`.

use crate::store::{self, t};
use serde::Serialize;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Fetch, Headers, Method, Request, RequestInit};

#[derive(Debug, Clone, Serialize)]
pub struct OutgoingEmail {
    pub tenant_id: String,
    pub job_id: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub body: String,
}

pub enum EmailProvider {
    Record,
    Http { url: String, token: Option<String> },
}

impl EmailProvider {
    pub fn from_env(env: &Env) -> Result<EmailProvider, String> {
        let kind = env
            .var("EMAIL_PROVIDER")
            .map(|v| v.to_string())
            .unwrap_or_else(|_| "record".into());
        match kind.as_str() {
            "record" => Ok(EmailProvider::Record),
            "http" => {
                let url = env
                    .var("EMAIL_PROVIDER_URL")
                    .map(|v| v.to_string())
                    .map_err(|_| "EMAIL_PROVIDER=http needs EMAIL_PROVIDER_URL".to_string())?;
                let token = env
                    .secret("EMAIL_PROVIDER_TOKEN")
                    .ok()
                    .map(|s| s.to_string());
                Ok(EmailProvider::Http { url, token })
            }
            other => Err(format!("unknown EMAIL_PROVIDER '{other}'")),
        }
    }

    /// Sends (or records) the message; returns the provider's message id.
    /// Idempotent per job: a retried job never records or sends twice from the `record`
    /// provider, and the `http` provider gets an `Idempotency-Key` of the job id.
    pub async fn send(&self, env: &Env, msg: &OutgoingEmail) -> Result<String, String> {
        match self {
            EmailProvider::Record => {
                let db = store::db(env).map_err(|e| e.message)?;
                let id = crate::platform::new_id("msg");
                let now = crate::platform::iso(crate::platform::now_ms());
                store::run(
                    store::stmt(
                        &db,
                        "INSERT INTO sent_messages (tenant_id, id, job_id, channel, recipient, subject, body, created_at)
                         VALUES (?1, ?2, ?3, 'email', ?4, ?5, ?6, ?7)
                         ON CONFLICT (tenant_id, job_id) DO NOTHING",
                        &[t(&msg.tenant_id), t(&id), t(&msg.job_id), t(&msg.to), t(&msg.subject), t(&msg.body), t(&now)],
                    )
                    .map_err(|e| e.message)?,
                )
                .await
                .map_err(|e| e.message)?;
                Ok(id)
            }
            EmailProvider::Http { url, token } => {
                let headers = Headers::new();
                let set = |k: &str, v: &str| headers.set(k, v).map_err(|e| e.to_string());
                set("content-type", "application/json")?;
                set("idempotency-key", &msg.job_id)?;
                if let Some(tok) = token {
                    set("authorization", &format!("Bearer {tok}"))?;
                }
                let body = serde_json::to_string(msg).map_err(|e| e.to_string())?;
                let mut init = RequestInit::new();
                init.with_method(Method::Post)
                    .with_headers(headers)
                    .with_body(Some(JsValue::from_str(&body)));
                let req = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
                let mut resp = Fetch::Request(req)
                    .send()
                    .await
                    .map_err(|e| format!("provider unreachable: {e}"))?;
                let status = resp.status_code();
                let text = resp.text().await.unwrap_or_default();
                if (200..300).contains(&status) {
                    let id = serde_json::from_str::<serde_json::Value>(&text)
                        .ok()
                        .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(String::from))
                        .unwrap_or_else(|| msg.job_id.clone());
                    Ok(id)
                } else {
                    Err(format!(
                        "provider answered {status}: {}",
                        text.chars().take(200).collect::<String>()
                    ))
                }
            }
        }
    }
}
