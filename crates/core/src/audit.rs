//! Reading the audit log, and computing the field-by-field changes the write path records.

use std::collections::BTreeMap;

use flightdeck_types::{AuditEntry, AuditFilter, FieldChange};
use serde::Serialize;
use serde_json::Value;

use crate::error::Result;
use crate::store::Store;

/// Fields that change on every write and say nothing on their own.
const NOISE: &[&str] = &["created_at", "updated_at"];

/// The fields whose JSON form differs between `old` and `new` (either may be absent, for a
/// create or a delete), without `id` and bookkeeping fields.
pub fn diff<T: Serialize>(old: Option<&T>, new: Option<&T>) -> BTreeMap<String, FieldChange> {
    let as_map = |v: Option<&T>| match v.map(serde_json::to_value) {
        Some(Ok(Value::Object(map))) => map,
        _ => serde_json::Map::new(),
    };
    let (old, new) = (as_map(old), as_map(new));
    let mut changes = BTreeMap::new();
    for key in old.keys().chain(new.keys()) {
        if key == "id" || NOISE.contains(&key.as_str()) || changes.contains_key(key) {
            continue;
        }
        // Compared in place: only a field that changed is copied (a run's spec and result,
        // the largest fields, seldom change, and every run's claim and end diff it).
        let before = old.get(key).unwrap_or(&Value::Null);
        let after = new.get(key).unwrap_or(&Value::Null);
        if before != after {
            changes.insert(
                key.clone(),
                FieldChange {
                    old: before.clone(),
                    new: after.clone(),
                },
            );
        }
    }
    changes
}

/// Audit rows, newest first.
pub fn list(store: &Store, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
    let limit = i64::from(filter.limit.unwrap_or(100));
    store.read(|conn| crate::store::audit_log::list(conn, filter.entity_id.as_deref(), limit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Serialize)]
    struct Row {
        id: &'static str,
        a: i32,
        b: &'static str,
        updated_at: i64,
    }

    #[test]
    fn diff_lists_changed_fields_only() {
        let old = Row {
            id: "x",
            a: 1,
            b: "same",
            updated_at: 1,
        };
        let new = Row {
            id: "x",
            a: 2,
            b: "same",
            updated_at: 2,
        };
        let changes = diff(Some(&old), Some(&new));
        assert_eq!(changes.len(), 1);
        assert_eq!(
            changes["a"],
            FieldChange {
                old: json!(1),
                new: json!(2)
            }
        );
    }

    #[test]
    fn diff_of_create_and_delete_covers_every_field() {
        let row = Row {
            id: "x",
            a: 1,
            b: "b",
            updated_at: 1,
        };
        let created = diff(None, Some(&row));
        assert_eq!(created.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(created["b"].old, Value::Null);
        let deleted = diff(Some(&row), None);
        assert_eq!(deleted["a"].new, Value::Null);
    }
}
