//! Socket.IO in the tenant hub: Engine.IO sessions over long-polling (held in memory while
//! they poll) and over hibernatable WebSockets (the attachment says `sio`), the CONNECT
//! with its token check and connection-state recovery (sessions kept in the hub's SQLite,
//! so a restart, hibernation or deploy does not lose them), and the client events. Packet
//! grammar and the event mapping are pure (`pulse_core::socketio`); subscriptions go
//! through the same channel rules and owner checks as the native protocol.

use super::frames::{new_subs, Subscribe};
use super::sockets::{self, Attachment};
use super::tenant_hub_do::TenantHub;
use super::{delivery, now_ms, HubStore};
use crate::domain::auth::Role;
use crate::domain::query;
use crate::realtime::protocol::{self, close, FrameError, Identity, Sub};
use crate::realtime::socketio::{self as sio, Action, Eio, Sio};
use futures_channel::oneshot;
use serde_json::{json, Value};
use std::cell::Cell;
use std::time::Duration;
use worker::{Headers, Request, Response, Result, WebSocket, WebSocketPair};

/// A long-polling Engine.IO session: the socket state a WebSocket would carry in its
/// attachment, the packets waiting for the next GET, and that GET's wake-up.
pub struct Poll {
    pub sid: String,
    pub att: Attachment,
    pub queue: Vec<String>,
    /// The bytes in `queue` (kept, so a push does not sum the queue again).
    queued_bytes: usize,
    waiter: Option<oneshot::Sender<()>>,
    seen_ms: i64,
    /// When the session was last sent a ping (or opened): the next is due an interval on.
    ping_ms: i64,
}

impl Poll {
    /// Queues a packet and wakes the waiting GET. A session whose client does not collect
    /// its packets (more queued than `MAX_QUEUED_BYTES`) is closed instead.
    pub fn push(&mut self, packet: String) {
        if self.queued_bytes + packet.len() > MAX_QUEUED_BYTES {
            self.queue.clear();
            self.att.sio = 0;
            self.queued_bytes = 1;
            self.queue.push("1".into());
        } else {
            self.queued_bytes += packet.len();
            self.queue.push(packet);
        }
        self.wake();
    }
    fn wake(&mut self) {
        if let Some(w) = self.waiter.take() {
            let _ = w.send(());
        }
    }
}

thread_local! {
    /// When this instance last pruned old recovery sessions.
    static PRUNED_MS: Cell<i64> = const { Cell::new(0) };
}

/// Packets a polling session may hold for its client before it is closed.
const MAX_QUEUED_BYTES: usize = 1 << 20;

/// Where a client's packets came from, and where answers go.
enum Conn<'a> {
    Ws(&'a WebSocket),
    Poll(&'a str),
}

fn placeholder() -> Identity {
    Identity {
        user_id: String::new(),
        role: Role::Viewer,
        exp: 0,
        anonymous: true,
    }
}

fn text(status: u16, body: &str) -> Result<Response> {
    let h = Headers::new();
    h.set("content-type", "text/plain; charset=UTF-8")?;
    Ok(Response::ok(body)?.with_status(status).with_headers(h))
}

/// Engine.IO's own error answer (`{"code":1,"message":"Session ID unknown"}`).
fn eio_error(code: u8, message: &str) -> Result<Response> {
    text(400, &format!(r#"{{"code":{code},"message":"{message}"}}"#))
}

impl TenantHub {
    /// `/sio` (the Worker forwards `/socket.io/` here with the tenant header): the
    /// handshake, a poll, a POST of packets, or a WebSocket (new, or upgrading a session).
    pub(super) async fn socketio(&self, mut req: Request) -> Result<Response> {
        let url = req.inner().url();
        let sid = query::get(&url, "sid");
        let ws = query::get(&url, "transport").as_deref() == Some("websocket");
        let token = query::get(&url, "token");
        if ws {
            return self.sio_accept(sid, token).await;
        }
        let Some(sid) = sid else {
            // Handshake over polling: a new session, which may upgrade.
            self.sweep_polls();
            if self.polls.borrow().len() >= sio::MAX_POLL_SESSIONS {
                // Engine.IO's "bad request"; the client retries with its backoff.
                return text(503, r#"{"code":3,"message":"too many polling sessions"}"#);
            }
            let sid = crate::platform::random_hex();
            let att = self.pre_identity(token.as_deref()).await;
            let open = sio::open_packet(&sid, true, self.limits.max_frame_bytes);
            self.polls.borrow_mut().push(Poll {
                sid,
                att,
                queue: Vec::new(),
                queued_bytes: 0,
                waiter: None,
                seen_ms: now_ms(),
                ping_ms: now_ms(),
            });
            return text(200, &open);
        };
        self.sweep_polls();
        if !self.polls.borrow().iter().any(|p| p.sid == sid) {
            return eio_error(1, "Session ID unknown");
        }
        if req.method() == worker::Method::Post {
            let body = req.text().await?;
            if body.len() > self.limits.max_frame_bytes {
                self.drop_poll(&sid);
                return eio_error(3, "payload too large");
            }
            for packet in body.split(sio::SEPARATOR) {
                // Each packet spends the frame budget first; a refusal ends the session.
                if !self.sio_admit_poll(&sid, packet.len()) {
                    break;
                }
                self.sio_packet(Conn::Poll(&sid), packet).await;
            }
            return text(200, "ok");
        }
        self.long_poll(&sid).await
    }

    /// A GET of a polling session: what is queued, else wait for a packet or, after the
    /// ping interval, a ping.
    async fn long_poll(&self, sid: &str) -> Result<Response> {
        let rx = {
            let mut polls = self.polls.borrow_mut();
            let Some(p) = polls.iter_mut().find(|p| p.sid == sid) else {
                return eio_error(1, "Session ID unknown");
            };
            p.seen_ms = now_ms();
            // engine.io-client expects a ping every interval, whatever else it receives.
            let due = (p.ping_ms + sio::PING_INTERVAL_MS as i64 - now_ms()).max(0);
            if p.queue.is_empty() && due > 0 {
                let (tx, rx) = oneshot::channel();
                p.wake();
                p.waiter = Some(tx);
                Some((rx, due))
            } else {
                None
            }
        };
        if let Some((rx, due)) = rx {
            let timer = worker::Delay::from(Duration::from_millis(due as u64));
            let _ = futures_util::future::select(rx, timer).await;
        }
        let mut polls = self.polls.borrow_mut();
        let Some(p) = polls.iter_mut().find(|p| p.sid == sid) else {
            return text(200, "6");
        };
        let now = now_ms();
        p.seen_ms = now;
        // This GET's wait is over: a sender nobody listens to is not a waiting GET.
        if p.waiter.as_ref().is_some_and(|w| w.is_canceled()) {
            p.waiter = None;
        }
        let mut packets = std::mem::take(&mut p.queue);
        p.queued_bytes = 0;
        if now >= p.ping_ms + sio::PING_INTERVAL_MS as i64 {
            p.ping_ms = now;
            packets.push("2".into());
        }
        let closing = packets.iter().any(|q| q == "1");
        let body = packets.join(&sio::SEPARATOR.to_string());
        if closing {
            polls.retain(|p| p.sid != sid);
        }
        text(200, &body)
    }

    /// Drops polling sessions that neither polled nor posted for a ping interval plus the
    /// ping timeout (the client has gone: Engine.IO's own rule).
    fn sweep_polls(&self) {
        let now = now_ms();
        let cutoff = now - (sio::PING_INTERVAL_MS + sio::PING_TIMEOUT_MS) as i64;
        self.polls.borrow_mut().retain(|p| {
            let waiting = p.waiter.as_ref().is_some_and(|w| !w.is_canceled());
            (waiting || p.seen_ms >= cutoff)
                && !sio::connect_overdue(p.att.sio, p.att.opened_ms, now)
        });
    }

    /// The frame budget of a polling session for one packet of `len` bytes; a refused
    /// session is told why and closed.
    fn sio_admit_poll(&self, sid: &str, len: usize) -> bool {
        let mut polls = self.polls.borrow_mut();
        let Some(p) = polls.iter_mut().find(|p| p.sid == sid) else {
            return false;
        };
        p.seen_ms = now_ms();
        match sockets::admit_frame(&mut p.att, len, false, &self.limits, now_ms()) {
            Ok(()) => true,
            Err(r) => {
                let e = protocol::error_frame(r.error.code, &r.error.message);
                if let Some(packet) = sio::from_frame(&e, false) {
                    p.push(packet);
                }
                if r.close.is_some() {
                    p.push(sio::DISCONNECT.into());
                    p.push("1".into());
                    p.att.sio = 0;
                }
                false
            }
        }
    }

    fn drop_poll(&self, sid: &str) {
        let mut polls = self.polls.borrow_mut();
        if let Some(p) = polls.iter_mut().find(|p| p.sid == sid) {
            p.push("1".into());
        }
        polls.retain(|p| p.sid != sid || p.waiter.is_some());
    }

    /// The state of a connection before its CONNECT: verified already when the handshake
    /// carried `?token=`.
    async fn pre_identity(&self, token: Option<&str>) -> Attachment {
        let mut att = Attachment::new(placeholder(), &self.limits, now_ms());
        att.sio = 1;
        att.opened_ms = now_ms();
        if let Some(who) = match token {
            Some(t) => self.verify(t).await.ok(),
            None => None,
        } {
            att.who = who;
        }
        att
    }

    /// A token for this hub's tenant, as the Worker verifies it everywhere else.
    async fn verify(&self, token: &str) -> std::result::Result<Identity, FrameError> {
        let p = crate::platform::verify_token(token, &self.env, now_ms())
            .await
            .map_err(|e| FrameError::new("unauthorized", e.message()))?;
        if self.tenant.borrow().as_deref() != Some(p.tenant_id.as_str()) {
            return Err(FrameError::new(
                "unauthorized",
                "the token belongs to another tenant",
            ));
        }
        Ok(Identity {
            user_id: p.user_id,
            role: p.role,
            exp: p.exp,
            anonymous: false,
        })
    }

    /// A Socket.IO WebSocket: new (sent the `open` packet) or upgrading polling session
    /// `sid` (taken over at the client's `5`). Hibernatable, pinged by the alarm.
    async fn sio_accept(&self, sid: Option<String>, token: Option<String>) -> Result<Response> {
        let pair = WebSocketPair::new()?;
        self.state
            .accept_websocket_with_tags(&pair.server, &[SIO_TAG]);
        let att = match sid {
            Some(sid) => {
                if !self.polls.borrow().iter().any(|p| p.sid == sid) {
                    let _ = pair
                        .server
                        .close(Some(close::POLICY), Some("Session ID unknown"));
                    return Response::from_websocket(pair.client);
                }
                let mut att = Attachment::new(placeholder(), &self.limits, now_ms());
                att.sio = 1;
                att.pid = sid;
                att.opened_ms = now_ms();
                att
            }
            None => {
                let att = self.pre_identity(token.as_deref()).await;
                let sid = crate::platform::random_hex();
                sockets::send(
                    &pair.server,
                    &sio::open_packet(&sid, false, self.limits.max_frame_bytes),
                );
                att
            }
        };
        pair.server.serialize_attachment(&att)?;
        self.sockets_changed();
        self.alarm_at(now_ms() + sio::PING_INTERVAL_MS as i64).await;
        Response::from_websocket(pair.client)
    }

    /// A message on a Socket.IO WebSocket (already admitted: size, rate, token expiry).
    pub(super) async fn sio_ws_message(&self, ws: &WebSocket, text: &str) {
        match sio::read_eio(text) {
            Eio::Ping("probe") => {
                sockets::send(ws, "3probe");
                // The polling side stops: its pending GET ends with a noop.
                if let Some(att) = sockets::attachment(ws) {
                    if let Some(p) = self
                        .polls
                        .borrow_mut()
                        .iter_mut()
                        .find(|p| p.sid == att.pid)
                    {
                        p.push("6".into());
                    }
                }
            }
            Eio::Upgrade => self.sio_upgrade(ws),
            Eio::Close => {
                let _ = ws.close(Some(1000), Some("bye"));
            }
            _ => self.sio_packet(Conn::Ws(ws), text).await,
        }
    }

    /// The client's `5`: the polling session moves onto this socket, with what it queued.
    fn sio_upgrade(&self, ws: &WebSocket) {
        let Some(mut att) = sockets::attachment(ws) else {
            return;
        };
        let mut polls = self.polls.borrow_mut();
        let Some(i) = polls.iter().position(|p| p.sid == att.pid) else {
            return;
        };
        let mut p = polls.remove(i);
        p.wake();
        let bucket = att.bucket;
        att = p.att;
        att.bucket = bucket;
        if ws.serialize_attachment(&att).is_ok() {
            for q in p.queue.iter().filter(|q| *q != "6") {
                sockets::send(ws, q);
            }
        }
        self.sockets_changed();
    }

    /// One Engine.IO packet from a client.
    async fn sio_packet(&self, conn: Conn<'_>, packet: &str) {
        let msg = match sio::read_eio(packet) {
            Eio::Message(m) => m,
            Eio::Close => {
                if let Conn::Poll(sid) = conn {
                    self.drop_poll(sid);
                }
                return;
            }
            Eio::Bad => {
                self.sio_send(
                    &conn,
                    sio::connect_error("bad_frame", "binary packets are not supported"),
                );
                return;
            }
            _ => return,
        };
        let Some(mut att) = self.sio_state(&conn) else {
            return;
        };
        match sio::read_sio(msg) {
            Sio::Connect(auth) => self.sio_connect(&conn, &mut att, &auth).await,
            Sio::OtherNamespace(nsp) => self.sio_send(&conn, sio::namespace_error(&nsp)),
            Sio::Binary => self.sio_send(
                &conn,
                sio::connect_error("bad_frame", "binary packets are not supported"),
            ),
            Sio::Disconnect => {
                att.subs.clear();
                att.sio = 1;
                att.opened_ms = now_ms();
            }
            Sio::Event { name, arg, ack } if att.sio == 2 => {
                let answer = match self.sio_event(&conn, &mut att, &name, &arg).await {
                    Ok(head) => sio::ack_ok(head, false),
                    Err(e) => sio::ack_error(&e),
                };
                if let Some(id) = ack {
                    self.sio_send(&conn, sio::ack(id, &answer));
                }
                // Saved by `sio_event` itself, after its last wait (another message may
                // have changed the state meanwhile).
                return;
            }
            _ => {}
        }
        self.sio_save(&conn, att);
    }

    /// The connection's current state (a poll's, or the socket's attachment).
    fn sio_state(&self, conn: &Conn) -> Option<Attachment> {
        match conn {
            Conn::Ws(ws) => sockets::attachment(ws),
            Conn::Poll(sid) => self
                .polls
                .borrow()
                .iter()
                .find(|p| p.sid == *sid)
                .map(|p| p.att.clone()),
        }
    }

    fn sio_save(&self, conn: &Conn, att: Attachment) {
        match conn {
            Conn::Ws(ws) => {
                let _ = sockets::save(ws, &att);
            }
            Conn::Poll(sid) => {
                if let Some(p) = self.polls.borrow_mut().iter_mut().find(|p| p.sid == *sid) {
                    p.att = att;
                }
            }
        }
        self.sockets_changed();
    }

    fn sio_send(&self, conn: &Conn, packet: String) {
        match conn {
            Conn::Ws(ws) => sockets::send(ws, &packet),
            Conn::Poll(sid) => {
                if let Some(p) = self.polls.borrow_mut().iter_mut().find(|p| p.sid == *sid) {
                    p.push(packet);
                }
            }
        }
    }

    /// CONNECT: the token (from `auth.token`, or the handshake's), the per-user connection
    /// limit, then recovery of session `auth.pid` from `auth.offset` when the history still
    /// holds it, else a new session on the default rooms; answered with the session, any
    /// missed events, then `connected`.
    async fn sio_connect(&self, conn: &Conn<'_>, att: &mut Attachment, auth: &Value) {
        let who = match sio::token(auth, None) {
            Some(t) => self.verify(t).await,
            None if !att.who.user_id.is_empty() => Ok(att.who.clone()),
            None => Err(FrameError::new(
                "unauthorized",
                "missing token: pass auth.token",
            )),
        };
        let who = match who {
            Ok(w) => w,
            Err(e) => return self.sio_send(conn, sio::connect_error(e.code, &e.message)),
        };
        let now = now_ms();
        // Old sessions go at most once a minute per instance (the delete scans them).
        if now - PRUNED_MS.with(Cell::get) > 60_000 {
            PRUNED_MS.with(|p| p.set(now));
            let _ = self
                .store
                .prune_sessions(now - self.limits.history_max_age_seconds as i64 * 1000);
        }
        let restored = self.restore(auth, &who).await;
        let (pid, subs, since) = match restored {
            Some((subs, since)) => (
                auth["pid"].as_str().unwrap_or_default().to_string(),
                subs,
                Some(since),
            ),
            None => {
                let req = Subscribe {
                    channels: sio::default_channels(&who),
                    since: None,
                    epoch: None,
                    types: Vec::new(),
                    presence: false,
                };
                let mut a = att.clone();
                a.who = who.clone();
                (
                    crate::platform::random_hex(),
                    new_subs(&a, &req).unwrap_or_default(),
                    None,
                )
            }
        };
        // Counted after the last wait and saved at once, so two CONNECTs of one user cannot
        // both pass the limit.
        let open = self
            .live_sockets()
            .iter()
            .filter(|(_, a)| a.sio == 2 && a.who.user_id == who.user_id)
            .count()
            + self
                .polls
                .borrow()
                .iter()
                .filter(|p| p.att.sio == 2 && p.att.who.user_id == who.user_id)
                .count();
        if let Err(e) = sockets::admit_connection(open, &self.limits) {
            return self.sio_send(conn, sio::connect_error(e.code, &e.message));
        }
        att.who = who;
        att.subs = subs;
        att.sio = 2;
        att.pid = pid.clone();
        att.opened_ms = 0;
        self.sio_save(conn, att.clone());
        self.save_session(att);
        self.sio_send(conn, sio::connect_ok(&crate::platform::random_hex(), &pid));
        let mut missed = Vec::new();
        if let Some(since) = since {
            let _ = delivery::replay_all(&self.store, &att.who, &att.subs, since, |e| {
                missed.push(sio::event_packet(e))
            });
        }
        for m in missed {
            self.sio_send(conn, m);
        }
        let head = self.store.head().unwrap_or(0);
        let tenant = self.tenant.borrow().clone().unwrap_or_default();
        self.sio_send(
            conn,
            sio::emit(
                "connected",
                &json!({"user": {"id": att.who.user_id, "role": att.who.role.as_str()},
                        "tenant": tenant, "head": head}),
                Some(head),
            ),
        );
        if att.who.exp > 0 {
            self.arm_token_alarm(att.who.exp).await;
        }
    }

    /// The subscriptions and offset of session `auth.pid`, when it is this user's and the
    /// history still holds everything after `auth.offset`; each channel is checked again
    /// for the caller's current role.
    async fn restore(&self, auth: &Value, who: &Identity) -> Option<(Vec<Sub>, u64)> {
        let pid = auth.get("pid")?.as_str()?;
        let since = sio::offset(auth)?;
        // Kept as the socket's attachment, read back with the attachment's own decoder.
        let text = self.store.text(&format!("sio:{pid}"))?;
        let kept = worker::js_sys::JSON::parse(&text).ok()?;
        let kept = worker::js_sys::Reflect::get(&kept, &"a".into()).ok()?;
        let kept: Attachment = serde_wasm_bindgen::from_value(kept).ok()?;
        if kept.who.user_id != who.user_id {
            return None;
        }
        let channels: Vec<String> = kept.subs.iter().map(|s| s.channel.clone()).collect();
        let checks = protocol::check_subscribe(who, &channels).ok()?;
        self.check_owners(who, &checks).await.ok()?;
        match self.recovery(Some(since), None) {
            Ok((_, true)) => Some((kept.subs, since)),
            _ => None,
        }
    }

    /// Keeps the session's subscriptions for recovery (`sio:<pid>` in the hub's store,
    /// with the time the pruning reads).
    fn save_session(&self, att: &Attachment) {
        if let Ok(a) = serde_json::to_string(att) {
            let kept = format!("{{\"t\":{},\"a\":{a}}}", now_ms());
            let _ = self.store.set_text(&format!("sio:{}", att.pid), &kept);
        }
    }

    /// A client event: its hub action, checked like the native protocol's frames, and its
    /// answer (the head for the ack). Snapshot channels answer with `<channel>:initial`.
    async fn sio_event(
        &self,
        conn: &Conn<'_>,
        att: &mut Attachment,
        name: &str,
        arg: &Value,
    ) -> std::result::Result<u64, FrameError> {
        match sio::action(name, arg, &att.who)? {
            Action::Subscribe { channels, types } => {
                let checks = protocol::check_subscribe(&att.who, &channels)?;
                self.check_owners(&att.who, &checks).await?;
                // The state as it is now: other messages may have changed it during the
                // lookups; the change below is applied and saved without waiting.
                *att = self.sio_state(conn).filter(|a| a.sio == 2).ok_or_else(|| {
                    FrameError::new("bad_frame", "the connection closed meanwhile")
                })?;
                let req = Subscribe {
                    channels: channels.clone(),
                    since: None,
                    epoch: None,
                    types,
                    presence: false,
                };
                let new = new_subs(att, &req)?;
                let mut subs = att.subs.clone();
                protocol::merge_subscriptions(&mut subs, &new, self.limits.max_subscriptions)?;
                let mut next = att.clone();
                next.subs = subs;
                sockets::fits(&next)?;
                *att = next;
                self.save_session(att);
                self.sio_save(conn, att.clone());
                for c in &channels {
                    if let Some(protocol::Channel::Snapshot(kind)) = protocol::parse_channel(c) {
                        let frame = self.snapshot_frame(&att.who, kind).await?;
                        if let Some(p) = sio::from_frame(&frame, true) {
                            self.sio_send(conn, p);
                        }
                    }
                }
            }
            Action::Unsubscribe(channels) => {
                att.subs.retain(|s| !channels.contains(&s.channel));
                self.save_session(att);
                self.sio_save(conn, att.clone());
            }
        }
        Ok(self.store.head().unwrap_or(0))
    }

    /// Pings every Socket.IO WebSocket (the alarm, each ping interval while any is open):
    /// Engine.IO's heartbeat is the server's, so the hub wakes for it and sleeps between.
    pub(super) async fn sio_ping(&self) {
        let sockets = self.state.get_websockets_with_tag(SIO_TAG);
        if sockets.is_empty() {
            return;
        }
        let now = now_ms();
        for ws in &sockets {
            // A transport still without its CONNECT after the timeout is closed.
            let idle = sockets::attachment(ws)
                .is_some_and(|a| sio::connect_overdue(a.sio, a.opened_ms, now));
            if idle {
                let _ = ws.close(Some(close::POLICY), Some("no CONNECT"));
            } else {
                sockets::send(ws, "2");
            }
        }
        self.alarm_at(now_ms() + sio::PING_INTERVAL_MS as i64).await;
    }

    /// New events for the polling sessions (the WebSockets get theirs in `fan_out`);
    /// `packets`: each event's shared Socket.IO packet.
    pub(super) fn sio_fan_out(&self, events: &[&crate::domain::event::Event], packets: &[String]) {
        for p in self.polls.borrow_mut().iter_mut() {
            if p.att.sio != 2 {
                continue;
            }
            if sockets::token_expired(&p.att.who, now_ms()) {
                p.push(sio::DISCONNECT.into());
                p.att.sio = 1;
                p.att.subs.clear();
                continue;
            }
            for f in delivery::frames_for(&p.att.who, &p.att.subs, events, packets) {
                let packet = match f {
                    std::borrow::Cow::Borrowed(packet) => Some(packet.to_string()),
                    std::borrow::Cow::Owned(frame) => sio::from_frame(&frame, false),
                };
                if let Some(packet) = packet {
                    p.push(packet);
                }
            }
        }
    }
}

/// The tag of Socket.IO WebSockets (pinged by the alarm).
pub const SIO_TAG: &str = "sio";
