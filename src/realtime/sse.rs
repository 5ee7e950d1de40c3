//! Server-Sent Events framing (pure): each event's SSE `id:` is its `seq`, so a browser's
//! `EventSource` resumes with `Last-Event-ID` on the same cursor as WebSocket `since`.

use crate::domain::event::Event;
use serde_json::json;

/// Heartbeat comment, sent every `SSE_HEARTBEAT_SECONDS` (15 s).
pub const HEARTBEAT: &str = ": heartbeat\n\n";

/// The opening of a stream: reconnect delay and the subscription summary.
pub fn preamble(channels: &[String], head: u64, recovered: bool, epoch: &str) -> String {
    let data = json!({"channels": channels, "head": head, "recovered": recovered, "epoch": epoch});
    format!("retry: 3000\n\nevent: subscribed\ndata: {data}\n\n")
}

/// An event as an SSE message (default `message` type, so `onmessage` gets every event).
pub fn event(e: &Event) -> String {
    let data = serde_json::to_string(e).unwrap_or_default();
    format!("id: {}\ndata: {}\n\n", e.seq, data)
}

/// An error before closing (e.g. the token expired).
pub fn error(code: &str, message: &str) -> String {
    format!(
        "event: error\ndata: {}\n\n",
        json!({"code": code, "message": message})
    )
}

/// `Last-Event-ID` (or `?since=`) as a seq; anything else is no cursor.
pub fn parse_cursor(v: Option<&str>) -> Option<u64> {
    v.and_then(|s| s.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_framing() {
        let e = Event {
            seq: 7,
            id: "evt_1".into(),
            kind: "crm:customer:created".into(),
            channels: vec!["tenant".into()],
            data: json!({"name": "multi\nline"}),
            ts: "t".into(),
        };
        let f = event(&e);
        assert!(f.starts_with("id: 7\ndata: {"));
        assert!(f.ends_with("}\n\n"));
        assert_eq!(
            f.matches('\n').count(),
            3,
            "JSON escapes newlines, so data is one line"
        );
        assert_eq!(parse_cursor(Some(" 41 ")), Some(41));
        assert_eq!(parse_cursor(Some("x")), None);
    }
}
