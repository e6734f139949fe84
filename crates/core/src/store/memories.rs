//! SQL for memories, the synced rows. Their local derived indexes are in
//! [`super::memory_index`], re-exported here so that the memory module reads both through one
//! name.

use flightdeck_types::{Memory, MemoryFilter, MemoryScope, MemoryScopeKind, Timestamp};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::{CoreError, Result};

pub use super::memory_index::*;

const COLUMNS: &str = "id, content, kind, scope_kind, scope_id, importance, source_execution_id,
    access_count, last_accessed_at, archived, summary_id, created_at, updated_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Memory> {
    let scope_kind: String = row.get(3)?;
    Ok(Memory {
        id: row.get(0)?,
        content: row.get(1)?,
        kind: row.get(2)?,
        scope: MemoryScope {
            // An unknown scope from a newer peer reads as global rather than hiding the row.
            kind: scope_kind.parse().unwrap_or(MemoryScopeKind::Global),
            id: row.get(4)?,
        },
        importance: row.get(5)?,
        source_execution_id: row.get(6)?,
        access_count: row.get(7)?,
        last_accessed_at: row.get::<_, Option<i64>>(8)?.map(Timestamp),
        archived: row.get::<_, i64>(9)? != 0,
        summary_id: row.get(10)?,
        created_at: Timestamp(row.get(11)?),
        updated_at: Timestamp(row.get(12)?),
    })
}

pub fn find(conn: &Connection, id: &str) -> Result<Memory> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM memories WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()?
    .ok_or_else(|| CoreError::NotFound {
        kind: "memory",
        key: id.to_string(),
    })
}

pub fn insert(conn: &Connection, m: &Memory) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO memories (id, content, kind, scope_kind, scope_id, importance,
            source_execution_id, access_count, last_accessed_at, archived, summary_id,
            created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        m.id,
        m.content,
        m.kind,
        m.scope.kind.as_str(),
        m.scope.id,
        m.importance,
        m.source_execution_id,
        m.access_count,
        m.last_accessed_at.map(|t| t.as_millis()),
        m.archived,
        m.summary_id,
        m.created_at.as_millis(),
        m.updated_at.as_millis(),
    ])?;
    Ok(())
}

const FILTER: &str = "(?1 IS NULL OR scope_kind = ?1) AND (?2 IS NULL OR scope_id IS ?2)
    AND (?3 IS NULL OR kind = ?3) AND (?4 OR archived = 0)";

fn filter_params(f: &MemoryFilter) -> (Option<&str>, Option<String>, Option<String>, bool) {
    (
        f.scope.as_ref().map(|s| s.kind.as_str()),
        f.scope.as_ref().and_then(|s| s.id.clone()),
        f.kind.clone(),
        f.include_archived,
    )
}

/// Memories matching `filter`, newest first.
pub fn list(conn: &Connection, filter: &MemoryFilter, limit: usize) -> Result<Vec<Memory>> {
    let (sk, sid, kind, arch) = filter_params(filter);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM memories WHERE {FILTER}
         ORDER BY created_at DESC, id DESC LIMIT ?5"
    ))?;
    let rows = stmt.query_map(params![sk, sid, kind, arch, limit as i64], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Of `ids`, those that match `filter`, with their rows.
pub fn matching(conn: &Connection, ids: &[String], filter: &MemoryFilter) -> Result<Vec<Memory>> {
    let (sk, sid, kind, arch) = filter_params(filter);
    // One statement for every id (a JSON array), not one per id: search calls this with
    // about a hundred candidates.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM memories
         WHERE {FILTER} AND id IN (SELECT value FROM json_each(?5))"
    ))?;
    let ids = serde_json::Value::from(ids.to_vec()).to_string();
    let rows = stmt.query_map(params![sk, sid, kind, arch, ids], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Writes a memory's editable fields (content, kind, scope, importance) and `updated_at`;
/// cr-sqlite marks only the columns whose values changed, so a concurrent edit of another
/// field on another device survives the merge.
pub fn update_fields(conn: &Connection, m: &Memory) -> Result<()> {
    let n = conn
        .prepare_cached(
            "UPDATE memories SET content = ?2, kind = ?3, scope_kind = ?4, scope_id = ?5,
                 importance = ?6, updated_at = ?7
             WHERE id = ?1",
        )?
        .execute(params![
            m.id,
            m.content,
            m.kind,
            m.scope.kind.as_str(),
            m.scope.id,
            m.importance,
            m.updated_at.as_millis(),
        ])?;
    if n == 0 {
        return Err(CoreError::NotFound {
            kind: "memory",
            key: m.id.clone(),
        });
    }
    Ok(())
}

pub fn set_archived(
    conn: &Connection,
    id: &str,
    archived: bool,
    summary_id: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    let n = conn.execute(
        "UPDATE memories SET archived = ?2, summary_id = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, archived, summary_id, now.as_millis()],
    )?;
    if n == 0 {
        return Err(CoreError::NotFound {
            kind: "memory",
            key: id.to_string(),
        });
    }
    Ok(())
}

pub fn record_access(conn: &Connection, id: &str, now: Timestamp) -> Result<()> {
    // Only the two access columns change, so concurrent edits elsewhere survive the merge; the
    // index does not look at them, so updated_at stays and nothing is re-embedded.
    conn.execute(
        "UPDATE memories SET access_count = access_count + 1, last_accessed_at = ?2 WHERE id = ?1",
        params![id, now.as_millis()],
    )?;
    Ok(())
}

/// Unarchived, non-summary memories of one scope, oldest first: the size-control candidates.
pub fn scope_members(conn: &Connection, scope: &MemoryScope) -> Result<Vec<Memory>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM memories
         WHERE scope_kind = ?1 AND scope_id IS ?2 AND archived = 0 AND kind != 'summary'
         ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map(params![scope.kind.as_str(), scope.id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn any_memory(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM memories)", [], |r| r.get(0))?)
}

pub fn count_memories(conn: &Connection) -> Result<usize> {
    Ok(conn.query_row("SELECT count(*) FROM memories", [], |r| r.get::<_, i64>(0))? as usize)
}
