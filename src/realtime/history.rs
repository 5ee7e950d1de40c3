//! The tenant's ordered, durable event history behind a small storage trait: the hub DO
//! implements it on its SQLite, tests on memory. Appends are deduplicated by event id and
//! numbered with a gap-free, tenant-wide `seq`.

use crate::domain::event::{Event, EventDraft};

pub trait HistoryStore {
    type Error;
    /// Highest `seq` ever assigned (0 when none).
    fn head(&self) -> Result<u64, Self::Error>;
    /// Lowest `seq` still kept, if any.
    fn oldest(&self) -> Result<Option<u64>, Self::Error>;
    /// The `seq` of an event id already in the history.
    fn seq_of(&self, id: &str) -> Result<Option<u64>, Self::Error>;
    /// Stores `event` (its seq is `head() + 1`).
    fn insert(&self, event: &Event) -> Result<(), Self::Error>;
    /// Up to `limit` events with `seq > after`, ascending.
    fn after(&self, after: u64, limit: u32) -> Result<Vec<Event>, Self::Error>;
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

/// Appends drafts in order, skipping ids already present (exactly-once in the history).
pub fn append<S: HistoryStore>(
    store: &S,
    drafts: Vec<EventDraft>,
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
        store.insert(&e)?;
        out.push(Appended::New(e));
    }
    Ok(out)
}

#[cfg(test)]
pub mod memory {
    //! In-memory double of the hub's SQLite history.
    use super::*;
    use std::cell::RefCell;

    #[derive(Default)]
    pub struct MemoryHistory {
        pub events: RefCell<Vec<Event>>,
    }

    impl HistoryStore for MemoryHistory {
        type Error = String;
        fn head(&self) -> Result<u64, String> {
            Ok(self.events.borrow().last().map_or(0, |e| e.seq))
        }
        fn oldest(&self) -> Result<Option<u64>, String> {
            Ok(self.events.borrow().first().map(|e| e.seq))
        }
        fn seq_of(&self, id: &str) -> Result<Option<u64>, String> {
            Ok(self
                .events
                .borrow()
                .iter()
                .find(|e| e.id == id)
                .map(|e| e.seq))
        }
        fn insert(&self, event: &Event) -> Result<(), String> {
            self.events.borrow_mut().push(event.clone());
            Ok(())
        }
        fn after(&self, after: u64, limit: u32) -> Result<Vec<Event>, String> {
            Ok(self
                .events
                .borrow()
                .iter()
                .filter(|e| e.seq > after)
                .take(limit as usize)
                .cloned()
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::memory::MemoryHistory;
    use super::*;
    use serde_json::json;

    fn d(id: &str) -> EventDraft {
        EventDraft {
            id: id.into(),
            kind: "k".into(),
            channels: vec!["tenant".into()],
            data: json!({}),
            ts: "t".into(),
        }
    }

    #[test]
    fn seq_is_gap_free_and_dedup_is_exact() {
        let s = MemoryHistory::default();
        let r = append(&s, vec![d("a"), d("b")]).unwrap();
        assert_eq!(
            r.iter().map(|a| a.id_and_seq().1).collect::<Vec<_>>(),
            vec![1, 2]
        );
        // Redelivery of b plus a new c: b keeps seq 2, c gets 3, nothing is stored twice.
        let r = append(&s, vec![d("b"), d("c"), d("c")]).unwrap();
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
        assert_eq!(s.events.borrow().len(), 3);
        assert_eq!(
            s.after(1, 10)
                .unwrap()
                .iter()
                .map(|e| e.seq)
                .collect::<Vec<_>>(),
            vec![2, 3]
        );
    }
}
