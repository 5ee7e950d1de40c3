//! The hub's durable state behind one trait, `HubStore`: the ordered event history
//! (gap-free `seq`, deduplicated by event id, bounded by count and age), the meta counters
//! and texts (head, epoch, schema version, stats, tenant), and the pending presence leaves.
//! `SqliteStore` is the Durable Object's own SQLite (with its schema migrations);
//! `MemStore` is the in-memory double the unit tests run the hub logic on.

use crate::domain::event::{Event, EventDraft};
use crate::store::row;
use serde::Deserialize;
use worker::{SqlStorage, SqlStorageValue};

/// Everything the hub reads and writes that must survive hibernation and eviction.
/// All calls are synchronous (DO SQLite is), so a read-then-send sequence cannot be
/// interleaved with an append.
pub trait HubStore {
    type Error;

    // History.
    /// Highest `seq` ever assigned (0 when none). Kept apart from the rows, so pruning
    /// everything never resets the cursor.
    fn head(&self) -> Result<u64, Self::Error>;
    /// Lowest `seq` still kept, if any.
    fn oldest(&self) -> Result<Option<u64>, Self::Error>;
    /// The `seq` of an event id already in the history.
    fn seq_of(&self, id: &str) -> Result<Option<u64>, Self::Error>;
    /// Stores `event` (its seq is `head() + 1`) and moves the head; `now_ms` dates the row
    /// for age-based retention.
    fn insert(&self, event: &Event, now_ms: i64) -> Result<(), Self::Error>;
    /// Up to `limit` events with `seq > after`, ascending.
    fn after(&self, after: u64, limit: u32) -> Result<Vec<Event>, Self::Error>;
    /// Up to `limit` events stored at or after `since_ms`, newest first.
    fn recent(&self, limit: u32, since_ms: i64) -> Result<Vec<Event>, Self::Error>;
    /// Events kept.
    fn count(&self) -> Result<u64, Self::Error>;
    /// Drops every event with `seq <= upto_seq` and every event stored before `cutoff_ms`.
    fn prune(&self, upto_seq: i64, cutoff_ms: i64) -> Result<(), Self::Error>;

    // Meta.
    fn meta(&self, k: &str) -> Result<Option<i64>, Self::Error>;
    fn set_meta(&self, k: &str, v: i64) -> Result<(), Self::Error>;
    /// Several meta values in one write.
    fn set_metas(&self, pairs: &[(&str, i64)]) -> Result<(), Self::Error> {
        for (k, v) in pairs {
            self.set_meta(k, *v)?;
        }
        Ok(())
    }
    fn text(&self, k: &str) -> Option<String>;
    fn set_text(&self, k: &str, v: &str) -> Result<(), Self::Error>;
    /// Drops the Socket.IO recovery sessions (`sio:<pid>` texts) last written before
    /// `cutoff_ms`.
    fn prune_sessions(&self, _cutoff_ms: i64) -> Result<(), Self::Error> {
        Ok(())
    }
    /// The history's epoch as clients see it (`"0"` if it could not be read).
    fn epoch(&self) -> String {
        self.meta("epoch").ok().flatten().unwrap_or(0).to_string()
    }

    // Presence leaves waiting out their grace period (they must survive hibernation,
    // since the alarm that announces them wakes a fresh instance).
    /// Is a leave of `user` on `channel` pending?
    fn leave_pending(&self, channel: &str, user: &str) -> Result<bool, Self::Error>;
    /// Schedules (or moves) the leave of `user` on `channel` to `due_ms`.
    fn schedule_leave(&self, channel: &str, user: &str, due_ms: i64) -> Result<(), Self::Error>;
    fn cancel_leave(&self, channel: &str, user: &str) -> Result<(), Self::Error>;
    /// `(channel, user)` of the leaves due at `now_ms`.
    fn due_leaves(&self, now_ms: i64) -> Result<Vec<(String, String)>, Self::Error>;
    /// When the earliest pending leave is due.
    fn next_leave_due(&self) -> Result<Option<i64>, Self::Error>;
}

/// Result of appending one draft.
#[derive(Debug, Clone, PartialEq)]
pub enum Appended {
    /// New in the history: deliver it live.
    New(Event),
    /// Seen before (an at-least-once redelivery): only its seq is reported.
    Duplicate { id: String, seq: u64 },
}

impl Appended {
    pub fn id_and_seq(&self) -> (&str, u64) {
        match self {
            Appended::New(e) => (&e.id, e.seq),
            Appended::Duplicate { id, seq } => (id, *seq),
        }
    }
}

/// Appends drafts in order, skipping ids already present (exactly-once in the history:
/// the outbox delivers at least once).
pub fn append<S: HubStore>(
    store: &S,
    drafts: Vec<EventDraft>,
    now_ms: i64,
) -> Result<Vec<Appended>, S::Error> {
    let mut head = store.head()?;
    let mut out = Vec::with_capacity(drafts.len());
    for d in drafts {
        if let Some(seq) = store.seq_of(&d.id)? {
            out.push(Appended::Duplicate { id: d.id, seq });
            continue;
        }
        head += 1;
        let e = Event::from_draft(head, d);
        store.insert(&e, now_ms)?;
        out.push(Appended::New(e));
    }
    Ok(out)
}

/// Retention: keep the last `max_events` and nothing older than `max_age_seconds`.
pub fn prune<S: HubStore>(
    store: &S,
    max_events: u64,
    max_age_seconds: u64,
    now_ms: i64,
) -> Result<(), S::Error> {
    let keep_from = store.head()? as i64 - max_events as i64;
    store.prune(keep_from, now_ms - (max_age_seconds as i64) * 1000)
}

/// The DO's SQLite. The object is its storage's only writer and runs one event at a
/// time, so the head and the epoch are read once and then kept in memory (each SQL call
/// crosses from Wasm to the runtime; an append used to read the head three times).
pub struct SqliteStore {
    sql: SqlStorage,
    head: std::cell::Cell<Option<u64>>,
    epoch: std::cell::Cell<Option<i64>>,
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

/// The current schema version (`meta.schema`).
const SCHEMA: i64 = 2;

impl SqliteStore {
    /// Creates or upgrades the schema. A new history gets a random epoch, so clients can
    /// tell a reset history from theirs.
    pub fn open(sql: SqlStorage) -> worker::Result<Self> {
        let s = SqliteStore::unchecked(sql);
        s.migrate()?;
        if s.meta("epoch")?.is_none() {
            let epoch = (worker::js_sys::Math::random() * 9.0e15) as i64;
            s.set_meta("epoch", epoch.max(1))?;
        }
        Ok(s)
    }

    /// The store without schema setup: used when `open` failed, so the hub still answers
    /// (each query then reports its own error).
    pub fn unchecked(sql: SqlStorage) -> Self {
        SqliteStore {
            sql,
            head: std::cell::Cell::new(None),
            epoch: std::cell::Cell::new(None),
        }
    }

    fn migrate(&self) -> worker::Result<()> {
        self.sql.exec(
            "CREATE TABLE IF NOT EXISTS events (
               seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
               channels TEXT NOT NULL, data TEXT NOT NULL, ts TEXT NOT NULL)",
            None,
        )?;
        self.sql.exec(
            "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)",
            None,
        )?;
        self.sql.exec(
            "CREATE TABLE IF NOT EXISTS presence_pending (
               channel TEXT NOT NULL, user_id TEXT NOT NULL, due_ms INTEGER NOT NULL,
               PRIMARY KEY (channel, user_id))",
            None,
        )?;
        self.sql.exec(
            "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
            None,
        )?;
        // v2 adds ts_ms (age-based retention) to histories created by v1. The ALTER fails
        // harmlessly on a table that already has the column (created fresh by v2 code
        // before the version was recorded).
        if self.meta("schema")?.unwrap_or(1) < SCHEMA {
            let _ = self.sql.exec(
                "ALTER TABLE events ADD COLUMN ts_ms INTEGER NOT NULL DEFAULT 0",
                None,
            );
            self.set_meta("schema", SCHEMA)?;
        }
        // Age-based retention deletes by `ts_ms` after every append: the index makes that
        // a range over the expired rows instead of a scan of the whole history.
        self.sql.exec(
            "CREATE INDEX IF NOT EXISTS events_ts_ms ON events (ts_ms)",
            None,
        )?;
        Ok(())
    }

    /// The rows of `query` as `T` (decoded by `store::row`: see there).
    fn rows<T: serde::de::DeserializeOwned>(
        &self,
        query: &str,
        args: Vec<SqlStorageValue>,
    ) -> worker::Result<Vec<T>> {
        let rows: Vec<row::Raw> = self.sql.exec(query, args)?.to_array()?;
        rows.into_iter()
            .map(|r| row::from_js(r.0).map_err(|e| worker::Error::RustError(e.to_string())))
            .collect()
    }

    fn num(&self, query: &str, args: Vec<SqlStorageValue>) -> worker::Result<Option<i64>> {
        let rows: Vec<NumRow> = self.rows(query, args)?;
        Ok(rows.into_iter().next().and_then(|r| r.n))
    }

    fn events(&self, query: &str, args: Vec<SqlStorageValue>) -> worker::Result<Vec<Event>> {
        let rows: Vec<EventRow> = self.rows(query, args)?;
        Ok(rows.into_iter().map(EventRow::into_event).collect())
    }
}

impl HubStore for SqliteStore {
    type Error = worker::Error;

    fn head(&self) -> worker::Result<u64> {
        if let Some(h) = self.head.get() {
            return Ok(h);
        }
        let h = self.meta("head")?.unwrap_or(0) as u64;
        self.head.set(Some(h));
        Ok(h)
    }
    fn oldest(&self) -> worker::Result<Option<u64>> {
        Ok(self
            .num("SELECT MIN(seq) AS n FROM events", vec![])?
            .map(|n| n as u64))
    }
    fn seq_of(&self, id: &str) -> worker::Result<Option<u64>> {
        Ok(self
            .num("SELECT seq AS n FROM events WHERE id = ?", vec![id.into()])?
            .map(|n| n as u64))
    }
    fn insert(&self, e: &Event, now_ms: i64) -> worker::Result<()> {
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
                now_ms.into(),
            ],
        )?;
        self.set_meta("head", e.seq as i64)
    }
    fn after(&self, after: u64, limit: u32) -> worker::Result<Vec<Event>> {
        self.events(
            "SELECT seq, id, type, channels, data, ts FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            vec![(after as i64).into(), (limit as i64).into()],
        )
    }
    fn recent(&self, limit: u32, since_ms: i64) -> worker::Result<Vec<Event>> {
        self.events(
            "SELECT seq, id, type, channels, data, ts FROM events WHERE ts_ms >= ?
             ORDER BY seq DESC LIMIT ?",
            vec![since_ms.into(), (limit as i64).into()],
        )
    }
    fn count(&self) -> worker::Result<u64> {
        Ok(self
            .num("SELECT COUNT(*) AS n FROM events", vec![])?
            .unwrap_or(0) as u64)
    }
    fn prune(&self, upto_seq: i64, cutoff_ms: i64) -> worker::Result<()> {
        if upto_seq > 0 {
            self.sql
                .exec("DELETE FROM events WHERE seq <= ?", vec![upto_seq.into()])?;
        }
        // ts_ms = 0: rows from before v2, whose age is unknown (kept until pushed out by count).
        self.sql.exec(
            "DELETE FROM events WHERE ts_ms > 0 AND ts_ms < ?",
            vec![cutoff_ms.into()],
        )?;
        Ok(())
    }

    fn meta(&self, k: &str) -> worker::Result<Option<i64>> {
        self.num("SELECT v AS n FROM meta WHERE k = ?", vec![k.into()])
    }
    fn set_meta(&self, k: &str, v: i64) -> worker::Result<()> {
        self.set_metas(&[(k, v)])
    }
    fn set_metas(&self, pairs: &[(&str, i64)]) -> worker::Result<()> {
        if pairs.is_empty() {
            return Ok(());
        }
        let rows = vec!["(?, ?)"; pairs.len()].join(", ");
        let args: Vec<SqlStorageValue> = pairs
            .iter()
            .flat_map(|(k, v)| [SqlStorageValue::from(*k), SqlStorageValue::from(*v)])
            .collect();
        // The cache follows only once the write is done.
        self.sql.exec(
            &format!(
                "INSERT INTO meta (k, v) VALUES {rows} ON CONFLICT(k) DO UPDATE SET v = excluded.v"
            ),
            args,
        )?;
        for (k, v) in pairs {
            match *k {
                "head" => self.head.set(Some(*v as u64)),
                "epoch" => self.epoch.set(Some(*v)),
                _ => {}
            }
        }
        Ok(())
    }
    fn epoch(&self) -> String {
        if let Some(e) = self.epoch.get() {
            return e.to_string();
        }
        let e = self.meta("epoch").ok().flatten();
        self.epoch.set(e);
        e.unwrap_or(0).to_string()
    }
    fn text(&self, k: &str) -> Option<String> {
        #[derive(Deserialize)]
        struct Row {
            v: String,
        }
        let rows: Vec<Row> = self
            .rows("SELECT v FROM kv WHERE k = ?", vec![k.into()])
            .ok()?;
        rows.into_iter().next().map(|r| r.v)
    }
    fn prune_sessions(&self, cutoff_ms: i64) -> worker::Result<()> {
        self.sql.exec(
            "DELETE FROM kv WHERE k LIKE 'sio:%'
               AND CASE WHEN json_valid(v) THEN json_extract(v, '$.t') < ? ELSE 1 END",
            vec![cutoff_ms.into()],
        )?;
        Ok(())
    }
    fn set_text(&self, k: &str, v: &str) -> worker::Result<()> {
        self.sql.exec(
            "INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
            vec![k.into(), v.into()],
        )?;
        Ok(())
    }

    fn leave_pending(&self, channel: &str, user: &str) -> worker::Result<bool> {
        Ok(self
            .num(
                "SELECT COUNT(*) AS n FROM presence_pending WHERE channel = ? AND user_id = ?",
                vec![channel.into(), user.into()],
            )?
            .unwrap_or(0)
            > 0)
    }
    fn schedule_leave(&self, channel: &str, user: &str, due_ms: i64) -> worker::Result<()> {
        self.sql.exec(
            "INSERT INTO presence_pending (channel, user_id, due_ms) VALUES (?, ?, ?)
             ON CONFLICT(channel, user_id) DO UPDATE SET due_ms = excluded.due_ms",
            vec![channel.into(), user.into(), due_ms.into()],
        )?;
        Ok(())
    }
    fn cancel_leave(&self, channel: &str, user: &str) -> worker::Result<()> {
        self.sql.exec(
            "DELETE FROM presence_pending WHERE channel = ? AND user_id = ?",
            vec![channel.into(), user.into()],
        )?;
        Ok(())
    }
    fn due_leaves(&self, now_ms: i64) -> worker::Result<Vec<(String, String)>> {
        #[derive(Deserialize)]
        struct Pending {
            channel: String,
            user_id: String,
        }
        let due: Vec<Pending> = self.rows(
            "SELECT channel, user_id FROM presence_pending WHERE due_ms <= ?",
            vec![now_ms.into()],
        )?;
        Ok(due.into_iter().map(|p| (p.channel, p.user_id)).collect())
    }
    fn next_leave_due(&self) -> worker::Result<Option<i64>> {
        self.num("SELECT MIN(due_ms) AS n FROM presence_pending", vec![])
    }
}

#[cfg(test)]
pub mod memory {
    //! In-memory double of `SqliteStore`, with the same semantics row for row.
    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    #[derive(Default)]
    pub struct MemStore {
        /// `(event, stored at ms)`, ascending by seq.
        pub events: RefCell<Vec<(Event, i64)>>,
        pub meta: RefCell<BTreeMap<String, i64>>,
        pub texts: RefCell<BTreeMap<String, String>>,
        pub leaves: RefCell<BTreeMap<(String, String), i64>>,
    }

    impl MemStore {
        /// A store holding `events` as if appended at `at_ms`.
        pub fn with(events: Vec<Event>, at_ms: i64) -> MemStore {
            let s = MemStore::default();
            for e in events {
                s.insert(&e, at_ms).unwrap();
            }
            s
        }
    }

    impl HubStore for MemStore {
        type Error = String;
        fn head(&self) -> Result<u64, String> {
            Ok(self.meta("head")?.unwrap_or(0) as u64)
        }
        fn oldest(&self) -> Result<Option<u64>, String> {
            Ok(self.events.borrow().first().map(|(e, _)| e.seq))
        }
        fn seq_of(&self, id: &str) -> Result<Option<u64>, String> {
            Ok(self
                .events
                .borrow()
                .iter()
                .find(|(e, _)| e.id == id)
                .map(|(e, _)| e.seq))
        }
        fn insert(&self, event: &Event, now_ms: i64) -> Result<(), String> {
            self.events.borrow_mut().push((event.clone(), now_ms));
            self.set_meta("head", event.seq as i64)
        }
        fn after(&self, after: u64, limit: u32) -> Result<Vec<Event>, String> {
            Ok(self
                .events
                .borrow()
                .iter()
                .filter(|(e, _)| e.seq > after)
                .take(limit as usize)
                .map(|(e, _)| e.clone())
                .collect())
        }
        fn recent(&self, limit: u32, since_ms: i64) -> Result<Vec<Event>, String> {
            Ok(self
                .events
                .borrow()
                .iter()
                .rev()
                .filter(|(_, t)| *t >= since_ms)
                .take(limit as usize)
                .map(|(e, _)| e.clone())
                .collect())
        }
        fn count(&self) -> Result<u64, String> {
            Ok(self.events.borrow().len() as u64)
        }
        fn prune(&self, upto_seq: i64, cutoff_ms: i64) -> Result<(), String> {
            self.events
                .borrow_mut()
                .retain(|(e, t)| e.seq as i64 > upto_seq && !(*t > 0 && *t < cutoff_ms));
            Ok(())
        }
        fn meta(&self, k: &str) -> Result<Option<i64>, String> {
            Ok(self.meta.borrow().get(k).copied())
        }
        fn set_meta(&self, k: &str, v: i64) -> Result<(), String> {
            self.meta.borrow_mut().insert(k.into(), v);
            Ok(())
        }
        fn text(&self, k: &str) -> Option<String> {
            self.texts.borrow().get(k).cloned()
        }
        fn set_text(&self, k: &str, v: &str) -> Result<(), String> {
            self.texts.borrow_mut().insert(k.into(), v.into());
            Ok(())
        }
        fn leave_pending(&self, channel: &str, user: &str) -> Result<bool, String> {
            Ok(self
                .leaves
                .borrow()
                .contains_key(&(channel.into(), user.into())))
        }
        fn schedule_leave(&self, channel: &str, user: &str, due_ms: i64) -> Result<(), String> {
            self.leaves
                .borrow_mut()
                .insert((channel.into(), user.into()), due_ms);
            Ok(())
        }
        fn cancel_leave(&self, channel: &str, user: &str) -> Result<(), String> {
            self.leaves
                .borrow_mut()
                .remove(&(channel.into(), user.into()));
            Ok(())
        }
        fn due_leaves(&self, now_ms: i64) -> Result<Vec<(String, String)>, String> {
            Ok(self
                .leaves
                .borrow()
                .iter()
                .filter(|(_, due)| **due <= now_ms)
                .map(|(k, _)| k.clone())
                .collect())
        }
        fn next_leave_due(&self) -> Result<Option<i64>, String> {
            Ok(self.leaves.borrow().values().min().copied())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::memory::MemStore;
    use super::*;
    use serde_json::json;

    fn d(id: &str) -> EventDraft {
        EventDraft {
            id: id.into(),
            kind: "k".into(),
            channels: vec!["tenant".into()],
            data: json!({}),
            ts: "t".into(),
            actor: None,
        }
    }

    #[test]
    fn seq_is_gap_free_and_dedup_is_exact() {
        let s = MemStore::default();
        let r = append(&s, vec![d("a"), d("b")], 1).unwrap();
        assert_eq!(
            r.iter().map(|a| a.id_and_seq().1).collect::<Vec<_>>(),
            vec![1, 2]
        );
        // Redelivery of b plus a new c: b keeps seq 2, c gets 3, nothing is stored twice.
        let r = append(&s, vec![d("b"), d("c"), d("c")], 1).unwrap();
        assert_eq!(
            r[0],
            Appended::Duplicate {
                id: "b".into(),
                seq: 2
            }
        );
        assert!(matches!(&r[1], Appended::New(e) if e.seq == 3));
        assert_eq!(
            r[2],
            Appended::Duplicate {
                id: "c".into(),
                seq: 3
            }
        );
        assert_eq!(s.count().unwrap(), 3);
        assert_eq!(
            s.after(1, 10)
                .unwrap()
                .iter()
                .map(|e| e.seq)
                .collect::<Vec<_>>(),
            vec![2, 3]
        );
    }

    #[test]
    fn retention_by_count_and_age_keeps_the_head() {
        let s = MemStore::default();
        append(&s, vec![d("a"), d("b")], 1_000).unwrap();
        append(&s, vec![d("c"), d("d"), d("e")], 50_000).unwrap();
        // At most 4 events: a goes.
        prune(&s, 4, 3600, 60_000).unwrap();
        assert_eq!(s.oldest().unwrap(), Some(2));
        // Older than 10 s at t=60 s: b (stored at 1 s) goes too, c..e (50 s) stay.
        prune(&s, 4, 10, 60_000).unwrap();
        assert_eq!(s.oldest().unwrap(), Some(3));
        // Everything aged out: the history is empty but the head is still 5, so new
        // events continue the seq and a client at 5 still recovers.
        prune(&s, 4, 1, 100_000).unwrap();
        assert_eq!((s.count().unwrap(), s.oldest().unwrap()), (0, None));
        assert_eq!(s.head().unwrap(), 5);
        let r = append(&s, vec![d("f"), d("a")], 100_000).unwrap();
        assert_eq!(r[0].id_and_seq().1, 6);
        assert_eq!(r[1].id_and_seq().1, 7, "a pruned id is new again");
    }

    #[test]
    fn recent_is_newest_first_within_the_window() {
        let s = MemStore::default();
        append(&s, vec![d("a")], 1_000).unwrap();
        append(&s, vec![d("b"), d("c")], 5_000).unwrap();
        let ids = |v: Vec<Event>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(ids(s.recent(10, 0).unwrap()), vec!["c", "b", "a"]);
        assert_eq!(ids(s.recent(10, 2_000).unwrap()), vec!["c", "b"]);
        assert_eq!(ids(s.recent(1, 0).unwrap()), vec!["c"]);
    }
}
