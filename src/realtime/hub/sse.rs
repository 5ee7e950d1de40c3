//! Server-Sent Events: the framing (each event's `id:` is its `seq`, so `EventSource`
//! resumes with `Last-Event-ID` on the same cursor as WebSocket `since`), the open
//! streams, and their live delivery. SSE cannot hibernate: a stream lives in memory while
//! open, with a heartbeat task that ends with the last stream; a reader that stops reading
//! is dropped once its unread bytes pass `SSE_MAX_BUFFERED_BYTES`.

use super::tenant_hub_do::TenantHub;
use super::{delivery, requests, sockets, HubStore};
use crate::domain::event::Event;
use crate::domain::policy::View;
use crate::domain::query;
use crate::realtime::protocol::{self, Identity, Sub};
use futures_channel::mpsc::{unbounded, UnboundedSender};
use serde_json::json;
use std::cell::Cell;
use std::rc::Rc;
use worker::{Headers, Request, Response, Result};

/// Heartbeat comment, sent every `SSE_HEARTBEAT_SECONDS` (15 s).
pub const HEARTBEAT: &str = ": heartbeat\n\n";

/// The opening of a stream: reconnect delay and the subscription summary.
pub fn preamble(channels: &[String], head: u64, recovered: bool, epoch: &str) -> String {
    let data = json!({"channels": channels, "head": head, "recovered": recovered, "epoch": epoch});
    format!("retry: 3000\n\nevent: subscribed\ndata: {data}\n\n")
}

/// An event as an SSE message (default `message` type, so `onmessage` gets every event).
pub fn event(e: &Event) -> String {
    let data = serde_json::to_string(e).unwrap_or_default();
    format!("id: {}\ndata: {}\n\n", e.seq, data)
}

/// An error before closing (e.g. the token expired).
pub fn error(code: &str, message: &str) -> String {
    format!(
        "event: error\ndata: {}\n\n",
        json!({"code": code, "message": message})
    )
}

/// `Last-Event-ID` (or `?since=`) as a seq; anything else is no cursor.
pub fn parse_cursor(v: Option<&str>) -> Option<u64> {
    v.and_then(|s| s.trim().parse().ok())
}

type Chunk = std::result::Result<Vec<u8>, worker::Error>;

/// An open SSE stream.
pub struct SseConn {
    pub who: Identity,
    pub subs: Vec<Sub>,
    tx: UnboundedSender<Chunk>,
    /// Bytes pushed that the runtime has not pulled yet: a reader that stops reading
    /// makes this grow.
    buffered: Rc<Cell<usize>>,
}

impl SseConn {
    /// A stream and the body that feeds the response; the body lowers `buffered` as the
    /// runtime pulls from it.
    pub fn open(
        who: Identity,
        subs: Vec<Sub>,
    ) -> (
        SseConn,
        impl futures_util::Stream<Item = Chunk> + Unpin + 'static,
    ) {
        let (tx, rx) = unbounded();
        let buffered = Rc::new(Cell::new(0usize));
        let pulled = buffered.clone();
        let body = futures_util::StreamExt::map(rx, move |chunk: Chunk| {
            if let Ok(bytes) = &chunk {
                pulled.set(pulled.get().saturating_sub(bytes.len()));
            }
            chunk
        });
        let conn = SseConn {
            who,
            subs,
            tx,
            buffered,
        };
        (conn, body)
    }

    /// Queues `text`; false when the reader is gone.
    pub fn push(&self, text: &str) -> bool {
        self.buffered.set(self.buffered.get() + text.len());
        self.tx.unbounded_send(Ok(text.as_bytes().to_vec())).is_ok()
    }

    pub fn buffered(&self) -> usize {
        self.buffered.get()
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Open streams of `user` (closed ones are forgotten first).
pub fn open_for(conns: &mut Vec<SseConn>, user: &str) -> usize {
    conns.retain(|c| !c.is_closed());
    conns.iter().filter(|c| c.who.user_id == user).count()
}

/// Live delivery to the open streams: each gets the events its reader may see (redacted
/// as the read policy says). A stream whose token expired gets an error and is closed; a
/// stream over `max_buffered` unread bytes, or whose reader is gone, is dropped. Returns
/// the number of events sent.
pub fn fan_out(
    conns: &mut Vec<SseConn>,
    events: &[&Event],
    max_buffered: usize,
    now_ms: i64,
) -> u64 {
    let mut out = 0u64;
    conns.retain(|c| {
        if sockets::token_expired(&c.who, now_ms) {
            c.push(&error(
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
            if !c.push(&event(&protocol::visible_event(e, &v))) {
                return false;
            }
            out += 1;
        }
        true
    });
    out
}

/// One heartbeat round: keeps streams that are read and still open.
pub fn heartbeat(conns: &mut Vec<SseConn>, max_buffered: usize) {
    conns.retain(|c| c.buffered() <= max_buffered && c.push(HEARTBEAT));
}

impl TenantHub {
    /// `GET /sse?channels=&types=&since=` (or `Last-Event-ID`): the preamble, the replay
    /// after the cursor when it can be recovered, then live events.
    pub(super) async fn open_sse(&self, req: &Request) -> Result<Response> {
        let url = req.inner().url();
        let (who, subs) = match self.reader(req, &url).await {
            Ok(r) => r,
            Err(resp) => return resp,
        };
        let limit = self.limits.sse_per_user;
        if open_for(&mut self.sse.borrow_mut(), &who.user_id) >= limit {
            let mut r = requests::json_error(
                429,
                "too_many_streams",
                &format!("at most {limit} SSE streams per user"),
            )?;
            r.headers_mut().set("retry-after", "15")?;
            return Ok(r);
        }
        let since = parse_cursor(req.headers().get("last-event-id")?.as_deref())
            .or_else(|| parse_cursor(query::get(&url, "since").as_deref()));
        let (conn, body) = SseConn::open(who, subs);
        let (head, recovered) = self.recovery(since, None)?;
        let channels: Vec<String> = conn.subs.iter().map(|s| s.channel.clone()).collect();
        conn.push(&preamble(&channels, head, recovered, &self.store.epoch()));
        if let Some(since) = since.filter(|_| recovered) {
            delivery::replay_all(&self.store, &conn.who, &conn.subs, since, |e| {
                conn.push(&event(e));
            })?;
        }
        self.sse.borrow_mut().push(conn);
        self.ensure_heartbeat();
        let headers = Headers::new();
        headers.set("content-type", "text/event-stream; charset=utf-8")?;
        headers.set("cache-control", "no-cache, no-transform")?;
        headers.set("x-accel-buffering", "no")?;
        Ok(Response::from_stream(body)?.with_headers(headers))
    }

    /// Open streams, after forgetting closed ones.
    pub(super) fn sse_open(&self) -> usize {
        let mut conns = self.sse.borrow_mut();
        conns.retain(|c| !c.is_closed());
        conns.len()
    }

    /// One task per hub while SSE streams are open: a comment every 15 s keeps proxies
    /// from timing out and finds closed or stalled streams. It ends with the last stream,
    /// so a hub with only WebSockets still hibernates.
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
                heartbeat(&mut c, max_buffered);
                if c.is_empty() {
                    running.set(false);
                    break;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::auth::Role;
    use futures_util::StreamExt;

    fn ev(seq: u64, kind: &str, channels: &[&str]) -> Event {
        Event {
            seq,
            id: format!("e{seq}"),
            kind: kind.into(),
            channels: channels.iter().map(|s| s.to_string()).collect(),
            data: json!({"name": "multi\nline"}),
            ts: "t".into(),
        }
    }
    fn conn(
        user: &str,
        role: Role,
        exp: i64,
    ) -> (SseConn, impl futures_util::Stream<Item = Chunk> + Unpin) {
        SseConn::open(
            Identity {
                user_id: user.into(),
                role,
                exp,
                anonymous: false,
            },
            vec![Sub {
                channel: "tenant".into(),
                types: vec![],
                presence: false,
            }],
        )
    }

    #[test]
    fn event_framing() {
        let f = event(&ev(7, "crm:customer:created", &["tenant"]));
        assert!(f.starts_with("id: 7\ndata: {"));
        assert!(f.ends_with("}\n\n"));
        assert_eq!(
            f.matches('\n').count(),
            3,
            "JSON escapes newlines, so data is one line"
        );
        assert_eq!(parse_cursor(Some(" 41 ")), Some(41));
        assert_eq!(parse_cursor(Some("x")), None);
    }

    #[test]
    fn a_reader_that_stops_reading_is_dropped() {
        let e = ev(1, "crm:customer:created", &["tenant"]);
        let size = event(&e).len();
        let (reading, mut body) = conn("u1", Role::Viewer, 0);
        let (stalled, _stalled_body) = conn("u2", Role::Viewer, 0);
        let mut conns = vec![reading, stalled];
        let max = size * 3;
        for i in 0..5 {
            let sent = fan_out(&mut conns, &[&e], max, 0);
            // The reading client drains what it got.
            futures_executor_drain(&mut body);
            if i <= 3 {
                assert_eq!(sent, 2, "round {i}: both still under the limit");
            }
        }
        // The stalled one passed 3 events unread and went; the reading one stays.
        assert_eq!(conns.len(), 1);
        assert_eq!(conns[0].who.user_id, "u1");
        assert_eq!(conns[0].buffered(), 0);
        heartbeat(&mut conns, max);
        assert_eq!(conns[0].buffered(), HEARTBEAT.len());
    }

    #[test]
    fn expired_tokens_and_hidden_events() {
        let (expired, _b1) = conn("u1", Role::Viewer, 10);
        let (fine, _b2) = conn("u2", Role::Viewer, 0);
        let mut conns = vec![expired, fine];
        let finance = ev(2, "finance:sale:created", &["tenant"]);
        // At t=20 s the first token is expired: closed with an error, nothing delivered.
        assert_eq!(fan_out(&mut conns, &[&finance], 1 << 20, 20_000), 0);
        assert_eq!(conns.len(), 1);
        assert_eq!(conns[0].buffered(), 0, "a viewer never gets a sale");
        let mut gone = vec![conn("u3", Role::Viewer, 0).0];
        assert_eq!(open_for(&mut gone, "u3"), 0, "its body was dropped: closed");
    }

    /// Pulls everything queued from a body without an executor (unbounded channels are
    /// ready or pending, never waiting on I/O).
    fn futures_executor_drain(body: &mut (impl futures_util::Stream<Item = Chunk> + Unpin)) {
        let waker = futures_util::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        while let std::task::Poll::Ready(Some(_)) = body.poll_next_unpin(&mut cx) {}
    }
}
