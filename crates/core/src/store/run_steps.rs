//! `workflow_run_steps`: a workflow run's step states, a row per checkpoint entry (a step id,
//! or `ID[INDEX]` for a fan-out's item). The run's `checkpoint` cell holds the rest with
//! `steps` empty, so a boundary writes the rows of the steps that moved and a small cell,
//! not every step's state again. Runs saved before migration 0018 hold their steps in
//! `checkpoint`; they read as they are, and a live one moves them here at its next save.
//!
//! Reading a run parses every step's row, which at every boundary of a long chain was most
//! of a step's cost; so the parsed steps of recently read or saved runs are kept per database
//! file, under the run's `steps_rev` (a fresh id each time its rows change, in the same
//! write). They are used only while that id is still the run's and no sync merge happened
//! in this process since: a write from another process or device, or a rolled-back one,
//! changes or restores the id, and any merge drops the lot.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use flightdeck_types::{StepState, WorkflowRun};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{CoreError, Result};

/// Bumped by every merge of other devices' changes: the cache's entries are then stale.
static MERGES: AtomicU64 = AtomicU64::new(0);

/// At most this many runs' steps are kept (a worker has a few runs live at once).
const CACHED_RUNS: usize = 32;

struct Cached {
    rev: String,
    merges: u64,
    /// `None` while the engine holds them (taken in a write, given back by [`keep`]) or
    /// after a save nobody gave the steps back from: the next read parses the rows.
    steps: Option<BTreeMap<String, StepState>>,
}

type Key = (String, String);

fn cache() -> std::sync::MutexGuard<'static, HashMap<Key, Cached>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, Cached>>> = OnceLock::new();
    CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// The cache's key for run `id` in `conn`'s database; none for an in-memory one.
fn key(conn: &Connection, id: &str) -> Option<Key> {
    conn.path()
        .filter(|p| !p.is_empty())
        .map(|p| (p.to_string(), id.to_string()))
}

fn remember(key: Option<Key>, rev: String, steps: Option<BTreeMap<String, StepState>>) {
    let Some(key) = key else { return };
    let mut cache = cache();
    if cache.len() >= CACHED_RUNS && !cache.contains_key(&key) {
        cache.clear();
    }
    let merges = MERGES.load(Ordering::SeqCst);
    cache.insert(key, Cached { rev, merges, steps });
}

/// Called by every merge of changes from other devices (see `changes`, `fresh_rows`).
pub(crate) fn merged() {
    MERGES.fetch_add(1, Ordering::SeqCst);
}

fn rev_of(conn: &Connection, id: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT steps_rev FROM workflow_runs WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .flatten())
}

/// Adds the run's step rows to the steps its `checkpoint` cell held (none since 0018); a row
/// wins over an entry of the same key. `take`: the caller is the engine inside a write,
/// which gives the steps back with [`keep`] once it has saved them; others get a copy.
pub(super) fn load(conn: &Connection, run: &mut WorkflowRun, take: bool) -> Result<()> {
    // A run whose cell still holds steps is read whole, never from the cache.
    let rev = match run.checkpoint.steps.is_empty() {
        true => rev_of(conn, &run.id)?,
        false => None,
    };
    let key = key(conn, &run.id);
    if let (Some(rev), Some(key)) = (&rev, &key) {
        let mut cache = cache();
        if let Some(hit) = cache.get_mut(key).filter(|c| {
            &c.rev == rev && c.merges == MERGES.load(Ordering::SeqCst) && c.steps.is_some()
        }) {
            run.checkpoint.steps = match take {
                true => hit.steps.take().expect("checked above"),
                false => hit.steps.clone().expect("checked above"),
            };
            return Ok(());
        }
    }
    read_rows(conn, run)?;
    if let Some(rev) = rev {
        remember(key, rev, (!take).then(|| run.checkpoint.steps.clone()));
    }
    Ok(())
}

/// Gives back the steps of run `id` that [`load`] handed over with `take`, as they are now
/// saved (or were read, if nothing moved).
pub fn keep(conn: &Connection, id: &str, steps: BTreeMap<String, StepState>) {
    let Some(key) = key(conn, id) else { return };
    if let Some(entry) = cache().get_mut(&key) {
        entry.steps = Some(steps);
    }
}

fn read_rows(conn: &Connection, run: &mut WorkflowRun) -> Result<()> {
    let mut stmt =
        conn.prepare_cached("SELECT step_key, state FROM workflow_run_steps WHERE run_id = ?1")?;
    let mut rows = stmt.query([&run.id])?;
    while let Some(row) = rows.next()? {
        let key: String = row.get(0)?;
        let text = row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
        let state: StepState = serde_json::from_str(text).map_err(|e| {
            CoreError::Corrupt(format!("workflow run {} step `{key}`: {e}", run.id))
        })?;
        run.checkpoint.steps.insert(key, state);
    }
    Ok(())
}

/// Writes the rows of the entries in `moved` (changed since the run was read; deleting those
/// no longer there); every entry's row when `moved` is `None`.
pub(super) fn save(
    conn: &Connection,
    run: &WorkflowRun,
    moved: Option<&BTreeSet<String>>,
) -> Result<()> {
    let mut upsert = conn.prepare_cached(
        "INSERT INTO workflow_run_steps (run_id, step_key, state) VALUES (?1, ?2, ?3)
         ON CONFLICT (run_id, step_key) DO UPDATE SET state = excluded.state",
    )?;
    let mut write = |key: &String, state: &StepState| -> Result<()> {
        let text = serde_json::to_string(state).expect("step states always serialize");
        upsert.execute(params![run.id, key, text])?;
        Ok(())
    };
    let written = match moved {
        None => {
            for (key, state) in &run.checkpoint.steps {
                write(key, state)?;
            }
            true
        }
        Some(moved) => {
            let mut delete = conn.prepare_cached(
                "DELETE FROM workflow_run_steps WHERE run_id = ?1 AND step_key = ?2",
            )?;
            for key in moved {
                match run.checkpoint.steps.get(key) {
                    Some(state) => write(key, state)?,
                    None => {
                        delete.execute(params![run.id, key])?;
                    }
                }
            }
            !moved.is_empty()
        }
    };
    let key = key(conn, &run.id);
    let rev = match written {
        true => {
            let rev = crate::ids::new_id();
            conn.prepare_cached("UPDATE workflow_runs SET steps_rev = ?2 WHERE id = ?1")?
                .execute(params![run.id, rev])?;
            Some(rev)
        }
        false => rev_of(conn, &run.id)?,
    };
    if let Some(rev) = rev {
        // No copy here: the engine gives its steps back with `keep` after this.
        remember(key, rev, None);
    }
    Ok(())
}

/// Whether run `id`'s `checkpoint` cell still holds step states (saved before 0018, or by a
/// peer that predates it): then its next save writes every step's row.
pub(super) fn held_in_cell(conn: &Connection, id: &str) -> Result<bool> {
    let steps: Option<String> = conn
        .prepare_cached(
            "SELECT json_extract(checkpoint, '$.steps') FROM workflow_runs WHERE id = ?1",
        )?
        .query_row([id], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(steps.is_some_and(|s| s != "{}"))
}
