//! Workflow commands: the definitions (newest version of each, and its versions), starting a
//! run with typed parameters, the runs, a run's progress with its pinned definition, and what
//! a person can do to a run: pause, resume, cancel, approve or reject a step, rerun from one.
//! Runs move on in the worker's driver; their changes reach the UI as `entity-changed`.

use flightdeck_core::workflows::{self, definition};
use flightdeck_types::{
    StartWorkflow, WorkflowRun, WorkflowRunDetail, WorkflowRunFilter, WorkflowSummary,
};
use serde_json::{Map, Value};
use tauri::State;

use crate::error::{from_core, shell_error, CommandResult};
use crate::state::AppState;

#[tauri::command]
pub fn list_workflows(state: State<'_, AppState>) -> CommandResult<Vec<WorkflowSummary>> {
    let store = state.store()?;
    let summarize = |workflow: flightdeck_types::Workflow| {
        let versions = workflows::versions(store, &workflow.id)?;
        let versions = versions.into_iter().map(|v| v.version).collect();
        Ok(WorkflowSummary { workflow, versions })
    };
    let list = workflows::list(store).map_err(from_core)?;
    list.into_iter()
        .map(|wf| summarize(wf).map_err(from_core))
        .collect()
}

/// Starts a run of the newest version of `workflow` (name or id). A value given as text is
/// read as its parameter's type; a bad parameter is refused with the field
/// `param-NAME`, so the form shows it beside that parameter's input.
#[tauri::command]
pub fn start_workflow(
    state: State<'_, AppState>,
    workflow: String,
    params: Map<String, Value>,
) -> CommandResult<WorkflowRun> {
    let store = state.store()?;
    let newest = workflows::show(store, &workflow, None).map_err(from_core)?;
    let params = definition::typed_values(&newest.definition, params)
        .map_err(|(name, why)| shell_error("invalid", Some(&format!("param-{name}")), why))?;
    let request = StartWorkflow {
        workflow: newest.id,
        // Pinned: the parameters were checked against this version.
        version: Some(newest.version),
        params,
        ..Default::default()
    };
    workflows::start(store, state.keyring()?.as_ref(), &request).map_err(from_core)
}

#[tauri::command]
pub fn list_workflow_runs(
    state: State<'_, AppState>,
    filter: WorkflowRunFilter,
) -> CommandResult<Vec<WorkflowRun>> {
    workflows::runs(state.store()?, &filter).map_err(from_core)
}

/// A run's progress (steps, done of total, ETA) and the definition version it pinned.
#[tauri::command]
pub fn workflow_run_detail(
    state: State<'_, AppState>,
    id: String,
) -> CommandResult<WorkflowRunDetail> {
    let store = state.store()?;
    let progress = workflows::progress(store, &id).map_err(from_core)?;
    let definition = workflows::definition_of(store, &progress.run).map_err(from_core)?;
    let lease_note = workflows::lease::note(store, &progress.run).map_err(from_core)?;
    let adoptable = workflows::lease::adoptable(store, &progress.run).map_err(from_core)?;
    let made_from_this = workflows::made_from(store, &progress.run.id)
        .map_err(from_core)?
        .into_iter()
        .map(|(id, step, forked)| flightdeck_types::DerivedRun { id, step, forked })
        .collect();
    Ok(WorkflowRunDetail {
        progress,
        definition,
        lease_note,
        adoptable,
        made_from_this,
    })
}

/// Takes over a run whose device stopped answering (see `workflow adopt`).
#[tauri::command]
pub fn adopt_workflow_run(state: State<'_, AppState>, id: String) -> CommandResult<WorkflowRun> {
    workflows::lease::adopt(state.store()?, &id).map_err(from_core)
}

#[tauri::command]
pub fn pause_workflow_run(state: State<'_, AppState>, id: String) -> CommandResult<WorkflowRun> {
    workflows::pause(state.store()?, &id).map_err(from_core)
}

#[tauri::command]
pub fn resume_workflow_run(state: State<'_, AppState>, id: String) -> CommandResult<WorkflowRun> {
    workflows::resume(state.store()?, &id).map_err(from_core)
}

#[tauri::command]
pub fn cancel_workflow_run(state: State<'_, AppState>, id: String) -> CommandResult<WorkflowRun> {
    workflows::cancel(state.store()?, &id).map_err(from_core)
}

#[tauri::command]
pub fn approve_workflow_step(
    state: State<'_, AppState>,
    id: String,
    step: String,
    comment: Option<String>,
) -> CommandResult<WorkflowRun> {
    workflows::approve(state.store()?, &id, &step, comment).map_err(from_core)
}

#[tauri::command]
pub fn reject_workflow_step(
    state: State<'_, AppState>,
    id: String,
    step: String,
    comment: Option<String>,
) -> CommandResult<WorkflowRun> {
    workflows::reject(state.store()?, &id, &step, comment).map_err(from_core)
}

/// Run `id` (a workflow run or a plain run) as it stood at its mark `mark` (see `flightdeck
/// replay --step`) or at instant `at` (ms), with the last 50 lines of its log by then.
#[tauri::command]
pub fn replay_run(
    state: State<'_, AppState>,
    id: String,
    mark: Option<u32>,
    at: Option<i64>,
) -> CommandResult<flightdeck_types::ReplayState> {
    use flightdeck_core::replay::Instant;
    let instant = match (mark, at) {
        (_, Some(ms)) => Instant::At(flightdeck_types::Timestamp(ms)),
        (Some(n), None) => Instant::Mark(n),
        (None, None) => Instant::At(flightdeck_core::clock::now()),
    };
    flightdeck_core::replay::at(state.store()?, &id, instant, 50).map_err(from_core)
}

/// Two runs side by side (see `flightdeck compare`): steps aligned, the first divergence.
#[tauri::command]
pub fn compare_runs(
    state: State<'_, AppState>,
    a: String,
    b: String,
) -> CommandResult<flightdeck_types::RunComparison> {
    flightdeck_core::compare::compare(state.store()?, &a, &b).map_err(from_core)
}

/// A fork of run `id` at `step` (time travel): the steps before it keep their recorded
/// outputs, `step` runs with `inputs` (field, text) in place of its definition's, the rest
/// run again (see `workflow fork`).
#[tauri::command]
pub fn fork_workflow_run(
    state: State<'_, AppState>,
    id: String,
    step: String,
    inputs: Vec<(String, String)>,
) -> CommandResult<WorkflowRun> {
    let changes = workflows::ForkChanges {
        inputs,
        params: Vec::new(),
    };
    workflows::fork(
        state.store()?,
        state.keyring()?.as_ref(),
        &id,
        &step,
        &changes,
    )
    .map_err(from_core)
}

/// A new run of the same version from `step` on, reusing what `id` recorded before it.
#[tauri::command]
pub fn rerun_workflow_from(
    state: State<'_, AppState>,
    id: String,
    step: String,
) -> CommandResult<WorkflowRun> {
    workflows::rerun_from(state.store()?, &id, &step).map_err(from_core)
}
