//! SQL for the audit log (rows are written by the write path, `store/write.rs`; a write that
//! stages its history puts them in `staged_audit_log` first, which readers read too).

use flightdeck_types::{AuditEntry, Timestamp};
use rusqlite::{params, Connection, Row};

use crate::error::{CoreError, Result};

pub(super) const COLUMNS: &str = "id, entity, entity_id, action, changes, device_id, at";

type Raw = (String, String, String, String, String, String, i64);

fn raw(row: &Row<'_>) -> rusqlite::Result<Raw> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
    ))
}

fn entry((id, entity, entity_id, action, changes, device_id, at): Raw) -> Result<AuditEntry> {
    let corrupt = |what: String| CoreError::Corrupt(format!("audit row {id}: {what}"));
    Ok(AuditEntry {
        entity: entity.parse().map_err(corrupt)?,
        action: action.parse().map_err(corrupt)?,
        changes: serde_json::from_str(&changes).map_err(|e| corrupt(format!("changes: {e}")))?,
        id,
        entity_id,
        device_id,
        at: Timestamp(at),
    })
}

/// Audit rows, newest first, optionally about one entity.
pub fn list(conn: &Connection, entity_id: Option<&str>, limit: i64) -> Result<Vec<AuditEntry>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM audit_log WHERE (?1 IS NULL OR entity_id = ?1)
         UNION ALL
         SELECT {COLUMNS} FROM staged_audit_log WHERE (?1 IS NULL OR entity_id = ?1)
         ORDER BY at DESC, id DESC LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![entity_id, limit], raw)?;
    rows.map(|r| entry(r?)).collect()
}

/// Audit rows about `entity` rows (one row when `entity_id` is given) recorded after `after`
/// (ms), newest first: what a restore to that instant undoes.
pub fn after(
    conn: &Connection,
    entity: &str,
    entity_id: Option<&str>,
    after: i64,
) -> Result<Vec<AuditEntry>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM audit_log
         WHERE entity = ?1 AND (?2 IS NULL OR entity_id = ?2) AND at > ?3
         UNION ALL
         SELECT {COLUMNS} FROM staged_audit_log
         WHERE entity = ?1 AND (?2 IS NULL OR entity_id = ?2) AND at > ?3
         ORDER BY at DESC, id DESC"
    ))?;
    let rows = stmt.query_map(params![entity, entity_id, after], raw)?;
    rows.map(|r| entry(r?)).collect()
}
