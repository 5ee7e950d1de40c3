//! Presence: who is on a channel, counted from the live connections' subscriptions (only
//! subscriptions that opted in count), and when a join or a leave is announced. A user's
//! first connection is a join; their last one going is a leave after a grace period
//! (`PRESENCE_GRACE_MS`), kept in storage and announced by the DO alarm, so a page reload
//! is no leave/join storm and no timer keeps the hub awake. SSE streams take no part.

use super::tenant_hub_do::TenantHub;
use super::{now_ms, sockets, HubStore};
use crate::realtime::protocol::{PresenceAction, ServerFrame, Sub};
use worker::Result;

/// `(user_id, connections)` on `channel`, sorted by user id, from each live connection's
/// `(user_id, subscriptions)`.
pub fn list<'a>(
    conns: impl Iterator<Item = (&'a str, &'a [Sub])>,
    channel: &str,
) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for (user, subs) in conns {
        if subs.iter().any(|s| s.presence && s.channel == channel) {
            match out.iter_mut().find(|(u, _)| u == user) {
                Some((_, n)) => *n += 1,
                None => out.push((user.to_string(), 1)),
            }
        }
    }
    out.sort();
    out
}

/// `user`'s presence connections on `channel`.
pub fn count<'a>(
    conns: impl Iterator<Item = (&'a str, &'a [Sub])>,
    channel: &str,
    user: &str,
) -> usize {
    conns
        .filter(|(u, subs)| *u == user && subs.iter().any(|s| s.presence && s.channel == channel))
        .count()
}

/// After `user` joined `channel` and now has `connections` there: announce a join? Only
/// for the first connection, and not when it comes back within the grace period of a
/// leave (a reload): that pending leave is cancelled instead.
pub fn should_announce_join<S: HubStore>(
    store: &S,
    connections: usize,
    channel: &str,
    user: &str,
) -> std::result::Result<bool, S::Error> {
    if connections > 1 {
        return Ok(false);
    }
    if store.leave_pending(channel, user)? {
        store.cancel_leave(channel, user)?;
        return Ok(false);
    }
    Ok(true)
}

/// Takes the leaves due at `now_ms` out of storage.
pub fn take_due<S: HubStore>(
    store: &S,
    now_ms: i64,
) -> std::result::Result<Vec<(String, String)>, S::Error> {
    let due = store.due_leaves(now_ms)?;
    for (channel, user) in &due {
        store.cancel_leave(channel, user)?;
    }
    Ok(due)
}

impl TenantHub {
    fn presence_list(&self, channel: &str) -> Vec<(String, usize)> {
        let live = self.live();
        list(
            live.iter().map(|(w, s)| (w.user_id.as_str(), s.as_slice())),
            channel,
        )
    }

    fn presence_count(&self, channel: &str, user: &str) -> usize {
        let live = self.live();
        count(
            live.iter().map(|(w, s)| (w.user_id.as_str(), s.as_slice())),
            channel,
            user,
        )
    }

    /// The `presence` list frame of `channel`.
    pub(super) fn presence_frame(&self, channel: &str) -> String {
        let users = self.presence_list(channel);
        ServerFrame::presence_list(channel, &users).to_json()
    }

    /// Sends a presence change to every live connection subscribed to `channel` (with or
    /// without presence of its own).
    fn broadcast_presence(&self, channel: &str, action: PresenceAction, user: &str) {
        let frame = ServerFrame::PresenceChange {
            channel,
            action,
            user_id: user,
        }
        .to_json();
        for (ws, att) in self.live_sockets().iter() {
            if att.subs.iter().any(|s| s.channel == channel) {
                sockets::send(ws, &frame);
            }
        }
    }

    pub(super) fn announce_join(&self, channel: &str, user: &str) {
        let n = self.presence_count(channel, user);
        if should_announce_join(&self.store, n, channel, user).unwrap_or(true) {
            self.broadcast_presence(channel, PresenceAction::Join, user);
        }
    }

    /// A leave is announced only when `user` has no presence connection left on `channel`
    /// (an explicit unsubscribe calls this at once, with no grace).
    pub(super) fn announce_if_gone(&self, channel: &str, user: &str) {
        if self.presence_count(channel, user) == 0 {
            self.broadcast_presence(channel, PresenceAction::Leave, user);
        }
    }

    /// The alarm's presence part: announce the leaves that are due, then re-arm for the
    /// ones scheduled while this alarm was pending.
    pub(super) async fn presence_alarm(&self) -> Result<()> {
        let now = now_ms();
        for (channel, user) in take_due(&self.store, now)? {
            self.announce_if_gone(&channel, &user);
        }
        if let Some(next) = self.store.next_leave_due()? {
            self.alarm_at(next.max(now + 10)).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::storage::memory::MemStore;
    use super::*;

    fn s(c: &str, p: bool) -> Sub {
        Sub {
            channel: c.into(),
            types: vec![],
            presence: p,
        }
    }

    #[test]
    fn counts_connections_per_user_with_presence_only() {
        let a = vec![s("entity:property:p1", true)];
        let b = vec![s("entity:property:p1", true), s("tenant", false)];
        let c = vec![s("entity:property:p1", false)];
        let conns = vec![
            ("u2", a.as_slice()),
            ("u1", b.as_slice()),
            ("u2", b.as_slice()),
            ("u3", c.as_slice()),
        ];
        let l = list(conns.clone().into_iter(), "entity:property:p1");
        assert_eq!(l, vec![("u1".to_string(), 1), ("u2".to_string(), 2)]);
        assert_eq!(
            count(conns.clone().into_iter(), "entity:property:p1", "u2"),
            2
        );
        assert_eq!(
            count(conns.clone().into_iter(), "entity:property:p1", "u3"),
            0
        );
        assert_eq!(count(conns.into_iter(), "tenant", "u1"), 0);
    }

    #[test]
    fn reload_within_grace_is_no_join_and_no_leave() {
        let store = MemStore::default();
        // First connection: a join.
        assert!(should_announce_join(&store, 1, "c", "u1").unwrap());
        // Second tab: no join.
        assert!(!should_announce_join(&store, 2, "c", "u1").unwrap());
        // The last tab closed: a leave is pending; the user is back before it is due.
        store.schedule_leave("c", "u1", 5_000).unwrap();
        assert!(!should_announce_join(&store, 1, "c", "u1").unwrap());
        assert!(
            take_due(&store, 10_000).unwrap().is_empty(),
            "leave cancelled"
        );
        // Another close, not back in time: the leave comes out once, when due.
        store.schedule_leave("c", "u1", 20_000).unwrap();
        store.schedule_leave("d", "u2", 30_000).unwrap();
        assert!(take_due(&store, 19_999).unwrap().is_empty());
        assert_eq!(
            take_due(&store, 20_000).unwrap(),
            vec![("c".to_string(), "u1".to_string())]
        );
        assert!(take_due(&store, 20_000).unwrap().is_empty());
        assert_eq!(store.next_leave_due().unwrap(), Some(30_000));
    }
}
