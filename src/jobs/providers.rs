//! Outside providers behind one interface, chosen per channel by env: `record` keeps the
//! message in D1 (`GET /api/dev/messages`, the local default); `http` POSTs it as JSON to
//! the provider's URL with an `Idempotency-Key` (the job id), an optional bearer token and,
//! for publishing webhooks, an HMAC-SHA256 signature; answers are classified for retries.

use crate::domain::jobs::{classify_http, Failure};
use crate::store::{self, t};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Fetch, Headers};

/// One outgoing message, whatever the channel.
#[derive(Debug, Clone, Serialize)]
pub struct Outgoing {
    pub tenant_id: String,
    pub job_id: String,
    /// `email`, `sms` or `publishing:<platform>`.
    pub channel: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    /// Structured content (the listing document for publishing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

pub enum Provider {
    Record,
    Http {
        url: String,
        token: Option<String>,
        signing_secret: Option<String>,
    },
}

impl Provider {
    /// `<PREFIX>_PROVIDER` = record | http, with `<PREFIX>_PROVIDER_URL` and the secret
    /// `<PREFIX>_PROVIDER_TOKEN` (EMAIL, SMS).
    pub fn from_env(env: &Env, prefix: &str) -> Result<Provider, Failure> {
        let config = crate::config::get(env);
        let Some(settings) = config.provider(prefix) else {
            return Err(Failure::Permanent(format!("no provider channel {prefix}")));
        };
        match settings.kind.as_str() {
            "record" => Ok(Provider::Record),
            "http" => {
                let url = settings.url.clone().ok_or_else(|| {
                    Failure::Transient(format!(
                        "{prefix}_PROVIDER=http needs {prefix}_PROVIDER_URL"
                    ))
                })?;
                Ok(Provider::Http {
                    url,
                    token: settings.token.clone(),
                    signing_secret: None,
                })
            }
            other => Err(Failure::Transient(format!(
                "unknown {prefix}_PROVIDER '{other}'"
            ))),
        }
    }

    /// A publishing platform's webhook (`record` or a URL), signed with
    /// `PUBLISHING_WEBHOOK_SECRET` when it is set.
    pub fn webhook(env: &Env, target: &str) -> Provider {
        if target == "record" {
            return Provider::Record;
        }
        Provider::Http {
            url: target.to_string(),
            token: None,
            signing_secret: crate::config::get(env).publishing_webhook_secret.clone(),
        }
    }

    /// Sends (or records) the message; returns what the provider said (at least an `id`).
    /// Idempotent per job: `record` keeps one row per job, and `http` providers get the job
    /// id as `Idempotency-Key`, so a retry after a lost answer is not a second message.
    pub async fn send(&self, env: &Env, msg: &Outgoing) -> Result<Value, Failure> {
        match self {
            Provider::Record => record(env, msg).await,
            Provider::Http {
                url,
                token,
                signing_secret,
            } => post(env, url, token.as_deref(), signing_secret.as_deref(), msg).await,
        }
    }
}

async fn record(env: &Env, msg: &Outgoing) -> Result<Value, Failure> {
    let transient = |e: crate::domain::error::ApiError| Failure::Transient(e.message);
    let db = store::db(env).map_err(transient)?;
    let id = crate::platform::new_id("msg");
    let now = crate::platform::iso(crate::platform::now_ms());
    store::run(
        store::insert_then(
            &db,
            "sent_messages",
            &[
                ("tenant_id", t(&msg.tenant_id)),
                ("id", t(&id)),
                ("job_id", t(&msg.job_id)),
                ("channel", t(&msg.channel)),
                ("recipient", t(&msg.to)),
                ("subject", t(&msg.subject)),
                ("body", t(&msg.body)),
                ("created_at", t(&now)),
            ],
            "ON CONFLICT (tenant_id, job_id) DO NOTHING",
            &[],
        )
        .map_err(transient)?,
    )
    .await
    .map_err(transient)?;
    Ok(serde_json::json!({ "id": id, "provider": "record" }))
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, Stripe-style, so the
/// receiver can check both the body and its freshness.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(), // HMAC takes keys of any length
    };
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={timestamp},v1={hex}")
}

async fn post(
    env: &Env,
    url: &str,
    token: Option<&str>,
    signing_secret: Option<&str>,
    msg: &Outgoing,
) -> Result<Value, Failure> {
    let perm = |e: worker::Error| Failure::Permanent(format!("bad request to provider: {e}"));
    let body = serde_json::to_string(msg).map_err(|e| Failure::Permanent(e.to_string()))?;
    let headers = Headers::new();
    headers
        .set("content-type", "application/json")
        .map_err(perm)?;
    headers.set("idempotency-key", &msg.job_id).map_err(perm)?;
    if let Some(tok) = token {
        headers
            .set("authorization", &format!("Bearer {tok}"))
            .map_err(perm)?;
    }
    if let Some(secret) = signing_secret {
        let ts = crate::platform::now_ms() / 1000;
        headers
            .set("x-pulse-signature", &signature(secret, ts, &body))
            .map_err(perm)?;
    }
    let req = crate::platform::request(url, "POST", &headers, Some(&JsValue::from_str(&body)))
        .map_err(perm)?;
    let timeout = crate::config::get(env).provider_timeout_ms;
    let controller = worker::AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(req);
    let send = fetch.send_with_signal(&signal);
    let timer = worker::Delay::from(std::time::Duration::from_millis(timeout));
    futures_util::pin_mut!(send);
    futures_util::pin_mut!(timer);
    let mut resp = match futures_util::future::select(send, timer).await {
        futures_util::future::Either::Left((r, _)) => {
            r.map_err(|e| Failure::Transient(format!("provider unreachable: {e}")))?
        }
        futures_util::future::Either::Right(_) => {
            controller.abort();
            return Err(Failure::Transient(format!(
                "provider timed out after {timeout} ms"
            )));
        }
    };
    let status = resp.status_code();
    let text = resp.text().await.unwrap_or_default();
    let excerpt: String = text.chars().take(200).collect();
    if let Some(f) = classify_http(status, &excerpt) {
        return Err(f);
    }
    let mut answer: Value = serde_json::from_str(&text).unwrap_or_else(|_| serde_json::json!({}));
    if answer.get("id").is_none() {
        if let Some(o) = answer.as_object_mut() {
            o.insert("id".into(), Value::String(msg.job_id.clone()));
        } else {
            answer = serde_json::json!({ "id": msg.job_id });
        }
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::signature;

    #[test]
    fn signature_is_stripe_style_hmac() {
        // HMAC-SHA256("key", "1700000000.{}") computed independently (Python hmac).
        let s = signature("key", 1_700_000_000, "{}");
        assert_eq!(
            s,
            "t=1700000000,v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
        assert_ne!(s, signature("other", 1_700_000_000, "{}"));
        assert_ne!(s, signature("key", 1_700_000_001, "{}"));
    }
}
