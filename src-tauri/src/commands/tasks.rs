//! Task commands: each is the engine call plus the error mapping.

use flightdeck_core::tasks;
use flightdeck_types::{NewTask, Task, TaskFilter, TaskPatch};
use tauri::State;

use crate::error::{from_core, CommandResult};
use crate::state::AppState;

#[tauri::command]
pub fn list_tasks(state: State<'_, AppState>, filter: TaskFilter) -> CommandResult<Vec<Task>> {
    tasks::list(state.store()?, &filter).map_err(from_core)
}

#[tauri::command]
pub fn get_task(state: State<'_, AppState>, id: String) -> CommandResult<Task> {
    tasks::get(state.store()?, &id).map_err(from_core)
}

#[tauri::command]
pub fn create_task(state: State<'_, AppState>, input: NewTask) -> CommandResult<Task> {
    tasks::create(state.store()?, input).map_err(from_core)
}

#[tauri::command]
pub fn update_task(
    state: State<'_, AppState>,
    id: String,
    patch: TaskPatch,
) -> CommandResult<Task> {
    tasks::update(state.store()?, &id, patch).map_err(from_core)
}

#[tauri::command]
pub fn archive_task(state: State<'_, AppState>, id: String, archived: bool) -> CommandResult<Task> {
    tasks::set_archived(state.store()?, &id, archived).map_err(from_core)
}

#[tauri::command]
pub fn delete_task(state: State<'_, AppState>, id: String) -> CommandResult<Task> {
    tasks::delete(state.store()?, &id).map_err(from_core)
}
