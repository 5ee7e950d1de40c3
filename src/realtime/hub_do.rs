//! `TenantHub`, one Durable Object per tenant: appends events to its SQLite history,
//! serves hibernatable WebSockets (identity and subscriptions in the socket attachment),
//! replays history on `subscribe` with `since`, and fans new events out live.

use super::history::{self, Appended, HistoryStore};
use super::protocol::{self, ClientFrame, Identity};
use crate::domain::auth::Role;
use crate::domain::event::{Event, EventDraft};
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, SqlStorageValue,
    State, WebSocket, WebSocketIncomingMessage, WebSocketPair, WebSocketRequestResponsePair,
};

/// Headers the frontend worker sets after verifying the token (the DO is not reachable
/// from outside, so it trusts them).
pub const H_USER: &str = "x-pulse-user";
pub const H_ROLE: &str = "x-pulse-role";
pub const H_EXP: &str = "x-pulse-exp";

/// Replay is sent in pages of this many events.
const REPLAY_PAGE: u32 = 500;
/// WebSocket close code when the token expires (4000-4999 are application codes).
pub const CLOSE_TOKEN_EXPIRED: u16 = 4001;

/// What survives hibernation for each socket (serialized well under the 2 KB limit).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Attachment {
    #[serde(rename = "i")]
    who: Identity,
    #[serde(rename = "s", default)]
    subs: Vec<String>,
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
        Ok(SqliteHistory { sql })
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
            "INSERT INTO events (seq, id, type, channels, data, ts) VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                (e.seq as i64).into(),
                e.id.as_str().into(),
                e.kind.as_str().into(),
                channels.into(),
                data.into(),
                e.ts.as_str().into(),
            ],
        )?;
        self.sql.exec(
            "INSERT INTO meta (k, v) VALUES ('head', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
            vec![(e.seq as i64).into()],
        )?;
        Ok(())
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

#[durable_object]
pub struct TenantHub {
    state: State,
    history: SqliteHistory,
}

impl DurableObject for TenantHub {
    fn new(state: State, _env: Env) -> Self {
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
        TenantHub { state, history }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let path = req.path();
        match (req.method(), path.as_str()) {
            (worker::Method::Post, "/append") => self.append(req).await,
            (worker::Method::Get, "/ws") => self.accept(&req),
            (worker::Method::Get, "/head") => Response::from_json(
                &json!({"head": self.history.head()?, "oldest": self.history.oldest()?}),
            ),
            _ => Response::error("not found", 404),
        }
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> Result<()> {
        let text = match message {
            WebSocketIncomingMessage::String(s) => s,
            WebSocketIncomingMessage::Binary(_) => {
                return send(
                    &ws,
                    protocol::error_frame("bad_frame", "binary frames are not supported"),
                );
            }
        };
        let Some(mut att) = ws.deserialize_attachment::<Attachment>().ok().flatten() else {
            let _ = ws.close(Some(1011), Some("lost connection state"));
            return Ok(());
        };
        if token_expired(&att.who) {
            let _ = ws.close(Some(CLOSE_TOKEN_EXPIRED), Some("token expired"));
            return Ok(());
        }
        let frame = match protocol::parse_client_frame(&text) {
            Ok(f) => f,
            Err(e) => return send(&ws, protocol::error_frame(e.code, &e.message)),
        };
        match frame {
            ClientFrame::Ping => send(&ws, protocol::pong_frame()),
            ClientFrame::Subscribe { channels, since } => {
                if let Err(e) = protocol::check_subscribe(&att.who, &channels) {
                    return send(&ws, protocol::error_frame(e.code, &e.message));
                }
                if let Err(e) = protocol::merge_subscriptions(&mut att.subs, &channels) {
                    return send(&ws, protocol::error_frame(e.code, &e.message));
                }
                ws.serialize_attachment(&att)?;
                self.replay(&ws, &att.who, &channels, since)
            }
            ClientFrame::Unsubscribe { channels } => {
                att.subs.retain(|c| !channels.contains(c));
                ws.serialize_attachment(&att)?;
                send(&ws, protocol::unsubscribed_frame(&channels))
            }
        }
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        _reason: String,
        _clean: bool,
    ) -> Result<()> {
        // Complete the closing handshake; the runtime forgets the socket afterwards.
        let code = if code == 1005 || code == 1006 {
            1000
        } else {
            code as u16
        };
        let _ = ws.close(Some(code), Some("bye"));
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        let _ = ws.close(Some(1011), Some("error"));
        Ok(())
    }
}

fn send(ws: &WebSocket, frame: String) -> Result<()> {
    // A socket that went away mid-send is not an error of the hub.
    let _ = ws.send_with_str(frame);
    Ok(())
}

fn now_seconds() -> i64 {
    (worker::js_sys::Date::now() / 1000.0) as i64
}

fn token_expired(who: &Identity) -> bool {
    who.exp > 0 && now_seconds() > who.exp
}

impl TenantHub {
    async fn append(&self, mut req: Request) -> Result<Response> {
        let drafts: Vec<EventDraft> = match req.json().await {
            Ok(d) => d,
            Err(e) => return Response::error(format!("bad append body: {e}"), 400),
        };
        let appended = history::append(&self.history, drafts)?;
        let new_events: Vec<&Event> = appended
            .iter()
            .filter_map(|a| match a {
                Appended::New(e) => Some(e),
                Appended::Duplicate { .. } => None,
            })
            .collect();
        if !new_events.is_empty() {
            self.fan_out(&new_events);
        }
        let results: Vec<_> = appended
            .iter()
            .map(|a| {
                let (id, seq) = a.id_and_seq();
                json!({"id": id, "seq": seq})
            })
            .collect();
        Response::from_json(&json!({ "results": results }))
    }

    fn fan_out(&self, events: &[&Event]) {
        for ws in self.state.get_websockets() {
            let Some(att) = ws.deserialize_attachment::<Attachment>().ok().flatten() else {
                continue;
            };
            if att.subs.is_empty() {
                continue;
            }
            if token_expired(&att.who) {
                let _ = ws.close(Some(CLOSE_TOKEN_EXPIRED), Some("token expired"));
                continue;
            }
            for e in events {
                if protocol::should_deliver(&att.who, &att.subs, e) {
                    let _ = ws.send_with_str(protocol::event_frame(e));
                }
            }
        }
    }

    /// Sends `subscribed`, then every kept event after `since` on the new channels, in order.
    /// Storage reads and sends are synchronous, so no live event can slip in between.
    fn replay(
        &self,
        ws: &WebSocket,
        who: &Identity,
        channels: &[String],
        since: Option<u64>,
    ) -> Result<()> {
        let head = self.history.head()?;
        let oldest = self.history.oldest()?;
        let recovered = protocol::recoverable(since, oldest, head);
        send(ws, protocol::subscribed_frame(channels, head, recovered))?;
        let Some(mut cursor) = since.filter(|s| *s < head) else {
            return Ok(());
        };
        while cursor < head {
            let page = self.history.after(cursor, REPLAY_PAGE)?;
            let Some(last) = page.last() else { break };
            cursor = last.seq;
            for e in &page {
                if protocol::should_deliver(who, channels, e) {
                    send(ws, protocol::event_frame(e))?;
                }
            }
        }
        Ok(())
    }

    fn accept(&self, req: &Request) -> Result<Response> {
        let headers = req.headers();
        let user = headers.get(H_USER)?.unwrap_or_default();
        let role = headers.get(H_ROLE)?.and_then(|r| Role::parse(&r));
        let exp = headers
            .get(H_EXP)?
            .and_then(|e| e.parse::<i64>().ok())
            .unwrap_or(0);
        let (Some(role), false) = (role, user.is_empty()) else {
            return Response::error("missing identity", 400);
        };
        let pair = WebSocketPair::new()?;
        let tag = format!("u:{user}");
        self.state
            .accept_websocket_with_tags(&pair.server, &[tag.as_str()]);
        pair.server.serialize_attachment(&Attachment {
            who: Identity {
                user_id: user,
                role,
                exp,
            },
            subs: Vec::new(),
        })?;
        Response::from_websocket(pair.client)
    }
}
