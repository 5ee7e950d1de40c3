//! `TenantHub`, one Durable Object per tenant: appends events to its SQLite history
//! (bounded by count and age), serves hibernatable WebSockets (identity, subscriptions and
//! rate bucket in the socket attachment) and SSE streams, replays history on resume,
//! fans new events out live, and tracks presence and stats.

use super::history::{self, Appended, HistoryStore};
use super::protocol::{
    self, close, Bucket, Channel, ClientFrame, FrameError, Identity, Limits, OwnerCheck, OwnerKind,
    SnapshotKind, Sub,
};
use super::{presence, sse};
use crate::domain::auth::Role;
use crate::domain::event::{Event, EventDraft};
use crate::domain::policy::{self, View};
use crate::domain::query;
use futures_channel::mpsc::{unbounded, UnboundedSender};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use worker::{
    durable_object, DurableObject, Env, Headers, Request, Response, Result, SqlStorage,
    SqlStorageValue, State, WebSocket, WebSocketIncomingMessage, WebSocketPair,
    WebSocketRequestResponsePair,
};

/// Headers the frontend worker sets after verifying the token (the DO is not reachable
/// from outside, so it trusts them).
pub const H_USER: &str = "x-pulse-user";
pub const H_ROLE: &str = "x-pulse-role";
pub const H_EXP: &str = "x-pulse-exp";
pub const H_TENANT: &str = "x-pulse-tenant";
/// Set on public-room joins: the identity is an anonymous visitor.
pub const H_ANON: &str = "x-pulse-anonymous";

/// Replay is sent in pages of this many events.
const REPLAY_PAGE: u32 = 500;

/// What survives hibernation for each socket (at most 2 KB, checked on every change).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Attachment {
    #[serde(rename = "i")]
    who: Identity,
    #[serde(rename = "s", default)]
    subs: Vec<Sub>,
    #[serde(rename = "b")]
    bucket: Bucket,
    /// Set when the socket is closing: it no longer counts for presence or fan-out.
    #[serde(rename = "z", default, skip_serializing_if = "std::ops::Not::not")]
    closed: bool,
}

fn save(ws: &WebSocket, att: &Attachment) -> std::result::Result<(), FrameError> {
    let size = serde_json::to_vec(att)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > protocol::MAX_ATTACHMENT_BYTES {
        return Err(FrameError::new(
            "too_many_channels",
            "subscription state would exceed 2 KB: use fewer or shorter channels and filters",
        ));
    }
    ws.serialize_attachment(att)
        .map_err(|e| FrameError::new("internal", e.to_string()))
}

/// An open SSE stream (SSE cannot hibernate: it lives in memory while open).
struct SseConn {
    who: Identity,
    subs: Vec<Sub>,
    tx: UnboundedSender<std::result::Result<Vec<u8>, worker::Error>>,
    /// Bytes pushed that the runtime has not pulled yet: a reader that stops reading
    /// makes this grow, and is dropped past `SSE_MAX_BUFFERED_BYTES`.
    buffered: Rc<Cell<usize>>,
}

impl SseConn {
    fn push(&self, text: &str) -> bool {
        self.buffered.set(self.buffered.get() + text.len());
        self.tx.unbounded_send(Ok(text.as_bytes().to_vec())).is_ok()
    }
    fn buffered(&self) -> usize {
        self.buffered.get()
    }
}

/// Counters for `/stats` (kept in memory, flushed to SQLite with each append).
#[derive(Default, Clone, Copy)]
struct Counters {
    messages_in: u64,
    messages_out: u64,
    failed_recoveries: u64,
}

/// SQLite-backed history (the DO's own storage).
pub struct SqliteHistory {
    sql: SqlStorage,
}

#[derive(Deserialize)]
struct EventRow {
    seq: i64,
    id: String,
    #[serde(rename = "type")]
    kind: String,
    channels: String,
    data: String,
    ts: String,
}

impl EventRow {
    fn into_event(self) -> Event {
        Event {
            seq: self.seq as u64,
            id: self.id,
            kind: self.kind,
            channels: serde_json::from_str(&self.channels).unwrap_or_default(),
            data: serde_json::from_str(&self.data).unwrap_or(serde_json::Value::Null),
            ts: self.ts,
        }
    }
}

#[derive(Deserialize)]
struct NumRow {
    n: Option<i64>,
}

impl SqliteHistory {
    fn new(sql: SqlStorage) -> Result<Self> {
        sql.exec(
            "CREATE TABLE IF NOT EXISTS events (
               seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
               channels TEXT NOT NULL, data TEXT NOT NULL, ts TEXT NOT NULL)",
            None,
        )?;
        sql.exec(
            "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)",
            None,
        )?;
        sql.exec(
            "CREATE TABLE IF NOT EXISTS presence_pending (
               channel TEXT NOT NULL, user_id TEXT NOT NULL, due_ms INTEGER NOT NULL,
               PRIMARY KEY (channel, user_id))",
            None,
        )?;
        sql.exec(
            "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
            None,
        )?;
        let h = SqliteHistory { sql };
        // v2 adds ts_ms (age-based retention) to histories created by v1.
        if h.meta("schema")?.unwrap_or(1) < 2 {
            let _ = h.sql.exec(
                "ALTER TABLE events ADD COLUMN ts_ms INTEGER NOT NULL DEFAULT 0",
                None,
            );
            h.set_meta("schema", 2)?;
        }
        if h.meta("epoch")?.is_none() {
            // A new history: a new epoch, so clients can tell a reset history from theirs.
            let epoch = (worker::js_sys::Math::random() * 9.0e15) as i64;
            h.set_meta("epoch", epoch.max(1))?;
        }
        Ok(h)
    }

    pub fn meta(&self, k: &str) -> Result<Option<i64>> {
        self.num("SELECT v AS n FROM meta WHERE k = ?", vec![k.into()])
    }

    pub fn set_meta(&self, k: &str, v: i64) -> Result<()> {
        self.sql.exec(
            "INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
            vec![k.into(), v.into()],
        )?;
        Ok(())
    }

    pub fn text(&self, k: &str) -> Option<String> {
        #[derive(Deserialize)]
        struct Row {
            v: String,
        }
        let rows: Vec<Row> = self
            .sql
            .exec("SELECT v FROM kv WHERE k = ?", vec![k.into()])
            .ok()?
            .to_array()
            .ok()?;
        rows.into_iter().next().map(|r| r.v)
    }

    pub fn set_text(&self, k: &str, v: &str) -> Result<()> {
        self.sql.exec(
            "INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
            vec![k.into(), v.into()],
        )?;
        Ok(())
    }

    /// Recent events, newest first (for snapshots).
    fn recent(&self, limit: u32, since_ts_ms: i64) -> Result<Vec<Event>> {
        let rows: Vec<EventRow> = self
            .sql
            .exec(
                "SELECT seq, id, type, channels, data, ts FROM events WHERE ts_ms >= ?
                 ORDER BY seq DESC LIMIT ?",
                vec![since_ts_ms.into(), (limit as i64).into()],
            )?
            .to_array()?;
        Ok(rows.into_iter().map(EventRow::into_event).collect())
    }

    pub fn epoch(&self) -> String {
        self.meta("epoch").ok().flatten().unwrap_or(0).to_string()
    }

    pub fn count(&self) -> Result<u64> {
        Ok(self
            .num("SELECT COUNT(*) AS n FROM events", vec![])?
            .unwrap_or(0) as u64)
    }

    /// Drops events beyond the count limit and older than the age limit.
    pub fn prune(&self, limits: &Limits, now_ms: i64) -> Result<()> {
        let head = self.head()? as i64;
        let keep_from = head - limits.history_max_events as i64;
        if keep_from > 0 {
            self.sql
                .exec("DELETE FROM events WHERE seq <= ?", vec![keep_from.into()])?;
        }
        let cutoff = now_ms - (limits.history_max_age_seconds as i64) * 1000;
        self.sql.exec(
            "DELETE FROM events WHERE ts_ms > 0 AND ts_ms < ?",
            vec![cutoff.into()],
        )?;
        Ok(())
    }

    fn num(&self, query: &str, args: Vec<SqlStorageValue>) -> Result<Option<i64>> {
        let rows: Vec<NumRow> = self.sql.exec(query, args)?.to_array()?;
        Ok(rows.into_iter().next().and_then(|r| r.n))
    }
}

impl HistoryStore for SqliteHistory {
    type Error = worker::Error;
    fn head(&self) -> Result<u64> {
        Ok(self
            .num("SELECT v AS n FROM meta WHERE k = 'head'", vec![])?
            .unwrap_or(0) as u64)
    }
    fn oldest(&self) -> Result<Option<u64>> {
        Ok(self
            .num("SELECT MIN(seq) AS n FROM events", vec![])?
            .map(|n| n as u64))
    }
    fn seq_of(&self, id: &str) -> Result<Option<u64>> {
        Ok(self
            .num("SELECT seq AS n FROM events WHERE id = ?", vec![id.into()])?
            .map(|n| n as u64))
    }
    fn insert(&self, e: &Event) -> Result<()> {
        let channels = serde_json::to_string(&e.channels)?;
        let data = serde_json::to_string(&e.data)?;
        self.sql.exec(
            "INSERT INTO events (seq, id, type, channels, data, ts, ts_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![
                (e.seq as i64).into(),
                e.id.as_str().into(),
                e.kind.as_str().into(),
                channels.into(),
                data.into(),
                e.ts.as_str().into(),
                now_ms().into(),
            ],
        )?;
        self.set_meta("head", e.seq as i64)
    }
    fn after(&self, after: u64, limit: u32) -> Result<Vec<Event>> {
        let rows: Vec<EventRow> = self
            .sql
            .exec(
                "SELECT seq, id, type, channels, data, ts FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                vec![(after as i64).into(), (limit as i64).into()],
            )?
            .to_array()?;
        Ok(rows.into_iter().map(EventRow::into_event).collect())
    }
}

fn now_ms() -> i64 {
    worker::js_sys::Date::now() as i64
}

fn token_expired(who: &Identity) -> bool {
    who.exp > 0 && now_ms() / 1000 > who.exp
}

fn send(ws: &WebSocket, frame: &str) {
    // A socket that went away mid-send is not an error of the hub.
    let _ = ws.send_with_str(frame);
}

fn send_error(ws: &WebSocket, e: &FrameError) {
    send(ws, &protocol::error_frame(e.code, &e.message));
}

fn attachment(ws: &WebSocket) -> Option<Attachment> {
    ws.deserialize_attachment::<Attachment>()
        .ok()
        .flatten()
        .filter(|a| !a.closed)
}

/// The identity the frontend worker verified, from the internal headers.
fn identity(req: &Request) -> Option<Identity> {
    let h = req.headers();
    let user = h.get(H_USER).ok().flatten().filter(|u| !u.is_empty())?;
    let role = h.get(H_ROLE).ok().flatten().and_then(|r| Role::parse(&r))?;
    let exp = h
        .get(H_EXP)
        .ok()
        .flatten()
        .and_then(|e| e.parse::<i64>().ok())
        .unwrap_or(0);
    let anonymous = h.get(H_ANON).ok().flatten().is_some();
    Some(Identity {
        user_id: user,
        role,
        exp,
        anonymous,
    })
}

fn json_error(status: u16, code: &str, message: &str) -> Result<Response> {
    Ok(
        Response::from_json(&json!({"error": {"code": code, "message": message}}))?
            .with_status(status),
    )
}

fn frame_status(e: &FrameError) -> u16 {
    if e.code == "forbidden" {
        403
    } else {
        400
    }
}

/// `?channels=a,b&types=x,y` as subscriptions (default: everything the identity may read),
/// with the owner checks the hub still has to run. At most `max` channels, like a socket.
fn subs_from_query(
    url: &str,
    who: &Identity,
    max: usize,
) -> std::result::Result<(Vec<Sub>, Vec<OwnerCheck>), FrameError> {
    let q = |k: &str| query::get(url, k);
    let channels: Vec<String> = match q("channels").filter(|c| !c.is_empty()) {
        Some(c) => c.split(',').map(|s| s.trim().to_string()).collect(),
        None => vec![
            "tenant".into(),
            format!("user:{}", who.user_id),
            format!("role:{}", who.role.as_str()),
        ],
    };
    if channels.len() > max {
        return Err(FrameError::new(
            "too_many_channels",
            format!("at most {max} channels per stream or history request"),
        ));
    }
    let types: Vec<String> = q("types")
        .filter(|t| !t.is_empty())
        .map(|t| t.split(',').map(|s| s.trim().to_string()).collect())
        .unwrap_or_default();
    let checks = protocol::check_subscribe(who, &channels)?;
    protocol::check_types(&types)?;
    let subs = channels
        .into_iter()
        .map(|c| Sub {
            channel: c,
            types: types.clone(),
            presence: false,
        })
        .collect();
    Ok((subs, checks))
}

/// Open sockets with their decoded attachments.
type LiveSockets = Vec<(WebSocket, Attachment)>;

#[durable_object]
pub struct TenantHub {
    state: State,
    env: Env,
    /// The tenant this hub serves (from the frontend's header; kept in SQLite for alarms).
    tenant: RefCell<Option<String>>,
    dashboard_last_push: Cell<i64>,
    dashboard_dirty: Cell<bool>,
    history: SqliteHistory,
    limits: Limits,
    sse: Rc<RefCell<Vec<SseConn>>>,
    heartbeat_running: Rc<Cell<bool>>,
    counters: Cell<Counters>,
    /// The live sockets with their decoded attachments, so a fan-out does not decode every
    /// attachment again. Dropped whenever a socket joins, leaves or changes its
    /// subscriptions, and naturally lost when the object hibernates.
    sockets: RefCell<Option<Rc<LiveSockets>>>,
}

impl DurableObject for TenantHub {
    fn new(state: State, env: Env) -> Self {
        // Answered by the runtime without waking the object.
        if let Ok(pair) = WebSocketRequestResponsePair::new(r#"{"op":"ping"}"#, r#"{"op":"pong"}"#)
        {
            state.set_websocket_auto_response(&pair);
        }
        let sql = state.storage().sql();
        let history = match SqliteHistory::new(sql.clone()) {
            Ok(h) => h,
            Err(e) => {
                worker::console_error!("hub: schema setup failed: {e}");
                SqliteHistory { sql }
            }
        };
        let limits = Limits::from_lookup(crate::config::with_defaults(crate::config::env_lookup(
            &env,
        )));
        let counters = Counters {
            messages_in: history.meta("messages_in").ok().flatten().unwrap_or(0) as u64,
            messages_out: history.meta("messages_out").ok().flatten().unwrap_or(0) as u64,
            failed_recoveries: history
                .meta("failed_recoveries")
                .ok()
                .flatten()
                .unwrap_or(0) as u64,
        };
        let tenant = RefCell::new(history.text("tenant"));
        TenantHub {
            state,
            env,
            tenant,
            dashboard_last_push: Cell::new(0),
            dashboard_dirty: Cell::new(false),
            history,
            limits,
            sse: Rc::new(RefCell::new(Vec::new())),
            heartbeat_running: Rc::new(Cell::new(false)),
            counters: Cell::new(counters),
            sockets: RefCell::new(None),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        self.remember_tenant(&req);
        let path = req.path();
        match (req.method(), path.as_str()) {
            (worker::Method::Post, "/append") => self.append(req).await,
            (worker::Method::Get, "/ws") => self.accept(&req),
            (worker::Method::Get, "/sse") => self.open_sse(&req).await,
            (worker::Method::Get, "/events") => self.events(&req).await,
            (worker::Method::Get, "/stats") => self.stats(),
            (worker::Method::Get, "/analytics") => match identity(&req) {
                Some(who) => Response::from_json(&self.analytics(&who)),
                None => json_error(400, "bad_request", "missing identity"),
            },
            _ => json_error(404, "route_not_found", "no such hub route"),
        }
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> Result<()> {
        self.sockets.replace(None);
        self.count(|c| c.messages_in += 1);
        let Some(mut att) = attachment(&ws) else {
            let _ = ws.close(Some(close::INTERNAL), Some("lost connection state"));
            return Ok(());
        };
        if token_expired(&att.who) {
            send_error(
                &ws,
                &FrameError::new(
                    "token_expired",
                    "the token expired; reconnect with a fresh one",
                ),
            );
            let _ = ws.close(Some(close::TOKEN_EXPIRED), Some("token expired"));
            return Ok(());
        }
        let text = match message {
            WebSocketIncomingMessage::String(s) => s,
            WebSocketIncomingMessage::Binary(b) => {
                if b.len() > self.limits.max_frame_bytes {
                    return self.too_big(&ws);
                }
                send_error(
                    &ws,
                    &FrameError::new("bad_frame", "binary frames are not supported"),
                );
                return Ok(());
            }
        };
        if text.len() > self.limits.max_frame_bytes {
            return self.too_big(&ws);
        }
        if !att.bucket.take(self.limits.frames_per_minute, now_ms()) {
            send_error(
                &ws,
                &FrameError::new(
                    "rate_limited",
                    format!(
                        "more than {} frames per minute",
                        self.limits.frames_per_minute
                    ),
                ),
            );
            let _ = ws.close(Some(close::POLICY), Some("rate limited"));
            return Ok(());
        }
        let frame = protocol::parse_client_frame(&text);
        let result = match frame {
            Err(e) => Err(e),
            Ok(ClientFrame::Ping { head }) => {
                let head = if head {
                    Some(self.history.head()?)
                } else {
                    None
                };
                send(&ws, &protocol::pong_frame(head));
                Ok(())
            }
            Ok(ClientFrame::Subscribe {
                channels,
                since,
                epoch,
                types,
                presence,
            }) => {
                let kinds: Vec<SnapshotKind> = channels
                    .iter()
                    .filter_map(|c| match protocol::parse_channel(c) {
                        Some(Channel::Snapshot(k)) => Some(k),
                        _ => None,
                    })
                    .collect();
                let owners = match protocol::check_subscribe(&att.who, &channels) {
                    Ok(checks) => self.check_owners(&att.who, &checks).await,
                    Err(e) => Err(e),
                };
                let r = owners.and_then(|_| {
                    self.subscribe(
                        &ws,
                        &mut att,
                        channels,
                        since,
                        epoch,
                        types.unwrap_or_default(),
                        presence,
                    )
                });
                if r.is_ok() {
                    for k in kinds {
                        self.send_snapshot(&ws, &att.who, k).await;
                    }
                }
                r
            }
            Ok(ClientFrame::Unsubscribe { channels }) => {
                let left: Vec<String> = att
                    .subs
                    .iter()
                    .filter(|s| s.presence && channels.contains(&s.channel))
                    .map(|s| s.channel.clone())
                    .collect();
                att.subs.retain(|s| !channels.contains(&s.channel));
                let saved = save(&ws, &att);
                self.sockets.replace(None);
                saved.map(|_| {
                    for ch in left {
                        self.announce_if_gone(&ch, &att.who.user_id);
                    }
                    send(&ws, &protocol::unsubscribed_frame(&channels));
                })
            }
            Ok(ClientFrame::Presence { channel }) => {
                if att.subs.iter().any(|s| s.channel == channel) {
                    send(
                        &ws,
                        &protocol::presence_list_frame(&channel, &self.presence_list(&channel)),
                    );
                    Ok(())
                } else {
                    Err(FrameError::new(
                        "not_subscribed",
                        "subscribe to the channel first",
                    ))
                }
            }
        };
        if let Err(e) = result {
            send_error(&ws, &e);
        }
        // Persist the rate bucket across hibernation (subscriptions were saved already).
        let _ = save(&ws, &att);
        self.sockets.replace(None);
        Ok(())
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        _reason: String,
        _clean: bool,
    ) -> Result<()> {
        self.sockets.replace(None);
        self.gone(&ws).await;
        let code = if code == 1005 || code == 1006 {
            1000
        } else {
            code as u16
        };
        let _ = ws.close(Some(code), Some("bye"));
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        self.sockets.replace(None);
        self.gone(&ws).await;
        let _ = ws.close(Some(close::INTERNAL), Some("error"));
        Ok(())
    }

    async fn alarm(&self) -> Result<Response> {
        self.presence_alarm().await?;
        if self.dashboard_dirty.get() {
            self.push_dashboard().await;
        }
        Response::ok("ok")
    }
}

impl TenantHub {
    /// Runs the owner checks of entity channels (a sale's broker, a job's creator) against
    /// D1, so a subscription to a record the caller cannot read over REST is refused.
    async fn check_owners(
        &self,
        who: &Identity,
        checks: &[OwnerCheck],
    ) -> std::result::Result<(), FrameError> {
        if checks.is_empty() {
            return Ok(());
        }
        let tenant = self.tenant.borrow().clone().unwrap_or_default();
        let db = self
            .env
            .d1("DB")
            .map_err(|e| FrameError::new("internal", e.to_string()))?;
        #[derive(Deserialize)]
        struct Owner {
            owner: String,
            #[serde(default)]
            queue: Option<String>,
        }
        for c in checks {
            let sql = match c.owner {
                OwnerKind::Sale => {
                    "SELECT broker_id AS owner FROM sales WHERE tenant_id = ?1 AND id = ?2"
                }
                OwnerKind::Job => {
                    "SELECT created_by AS owner, queue FROM jobs WHERE tenant_id = ?1 AND id = ?2"
                }
            };
            let row: Option<Owner> = db
                .prepare(sql)
                .bind(&[tenant.as_str().into(), c.id.as_str().into()])
                .map_err(|e| FrameError::new("internal", e.to_string()))?
                .first(None)
                .await
                .map_err(|e| FrameError::new("internal", e.to_string()))?;
            let admin_only = row
                .as_ref()
                .is_some_and(|r| r.queue.as_deref() == Some(crate::domain::policy::REPORTS_QUEUE));
            protocol::owner_allows(who, c, row.as_ref().map(|r| r.owner.as_str()), admin_only)?;
        }
        Ok(())
    }

    /// The verified identity and its subscriptions from `?channels=&types=` for SSE and
    /// the REST history, or the error response (403 for a forbidden channel, else 400).
    async fn reader(
        &self,
        req: &Request,
        url: &str,
    ) -> std::result::Result<(Identity, Vec<Sub>), Result<Response>> {
        let Some(who) = identity(req) else {
            return Err(json_error(400, "bad_request", "missing identity"));
        };
        let checked = match subs_from_query(url, &who, self.limits.max_subscriptions) {
            Ok((subs, checks)) => self.check_owners(&who, &checks).await.map(|_| subs),
            Err(e) => Err(e),
        };
        match checked {
            Ok(subs) => Ok((who, subs)),
            Err(e) => Err(json_error(frame_status(&e), e.code, &e.message)),
        }
    }

    fn count(&self, f: impl FnOnce(&mut Counters)) {
        let mut c = self.counters.get();
        f(&mut c);
        self.counters.set(c);
    }

    fn flush_counters(&self) -> Result<()> {
        let c = self.counters.get();
        self.history.set_meta("messages_in", c.messages_in as i64)?;
        self.history
            .set_meta("messages_out", c.messages_out as i64)?;
        self.history
            .set_meta("failed_recoveries", c.failed_recoveries as i64)
    }

    fn too_big(&self, ws: &WebSocket) -> Result<()> {
        send_error(
            ws,
            &FrameError::new(
                "frame_too_large",
                format!(
                    "frames are limited to {} bytes",
                    self.limits.max_frame_bytes
                ),
            ),
        );
        let _ = ws.close(Some(close::TOO_BIG), Some("frame too large"));
        Ok(())
    }

    async fn append(&self, mut req: Request) -> Result<Response> {
        let drafts: Vec<EventDraft> = match req.json().await {
            Ok(d) => d,
            Err(e) => return json_error(400, "bad_request", &format!("bad append body: {e}")),
        };
        let appended = history::append(&self.history, drafts)?;
        let new_events: Vec<&Event> = appended
            .iter()
            .filter_map(|a| match a {
                Appended::New(e) => Some(e),
                Appended::Duplicate { .. } => None,
            })
            .collect();
        let dashboard = new_events
            .iter()
            .any(|e| protocol::affects_dashboard(&e.kind));
        if !new_events.is_empty() {
            self.fan_out(&new_events);
            self.history.prune(&self.limits, now_ms())?;
        }
        if dashboard {
            self.dashboard_changed().await;
        }
        self.flush_counters()?;
        let results: Vec<_> = appended
            .iter()
            .map(|a| {
                let (id, seq) = a.id_and_seq();
                json!({"id": id, "seq": seq})
            })
            .collect();
        Response::from_json(&json!({ "results": results }))
    }

    /// The open sockets with their attachments (decoded once, then cached).
    fn live_sockets(&self) -> Rc<LiveSockets> {
        if let Some(c) = self.sockets.borrow().as_ref() {
            return c.clone();
        }
        let list: Vec<(WebSocket, Attachment)> = self
            .state
            .get_websockets()
            .into_iter()
            .filter_map(|ws| attachment(&ws).map(|a| (ws, a)))
            .collect();
        let list = Rc::new(list);
        self.sockets.replace(Some(list.clone()));
        list
    }

    fn fan_out(&self, events: &[&Event]) {
        let mut out = 0u64;
        // Each event is rendered once, whatever the number of sockets; only readers who
        // get a redacted copy (fields removed by the read policy) cost a render of their own.
        let frames: Vec<String> = events.iter().map(|e| protocol::event_frame(e)).collect();
        let mut expired = false;
        for (ws, att) in self.live_sockets().iter() {
            if att.subs.is_empty() {
                continue;
            }
            if token_expired(&att.who) {
                send_error(
                    ws,
                    &FrameError::new(
                        "token_expired",
                        "the token expired; reconnect with a fresh one",
                    ),
                );
                let _ = ws.close(Some(close::TOKEN_EXPIRED), Some("token expired"));
                expired = true;
                continue;
            }
            for (e, frame) in events.iter().zip(&frames) {
                match protocol::view(&att.who, &att.subs, e) {
                    View::Hidden => continue,
                    View::Full => send(ws, frame),
                    v @ View::Redacted(_) => {
                        send(ws, &protocol::event_frame(&protocol::visible_event(e, &v)))
                    }
                }
                out += 1;
            }
        }
        if expired {
            self.sockets.replace(None);
        }
        let max_buffered = self.limits.sse_max_buffered_bytes;
        self.sse.borrow_mut().retain(|c| {
            if token_expired(&c.who) {
                c.push(&sse::error(
                    "token_expired",
                    "the token expired; reconnect with a fresh one",
                ));
                return false;
            }
            for e in events {
                let v = protocol::view(&c.who, &c.subs, e);
                if v == View::Hidden {
                    continue;
                }
                if c.buffered() > max_buffered {
                    // A reader that stopped reading: drop it rather than buffer forever.
                    return false;
                }
                if !c.push(&sse::event(&protocol::visible_event(e, &v))) {
                    return false;
                }
                out += 1;
            }
            true
        });
        self.count(|c| c.messages_out += out);
    }

    /// `subscribed`, then every kept event after `since` matching `subs`, in order.
    /// Storage reads and sends are synchronous, so no live event can slip in between.
    fn replay_into(
        &self,
        who: &Identity,
        subs: &[Sub],
        since: Option<u64>,
        mut sink: impl FnMut(&Event),
    ) -> Result<()> {
        let head = self.history.head()?;
        let Some(mut cursor) = since.filter(|s| *s < head) else {
            return Ok(());
        };
        while cursor < head {
            let page = self.history.after(cursor, REPLAY_PAGE)?;
            let Some(last) = page.last() else { break };
            cursor = last.seq;
            for e in &page {
                let v = protocol::view(who, subs, e);
                if v != View::Hidden {
                    sink(&protocol::visible_event(e, &v));
                }
            }
        }
        Ok(())
    }

    fn recovery(&self, since: Option<u64>, epoch: Option<&str>) -> Result<(u64, bool)> {
        let head = self.history.head()?;
        let oldest = self.history.oldest()?;
        let same_epoch = epoch.is_none_or(|e| e == self.history.epoch());
        let recovered = same_epoch && protocol::recoverable(since, oldest, head);
        if !recovered {
            self.count(|c| c.failed_recoveries += 1);
        }
        Ok((head, recovered))
    }

    #[allow(clippy::too_many_arguments)]
    fn subscribe(
        &self,
        ws: &WebSocket,
        att: &mut Attachment,
        channels: Vec<String>,
        since: Option<u64>,
        epoch: Option<String>,
        types: Vec<String>,
        presence: bool,
    ) -> std::result::Result<(), FrameError> {
        protocol::check_subscribe(&att.who, &channels)?;
        protocol::check_types(&types)?;
        let new: Vec<Sub> = channels
            .iter()
            .map(|c| Sub {
                channel: c.clone(),
                types: types.clone(),
                presence,
            })
            .collect();
        let joined: Vec<String> = if presence {
            channels
                .iter()
                .filter(|c| !att.subs.iter().any(|s| s.presence && s.channel == **c))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let mut subs = att.subs.clone();
        protocol::merge_subscriptions(&mut subs, &new, self.limits.max_subscriptions)?;
        let before = std::mem::replace(&mut att.subs, subs);
        let saved = save(ws, att);
        self.sockets.replace(None);
        if let Err(e) = saved {
            att.subs = before;
            return Err(e);
        }
        let internal = |e: worker::Error| FrameError::new("internal", e.to_string());
        let (head, recovered) = self.recovery(since, epoch.as_deref()).map_err(internal)?;
        send(
            ws,
            &protocol::subscribed_frame(&channels, head, recovered, &self.history.epoch()),
        );
        let since = if recovered { since } else { None };
        self.replay_into(&att.who, &new, since, |e| {
            send(ws, &protocol::event_frame(e))
        })
        .map_err(internal)?;
        for ch in joined {
            self.announce_join(&ch, &att.who.user_id);
        }
        Ok(())
    }

    fn accept(&self, req: &Request) -> Result<Response> {
        let Some(who) = identity(req) else {
            return json_error(400, "bad_request", "missing identity");
        };
        let pair = WebSocketPair::new()?;
        let tag = format!("u:{}", who.user_id);
        let existing = self
            .state
            .get_websockets_with_tag(&tag)
            .iter()
            .filter(|w| attachment(w).is_some())
            .count();
        self.state
            .accept_websocket_with_tags(&pair.server, &[tag.as_str()]);
        let att = Attachment {
            who,
            subs: Vec::new(),
            bucket: Bucket::full(self.limits.frames_per_minute, now_ms()),
            closed: false,
        };
        if existing >= self.limits.ws_per_user {
            // Accept, say why, then close: a refused upgrade would hide the reason.
            send_error(
                &pair.server,
                &FrameError::new(
                    "too_many_connections",
                    format!(
                        "at most {} WebSocket connections per user",
                        self.limits.ws_per_user
                    ),
                ),
            );
            let _ = pair
                .server
                .close(Some(close::POLICY), Some("too many connections"));
        } else {
            pair.server.serialize_attachment(&att)?;
        }
        self.sockets.replace(None);
        Response::from_websocket(pair.client)
    }

    /// A socket closed or failed: it stops counting, and presence leaves are scheduled.
    async fn gone(&self, ws: &WebSocket) {
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
        self.sockets.replace(None);
        if channels.is_empty() {
            return;
        }
        let due = now_ms() + self.limits.presence_grace_ms as i64;
        for ch in &channels {
            if self.presence_count(ch, &att.who.user_id) == 0 {
                let _ = self.history.sql.exec(
                    "INSERT INTO presence_pending (channel, user_id, due_ms) VALUES (?, ?, ?)
                     ON CONFLICT(channel, user_id) DO UPDATE SET due_ms = excluded.due_ms",
                    vec![
                        ch.as_str().into(),
                        att.who.user_id.as_str().into(),
                        due.into(),
                    ],
                );
            }
        }
        self.alarm_at(due).await;
    }

    fn remember_tenant(&self, req: &Request) {
        let Some(t) = req.headers().get(H_TENANT).ok().flatten() else {
            return;
        };
        if self.tenant.borrow().as_deref() != Some(t.as_str()) {
            let _ = self.history.set_text("tenant", &t);
            *self.tenant.borrow_mut() = Some(t);
        }
    }

    /// Sets the alarm for `at_ms` unless one is due earlier (one alarm serves presence
    /// leaves and dashboard pushes).
    async fn alarm_at(&self, at_ms: i64) {
        let storage = self.state.storage();
        let current = storage.get_alarm().await.ok().flatten();
        if current.is_none_or(|t| t > at_ms) {
            // An i64 is an offset from now for `set_alarm`.
            if let Err(e) = storage.set_alarm((at_ms - now_ms()).max(1)).await {
                worker::console_error!("hub: alarm not set: {e}");
            }
        }
    }

    fn has_snapshot_subscribers(&self, kind: SnapshotKind) -> bool {
        self.live()
            .iter()
            .any(|(_, subs)| subs.iter().any(|s| s.channel == kind.name()))
    }

    /// A change that moves the dashboard: push a fresh snapshot now, or at the end of the
    /// current interval (at most one per `DASHBOARD_MIN_INTERVAL_MS`).
    async fn dashboard_changed(&self) {
        if !self.has_snapshot_subscribers(SnapshotKind::Dashboard) {
            return;
        }
        let next = self.dashboard_last_push.get() + self.limits.dashboard_interval_ms as i64;
        if now_ms() >= next {
            self.push_dashboard().await;
        } else if !self.dashboard_dirty.replace(true) {
            self.alarm_at(next).await;
        }
    }

    async fn push_dashboard(&self) {
        self.dashboard_dirty.set(false);
        self.dashboard_last_push.set(now_ms());
        let Some(tenant) = self.tenant.borrow().clone() else {
            return;
        };
        let data = match crate::store::dashboard::snapshot(&self.env, &tenant).await {
            Ok(d) => d,
            Err(e) => {
                worker::console_error!("hub: dashboard snapshot failed: {}", e.message);
                return;
            }
        };
        let head = self.history.head().unwrap_or(0);
        // Each reader gets the figures the read policy allows them (one render per reader
        // kind: admins share one frame).
        let full = protocol::snapshot_frame("dashboard", head, &data);
        for (ws, att) in self.live_sockets().iter() {
            if att.subs.iter().any(|s| s.channel == "dashboard") {
                match policy::money_scope(&att.who.reader()) {
                    policy::MoneyScope::All => send(ws, &full),
                    _ => send(
                        ws,
                        &protocol::snapshot_frame(
                            "dashboard",
                            head,
                            &policy::redact_dashboard(&att.who.reader(), &data),
                        ),
                    ),
                }
            }
        }
    }

    /// Event counts by type over the last 24 h that `who` may read on the tenant channel.
    fn analytics(&self, who: &Identity) -> serde_json::Value {
        let subs = [Sub {
            channel: "analytics".into(),
            types: vec![],
            presence: false,
        }];
        let day_ago = now_ms() - 24 * 3600 * 1000;
        let mut by_type = serde_json::Map::new();
        let mut total = 0u64;
        let recent = self
            .history
            .recent(self.limits.history_max_events as u32, day_ago)
            .unwrap_or_default();
        for e in recent {
            if protocol::should_deliver(who, &subs, &e) {
                total += 1;
                let n = by_type.entry(e.kind).or_insert(json!(0));
                *n = json!(n.as_u64().unwrap_or(0) + 1);
            }
        }
        json!({"window_hours": 24, "events": total, "events_by_type": by_type,
               "connections": self.live().len(), "head": self.history.head().unwrap_or(0)})
    }

    /// The first frame of a snapshot channel after `subscribed`.
    async fn send_snapshot(&self, ws: &WebSocket, who: &Identity, kind: SnapshotKind) {
        let head = self.history.head().unwrap_or(0);
        let data = match kind {
            SnapshotKind::Dashboard => {
                let tenant = self.tenant.borrow().clone();
                let Some(tenant) = tenant else { return };
                match crate::store::dashboard::snapshot(&self.env, &tenant).await {
                    Ok(d) => policy::redact_dashboard(&who.reader(), &d),
                    Err(e) => {
                        send_error(ws, &FrameError::new("snapshot_failed", e.message));
                        return;
                    }
                }
            }
            SnapshotKind::Notifications => {
                let subs = [Sub {
                    channel: "notifications".into(),
                    types: vec![],
                    presence: false,
                }];
                let items: Vec<Event> = self
                    .history
                    .recent(REPLAY_PAGE, 0)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|e| {
                        let v = protocol::view(who, &subs, &e);
                        (v != View::Hidden).then(|| protocol::visible_event(&e, &v).into_owned())
                    })
                    .take(20)
                    .collect();
                json!({ "items": items })
            }
            SnapshotKind::Analytics => self.analytics(who),
        };
        send(ws, &protocol::snapshot_frame(kind.name(), head, &data));
    }

    /// Live connections as `(user, subscriptions)`.
    fn live(&self) -> Vec<(Identity, Vec<Sub>)> {
        self.live_sockets()
            .iter()
            .map(|(_, a)| (a.who.clone(), a.subs.clone()))
            .collect()
    }

    fn presence_list(&self, channel: &str) -> Vec<(String, usize)> {
        let live = self.live();
        presence::list(
            live.iter().map(|(w, s)| (w.user_id.as_str(), s.as_slice())),
            channel,
        )
    }

    fn presence_count(&self, channel: &str, user: &str) -> usize {
        self.presence_list(channel)
            .into_iter()
            .find(|(u, _)| u == user)
            .map_or(0, |(_, n)| n)
    }

    /// Sends a presence frame to every live connection subscribed to `channel`.
    fn broadcast_presence(&self, channel: &str, frame: &str) {
        for (ws, att) in self.live_sockets().iter() {
            if att.subs.iter().any(|s| s.channel == channel) {
                send(ws, frame);
            }
        }
    }

    /// A user's first presence connection on `channel`: a join, unless they are coming
    /// back within the grace period of a leave (a reload), which is then cancelled.
    fn announce_join(&self, channel: &str, user: &str) {
        if self.presence_count(channel, user) > 1 {
            return;
        }
        let pending = self
            .history
            .num(
                "SELECT COUNT(*) AS n FROM presence_pending WHERE channel = ? AND user_id = ?",
                vec![channel.into(), user.into()],
            )
            .ok()
            .flatten()
            .unwrap_or(0);
        if pending > 0 {
            let _ = self.history.sql.exec(
                "DELETE FROM presence_pending WHERE channel = ? AND user_id = ?",
                vec![channel.into(), user.into()],
            );
            return;
        }
        self.broadcast_presence(
            channel,
            &protocol::presence_change_frame(channel, "join", user),
        );
    }

    /// An explicit unsubscribe leaves at once (no grace) when it was the last connection.
    fn announce_if_gone(&self, channel: &str, user: &str) {
        if self.presence_count(channel, user) == 0 {
            self.broadcast_presence(
                channel,
                &protocol::presence_change_frame(channel, "leave", user),
            );
        }
    }

    async fn presence_alarm(&self) -> Result<()> {
        #[derive(Deserialize)]
        struct Pending {
            channel: String,
            user_id: String,
        }
        let now = now_ms();
        let due: Vec<Pending> = self
            .history
            .sql
            .exec(
                "SELECT channel, user_id FROM presence_pending WHERE due_ms <= ?",
                vec![now.into()],
            )?
            .to_array()?;
        for p in &due {
            self.history.sql.exec(
                "DELETE FROM presence_pending WHERE channel = ? AND user_id = ?",
                vec![p.channel.as_str().into(), p.user_id.as_str().into()],
            )?;
            self.announce_if_gone(&p.channel, &p.user_id);
        }
        // Leaves scheduled while this alarm was pending are due later: re-arm for them.
        if let Some(next) = self
            .history
            .num("SELECT MIN(due_ms) AS n FROM presence_pending", vec![])?
        {
            self.alarm_at(next.max(now + 10)).await;
        }
        Ok(())
    }

    async fn open_sse(&self, req: &Request) -> Result<Response> {
        let url = req.inner().url();
        let (who, subs) = match self.reader(req, &url).await {
            Ok(r) => r,
            Err(resp) => return resp,
        };
        {
            let mut conns = self.sse.borrow_mut();
            conns.retain(|c| !c.tx.is_closed());
            let mine = conns
                .iter()
                .filter(|c| c.who.user_id == who.user_id)
                .count();
            if mine >= self.limits.sse_per_user {
                let mut r = json_error(
                    429,
                    "too_many_streams",
                    &format!("at most {} SSE streams per user", self.limits.sse_per_user),
                )?;
                r.headers_mut().set("retry-after", "15")?;
                return Ok(r);
            }
        }
        let since = sse::parse_cursor(req.headers().get("last-event-id")?.as_deref())
            .or_else(|| sse::parse_cursor(query::get(&url, "since").as_deref()));
        let (tx, rx) = unbounded();
        let buffered = Rc::new(Cell::new(0usize));
        let pulled = buffered.clone();
        let rx = futures_util::StreamExt::map(
            rx,
            move |chunk: std::result::Result<Vec<u8>, worker::Error>| {
                if let Ok(bytes) = &chunk {
                    pulled.set(pulled.get().saturating_sub(bytes.len()));
                }
                chunk
            },
        );
        let conn = SseConn {
            who,
            subs,
            tx,
            buffered,
        };
        let (head, recovered) = self.recovery(since, None)?;
        let channels: Vec<String> = conn.subs.iter().map(|s| s.channel.clone()).collect();
        conn.push(&sse::preamble(
            &channels,
            head,
            recovered,
            &self.history.epoch(),
        ));
        let since = if recovered { since } else { None };
        self.replay_into(&conn.who, &conn.subs, since, |e| {
            conn.push(&sse::event(e));
        })?;
        self.sse.borrow_mut().push(conn);
        self.ensure_heartbeat();
        let headers = Headers::new();
        headers.set("content-type", "text/event-stream; charset=utf-8")?;
        headers.set("cache-control", "no-cache, no-transform")?;
        headers.set("x-accel-buffering", "no")?;
        Ok(Response::from_stream(rx)?.with_headers(headers))
    }

    /// One task per hub while SSE streams are open: a comment every 15 s keeps proxies
    /// from timing out and finds closed streams. It ends with the last stream.
    fn ensure_heartbeat(&self) {
        if self.heartbeat_running.get() {
            return;
        }
        self.heartbeat_running.set(true);
        let conns = self.sse.clone();
        let running = self.heartbeat_running.clone();
        let every = std::time::Duration::from_secs(self.limits.sse_heartbeat_seconds);
        let max_buffered = self.limits.sse_max_buffered_bytes;
        worker::wasm_bindgen_futures::spawn_local(async move {
            loop {
                worker::Delay::from(every).await;
                let mut c = conns.borrow_mut();
                c.retain(|conn| conn.buffered() <= max_buffered && conn.push(sse::HEARTBEAT));
                if c.is_empty() {
                    running.set(false);
                    break;
                }
            }
        });
    }

    /// `GET /events?since=&limit=&channels=&types=`: the history for polling clients, with
    /// the same authorization as live delivery.
    async fn events(&self, req: &Request) -> Result<Response> {
        let url = req.inner().url();
        let (who, subs) = match self.reader(req, &url).await {
            Ok(r) => r,
            Err(resp) => return resp,
        };
        let q = |k: &str| query::get(&url, k);
        let since = match q("since") {
            None => 0,
            Some(s) => match s.parse::<u64>() {
                Ok(n) => n,
                Err(_) => {
                    return json_error(400, "bad_request", "since must be a non-negative integer")
                }
            },
        };
        let limit = match q("limit") {
            None => 100,
            Some(s) => match s.parse::<u32>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => {
                    return json_error(
                        400,
                        "bad_request",
                        "limit must be an integer from 1 to 1000",
                    )
                }
            },
        };
        let head = self.history.head()?;
        let oldest = self.history.oldest()?;
        let recovered = protocol::recoverable(Some(since), oldest, head);
        let mut data = Vec::new();
        let mut cursor = since;
        // Scan forward until `limit` visible events or the head.
        while cursor < head && data.len() < limit as usize {
            let page = self.history.after(cursor, REPLAY_PAGE)?;
            let Some(last) = page.last() else { break };
            let last_seq = last.seq;
            for e in page {
                if data.len() == limit as usize {
                    break;
                }
                cursor = e.seq;
                let v = protocol::view(&who, &subs, &e);
                if v != View::Hidden {
                    data.push(protocol::visible_event(&e, &v).into_owned());
                }
            }
            if data.len() < limit as usize {
                cursor = last_seq;
            }
        }
        Response::from_json(&json!({
            "data": data, "head": head, "oldest": oldest, "epoch": self.history.epoch(),
            "recovered": recovered, "next_since": cursor,
        }))
    }

    fn stats(&self) -> Result<Response> {
        let mut by_role = serde_json::Map::new();
        let mut by_channel = serde_json::Map::new();
        let live = self.live();
        for (who, subs) in &live {
            let n = by_role.entry(who.role.as_str()).or_insert(json!(0));
            *n = json!(n.as_u64().unwrap_or(0) + 1);
            for s in subs {
                let n = by_channel.entry(s.channel.clone()).or_insert(json!(0));
                *n = json!(n.as_u64().unwrap_or(0) + 1);
            }
        }
        let c = self.counters.get();
        let sse_open = {
            let mut conns = self.sse.borrow_mut();
            conns.retain(|c| !c.tx.is_closed());
            conns.len()
        };
        Response::from_json(&json!({
            "connections": {"websocket": live.len(), "sse": sse_open, "by_role": by_role, "by_channel": by_channel},
            "messages": {"in": c.messages_in, "out": c.messages_out},
            "history": {"events": self.history.count()?, "head": self.history.head()?,
                        "oldest_seq": self.history.oldest()?, "epoch": self.history.epoch(),
                        "max_events": self.limits.history_max_events,
                        "max_age_seconds": self.limits.history_max_age_seconds},
            "failed_recoveries": c.failed_recoveries,
        }))
    }
}
