//! Snapshot channels (`dashboard`, `analytics`, `notifications`): the first frame after
//! `subscribed`, and the dashboard's pushes after changes that move it (at most one per
//! `DASHBOARD_MIN_INTERVAL_MS`, the rest coalesced into one DO alarm). Every snapshot is
//! cut to what its reader may see: dashboard money per the read policy, analytics and
//! analytics from the events `protocol::view` lets through; notifications are the reader's
//! saved ones from D1 (unread count and the newest, each as the read policy lets them).

use super::tenant_hub_do::TenantHub;
use super::{now_ms, sockets, HubStore};

use crate::domain::policy;
use crate::realtime::protocol::{self, FrameError, Identity, ServerFrame, SnapshotKind, Sub};
use serde_json::{json, Value};
use std::borrow::Cow;
use worker::WebSocket;

fn only(channel: &str) -> [Sub; 1] {
    [Sub {
        channel: channel.into(),
        types: vec![],
        presence: false,
    }]
}

/// Event counts by type over the 24 h before `now_ms` that `who` may read on the tenant
/// channel (scanning at most `max_events`).
pub fn analytics<S: HubStore>(
    store: &S,
    who: &Identity,
    max_events: u64,
    now_ms: i64,
    connections: usize,
) -> Value {
    let subs = only("analytics");
    let day_ago = now_ms - 24 * 3600 * 1000;
    let mut by_type = serde_json::Map::new();
    let mut total = 0u64;
    for e in store.recent(max_events as u32, day_ago).unwrap_or_default() {
        if protocol::should_deliver(who, &subs, &e) {
            total += 1;
            let n = by_type.entry(e.kind).or_insert(json!(0));
            *n = json!(n.as_u64().unwrap_or(0) + 1);
        }
    }
    json!({"window_hours": 24, "events": total, "events_by_type": by_type,
           "connections": connections, "head": store.head().unwrap_or(0)})
}

/// The dashboard frame for one reader: admins share the frame rendered once (`full`),
/// everyone else gets the figures the read policy leaves them.
pub fn dashboard_for<'a>(who: &Identity, head: u64, data: &Value, full: &'a str) -> Cow<'a, str> {
    match policy::money_scope(&who.reader()) {
        policy::MoneyScope::All => Cow::Borrowed(full),
        _ => Cow::Owned(
            ServerFrame::Snapshot {
                channel: "dashboard",
                seq: head,
                data: &policy::redact_dashboard(&who.reader(), data),
            }
            .to_json(),
        ),
    }
}

impl TenantHub {
    fn has_snapshot_subscribers(&self, kind: SnapshotKind) -> bool {
        let on = |a: &super::sockets::Attachment| a.subs.iter().any(|s| s.channel == kind.name());
        self.live_sockets().iter().any(|(_, a)| on(a))
            || self.polls.borrow().iter().any(|p| on(&p.att))
    }

    /// A change that moves the dashboard: push a fresh snapshot now, or at the end of the
    /// current interval through the alarm (no timer keeps the hub awake).
    pub(super) async fn dashboard_changed(&self) {
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

    /// Reads the dashboard from D1 once and sends it to every `dashboard` subscriber.
    pub(super) async fn push_dashboard(&self) {
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
        let head = self.store.head().unwrap_or(0);
        let full = ServerFrame::Snapshot {
            channel: "dashboard",
            seq: head,
            data: &data,
        }
        .to_json();
        for (ws, att) in self.live_sockets().iter() {
            if att.subs.iter().any(|s| s.channel == "dashboard") {
                sockets::send_frame(
                    ws,
                    att.sio != 0,
                    &dashboard_for(&att.who, head, &data, &full),
                );
            }
        }
        // Socket.IO sessions on long-polling.
        for p in self.polls.borrow_mut().iter_mut() {
            if p.att.sio == 2 && p.att.subs.iter().any(|s| s.channel == "dashboard") {
                let frame = dashboard_for(&p.att.who, head, &data, &full);
                if let Some(packet) = crate::realtime::socketio::from_frame(&frame, false) {
                    p.push(packet);
                }
            }
        }
    }

    /// `GET /analytics` and the `analytics` snapshot.
    pub(super) fn analytics(&self, who: &Identity) -> Value {
        analytics(
            &self.store,
            who,
            self.limits.history_max_events,
            now_ms(),
            self.live_sockets().len(),
        )
    }

    /// The first frame of a snapshot channel after `subscribed`.
    pub(super) async fn send_snapshot(&self, ws: &WebSocket, who: &Identity, kind: SnapshotKind) {
        match self.snapshot_frame(who, kind).await {
            Ok(frame) => sockets::send(ws, &frame),
            Err(e) => sockets::send_error(ws, &e),
        }
    }

    /// A snapshot channel's state now, as the frame that carries it.
    pub(super) async fn snapshot_frame(
        &self,
        who: &Identity,
        kind: SnapshotKind,
    ) -> Result<String, FrameError> {
        let head = self.store.head().unwrap_or(0);
        let failed =
            |e: crate::domain::error::ApiError| FrameError::new("snapshot_failed", e.message);
        let tenant = self.tenant.borrow().clone().unwrap_or_default();
        let data = match kind {
            SnapshotKind::Dashboard => policy::redact_dashboard(
                &who.reader(),
                &crate::store::dashboard::snapshot(&self.env, &tenant)
                    .await
                    .map_err(failed)?,
            ),
            SnapshotKind::Notifications => crate::store::notifications::snapshot(
                &self.env,
                &tenant,
                &who.user_id,
                &who.reader(),
            )
            .await
            .map_err(failed)?,
            SnapshotKind::Analytics => self.analytics(who),
        };
        Ok(ServerFrame::Snapshot {
            channel: kind.name(),
            seq: head,
            data: &data,
        }
        .to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::super::storage::memory::MemStore;
    use super::*;
    use crate::domain::auth::Role;
    use crate::domain::event::Event;
    use crate::realtime::protocol::fixtures::who;

    fn ev(seq: u64, kind: &str, channels: &[&str]) -> Event {
        Event {
            seq,
            id: format!("e{seq}"),
            kind: kind.into(),
            channels: channels.iter().map(|s| s.to_string()).collect(),
            data: json!({"sales": {"total": 1}, "customers": 1}),
            ts: "t".into(),
        }
    }

    #[test]
    fn analytics_counts_what_the_reader_may_see_in_the_last_day() {
        let day = 24 * 3600 * 1000;
        let s = MemStore::with(vec![ev(1, "crm:customer:created", &["tenant"])], 1_000);
        for (seq, kind) in [
            (2, "crm:customer:created"),
            (3, "crm:customer:updated"),
            (4, "finance:sale:created"),
            (5, "job:started"),
        ] {
            s.insert(&ev(seq, kind, &["tenant"]), day + 5_000).unwrap();
        }
        let now = day + 10_000;
        let v = analytics(&s, &who("v", Role::Viewer), 100, now, 3);
        // Event 1 is older than 24 h; a viewer reads no sale and no one else's job.
        assert_eq!(v["events"], 2);
        assert_eq!(
            v["events_by_type"],
            json!({"crm:customer:created": 1, "crm:customer:updated": 1})
        );
        assert_eq!(
            (v["connections"].as_u64(), v["head"].as_u64()),
            (Some(3), Some(5))
        );
        let a = analytics(&s, &who("a", Role::Admin), 100, now, 0);
        assert_eq!(a["events"], 4);
    }

    #[test]
    fn dashboard_is_redacted_per_reader() {
        let data = json!({"customers": {"total": 4}, "sales": {"total": 9}, "commissions": {"total": 1}, "by_broker": [{"broker_id": "b2"}]});
        let full = ServerFrame::Snapshot {
            channel: "dashboard",
            seq: 3,
            data: &data,
        }
        .to_json();
        assert!(matches!(
            dashboard_for(&who("a", Role::Admin), 3, &data, &full),
            Cow::Borrowed(_)
        ));
        for role in [Role::Broker, Role::Viewer] {
            let f = dashboard_for(&who("b1", role), 3, &data, &full);
            let v: Value = serde_json::from_str(&f).unwrap();
            assert_eq!(
                (v["op"].as_str(), v["seq"].as_u64()),
                (Some("snapshot"), Some(3))
            );
            assert!(v["data"].get("by_broker").is_none(), "{role:?}");
            assert_eq!(v["data"]["customers"]["total"], 4);
        }
    }
}
