//! Socket.IO v5 over Engine.IO v4 (pure): reading and writing packets, the handshake, the
//! recovery session, and how the client events of Socket.IO front ends map onto the hub's
//! subscriptions. The hub's own frames are translated here, so one fan-out and one read
//! policy serve both protocols.

use crate::domain::event::Event;
use crate::protocol::{FrameError, Identity};
use serde_json::{json, Value};

/// Engine.IO heartbeat: the server pings every `PING_INTERVAL_MS`; the client closes the
/// connection when no ping came for interval + timeout.
pub const PING_INTERVAL_MS: u64 = 25_000;
pub const PING_TIMEOUT_MS: u64 = 20_000;
/// A transport that has not sent its CONNECT within this time is closed (Socket.IO's
/// `connectTimeout`).
pub const CONNECT_TIMEOUT_MS: i64 = 45_000;
/// Whether a transport in state `sio` (1: waiting for its CONNECT) opened at `opened_ms`
/// has waited too long at `now_ms`.
pub fn connect_overdue(sio: i64, opened_ms: i64, now_ms: i64) -> bool {
    sio == 1 && opened_ms > 0 && now_ms - opened_ms > CONNECT_TIMEOUT_MS
}

/// Long-polling sessions one hub keeps at most (each is held in its memory).
pub const MAX_POLL_SESSIONS: usize = 5_000;
/// Packets in one polling payload are separated by the record separator.
pub const SEPARATOR: char = '\u{1e}';
/// The server's DISCONNECT of the default namespace.
pub const DISCONNECT: &str = "41";

/// The Engine.IO `open` packet. `upgrades`: the polling transport offers the WebSocket.
pub fn open_packet(sid: &str, upgrades: bool, max_payload: usize) -> String {
    let up = if upgrades { r#""websocket""# } else { "" };
    format!(
        r#"0{{"sid":{},"upgrades":[{up}],"pingInterval":{PING_INTERVAL_MS},"pingTimeout":{PING_TIMEOUT_MS},"maxPayload":{max_payload}}}"#,
        quote(sid)
    )
}

/// A JSON string literal.
fn quote(s: &str) -> String {
    Value::from(s).to_string()
}

/// One Engine.IO packet as a client sends it.
#[derive(Debug, PartialEq)]
pub enum Eio<'a> {
    Close,
    Ping(&'a str),
    Pong,
    /// A Socket.IO packet (the text after `4`).
    Message(&'a str),
    Upgrade,
    Noop,
    /// Binary (`b…` over polling) or unknown.
    Bad,
}

pub fn read_eio(p: &str) -> Eio<'_> {
    let rest = p.get(1..).unwrap_or("");
    match p.as_bytes().first() {
        Some(b'1') => Eio::Close,
        Some(b'2') => Eio::Ping(rest),
        Some(b'3') => Eio::Pong,
        Some(b'4') => Eio::Message(rest),
        Some(b'5') => Eio::Upgrade,
        Some(b'6') => Eio::Noop,
        _ => Eio::Bad,
    }
}

/// One Socket.IO packet as a client sends it (text after the Engine.IO `4`).
#[derive(Debug, PartialEq)]
pub enum Sio {
    /// CONNECT to `/` with its auth object (`{}` when none).
    Connect(Value),
    /// CONNECT to another namespace: refused with CONNECT_ERROR.
    OtherNamespace(String),
    Disconnect,
    /// EVENT: `name`, its first argument (`null` when none) and the ack id, if any.
    Event {
        name: String,
        arg: Value,
        ack: Option<u64>,
    },
    /// BINARY_EVENT or BINARY_ACK: refused.
    Binary,
    /// Anything else (an ACK from the client, a malformed packet): ignored.
    Ignored,
}

pub fn read_sio(p: &str) -> Sio {
    let kind = p.as_bytes().first().copied();
    let mut rest = p.get(1..).unwrap_or("");
    if matches!(kind, Some(b'5' | b'6')) {
        return Sio::Binary;
    }
    if rest.starts_with('/') {
        let (nsp, after) = rest.split_once(',').unwrap_or((rest, ""));
        if nsp != "/" {
            return match kind {
                Some(b'0') => Sio::OtherNamespace(nsp.to_string()),
                _ => Sio::Ignored,
            };
        }
        rest = after;
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let ack = rest[..digits].parse::<u64>().ok();
    let body = &rest[digits..];
    let data: Option<Value> = if body.is_empty() {
        None
    } else {
        match serde_json::from_str(body) {
            Ok(v) => Some(v),
            Err(_) => return Sio::Ignored,
        }
    };
    match (kind, data) {
        (Some(b'0'), None) => Sio::Connect(json!({})),
        (Some(b'0'), Some(v)) if v.is_object() => Sio::Connect(v),
        (Some(b'1'), _) => Sio::Disconnect,
        (Some(b'2'), Some(Value::Array(mut args)))
            if args.first().is_some_and(Value::is_string) =>
        {
            let name = args.remove(0).as_str().unwrap_or_default().to_string();
            let arg = args.into_iter().next().unwrap_or(Value::Null);
            Sio::Event { name, arg, ack }
        }
        _ => Sio::Ignored,
    }
}

/// CONNECT's answer: the socket id and the recovery session id (`pid`).
pub fn connect_ok(sid: &str, pid: &str) -> String {
    format!(r#"40{{"sid":{},"pid":{}}}"#, quote(sid), quote(pid))
}

/// CONNECT_ERROR with the contract's error shape in `data`.
pub fn connect_error(code: &str, message: &str) -> String {
    let m = quote(message);
    format!(
        r#"44{{"message":{m},"data":{{"error":{{"code":{},"message":{m}}}}}}}"#,
        quote(code)
    )
}

/// CONNECT_ERROR of a namespace other than `/` (Pulse serves the default one only).
pub fn namespace_error(nsp: &str) -> String {
    format!(r#"44{nsp},{{"message":"Invalid namespace"}}"#)
}

/// An EVENT packet; `offset` (a history seq) makes it count for recovery.
pub fn emit(name: &str, arg: &Value, offset: Option<u64>) -> String {
    match offset {
        Some(o) => format!(r#"42[{},{arg},"{o}"]"#, quote(name)),
        None => format!("42[{},{arg}]", quote(name)),
    }
}

/// A Pulse event: named by its type, the envelope as the one argument, its seq the offset.
pub fn event_packet(e: &Event) -> String {
    let envelope = serde_json::to_value(e).unwrap_or(Value::Null);
    emit(&e.kind, &envelope, Some(e.seq))
}

/// The ACK of client event `id`.
pub fn ack(id: u64, value: &Value) -> String {
    format!("43{id}[{value}]")
}

/// The ack answers of client events.
pub fn ack_ok(head: u64, recovered: bool) -> Value {
    json!({"ok": true, "head": head, "recovered": recovered})
}

pub fn ack_error(e: &FrameError) -> Value {
    json!({"ok": false, "error": {"code": e.code, "message": e.message}})
}

/// A hub frame (`{"op":…}`) as the Socket.IO packet a client gets, if any: events by their
/// type, a snapshot as `<channel>:initial` (the first after a subscribe) or
/// `<channel>:update`, `token_expiring` and `error` as events of those names. `subscribed`,
/// `pong` and presence frames have no Socket.IO form (acks answer the requests).
pub fn from_frame(frame: &str, initial: bool) -> Option<String> {
    let mut v: Value = serde_json::from_str(frame).ok()?;
    let obj = v.as_object_mut()?;
    let op = obj.remove("op")?;
    match op.as_str()? {
        "event" => {
            let name = obj.get("type")?.as_str()?.to_string();
            let seq = obj.get("seq")?.as_u64();
            Some(emit(&name, &v, seq))
        }
        "snapshot" => {
            let channel = obj.get("channel")?.as_str()?;
            let suffix = if initial { "initial" } else { "update" };
            Some(emit(&format!("{channel}:{suffix}"), obj.get("data")?, None))
        }
        name @ ("token_expiring" | "error") => Some(emit(name, &v, None)),
        _ => None,
    }
}

/// What a client event asks of the hub.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Subscribe to `channels`, keeping only `types` (all when empty).
    Subscribe {
        channels: Vec<String>,
        types: Vec<String>,
    },
    Unsubscribe(Vec<String>),
}

/// The rooms every socket joins on connect: its tenant, its user and its role.
pub fn default_channels(who: &Identity) -> Vec<String> {
    vec![
        "tenant".to_string(),
        format!("user:{}", who.user_id),
        format!("role:{}", who.role.as_str()),
    ]
}

/// The hub action of client event `name` with argument `arg`. `subscribe` without
/// channels filters the default rooms; `join_room`/`leave_room` name an entity channel by
/// `roomType` and `<roomType>Id` or `id`; `subscribe:<snapshot>` joins that snapshot
/// channel. The channels' read rules are checked by the hub, as for the WebSocket API.
pub fn action(name: &str, arg: &Value, who: &Identity) -> Result<Action, FrameError> {
    let bad = |m: &str| FrameError::new("bad_frame", m);
    let strings = |key: &str| -> Result<Vec<String>, FrameError> {
        match arg.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad(&format!("{key} must be a list of strings"))),
            Some(_) => Err(bad(&format!("{key} must be a list of strings"))),
        }
    };
    match name {
        "subscribe" => {
            let mut channels = strings("channels")?;
            if channels.is_empty() {
                channels = default_channels(who);
            }
            Ok(Action::Subscribe {
                channels,
                types: strings("eventTypes")?,
            })
        }
        "join_room" | "leave_room" => {
            let kind = arg
                .get("roomType")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("roomType is required"))?;
            let id = arg
                .get(format!("{kind}Id"))
                .or_else(|| arg.get("id"))
                .and_then(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .or_else(|| v.as_u64().map(|n| n.to_string()))
                })
                .ok_or_else(|| bad(&format!("{kind}Id (or id) is required")))?;
            let channel = vec![format!("entity:{kind}:{id}")];
            Ok(if name == "join_room" {
                Action::Subscribe {
                    channels: channel,
                    types: Vec::new(),
                }
            } else {
                Action::Unsubscribe(channel)
            })
        }
        "subscribe:dashboard" | "subscribe:analytics" | "subscribe:notifications" => {
            Ok(Action::Subscribe {
                channels: vec![name["subscribe:".len()..].to_string()],
                types: Vec::new(),
            })
        }
        other => Err(FrameError::new(
            "unknown_event",
            format!("'{other}' is not a client event of Pulse (docs/socketio.md)"),
        )),
    }
}

/// The offset a reconnecting client sends (`auth.offset`, the last seq it got).
pub fn offset(auth: &Value) -> Option<u64> {
    auth.get("offset")?.as_str()?.parse().ok()
}

/// The token of a CONNECT (`auth.token`), else the handshake's `?token=`.
pub fn token<'a>(auth: &'a Value, query_token: Option<&'a str>) -> Option<&'a str> {
    auth.get("token").and_then(Value::as_str).or(query_token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::auth::Role;
    use crate::protocol::fixtures::who;

    #[test]
    fn engine_packets() {
        assert_eq!(read_eio("2probe"), Eio::Ping("probe"));
        assert_eq!(read_eio("3"), Eio::Pong);
        assert_eq!(read_eio("40{}"), Eio::Message("0{}"));
        assert_eq!(read_eio("5"), Eio::Upgrade);
        assert_eq!(read_eio("bAQID"), Eio::Bad);
        assert_eq!(read_eio(""), Eio::Bad);
        let open: Value = serde_json::from_str(&open_packet("s1", true, 100)[1..]).unwrap();
        assert_eq!(open["upgrades"], json!(["websocket"]));
        assert_eq!(open["pingInterval"], 25_000);
    }

    #[test]
    fn socketio_packets() {
        assert_eq!(read_sio("0"), Sio::Connect(json!({})));
        assert_eq!(
            read_sio(r#"0{"token":"t","pid":"p","offset":"7"}"#),
            Sio::Connect(json!({"token": "t", "pid": "p", "offset": "7"}))
        );
        assert_eq!(read_sio("0/admin,{}"), Sio::OtherNamespace("/admin".into()));
        assert_eq!(read_sio("0/,{}"), Sio::Connect(json!({})));
        assert_eq!(read_sio("1"), Sio::Disconnect);
        assert_eq!(
            read_sio(r#"212["subscribe",{"channels":["tenant"]}]"#),
            Sio::Event {
                name: "subscribe".into(),
                arg: json!({"channels": ["tenant"]}),
                ack: Some(12)
            }
        );
        assert_eq!(
            read_sio(r#"2["subscribe:dashboard"]"#),
            Sio::Event {
                name: "subscribe:dashboard".into(),
                arg: Value::Null,
                ack: None
            }
        );
        assert_eq!(
            read_sio(r#"51-["x",{"_placeholder":true,"num":0}]"#),
            Sio::Binary
        );
        assert_eq!(read_sio("2[1]"), Sio::Ignored);
        assert_eq!(read_sio("2{bad"), Sio::Ignored);
        assert_eq!(ack(3, &json!({"ok": true})), r#"433[{"ok":true}]"#);
        assert_eq!(connect_ok("a", "b"), r#"40{"sid":"a","pid":"b"}"#);
        let e: Value =
            serde_json::from_str(&connect_error("unauthorized", "no \"token\"")[2..]).unwrap();
        assert_eq!(e["data"]["error"]["code"], "unauthorized");
        assert_eq!(e["message"], "no \"token\"");
        assert_eq!(
            emit("a\"b", &json!({"x": 1}), Some(7)),
            r#"42["a\"b",{"x":1},"7"]"#
        );
        assert_eq!(
            namespace_error("/admin"),
            r#"44/admin,{"message":"Invalid namespace"}"#
        );
    }

    #[test]
    fn hub_frames_become_events() {
        let ev = r#"{"op":"event","seq":7,"id":"e7","type":"crm:customer:created","channels":["tenant"],"data":{"id":"c1"},"ts":"t"}"#;
        let p = from_frame(ev, false).unwrap();
        let args: Value = serde_json::from_str(&p[2..]).unwrap();
        assert_eq!(args[0], "crm:customer:created");
        assert_eq!(args[1]["data"]["id"], "c1");
        assert!(args[1].get("op").is_none());
        assert_eq!(args[2], "7");
        let snap = r#"{"op":"snapshot","channel":"dashboard","seq":3,"data":{"n":1}}"#;
        assert_eq!(
            from_frame(snap, true).unwrap(),
            r#"42["dashboard:initial",{"n":1}]"#
        );
        assert_eq!(
            from_frame(snap, false).unwrap(),
            r#"42["dashboard:update",{"n":1}]"#
        );
        assert!(from_frame(r#"{"op":"pong"}"#, false).is_none());
        assert!(
            from_frame(r#"{"op":"error","code":"x","message":"y"}"#, false)
                .unwrap()
                .starts_with(r#"42["error""#)
        );
    }

    #[test]
    fn client_events() {
        let w = who("b1", Role::Broker);
        assert_eq!(
            action("subscribe", &json!({"eventTypes": ["crm:*"]}), &w).unwrap(),
            Action::Subscribe {
                channels: vec!["tenant".into(), "user:b1".into(), "role:broker".into()],
                types: vec!["crm:*".into()]
            }
        );
        assert_eq!(
            action(
                "join_room",
                &json!({"roomType": "customer", "customerId": "c1"}),
                &w
            )
            .unwrap(),
            Action::Subscribe {
                channels: vec!["entity:customer:c1".into()],
                types: vec![]
            }
        );
        assert_eq!(
            action("leave_room", &json!({"roomType": "sale", "id": "s1"}), &w).unwrap(),
            Action::Unsubscribe(vec!["entity:sale:s1".into()])
        );
        assert_eq!(
            action("subscribe:notifications", &Value::Null, &w).unwrap(),
            Action::Subscribe {
                channels: vec!["notifications".into()],
                types: vec![]
            }
        );
        assert_eq!(
            action("join_room", &json!({"roomType": "venue"}), &w)
                .unwrap_err()
                .code,
            "bad_frame"
        );
        assert_eq!(
            action("subscribe", &json!({"channels": "tenant"}), &w)
                .unwrap_err()
                .code,
            "bad_frame"
        );
        assert_eq!(
            action("payment_completed", &json!({}), &w)
                .unwrap_err()
                .code,
            "unknown_event"
        );
    }

    #[test]
    fn connect_timeout() {
        assert!(!connect_overdue(1, 1_000, 1_000 + CONNECT_TIMEOUT_MS));
        assert!(connect_overdue(1, 1_000, 1_001 + CONNECT_TIMEOUT_MS));
        assert!(!connect_overdue(2, 1_000, i64::MAX / 2), "connected");
        assert!(!connect_overdue(0, 1_000, i64::MAX / 2), "native socket");
    }

    #[test]
    fn recovery_fields() {
        assert_eq!(offset(&json!({"offset": "41"})), Some(41));
        assert_eq!(offset(&json!({})), None);
        assert_eq!(token(&json!({"token": "a"}), Some("b")), Some("a"));
        assert_eq!(token(&json!({}), Some("b")), Some("b"));
    }
}
