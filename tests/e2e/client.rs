//! Test clients: HTTP (ureq) with tokens, and a WebSocket client (tungstenite) that reads
//! JSON frames with timeouts.

use serde_json::Value;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

pub fn base64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Api {
    pub base: String,
    agent: ureq::Agent,
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            base: base.to_string(),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(30))
                .build(),
        }
    }

    /// A JSON POST/PUT with extra headers.
    pub fn raw_with(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Resp {
        self.send(
            method,
            path,
            Some(token),
            Some("application/json"),
            Some(body),
            headers,
        )
    }

    /// A request with only these headers (no token, no body).
    pub fn raw_with_headers(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.send(method, path, None, None, None, headers)
    }

    /// Any request: `token` None = no Authorization header; body sent as-is with `ctype`.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        ctype: Option<&str>,
        body: Option<&str>,
    ) -> Resp {
        self.send(method, path, token, ctype, body, &[])
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        ctype: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self
            .agent
            .request(method, &format!("{}{}", self.base, path));
        for (k, v) in headers {
            req = req.set(k, v);
        }
        if let Some(t) = token {
            req = req.set("authorization", &format!("Bearer {t}"));
        }
        if let Some(c) = ctype {
            req = req.set("content-type", c);
        }
        let result = match body {
            Some(b) => req.send_string(b),
            None => req.call(),
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: transport error {e}"),
        };
        let status = resp.status();
        let headers = resp
            .headers_names()
            .into_iter()
            .filter_map(|n| resp.header(&n).map(|v| (n.clone(), v.to_string())))
            .collect();
        let text = resp.into_string().unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    /// A JSON POST without a token, with extra headers (login, refresh, logout).
    pub fn post_public(&self, path: &str, body: &Value, headers: &[(&str, &str)]) -> Resp {
        self.send(
            "POST",
            path,
            None,
            Some("application/json"),
            Some(&body.to_string()),
            headers,
        )
    }
    pub fn get(&self, path: &str, token: &str) -> Resp {
        self.raw("GET", path, Some(token), None, None)
    }
    pub fn post(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.raw(
            "POST",
            path,
            Some(token),
            Some("application/json"),
            Some(&body.to_string()),
        )
    }
    pub fn put(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.raw(
            "PUT",
            path,
            Some(token),
            Some("application/json"),
            Some(&body.to_string()),
        )
    }
    pub fn delete(&self, path: &str, token: &str) -> Resp {
        self.raw("DELETE", path, Some(token), None, None)
    }
}

pub struct Ws {
    sock: WebSocket<MaybeTlsStream<TcpStream>>,
}

/// Result of trying to open a WebSocket.
pub enum Dial {
    Open(Box<Ws>),
    Refused(u16, String),
}

pub fn dial(base: &str, query_token: Option<&str>, header_token: Option<&str>) -> Dial {
    dial_path(base, "/api/realtime/ws", query_token, header_token)
}

pub fn dial_path(
    base: &str,
    path: &str,
    query_token: Option<&str>,
    header_token: Option<&str>,
) -> Dial {
    use tungstenite::client::IntoClientRequest;
    let mut url = format!("{}{path}", base.replacen("http://", "ws://", 1));
    if let Some(t) = query_token {
        url.push_str(&format!("?token={t}"));
    }
    let mut req = url.into_client_request().expect("ws request");
    if let Some(t) = header_token {
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {t}").parse().expect("header"),
        );
    }
    match tungstenite::connect(req) {
        Ok((sock, _)) => {
            if let MaybeTlsStream::Plain(s) = sock.get_ref() {
                s.set_read_timeout(Some(Duration::from_millis(200))).ok();
            }
            Dial::Open(Box::new(Ws { sock }))
        }
        Err(tungstenite::Error::Http(r)) => {
            let status = r.status().as_u16();
            let body = r
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).to_string())
                .unwrap_or_default();
            Dial::Refused(status, body)
        }
        Err(e) => panic!("ws connect failed: {e}"),
    }
}

impl Ws {
    pub fn connect(base: &str, token: &str) -> Ws {
        match dial(base, None, Some(token)) {
            Dial::Open(ws) => *ws,
            Dial::Refused(s, b) => panic!("ws refused: {s} {b}"),
        }
    }

    pub fn send(&mut self, frame: &Value) {
        self.sock
            .send(Message::text(frame.to_string()))
            .expect("ws send");
    }

    pub fn send_text(&mut self, text: &str) {
        self.sock
            .send(Message::text(text.to_string()))
            .expect("ws send");
    }

    /// The next JSON frame within `timeout`, or None.
    pub fn recv(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match self.sock.read() {
                Ok(Message::Text(t)) => {
                    return Some(serde_json::from_str(t.as_str()).expect("server frame is JSON"))
                }
                Ok(Message::Close(_)) => return None,
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(_) => return None,
            }
        }
        None
    }

    /// Waits for a frame; panics with `what` if none comes.
    pub fn expect(&mut self, what: &str) -> Value {
        self.recv(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no frame: expected {what}"))
    }

    /// Subscribes and returns the `subscribed` frame.
    pub fn subscribe(&mut self, channels: &[&str], since: Option<u64>) -> Value {
        let mut f = serde_json::json!({"op": "subscribe", "channels": channels});
        if let Some(s) = since {
            f["since"] = s.into();
        }
        self.send(&f);
        let r = self.expect("subscribed");
        assert_eq!(r["op"], "subscribed", "got {r}");
        r
    }

    /// Next `event` frame, skipping nothing: any other frame is a failure.
    pub fn next_event(&mut self) -> Value {
        let f = self.expect("an event");
        assert_eq!(f["op"], "event", "expected an event frame, got {f}");
        f
    }

    /// Waits (up to `timeout`) for an event of `kind`, returning the events seen before it.
    pub fn wait_for(&mut self, kind: &str, timeout: Duration) -> (Value, Vec<Value>) {
        let deadline = Instant::now() + timeout;
        let mut before = Vec::new();
        while Instant::now() < deadline {
            if let Some(f) = self.recv(Duration::from_millis(500)) {
                if f["op"] == "event" && f["type"] == kind {
                    return (f, before);
                }
                before.push(f);
            }
        }
        panic!("no {kind} event within {timeout:?}; saw {before:?}");
    }

    pub fn close(mut self) {
        let _ = self.sock.close(None);
        let _ = self.sock.flush();
    }
}

impl Ws {
    /// Reads until the server closes; returns the frames seen and the close code.
    pub fn until_close(&mut self, timeout: Duration) -> (Vec<Value>, Option<u16>) {
        let deadline = Instant::now() + timeout;
        let mut frames = Vec::new();
        while Instant::now() < deadline {
            match self.sock.read() {
                Ok(Message::Text(t)) => {
                    frames.push(serde_json::from_str(t.as_str()).expect("JSON frame"))
                }
                Ok(Message::Close(c)) => return (frames, c.map(|f| u16::from(f.code))),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return (frames, None),
            }
        }
        panic!("server did not close within {timeout:?}; frames: {frames:?}");
    }

    /// Collects frames for `window` (for "nothing else arrives" checks).
    pub fn drain(&mut self, window: Duration) -> Vec<Value> {
        let deadline = Instant::now() + window;
        let mut out = Vec::new();
        while Instant::now() < deadline {
            if let Some(f) = self.recv(Duration::from_millis(100)) {
                out.push(f);
            }
        }
        out
    }
}

/// A Server-Sent Events client reading the stream line by line.
pub struct Sse {
    pub status: u16,
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
                reader: Some(std::io::BufReader::new(Box::new(r.into_reader()))),
                body: String::new(),
            },
            Err(ureq::Error::Status(s, r)) => Sse {
                status: s,
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

    /// The next message (comments skipped), or None on timeout/end.
    pub fn next(&mut self) -> Option<SseMessage> {
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

/// A claim of a JWT (unverified; tests read their own tokens).
pub fn claim(token: &str, name: &str) -> String {
    let payload = token.split('.').nth(1).unwrap_or_default();
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut bytes = Vec::new();
    for c in payload.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => continue,
        };
        bits = (bits << 6) | u32::from(v);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            bytes.push((bits >> nbits) as u8);
        }
    }
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    v[name].as_str().unwrap_or_default().to_string()
}
