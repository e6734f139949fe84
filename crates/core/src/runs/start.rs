//! Starting runs the way a person does from the app: a task's run from a shell line or its
//! environment's agent command, and a re-run of a finished run.

use flightdeck_types::{
    Execution, ExecutionSpec, NewExecution, ShellSpec, StartRun, WorktreeRecord, WorktreeState,
};

use super::{agent_cli_spec, queue, queue_in};
use crate::error::{CoreError, Result};
use crate::store::{executions, Store};

/// Queues a run of `input.task_id`: the shell line when one is given, else the agent command
/// of the task's environment with the task as its prompt. Errors name the field at fault
/// (`shell`, or `agent_command` when the environment's template is missing or wrong).
pub fn start_for_task(store: &Store, input: &StartRun) -> Result<Execution> {
    let task = crate::tasks::get(store, &input.task_id)?;
    let line = input
        .shell
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty());
    let shell = match line {
        Some(line) => ShellSpec {
            line: Some(line.to_string()),
            timeout_secs: input.timeout_secs,
            ..ShellSpec::default()
        },
        None => {
            let Some(environment_id) = &task.environment_id else {
                return Err(CoreError::invalid(
                    "shell",
                    "give a shell command to run, or give the task an environment with an \
                     agent command (e.g. `claude -p {prompt}`)",
                ));
            };
            let environment = crate::environments::get(store, environment_id)?;
            let mut shell = agent_cli_spec(&environment, &task)?;
            shell.timeout_secs = input.timeout_secs.or(shell.timeout_secs);
            shell
        }
    };
    queue(
        store,
        NewExecution {
            task_id: Some(task.id.clone()),
            environment_id: task.environment_id.clone(),
            spec: Some(ExecutionSpec::Shell(shell)),
            ..NewExecution::default()
        },
    )
}

/// Queues a fresh run (attempt 1) of what `id` ran, for the same task and environment. A
/// re-run is the person's own, so it belongs to no schedule and retries nothing. A run that
/// is still live is refused: cancel it or wait for it.
pub fn rerun(store: &Store, id: &str) -> Result<Execution> {
    store.write(|w| {
        let old = executions::find(w, id)?;
        if !old.status.is_final() {
            return Err(CoreError::Refused(format!(
                "run {id} is still {}; wait for it or cancel it before running it again",
                old.status
            )));
        }
        queue_in(
            w,
            NewExecution {
                task_id: old.task_id,
                environment_id: old.environment_id,
                spec: Some(old.spec),
                retry_policy: Some(old.retry_policy),
                ..NewExecution::default()
            },
        )
    })
}

/// Queues a new run of what `id` ran, in `id`'s worktree and on its branch ("re-run in this
/// worktree"): for an agent to go on from where it stopped, or after a person's edits there.
/// The worktree must be open on this device and `id` must have ended.
pub fn rerun_in_worktree(store: &Store, id: &str) -> Result<Execution> {
    store.write(|w| {
        let old = executions::find(w, id)?;
        if !old.status.is_final() {
            return Err(CoreError::Refused(format!(
                "run {id} is still {}; wait for it or cancel it before running in its worktree",
                old.status
            )));
        }
        let record = WorktreeRecord::from_result(old.result.as_ref())
            .ok_or_else(|| CoreError::Refused(format!("run {id} did not work in a worktree")))?;
        if record.device_id != w.device_id() {
            return Err(CoreError::Refused(format!(
                "run {id}'s worktree is on device {}; run it there",
                record.device_id
            )));
        }
        if record.state != WorktreeState::Open {
            return Err(CoreError::Refused(format!(
                "run {id}'s worktree was {}; start a fresh run instead",
                record.state
            )));
        }
        let ExecutionSpec::Shell(mut spec) = old.spec else {
            return Err(CoreError::Refused(format!("run {id} is not a shell run")));
        };
        spec.reuse_worktree = Some(old.id.clone());
        queue_in(
            w,
            NewExecution {
                task_id: old.task_id,
                environment_id: old.environment_id,
                spec: Some(ExecutionSpec::Shell(spec)),
                retry_policy: Some(old.retry_policy),
                ..NewExecution::default()
            },
        )
    })
}
