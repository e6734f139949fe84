//! SQL for tasks.

use flightdeck_types::{Priority, Task, TaskStatus, Timestamp};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::{CoreError, Result};

const COLUMNS: &str = "id, title, description, status, priority, environment_id, archived, \
     created_at, updated_at, expected_secs";

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
        expected_secs: row.get(9)?,
    })
}

pub fn find(conn: &Connection, id: &str) -> Result<Task> {
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

/// The environment of task `id` now; none when it has none or no longer exists.
pub fn environment_of(conn: &Connection, id: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT environment_id FROM tasks WHERE id = ?1")?
        .query_row([id], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

pub fn insert(conn: &Connection, task: &Task) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO tasks (id, title, description, status, priority, environment_id,
                            archived, created_at, updated_at, expected_secs)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        task.id,
        task.title,
        task.description,
        task.status.as_str(),
        task.priority.rank(),
        task.environment_id,
        task.archived,
        task.created_at.as_millis(),
        task.updated_at.as_millis(),
        task.expected_secs,
    ])?;
    Ok(())
}

/// Tasks matching every given condition; `search` is lower-case text in the title or
/// description. Most urgent first, then most recently updated.
pub fn list(
    conn: &Connection,
    status: Option<TaskStatus>,
    environment_id: Option<&str>,
    search: Option<&str>,
    include_archived: bool,
) -> Result<Vec<Task>> {
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
            status.map(TaskStatus::as_str),
            environment_id,
            search,
            include_archived
        ],
        from_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn delete(conn: &Connection, id: &str) -> Result<()> {
    conn.execute("DELETE FROM tasks WHERE id = ?1", [id])?;
    Ok(())
}

pub fn using_environment(conn: &Connection, environment_id: &str) -> Result<Vec<Task>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM tasks WHERE environment_id = ?1"
    ))?;
    let rows = stmt.query_map([environment_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn count_using_environment(conn: &Connection, environment_id: &str) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM tasks WHERE environment_id = ?1",
        [environment_id],
        |r| r.get(0),
    )?)
}
