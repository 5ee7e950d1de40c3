//! The drift check between the server and its event catalog: every event the test clients
//! receive (WebSocket frames, SSE messages, REST history pages) must match docs/events.json,
//! the document client types are generated from. A mismatch panics in the receiving test.

use serde_json::Value;
use std::sync::OnceLock;

/// The committed catalog, read once per process.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/events.json");
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("the event catalog {path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("the event catalog {path}: {e}"))
    })
}

/// Panics when `event` does not match the catalog; `room`: an event of a room's history.
pub fn check(event: &Value, room: bool) {
    if let Err(e) = pulse_core::domain::catalog::check_event(document(), event, room) {
        panic!("{e}\n  received: {event}");
    }
}

/// Checks a received frame when it is an event (`"op":"event"`).
pub fn check_frame(frame: &Value, room: bool) {
    if frame.get("op").and_then(Value::as_str) == Some("event") {
        check(frame, room);
    }
}

/// Whether a realtime path is a room's (its events are free-form).
pub fn is_room_path(path: &str) -> bool {
    path.contains("/rooms/")
}
