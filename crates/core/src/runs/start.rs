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

/// The fields of a plain run's spec `fork` may edit (`--input FIELD=TEXT`).
pub fn editable_fields(spec: &ExecutionSpec) -> Vec<&'static str> {
    match spec {
        ExecutionSpec::Shell(_) => vec!["shell", "agent", "env.NAME", "working_dir"],
        ExecutionSpec::Http(_) => vec!["http.url", "http.method", "http.body", "http.headers.NAME"],
        ExecutionSpec::AgentThread(_) => vec!["agent_thread.message", "agent_thread.thread_id"],
        ExecutionSpec::Workflow(_) => Vec::new(),
    }
}

/// Puts `text` in `spec`'s field `field` (as [`editable_fields`] names them); false when the
/// spec has no such field. `shell` replaces the command (an argv included) with a line.
fn edit_field(spec: &mut ExecutionSpec, field: &str, text: &str) -> bool {
    let text = text.to_string();
    match spec {
        ExecutionSpec::Shell(s) => match field {
            "shell" => {
                s.line = Some(text);
                s.argv = None;
            }
            "agent" => s.agent_prompt = Some(text),
            "working_dir" => s.working_dir = Some(text),
            f if f.starts_with("env.") && f.len() > 4 => {
                s.env.insert(f[4..].to_string(), text);
            }
            _ => return false,
        },
        ExecutionSpec::Http(h) => match field {
            "http.url" => h.url = text,
            "http.method" => h.method = Some(text),
            "http.body" => h.body = Some(text),
            f if f.starts_with("http.headers.") && f.len() > 13 => {
                h.headers.insert(f[13..].to_string(), text);
            }
            _ => return false,
        },
        ExecutionSpec::AgentThread(a) => match field {
            "agent_thread.message" => a.message = text,
            "agent_thread.thread_id" => a.thread_id = text,
            _ => return false,
        },
        ExecutionSpec::Workflow(_) => return false,
    }
    true
}

/// Forks plain run `id` ("run it again with this spec, edited"): a new run of the same task,
/// environment and retry policy whose spec has `inputs` (FIELD, TEXT) in place, recording
/// where it came from (`forked_from`). Like a rerun, it belongs to no schedule; unlike one,
/// a live run may be forked too (its spec is fixed once queued).
pub fn fork(store: &Store, id: &str, inputs: &[(String, String)]) -> Result<Execution> {
    store.write(|w| {
        let old = executions::find(w, id)?;
        if old.workflow_run_id.is_some() {
            return Err(CoreError::invalid(
                "run",
                format!(
                    "run {id} is a step of workflow run {}: fork the workflow run at that step \
                     (`flightdeck fork {} --step {}`)",
                    old.workflow_run_id.as_deref().unwrap_or_default(),
                    old.workflow_run_id.as_deref().unwrap_or_default(),
                    old.step_id.as_deref().unwrap_or("STEP")
                ),
            ));
        }
        let mut spec = old.spec.clone();
        for (field, text) in inputs {
            if !edit_field(&mut spec, field, text) {
                return Err(CoreError::invalid(
                    "input",
                    format!(
                        "a {} run has no field `{field}` to edit; it has: {}",
                        old.spec.kind(),
                        editable_fields(&old.spec).join(", ")
                    ),
                ));
            }
        }
        queue_in(
            w,
            NewExecution {
                task_id: old.task_id,
                environment_id: old.environment_id,
                spec: Some(spec),
                retry_policy: Some(old.retry_policy),
                forked_from: Some(old.id),
                ..NewExecution::default()
            },
        )
    })
}

/// The runs forked from run `id`, oldest first.
pub fn forks_of(store: &Store, id: &str) -> Result<Vec<String>> {
    store.read(|c| executions::forks_of(c, id))
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
