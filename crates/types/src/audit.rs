//! The audit log: one row per change to a task or an environment, synced like the entities.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

string_enum! {
    /// The kind of entity an audit row is about.
    EntityKind, "entity kind" {
        Task => "task",
        Environment => "environment",
        Execution => "execution",
        Schedule => "schedule",
        ErrorRecord => "error_record",
    }
}

string_enum! {
    AuditAction, "audit action" {
        Create => "create",
        Update => "update",
        Archive => "archive",
        Unarchive => "unarchive",
        Delete => "delete",
        /// A run, schedule or error changed state (started, finished, paused, retried...).
        Transition => "transition",
    }
}

/// One field's value before and after a change (`null` when absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub old: serde_json::Value,
    pub new: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    pub entity: EntityKind,
    pub entity_id: String,
    pub action: AuditAction,
    /// Changed fields, old -> new. Secret values never appear here, only secret names.
    pub changes: BTreeMap<String, FieldChange>,
    /// The cr-sqlite site id (hex) of the device that made the change.
    pub device_id: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Only rows about this entity id.
    #[serde(default)]
    pub entity_id: Option<String>,
    /// At most this many rows, newest first (default 100).
    #[serde(default)]
    pub limit: Option<u32>,
}
