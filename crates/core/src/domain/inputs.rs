//! Request bodies (pure): the registry of every declared body (`INPUTS`, what the OpenAPI
//! document's request schemas come from), and the small bodies no other domain module owns
//! (IP blocks, rooms, realtime publishing) with their string grammars.

use super::auth::Role;
use super::error::{ApiError, ApiResult};
use super::schema::{self, dflt, opt, req, rule, Kind, Pattern, Shape};
use super::{
    calendar, card, crm, customer, finance, identity, lead, matching, owners, publishing, report,
    user,
};
use serde_json::Value;

/// Every request body, under its component name in the OpenAPI document.
pub const INPUTS: &[&Shape] = &[
    &calendar::INPUT,
    &calendar::PATCH,
    &calendar::CANCEL,
    &calendar::COMPLETE,
    &BLOCK_IP,
    &card::INPUT,
    &card::PATCH,
    &card::SCAN,
    &lead::INPUT,
    &HUB_APPEND,
    &finance::RATE_INPUT,
    &customer::INPUT,
    &customer::PATCH,
    &customer::ASSIGN,
    &finance::SETTINGS_INPUT,
    &crm::FOLLOWUP_INPUT,
    &crm::FOLLOWUP_PATCH,
    &crm::INTERACTION_INPUT,
    &publishing::LISTING_INPUT,
    &publishing::PUBLISH_INPUT,
    &publishing::LISTING_PATCH,
    &publishing::UNPUBLISH_INPUT,
    &identity::LOGIN,
    &matching::RUN_INPUT,
    &matching::DECISION_INPUT,
    &owners::OWNER_INPUT,
    &owners::OWNER_PATCH,
    &finance::PAYMENT_INPUT,
    &finance::REFUND_INPUT,
    &owners::PROPERTY_INPUT,
    &owners::PROPERTY_PATCH,
    &PUBLISH,
    &identity::REFRESH,
    &report::INPUT,
    &ROOM,
    &ROOM_PUBLISH,
    &finance::SALE_INPUT,
    &publishing::SCHEDULE_INPUT,
    &owners::SEEKER_INPUT,
    &owners::SEEKER_PATCH,
    &customer::SMS,
    &user::INPUT,
    &user::INVITE,
    &user::ACCEPT,
    &user::NEW_TENANT,
    &super::settings::PATCH,
    &user::PATCH,
];

/// The registered body of this component name.
pub fn input(name: &str) -> Option<&'static Shape> {
    INPUTS.iter().copied().find(|s| s.name == name)
}

/// Event data published by hand: at most this much JSON.
pub const MAX_DATA_BYTES: usize = 16 * 1024;
const MAX_TARGETS: usize = 20;

fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
}

/// The channel grammar of the realtime protocol (`realtime::protocol::parse_channel`).
pub fn valid_channel(c: &str) -> bool {
    c.len() <= 96
        && match c {
            "tenant" | "public" | "dashboard" | "analytics" | "notifications" => true,
            _ => {
                if let Some(id) = c.strip_prefix("user:") {
                    plain(id)
                } else if let Some(r) = c.strip_prefix("role:") {
                    Role::parse(r).is_some()
                } else if let Some(rest) = c.strip_prefix("entity:") {
                    rest.split_once(':')
                        .is_some_and(|(k, id)| plain(k) && plain(id))
                } else {
                    false
                }
            }
        }
}

/// A channel events can be published to in a room (no snapshot channels).
pub fn valid_room_channel(c: &str) -> bool {
    valid_channel(c) && !matches!(c, "dashboard" | "analytics" | "notifications")
}

/// An event type (no `*`: that is a subscription filter).
pub fn valid_event_type(t: &str) -> bool {
    (1..=64).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-' | b'.'))
}

pub fn valid_room_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 48
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

const CHANNEL_RE: &str = "^(?:tenant|public|dashboard|analytics|notifications|\
    user:[A-Za-z0-9._@-]+|role:(?:admin|broker|viewer)|entity:[A-Za-z0-9._@-]+:[A-Za-z0-9._@-]+)$";

pub const CHANNEL: Pattern = Pattern {
    test: valid_channel,
    regex: CHANNEL_RE,
    max_len: Some(96),
    problem: "must be a channel (tenant, public, role:<role>, user:<id>, entity:<kind>:<id>, …)",
    example: "role:broker",
};

pub const ROOM_CHANNEL: Pattern = Pattern {
    test: valid_room_channel,
    regex: "^(?:tenant|public|user:[A-Za-z0-9._@-]+|role:(?:admin|broker|viewer)|\
        entity:[A-Za-z0-9._@-]+:[A-Za-z0-9._@-]+)$",
    max_len: Some(96),
    problem: "must be a channel (public, tenant, role:<role>, user:<id>, entity:<kind>:<id>)",
    example: "public",
};

pub const EVENT_TYPE: Pattern = Pattern {
    test: valid_event_type,
    regex: "^[A-Za-z0-9:_.-]{1,64}$",
    max_len: None,
    problem: "must be an event type like 'card:scanned'",
    example: "card:scanned",
};

pub const SYSTEM_TYPE: Pattern = Pattern {
    test: |t| t.starts_with("system:") && valid_event_type(t),
    regex: "^system:[A-Za-z0-9:_.-]{0,57}$",
    max_len: None,
    problem: "must be 'system:<name>' (letters, digits, ':', '_', '-', '.'; at most 64)",
    example: "system:alert",
};

/// A user id a system alert targets (its `user:<id>` channel).
pub const TARGET_USER: Pattern = Pattern {
    test: |u| u.len() <= 91 && plain(u),
    regex: "^[A-Za-z0-9._@-]{1,91}$",
    max_len: None,
    problem: "must be a user id",
    example: "demo-broker",
};

pub const ROOM_NAME: Pattern = Pattern {
    test: valid_room_name,
    regex: "^[a-z0-9_-]{1,48}$",
    max_len: None,
    problem: "must be 1-48 of a-z, 0-9, '-', '_'",
    example: "open-house",
};

/// `POST /api/security/blocked-ips`.
pub const BLOCK_IP: Shape = Shape::create(
    "BlockIpInput",
    &[
        req("ip", Kind::Ip),
        opt("reason", Kind::Str(0, 200)),
        opt("ttl_seconds", Kind::Int(60, 365 * 24 * 3600)),
    ],
    &[rule(
        &["ip"],
        "ip must not be the caller's own address (409).",
    )],
);

/// `POST /api/realtime/rooms`.
pub const ROOM: Shape = Shape::create(
    "RoomInput",
    &[
        req("name", Kind::Pattern(&ROOM_NAME)),
        opt("public", Kind::Bool).not_null(),
    ],
    &[rule(
        &["name"],
        "name must be free in the tenant (409 when taken).",
    )],
);

/// `POST /api/realtime/rooms/:name/publish`.
pub const ROOM_PUBLISH: Shape = Shape::create(
    "RoomPublishInput",
    &[
        req("type", Kind::Pattern(&EVENT_TYPE)),
        dflt(
            "channels",
            Kind::List(&Kind::Pattern(&ROOM_CHANNEL), 1, MAX_TARGETS),
            "[\"public\"]",
        )
        .not_null(),
        dflt("data", Kind::Object, "{}").not_null(),
    ],
    &[rule(&["data"], "data must be at most 16 KiB as JSON.")],
)
.open();

/// `POST /api/realtime/publish`.
pub const PUBLISH: Shape = Shape::create(
    "PublishInput",
    &[
        dflt("type", Kind::Pattern(&SYSTEM_TYPE), "\"system:alert\"").not_null(),
        opt(
            "channels",
            Kind::List(&Kind::Pattern(&CHANNEL), 0, MAX_TARGETS),
        )
        .not_null(),
        opt(
            "target_roles",
            Kind::List(&Kind::Enum(super::user::ROLES), 0, MAX_TARGETS),
        )
        .not_null(),
        opt(
            "target_users",
            Kind::List(&Kind::Pattern(&TARGET_USER), 0, MAX_TARGETS),
        )
        .not_null(),
        dflt("data", Kind::Object, "{}").not_null(),
    ],
    &[
        rule(
            &["channels", "target_roles", "target_users"],
            "At least one of channels, target_roles and target_users must name a channel.",
        ),
        rule(&["data"], "data must be at most 16 KiB as JSON."),
    ],
);

/// `POST /api/dev/hub-append` (dev only): events appended straight to the hub, `repeat`
/// times.
pub const HUB_APPEND: Shape = Shape::create(
    "HubAppendInput",
    &[
        req("type", Kind::Pattern(&SYSTEM_TYPE)),
        req("channels", Kind::List(&Kind::Pattern(&CHANNEL), 1, 10)),
        dflt("data", Kind::Object, "{}").not_null(),
        dflt("repeat", Kind::Int(1, 500), "1").not_null(),
    ],
    &[],
)
.open();

/// A checked hub append: the event (type, channels, data) and how many copies.
pub fn validate_hub_append(body: &Value) -> ApiResult<(Publication, u64)> {
    let v = schema::validate(&HUB_APPEND, body)?;
    let publication = Publication {
        kind: v.str("type").ok_or_else(ApiError::internal)?,
        channels: v.strings("channels").unwrap_or_default(),
        data: v.get("data").cloned().unwrap_or(Value::Null),
    };
    Ok((publication, v.int("repeat").unwrap_or(1).unsigned_abs()))
}

/// A checked IP block.
#[derive(Debug, PartialEq)]
pub struct BlockIp {
    /// Canonical text.
    pub ip: String,
    pub reason: Option<String>,
    pub ttl_seconds: Option<i64>,
}

pub fn validate_block_ip(body: &Value) -> ApiResult<BlockIp> {
    let v = schema::validate(&BLOCK_IP, body)?;
    Ok(BlockIp {
        ip: v.str("ip").ok_or_else(ApiError::internal)?,
        reason: v.str("reason"),
        ttl_seconds: v.int("ttl_seconds"),
    })
}

/// A checked room: `(name, public)`.
pub fn validate_room(body: &Value) -> ApiResult<(String, bool)> {
    let v = schema::validate(&ROOM, body)?;
    Ok((
        v.str("name").ok_or_else(ApiError::internal)?,
        v.bool("public").unwrap_or(false),
    ))
}

/// An event to publish: its type, channels and data.
#[derive(Debug, PartialEq)]
pub struct Publication {
    pub kind: String,
    pub channels: Vec<String>,
    pub data: Value,
}

fn data_of(v: &schema::Values, errs: &mut super::error::FieldErrors) -> Value {
    let data = v
        .get("data")
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    if data.to_string().len() > MAX_DATA_BYTES {
        errs.add("data", "must be at most 16 KiB of JSON");
    }
    data
}

/// `POST /api/realtime/rooms/:name/publish` `{"type", "channels"?, "data"?}`; channels
/// default to `["public"]`.
pub fn validate_room_publish(body: &Value) -> ApiResult<Publication> {
    let (v, mut errs) = schema::check(&ROOM_PUBLISH, body);
    let data = data_of(&v, &mut errs);
    errs.into_result()?;
    Ok(Publication {
        kind: v.str("type").ok_or_else(ApiError::internal)?,
        channels: v.strings("channels").unwrap_or_default(),
        data,
    })
}

/// `POST /api/realtime/publish`: a system event to channels, roles (`role:<r>`) and users
/// (`user:<id>`).
pub fn validate_publish(body: &Value) -> ApiResult<Publication> {
    let (v, mut errs) = schema::check(&PUBLISH, body);
    let mut channels = v.strings("channels").unwrap_or_default();
    channels.extend(
        v.strings("target_roles")
            .unwrap_or_default()
            .into_iter()
            .map(|r| format!("role:{r}")),
    );
    channels.extend(
        v.strings("target_users")
            .unwrap_or_default()
            .into_iter()
            .map(|u| format!("user:{u}")),
    );
    channels.dedup();
    if errs.is_empty() && channels.is_empty() {
        errs.add("channels", "give channels, target_roles or target_users");
    }
    let data = data_of(&v, &mut errs);
    errs.into_result()?;
    Ok(Publication {
        kind: v.str("type").ok_or_else(ApiError::internal)?,
        channels,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn registry_names_are_unique_and_documented_style() {
        for (i, s) in INPUTS.iter().enumerate() {
            assert!(
                s.name.ends_with("Input") || s.name.ends_with("Patch"),
                "{}",
                s.name
            );
            assert!(
                INPUTS[..i].iter().all(|o| o.name != s.name),
                "{} twice",
                s.name
            );
        }
        assert!(input("CustomerInput").is_some() && input("Nope").is_none());
    }

    #[test]
    fn small_bodies() {
        let b = validate_block_ip(&json!({"ip": " 2001:DB8::1 ", "ttl_seconds": 60.0})).unwrap();
        assert_eq!((b.ip.as_str(), b.ttl_seconds), ("2001:db8::1", Some(60)));
        let e =
            validate_block_ip(&json!({"ip": "300.1.1.1", "ttl_seconds": 59, "x": 1})).unwrap_err();
        let f = &e.details.unwrap()["fields"];
        assert!(f["ip"].is_string() && f["ttl_seconds"].is_string() && f["x"].is_string());
        assert_eq!(
            validate_room(&json!({"name": "lobby"})).unwrap(),
            ("lobby".into(), false)
        );
        assert!(validate_room(&json!({"name": "Lobby"})).is_err());
        assert!(validate_room(&json!({"name": "lobby", "public": null})).is_err());
        let p = validate_room_publish(&json!({"type": "card:scanned", "extra": 1})).unwrap();
        assert_eq!(p.channels, vec!["public".to_string()]);
        assert_eq!(p.data, json!({}));
        for bad in [
            json!({"type": "card:*"}),
            json!({"type": "a", "channels": ["dashboard"]}),
            json!({"type": "a", "channels": []}),
            json!({"type": "a", "data": {"x": "y".repeat(MAX_DATA_BYTES)}}),
        ] {
            assert_eq!(
                validate_room_publish(&bad).unwrap_err().status,
                422,
                "{bad}"
            );
        }
        let p =
            validate_publish(&json!({"target_roles": ["broker"], "target_users": ["u1"]})).unwrap();
        assert_eq!(p.kind, "system:alert");
        assert_eq!(
            p.channels,
            vec!["role:broker".to_string(), "user:u1".into()]
        );
        for bad in [
            json!({}),
            json!({"type": "card:x", "channels": ["tenant"]}),
            json!({"type": 5, "channels": ["tenant"]}),
            json!({"channels": ["nope"]}),
            json!({"target_roles": ["owner"]}),
            json!({"channels": ["tenant"], "data": []}),
        ] {
            assert_eq!(validate_publish(&bad).unwrap_err().status, 422, "{bad}");
        }
    }
}
