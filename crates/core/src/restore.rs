//! Restore to a point in time (issue 33, item 4): the values rows had at an instant, rebuilt
//! from the audit log (every change there has each field's value before and after it) and
//! written back through the one write path as new changes, so that every synced device
//! converges on them. The database file is never swapped (that is `backup restore`, for a
//! damaged file). Rows created after the instant are deleted, rows deleted since come back
//! with their ids, and a restore is itself audited, so it can be restored away again.
//!
//! Tasks are restorable. Not restorable: runs and their events, snapshots and error records
//! (history: what happened stays what happened), and, so far, environments and schedules.

use std::collections::BTreeMap;

use flightdeck_types::{AuditAction, AuditEntry, EntityKind, FieldChange, Task, Timestamp};
use rusqlite::Connection;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::audit::diff;
use crate::error::{CoreError, Result};
use crate::store::{audit_log, Store};

/// What a restore covers: one entity by id, or every restorable entity of the workspace.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Entity(&'a str),
    Workspace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoreAction {
    /// Fields written back to their values then.
    Revert,
    /// Did not exist then: deleted.
    Delete,
    /// Deleted since: written back with its id.
    Recreate,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestoreChange {
    pub entity: EntityKind,
    pub id: String,
    pub action: RestoreAction,
    /// Each field that changes: its value now (`old`) and the one restored (`new`).
    pub changes: BTreeMap<String, FieldChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestoreReport {
    pub to: Timestamp,
    pub dry_run: bool,
    pub changes: Vec<RestoreChange>,
}

/// Restores `scope` to its state at `to`; with `dry_run`, only says what would change (and
/// writes nothing). All of it is written in one transaction, or none of it.
pub fn restore(
    store: &Store,
    scope: Scope<'_>,
    to: Timestamp,
    dry_run: bool,
) -> Result<RestoreReport> {
    if to > crate::clock::now() {
        return Err(CoreError::invalid(
            "to",
            format!(
                "{to} is in the future: give a past instant (RFC 3339, or `2h` for two hours ago)"
            ),
        ));
    }
    let changes = if dry_run {
        store.read(|c| Ok(plan(c, scope, to)?.into_iter().map(|p| p.change).collect()))?
    } else {
        store.write(|w| {
            let planned = plan(w, scope, to)?;
            let mut changes = Vec::with_capacity(planned.len());
            for p in planned {
                crate::tasks::restore_in(w, &p.change.id, p.current, p.target)?;
                changes.push(p.change);
            }
            Ok(changes)
        })?
    };
    Ok(RestoreReport {
        to,
        dry_run,
        changes,
    })
}

struct Planned {
    change: RestoreChange,
    current: Option<Task>,
    target: Option<Task>,
}

fn plan(conn: &Connection, scope: Scope<'_>, to: Timestamp) -> Result<Vec<Planned>> {
    let task = EntityKind::Task.as_str();
    let entries = match scope {
        Scope::Entity(id) => {
            check_restorable(conn, id)?;
            audit_log::after(conn, task, Some(id), to.as_millis())?
        }
        Scope::Workspace => audit_log::after(conn, task, None, to.as_millis())?,
    };
    // Each task's entries, newest first, tasks in the order of their newest change.
    let mut order: Vec<String> = Vec::new();
    let mut by_task: BTreeMap<String, Vec<AuditEntry>> = BTreeMap::new();
    for e in entries {
        if !by_task.contains_key(&e.entity_id) {
            order.push(e.entity_id.clone());
        }
        by_task.entry(e.entity_id.clone()).or_default().push(e);
    }
    let mut planned = Vec::new();
    for id in order {
        let current = crate::tasks::find_in(conn, &id)?;
        let target = task_at(conn, &id, current.as_ref(), &by_task[&id])?;
        let action = match (&current, &target) {
            (None, None) => continue,
            (Some(_), None) => RestoreAction::Delete,
            (None, Some(_)) => RestoreAction::Recreate,
            (Some(_), Some(_)) => RestoreAction::Revert,
        };
        let changes = diff(current.as_ref(), target.as_ref());
        if action == RestoreAction::Revert && changes.is_empty() {
            continue;
        }
        planned.push(Planned {
            change: RestoreChange {
                entity: EntityKind::Task,
                id,
                action,
                changes,
            },
            current,
            target,
        });
    }
    Ok(planned)
}

/// A clear refusal for an id the audit log knows as something not restorable; an id it does
/// not know at all is not found.
fn check_restorable(conn: &Connection, id: &str) -> Result<()> {
    if crate::tasks::find_in(conn, id)?.is_some() {
        return Ok(());
    }
    match audit_log::after(conn, "task", Some(id), i64::MIN)?.first() {
        Some(_) => Ok(()),
        None => match audit_log::list(conn, Some(id), 1)?.first() {
            Some(e) => Err(CoreError::invalid(
                "entity",
                format!(
                    "`{id}` is {} {}: restore covers tasks (runs, events and errors are \
                     history and stay as they happened; environments and schedules are not \
                     restorable yet)",
                    article(e.entity),
                    e.entity
                ),
            )),
            None => Err(CoreError::NotFound {
                kind: "task",
                key: id.to_string(),
            }),
        },
    }
}

fn article(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Environment | EntityKind::Execution | EntityKind::ErrorRecord => "an",
        _ => "a",
    }
}

/// Task `id` as it was at the instant before `newest_first` (its changes since, newest
/// first): each change undone in turn from the row as it is now.
fn task_at(
    conn: &Connection,
    id: &str,
    current: Option<&Task>,
    newest_first: &[AuditEntry],
) -> Result<Option<Task>> {
    let mut state: Option<Map<String, Value>> = match current {
        Some(task) => match serde_json::to_value(task) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        },
        None => None,
    };
    for e in newest_first {
        match e.action {
            AuditAction::Create => state = None,
            AuditAction::Delete => {
                state = Some(
                    e.changes
                        .iter()
                        .map(|(field, c)| (field.clone(), c.old.clone()))
                        .collect(),
                )
            }
            _ => {
                let map = state.get_or_insert_with(Map::new);
                for (field, c) in &e.changes {
                    map.insert(field.clone(), c.old.clone());
                }
            }
        }
    }
    let Some(mut map) = state else {
        return Ok(None);
    };
    // What the audit leaves out (the id and the times) for a task that comes back.
    map.insert("id".into(), Value::String(id.to_string()));
    if !map.contains_key("created_at") {
        let created = audit_log::after(conn, "task", Some(id), i64::MIN)?
            .iter()
            .rev()
            .find(|e| e.action == AuditAction::Create)
            .map_or(crate::clock::now(), |e| e.at);
        map.insert("created_at".into(), time_value(created));
    }
    if !map.contains_key("updated_at") {
        map.insert("updated_at".into(), time_value(crate::clock::now()));
    }
    let task: Task = serde_json::from_value(Value::Object(map)).map_err(|e| {
        CoreError::Corrupt(format!(
            "task {id}: its audit log does not rebuild a task: {e}"
        ))
    })?;
    Ok(Some(task))
}

fn time_value(t: Timestamp) -> Value {
    serde_json::to_value(t).expect("timestamps always serialize")
}
