//! The realtime wire protocol (client and server frames), channel grammar and the
//! server-side rules for who may subscribe to and receive what. Pure.

use crate::domain::auth::Role;
use crate::domain::event::Event;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Frames a client sends.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
pub enum ClientFrame {
    Subscribe {
        channels: Vec<String>,
        #[serde(default)]
        since: Option<u64>,
    },
    Unsubscribe {
        channels: Vec<String>,
    },
    Ping,
}

pub const MAX_FRAME_BYTES: usize = 16 * 1024;
pub const MAX_CHANNELS_PER_SOCKET: usize = 16;
pub const MAX_CHANNEL_LEN: usize = 96;

#[derive(Debug, Clone, PartialEq)]
pub struct FrameError {
    pub code: &'static str,
    pub message: String,
}

impl FrameError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        FrameError {
            code,
            message: message.into(),
        }
    }
}

pub fn parse_client_frame(text: &str) -> Result<ClientFrame, FrameError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(FrameError::new(
            "frame_too_large",
            format!("frames are limited to {MAX_FRAME_BYTES} bytes"),
        ));
    }
    serde_json::from_str(text).map_err(|e| {
        FrameError::new(
            "bad_frame",
            format!("expected a JSON object with op subscribe|unsubscribe|ping: {e}"),
        )
    })
}

/// A parsed channel name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    Tenant,
    User(String),
    Role(Role),
    Entity(String, String),
}

fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
}

pub fn parse_channel(name: &str) -> Option<Channel> {
    if name.len() > MAX_CHANNEL_LEN {
        return None;
    }
    if name == "tenant" {
        return Some(Channel::Tenant);
    }
    if let Some(id) = name.strip_prefix("user:") {
        return plain(id).then(|| Channel::User(id.to_string()));
    }
    if let Some(r) = name.strip_prefix("role:") {
        return Role::parse(r).map(Channel::Role);
    }
    if let Some(rest) = name.strip_prefix("entity:") {
        let (kind, id) = rest.split_once(':')?;
        return (plain(kind) && plain(id)).then(|| Channel::Entity(kind.into(), id.into()));
    }
    None
}

/// Who is on the socket: kept in the WebSocket attachment (well under 2 KB).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    #[serde(rename = "u")]
    pub user_id: String,
    #[serde(rename = "r")]
    pub role: Role,
    #[serde(rename = "x")]
    pub exp: i64,
}

/// May this identity subscribe to this channel? Checked on the server for every subscribe.
pub fn may_subscribe(who: &Identity, ch: &Channel) -> Result<(), FrameError> {
    match ch {
        Channel::Tenant | Channel::Entity(..) => Ok(()),
        Channel::User(id) if *id == who.user_id || who.role == Role::Admin => Ok(()),
        Channel::User(_) => Err(FrameError::new(
            "forbidden",
            "only your own user: channel (admins may subscribe to any)",
        )),
        Channel::Role(r) if *r == who.role => Ok(()),
        Channel::Role(_) => Err(FrameError::new(
            "forbidden",
            "only the role: channel of your role",
        )),
    }
}

/// Validates a subscribe request as a whole: all channels valid and allowed, or none.
pub fn check_subscribe(who: &Identity, channels: &[String]) -> Result<(), FrameError> {
    if channels.is_empty() {
        return Err(FrameError::new("bad_channel", "channels must not be empty"));
    }
    for name in channels {
        let ch = parse_channel(name)
            .ok_or_else(|| FrameError::new("bad_channel", format!("unknown channel '{name}'")))?;
        may_subscribe(who, &ch)?;
    }
    Ok(())
}

/// Does a connection subscribed to `subs` get `event`? One of its channels must be in the
/// event's audience, and its identity must still be allowed to see that channel.
pub fn should_deliver(who: &Identity, subs: &[String], event: &Event) -> bool {
    event.channels.iter().any(|c| {
        subs.iter().any(|s| s == c)
            && parse_channel(c).is_some_and(|ch| may_subscribe(who, &ch).is_ok())
    })
}

/// Adds channels to a subscription set without duplicates; errors past the limit.
pub fn merge_subscriptions(current: &mut Vec<String>, add: &[String]) -> Result<(), FrameError> {
    for c in add {
        if !current.contains(c) {
            current.push(c.clone());
        }
    }
    if current.len() > MAX_CHANNELS_PER_SOCKET {
        return Err(FrameError::new(
            "too_many_channels",
            format!("at most {MAX_CHANNELS_PER_SOCKET} channels per connection"),
        ));
    }
    Ok(())
}

pub fn event_frame(e: &Event) -> String {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("op".into(), json!("event"));
    }
    v.to_string()
}

pub fn subscribed_frame(channels: &[String], head: u64, recovered: bool) -> String {
    json!({"op": "subscribed", "channels": channels, "head": head, "recovered": recovered})
        .to_string()
}

pub fn unsubscribed_frame(channels: &[String]) -> String {
    json!({"op": "unsubscribed", "channels": channels}).to_string()
}

pub fn pong_frame() -> String {
    json!({"op": "pong"}).to_string()
}

pub fn error_frame(code: &str, message: &str) -> String {
    json!({"op": "error", "code": code, "message": message}).to_string()
}

/// Can a resume from `since` be served from a history holding `oldest..=head`?
/// (`oldest` is None when the history is empty.)
pub fn recoverable(since: Option<u64>, oldest: Option<u64>, head: u64) -> bool {
    match since {
        None => true,
        Some(s) if s > head => false, // the client is ahead: the history was reset
        Some(s) => match oldest {
            None => s == head,
            Some(o) => s + 1 >= o,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(id: &str, role: Role) -> Identity {
        Identity {
            user_id: id.into(),
            role,
            exp: 0,
        }
    }
    fn ev(channels: &[&str]) -> Event {
        Event {
            seq: 1,
            id: "e".into(),
            kind: "t".into(),
            channels: channels.iter().map(|s| s.to_string()).collect(),
            data: json!({}),
            ts: "t".into(),
        }
    }

    #[test]
    fn frames_parse_and_reject() {
        assert_eq!(
            parse_client_frame(r#"{"op":"subscribe","channels":["tenant"],"since":41}"#).unwrap(),
            ClientFrame::Subscribe {
                channels: vec!["tenant".into()],
                since: Some(41)
            }
        );
        assert_eq!(
            parse_client_frame(r#"{"op":"ping"}"#).unwrap(),
            ClientFrame::Ping
        );
        assert_eq!(parse_client_frame("nope").unwrap_err().code, "bad_frame");
        assert_eq!(
            parse_client_frame(r#"{"op":"dance"}"#).unwrap_err().code,
            "bad_frame"
        );
        assert_eq!(
            parse_client_frame(r#"{"op":"subscribe","channels":["tenant"],"since":-1}"#)
                .unwrap_err()
                .code,
            "bad_frame"
        );
        let big = format!(r#"{{"op":"ping","x":"{}"}}"#, "a".repeat(MAX_FRAME_BYTES));
        assert_eq!(
            parse_client_frame(&big).unwrap_err().code,
            "frame_too_large"
        );
    }

    #[test]
    fn channel_rules() {
        let broker = who("b1", Role::Broker);
        assert!(check_subscribe(
            &broker,
            &[
                "tenant".into(),
                "user:b1".into(),
                "role:broker".into(),
                "entity:customer:c_1".into()
            ]
        )
        .is_ok());
        assert_eq!(
            check_subscribe(&broker, &["user:b2".into()])
                .unwrap_err()
                .code,
            "forbidden"
        );
        assert_eq!(
            check_subscribe(&broker, &["role:admin".into()])
                .unwrap_err()
                .code,
            "forbidden"
        );
        assert_eq!(
            check_subscribe(&broker, &["planet:mars".into()])
                .unwrap_err()
                .code,
            "bad_channel"
        );
        assert_eq!(
            check_subscribe(&broker, &[]).unwrap_err().code,
            "bad_channel"
        );
        assert!(check_subscribe(&who("a", Role::Admin), &["user:b2".into()]).is_ok());
    }

    #[test]
    fn delivery_needs_overlap_and_permission() {
        let v = who("v1", Role::Viewer);
        assert!(should_deliver(
            &v,
            &["tenant".into()],
            &ev(&["tenant", "entity:customer:c"])
        ));
        assert!(!should_deliver(
            &v,
            &["entity:customer:d".into()],
            &ev(&["tenant", "entity:customer:c"])
        ));
        // A role channel held in the subscription set is re-checked against the identity.
        assert!(!should_deliver(
            &v,
            &["role:admin".into()],
            &ev(&["role:admin"])
        ));
    }

    #[test]
    fn recovery_window() {
        assert!(recoverable(None, None, 0));
        assert!(recoverable(Some(0), None, 0));
        assert!(recoverable(Some(0), Some(1), 5));
        assert!(recoverable(Some(5), Some(1), 5));
        assert!(!recoverable(Some(6), Some(1), 5));
        assert!(!recoverable(Some(3), Some(10), 20));
        assert!(recoverable(Some(9), Some(10), 20));
    }

    #[test]
    fn event_frame_has_op_and_envelope() {
        let f: Value = serde_json::from_str(&event_frame(&ev(&["tenant"]))).unwrap();
        assert_eq!(f["op"], "event");
        assert_eq!(f["type"], "t");
        assert_eq!(f["seq"], 1);
    }

    #[test]
    fn attachment_stays_small() {
        let id = Identity {
            user_id: "u".repeat(128),
            role: Role::Admin,
            exp: i64::MAX,
        };
        let subs: Vec<String> = (0..MAX_CHANNELS_PER_SOCKET)
            .map(|_| "x".repeat(MAX_CHANNEL_LEN))
            .collect();
        let att = serde_json::to_vec(&(id, subs)).unwrap();
        assert!(att.len() < 2048, "attachment is {} bytes", att.len());
    }
}
