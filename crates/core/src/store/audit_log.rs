//! SQL for the audit log (rows are written by the write path, `store/write.rs`).

use flightdeck_types::{AuditEntry, Timestamp};
use rusqlite::{params, Connection};

use crate::error::{CoreError, Result};

/// Audit rows, newest first, optionally about one entity.
pub fn list(conn: &Connection, entity_id: Option<&str>, limit: i64) -> Result<Vec<AuditEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, entity, entity_id, action, changes, device_id, at FROM audit_log
         WHERE (?1 IS NULL OR entity_id = ?1)
         ORDER BY at DESC, id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![entity_id, limit], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, String>(4)?,
            row.get::<_, String>(5)?,
            row.get::<_, i64>(6)?,
        ))
    })?;
    let mut entries = Vec::new();
    for row in rows {
        let (id, entity, entity_id, action, changes, device_id, at) = row?;
        let corrupt = |what: String| CoreError::Corrupt(format!("audit row {id}: {what}"));
        entries.push(AuditEntry {
            entity: entity.parse().map_err(corrupt)?,
            action: action.parse().map_err(corrupt)?,
            changes: serde_json::from_str(&changes)
                .map_err(|e| corrupt(format!("changes: {e}")))?,
            id,
            entity_id,
            device_id,
            at: Timestamp(at),
        });
    }
    Ok(entries)
}
