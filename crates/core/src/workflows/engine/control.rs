//! What a person asks of a run: cancel (and the signals pausing needs), approve, reject.

use flightdeck_types::{
    Approval, Decision, RunControl, StepAction, StepStatus, WorkflowDefinition, WorkflowRun,
};

use super::{boundary, load, Effects};
use crate::error::{CoreError, Result};
use crate::store::{executions, workflows as sql, Writer};

pub(super) fn running_groups(w: &Writer<'_>, run: &WorkflowRun) -> Result<Vec<String>> {
    let mut groups = Vec::new();
    for state in run.checkpoint.steps.values() {
        if state.status != StepStatus::Running {
            continue;
        }
        if let Some(id) = &state.execution_id {
            if let Some(p) = executions::last_event_of_kind(w, id, "process")? {
                groups.push(p.data);
            }
        }
    }
    Ok(groups)
}

/// Asks every running step to stop and cancels the ones not started. The run ends
/// `cancelled` once no step is running any more.
pub(super) fn cancel_steps(
    w: &mut Writer<'_>,
    run: &mut WorkflowRun,
    def: &WorkflowDefinition,
    effects: &mut Effects,
) -> Result<()> {
    // A paused group must run again to act on the SIGTERM the runner sends.
    effects.resume = running_groups(w, run)?;
    // Handler steps (`if: always`, `if: failure`) are what a cancel makes run: never stopped.
    // The steps, and the items of fan-out steps (`ID[INDEX]`), as their step.
    let handler = |key: &str| {
        let id = key.split_once('[').map_or(key, |(id, _)| id);
        def.step(id).is_some_and(|s| s.run_if.is_some())
    };
    let ids: Vec<String> = run
        .checkpoint
        .steps
        .keys()
        .filter(|k| !handler(k))
        .cloned()
        .collect();
    for id in ids {
        let Some(state) = run.checkpoint.steps.get(&id).cloned() else {
            continue;
        };
        match state.status {
            StepStatus::Running => {
                if let Some(exec_id) = &state.execution_id {
                    let exec = executions::find(w, exec_id)?;
                    if !exec.status.is_final() && exec.cancel_requested_at.is_none() {
                        executions::request_cancel(w, exec_id, w.now())?;
                        w.touched("executions", exec_id, flightdeck_types::AuditAction::Update);
                    }
                    if let Some(child) = sql::run_of_parent_execution(w, exec_id)? {
                        sql::set_control(w, &child, RunControl::Cancel)?;
                        w.touched(
                            "workflow_runs",
                            &child,
                            flightdeck_types::AuditAction::Update,
                        );
                    }
                }
            }
            StepStatus::Pending | StepStatus::WaitingApproval => {
                let mut new = state.clone();
                new.status = StepStatus::Cancelled;
                new.finished_at = Some(w.now());
                run.checkpoint.set_step(id.clone(), new);
                boundary(w, run, Some(&id), "cancelled")?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// An approval or rejection, written on any device; the runner device acts on it.
pub fn decide_in(
    w: &mut Writer<'_>,
    run_id: &str,
    step_id: &str,
    decision: Decision,
    comment: Option<String>,
) -> Result<()> {
    let (run, def) = load(w, run_id)?;
    let step = def.step(step_id).ok_or_else(|| CoreError::NotFound {
        kind: "step",
        key: format!("{step_id} in workflow {}", run.workflow_name),
    })?;
    if !matches!(step.action, StepAction::Approval { .. }) {
        return Err(CoreError::Refused(format!(
            "step `{step_id}` is a {} step, not an approval",
            step.action.executor()
        )));
    }
    let status = run.checkpoint.steps.get(step_id).map(|s| s.status);
    if run.status.is_final() || status.is_some_and(StepStatus::is_final) {
        return Err(CoreError::Refused(format!(
            "step `{step_id}` of run {run_id} is already {}; nothing to decide",
            status.map_or_else(|| run.status.to_string(), |s| s.to_string())
        )));
    }
    if let Some(earlier) = sql::approval(w, run_id, step_id)? {
        return Err(CoreError::Refused(format!(
            "step `{step_id}` was already {} by device {}",
            earlier.decision, earlier.decided_by
        )));
    }
    let approval = Approval {
        decision,
        comment,
        decided_by: w.device_id().to_string(),
        decided_at: w.now(),
    };
    sql::upsert_approval(w, run_id, step_id, &approval)?;
    w.touched(
        "workflow_approvals",
        run_id,
        flightdeck_types::AuditAction::Update,
    );
    Ok(())
}
