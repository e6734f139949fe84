//! Runs started by runs: a schedule's fire or a parent's step starts a workflow run, and
//! that run ends it.

use flightdeck_types::{Execution, ExecutionStatus, WorkflowRun, WorkflowRunStatus, WorkflowSpec};
use serde_json::json;

use crate::error::{CoreError, Result};
use crate::store::{executions, Writer};

/// A run started by a run (a schedule's fire, a parent's step) whose cancel was asked for.
pub(super) fn parent_cancelled(w: &Writer<'_>, run: &WorkflowRun) -> Result<bool> {
    match &run.parent_execution_id {
        Some(id) => Ok(executions::cancel_requested_at(w, id)?.is_some()),
        None => Ok(false),
    }
}

/// A run started by a run (a schedule's fire or a parent's step) ends that run with it.
pub(super) fn finish_parent_execution(w: &mut Writer<'_>, run: &WorkflowRun) -> Result<()> {
    let Some(parent_id) = &run.parent_execution_id else {
        return Ok(());
    };
    let old = executions::find(w, parent_id)?;
    if old.status.is_final() {
        return Ok(());
    }
    let mut values = serde_json::Map::new();
    for state in run.checkpoint.steps.values() {
        for (k, v) in &state.outputs.values {
            values.insert(k.clone(), json!(v));
        }
    }
    let new = Execution {
        status: match run.status {
            WorkflowRunStatus::Succeeded => ExecutionStatus::Succeeded,
            WorkflowRunStatus::Cancelled => ExecutionStatus::Cancelled,
            _ => ExecutionStatus::Failed,
        },
        result: Some(json!({
            "workflow_run_id": run.id,
            "status": run.status,
            "outputs": values,
        })),
        error: run.error.clone(),
        finished_at: Some(w.now()),
        ..old.clone()
    };
    let seq = executions::next_event_seq(w, parent_id)?;
    crate::runs::runner::end_in(w, &old, &new, seq)
}

/// Called by the runner when it claims a `workflow` run: starts the workflow run it names,
/// which ends that run when it ends. A name or parameters that do not resolve end it failed.
pub fn start_for_execution(
    w: &mut Writer<'_>,
    exec: &Execution,
    spec: &WorkflowSpec,
) -> Result<()> {
    let started = crate::workflows::start::resolve_and_start(
        w,
        &flightdeck_types::StartWorkflow {
            workflow: spec.workflow.clone(),
            version: spec.version,
            text_params: spec
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
            task_id: exec.task_id.clone(),
            ..Default::default()
        },
        Some(exec),
        None,
    );
    match started {
        Ok(run) => {
            let seq = executions::next_event_seq(w, &exec.id)?;
            executions::insert_event(
                w,
                &flightdeck_types::ExecutionEvent {
                    execution_id: exec.id.clone(),
                    seq,
                    at: w.now(),
                    kind: "workflow".into(),
                    data: format!(
                        "started workflow run {} ({} v{}); follow it with `flightdeck workflow follow {}`",
                        run.id, run.workflow_name, run.version, run.id
                    ),
                },
            )?;
            Ok(())
        }
        Err(CoreError::Sqlite(e)) => Err(CoreError::Sqlite(e)),
        Err(e) => {
            let new = Execution {
                status: ExecutionStatus::Failed,
                error: Some(format!("cannot start workflow `{}`: {e}", spec.workflow)),
                finished_at: Some(w.now()),
                ..exec.clone()
            };
            let seq = executions::next_event_seq(w, &exec.id)?;
            crate::runs::runner::end_in(w, exec, &new, seq)
        }
    }
}
