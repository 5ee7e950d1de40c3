//! The WebSocket client (tungstenite, blocking with a read timeout): JSON frames with
//! deadlines for tests, and non-panicking text reads and writes for load generation.

use serde_json::Value;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

pub struct Ws {
    sock: WebSocket<MaybeTlsStream<TcpStream>>,
    /// Pulse's own sockets hold every event frame they read to the event catalog
    /// (`Some(room)`: a room's socket, whose events are free-form); `None` for any other
    /// server (`Ws::open`).
    catalog: Option<bool>,
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
            let ws = Ws {
                sock,
                catalog: Some(crate::catalog::is_room_path(path)),
            };
            ws.set_read_timeout(Duration::from_millis(200));
            Dial::Open(Box::new(ws))
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
    /// Opens `ws://host:port/path` (any server, not only Pulse), optionally with a bearer
    /// token; reads time out after 200 ms (`set_read_timeout`).
    pub fn open(url: &str, bearer: Option<&str>) -> Result<Ws, String> {
        use tungstenite::client::IntoClientRequest;
        let mut req = url.into_client_request().map_err(|e| e.to_string())?;
        if let Some(t) = bearer {
            let value = format!("Bearer {t}").parse().map_err(|_| "bad token")?;
            req.headers_mut().insert("authorization", value);
        }
        let (sock, _) = tungstenite::connect(req).map_err(|e| format!("{url}: {e}"))?;
        let ws = Ws {
            sock,
            catalog: None,
        };
        ws.set_read_timeout(Duration::from_millis(200));
        Ok(ws)
    }

    /// How long one read waits before it reports "nothing yet".
    pub fn set_read_timeout(&self, d: Duration) {
        if let MaybeTlsStream::Plain(s) = self.sock.get_ref() {
            s.set_read_timeout(Some(d)).ok();
        }
    }

    /// The next text frame, `Ok(None)` on a read timeout or a non-text frame, `Err` when
    /// the socket is closed or broken.
    pub fn try_read_text(&mut self) -> Result<Option<String>, String> {
        match self.sock.read() {
            Ok(Message::Text(t)) => Ok(Some(t.to_string())),
            Ok(Message::Close(_)) => Err("closed".into()),
            Ok(_) => Ok(None),
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Sends a text frame; `Err` when the socket is gone.
    pub fn try_send_text(&mut self, text: &str) -> Result<(), String> {
        self.sock
            .send(Message::text(text.to_string()))
            .map_err(|e| e.to_string())
    }

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

    /// A frame read from the server: JSON, and an event frame matches the event catalog.
    fn frame(&self, text: &str) -> Value {
        let f: Value = serde_json::from_str(text).expect("server frame is JSON");
        if let Some(room) = self.catalog {
            crate::catalog::check_frame(&f, room);
        }
        f
    }

    /// The next JSON frame within `timeout`, or None.
    pub fn recv(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match self.try_read_text() {
                Ok(Some(t)) => return Some(self.frame(&t)),
                Ok(None) => continue,
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

    /// Reads until the server closes; returns the frames seen and the close code.
    pub fn until_close(&mut self, timeout: Duration) -> (Vec<Value>, Option<u16>) {
        let deadline = Instant::now() + timeout;
        let mut frames = Vec::new();
        while Instant::now() < deadline {
            match self.sock.read() {
                Ok(Message::Text(t)) => {
                    let f = self.frame(t.as_str());
                    frames.push(f)
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
