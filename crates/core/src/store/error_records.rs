//! SQL for error records.

use flightdeck_types::{ErrorFilter, ErrorKind, ErrorRecord, RecoveryStatus, Severity, Timestamp};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::{CoreError, Result};

const COLUMNS: &str = "id, execution_id, task_id, schedule_id, severity, message, details, \
     recovery_status, attempts, max_attempts, next_retry_at, created_at, updated_at, kind";

fn from_row(row: &Row<'_>) -> rusqlite::Result<ErrorRecord> {
    let severity: String = row.get(4)?;
    let details: String = row.get(6)?;
    let status: String = row.get(7)?;
    let kind: String = row.get(13)?;
    Ok(ErrorRecord {
        id: row.get(0)?,
        // A kind from a newer peer reads as a failure's record (shown, never hidden).
        kind: kind.parse().unwrap_or_default(),
        execution_id: row.get(1)?,
        task_id: row.get(2)?,
        schedule_id: row.get(3)?,
        // Values this build does not know came from a newer peer: show them as the most
        // cautious known ones rather than hide the record.
        severity: severity.parse().unwrap_or(Severity::High),
        message: row.get(5)?,
        details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
        recovery_status: status.parse().unwrap_or(RecoveryStatus::New),
        attempts: row.get(8)?,
        max_attempts: row.get(9)?,
        next_retry_at: row.get::<_, Option<i64>>(10)?.map(Timestamp),
        created_at: Timestamp(row.get(11)?),
        updated_at: Timestamp(row.get(12)?),
    })
}

pub fn insert(conn: &Connection, r: &ErrorRecord) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO error_records (id, execution_id, task_id, schedule_id, severity, message,
             details, recovery_status, attempts, max_attempts, next_retry_at, created_at,
             updated_at, kind)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        r.id,
        r.execution_id,
        r.task_id,
        r.schedule_id,
        r.severity.as_str(),
        r.message,
        r.details.to_string(),
        r.recovery_status.as_str(),
        r.attempts,
        r.max_attempts,
        r.next_retry_at.map(Timestamp::as_millis),
        r.created_at.as_millis(),
        r.updated_at.as_millis(),
        r.kind.as_str(),
    ])?;
    Ok(())
}

pub fn find(conn: &Connection, id: &str) -> Result<ErrorRecord> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM error_records WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()?
    .ok_or_else(|| CoreError::NotFound {
        kind: "error record",
        key: id.to_string(),
    })
}

/// The failure record whose latest attempt is `execution_id`, if any.
pub fn for_execution(conn: &Connection, execution_id: &str) -> Result<Option<ErrorRecord>> {
    of_kind(conn, execution_id, ErrorKind::Failure)
}

/// The record of `kind` of run `execution_id`, if any (the latest).
pub fn of_kind(
    conn: &Connection,
    execution_id: &str,
    kind: ErrorKind,
) -> Result<Option<ErrorRecord>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM error_records WHERE execution_id = ?1 AND kind = ?2
             ORDER BY created_at DESC LIMIT 1"
        ))?
        .query_row(params![execution_id, kind.as_str()], from_row)
        .optional()?)
}

/// Slow-run records made in `[since, until)`, newest first.
pub fn slow_between(
    conn: &Connection,
    since: Timestamp,
    until: Timestamp,
) -> Result<Vec<ErrorRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM error_records
         WHERE kind = 'slow' AND created_at >= ?1 AND created_at < ?2
         ORDER BY created_at DESC, id DESC"
    ))?;
    let rows = stmt.query_map(params![since.as_millis(), until.as_millis()], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Slow-run records made after `after`, oldest first (what the app notifies about).
pub fn slow_since(conn: &Connection, after: Timestamp) -> Result<Vec<ErrorRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM error_records
         WHERE kind = 'slow' AND created_at > ?1 ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map([after.as_millis()], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn list(conn: &Connection, filter: &ErrorFilter) -> Result<Vec<ErrorRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM error_records
         WHERE (?1 IS NULL OR recovery_status = ?1) AND (?2 IS NULL OR severity = ?2)
           AND (?3 IS NULL OR task_id = ?3) AND (?5 IS NULL OR kind = ?5)
         ORDER BY updated_at DESC, id DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(
        params![
            filter.status.map(RecoveryStatus::as_str),
            filter.severity.map(Severity::as_str),
            filter.task_id,
            filter.limit.unwrap_or(100),
            filter.kind.map(ErrorKind::as_str),
        ],
        from_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Escalated records changed after `after`, oldest first (what the app notifies about).
pub fn escalated_since(conn: &Connection, after: Timestamp) -> Result<Vec<ErrorRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM error_records
         WHERE recovery_status = 'escalated' AND updated_at > ?1 ORDER BY updated_at, id"
    ))?;
    let rows = stmt.query_map([after.as_millis()], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
