//! Getting events to readers: live fan-out of new events to WebSockets and SSE streams,
//! and replay of the kept history. Replay is one scan (`replay`) shared by WebSocket
//! resume, SSE resume and the REST history, so all three show exactly the same events,
//! with the same read policy (`protocol::view`, which ends in `policy::event_view`).

use super::tenant_hub_do::TenantHub;
use super::{now_ms, sockets, HubStore};
use crate::domain::event::Event;
use crate::domain::policy::View;
use crate::realtime::protocol::{self, Identity, Sub};
use std::borrow::Cow;

/// History is read in pages of this many events.
pub const REPLAY_PAGE: u32 = 500;

/// Events after `since` that `who` with `subs` may see (redacted where the read policy
/// says so), in seq order, at most `limit` of them, and the cursor to continue from: the
/// seq of the last event scanned (hidden ones included, so a page of hidden events still
/// moves the cursor), or `since` when nothing was scanned. Stops at the head.
pub fn replay<S: HubStore>(
    store: &S,
    who: &Identity,
    subs: &[Sub],
    since: u64,
    limit: usize,
) -> Result<(Vec<Event>, u64), S::Error> {
    let head = store.head()?;
    let mut out = Vec::new();
    let mut cursor = since;
    while cursor < head && out.len() < limit {
        let page = store.after(cursor, REPLAY_PAGE)?;
        if page.is_empty() {
            break;
        }
        for e in page {
            if out.len() == limit {
                break;
            }
            cursor = e.seq;
            match protocol::view(who, subs, &e) {
                View::Hidden => {}
                View::Full => out.push(e),
                View::Redacted(data) => out.push(Event { data, ..e }),
            }
        }
    }
    Ok((out, cursor))
}

/// Every visible event after `since`, page by page into `sink` (a resume replays the
/// whole kept window, with no cap below retention). Storage reads and sends are
/// synchronous, so no live event can slip in between.
pub fn replay_all<S: HubStore>(
    store: &S,
    who: &Identity,
    subs: &[Sub],
    since: u64,
    mut sink: impl FnMut(&Event),
) -> Result<(), S::Error> {
    let mut cursor = since;
    loop {
        let (events, next) = replay(store, who, subs, cursor, REPLAY_PAGE as usize)?;
        events.iter().for_each(&mut sink);
        if next == cursor || events.len() < REPLAY_PAGE as usize {
            return Ok(());
        }
        cursor = next;
    }
}

/// Can a client at `since` (of history `epoch`) be resumed? Returns the head too.
/// A cursor of another epoch, ahead of the head, or older than the kept history is not.
pub fn recovery<S: HubStore>(
    store: &S,
    since: Option<u64>,
    epoch: Option<&str>,
) -> Result<(u64, bool), S::Error> {
    let head = store.head()?;
    let oldest = store.oldest()?;
    let same_epoch = epoch.is_none_or(|e| e == store.epoch());
    Ok((
        head,
        same_epoch && protocol::recoverable(since, oldest, head),
    ))
}

/// What one WebSocket reader gets of a fan-out: for each event it may see, the shared
/// frame (`full`, rendered once per event) or, when the read policy removes fields for
/// this reader, a frame of its own.
pub fn frames_for<'a>(
    who: &Identity,
    subs: &[Sub],
    events: &[&Event],
    full: &'a [String],
) -> Vec<Cow<'a, str>> {
    let mut out = Vec::new();
    for (e, frame) in events.iter().zip(full) {
        match protocol::view(who, subs, e) {
            View::Hidden => {}
            View::Full => out.push(Cow::Borrowed(frame.as_str())),
            v @ View::Redacted(_) => out.push(Cow::Owned(protocol::event_frame(
                &protocol::visible_event(e, &v),
            ))),
        }
    }
    out
}

impl TenantHub {
    /// `recovery` on the hub's store, counting failed recoveries for `/stats`.
    pub(super) fn recovery(
        &self,
        since: Option<u64>,
        epoch: Option<&str>,
    ) -> worker::Result<(u64, bool)> {
        let (head, recovered) = recovery(&self.store, since, epoch)?;
        if !recovered {
            self.count(|c| c.failed_recoveries += 1);
        }
        Ok((head, recovered))
    }

    /// Sends new events to every live reader allowed to see them. A socket or stream whose
    /// token expired is told so and closed instead.
    pub(super) fn fan_out(&self, events: &[&Event]) {
        let now = now_ms();
        let mut out = 0u64;
        let frames: Vec<String> = events.iter().map(|e| protocol::event_frame(e)).collect();
        // Socket.IO sockets share one packet per event too (rendered on first need).
        let sio = std::cell::OnceCell::new();
        let sio_packets = || -> &[String] {
            sio.get_or_init(|| {
                frames
                    .iter()
                    .map(|f| crate::realtime::socketio::from_frame(f, false).unwrap_or_default())
                    .collect::<Vec<_>>()
            })
        };
        let mut expired = false;
        for (ws, att) in self.live_sockets().iter() {
            if att.subs.is_empty() {
                continue;
            }
            if sockets::token_expired(&att.who, now) {
                sockets::refuse_as(
                    ws,
                    att.sio != 0,
                    &sockets::Refusal {
                        error: sockets::token_expired_error(),
                        close: Some((protocol::close::TOKEN_EXPIRED, "token expired")),
                    },
                );
                expired = true;
                continue;
            }
            if att.sio != 0 {
                out += sio_send(ws, frames_for(&att.who, &att.subs, events, sio_packets()));
                continue;
            }
            for frame in frames_for(&att.who, &att.subs, events, &frames) {
                sockets::send(ws, &frame);
                out += 1;
            }
        }
        if !self.polls.borrow().is_empty() {
            self.sio_fan_out(events, sio_packets());
        }
        if expired {
            self.sockets_changed();
        }
        out += super::sse::fan_out(
            &mut self.sse.borrow_mut(),
            events,
            self.limits.sse_max_buffered_bytes,
            now,
        );
        self.count(|c| c.messages_out += out);
    }
}

/// Sends a Socket.IO reader's share of a fan-out: the shared packets as they are, a
/// redacted event (rendered as a hub frame by `frames_for`) translated first.
pub fn sio_send(ws: &worker::WebSocket, frames: Vec<Cow<'_, str>>) -> u64 {
    let n = frames.len() as u64;
    for f in frames {
        match f {
            Cow::Borrowed(packet) => sockets::send(ws, packet),
            Cow::Owned(frame) => sockets::send_frame(ws, true, &frame),
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::super::storage::memory::MemStore;
    use super::*;
    use crate::domain::auth::Role;
    use crate::realtime::protocol::fixtures::{sub, who};
    use serde_json::json;

    fn ev(seq: u64, kind: &str, channels: &[&str], data: serde_json::Value) -> Event {
        Event {
            seq,
            id: format!("e{seq}"),
            kind: kind.into(),
            channels: channels.iter().map(|s| s.to_string()).collect(),
            data,
            ts: "t".into(),
        }
    }
    fn seqs(v: &[Event]) -> Vec<u64> {
        v.iter().map(|e| e.seq).collect()
    }

    /// 1..=6: a customer, a sale of broker b1, a sale of b2, a dashboard update with money,
    /// an admin-only rate change, another customer.
    fn store() -> MemStore {
        MemStore::with(
            vec![
                ev(
                    1,
                    "crm:customer:created",
                    &["tenant", "entity:customer:c1"],
                    json!({}),
                ),
                ev(
                    2,
                    "finance:sale:created",
                    &["user:b1", "role:admin", "entity:sale:s1"],
                    json!({"amount": 10}),
                ),
                ev(
                    3,
                    "finance:sale:created",
                    &["user:b2", "role:admin", "entity:sale:s2"],
                    json!({"amount": 20}),
                ),
                ev(
                    4,
                    "reports:dashboard:updated",
                    &["tenant"],
                    json!({"customers": 2, "sales": {"total": 30}, "commissions": {"total": 3}, "by_broker": []}),
                ),
                ev(
                    5,
                    "finance:commission_rate:updated",
                    &["role:admin"],
                    json!({}),
                ),
                ev(
                    6,
                    "crm:customer:updated",
                    &["tenant", "entity:customer:c1"],
                    json!({}),
                ),
            ],
            1,
        )
    }

    #[test]
    fn replay_applies_channels_types_and_the_read_policy() {
        let s = store();
        let all = [
            sub("tenant", &[]),
            sub("user:b1", &[]),
            sub("role:admin", &[]),
        ];
        let (admin, cur) = replay(&s, &who("a", Role::Admin), &all, 0, 100).unwrap();
        assert_eq!((seqs(&admin), cur), (vec![1, 2, 3, 4, 5, 6], 6));
        assert_eq!(admin[3].data["sales"]["total"], 30);

        // A broker on every channel it may hold: its own sale only, no admin rate, the
        // dashboard without the others' money.
        let b1 = [
            sub("tenant", &[]),
            sub("user:b1", &[]),
            sub("role:broker", &[]),
        ];
        let (got, cur) = replay(&s, &who("b1", Role::Broker), &b1, 0, 100).unwrap();
        assert_eq!((seqs(&got), cur), (vec![1, 2, 4, 6], 6));
        assert!(got[2].data.get("by_broker").is_none());

        // A viewer: records yes, money no.
        let v = [sub("tenant", &[])];
        let (got, _) = replay(&s, &who("v", Role::Viewer), &v, 0, 100).unwrap();
        assert_eq!(seqs(&got), vec![1, 4, 6]);
        assert!(got[1].data.get("sales").is_none() && got[1].data.get("commissions").is_none());
        assert_eq!(got[1].data["customers"], 2);

        // A subscription kept from an old role: the role channel is re-checked.
        let stale = [sub("role:admin", &[])];
        let (got, _) = replay(&s, &who("b1", Role::Broker), &stale, 0, 100).unwrap();
        assert!(got.is_empty());

        // Type filters and `since`.
        let crm = [sub("tenant", &["crm:*"])];
        let (got, _) = replay(&s, &who("v", Role::Viewer), &crm, 1, 100).unwrap();
        assert_eq!(seqs(&got), vec![6]);

        // An anonymous visitor sees no tenant record.
        let anon = Identity {
            anonymous: true,
            ..who("anon-1", Role::Viewer)
        };
        let (got, _) = replay(&s, &anon, &[sub("public", &[])], 0, 100).unwrap();
        assert!(got.is_empty());
    }

    #[test]
    fn replay_limit_and_cursor() {
        let s = store();
        let v = who("v", Role::Viewer);
        let t = [sub("tenant", &[])];
        // Limit reached: the cursor is the last event returned, so the next page starts after it.
        let (got, cur) = replay(&s, &v, &t, 0, 2).unwrap();
        assert_eq!((seqs(&got), cur), (vec![1, 4], 4));
        let (got, cur) = replay(&s, &v, &t, cur, 2).unwrap();
        assert_eq!((seqs(&got), cur), (vec![6], 6));
        // At the head (or past it): nothing, cursor unchanged.
        assert_eq!(replay(&s, &v, &t, 6, 2).unwrap(), (vec![], 6));
        assert_eq!(replay(&s, &v, &t, 9, 2).unwrap(), (vec![], 9));
        // Only hidden events left: none returned, but the cursor reaches the head.
        let (got, cur) = replay(&s, &v, &[sub("user:v", &[])], 0, 2).unwrap();
        assert_eq!((got.len(), cur), (0, 6));
    }

    #[test]
    fn replay_all_pages_through_more_than_a_page() {
        let n = REPLAY_PAGE as u64 * 2 + 7;
        let s = MemStore::with(
            (1..=n)
                .map(|i| {
                    let ch = if i % 3 == 0 { "user:x" } else { "tenant" };
                    ev(i, "crm:customer:created", &[ch], json!({}))
                })
                .collect(),
            1,
        );
        let mut got = Vec::new();
        replay_all(&s, &who("v", Role::Viewer), &[sub("tenant", &[])], 0, |e| {
            got.push(e.seq)
        })
        .unwrap();
        let want: Vec<u64> = (1..=n).filter(|i| i % 3 != 0).collect();
        assert_eq!(got, want, "in order, every visible one, nothing twice");
        let mut none = 0;
        replay_all(
            &s,
            &who("v", Role::Viewer),
            &[sub("tenant", &[])],
            n,
            |_| none += 1,
        )
        .unwrap();
        assert_eq!(none, 0);
    }

    #[test]
    fn recovery_window_and_epoch() {
        let s = store();
        s.set_meta("epoch", 77).unwrap();
        assert_eq!(recovery(&s, None, None).unwrap(), (6, true));
        assert_eq!(recovery(&s, Some(3), Some("77")).unwrap(), (6, true));
        assert_eq!(recovery(&s, Some(3), Some("78")).unwrap(), (6, false));
        assert_eq!(recovery(&s, Some(7), None).unwrap(), (6, false));
        // Pruned below 4: a client at 2 missed event 3 for good; one at 3 did not.
        s.prune(3, 0).unwrap();
        assert_eq!(recovery(&s, Some(2), None).unwrap(), (6, false));
        assert_eq!(recovery(&s, Some(3), None).unwrap(), (6, true));
    }

    #[test]
    fn fan_out_frames_are_shared_unless_redacted() {
        let s = store();
        let events = s.after(0, 10).unwrap();
        let refs: Vec<&Event> = events.iter().collect();
        let full: Vec<String> = refs.iter().map(|e| protocol::event_frame(e)).collect();
        let admin = frames_for(&who("a", Role::Admin), &[sub("tenant", &[])], &refs, &full);
        assert_eq!(admin.len(), 3);
        assert!(admin.iter().all(|f| matches!(f, Cow::Borrowed(_))));
        let viewer = frames_for(&who("v", Role::Viewer), &[sub("tenant", &[])], &refs, &full);
        assert!(matches!(viewer[0], Cow::Borrowed(_)));
        assert!(
            matches!(viewer[1], Cow::Owned(_)),
            "dashboard redacted for viewers"
        );
        let f: serde_json::Value = serde_json::from_str(&viewer[1]).unwrap();
        assert_eq!(
            (f["op"].as_str(), f["seq"].as_u64()),
            (Some("event"), Some(4))
        );
        assert!(f["data"].get("sales").is_none());
    }
}
