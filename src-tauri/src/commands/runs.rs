//! Run commands: list and read runs and their timelines, start a task's run, cancel, re-run;
//! a worktree run's diff, merge, discard, editor and re-run in its worktree.
//! New timeline lines of live runs also arrive as `run-events` (see [`crate::events`]).

use flightdeck_core::runs::{self, worktree};
use flightdeck_types::{
    Execution, ExecutionEvent, ExecutionFilter, MergeOutcome, RunDiff, StartRun, WorktreeRecord,
};
use tauri::State;

use crate::error::{from_core, CommandResult};
use crate::state::AppState;

#[tauri::command]
pub fn list_runs(
    state: State<'_, AppState>,
    filter: ExecutionFilter,
) -> CommandResult<Vec<Execution>> {
    runs::list(state.store()?, &filter).map_err(from_core)
}

#[tauri::command]
pub fn get_run(state: State<'_, AppState>, id: String) -> CommandResult<Execution> {
    runs::get(state.store()?, &id).map_err(from_core)
}

/// The run's timeline lines after `after_seq`, in order, at most `limit` (1,000 when absent).
#[tauri::command]
pub fn run_events(
    state: State<'_, AppState>,
    id: String,
    after_seq: i64,
    limit: Option<u32>,
) -> CommandResult<Vec<ExecutionEvent>> {
    runs::events(state.store()?, &id, after_seq, limit.unwrap_or(1_000)).map_err(from_core)
}

#[tauri::command]
pub fn start_run(state: State<'_, AppState>, input: StartRun) -> CommandResult<Execution> {
    runs::start_for_task(state.store()?, &input).map_err(from_core)
}

#[tauri::command]
pub fn cancel_run(state: State<'_, AppState>, id: String) -> CommandResult<Execution> {
    runs::request_cancel(state.store()?, &id).map_err(from_core)
}

#[tauri::command]
pub fn rerun(state: State<'_, AppState>, id: String) -> CommandResult<Execution> {
    runs::rerun(state.store()?, &id).map_err(from_core)
}

/// A fork of plain run `id`: the same run with fields of its spec edited (field, text), as
/// `flightdeck fork RUN --input FIELD=TEXT`.
#[tauri::command]
pub fn fork_run(
    state: State<'_, AppState>,
    id: String,
    inputs: Vec<(String, String)>,
) -> CommandResult<Execution> {
    runs::fork(state.store()?, &id, &inputs).map_err(from_core)
}

/// The runs forked from plain run `id`, oldest first.
#[tauri::command]
pub fn run_forks(state: State<'_, AppState>, id: String) -> CommandResult<Vec<String>> {
    runs::forks_of(state.store()?, &id).map_err(from_core)
}

#[tauri::command]
pub fn run_diff(state: State<'_, AppState>, id: String) -> CommandResult<RunDiff> {
    worktree::diff_of(state.store()?, &id).map_err(from_core)
}

#[tauri::command]
pub fn merge_run(state: State<'_, AppState>, id: String) -> CommandResult<MergeOutcome> {
    worktree::merge(state.store()?, &id).map_err(from_core)
}

#[tauri::command]
pub fn discard_run(state: State<'_, AppState>, id: String) -> CommandResult<WorktreeRecord> {
    worktree::discard(state.store()?, &id).map_err(from_core)
}

#[tauri::command]
pub fn rerun_in_worktree(state: State<'_, AppState>, id: String) -> CommandResult<Execution> {
    runs::rerun_in_worktree(state.store()?, &id).map_err(from_core)
}

/// Opens the worktree in `$VISUAL`, else `$EDITOR`, else the desktop's default for a folder;
/// returns its path.
#[tauri::command]
pub fn open_worktree(state: State<'_, AppState>, id: String) -> CommandResult<String> {
    let editor = std::env::var("VISUAL")
        .ok()
        .or_else(|| std::env::var("EDITOR").ok());
    worktree::open_in_editor(state.store()?, &id, editor.as_deref())
        .map(|p| p.display().to_string())
        .map_err(from_core)
}
