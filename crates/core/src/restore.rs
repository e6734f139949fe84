//! Restore to a point in time (issue 33, item 4): the values rows had at an instant, rebuilt
//! from the audit log (every change there has each field's value before and after it) and
//! written back through the one write path as new changes, so that every synced device
//! converges on them. The database file is never swapped (that is `backup restore`, for a
//! damaged file). Rows created after the instant are deleted, rows deleted since come back
//! with their ids, and a restore is itself audited, so it can be restored away again.
//!
//! Tasks, environments and schedules are restorable (a schedule's definition and whether it
//! fires; when it fired stays, and its next fire is worked out from now). Not restorable:
//! runs and their events, snapshots and error records (history: what happened stays what
//! happened).

use std::collections::BTreeMap;

use flightdeck_types::{
    AuditAction, AuditEntry, EntityKind, Environment, FieldChange, Schedule, Task, Timestamp,
};
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
                changes.push(apply(w, p)?);
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

/// A row of a restorable entity.
#[derive(Debug, Clone)]
enum Row {
    Task(Task),
    Environment(Environment),
    Schedule(Box<Schedule>),
}

/// The kinds restore covers, in the order a workspace restore writes them: tasks first, so
/// that an environment deleted (created after the instant) has no restored task left on it.
const KINDS: [EntityKind; 3] = [
    EntityKind::Task,
    EntityKind::Environment,
    EntityKind::Schedule,
];

fn current(conn: &Connection, kind: EntityKind, id: &str) -> Result<Option<Row>> {
    Ok(match kind {
        EntityKind::Task => crate::tasks::find_in(conn, id)?.map(Row::Task),
        EntityKind::Environment => crate::environments::find_in(conn, id)?.map(Row::Environment),
        EntityKind::Schedule => {
            crate::schedules::find_in(conn, id)?.map(|s| Row::Schedule(Box::new(s)))
        }
        _ => None,
    })
}

fn to_map(row: &Row) -> Map<String, Value> {
    let value = match row {
        Row::Task(t) => serde_json::to_value(t),
        Row::Environment(e) => serde_json::to_value(e),
        Row::Schedule(s) => serde_json::to_value(s),
    };
    match value {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

fn from_map(kind: EntityKind, id: &str, map: Map<String, Value>) -> Result<Row> {
    let corrupt = |e: serde_json::Error| {
        CoreError::Corrupt(format!(
            "{kind} {id}: its audit log does not rebuild it: {e}"
        ))
    };
    let value = Value::Object(map);
    Ok(match kind {
        EntityKind::Task => Row::Task(serde_json::from_value(value).map_err(corrupt)?),
        EntityKind::Schedule => Row::Schedule(serde_json::from_value(value).map_err(corrupt)?),
        _ => Row::Environment(serde_json::from_value(value).map_err(corrupt)?),
    })
}

fn row_diff(a: Option<&Row>, b: Option<&Row>) -> BTreeMap<String, FieldChange> {
    match (a, b) {
        (Some(Row::Task(a)), Some(Row::Task(b))) => diff(Some(a), Some(b)),
        (Some(Row::Task(a)), None) => diff(Some(a), None),
        (None, Some(Row::Task(b))) => diff(None, Some(b)),
        (Some(Row::Environment(a)), Some(Row::Environment(b))) => diff(Some(a), Some(b)),
        (Some(Row::Environment(a)), None) => diff(Some(a), None),
        (None, Some(Row::Environment(b))) => diff(None, Some(b)),
        (Some(Row::Schedule(a)), Some(Row::Schedule(b))) => diff(Some(a), Some(b)),
        (Some(Row::Schedule(a)), None) => diff(Some(a), None),
        (None, Some(Row::Schedule(b))) => diff(None, Some(b)),
        _ => BTreeMap::new(),
    }
}

fn apply(w: &mut crate::store::Writer<'_>, p: Planned) -> Result<RestoreChange> {
    let id = p.change.id.clone();
    match p.change.entity {
        EntityKind::Task => {
            let (current, target) = (task(p.current), task(p.target));
            crate::tasks::restore_in(w, &id, current, target)?;
        }
        EntityKind::Schedule => {
            let (current, target) = (schedule(p.current), schedule(p.target));
            crate::schedules::restore_in(w, &id, current, target)?;
        }
        _ => {
            let (current, target) = (environment(p.current), environment(p.target));
            crate::environments::restore_in(w, &id, current, target)?;
        }
    }
    Ok(p.change)
}

fn task(row: Option<Row>) -> Option<Task> {
    match row {
        Some(Row::Task(t)) => Some(t),
        _ => None,
    }
}

fn schedule(row: Option<Row>) -> Option<Schedule> {
    match row {
        Some(Row::Schedule(s)) => Some(*s),
        _ => None,
    }
}

fn environment(row: Option<Row>) -> Option<Environment> {
    match row {
        Some(Row::Environment(e)) => Some(e),
        _ => None,
    }
}

struct Planned {
    change: RestoreChange,
    current: Option<Row>,
    target: Option<Row>,
}

fn plan(conn: &Connection, scope: Scope<'_>, to: Timestamp) -> Result<Vec<Planned>> {
    let mut planned = Vec::new();
    for kind in KINDS {
        let entries = match scope {
            Scope::Entity(id) => match kind_of(conn, id)? == kind {
                true => audit_log::after(conn, kind.as_str(), Some(id), to.as_millis())?,
                false => continue,
            },
            Scope::Workspace => audit_log::after(conn, kind.as_str(), None, to.as_millis())?,
        };
        planned.extend(plan_kind(conn, kind, entries)?);
    }
    Ok(planned)
}

/// Each row's entries (newest first), rows in the order of their newest change.
fn plan_kind(
    conn: &Connection,
    kind: EntityKind,
    entries: Vec<AuditEntry>,
) -> Result<Vec<Planned>> {
    let mut order: Vec<String> = Vec::new();
    let mut by_row: BTreeMap<String, Vec<AuditEntry>> = BTreeMap::new();
    for e in entries {
        if !by_row.contains_key(&e.entity_id) {
            order.push(e.entity_id.clone());
        }
        by_row.entry(e.entity_id.clone()).or_default().push(e);
    }
    let mut planned = Vec::new();
    for id in order {
        let current = current(conn, kind, &id)?;
        let target = match state_at(conn, kind, &id, current.as_ref(), &by_row[&id])? {
            Some(map) => Some(match from_map(kind, &id, map)? {
                Row::Schedule(s) => {
                    let now = match &current {
                        Some(Row::Schedule(c)) => Some(c.as_ref()),
                        _ => None,
                    };
                    let timed = crate::schedules::as_restored(*s, now, crate::clock::now())?;
                    Row::Schedule(Box::new(timed))
                }
                row => row,
            }),
            None => None,
        };
        let action = match (&current, &target) {
            (None, None) => continue,
            (Some(_), None) => RestoreAction::Delete,
            (None, Some(_)) => RestoreAction::Recreate,
            (Some(_), Some(_)) => RestoreAction::Revert,
        };
        let changes = row_diff(current.as_ref(), target.as_ref());
        if action == RestoreAction::Revert && changes.is_empty() {
            continue;
        }
        planned.push(Planned {
            change: RestoreChange {
                entity: kind,
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

/// The kind of row `id` is, from the row itself or else the audit log: restorable, or a
/// refusal that names what it is; an id neither knows is not found.
fn kind_of(conn: &Connection, id: &str) -> Result<EntityKind> {
    for kind in KINDS {
        if current(conn, kind, id)?.is_some() {
            return Ok(kind);
        }
    }
    match audit_log::list(conn, Some(id), 1)?.first() {
        Some(e) if KINDS.contains(&e.entity) => Ok(e.entity),
        Some(e) => Err(CoreError::invalid(
            "entity",
            format!(
                "`{id}` is {} {}: restore covers tasks, environments and schedules (runs, \
                 their events and errors are history and stay as they happened)",
                article(e.entity),
                e.entity
            ),
        )),
        None => Err(CoreError::NotFound {
            kind: "task, environment or schedule",
            key: id.to_string(),
        }),
    }
}

fn article(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Environment | EntityKind::Execution | EntityKind::ErrorRecord => "an",
        _ => "a",
    }
}

/// Row `id` as it was at the instant before `newest_first` (its changes since, newest
/// first): each change undone in turn from the row as it is now; `None` if it did not exist.
fn state_at(
    conn: &Connection,
    kind: EntityKind,
    id: &str,
    current: Option<&Row>,
    newest_first: &[AuditEntry],
) -> Result<Option<Map<String, Value>>> {
    let mut state: Option<Map<String, Value>> = current.map(to_map);
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
    // What the audit leaves out (the id and the times) for a row that comes back.
    map.insert("id".into(), Value::String(id.to_string()));
    if !map.contains_key("created_at") {
        let created = audit_log::after(conn, kind.as_str(), Some(id), i64::MIN)?
            .iter()
            .rev()
            .find(|e| e.action == AuditAction::Create)
            .map_or(crate::clock::now(), |e| e.at);
        map.insert("created_at".into(), time_value(created));
    }
    if !map.contains_key("updated_at") {
        map.insert("updated_at".into(), time_value(crate::clock::now()));
    }
    Ok(Some(map))
}

fn time_value(t: Timestamp) -> Value {
    serde_json::to_value(t).expect("timestamps always serialize")
}
