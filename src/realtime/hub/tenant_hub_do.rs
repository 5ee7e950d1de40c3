//! `TenantHub`, one Durable Object per tenant (and per room): its state and the
//! `DurableObject` entry points, each only dispatching to the parts of `hub/`.

use super::sockets::{self, LiveSockets};
use super::sse::SseConn;
use super::stats::Counters;
use super::storage::SqliteStore;
use super::{frames, now_ms, requests};
use crate::realtime::protocol::{self, close, Limits, ServerFrame};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, State, WebSocket,
    WebSocketIncomingMessage, WebSocketRequestResponsePair,
};

#[durable_object]
pub struct TenantHub {
    pub(super) state: State,
    pub(super) env: Env,
    /// The tenant this hub serves (from the frontend's header; kept in storage for alarms).
    pub(super) tenant: RefCell<Option<String>>,
    pub(super) dashboard_last_push: Cell<i64>,
    /// A dashboard push is waiting for the alarm.
    pub(super) dashboard_dirty: Cell<bool>,
    pub(super) store: SqliteStore,
    pub(super) limits: Limits,
    /// Open SSE streams (shared with their heartbeat task).
    pub(super) sse: Rc<RefCell<Vec<SseConn>>>,
    pub(super) heartbeat_running: Rc<Cell<bool>>,
    pub(super) counters: Cell<Counters>,
    /// The live sockets with their decoded attachments, so a fan-out does not decode every
    /// attachment again. Dropped whenever a socket joins, leaves or changes its
    /// subscriptions, and naturally lost when the object hibernates.
    pub(super) sockets: RefCell<Option<Rc<LiveSockets>>>,
    /// When this instance was created (a hibernated hub comes back as a new one).
    pub(super) born_ms: i64,
    /// Socket.IO sessions on long-polling (in memory: a poll keeps the hub awake).
    pub(super) polls: RefCell<Vec<super::socketio::Poll>>,
}

impl DurableObject for TenantHub {
    fn new(state: State, env: Env) -> Self {
        // A plain ping is answered by the runtime without waking the object.
        let pong = ServerFrame::Pong { head: None }.to_json();
        if let Ok(pair) = WebSocketRequestResponsePair::new(r#"{"op":"ping"}"#, &pong) {
            state.set_websocket_auto_response(&pair);
        }
        let sql = state.storage().sql();
        let store = SqliteStore::open(sql.clone()).unwrap_or_else(|e| {
            worker::console_error!("hub: schema setup failed: {e}");
            SqliteStore::unchecked(sql)
        });
        let limits = Limits::from_lookup(crate::config::with_defaults(crate::config::env_lookup(
            &env,
        )));
        let counters = Counters::load(&store);
        let tenant = RefCell::new(super::HubStore::text(&store, "tenant"));
        TenantHub {
            state,
            env,
            tenant,
            dashboard_last_push: Cell::new(0),
            dashboard_dirty: Cell::new(false),
            store,
            limits,
            sse: Rc::new(RefCell::new(Vec::new())),
            heartbeat_running: Rc::new(Cell::new(false)),
            counters: Cell::new(counters),
            sockets: RefCell::new(None),
            born_ms: now_ms(),
            polls: RefCell::new(Vec::new()),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        self.remember_tenant(&req);
        let path = req.path();
        match (req.method(), path.as_str()) {
            (worker::Method::Post, "/append") => self.append(req).await,
            (worker::Method::Get, "/ws") => {
                let resp = self.accept(&req);
                if let Some(who) = requests::identity(&req) {
                    self.arm_token_alarm(who.exp).await;
                }
                resp
            }
            (worker::Method::Get, "/sse") => self.open_sse(&req).await,
            (_, "/sio") => self.socketio(req).await,
            (worker::Method::Get, "/events") => self.events(&req).await,
            (worker::Method::Get, "/stats") => self.stats(),
            (worker::Method::Get, "/analytics") => match requests::identity(&req) {
                Some(who) => Response::from_json(&self.analytics(&who)),
                None => requests::json_error(400, "bad_request", "missing identity"),
            },
            _ => requests::json_error(404, "route_not_found", "no such hub route"),
        }
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> Result<()> {
        self.sockets_changed();
        self.count(|c| c.messages_in += 1);
        let Some(mut att) = sockets::attachment(&ws) else {
            let _ = ws.close(Some(close::INTERNAL), Some("lost connection state"));
            return Ok(());
        };
        let (text, len, binary) = match message {
            WebSocketIncomingMessage::String(s) => {
                let n = s.len();
                (s, n, false)
            }
            WebSocketIncomingMessage::Binary(b) => (String::new(), b.len(), true),
        };
        if let Err(r) = sockets::admit_frame(&mut att, len, binary, &self.limits, now_ms()) {
            sockets::refuse_as(&ws, att.sio != 0, &r);
            return Ok(());
        }
        if att.sio != 0 {
            // Socket.IO keeps its state itself (the rate bucket first).
            let _ = sockets::save(&ws, &att);
            self.sio_ws_message(&ws, &text).await;
            self.sockets_changed();
            return Ok(());
        }
        let result = match protocol::parse_client_frame(&text) {
            Err(e) => Err(e),
            Ok(frame) => frames::handle(self, &ws, &mut att, frame).await,
        };
        if let Err(e) = result {
            sockets::send_error(&ws, &e);
        }
        // Persist the rate bucket across hibernation (subscriptions were saved already).
        let _ = sockets::save(&ws, &att);
        self.sockets_changed();
        Ok(())
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        _reason: String,
        _clean: bool,
    ) -> Result<()> {
        self.sockets_changed();
        self.gone(&ws).await;
        let _ = ws.close(Some(sockets::echo_close_code(code)), Some("bye"));
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        self.sockets_changed();
        self.gone(&ws).await;
        let _ = ws.close(Some(close::INTERNAL), Some("error"));
        Ok(())
    }

    /// One alarm serves every timed duty: presence leaves past their grace period, a
    /// coalesced dashboard push, and token expiry warnings and closes.
    async fn alarm(&self) -> Result<Response> {
        if let Err(e) = self.presence_alarm().await {
            worker::console_error!("hub: presence alarm failed: {e}");
        }
        self.token_alarm().await;
        self.sio_ping().await;
        if self.dashboard_dirty.get() {
            self.push_dashboard().await;
        }
        Response::ok("ok")
    }
}

impl TenantHub {
    /// Sets the alarm for `at_ms` unless one is due earlier.
    pub(super) async fn alarm_at(&self, at_ms: i64) {
        let storage = self.state.storage();
        let current = storage.get_alarm().await.ok().flatten();
        if current.is_none_or(|t| t > at_ms) {
            // An i64 is an offset from now for `set_alarm`.
            if let Err(e) = storage.set_alarm((at_ms - now_ms()).max(1)).await {
                worker::console_error!("hub: alarm not set: {e}");
            }
        }
    }
}
