//! Background job rules: lifecycle states and retry backoff.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A job as `GET /api/jobs/:id` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub queue: String,
    pub kind: String,
    pub status: String,
    pub attempts: u32,
    pub payload: Value,
    pub result: Option<Value>,
    pub last_error: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

/// The queue message: small (ids only, far below the 128 KB limit); the job row holds the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobMessage {
    pub tenant_id: String,
    pub job_id: String,
}

/// Delay before retry `attempt` (1-based): 2, 4, 8, ... seconds, capped at 5 minutes.
pub fn backoff_seconds(attempt: u32) -> u32 {
    let exp = attempt.clamp(1, 9);
    (1u32 << exp).min(300)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff_seconds(1), 2);
        assert_eq!(backoff_seconds(2), 4);
        assert_eq!(backoff_seconds(3), 8);
        assert_eq!(backoff_seconds(50), 300);
        assert_eq!(backoff_seconds(0), 2);
    }

    #[test]
    fn message_is_small() {
        let m = JobMessage {
            tenant_id: "t".repeat(64),
            job_id: "j".repeat(64),
        };
        assert!(serde_json::to_vec(&m).unwrap().len() < 1024);
    }
}
