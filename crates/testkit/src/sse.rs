//! The Server-Sent Events client: reads a stream line by line into messages.

use serde_json::Value;
use std::time::Duration;

/// A Server-Sent Events client reading the stream line by line.
pub struct Sse {
    pub status: u16,
    /// A room's stream (its events are free-form in the event catalog).
    room: bool,
    reader: Option<std::io::BufReader<Box<dyn std::io::Read + Send + Sync>>>,
    pub body: String,
}

#[derive(Debug, Default, Clone)]
pub struct SseMessage {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl Sse {
    pub fn open(base: &str, path_and_query: &str, last_event_id: Option<&str>) -> Sse {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout_read(Duration::from_secs(10))
            .build();
        let mut req = agent.get(&format!("{base}{path_and_query}"));
        if let Some(id) = last_event_id {
            req = req.set("last-event-id", id);
        }
        match req.call() {
            Ok(r) => Sse {
                status: r.status(),
                room: crate::catalog::is_room_path(path_and_query),
                reader: Some(std::io::BufReader::new(Box::new(r.into_reader()))),
                body: String::new(),
            },
            Err(ureq::Error::Status(s, r)) => Sse {
                status: s,
                room: false,
                reader: None,
                body: r.into_string().unwrap_or_default(),
            },
            Err(e) => panic!("sse connect failed: {e}"),
        }
    }

    /// The next raw line (comments included), or None on timeout/end.
    pub fn next_line(&mut self) -> Option<String> {
        use std::io::BufRead;
        let mut line = String::new();
        match self.reader.as_mut()?.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\n', '\r']).to_string()),
        }
    }

    /// The next default-type message as a parsed event.
    pub fn next_event(&mut self) -> (String, Value) {
        loop {
            let m = self.next().expect("an SSE event");
            if m.event.is_none() {
                return (
                    m.id.unwrap_or_default(),
                    serde_json::from_str(&m.data).expect("JSON data"),
                );
            }
        }
    }
}

/// The messages of the stream (comments skipped); it ends on a read timeout or the end.
/// Every event message (no `event:` field, JSON data) must match the event catalog.
impl Iterator for Sse {
    type Item = SseMessage;

    /// The next message (comments skipped), or None on timeout/end.
    fn next(&mut self) -> Option<SseMessage> {
        let msg = self.read_message()?;
        if msg.event.is_none() {
            if let Ok(event) = serde_json::from_str::<Value>(&msg.data) {
                crate::catalog::check(&event, self.room);
            }
        }
        Some(msg)
    }
}

impl Sse {
    fn read_message(&mut self) -> Option<SseMessage> {
        use std::io::BufRead;
        let reader = self.reader.as_mut()?;
        let mut msg = SseMessage::default();
        let mut has = false;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if has {
                    return Some(msg);
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (k, v) = line
                .split_once(':')
                .map(|(k, v)| (k, v.strip_prefix(' ').unwrap_or(v)))
                .unwrap_or((line, ""));
            match k {
                "id" => msg.id = Some(v.to_string()),
                "event" => msg.event = Some(v.to_string()),
                "data" => msg.data.push_str(v),
                _ => {}
            }
            if k != "retry" {
                has = true;
            }
        }
    }
}
