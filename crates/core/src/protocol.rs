//! The realtime wire protocol (client and server frames), channel grammar and the
//! server-side rules for who may subscribe to and receive what. Pure.

use crate::domain::auth::Role;
use crate::domain::event::Event;
use crate::domain::params::ListItem;
use crate::domain::policy::{self, EntityResource, Reader, Resource, View};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Frames a client sends. Read by `parse_client_frame` (by hand: serde's internally
/// tagged enums buffer through a generic decoder that cost the Worker's size budget; a test
/// holds the two readings equal on every frame it tries).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(test, derive(Deserialize))]
#[cfg_attr(test, serde(tag = "op", rename_all = "lowercase", deny_unknown_fields))]
pub enum ClientFrame {
    Subscribe {
        channels: Vec<String>,
        #[cfg_attr(test, serde(default))]
        since: Option<u64>,
        /// The history epoch the client's `since` belongs to (from an earlier `subscribed`).
        #[cfg_attr(test, serde(default))]
        epoch: Option<String>,
        /// Only these event types (exact, or a prefix ending in `*`); all when absent.
        #[cfg_attr(test, serde(default))]
        types: Option<Vec<String>>,
        /// Join these channels' presence (join/leave frames to the other members).
        #[cfg_attr(test, serde(default))]
        presence: bool,
    },
    Unsubscribe {
        channels: Vec<String>,
    },
    Ping {
        /// Ask for the history head in the pong (sequence heartbeat).
        #[cfg_attr(test, serde(default))]
        head: bool,
    },
    /// The presence list of a channel this connection is subscribed to.
    Presence {
        channel: String,
    },
    /// A fresh token for the same user and tenant: the socket keeps its subscriptions.
    Auth {
        token: String,
    },
}

pub const MAX_CHANNEL_LEN: usize = 96;
pub const MAX_TYPES_PER_SUBSCRIBE: usize = 10;
pub const MAX_TYPE_LEN: usize = 64;
/// The socket attachment limit of the platform.
pub const MAX_ATTACHMENT_BYTES: usize = 2048;

#[derive(Debug, Clone, PartialEq)]
pub struct FrameError {
    pub code: &'static str,
    pub message: String,
}

impl FrameError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        FrameError {
            code,
            message: message.into(),
        }
    }
}

pub fn parse_client_frame(text: &str) -> Result<ClientFrame, FrameError> {
    read_client_frame(text).map_err(|e| {
        FrameError::new(
            "bad_frame",
            format!("expected a JSON object with op subscribe|unsubscribe|ping|presence|auth: {e}"),
        )
    })
}

/// The fields each `op` takes.
fn frame_fields(op: &str) -> Option<&'static [&'static str]> {
    Some(match op {
        "subscribe" => &["channels", "since", "epoch", "types", "presence"],
        "unsubscribe" => &["channels"],
        "ping" => &["head"],
        "presence" => &["channel"],
        "auth" => &["token"],
        _ => return None,
    })
}

fn read_client_frame(text: &str) -> Result<ClientFrame, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let Value::Object(m) = v else {
        return Err("not a JSON object".into());
    };
    let op = match m.get("op") {
        Some(Value::String(op)) => op.as_str(),
        Some(_) => return Err("`op` is not a string".into()),
        None => return Err("missing field `op`".into()),
    };
    let fields = frame_fields(op).ok_or_else(|| format!("unknown variant `{op}`"))?;
    if let Some(k) = m
        .keys()
        .find(|k| *k != "op" && !fields.contains(&k.as_str()))
    {
        return Err(format!("unknown field `{k}`"));
    }
    let wrong = |k: &str, what: &str| format!("`{k}`: expected {what}");
    let string = |k: &str| match m.get(k) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(wrong(k, "a string")),
        None => Err(format!("missing field `{k}`")),
    };
    let strings = |k: &str| -> Result<Option<Vec<String>>, String> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(String::from)
                        .ok_or_else(|| wrong(k, "strings"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(wrong(k, "a list of strings")),
        }
    };
    let flag = |k: &str| match m.get(k) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(wrong(k, "a boolean")),
    };
    let channels = || strings("channels")?.ok_or_else(|| "missing field `channels`".to_string());
    Ok(match op {
        "subscribe" => ClientFrame::Subscribe {
            channels: channels()?,
            since: match m.get("since") {
                None | Some(Value::Null) => None,
                Some(n) => Some(n.as_u64().ok_or_else(|| wrong("since", "a u64"))?),
            },
            epoch: match m.get("epoch") {
                None | Some(Value::Null) => None,
                Some(_) => Some(string("epoch")?),
            },
            types: strings("types")?,
            presence: flag("presence")?,
        },
        "unsubscribe" => ClientFrame::Unsubscribe {
            channels: channels()?,
        },
        "ping" => ClientFrame::Ping {
            head: flag("head")?,
        },
        "presence" => ClientFrame::Presence {
            channel: string("channel")?,
        },
        _ => ClientFrame::Auth {
            token: string("token")?,
        },
    })
}

/// A parsed channel name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    Tenant,
    User(String),
    Role(Role),
    Entity(String, String),
    /// `dashboard`, `analytics`, `notifications`: a snapshot first, then updates.
    Snapshot(SnapshotKind),
    /// `public`: what a public room shows to anonymous visitors.
    Public,
}

/// The snapshot channels a dashboard front end asks for (`subscribe:dashboard`, `…:analytics`,
/// `…:notifications`): each answers with a snapshot first, then updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    /// Tenant totals from D1; updates are fresh snapshots (no raw events).
    Dashboard,
    /// Event counts by type over the last 24 h; updates are the tenant's events.
    Analytics,
    /// The user's recent notices; updates are events on `user:<self>` and `role:<role>`.
    Notifications,
}

impl SnapshotKind {
    pub fn name(self) -> &'static str {
        match self {
            SnapshotKind::Dashboard => "dashboard",
            SnapshotKind::Analytics => "analytics",
            SnapshotKind::Notifications => "notifications",
        }
    }
}

/// The snapshot channel of the caller's saved notifications: after its snapshot it streams
/// only what changes the inbox (`notifications::streamed_on_channel`).
pub const NOTIFICATIONS_CHANNEL: &str = "notifications";

/// The event channels a subscription covers: itself, or what a snapshot channel stands for.
pub fn covered_channels(sub: &str, who: &Identity) -> Vec<String> {
    match parse_channel(sub) {
        Some(Channel::Snapshot(SnapshotKind::Dashboard)) => Vec::new(),
        Some(Channel::Snapshot(SnapshotKind::Analytics)) => vec!["tenant".into()],
        Some(Channel::Snapshot(SnapshotKind::Notifications)) => vec![
            format!("user:{}", who.user_id),
            format!("role:{}", who.role.as_str()),
        ],
        _ => vec![sub.to_string()],
    }
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
    match name {
        "tenant" => return Some(Channel::Tenant),
        "public" => return Some(Channel::Public),
        "dashboard" => return Some(Channel::Snapshot(SnapshotKind::Dashboard)),
        "analytics" => return Some(Channel::Snapshot(SnapshotKind::Analytics)),
        "notifications" => return Some(Channel::Snapshot(SnapshotKind::Notifications)),
        _ => {}
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

/// Entity kinds besides `policy::SHARED_ENTITIES` that `policy::entity_resource` knows.
pub const OWNED_ENTITY_KINDS: &[&str] = &["user", "sale", "payment", "commission", "job", "report"];

/// A channel a subscription may name: `parse_channel`'s grammar with an entity kind the
/// policy knows (whether the caller may read it is decided later: 403).
pub fn valid_subscribe_channel(name: &str) -> bool {
    match parse_channel(name) {
        Some(Channel::Entity(kind, id)) => policy::entity_resource(&kind, &id).is_some(),
        Some(_) => true,
        None => false,
    }
}

/// A type filter: a type, or a prefix ending in `*` (`*` alone: every type).
pub fn valid_type_filter(t: &str) -> bool {
    let body = t.strip_suffix('*').unwrap_or(t);
    !t.is_empty()
        && t.len() <= MAX_TYPE_LEN
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-' | b'.'))
}

/// The largest `?limit=` of the history (`/api/realtime/events`).
pub const HISTORY_MAX_LIMIT: i64 = 1000;

/// Channels of `?channels=` (the stream and the history): at most this many, as a socket
/// (`WS_MAX_SUBSCRIPTIONS`'s default).
pub const QUERY_MAX_CHANNELS: usize = 50;

/// An item of `?channels=`.
pub const CHANNEL_ITEM: ListItem = ListItem {
    test: valid_subscribe_channel,
    #[cfg(not(target_arch = "wasm32"))]
    regex: channel_regex,
    problem: "a channel: tenant, public, dashboard, analytics, notifications, user:<id>, \
              role:<role> or entity:<kind>:<id>",
    code: "bad_channel",
    count_code: "too_many_channels",
};

/// An item of `?types=`.
pub const TYPE_ITEM: ListItem = ListItem {
    test: valid_type_filter,
    #[cfg(not(target_arch = "wasm32"))]
    regex: || {
        let (n, p) = (MAX_TYPE_LEN, "[A-Za-z0-9:_.-]");
        format!("{p}{{1,{n}}}|{p}{{0,{}}}\\*", n - 1)
    },
    problem: "an event type or a prefix ending in *",
    code: "bad_frame",
    count_code: "bad_frame",
};

/// `valid_subscribe_channel` as a regex: each id bounded so the name stays within
/// `MAX_CHANNEL_LEN`.
#[cfg(not(target_arch = "wasm32"))]
fn channel_regex() -> String {
    let p = "[A-Za-z0-9._@-]";
    let mut alts: Vec<String> = [
        "tenant",
        "public",
        "dashboard",
        "analytics",
        "notifications",
    ]
    .map(String::from)
    .to_vec();
    alts.push(format!("user:{p}{{1,{}}}", MAX_CHANNEL_LEN - 5));
    alts.push("role:(?:admin|broker|viewer)".into());
    for kind in policy::SHARED_ENTITIES.iter().chain(OWNED_ENTITY_KINDS) {
        alts.push(format!(
            "entity:{kind}:{p}{{1,{}}}",
            MAX_CHANNEL_LEN - 8 - kind.len()
        ));
    }
    alts.join("|")
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
    /// An anonymous visitor of a public room: may read the `public` channel only.
    #[serde(rename = "a", default, skip_serializing_if = "std::ops::Not::not")]
    pub anonymous: bool,
}

impl Identity {
    /// The identity as the read policy sees it.
    pub fn reader(&self) -> Reader<'_> {
        Reader {
            user: &self.user_id,
            role: self.role,
            anonymous: self.anonymous,
        }
    }
}

/// An entity channel whose owner the hub must look up before it may admit a subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerCheck {
    pub channel: String,
    pub owner: OwnerKind,
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    /// `sales.broker_id`
    Sale,
    /// `jobs.created_by` (and whether it is a report job)
    Job,
}

fn forbidden_entity(kind: &str) -> FrameError {
    FrameError::new(
        "forbidden",
        format!("your role may not read this {kind} (the REST route refuses it too)"),
    )
}

/// May this identity subscribe to this channel? Checked on the server for every subscribe
/// (and again at every delivery and replay). The entity rule is the REST read rule
/// (`policy::may_read`); an owner check left for the hub comes back as `Ok(Some(..))`.
pub fn may_subscribe(who: &Identity, ch: &Channel) -> Result<Option<OwnerKind>, FrameError> {
    if who.anonymous && *ch != Channel::Public {
        return Err(FrameError::new(
            "forbidden",
            "anonymous visitors may read the public channel only",
        ));
    }
    let r = who.reader();
    match ch {
        Channel::Public | Channel::Tenant | Channel::Snapshot(_) => Ok(None),
        Channel::Entity(kind, id) => match policy::entity_resource(kind, id) {
            None => Err(FrameError::new(
                "bad_channel",
                format!("unknown entity kind '{kind}'"),
            )),
            Some(what) => match what {
                EntityResource::Known(res) if policy::may_read(&r, &res) => Ok(None),
                EntityResource::Known(_) => Err(forbidden_entity(kind)),
                _ if who.role == Role::Admin => Ok(None),
                EntityResource::SaleOwner if policy::may_read(&r, &Resource::FinanceAny) => {
                    Ok(Some(OwnerKind::Sale))
                }
                EntityResource::JobOwner => Ok(Some(OwnerKind::Job)),
                _ => Err(forbidden_entity(kind)),
            },
        },
        Channel::User(id) if policy::may_read(&r, &Resource::User(id)) => Ok(None),
        Channel::User(_) => Err(FrameError::new(
            "forbidden",
            "only your own user: channel (admins may subscribe to any)",
        )),
        Channel::Role(r) if *r == who.role => Ok(None),
        Channel::Role(_) => Err(FrameError::new(
            "forbidden",
            "only the role: channel of your role",
        )),
    }
}

/// Validates a subscribe request as a whole: all channels valid and allowed, or none.
/// Returns the entity channels whose owner the hub still has to check.
pub fn check_subscribe(who: &Identity, channels: &[String]) -> Result<Vec<OwnerCheck>, FrameError> {
    if channels.is_empty() {
        return Err(FrameError::new("bad_channel", "channels must not be empty"));
    }
    let mut checks = Vec::new();
    for name in channels {
        let ch = parse_channel(name)
            .ok_or_else(|| FrameError::new("bad_channel", format!("unknown channel '{name}'")))?;
        if let (Some(owner), Channel::Entity(_, id)) = (may_subscribe(who, &ch)?, &ch) {
            checks.push(OwnerCheck {
                channel: name.clone(),
                owner,
                id: id.clone(),
            });
        }
    }
    Ok(checks)
}

/// The hub's answer to an owner check: the owner it found (if any) and whether the row
/// is admin-only (a report job).
pub fn owner_allows(
    who: &Identity,
    check: &OwnerCheck,
    owner: Option<&str>,
    admin_only: bool,
) -> Result<(), FrameError> {
    let what = match check.owner {
        OwnerKind::Sale => EntityResource::SaleOwner,
        OwnerKind::Job => EntityResource::JobOwner,
    };
    if policy::may_stream_entity(&who.reader(), &what, owner, admin_only) {
        Ok(())
    } else {
        let kind = match check.owner {
            OwnerKind::Sale => "sale",
            OwnerKind::Job => "job",
        };
        Err(forbidden_entity(kind))
    }
}

/// One subscription of a connection: a channel, an optional type filter, presence opt-in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sub {
    #[serde(rename = "c")]
    pub channel: String,
    #[serde(rename = "t", default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    #[serde(rename = "p", default, skip_serializing_if = "std::ops::Not::not")]
    pub presence: bool,
}

/// Type filters: an exact type (`finance:payment:received`) or a prefix ending in `*`
/// (`finance:*`). Plain characters only.
pub fn check_types(types: &[String]) -> Result<(), FrameError> {
    if types.len() > MAX_TYPES_PER_SUBSCRIBE {
        return Err(FrameError::new(
            "bad_frame",
            format!("at most {MAX_TYPES_PER_SUBSCRIBE} types per subscribe"),
        ));
    }
    for t in types {
        if !valid_type_filter(t) {
            return Err(FrameError::new(
                "bad_frame",
                format!("bad type filter '{t}'"),
            ));
        }
    }
    Ok(())
}

pub fn type_matches(filters: &[String], kind: &str) -> bool {
    filters.is_empty()
        || filters.iter().any(|f| match f.strip_suffix('*') {
            Some(prefix) => kind.starts_with(prefix),
            None => f == kind,
        })
}

/// Does a connection with `subs` get `event`? One of its channels must be in the event's
/// audience with a matching type filter, its identity must still be allowed to read that
/// channel, and the event's own audience (`policy::event_view`) must include it: all
/// re-checked at delivery and at replay.
pub fn should_deliver(who: &Identity, subs: &[Sub], event: &Event) -> bool {
    !matches!(view(who, subs, event), View::Hidden)
}

/// What a connection with `subs` gets of `event`: nothing, all of it, or its data with
/// fields removed for this reader.
pub fn view(who: &Identity, subs: &[Sub], event: &Event) -> View {
    let on_channel = event.channels.iter().any(|c| {
        subs.iter().any(|s| {
            (s.channel == *c || covered_channels(&s.channel, who).contains(c))
                && type_matches(&s.types, &event.kind)
                && (s.channel != NOTIFICATIONS_CHANNEL
                    || crate::domain::notifications::streamed_on_channel(&event.kind))
        }) && parse_channel(c).is_some_and(|ch| may_subscribe(who, &ch).is_ok())
    });
    if !on_channel {
        return View::Hidden;
    }
    policy::event_view(&who.reader(), &event.kind, &event.channels, &event.data)
}

/// The event as `view` says this reader gets it (a redacted copy, or the event itself).
pub fn visible_event<'a>(event: &'a Event, view: &View) -> std::borrow::Cow<'a, Event> {
    match view {
        View::Redacted(data) => {
            let mut e = event.clone();
            e.data = data.clone();
            std::borrow::Cow::Owned(e)
        }
        _ => std::borrow::Cow::Borrowed(event),
    }
}

/// Adds (or replaces) subscriptions; errors past `max` subscriptions.
pub fn merge_subscriptions(
    current: &mut Vec<Sub>,
    add: &[Sub],
    max: usize,
) -> Result<(), FrameError> {
    let mut next = current.clone();
    for s in add {
        match next.iter_mut().find(|c| c.channel == s.channel) {
            Some(existing) => *existing = s.clone(),
            None => next.push(s.clone()),
        }
    }
    if next.len() > max {
        return Err(FrameError::new(
            "too_many_channels",
            format!("at most {max} subscriptions per connection"),
        ));
    }
    *current = next;
    Ok(())
}

/// Limits of the realtime hub; each default is overridable by an env var.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// `WS_MAX_PER_USER`
    pub ws_per_user: usize,
    /// `SSE_MAX_PER_USER`
    pub sse_per_user: usize,
    /// `WS_FRAMES_PER_MINUTE` (token bucket; the burst equals the per-minute rate)
    pub frames_per_minute: u32,
    /// `WS_MAX_FRAME_BYTES`
    pub max_frame_bytes: usize,
    /// `WS_MAX_SUBSCRIPTIONS`
    pub max_subscriptions: usize,
    /// `HISTORY_MAX_EVENTS`
    pub history_max_events: u64,
    /// `HISTORY_MAX_AGE_SECONDS`
    pub history_max_age_seconds: u64,
    /// `PRESENCE_GRACE_MS`: a leave is announced only if the user has not come back by then
    pub presence_grace_ms: u64,
    /// `DASHBOARD_MIN_INTERVAL_MS`: at most one dashboard snapshot per interval (default 5 s)
    pub dashboard_interval_ms: u64,
    /// `SSE_HEARTBEAT_SECONDS`: comment frames on open SSE streams
    pub sse_heartbeat_seconds: u64,
    /// `SSE_MAX_BUFFERED_BYTES`: an SSE reader with more unread bytes than this is dropped
    pub sse_max_buffered_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            ws_per_user: 5,
            sse_per_user: 3,
            frames_per_minute: 100,
            max_frame_bytes: 64 * 1024,
            max_subscriptions: 50,
            history_max_events: 10_000,
            history_max_age_seconds: 7 * 24 * 3600,
            presence_grace_ms: 5_000,
            dashboard_interval_ms: 5_000,
            sse_heartbeat_seconds: 15,
            sse_max_buffered_bytes: 4 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// Reads overrides through `get` (an env lookup); bad values keep the default.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Limits {
        let d = Limits::default();
        fn num<T: std::str::FromStr>(v: Option<String>, default: T) -> T {
            v.and_then(|s| s.trim().parse().ok()).unwrap_or(default)
        }
        Limits {
            ws_per_user: num(get("WS_MAX_PER_USER"), d.ws_per_user),
            sse_per_user: num(get("SSE_MAX_PER_USER"), d.sse_per_user),
            frames_per_minute: num(get("WS_FRAMES_PER_MINUTE"), d.frames_per_minute),
            max_frame_bytes: num(get("WS_MAX_FRAME_BYTES"), d.max_frame_bytes),
            max_subscriptions: num(get("WS_MAX_SUBSCRIPTIONS"), d.max_subscriptions),
            history_max_events: num(get("HISTORY_MAX_EVENTS"), d.history_max_events),
            history_max_age_seconds: num(get("HISTORY_MAX_AGE_SECONDS"), d.history_max_age_seconds),
            presence_grace_ms: num(get("PRESENCE_GRACE_MS"), d.presence_grace_ms),
            dashboard_interval_ms: num(get("DASHBOARD_MIN_INTERVAL_MS"), d.dashboard_interval_ms),
            sse_heartbeat_seconds: num(get("SSE_HEARTBEAT_SECONDS"), d.sse_heartbeat_seconds)
                .max(1),
            sse_max_buffered_bytes: num(get("SSE_MAX_BUFFERED_BYTES"), d.sse_max_buffered_bytes),
        }
    }
}

/// A per-connection token bucket, small enough for the socket attachment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    #[serde(rename = "k")]
    pub tokens: f64,
    #[serde(rename = "m")]
    pub last_ms: i64,
}

impl Bucket {
    pub fn full(per_minute: u32, now_ms: i64) -> Bucket {
        Bucket {
            tokens: f64::from(per_minute),
            last_ms: now_ms,
        }
    }

    /// Refills at `per_minute`/60 s (capped at `per_minute`) and takes one token if any.
    pub fn take(&mut self, per_minute: u32, now_ms: i64) -> bool {
        let cap = f64::from(per_minute);
        let elapsed = (now_ms - self.last_ms).max(0) as f64;
        self.tokens = (self.tokens + elapsed * cap / 60_000.0).min(cap);
        self.last_ms = now_ms;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Close codes of the realtime hub.
pub mod close {
    /// A limit was broken (connections per user, frame rate).
    pub const POLICY: u16 = 1008;
    /// A frame was larger than the limit.
    pub const TOO_BIG: u16 = 1009;
    /// The hub lost the connection's state.
    pub const INTERNAL: u16 = 1011;
    /// The token expired: reconnect with a fresh one and `since`.
    pub const TOKEN_EXPIRED: u16 = 4001;
}

/// Frames the server sends, one variant per `op`. Rendered with serde straight to text
/// (no intermediate `Value`), so the field names here are the wire names.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum ServerFrame<'a> {
    /// First answer to a subscribe: the cursor state the replay that follows starts from.
    Subscribed {
        channels: &'a [String],
        head: u64,
        recovered: bool,
        epoch: &'a str,
    },
    /// An event envelope with `op` in front (live or replayed).
    Event(&'a Event),
    Unsubscribed {
        channels: &'a [String],
    },
    /// `head` only when the ping asked for it.
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        head: Option<u64>,
    },
    /// A snapshot channel's state at history `seq`.
    Snapshot {
        channel: &'a str,
        seq: u64,
        data: &'a Value,
    },
    /// Who is on a channel, with their connection counts.
    #[serde(rename = "presence")]
    PresenceList {
        channel: &'a str,
        users: Vec<PresenceUser<'a>>,
    },
    /// One user joined or left a channel.
    #[serde(rename = "presence")]
    PresenceChange {
        channel: &'a str,
        action: PresenceAction,
        user_id: &'a str,
    },
    /// A refused frame or a reason before a close.
    Error {
        code: &'a str,
        message: &'a str,
    },
    /// The `auth` frame's token is the socket's now; `exp` is its expiry (epoch seconds).
    Authed {
        exp: i64,
    },
    /// The socket's token expires at `exp` (epoch seconds), about a minute from now: send
    /// an `auth` frame with a fresh one, or the socket is closed with 4001 then.
    #[serde(rename = "token_expiring")]
    TokenExpiring {
        exp: i64,
    },
}

/// How long before its token's expiry a socket is sent `token_expiring`.
pub const TOKEN_WARNING_MS: i64 = 60_000;

/// The identity a socket takes on from the verified token of an `auth` frame. The token
/// must name the same tenant, user and role: a socket's subscriptions were authorized for
/// that caller, so a different caller (or a changed role, whose channels would need
/// checking again) opens a new connection instead.
pub fn reauthorize(
    current: &Identity,
    hub_tenant: Option<&str>,
    token: &crate::domain::auth::Principal,
) -> Result<Identity, FrameError> {
    if current.anonymous {
        return Err(FrameError::new(
            "forbidden",
            "an anonymous visitor has no token to refresh",
        ));
    }
    if hub_tenant.is_some_and(|t| t != token.tenant_id) || token.user_id != current.user_id {
        return Err(FrameError::new(
            "forbidden",
            "the token is for another user or tenant: open a new connection",
        ));
    }
    if token.role != current.role {
        return Err(FrameError::new(
            "forbidden",
            "the token carries another role: reconnect so the channels are checked again",
        ));
    }
    Ok(Identity {
        exp: token.exp,
        ..current.clone()
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct PresenceUser<'a> {
    pub user_id: &'a str,
    pub connections: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PresenceAction {
    Join,
    Leave,
}

impl ServerFrame<'_> {
    /// The frame as wire text (serializing these types cannot fail).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl<'a> ServerFrame<'a> {
    pub fn presence_list(channel: &'a str, users: &'a [(String, usize)]) -> Self {
        ServerFrame::PresenceList {
            channel,
            users: users
                .iter()
                .map(|(u, n)| PresenceUser {
                    user_id: u,
                    connections: *n,
                })
                .collect(),
        }
    }
}

/// `{"op":"event", …envelope…}`: rendered once per event per fan-out (one serde pass).
pub fn event_frame(e: &Event) -> String {
    ServerFrame::Event(e).to_json()
}

pub fn error_frame(code: &str, message: &str) -> String {
    ServerFrame::Error { code, message }.to_json()
}

/// Event types that change the dashboard's numbers.
pub fn affects_dashboard(kind: &str) -> bool {
    [
        "crm:",
        "job:",
        "finance:",
        "owners:",
        "publishing:",
        "calendar:",
    ]
    .iter()
    .any(|p| kind.starts_with(p))
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

/// Identities and subscriptions for the realtime unit tests (here and in `hub`).
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures {
    use super::{Identity, Sub};
    use crate::domain::auth::Role;

    pub fn who(id: &str, role: Role) -> Identity {
        Identity {
            user_id: id.into(),
            role,
            exp: 0,
            anonymous: false,
        }
    }

    pub fn sub(c: &str, types: &[&str]) -> Sub {
        Sub {
            channel: c.into(),
            types: types.iter().map(|s| s.to_string()).collect(),
            presence: false,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_items_agree_with_their_regexes() {
        use crate::domain::schema::tests::re_match;
        let ch = format!("^(?:{})$", (CHANNEL_ITEM.regex)());
        let mut cases: Vec<String> = [
            "tenant",
            "public",
            "dashboard",
            "analytics",
            "notifications",
            "user:u1",
            "role:admin",
            "role:owner",
            "entity:sale:s1",
            "entity:customer:c_1",
            "entity:nope:1",
            "entity:sale:",
            "entity::1",
            "user:",
            "user:a b",
            "Tenant",
            "",
            "entity:sale:a:b",
        ]
        .map(String::from)
        .to_vec();
        for kind in policy::SHARED_ENTITIES.iter().chain(OWNED_ENTITY_KINDS) {
            assert!(policy::entity_resource(kind, "x").is_some(), "{kind}");
            let room = MAX_CHANNEL_LEN - 8 - kind.len();
            cases.push(format!("entity:{kind}:{}", "a".repeat(room)));
            cases.push(format!("entity:{kind}:{}", "a".repeat(room + 1)));
        }
        cases.push(format!("user:{}", "a".repeat(91)));
        cases.push(format!("user:{}", "a".repeat(92)));
        for c in &cases {
            assert_eq!(re_match(&ch, c), valid_subscribe_channel(c), "{c:?}");
        }
        let ty = format!("^(?:{})$", (TYPE_ITEM.regex)());
        for t in [
            "*",
            "crm:*",
            "crm:customer:created",
            "a*b",
            "a**",
            "",
            "a b",
            &"a".repeat(64),
            &"a".repeat(65),
            &format!("{}*", "a".repeat(63)),
            &format!("{}*", "a".repeat(64)),
        ] {
            assert_eq!(re_match(&ty, t), valid_type_filter(t), "{t:?}");
        }
    }

    use super::fixtures::{sub, who};
    use super::*;

    #[test]
    fn reauthorize_keeps_the_caller_and_takes_the_new_expiry() {
        use crate::domain::auth::Principal;
        let cur = Identity {
            user_id: "b1".into(),
            role: Role::Broker,
            exp: 100,
            anonymous: false,
        };
        let tok = |tenant: &str, user: &str, role: Role| Principal {
            user_id: user.into(),
            tenant_id: tenant.into(),
            role,
            exp: 5_000,
        };
        let ok = reauthorize(&cur, Some("t1"), &tok("t1", "b1", Role::Broker)).unwrap();
        assert_eq!(ok.exp, 5_000);
        assert_eq!(ok.user_id, "b1");
        for (t, u, r) in [
            ("t2", "b1", Role::Broker),
            ("t1", "b2", Role::Broker),
            ("t1", "b1", Role::Admin),
        ] {
            assert_eq!(
                reauthorize(&cur, Some("t1"), &tok(t, u, r))
                    .unwrap_err()
                    .code,
                "forbidden",
                "{t} {u} {r:?}"
            );
        }
        let visitor = Identity {
            anonymous: true,
            ..cur.clone()
        };
        assert!(reauthorize(&visitor, Some("t1"), &tok("t1", "b1", Role::Broker)).is_err());
        assert_eq!(
            ServerFrame::TokenExpiring { exp: 7 }.to_json(),
            r#"{"op":"token_expiring","exp":7}"#
        );
        assert_eq!(
            parse_client_frame(r#"{"op":"auth","token":"x"}"#).unwrap(),
            ClientFrame::Auth { token: "x".into() }
        );
    }
    use serde_json::json;

    fn ev(kind: &str, channels: &[&str]) -> Event {
        Event {
            seq: 1,
            id: "e".into(),
            kind: kind.into(),
            channels: channels.iter().map(|s| s.to_string()).collect(),
            data: json!({}),
            ts: "t".into(),
        }
    }
    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// The hand-written reader accepts and refuses exactly what serde's derive does.
    #[test]
    fn the_frame_reader_is_the_derived_one() {
        let frames = [
            r#"{"op":"subscribe","channels":["tenant"]}"#,
            r#"{"op":"subscribe","channels":["tenant","user:u"],"since":41,"epoch":"e1","types":["crm:*"],"presence":true}"#,
            r#"{"op":"subscribe","channels":["tenant"],"since":null,"epoch":null,"types":null}"#,
            r#"{"op":"subscribe","channels":["tenant"],"since":-1}"#,
            r#"{"op":"subscribe","channels":["tenant"],"since":1.5}"#,
            r#"{"op":"subscribe","channels":["tenant"],"presence":null}"#,
            r#"{"op":"subscribe","channels":["tenant"],"epoch":3}"#,
            r#"{"op":"subscribe","channels":"tenant"}"#,
            r#"{"op":"subscribe","channels":[1]}"#,
            r#"{"op":"subscribe","channels":null}"#,
            r#"{"op":"subscribe"}"#,
            r#"{"op":"subscribe","channels":[],"x":1}"#,
            r#"{"op":"unsubscribe","channels":["a"]}"#,
            r#"{"op":"unsubscribe","channels":["a"],"since":1}"#,
            r#"{"op":"ping"}"#,
            r#"{"op":"ping","head":true}"#,
            r#"{"op":"ping","head":1}"#,
            r#"{"op":"presence","channel":"tenant"}"#,
            r#"{"op":"presence","channel":null}"#,
            r#"{"op":"auth","token":"x"}"#,
            r#"{"op":"auth"}"#,
            r#"{"op":"dance"}"#,
            r#"{"op":7}"#,
            r#"{"channels":["tenant"]}"#,
            r#"["op","ping"]"#,
            r#""ping""#,
            "nope",
            "",
        ];
        for f in frames {
            let derived = serde_json::from_str::<ClientFrame>(f).ok();
            assert_eq!(parse_client_frame(f).ok(), derived, "{f}");
        }
    }

    #[test]
    fn frames_parse_and_reject() {
        match parse_client_frame(
            r#"{"op":"subscribe","channels":["tenant"],"since":41,"types":["crm:*"]}"#,
        )
        .unwrap()
        {
            ClientFrame::Subscribe {
                channels,
                since,
                types,
                presence,
                epoch,
            } => {
                assert_eq!(
                    (channels, since, types, presence, epoch),
                    (
                        strings(&["tenant"]),
                        Some(41),
                        Some(strings(&["crm:*"])),
                        false,
                        None
                    )
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_client_frame(r#"{"op":"ping"}"#).unwrap(),
            ClientFrame::Ping { head: false }
        );
        assert_eq!(
            parse_client_frame(r#"{"op":"ping","head":true}"#).unwrap(),
            ClientFrame::Ping { head: true }
        );
        assert_eq!(parse_client_frame("nope").unwrap_err().code, "bad_frame");
        assert_eq!(
            parse_client_frame(r#"{"op":"dance"}"#).unwrap_err().code,
            "bad_frame"
        );
        assert_eq!(
            parse_client_frame(r#"{"op":"ping","x":1}"#)
                .unwrap_err()
                .code,
            "bad_frame"
        );
        assert_eq!(
            parse_client_frame(r#"{"op":"subscribe","channels":["tenant"],"since":-1}"#)
                .unwrap_err()
                .code,
            "bad_frame"
        );
    }

    #[test]
    fn channel_rules() {
        let broker = who("b1", Role::Broker);
        assert!(check_subscribe(
            &broker,
            &strings(&["tenant", "user:b1", "role:broker", "entity:customer:c_1"])
        )
        .is_ok());
        assert_eq!(
            check_subscribe(&broker, &strings(&["user:b2"]))
                .unwrap_err()
                .code,
            "forbidden"
        );
        assert_eq!(
            check_subscribe(&broker, &strings(&["role:admin"]))
                .unwrap_err()
                .code,
            "forbidden"
        );
        assert_eq!(
            check_subscribe(&broker, &strings(&["planet:mars"]))
                .unwrap_err()
                .code,
            "bad_channel"
        );
        assert_eq!(
            check_subscribe(&broker, &[]).unwrap_err().code,
            "bad_channel"
        );
        assert!(check_subscribe(&who("a", Role::Admin), &strings(&["user:b2"])).is_ok());
    }

    #[test]
    fn delivery_needs_overlap_permission_and_type() {
        let v = who("v1", Role::Viewer);
        let e = ev("crm:customer:created", &["tenant", "entity:customer:c"]);
        assert!(should_deliver(&v, &[sub("tenant", &[])], &e));
        assert!(!should_deliver(&v, &[sub("entity:customer:d", &[])], &e));
        assert!(should_deliver(&v, &[sub("tenant", &["crm:*"])], &e));
        assert!(should_deliver(
            &v,
            &[sub("tenant", &["crm:customer:created"])],
            &e
        ));
        assert!(!should_deliver(&v, &[sub("tenant", &["finance:*"])], &e));
        // A role channel in the subscription set is re-checked against the identity
        // (a user whose role changed gets nothing of the old role).
        assert!(!should_deliver(
            &v,
            &[sub("role:admin", &[])],
            &ev("x", &["role:admin"])
        ));
        // Several users at once (both parties of a deal).
        let both = ev("deal:agreed", &["user:buyer", "user:seller"]);
        assert!(should_deliver(
            &who("buyer", Role::Viewer),
            &[sub("user:buyer", &[])],
            &both
        ));
        assert!(should_deliver(
            &who("seller", Role::Viewer),
            &[sub("user:seller", &[])],
            &both
        ));
        assert!(!should_deliver(
            &who("other", Role::Viewer),
            &[sub("user:other", &[])],
            &both
        ));
    }

    #[test]
    fn snapshot_channels_cover_their_events() {
        let v = who("v1", Role::Viewer);
        let mine = ev("system:alert", &["user:v1"]);
        let for_viewers = ev("system:alert", &["role:viewer"]);
        let tenant = ev("crm:customer:created", &["tenant"]);
        assert!(should_deliver(&v, &[sub("notifications", &[])], &mine));
        assert!(should_deliver(
            &v,
            &[sub("notifications", &[])],
            &for_viewers
        ));
        assert!(!should_deliver(&v, &[sub("notifications", &[])], &tenant));
        assert!(should_deliver(&v, &[sub("analytics", &[])], &tenant));
        assert!(
            !should_deliver(&v, &[sub("dashboard", &[])], &tenant),
            "dashboard updates are snapshots"
        );
        assert!(
            check_subscribe(&v, &strings(&["dashboard", "analytics", "notifications"])).is_ok()
        );
    }

    #[test]
    fn anonymous_visitors_read_public_only() {
        let anon = Identity {
            user_id: "anon-1".into(),
            role: Role::Viewer,
            exp: 0,
            anonymous: true,
        };
        assert!(check_subscribe(&anon, &strings(&["public"])).is_ok());
        for ch in [
            "tenant",
            "dashboard",
            "entity:card:c1",
            "user:anon-1",
            "role:viewer",
        ] {
            assert_eq!(
                check_subscribe(&anon, &strings(&[ch])).unwrap_err().code,
                "forbidden",
                "{ch}"
            );
        }
        let both = ev("product:viewers", &["public", "tenant"]);
        assert!(should_deliver(&anon, &[sub("public", &[])], &both));
        // Tenant records never reach anonymous visitors, whatever channel they are put on.
        let record = ev("crm:customer:created", &["public"]);
        assert!(!should_deliver(&anon, &[sub("public", &[])], &record));
        assert!(!should_deliver(
            &anon,
            &[sub("tenant", &[])],
            &ev("x", &["tenant"])
        ));
    }

    #[test]
    fn type_filters() {
        assert!(check_types(&strings(&["finance:*", "crm:customer:created"])).is_ok());
        assert!(check_types(&strings(&["bad type"])).is_err());
        assert!(check_types(&strings(&["a*b"])).is_err());
        assert!(check_types(&vec!["x".to_string(); 11]).is_err());
        assert!(type_matches(&[], "anything"));
    }

    #[test]
    fn merging_respects_the_limit_and_replaces() {
        let mut cur = vec![sub("tenant", &[])];
        merge_subscriptions(
            &mut cur,
            &[sub("tenant", &["crm:*"]), sub("user:u", &[])],
            2,
        )
        .unwrap();
        assert_eq!(cur, vec![sub("tenant", &["crm:*"]), sub("user:u", &[])]);
        let err = merge_subscriptions(&mut cur, &[sub("role:viewer", &[])], 2).unwrap_err();
        assert_eq!(err.code, "too_many_channels");
        assert_eq!(cur.len(), 2, "a refused merge changes nothing");
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
        // Everything was pruned by age: only a client already at the head recovers.
        assert!(recoverable(Some(20), None, 20));
        assert!(!recoverable(Some(19), None, 20));
    }

    /// The `json!` builders the typed frames replaced: the wire reference.
    mod legacy {
        use super::super::Event;
        use serde_json::{json, Value};
        pub fn event_frame(e: &Event) -> String {
            let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("op".into(), json!("event"));
            }
            v.to_string()
        }
        pub fn subscribed_frame(c: &[String], head: u64, recovered: bool, epoch: &str) -> String {
            json!({"op": "subscribed", "channels": c, "head": head, "recovered": recovered,
                   "epoch": epoch})
            .to_string()
        }
        pub fn unsubscribed_frame(channels: &[String]) -> String {
            json!({"op": "unsubscribed", "channels": channels}).to_string()
        }
        pub fn pong_frame(head: Option<u64>) -> String {
            match head {
                Some(h) => json!({"op": "pong", "head": h}).to_string(),
                None => json!({"op": "pong"}).to_string(),
            }
        }
        pub fn snapshot_frame(channel: &str, seq: u64, data: &Value) -> String {
            json!({"op": "snapshot", "channel": channel, "seq": seq, "data": data}).to_string()
        }
        pub fn presence_list_frame(channel: &str, users: &[(String, usize)]) -> String {
            let users: Vec<Value> = users
                .iter()
                .map(|(u, n)| json!({"user_id": u, "connections": n}))
                .collect();
            json!({"op": "presence", "channel": channel, "users": users}).to_string()
        }
        pub fn presence_change_frame(channel: &str, action: &str, user_id: &str) -> String {
            json!({"op": "presence", "channel": channel, "action": action, "user_id": user_id})
                .to_string()
        }
        pub fn error_frame(code: &str, message: &str) -> String {
            json!({"op": "error", "code": code, "message": message}).to_string()
        }
    }

    /// Same names, same values, nothing more or less than the old builders (key order is
    /// not part of JSON; the typed frames put `op` first).
    fn same_json(new: &str, old: &str) {
        let n: Value = serde_json::from_str(new).unwrap();
        let o: Value = serde_json::from_str(old).unwrap();
        assert_eq!(n, o, "{new} vs {old}");
    }

    #[test]
    fn typed_frames_match_the_old_builders() {
        let mut e = ev("crm:customer:created", &["tenant", "entity:customer:c1"]);
        e.data = json!({"name": "Ann \"A\"\n", "n": 1.5, "x": null, "l": [1, {"k": true}]});
        same_json(&event_frame(&e), &legacy::event_frame(&e));
        assert!(event_frame(&e).starts_with(r#"{"op":"event","seq":1,"#));
        let ch = strings(&["tenant", "user:u1"]);
        same_json(
            &ServerFrame::Subscribed {
                channels: &ch,
                head: 57,
                recovered: true,
                epoch: "123",
            }
            .to_json(),
            &legacy::subscribed_frame(&ch, 57, true, "123"),
        );
        same_json(
            &ServerFrame::Subscribed {
                channels: &[],
                head: 0,
                recovered: false,
                epoch: "",
            }
            .to_json(),
            &legacy::subscribed_frame(&[], 0, false, ""),
        );
        same_json(
            &ServerFrame::Unsubscribed { channels: &ch }.to_json(),
            &legacy::unsubscribed_frame(&ch),
        );
        for head in [None, Some(0), Some(57)] {
            same_json(
                &ServerFrame::Pong { head }.to_json(),
                &legacy::pong_frame(head),
            );
        }
        // The runtime's auto-response must be the exact text of a plain pong.
        assert_eq!(
            ServerFrame::Pong { head: None }.to_json(),
            r#"{"op":"pong"}"#
        );
        let data = json!({"customers": {"new": 2}, "by_broker": []});
        same_json(
            &ServerFrame::Snapshot {
                channel: "dashboard",
                seq: 9,
                data: &data,
            }
            .to_json(),
            &legacy::snapshot_frame("dashboard", 9, &data),
        );
        let users = vec![("u1".to_string(), 2), ("u2".to_string(), 1)];
        same_json(
            &ServerFrame::presence_list("entity:property:p1", &users).to_json(),
            &legacy::presence_list_frame("entity:property:p1", &users),
        );
        same_json(
            &ServerFrame::presence_list("c", &[]).to_json(),
            &legacy::presence_list_frame("c", &[]),
        );
        for (action, name) in [
            (PresenceAction::Join, "join"),
            (PresenceAction::Leave, "leave"),
        ] {
            same_json(
                &ServerFrame::PresenceChange {
                    channel: "public",
                    action,
                    user_id: "anon-x",
                }
                .to_json(),
                &legacy::presence_change_frame("public", name, "anon-x"),
            );
        }
        same_json(
            &error_frame("forbidden", "no \"way\""),
            &legacy::error_frame("forbidden", "no \"way\""),
        );
    }

    #[test]
    fn event_frame_has_op_and_envelope() {
        let f: Value = serde_json::from_str(&event_frame(&ev("t", &["tenant"]))).unwrap();
        assert_eq!(f["op"], "event");
        assert_eq!(f["type"], "t");
        assert_eq!(f["seq"], 1);
    }

    #[test]
    fn bucket_limits_rate_and_refills() {
        let mut b = Bucket::full(100, 0);
        let taken = (0..150).filter(|_| b.take(100, 0)).count();
        assert_eq!(taken, 100);
        assert!(!b.take(100, 100)); // 0.16 tokens after 100 ms
        assert!(b.take(100, 700)); // > 1 token after 700 ms
        assert!(Bucket::full(100, 0).take(100, 60_000));
    }

    #[test]
    fn limits_from_env() {
        let l = Limits::from_lookup(|k| match k {
            "WS_MAX_PER_USER" => Some("2".into()),
            "HISTORY_MAX_EVENTS" => Some("oops".into()),
            _ => None,
        });
        assert_eq!(l.ws_per_user, 2);
        assert_eq!(l.history_max_events, 10_000);
        assert_eq!(l.sse_per_user, 3);
    }

    /// `Limits` reads exactly the hub's declared settings, and its fallbacks are the
    /// declared defaults.
    #[test]
    fn limits_match_the_declared_settings() {
        use crate::config::{with_defaults, SETTINGS};
        let seen = std::cell::RefCell::new(std::collections::BTreeSet::new());
        let _ = Limits::from_lookup(|k| {
            seen.borrow_mut().insert(k.to_string());
            None
        });
        let hub: std::collections::BTreeSet<String> = SETTINGS
            .iter()
            .filter(|s| s.hub)
            .map(|s| s.name.to_string())
            .collect();
        assert_eq!(seen.into_inner(), hub);
        assert_eq!(
            Limits::from_lookup(with_defaults(|_| None)),
            Limits::default()
        );
    }
}
