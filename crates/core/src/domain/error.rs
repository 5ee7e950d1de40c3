//! The one API error type: status, snake_case code, message and optional details.
//! Pure (no worker types); `web::error` turns it into a JSON response in one place.

use serde_json::{json, Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
    pub retry_after: Option<u32>,
    /// What went wrong inside, for the server's log only (never sent to the client).
    pub cause: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Any library error (the runtime, D1, JSON) is an internal error: the client sees only
/// `internal`, the cause is kept for the one log line written where errors become responses.
/// (`ApiError` itself is not a `std::error::Error`, which keeps this impl coherent.)
impl<E: std::error::Error> From<E> for ApiError {
    fn from(e: E) -> Self {
        let mut err = ApiError::internal();
        err.cause = Some(e.to_string());
        err
    }
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
            cause: None,
        }
    }
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "bad_request", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "unauthorized", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "forbidden", message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(404, "not_found", format!("{what} not found"))
    }
    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "method_not_allowed",
            "method not allowed on this route",
        )
    }
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "payload_too_large",
            format!("body exceeds {limit} bytes"),
        )
    }
    pub fn unsupported_media() -> Self {
        Self::new(
            415,
            "unsupported_media_type",
            "Content-Type must be application/json",
        )
    }
    pub fn validation(fields: FieldErrors) -> Self {
        Self::new(422, "validation_failed", "request body failed validation")
            .with_details(fields.into_value())
    }
    /// A 422 about one field.
    pub fn field(field: &str, problem: impl Into<String>) -> Self {
        let mut f = FieldErrors::default();
        f.add(field, problem);
        Self::validation(f)
    }
    pub fn internal() -> Self {
        Self::new(500, "internal", "internal error")
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "unavailable", message)
    }

    /// The contract's error body: `{"error": {"code", "message", "details"?}}`.
    pub fn body(&self) -> Value {
        let mut e = Map::new();
        e.insert("code".into(), json!(self.code));
        e.insert("message".into(), json!(self.message));
        if let Some(d) = &self.details {
            e.insert("details".into(), d.clone());
        }
        json!({ "error": Value::Object(e) })
    }
}

/// Per-field validation problems, collected so one response lists all of them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FieldErrors(Vec<(String, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, problem: impl Into<String>) {
        self.0.push((field.to_string(), problem.into()));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn into_result(self) -> ApiResult<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self))
        }
    }
    /// `{"fields": {"name": "is required", ...}}`
    pub fn into_value(self) -> Value {
        let mut m = Map::new();
        for (f, p) in self.0 {
            m.entry(f).or_insert(Value::String(p));
        }
        json!({ "fields": Value::Object(m) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_contract_shape() {
        let e = ApiError::not_found("customer");
        assert_eq!(
            e.body(),
            json!({"error": {"code": "not_found", "message": "customer not found"}})
        );
    }

    #[test]
    fn validation_lists_every_field_once() {
        let mut f = FieldErrors::default();
        f.add("name", "is required");
        f.add("email", "is not a valid email address");
        f.add("name", "second problem is dropped");
        let e = ApiError::validation(f);
        assert_eq!(e.status, 422);
        assert_eq!(e.details.unwrap()["fields"]["name"], "is required");
    }
}
