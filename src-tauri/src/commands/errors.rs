//! Error commands: the error records of failed runs, and what a person can do about one.

use flightdeck_core::recovery;
use flightdeck_types::{ErrorFilter, ErrorRecord};
use tauri::State;

use crate::error::{from_core, CommandResult};
use crate::state::AppState;

#[tauri::command]
pub fn list_errors(
    state: State<'_, AppState>,
    filter: ErrorFilter,
) -> CommandResult<Vec<ErrorRecord>> {
    recovery::list(state.store()?, &filter).map_err(from_core)
}

/// Runs the failed work again now, even past the retry policy's attempts.
#[tauri::command]
pub fn retry_error(state: State<'_, AppState>, id: String) -> CommandResult<ErrorRecord> {
    recovery::retry(state.store()?, &id).map_err(from_core)
}

#[tauri::command]
pub fn resolve_error(state: State<'_, AppState>, id: String) -> CommandResult<ErrorRecord> {
    recovery::resolve(state.store()?, &id).map_err(from_core)
}

#[tauri::command]
pub fn ignore_error(state: State<'_, AppState>, id: String) -> CommandResult<ErrorRecord> {
    recovery::ignore(state.store()?, &id).map_err(from_core)
}

#[tauri::command]
pub fn escalate_error(state: State<'_, AppState>, id: String) -> CommandResult<ErrorRecord> {
    recovery::escalate(state.store()?, &id).map_err(from_core)
}
