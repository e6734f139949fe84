//! SQL for environments.

use flightdeck_types::{Environment, Timestamp};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::Result;

const COLUMNS: &str = "id, name, repository, working_dir, env_vars, secret_vars, setup_script, \
                       agent_command, created_at, updated_at, agent_context, base_branch";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Environment> {
    let json_err = |i: usize, e: serde_json::Error| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    };
    let env_vars: String = row.get(4)?;
    let secret_vars: String = row.get(5)?;
    Ok(Environment {
        id: row.get(0)?,
        name: row.get(1)?,
        repository: row.get(2)?,
        working_dir: row.get(3)?,
        env_vars: serde_json::from_str(&env_vars).map_err(|e| json_err(4, e))?,
        secret_vars: serde_json::from_str(&secret_vars).map_err(|e| json_err(5, e))?,
        setup_script: row.get(6)?,
        agent_command: row.get(7)?,
        created_at: Timestamp(row.get(8)?),
        updated_at: Timestamp(row.get(9)?),
        agent_context: row.get(10)?,
        base_branch: row.get(11)?,
    })
}

/// Environments whose id or name is `key`, an id match first.
pub fn matching(conn: &Connection, key: &str) -> Result<Vec<Environment>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM environments WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC"
    ))?;
    let found = stmt
        .query_map([key], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(found)
}

/// The id of another environment (not `except_id`) named `name`, if any.
pub fn named(conn: &Connection, name: &str, except_id: Option<&str>) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT id FROM environments WHERE name = ?1 AND id IS NOT ?2 LIMIT 1",
            params![name, except_id],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn insert(conn: &Connection, env: &Environment) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO environments (id, name, repository, working_dir, env_vars, secret_vars,
                                   setup_script, agent_command, created_at, updated_at,
                                   agent_context, base_branch)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        env.id,
        env.name,
        env.repository,
        env.working_dir,
        json(&env.env_vars),
        json(&env.secret_vars),
        env.setup_script,
        env.agent_command,
        env.created_at.as_millis(),
        env.updated_at.as_millis(),
        env.agent_context,
        env.base_branch,
    ])?;
    Ok(())
}

/// All environments, by name.
pub fn list(conn: &Connection) -> Result<Vec<Environment>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM environments ORDER BY name, id"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn delete(conn: &Connection, id: &str) -> Result<()> {
    conn.execute("DELETE FROM environments WHERE id = ?1", [id])?;
    Ok(())
}

/// The stored text of a variables map or a list of secret names.
pub fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("maps and lists of strings always serialize")
}
