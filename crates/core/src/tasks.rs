//! Tasks: create, read, list, update, archive, delete. Every change goes through the write
//! path with an audit row.

use flightdeck_types::validate::{long_text, task_title};
use flightdeck_types::{AuditAction, EntityKind, NewTask, Task, TaskFilter, TaskPatch};
use rusqlite::Connection;

use crate::audit::diff;
use crate::environments;
use crate::error::{CoreError, Result};
use crate::store::{tasks as rows, Store, Writer};

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
            expected_secs: input.expected_secs.filter(|s| *s > 0),
            created_at: w.now(),
            updated_at: w.now(),
        };
        rows::insert(w, &task)?;
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
    store.read(|conn| rows::find(conn, id))
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
        rows::list(
            conn,
            filter.status,
            environment_id.as_deref(),
            search.as_deref(),
            filter.include_archived,
        )
    })
}

/// Applies `patch`, writing only the fields that actually change so that concurrent edits
/// of other fields on other devices survive the merge.
pub fn update(store: &Store, id: &str, patch: TaskPatch) -> Result<Task> {
    if patch.is_empty() {
        return Err(CoreError::invalid(
            "update",
            "nothing to change: give at least one of title, description, status, priority, \
             environment, expected duration",
        ));
    }
    let title = patch.title.as_deref().map(task_title).transpose()?;
    let description = patch
        .description
        .as_deref()
        .map(|d| long_text("description", d))
        .transpose()?;
    store.write(|w| {
        let old = rows::find(w, id)?;
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
        if let Some(expected) = patch.expected_secs {
            new.expected_secs = expected;
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
        let old = rows::find(w, id)?;
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
        let old = rows::find(w, id)?;
        delete_in(w, &old)?;
        Ok(old)
    })
}

/// Deletes task `old` inside the caller's write, audited.
fn delete_in(w: &mut Writer<'_>, old: &Task) -> Result<()> {
    rows::delete(w, &old.id)?;
    w.audit(
        EntityKind::Task,
        &old.id,
        AuditAction::Delete,
        diff(Some(old), None),
    );
    Ok(())
}

/// Puts task `id` back as `target` (its state at a past instant, see [`crate::restore`]):
/// changed fields written and audited as an update, a task that did not exist then deleted,
/// one deleted since recreated with its id. `current` is the row as it is now.
pub(crate) fn restore_in(
    w: &mut Writer<'_>,
    id: &str,
    current: Option<Task>,
    target: Option<Task>,
) -> Result<()> {
    match (current, target) {
        (None, None) => Ok(()),
        (Some(old), None) => delete_in(w, &old),
        (None, Some(mut task)) => {
            task.updated_at = w.now();
            rows::insert(w, &task)?;
            w.audit(
                EntityKind::Task,
                id,
                AuditAction::Create,
                diff(None, Some(&task)),
            );
            Ok(())
        }
        (Some(old), Some(new)) => save_changes(w, &old, new, AuditAction::Update).map(|_| ()),
    }
}

/// Task `id` as it is now, if it exists.
pub(crate) fn find_in(conn: &Connection, id: &str) -> Result<Option<Task>> {
    match rows::find(conn, id) {
        Ok(task) => Ok(Some(task)),
        Err(CoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Clears the environment of every task that uses `environment_id`, with an audit row each.
pub(crate) fn detach_environment(w: &mut Writer<'_>, environment_id: &str) -> Result<usize> {
    let tasks = rows::using_environment(w, environment_id)?;
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
    rows::count_using_environment(conn, environment_id)
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
            "expected_secs" => new.expected_secs.map(|s| s as i64).into(),
            other => unreachable!("task field `{other}` is not editable"),
        },
    )?;
    Ok(new)
}
