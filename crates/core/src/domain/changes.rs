//! The change set of an update (pure): `{field: {from, to}}` for every field whose value
//! differs between the row before and after, which every `…:updated` event carries.

use serde_json::{json, Map, Value};

/// Bookkeeping fields that change with every write and say nothing about the edit.
pub const IGNORED: &[&str] = &["updated_at", "version"];

/// `{field: {from, to}}` for each top-level field of `after` whose value differs from
/// `before` (a field missing on one side reads as `null`), bookkeeping fields left out.
/// Fields of `before` that `after` lacks count as cleared (`to: null`).
pub fn diff(before: &Value, after: &Value) -> Value {
    let empty = Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    let keys = a.keys().chain(b.keys().filter(|k| !a.contains_key(*k)));
    for k in keys {
        if IGNORED.contains(&k.as_str()) || out.contains_key(k) {
            continue;
        }
        let (from, to) = (
            b.get(k).unwrap_or(&Value::Null),
            a.get(k).unwrap_or(&Value::Null),
        );
        if from != to {
            out.insert(k.clone(), json!({"from": from, "to": to}));
        }
    }
    Value::Object(out)
}

/// `data` (an object) with its `changes` set to `diff(before, after)`.
pub fn with_changes(mut data: Value, before: &Value, after: &Value) -> Value {
    if let Some(o) = data.as_object_mut() {
        o.insert("changes".into(), diff(before, after));
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_fields_with_both_values() {
        let before = json!({"id": "c1", "name": "Ann", "phone": "1", "tags": ["a"], "updated_at": "t0", "version": 1});
        let after = json!({"id": "c1", "name": "Anna", "phone": "1", "tags": ["a", "b"], "updated_at": "t1", "version": 2});
        assert_eq!(
            diff(&before, &after),
            json!({"name": {"from": "Ann", "to": "Anna"}, "tags": {"from": ["a"], "to": ["a", "b"]}})
        );
    }

    #[test]
    fn nulls_and_missing_fields() {
        let before = json!({"email": "a@b.co", "gone": 1});
        let after = json!({"email": null, "new": 2});
        assert_eq!(
            diff(&before, &after),
            json!({
                "email": {"from": "a@b.co", "to": null},
                "new": {"from": null, "to": 2},
                "gone": {"from": 1, "to": null}
            })
        );
        // A field null on one side and missing on the other did not change.
        assert_eq!(diff(&json!({"x": null}), &json!({})), json!({}));
    }

    #[test]
    fn no_change_is_an_empty_object() {
        let v = json!({"a": 1, "updated_at": "t"});
        assert_eq!(diff(&v, &json!({"a": 1, "updated_at": "u"})), json!({}));
        assert_eq!(diff(&Value::Null, &Value::Null), json!({}));
    }

    #[test]
    fn with_changes_sets_the_field() {
        let d = with_changes(
            json!({"id": "x", "n": 2}),
            &json!({"n": 1}),
            &json!({"n": 2}),
        );
        assert_eq!(d["changes"], json!({"n": {"from": 1, "to": 2}}));
        assert_eq!(d["id"], "x");
    }
}
