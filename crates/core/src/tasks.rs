//! Tasks: create, read, list, update, archive, delete. Every change goes through the write
//! path with an audit row.

use flightdeck_types::validate::{long_text, task_title};
use flightdeck_types::{
    AuditAction, EntityKind, NewTask, Priority, Task, TaskFilter, TaskPatch, TaskStatus, Timestamp,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::audit::diff;
use crate::environments;
use crate::error::{CoreError, Result};
use crate::store::{Store, Writer};

const COLUMNS: &str =
    "id, title, description, status, priority, environment_id, archived, created_at, updated_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Task> {
    let status: String = row.get(3)?;
    Ok(Task {
        id: row.get(0)?,
        title: row.get(1)?,
        description: row.get(2)?,
        // A status this build does not know came from a newer peer: show it as todo rather
        // than hide the task.
        status: status.parse().unwrap_or_default(),
        priority: Priority::from_rank(row.get(4)?),
        environment_id: row.get(5)?,
        archived: row.get::<_, i64>(6)? != 0,
        created_at: Timestamp(row.get(7)?),
        updated_at: Timestamp(row.get(8)?),
    })
}

fn find(conn: &Connection, id: &str) -> Result<Task> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM tasks WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()?
    .ok_or_else(|| CoreError::NotFound {
        kind: "task",
        key: id.to_string(),
    })
}

/// Resolves an environment name or id given as a task field into its id.
fn environment_field(conn: &Connection, key: &str) -> Result<String> {
    match environments::resolve(conn, key) {
        Ok(env) => Ok(env.id),
        Err(CoreError::NotFound { .. }) => Err(CoreError::invalid(
            "environment",
            format!("no environment named or with id `{key}` (see `flightdeck env list`)"),
        )),
        Err(e) => Err(e),
    }
}

pub fn create(store: &Store, input: NewTask) -> Result<Task> {
    let title = task_title(&input.title)?;
    let description = long_text("description", input.description.as_deref().unwrap_or(""))?;
    store.write(|w| {
        let environment_id = match input.environment.as_deref() {
            Some(key) => Some(environment_field(w, key)?),
            None => None,
        };
        let task = Task {
            id: crate::ids::new_id(),
            title,
            description,
            status: input.status.unwrap_or_default(),
            priority: input.priority.unwrap_or_default(),
            environment_id,
            archived: false,
            created_at: w.now(),
            updated_at: w.now(),
        };
        w.prepare_cached(
            "INSERT INTO tasks (id, title, description, status, priority, environment_id,
                                archived, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?7)",
        )?
        .execute(params![
            task.id,
            task.title,
            task.description,
            task.status.as_str(),
            task.priority.rank(),
            task.environment_id,
            task.created_at.as_millis(),
        ])?;
        w.audit(
            EntityKind::Task,
            &task.id,
            AuditAction::Create,
            diff(None, Some(&task)),
        );
        Ok(task)
    })
}

pub fn get(store: &Store, id: &str) -> Result<Task> {
    store.read(|conn| find(conn, id))
}

/// Tasks matching `filter`, most urgent first, then most recently updated.
pub fn list(store: &Store, filter: &TaskFilter) -> Result<Vec<Task>> {
    store.read(|conn| {
        let environment_id = match filter.environment.as_deref() {
            Some(key) => Some(environment_field(conn, key)?),
            None => None,
        };
        let search = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase);
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM tasks
             WHERE (?1 IS NULL OR status = ?1)
               AND (?2 IS NULL OR environment_id = ?2)
               AND (?3 IS NULL OR instr(lower(title), ?3) > 0 OR instr(lower(description), ?3) > 0)
               AND (?4 OR archived = 0)
             ORDER BY priority DESC, updated_at DESC, id DESC"
        ))?;
        let rows = stmt.query_map(
            params![
                filter.status.map(TaskStatus::as_str),
                environment_id,
                search,
                filter.include_archived
            ],
            from_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    })
}

/// Applies `patch`, writing only the fields that actually change so that concurrent edits
/// of other fields on other devices survive the merge.
pub fn update(store: &Store, id: &str, patch: TaskPatch) -> Result<Task> {
    if patch.is_empty() {
        return Err(CoreError::invalid(
            "update",
            "nothing to change: give at least one of title, description, status, priority, \
             environment",
        ));
    }
    let title = patch.title.as_deref().map(task_title).transpose()?;
    let description = patch
        .description
        .as_deref()
        .map(|d| long_text("description", d))
        .transpose()?;
    store.write(|w| {
        let old = find(w, id)?;
        let mut new = old.clone();
        if let Some(title) = title {
            new.title = title;
        }
        if let Some(description) = description {
            new.description = description;
        }
        if let Some(status) = patch.status {
            new.status = status;
        }
        if let Some(priority) = patch.priority {
            new.priority = priority;
        }
        if let Some(environment) = &patch.environment {
            new.environment_id = match environment.as_deref() {
                Some(key) => Some(environment_field(w, key)?),
                None => None,
            };
        }
        save_changes(w, &old, new, AuditAction::Update)
    })
}

/// Archives (hides from default lists) or restores a task. Archiving an archived task
/// changes nothing.
pub fn set_archived(store: &Store, id: &str, archived: bool) -> Result<Task> {
    store.write(|w| {
        let old = find(w, id)?;
        let new = Task {
            archived,
            ..old.clone()
        };
        let action = if archived {
            AuditAction::Archive
        } else {
            AuditAction::Unarchive
        };
        save_changes(w, &old, new, action)
    })
}

/// Deletes a task for good (on every device once synced). Returns what was deleted.
pub fn delete(store: &Store, id: &str) -> Result<Task> {
    store.write(|w| {
        let old = find(w, id)?;
        w.execute("DELETE FROM tasks WHERE id = ?1", [id])?;
        w.audit(
            EntityKind::Task,
            id,
            AuditAction::Delete,
            diff(Some(&old), None),
        );
        Ok(old)
    })
}

/// Clears the environment of every task that uses `environment_id`, with an audit row each.
pub(crate) fn detach_environment(w: &mut Writer<'_>, environment_id: &str) -> Result<usize> {
    let tasks: Vec<Task> = w
        .prepare(&format!(
            "SELECT {COLUMNS} FROM tasks WHERE environment_id = ?1"
        ))?
        .query_map([environment_id], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    for old in &tasks {
        let new = Task {
            environment_id: None,
            ..old.clone()
        };
        save_changes(w, old, new, AuditAction::Update)?;
    }
    Ok(tasks.len())
}

pub(crate) fn count_using_environment(conn: &Connection, environment_id: &str) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM tasks WHERE environment_id = ?1",
        [environment_id],
        |r| r.get(0),
    )?)
}

fn save_changes(
    w: &mut Writer<'_>,
    old: &Task,
    mut new: Task,
    action: AuditAction,
) -> Result<Task> {
    let changes = diff(Some(old), Some(&new));
    if changes.is_empty() {
        return Ok(old.clone());
    }
    new.updated_at = w.now();
    w.update_changed(
        EntityKind::Task,
        &new.id,
        action,
        changes,
        |field| match field {
            "title" => new.title.clone().into(),
            "description" => new.description.clone().into(),
            "status" => new.status.as_str().to_string().into(),
            "priority" => new.priority.rank().into(),
            "environment_id" => new.environment_id.clone().into(),
            "archived" => i64::from(new.archived).into(),
            other => unreachable!("task field `{other}` is not editable"),
        },
    )?;
    Ok(new)
}
