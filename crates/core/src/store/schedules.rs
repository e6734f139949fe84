//! SQL for schedules.

use flightdeck_types::{ExecutionSpec, RetryPolicy, Schedule, Timestamp};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::{CoreError, Result};

const COLUMNS: &str = "id, name, task_id, kind, cron_expr, timezone, interval_secs, run_at, \
     spec, misfire_policy, misfire_cap, overlap_policy, retry_policy, enabled, runner_device_id, \
     last_fired_at, next_fire_at, created_at, updated_at, cron_dialect, expected_secs";

fn text_err(i: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
}

fn enum_err(i: usize, msg: String) -> rusqlite::Error {
    text_err(i, std::io::Error::new(std::io::ErrorKind::InvalidData, msg))
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Schedule> {
    let ts = |i: usize| -> rusqlite::Result<Option<Timestamp>> {
        Ok(row.get::<_, Option<i64>>(i)?.map(Timestamp))
    };
    let spec: String = row.get(8)?;
    let policy: String = row.get(12)?;
    Ok(Schedule {
        id: row.get(0)?,
        name: row.get(1)?,
        task_id: row.get(2)?,
        kind: row
            .get::<_, String>(3)?
            .parse()
            .map_err(|e| enum_err(3, e))?,
        cron_expr: row.get(4)?,
        timezone: row.get(5)?,
        interval_secs: row.get(6)?,
        run_at: ts(7)?,
        spec: serde_json::from_str::<ExecutionSpec>(&spec).map_err(|e| text_err(8, e))?,
        misfire_policy: row
            .get::<_, String>(9)?
            .parse()
            .map_err(|e| enum_err(9, e))?,
        misfire_cap: row.get(10)?,
        overlap_policy: row
            .get::<_, String>(11)?
            .parse()
            .map_err(|e| enum_err(11, e))?,
        retry_policy: serde_json::from_str::<RetryPolicy>(&policy).unwrap_or_default(),
        enabled: row.get::<_, i64>(13)? != 0,
        runner_device_id: row.get(14)?,
        last_fired_at: ts(15)?,
        next_fire_at: ts(16)?,
        created_at: Timestamp(row.get(17)?),
        updated_at: Timestamp(row.get(18)?),
        cron_dialect: row
            .get::<_, String>(19)?
            .parse()
            .map_err(|e| enum_err(19, e))?,
        expected_secs: row.get(20)?,
    })
}

pub fn insert(conn: &Connection, s: &Schedule) -> Result<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO schedules ({COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                 ?18, ?19, ?20, ?21)"
    ))?
    .execute(params![
        s.id,
        s.name,
        s.task_id,
        s.kind.as_str(),
        s.cron_expr,
        s.timezone,
        s.interval_secs,
        s.run_at.map(Timestamp::as_millis),
        serde_json::to_string(&s.spec).expect("specs always serialize"),
        s.misfire_policy.as_str(),
        s.misfire_cap,
        s.overlap_policy.as_str(),
        serde_json::to_string(&s.retry_policy).expect("policies always serialize"),
        s.enabled,
        s.runner_device_id,
        s.last_fired_at.map(Timestamp::as_millis),
        s.next_fire_at.map(Timestamp::as_millis),
        s.created_at.as_millis(),
        s.updated_at.as_millis(),
        s.cron_dialect.as_str(),
        s.expected_secs,
    ])?;
    // `executor` mirrors the spec's tag for queries that do not parse JSON.
    conn.prepare_cached("UPDATE schedules SET executor = ?2 WHERE id = ?1")?
        .execute(params![s.id, s.spec.kind().as_str()])?;
    Ok(())
}

pub fn find(conn: &Connection, id: &str) -> Result<Schedule> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM schedules WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()?
    .ok_or_else(|| CoreError::NotFound {
        kind: "schedule",
        key: id.to_string(),
    })
}

pub fn list(conn: &Connection) -> Result<Vec<Schedule>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM schedules ORDER BY name, id"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Enabled schedules run by `device_id` whose next fire is at or before `now`.
pub fn due(conn: &Connection, device_id: &str, now: Timestamp) -> Result<Vec<Schedule>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM schedules
         WHERE runner_device_id = ?1 AND enabled = 1 AND next_fire_at <= ?2
         ORDER BY next_fire_at, id"
    ))?;
    let rows = stmt.query_map(params![device_id, now.as_millis()], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The earliest next fire among `device_id`'s enabled schedules.
pub fn earliest_fire(conn: &Connection, device_id: &str) -> Result<Option<Timestamp>> {
    let at: Option<i64> = conn
        .prepare_cached(
            "SELECT min(next_fire_at) FROM schedules
             WHERE runner_device_id = ?1 AND enabled = 1",
        )?
        .query_row([device_id], |r| r.get(0))?;
    Ok(at.map(Timestamp))
}

/// How many of `device_id`'s enabled schedules fire at or before `at`.
pub fn count_due(conn: &Connection, device_id: &str, at: Timestamp) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM schedules
             WHERE runner_device_id = ?1 AND enabled = 1 AND next_fire_at <= ?2",
        )?
        .query_row(params![device_id, at.as_millis()], |r| r.get(0))?)
}

/// Records a fire: the instant it stood for and the next one.
pub fn set_fired(
    conn: &Connection,
    id: &str,
    last_fired_at: Option<Timestamp>,
    next_fire_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE schedules SET last_fired_at = ?2, next_fire_at = ?3, updated_at = ?4
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        last_fired_at.map(Timestamp::as_millis),
        next_fire_at.map(Timestamp::as_millis),
        now.as_millis()
    ])?;
    Ok(())
}

pub fn delete(conn: &Connection, id: &str) -> Result<()> {
    conn.execute("DELETE FROM schedules WHERE id = ?1", [id])?;
    Ok(())
}

/// Live (queued or running) runs of a schedule as (id, status), oldest first.
pub fn live_runs(conn: &Connection, schedule_id: &str) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, status FROM executions
         WHERE schedule_id = ?1 AND status IN ('queued', 'running')
         ORDER BY queued_at, id",
    )?;
    let rows = stmt.query_map([schedule_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Queued runs of a schedule still waiting for their `not_before` (fired ahead), by id.
pub fn waiting_runs(conn: &Connection, schedule_id: &str, now: Timestamp) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM executions
         WHERE schedule_id = ?1 AND status = 'queued' AND not_before > ?2
           AND cancel_requested_at IS NULL
         ORDER BY id",
    )?;
    let rows = stmt.query_map(params![schedule_id, now.as_millis()], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
