//! WebSocket connections: the attachment each socket carries through hibernation, the
//! admission rules as pure functions (connections per user, attachment size, token
//! expiry, frame size and rate), and the hub's socket bookkeeping (accept, the cached
//! list of live sockets, a socket going away).

use super::tenant_hub_do::TenantHub;
use super::{now_ms, HubStore};
use crate::realtime::protocol::{self, close, Bucket, FrameError, Identity, Limits, Sub};
use serde::{Deserialize, Serialize};
use std::rc::Rc;
use worker::{Request, Response, Result, WebSocket, WebSocketPair};

/// What survives hibernation for each socket. The platform caps attachments at 2 KB, so
/// every change is size-checked before it is written (`fits`); the short field names keep
/// room for about 50 subscriptions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    #[serde(rename = "i")]
    pub who: Identity,
    #[serde(rename = "s", default)]
    pub subs: Vec<Sub>,
    #[serde(rename = "b")]
    pub bucket: Bucket,
    /// Set when the socket is closing: it no longer counts for presence or fan-out
    /// (the runtime may still list it until the close completes).
    #[serde(rename = "z", default, skip_serializing_if = "std::ops::Not::not")]
    pub closed: bool,
    /// The token expiry (`who.exp`) the socket was sent `token_expiring` for.
    #[serde(rename = "w", default, skip_serializing_if = "is_zero")]
    pub warned: i64,
    /// Socket.IO (`hub::socketio`): 1 waiting for its CONNECT, 2 connected; 0 for the
    /// native protocol.
    #[serde(rename = "o", default, skip_serializing_if = "is_zero")]
    pub sio: i64,
    /// Socket.IO: the recovery session id (`pid`), or the Engine.IO session a socket is
    /// upgrading until the client's `5`.
    #[serde(rename = "p", default, skip_serializing_if = "String::is_empty")]
    pub pid: String,
    /// Socket.IO: when the transport opened, until its CONNECT (`CONNECT_TIMEOUT_MS`).
    #[serde(rename = "n", default, skip_serializing_if = "is_zero")]
    pub opened_ms: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

impl Attachment {
    /// A new socket's state: no subscriptions, a full rate bucket.
    pub fn new(who: Identity, limits: &Limits, now_ms: i64) -> Attachment {
        Attachment {
            who,
            subs: Vec::new(),
            bucket: Bucket::full(limits.frames_per_minute, now_ms),
            closed: false,
            warned: 0,
            sio: 0,
            pid: String::new(),
            opened_ms: 0,
        }
    }
}

/// What the token alarm does for one socket now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenDuty {
    /// No expiry (visitors), or nothing to do before `at` (ms).
    Wait(Option<i64>),
    /// Send `token_expiring`, then look again at `at` (ms, the expiry).
    Warn { at: i64 },
    /// The token expired: close with 4001.
    Close,
}

/// The token duty of a socket whose token expires at `exp` (epoch seconds; 0: never), was
/// warned for `warned`, at `now_ms`.
pub fn token_duty(exp: i64, warned: i64, now_ms: i64) -> TokenDuty {
    if exp <= 0 {
        return TokenDuty::Wait(None);
    }
    // `exp` is a whole second: the token is expired from the next one on (`token_expired`).
    let close_at = (exp + 1) * 1000;
    if now_ms >= close_at {
        return TokenDuty::Close;
    }
    let warn_at = exp * 1000 - protocol::TOKEN_WARNING_MS;
    if warned == exp {
        TokenDuty::Wait(Some(close_at))
    } else if now_ms >= warn_at {
        TokenDuty::Warn { at: close_at }
    } else {
        TokenDuty::Wait(Some(warn_at))
    }
}

/// Open sockets with their decoded attachments.
pub type LiveSockets = Vec<(WebSocket, Attachment)>;

/// The tag naming a socket's user, so connections per user are counted without decoding
/// every attachment.
pub fn user_tag(user_id: &str) -> String {
    format!("u:{user_id}")
}

/// An attachment that would not fit the platform limit is refused as `too_many_channels`
/// (long channel names or filters fill it before the subscription count does).
pub fn fits(att: &Attachment) -> std::result::Result<(), FrameError> {
    let size = serde_json::to_vec(att)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > protocol::MAX_ATTACHMENT_BYTES {
        return Err(FrameError::new(
            "too_many_channels",
            "subscription state would exceed 2 KB: use fewer or shorter channels and filters",
        ));
    }
    Ok(())
}

/// Has the token this socket was opened with expired? (`exp` 0: no expiry, e.g. visitors.)
pub fn token_expired(who: &Identity, now_ms: i64) -> bool {
    who.exp > 0 && now_ms / 1000 > who.exp
}

pub fn token_expired_error() -> FrameError {
    FrameError::new(
        "token_expired",
        "the token expired; reconnect with a fresh one",
    )
}

/// A new socket for a user who already has `existing` open ones.
pub fn admit_connection(existing: usize, limits: &Limits) -> std::result::Result<(), FrameError> {
    if existing >= limits.ws_per_user {
        return Err(FrameError::new(
            "too_many_connections",
            format!(
                "at most {} WebSocket connections per user",
                limits.ws_per_user
            ),
        ));
    }
    Ok(())
}

/// Why an incoming frame is not handled, and the close that follows (if any).
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub error: FrameError,
    /// `(close code, reason)`; `None` keeps the socket open.
    pub close: Option<(u16, &'static str)>,
}

impl Refusal {
    pub fn closing(error: FrameError, code: u16, reason: &'static str) -> Self {
        Refusal {
            error,
            close: Some((code, reason)),
        }
    }
}

/// The checks every incoming frame passes before it is parsed, in this order: token
/// expiry, size (`len` bytes), binary frames, then the rate bucket (which takes a token,
/// so the caller persists `att` afterwards).
pub fn admit_frame(
    att: &mut Attachment,
    len: usize,
    binary: bool,
    limits: &Limits,
    now_ms: i64,
) -> std::result::Result<(), Refusal> {
    if token_expired(&att.who, now_ms) {
        return Err(Refusal::closing(
            token_expired_error(),
            close::TOKEN_EXPIRED,
            "token expired",
        ));
    }
    if len > limits.max_frame_bytes {
        return Err(Refusal::closing(
            FrameError::new(
                "frame_too_large",
                format!("frames are limited to {} bytes", limits.max_frame_bytes),
            ),
            close::TOO_BIG,
            "frame too large",
        ));
    }
    if binary {
        return Err(Refusal {
            error: FrameError::new("bad_frame", "binary frames are not supported"),
            close: None,
        });
    }
    if !att.bucket.take(limits.frames_per_minute, now_ms) {
        return Err(Refusal::closing(
            FrameError::new(
                "rate_limited",
                format!("more than {} frames per minute", limits.frames_per_minute),
            ),
            close::POLICY,
            "rate limited",
        ));
    }
    Ok(())
}

/// A 1005/1006 (no status, abnormal) cannot be sent back: answer those with a normal close.
pub fn echo_close_code(code: usize) -> u16 {
    if code == 1005 || code == 1006 {
        1000
    } else {
        code as u16
    }
}

pub fn send(ws: &WebSocket, frame: &str) {
    // A socket that went away mid-send is not an error of the hub.
    let _ = ws.send_with_str(frame);
}

pub fn send_error(ws: &WebSocket, e: &FrameError) {
    send(ws, &protocol::error_frame(e.code, &e.message));
}

/// Sends a hub frame in the socket's protocol: a Socket.IO socket gets its packet form
/// (`socketio::from_frame`), or nothing when the frame has none.
pub fn send_frame(ws: &WebSocket, sio: bool, frame: &str) {
    if !sio {
        send(ws, frame);
    } else if let Some(p) = crate::realtime::socketio::from_frame(frame, false) {
        send(ws, &p);
    }
}

/// Sends the refusal and closes if it says so.
pub fn refuse(ws: &WebSocket, r: &Refusal) {
    refuse_as(ws, false, r);
}

/// `refuse` in the socket's protocol (a Socket.IO socket is sent DISCONNECT before a close).
pub fn refuse_as(ws: &WebSocket, sio: bool, r: &Refusal) {
    send_frame(
        ws,
        sio,
        &protocol::error_frame(r.error.code, &r.error.message),
    );
    if let Some((code, reason)) = r.close {
        if sio {
            send(ws, crate::realtime::socketio::DISCONNECT);
        }
        let _ = ws.close(Some(code), Some(reason));
    }
}

/// The socket's attachment, unless it is closing or lost.
pub fn attachment(ws: &WebSocket) -> Option<Attachment> {
    ws.deserialize_attachment::<Attachment>()
        .ok()
        .flatten()
        .filter(|a| !a.closed)
}

/// Writes the attachment if it fits.
pub fn save(ws: &WebSocket, att: &Attachment) -> std::result::Result<(), FrameError> {
    fits(att)?;
    ws.serialize_attachment(att)
        .map_err(|e| FrameError::new("internal", e.to_string()))
}

impl TenantHub {
    /// The open sockets with their attachments (decoded once, then cached until a socket
    /// joins, leaves or changes; the cache dies with the instance on hibernation).
    pub(super) fn live_sockets(&self) -> Rc<LiveSockets> {
        if let Some(c) = self.sockets.borrow().as_ref() {
            return c.clone();
        }
        let list: LiveSockets = self
            .state
            .get_websockets()
            .into_iter()
            .filter_map(|ws| attachment(&ws).map(|a| (ws, a)))
            .collect();
        let list = Rc::new(list);
        self.sockets.replace(Some(list.clone()));
        list
    }

    /// Drops the socket cache (after any attachment change).
    pub(super) fn sockets_changed(&self) {
        self.sockets.replace(None);
    }

    /// Live connections as `(identity, subscriptions)`, for presence and stats.
    pub(super) fn live(&self) -> Vec<(Identity, Vec<Sub>)> {
        self.live_sockets()
            .iter()
            .map(|(_, a)| (a.who.clone(), a.subs.clone()))
            .collect()
    }

    /// `GET /ws`: a hibernatable socket tagged with its user. Over the per-user limit the
    /// socket is accepted, told why, then closed: a refused upgrade would hide the reason.
    pub(super) fn accept(&self, req: &Request) -> Result<Response> {
        let Some(who) = super::requests::identity(req) else {
            return super::requests::json_error(400, "bad_request", "missing identity");
        };
        let pair = WebSocketPair::new()?;
        let tag = user_tag(&who.user_id);
        let existing = self
            .state
            .get_websockets_with_tag(&tag)
            .iter()
            .filter(|w| attachment(w).is_some())
            .count();
        self.state
            .accept_websocket_with_tags(&pair.server, &[tag.as_str()]);
        let att = Attachment::new(who, &self.limits, now_ms());
        match admit_connection(existing, &self.limits) {
            Err(e) => refuse(
                &pair.server,
                &Refusal::closing(e, close::POLICY, "too many connections"),
            ),
            Ok(()) => pair.server.serialize_attachment(&att)?,
        }
        self.sockets_changed();
        Response::from_websocket(pair.client)
    }

    /// A socket closed or failed: it stops counting at once (marked closed), and its
    /// presence leaves wait out the grace period in storage, announced by the alarm.
    pub(super) async fn gone(&self, ws: &WebSocket) {
        let Some(mut att) = attachment(ws) else {
            return;
        };
        let channels: Vec<String> = att
            .subs
            .iter()
            .filter(|s| s.presence)
            .map(|s| s.channel.clone())
            .collect();
        att.closed = true;
        att.subs.clear();
        let _ = ws.serialize_attachment(&att);
        self.sockets_changed();
        if channels.is_empty() {
            return;
        }
        let due = now_ms() + self.limits.presence_grace_ms as i64;
        let live = self.live();
        for ch in &channels {
            let left = super::presence::count(
                live.iter().map(|(w, s)| (w.user_id.as_str(), s.as_slice())),
                ch,
                &att.who.user_id,
            );
            if left == 0 {
                let _ = self.store.schedule_leave(ch, &att.who.user_id, due);
            }
        }
        self.alarm_at(due).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::auth::Role;

    fn att(exp: i64, subs: usize, channel_len: usize) -> Attachment {
        Attachment {
            who: Identity {
                user_id: "u_1234567890".into(),
                role: Role::Broker,
                exp,
                anonymous: false,
            },
            subs: (0..subs)
                .map(|i| Sub {
                    channel: format!("user:{i:0>w$}", w = channel_len.saturating_sub(5)),
                    types: vec![],
                    presence: false,
                })
                .collect(),
            bucket: Bucket::full(100, 0),
            closed: false,
            warned: 0,
            sio: 0,
            pid: String::new(),
            opened_ms: 0,
        }
    }

    #[test]
    fn attachment_stays_under_2_kb() {
        assert!(fits(&att(0, 0, 0)).is_ok());
        // 50 short channels fit (the subscription limit), 50 maximal ones do not.
        assert!(fits(&att(0, 50, 12)).is_ok());
        let e = fits(&att(0, 50, 96)).unwrap_err();
        assert_eq!(e.code, "too_many_channels");
        // Closed and anonymous flags are left out when false (they cost bytes on every socket).
        let text = serde_json::to_string(&att(0, 0, 0)).unwrap();
        assert!(!text.contains("\"z\"") && !text.contains("\"a\""), "{text}");
    }

    #[test]
    fn connections_per_user() {
        let l = Limits::default();
        assert!(admit_connection(4, &l).is_ok());
        assert_eq!(
            admit_connection(5, &l).unwrap_err().code,
            "too_many_connections"
        );
    }

    #[test]
    fn token_expiry() {
        let who = att(100, 0, 0).who;
        assert!(!token_expired(&who, 100_000));
        assert!(token_expired(&who, 101_000));
        assert!(
            !token_expired(&att(0, 0, 0).who, i64::MAX / 2),
            "exp 0 never expires"
        );
    }

    #[test]
    fn frame_admission_order_and_closes() {
        let l = Limits {
            frames_per_minute: 2,
            max_frame_bytes: 10,
            ..Limits::default()
        };
        let mut a = att(100, 0, 0);
        let expired = admit_frame(&mut a, 1, false, &l, 200_000).unwrap_err();
        assert_eq!(
            (expired.error.code, expired.close),
            (
                "token_expired",
                Some((close::TOKEN_EXPIRED, "token expired"))
            )
        );
        let mut a = att(0, 0, 0);
        let big = admit_frame(&mut a, 11, false, &l, 0).unwrap_err();
        assert_eq!(big.close.map(|c| c.0), Some(close::TOO_BIG));
        let bin = admit_frame(&mut a, 3, true, &l, 0).unwrap_err();
        assert_eq!((bin.error.code, bin.close), ("bad_frame", None));
        assert!(admit_frame(&mut a, 3, false, &l, 0).is_ok());
        assert!(admit_frame(&mut a, 3, false, &l, 0).is_ok());
        let rate = admit_frame(&mut a, 3, false, &l, 0).unwrap_err();
        assert_eq!(
            (rate.error.code, rate.close.map(|c| c.0)),
            ("rate_limited", Some(close::POLICY))
        );
        assert_eq!(echo_close_code(1006), 1000);
        assert_eq!(echo_close_code(4001), 4001);
    }

    #[test]
    fn token_duty_warns_a_minute_ahead_then_closes() {
        let exp = 1_000; // seconds
        let ms = exp * 1000;
        assert_eq!(token_duty(0, 0, ms), TokenDuty::Wait(None), "no expiry");
        assert_eq!(
            token_duty(exp, 0, ms - 120_000),
            TokenDuty::Wait(Some(ms - 60_000))
        );
        assert_eq!(
            token_duty(exp, 0, ms - 60_000),
            TokenDuty::Warn { at: ms + 1000 }
        );
        assert_eq!(
            token_duty(exp, exp, ms - 30_000),
            TokenDuty::Wait(Some(ms + 1000)),
            "warned once per expiry"
        );
        assert_eq!(
            token_duty(exp + 900, exp, ms),
            TokenDuty::Wait(Some((exp + 900) * 1000 - 60_000)),
            "a refreshed token is warned again"
        );
        assert_eq!(
            token_duty(exp, exp, ms + 999),
            TokenDuty::Wait(Some(ms + 1000))
        );
        assert_eq!(token_duty(exp, exp, ms + 1000), TokenDuty::Close);
        assert!(token_expired(
            &Identity {
                user_id: "u".into(),
                role: Role::Broker,
                exp,
                anonymous: false
            },
            ms + 1000
        ));
    }
}
