//! The rows insights are computed from: one per run queued in a window, with the group it
//! falls in, and the kept figures of the days that have ended. How they stay fast at a million
//! runs (measured in `benches/insights.rs`):
//!
//! - every day of the window that has ended is read from `insights_days` (migration 0025):
//!   per day and group, the runs per status and every duration and queue time, packed. The
//!   percentiles must be exact for any window, so the values themselves are kept, not a
//!   histogram or a mean; what is saved is stepping through a million index entries and
//!   reading their columns one by one (most of the time before), since a group's day is one
//!   row. It is a cache, not a second copy that sync must keep right: triggers on the runs'
//!   tables drop a day's rows whenever a run of that day is written (a local write or a
//!   merged change), and the next read fills it again from the runs, inside a write
//!   transaction so that no run can change between the read and the keep. Maintaining it
//!   costs a write one indexed delete of (almost always) nothing; the figures never come
//!   from anything but the runs.
//! - the rest of the window (today, and the partial days at its edges) is read from an
//!   index holding every column the figures need, in queue order (migration 0023), so a
//!   run's wide row (its spec, its result) is never read;
//! - each row is read into a few integers: the group key and the status are interned (no
//!   string per row), and the labels (task titles, names) are read once per group, not
//!   joined to every run.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use flightdeck_types::{InsightsGroup, Timestamp};
use rusqlite::types::Value;
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::Result;

/// A run as the figures need it; `key` and `status` index [`Facts::keys`] and
/// [`Facts::statuses`].
#[derive(Debug, Clone, Copy)]
pub struct RunFact {
    pub key: u32,
    pub status: u32,
    pub queued_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub attempt: u32,
}

/// The runs of a window, with their distinct group keys and statuses.
#[derive(Debug, Default)]
pub struct Facts {
    pub keys: Vec<Option<String>>,
    pub statuses: Vec<String>,
    pub rows: Vec<RunFact>,
}

impl Facts {
    /// Adds the runs of `other` (another part of the window), its keys and statuses mapped
    /// onto this one's.
    pub fn append(&mut self, other: Facts) {
        let intern = |list: &mut Vec<Option<String>>, item: Option<String>| -> u32 {
            match list.iter().position(|k| *k == item) {
                Some(i) => i as u32,
                None => {
                    list.push(item);
                    list.len() as u32 - 1
                }
            }
        };
        let keys: Vec<u32> = other
            .keys
            .into_iter()
            .map(|k| intern(&mut self.keys, k))
            .collect();
        let mut statuses: Vec<Option<String>> = self.statuses.drain(..).map(Some).collect();
        let status_map: Vec<u32> = other
            .statuses
            .into_iter()
            .map(|s| intern(&mut statuses, Some(s)))
            .collect();
        self.statuses = statuses.into_iter().flatten().collect();
        self.rows.extend(other.rows.into_iter().map(|r| RunFact {
            key: keys[r.key as usize],
            status: status_map[r.status as usize],
            ..r
        }));
    }
}

/// [`run_facts`] on a connection of its own to the database at `path` (read only, no
/// extensions: these tables and indexes need none), so that part of a window can be read on
/// another core while the store's connection reads the rest.
pub fn run_facts_at(
    path: &std::path::Path,
    by: InsightsGroup,
    since: Timestamp,
    until: Timestamp,
) -> Result<Facts> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch("PRAGMA mmap_size = 1073741824;")?;
    run_facts(&conn, by, since, until)
}

/// A step's id without a fan-out item's `[INDEX]`.
const STEP_BASE: &str = "CASE WHEN instr(e.step_id, '[') > 0 \
     THEN substr(e.step_id, 1, instr(e.step_id, '[') - 1) ELSE e.step_id END";

/// Every run queued in `[since, until)`, keyed by `by`.
pub fn run_facts(
    conn: &Connection,
    by: InsightsGroup,
    since: Timestamp,
    until: Timestamp,
) -> Result<Facts> {
    // Read through the covering index of migration 0023: every column here is in it.
    let scan = "INDEXED BY executions_insights";
    let runs = format!(
        "e.status, e.queued_at, e.started_at, e.finished_at, e.attempt FROM executions e {scan}"
    );
    let window = "e.queued_at >= ?1 AND e.queued_at < ?2";
    let sql = match by {
        InsightsGroup::Task => format!("SELECT e.task_id, {runs} WHERE {window}"),
        InsightsGroup::Env => format!("SELECT e.environment_id, {runs} WHERE {window}"),
        InsightsGroup::Executor => format!("SELECT e.executor, {runs} WHERE {window}"),
        InsightsGroup::Schedule => format!("SELECT e.schedule_id, {runs} WHERE {window}"),
        InsightsGroup::Step => format!(
            "SELECT w.workflow_name || '/' || {STEP_BASE}, {runs} \
             JOIN workflow_runs w ON w.id = e.workflow_run_id \
             WHERE {window} AND e.step_id IS NOT NULL"
        ),
        InsightsGroup::Workflow => format!(
            "SELECT e.workflow_name, e.status, e.queued_at, e.started_at, e.finished_at, 1 \
             FROM workflow_runs e INDEXED BY workflow_runs_insights WHERE {window}"
        ),
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![since.as_millis(), until.as_millis()])?;
    let mut facts = Facts::default();
    let mut keys: HashMap<String, u32, BuildHasherDefault<Fx>> = HashMap::default();
    let mut none_key: Option<u32> = None;
    while let Some(r) = rows.next()? {
        let key = match r.get_ref(0)? {
            ValueRef::Text(t) => {
                let text = std::str::from_utf8(t).unwrap_or_default();
                match keys.get(text) {
                    Some(i) => *i,
                    None => {
                        let i = facts.keys.len() as u32;
                        facts.keys.push(Some(text.to_string()));
                        keys.insert(text.to_string(), i);
                        i
                    }
                }
            }
            _ => *none_key.get_or_insert_with(|| {
                facts.keys.push(None);
                facts.keys.len() as u32 - 1
            }),
        };
        // A handful of statuses: found by comparing, not hashing.
        let status_text = r.get_ref(1)?.as_str().unwrap_or_default();
        let status = match facts.statuses.iter().position(|s| s == status_text) {
            Some(i) => i as u32,
            None => {
                facts.statuses.push(status_text.to_string());
                facts.statuses.len() as u32 - 1
            }
        };
        facts.rows.push(RunFact {
            key,
            status,
            queued_at: r.get(2)?,
            started_at: r.get(3)?,
            finished_at: r.get(4)?,
            attempt: r.get(5)?,
        });
    }
    Ok(facts)
}

/// A quick hash for the group keys of one read (ids this store wrote, never an attacker's
/// choice of collisions that matters: a slow read at worst), several times cheaper than
/// the default's per key, which at a million runs was a tenth of the read.
#[derive(Default)]
struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// What a person reads for group key `key`: the task's title, the environment's or the
/// schedule's name; `None` for the other groupings, or when it is gone or empty.
pub fn label(conn: &Connection, by: InsightsGroup, key: &str) -> Result<Option<String>> {
    let sql = match by {
        InsightsGroup::Task => "SELECT title FROM tasks WHERE id = ?1",
        InsightsGroup::Env => "SELECT name FROM environments WHERE id = ?1",
        InsightsGroup::Schedule => "SELECT name FROM schedules WHERE id = ?1",
        _ => return Ok(None),
    };
    Ok(conn
        .prepare_cached(sql)?
        .query_row([key], |r| r.get::<_, String>(0))
        .optional()?
        .filter(|l| !l.is_empty()))
}

/// A failed run of the window (failed, timed out or interrupted): id, message, when.
pub fn failed_runs(
    conn: &Connection,
    since: Timestamp,
    until: Timestamp,
) -> Result<Vec<(String, String, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT id, coalesce(error, ''), coalesce(finished_at, queued_at) FROM executions
         WHERE queued_at >= ?1 AND queued_at < ?2
           AND status IN ('failed', 'timed_out', 'interrupted')",
    )?;
    let rows = stmt.query_map(params![since.as_millis(), until.as_millis()], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A step run of a succeeded workflow run queued in the window: the workflow's name, the
/// run's id, start and end, the step (without a fan-out item's index), its run's start and end.
pub type StepSegment = (String, String, i64, i64, String, i64, i64);

/// Every step run that started and ended, of the workflow runs queued in `[since, until)` that
/// succeeded (of `workflow` only, when given); a run's segments together.
pub fn step_segments(
    conn: &Connection,
    since: Timestamp,
    until: Timestamp,
    workflow: Option<&str>,
) -> Result<Vec<StepSegment>> {
    let sql = format!(
        "SELECT w.workflow_name, w.id, w.started_at, w.finished_at, {STEP_BASE},
                e.started_at, e.finished_at
         FROM workflow_runs w JOIN executions e ON e.workflow_run_id = w.id
         WHERE w.queued_at >= ?1 AND w.queued_at < ?2 AND w.status = 'succeeded'
           AND (?3 IS NULL OR w.workflow_name = ?3)
           AND w.started_at IS NOT NULL AND w.finished_at IS NOT NULL
           AND e.step_id IS NOT NULL AND e.started_at IS NOT NULL AND e.finished_at IS NOT NULL
         ORDER BY w.id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(
        params![since.as_millis(), until.as_millis(), workflow],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How long the latest (at most `limit`) succeeded runs of task `task_id` took, in ms: plain
/// runs only (a step's runs are judged with their step's). `except`: the run being judged.
pub fn task_history(
    conn: &Connection,
    task_id: &str,
    except: &str,
    limit: usize,
) -> Result<Vec<i64>> {
    // Newest first by rowid: the task index holds rowids in order, so no sort of the history.
    let mut stmt = conn.prepare_cached(
        "SELECT finished_at - started_at FROM executions
         WHERE task_id = ?1 AND id != ?2 AND status = 'succeeded' AND workflow_run_id IS NULL
           AND started_at IS NOT NULL AND finished_at IS NOT NULL
         ORDER BY rowid DESC LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![task_id, except, limit as i64], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The last `n` output lines (stdout and stderr) a run recorded, oldest first.
pub fn last_lines(conn: &Connection, execution_id: &str, n: usize) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT data, seq FROM execution_events
         WHERE execution_id = ?1 AND kind IN ('stdout', 'stderr')
         UNION ALL
         SELECT data, seq FROM staged_execution_events
         WHERE execution_id = ?1 AND kind IN ('stdout', 'stderr')
         ORDER BY seq DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![execution_id, n as i64], |r| r.get(0))?;
    let mut lines: Vec<String> = rows.collect::<rusqlite::Result<_>>()?;
    lines.reverse();
    Ok(lines)
}

/// One group's runs of one ended day, as `insights_days` keeps them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayTally {
    /// The UTC day: `queued_at` in ms / 86,400,000.
    pub day: i64,
    pub key: Option<String>,
    /// Runs per status.
    pub counts: Vec<(String, u64)>,
    pub durations: Vec<i64>,
    pub queued: Vec<i64>,
    pub retries: u64,
    pub first_attempts: u64,
}

/// The kept tallies of grouping `by` for the days `first..=last`. A day that is kept has
/// every group's row, and at least the one of key `''` (with no runs when it had none).
pub fn kept_days(
    conn: &Connection,
    by: InsightsGroup,
    first: i64,
    last: i64,
) -> Result<Vec<DayTally>> {
    let mut stmt = conn.prepare_cached(
        "SELECT day, key, counts, durations, queued, retries, first_attempts FROM insights_days
         WHERE day >= ?1 AND day <= ?2 AND grouping = ?3",
    )?;
    let mut rows = stmt.query(params![first, last, by.as_str()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let key: String = r.get(1)?;
        let counts: std::collections::BTreeMap<String, u64> =
            serde_json::from_str(r.get_ref(2)?.as_str().map_err(rusqlite::Error::from)?)
                .unwrap_or_default();
        out.push(DayTally {
            day: r.get(0)?,
            key: (!key.is_empty()).then_some(key),
            counts: counts.into_iter().collect(),
            durations: unpack(r.get_ref(3)?.as_blob().map_err(rusqlite::Error::from)?),
            queued: unpack(r.get_ref(4)?.as_blob().map_err(rusqlite::Error::from)?),
            retries: r.get(5)?,
            first_attempts: r.get(6)?,
        });
    }
    Ok(out)
}

/// Keeps the tallies of grouping `by` (whole days: every group of each day they cover).
pub fn keep_days(conn: &Connection, by: InsightsGroup, days: &[DayTally]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR REPLACE INTO insights_days
             (day, grouping, key, counts, durations, queued, retries, first_attempts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for d in days {
        let counts: std::collections::BTreeMap<&str, u64> =
            d.counts.iter().map(|(s, n)| (s.as_str(), *n)).collect();
        stmt.execute(params![
            d.day,
            by.as_str(),
            d.key.as_deref().unwrap_or_default(),
            serde_json::to_string(&counts).unwrap_or_default(),
            Value::Blob(pack(&d.durations)),
            Value::Blob(pack(&d.queued)),
            d.retries,
            d.first_attempts,
        ])?;
    }
    Ok(())
}

fn pack(values: &[i64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn unpack(bytes: &[u8]) -> Vec<i64> {
    bytes
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap_or_default()))
        .collect()
}
