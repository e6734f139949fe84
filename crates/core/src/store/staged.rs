//! History on its way to the synced tables (migration 0032). The write that ends a workflow
//! step and claims the next one ([`super::Writer::stage_history`]) puts that step's events,
//! audit rows and snapshots into plain local tables, where a row costs a tenth of a cr-sqlite
//! row and its clock rows; the store's next write moves them into the synced tables first
//! thing ([`flush`]). In a chain that next write is the process record of the step just
//! claimed, made while its command runs, so the cr-sqlite work leaves the path from one
//! step's end to the next one's start.
//!
//! Nothing is lost or hidden on the way: the rows are written in the step's own transaction
//! (a crash keeps them, and the next write of whichever process opens the store moves them),
//! and every reader of these tables reads both (the `UNION ALL`s in `executions`,
//! `workflows`, `audit_log` and `insights`). Sync sends them once moved: the moving write is
//! itself a change that wakes the sync daemon, like the step's end before it.

use rusqlite::Connection;

use crate::error::Result;

/// Each history table with its staging twin and the columns they share.
const TABLES: [(&str, &str, &str); 3] = [
    (
        "execution_events",
        "staged_execution_events",
        "execution_id, seq, at, kind, data",
    ),
    (
        "execution_snapshots",
        "staged_execution_snapshots",
        "id, execution_id, workflow_run_id, step_index, label, inputs, outputs, state, \
         started_at, finished_at, step_id, recorded_at",
    ),
    ("audit_log", "staged_audit_log", super::audit_log::COLUMNS),
];

/// The `INSERT` of one row into history table `synced` (one of [`TABLES`]), or into its
/// staging twin when `staging`: the column list is the one the two tables share, in its
/// order, bound as `?1`, `?2`, ...
pub(super) fn insert_sql(synced: &str, staging: bool) -> String {
    let (_, twin, columns) = TABLES
        .iter()
        .find(|(table, _, _)| *table == synced)
        .expect("a history table");
    let table = if staging { twin } else { synced };
    let values = (1..=columns.split(',').count())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("INSERT INTO {table} ({columns}) VALUES ({values})")
}

/// Whether this database has the staging tables (a store opened with an older migration set,
/// as tests do, has not: its writes never stage).
pub(crate) fn present(conn: &Connection) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")?
        .exists([TABLES[0].1])?)
}

/// Moves every staged row into its synced table, inside the caller's transaction. Returns
/// how many rows moved.
pub(crate) fn flush(conn: &Connection) -> Result<usize> {
    let mut moved = 0;
    for (synced, staged, columns) in TABLES {
        let n = conn
            .prepare_cached(&format!(
                "INSERT INTO {synced} ({columns}) SELECT {columns} FROM {staged}"
            ))?
            .execute([])?;
        if n > 0 {
            conn.prepare_cached(&format!("DELETE FROM {staged}"))?
                .execute([])?;
        }
        moved += n;
    }
    Ok(moved)
}

/// How many rows are staged, in all three tables (for tests).
pub fn count(conn: &Connection) -> Result<i64> {
    let mut total = 0;
    for (_, staged, _) in TABLES {
        total += conn.query_row(&format!("SELECT count(*) FROM {staged}"), [], |r| {
            r.get::<_, i64>(0)
        })?;
    }
    Ok(total)
}
