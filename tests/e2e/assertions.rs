//! Assertions on the contract's shapes: error bodies, events, sequences.

use crate::client::Resp;
use serde_json::Value;

/// A contract error: the status, `{"error": {"code", "message"}}`.
pub fn error(r: &Resp, status: u16, code: &str) {
    assert_eq!(
        r.status, status,
        "expected {status} {code}, got {} {}",
        r.status, r.body
    );
    assert_eq!(r.body["error"]["code"], code, "body: {}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "body: {}",
        r.body
    );
}

pub fn status(r: &Resp, status: u16) {
    assert_eq!(
        r.status, status,
        "expected {status}, got {} {}",
        r.status, r.body
    );
}

/// An event frame with the full envelope.
pub fn event(f: &Value, kind: &str) {
    assert_eq!(f["op"], "event", "{f}");
    assert_eq!(f["type"], kind, "{f}");
    assert!(f["seq"].as_u64().is_some(), "seq missing: {f}");
    assert!(
        f["id"].as_str().is_some_and(|s| !s.is_empty()),
        "id missing: {f}"
    );
    assert!(
        f["channels"].as_array().is_some_and(|c| !c.is_empty()),
        "channels missing: {f}"
    );
    assert!(
        f["ts"].as_str().is_some_and(|s| s.ends_with('Z')),
        "ts missing: {f}"
    );
}

/// Each seq is exactly one more than the one before.
pub fn consecutive(seqs: &[u64]) {
    for w in seqs.windows(2) {
        assert_eq!(w[1], w[0] + 1, "seq gap or reorder in {seqs:?}");
    }
}

pub fn seqs(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect()
}
