//! Schedule commands: list, add, update, pause, resume, trigger now, delete, and the next
//! fire times of a draft (the form's preview).

use flightdeck_core::schedules;
use flightdeck_types::{Execution, NewSchedule, Schedule, SchedulePatch, Timestamp};
use tauri::State;

use crate::error::{from_core, CommandResult};
use crate::state::AppState;

#[tauri::command]
pub fn list_schedules(state: State<'_, AppState>) -> CommandResult<Vec<Schedule>> {
    schedules::list(state.store()?).map_err(from_core)
}

#[tauri::command]
pub fn add_schedule(state: State<'_, AppState>, input: NewSchedule) -> CommandResult<Schedule> {
    schedules::add(state.store()?, input).map_err(from_core)
}

#[tauri::command]
pub fn update_schedule(
    state: State<'_, AppState>,
    id: String,
    patch: SchedulePatch,
) -> CommandResult<Schedule> {
    schedules::update(state.store()?, &id, patch).map_err(from_core)
}

#[tauri::command]
pub fn pause_schedule(state: State<'_, AppState>, id: String) -> CommandResult<Schedule> {
    schedules::pause(state.store()?, &id).map_err(from_core)
}

#[tauri::command]
pub fn resume_schedule(state: State<'_, AppState>, id: String) -> CommandResult<Schedule> {
    schedules::resume(state.store()?, &id).map_err(from_core)
}

#[tauri::command]
pub fn trigger_schedule(state: State<'_, AppState>, id: String) -> CommandResult<Execution> {
    schedules::trigger(state.store()?, &id).map_err(from_core)
}

#[tauri::command]
pub fn delete_schedule(state: State<'_, AppState>, id: String) -> CommandResult<Schedule> {
    schedules::delete(state.store()?, &id).map_err(from_core)
}

/// The next `count` fire times of a schedule not saved yet; errors name the field at fault.
#[tauri::command]
pub fn preview_schedule(input: NewSchedule, count: usize) -> CommandResult<Vec<Timestamp>> {
    let now = flightdeck_core::clock::now();
    schedules::preview(input, now, count).map_err(from_core)
}
