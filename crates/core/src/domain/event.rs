//! The event envelope of the contract: drafts (before the hub numbers them) and events.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An event before the tenant hub assigned its `seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventDraft {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub channels: Vec<String>,
    pub data: Value,
    pub ts: String,
    /// Who caused it (a user id, `anonymous`), for the audit trail; `None` for the
    /// system's own events (cron, jobs). Not part of the envelope.
    #[serde(skip)]
    pub actor: Option<String>,
}

impl EventDraft {
    /// The draft, recorded in the audit trail as done by `actor`.
    pub fn by(mut self, actor: &str) -> Self {
        self.actor = Some(actor.to_string());
        self
    }
}

/// An event in the tenant's history: `{"seq","id","type","channels","data","ts"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub channels: Vec<String>,
    pub data: Value,
    pub ts: String,
}

impl Event {
    pub fn from_draft(seq: u64, d: EventDraft) -> Event {
        Event {
            seq,
            id: d.id,
            kind: d.kind,
            channels: d.channels,
            data: d.data,
            ts: d.ts,
        }
    }
}

/// Audience of an event about one entity: the whole tenant and the entity's channel.
pub fn entity_channels(entity: &str, id: &str) -> Vec<String> {
    vec!["tenant".to_string(), format!("entity:{entity}:{id}")]
}

/// What an update changed, as `…:updated` events carry it: `{field: {from, to}}` for each of
/// `fields` whose value differs between `before` and `after` (absent counts as `null`).
pub fn changes(
    before: &serde_json::Value,
    after: &serde_json::Value,
    fields: &[&str],
) -> serde_json::Map<String, serde_json::Value> {
    let null = serde_json::Value::Null;
    fields
        .iter()
        .filter_map(|f| {
            let (from, to) = (
                before.get(*f).unwrap_or(&null),
                after.get(*f).unwrap_or(&null),
            );
            (from != to).then(|| (f.to_string(), serde_json::json!({"from": from, "to": to})))
        })
        .collect()
}

/// `after` with its `changes` against `before` (an update event's data).
pub fn with_changes(
    before: &serde_json::Value,
    mut after: serde_json::Value,
    fields: &[&str],
) -> serde_json::Value {
    let c = changes(before, &after, fields);
    if let Some(m) = after.as_object_mut() {
        m.insert("changes".into(), serde_json::Value::Object(c));
    }
    after
}
