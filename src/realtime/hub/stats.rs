//! The hub's counters (frames in, events out, failed recoveries) and the `/stats` report:
//! connections by role and channel, open SSE streams, history size and window, and under
//! `wrangler dev` the isolate's Wasm memory and this instance's age. Counters
//! live in memory and are flushed to storage with each append, so they survive eviction
//! without a write per frame.

use super::tenant_hub_do::TenantHub;
use super::HubStore;
use crate::realtime::protocol::{Identity, Limits, Sub};
use serde_json::{json, Value};
use worker::{Response, Result};

#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Counters {
    pub messages_in: u64,
    pub messages_out: u64,
    pub failed_recoveries: u64,
}

const KEYS: [&str; 3] = ["messages_in", "messages_out", "failed_recoveries"];

impl Counters {
    /// The counters last flushed (zero when none).
    pub fn load<S: HubStore>(store: &S) -> Counters {
        let get = |k| store.meta(k).ok().flatten().unwrap_or(0) as u64;
        Counters {
            messages_in: get(KEYS[0]),
            messages_out: get(KEYS[1]),
            failed_recoveries: get(KEYS[2]),
        }
    }

    pub fn flush<S: HubStore>(&self, store: &S) -> std::result::Result<(), S::Error> {
        store.set_metas(&[
            (KEYS[0], self.messages_in as i64),
            (KEYS[1], self.messages_out as i64),
            (KEYS[2], self.failed_recoveries as i64),
        ])
    }
}

/// The `/stats` body.
pub fn report<S: HubStore>(
    store: &S,
    live: &[(Identity, Vec<Sub>)],
    sse_open: usize,
    c: Counters,
    limits: &Limits,
) -> std::result::Result<Value, S::Error> {
    let mut by_role = serde_json::Map::new();
    let mut by_channel = serde_json::Map::new();
    for (who, subs) in live {
        let n = by_role.entry(who.role.as_str()).or_insert(json!(0));
        *n = json!(n.as_u64().unwrap_or(0) + 1);
        for s in subs {
            let n = by_channel.entry(s.channel.clone()).or_insert(json!(0));
            *n = json!(n.as_u64().unwrap_or(0) + 1);
        }
    }
    Ok(json!({
        "connections": {"websocket": live.len(), "sse": sse_open, "by_role": by_role, "by_channel": by_channel},
        "messages": {"in": c.messages_in, "out": c.messages_out},
        "history": {"events": store.count()?, "head": store.head()?,
                    "oldest_seq": store.oldest()?, "epoch": store.epoch(),
                    "max_events": limits.history_max_events,
                    "max_age_seconds": limits.history_max_age_seconds},
        "failed_recoveries": c.failed_recoveries,
    }))
}

/// Bytes of Wasm linear memory of this isolate (it grows to the high-water mark of the
/// Rust heap and never shrinks).
pub fn wasm_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0) as u64 * 65_536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

impl TenantHub {
    pub(super) fn count(&self, f: impl FnOnce(&mut Counters)) {
        let mut c = self.counters.get();
        f(&mut c);
        self.counters.set(c);
    }

    pub(super) fn flush_counters(&self) -> Result<()> {
        self.counters.get().flush(&self.store)
    }

    /// `GET /stats`.
    pub(super) fn stats(&self) -> Result<Response> {
        let live = self.live();
        let sse_open = self.sse_open();
        let mut body = report(
            &self.store,
            &live,
            sse_open,
            self.counters.get(),
            &self.limits,
        )?;
        if crate::config::get(&self.env).dev {
            body["memory"] = json!({
                "wasm_bytes": wasm_bytes(),
                "instance_age_ms": super::now_ms() - self.born_ms,
            });
        }
        Response::from_json(&body)
    }
}

#[cfg(test)]
mod tests {
    use super::super::storage::memory::MemStore;
    use super::*;
    use crate::domain::auth::Role;
    use crate::domain::event::Event;

    fn conn(user: &str, role: Role, channels: &[&str]) -> (Identity, Vec<Sub>) {
        (
            Identity {
                user_id: user.into(),
                role,
                exp: 0,
                anonymous: false,
            },
            channels
                .iter()
                .map(|c| Sub {
                    channel: c.to_string(),
                    types: vec![],
                    presence: false,
                })
                .collect(),
        )
    }

    #[test]
    fn report_counts_connections_messages_and_history() {
        let s = MemStore::default();
        s.set_meta("epoch", 5).unwrap();
        for seq in 1..=3 {
            let e = Event {
                seq,
                id: format!("e{seq}"),
                kind: "k".into(),
                channels: vec![],
                data: Value::Null,
                ts: "t".into(),
            };
            s.insert(&e, 1).unwrap();
        }
        s.prune(1, 0).unwrap();
        let live = vec![
            conn("a", Role::Admin, &["tenant", "role:admin"]),
            conn("b", Role::Broker, &["tenant"]),
            conn("b", Role::Broker, &[]),
        ];
        let c = Counters {
            messages_in: 7,
            messages_out: 11,
            failed_recoveries: 2,
        };
        let r = report(&s, &live, 4, c, &Limits::default()).unwrap();
        assert_eq!(
            r["connections"],
            json!({"websocket": 3, "sse": 4, "by_role": {"admin": 1, "broker": 2},
                   "by_channel": {"tenant": 2, "role:admin": 1}})
        );
        assert_eq!(r["messages"], json!({"in": 7, "out": 11}));
        assert_eq!(
            r["history"],
            json!({"events": 2, "head": 3, "oldest_seq": 2, "epoch": "5",
                   "max_events": 10000, "max_age_seconds": 604800})
        );
        assert_eq!(r["failed_recoveries"], 2);
    }

    #[test]
    fn counters_survive_a_flush_and_reload() {
        let s = MemStore::default();
        assert_eq!(Counters::load(&s), Counters::default());
        let c = Counters {
            messages_in: 1,
            messages_out: 2,
            failed_recoveries: 3,
        };
        c.flush(&s).unwrap();
        assert_eq!(Counters::load(&s), c);
    }
}
