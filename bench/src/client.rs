//! Clients: HS256 tokens, blocking WebSocket connections with read timeouts, and a small
//! HTTP helper (one agent per thread).

use base64::Engine;
use hmac::{Hmac, Mac};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tungstenite::client::IntoClientRequest;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

pub type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// An HS256 JWT with Pulse's claims (`sub`, `tid`, `role`), valid for two hours.
pub fn token(secret: &str, tenant: &str, user: &str, role: &str) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let head = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = serde_json::json!({"sub": user, "tid": tenant, "role": role, "iat": now, "exp": now + 7200});
    let body = b64(claims.to_string().as_bytes());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{head}.{body}").as_bytes());
    format!("{head}.{body}.{}", b64(&mac.finalize().into_bytes()))
}

/// Opens a WebSocket (`ws://host:port/path`), optionally with a bearer token.
pub fn ws(url: &str, bearer: Option<&str>) -> Result<Socket, String> {
    let mut req = url.into_client_request().map_err(|e| e.to_string())?;
    if let Some(t) = bearer {
        req.headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    let (sock, _) = tungstenite::connect(req).map_err(|e| format!("{url}: {e}"))?;
    set_timeout(&sock, Duration::from_millis(500));
    Ok(sock)
}

pub fn set_timeout(sock: &Socket, d: Duration) {
    if let MaybeTlsStream::Plain(s) = sock.get_ref() {
        let _ = s.set_read_timeout(Some(d));
    }
}

/// The next text frame, or None on timeout; Err when the socket is gone.
pub fn read_text(sock: &mut Socket) -> Result<Option<String>, String> {
    match sock.read() {
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

pub fn send_text(sock: &mut Socket, text: &str) -> Result<(), String> {
    sock.send(Message::text(text.to_string()))
        .map_err(|e| e.to_string())
}

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build()
}

/// A request's status (transport errors are status 0).
pub fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> u16 {
    let mut r = agent.request(method, url);
    if let Some(t) = token {
        r = r.set("authorization", &format!("Bearer {t}"));
    }
    let res = match body {
        Some(b) => r.set("content-type", "application/json").send_string(b),
        None => r.call(),
    };
    match res {
        Ok(resp) => {
            let s = resp.status();
            let _ = resp.into_string();
            s
        }
        Err(ureq::Error::Status(s, resp)) => {
            let _ = resp.into_string();
            s
        }
        Err(_) => 0,
    }
}
