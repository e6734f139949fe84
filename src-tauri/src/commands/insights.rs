//! Insights commands: how runs went over a window, the top failure reasons, and health.

use flightdeck_core::{health, insights};
use flightdeck_types::{FailureReason, Health, Insights, InsightsQuery, WorkflowBottleneck};
use tauri::State;

use crate::error::{from_core, CommandResult};
use crate::state::AppState;

#[tauri::command]
pub fn insights(state: State<'_, AppState>, query: InsightsQuery) -> CommandResult<Insights> {
    insights::insights(state.store()?, &query).map_err(from_core)
}

#[tauri::command]
pub fn insight_failures(
    state: State<'_, AppState>,
    query: InsightsQuery,
) -> CommandResult<Vec<FailureReason>> {
    insights::failures(state.store()?, &query, 10).map_err(from_core)
}

#[tauri::command]
pub fn insight_bottlenecks(
    state: State<'_, AppState>,
    query: InsightsQuery,
) -> CommandResult<Vec<WorkflowBottleneck>> {
    insights::bottlenecks(state.store()?, &query, None).map_err(from_core)
}

#[tauri::command]
pub fn health(state: State<'_, AppState>) -> CommandResult<Health> {
    health::health(state.store()?).map_err(from_core)
}
