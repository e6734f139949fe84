//! Steps: reading the end of each step's run into the checkpoint, and starting the steps
//! that are ready.

use flightdeck_types::{
    AgentThreadSpec, Approval, AttemptRecord, Decision, Execution, ExecutionSpec, ExecutionStatus,
    HttpSpec, RunIf, ShellSpec, StepAction, StepDefinition, StepState, StepStatus,
    WorkflowDefinition, WorkflowRun, WorkflowSpec,
};
use serde_json::Value;

use super::index::StepIndex;
use super::{attempt_boundary, blocking_failure, boundary, fanout};
use crate::error::{CoreError, Result};
use crate::store::{executions, workflows as sql, Writer};
use crate::workflows::templates;

/// Brings the checkpoint up to date with the step runs that ended and the approvals given.
pub(super) fn reconcile_steps(
    w: &Writer<'_>,
    run: &mut WorkflowRun,
    def: &WorkflowDefinition,
) -> Result<()> {
    // Every entry: the steps, and the items of fan-out steps (`ID[INDEX]`).
    let live: Vec<(String, StepState)> = run
        .checkpoint
        .steps
        .iter()
        .filter(|(_, s)| matches!(s.status, StepStatus::Running | StepStatus::WaitingApproval))
        .map(|(k, s)| (k.clone(), s.clone()))
        .collect();
    for (key, state) in live {
        match state.status {
            StepStatus::Running => {
                let Some(exec_id) = &state.execution_id else {
                    continue;
                };
                // The status first: most running steps of a wide fan-out are still running.
                if !executions::status(w, exec_id)?.is_final() {
                    continue;
                }
                let exec = executions::find(w, exec_id)?;
                let mut new = state.clone();
                new.outputs = outputs_of(&exec);
                new.error = exec.error.clone();
                let attempt = AttemptRecord {
                    attempt: exec.attempt,
                    execution_id: exec.id.clone(),
                    status: exec.status,
                    started_at: exec.started_at,
                    finished_at: exec.finished_at,
                    error: exec.error.clone(),
                };
                new.attempts.push(attempt.clone());
                let label = match executions::retry_of(w, exec_id)? {
                    // Recovery queued the next attempt in the write that ended this one.
                    Some(retry) => {
                        new.execution_id = Some(retry.id.clone());
                        new.attempt = retry.attempt;
                        "retrying"
                    }
                    _ => {
                        new.finished_at = exec.finished_at.or(Some(w.now()));
                        new.status = match exec.status {
                            ExecutionStatus::Succeeded => StepStatus::Succeeded,
                            ExecutionStatus::Cancelled => StepStatus::Cancelled,
                            _ => StepStatus::Failed,
                        };
                        new.status.as_str()
                    }
                };
                run.checkpoint.set_step(key.clone(), new);
                attempt_boundary(w, run, &key, label, &attempt)?;
            }
            StepStatus::WaitingApproval => {
                let Some(step) = def.step(&key) else {
                    continue;
                };
                let approval = match sql::approval(w, &run.id, &step.id)? {
                    Some(approval) => approval,
                    None => match timed_out_approval(w, run, step, &state) {
                        Some(approval) => approval,
                        None => continue,
                    },
                };
                let mut new = state.clone();
                new.status = match approval.decision {
                    Decision::Approved => StepStatus::Succeeded,
                    Decision::Rejected => StepStatus::Failed,
                };
                new.error = (approval.decision == Decision::Rejected).then(|| {
                    format!(
                        "rejected{}",
                        approval
                            .comment
                            .as_deref()
                            .map(|c| format!(": {c}"))
                            .unwrap_or_default()
                    )
                });
                new.finished_at = Some(w.now());
                let label = approval.decision.as_str();
                new.outputs.approval = Some(approval);
                run.checkpoint.set_step(step.id.clone(), new);
                boundary(w, run, Some(&step.id), label)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The decision an approval's `on_timeout` makes once its `timeout` passed undecided (never
/// while the run is paused); recorded in the step's outputs, not as a person's approval.
fn timed_out_approval(
    w: &Writer<'_>,
    run: &WorkflowRun,
    step: &StepDefinition,
    state: &StepState,
) -> Option<Approval> {
    let now = w.now();
    if run.checkpoint.paused_at.is_some() || state.deadline.is_none_or(|d| now < d) {
        return None;
    }
    let StepAction::Approval { on_timeout, .. } = &step.action else {
        return None;
    };
    Some(Approval {
        decision: on_timeout.unwrap_or(Decision::Rejected),
        comment: Some(format!(
            "no decision within {} (the step's `timeout`)",
            super::span(step.timeout_secs.unwrap_or_default())
        )),
        decided_by: "timeout".into(),
        decided_at: now,
    })
}

/// What a step's run leaves for later steps: its exit code or HTTP status, its JSON result
/// and its `$FLIGHTDECK_OUTPUT` values (the runner stores the last two in the run's result).
fn outputs_of(exec: &Execution) -> flightdeck_types::StepOutputs {
    let result = exec.result.as_ref();
    let values = result
        .and_then(|r| r.get("outputs"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), String::from),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let http_status = match exec.spec {
        ExecutionSpec::Http(_) => result
            .and_then(|r| r.get("status"))
            .and_then(Value::as_u64)
            .map(|s| s as u16),
        _ => None,
    };
    flightdeck_types::StepOutputs {
        exit_code: exec.exit_code,
        status: http_status,
        json: result.and_then(|r| r.get("json")).cloned(),
        values,
        approval: None,
    }
}

/// Starts every pending step whose needs are done, in file order, while the concurrency
/// limit allows; skips those whose `when` is false or whose needs were skipped. Once the run
/// has `failed` (or a step fails meanwhile: a sibling never starts after it), only handler
/// steps start: `if: always` ones whatever happened, `if: failure` ones only then; both once
/// their needs ended, however they ended.
pub(super) fn start_ready_steps(
    w: &mut Writer<'_>,
    run: &mut WorkflowRun,
    def: &WorkflowDefinition,
    index: &StepIndex,
    failed: bool,
) -> Result<()> {
    loop {
        let mut changed = false;
        let failed_run = failed || blocking_failure(run, def).is_some();
        let quiet = !failed_run && nothing_starts_without_a_slot(run, def);
        changed |= fanout::settle(w, run, def, failed_run)?;
        // Step runs: a fan-out step's own entry runs nothing (its items do).
        let mut running = run
            .checkpoint
            .steps
            .values()
            .filter(|s| s.status == StepStatus::Running && s.execution_id.is_some())
            .count() as u32;
        // Every step's status, read again after any step was looked at whole below.
        let mut statuses = index.statuses(&run.checkpoint.steps);
        let mut stale = false;
        for (position, step) in def.steps.iter().enumerate() {
            if std::mem::take(&mut stale) {
                statuses = index.statuses(&run.checkpoint.steps);
            }
            // Only a pending step whose needs all ended, or a running fan-out, can move here:
            // the others are passed by on their status alone (a fork's edited step is always
            // looked at whole, as its edits may change what it needs).
            if !run.checkpoint.overrides.contains_key(&step.id) {
                let may_move = match statuses[position] {
                    Some(StepStatus::Pending) => !index.needs_unmet(position, &statuses),
                    Some(StepStatus::Running) => step.foreach.is_some(),
                    _ => false,
                };
                if !may_move {
                    continue;
                }
            }
            stale = true;
            // A fork's edited inputs stand in for the definition's fields.
            let edited;
            let step = match run.checkpoint.overrides.get(&step.id) {
                Some(fields) => {
                    let mut s = step.clone();
                    for (field, text) in fields {
                        crate::workflows::overrides::override_field(&mut s, field, text);
                    }
                    edited = s;
                    &edited
                }
                None => step,
            };
            let state = run.checkpoint.steps.get(&step.id);
            if step.foreach.is_some() && state.map(|s| s.status) == Some(StepStatus::Running) {
                let ctx = step_context(w, run, def);
                changed |= fanout::start_items(w, run, def, step, &ctx, failed_run, &mut running)?;
                continue;
            }
            if state.map(|s| s.status) != Some(StepStatus::Pending) {
                continue;
            }
            // Needs first: cheap, and unmet for most pending steps of a long run.
            let unmet = step.needs.iter().any(|n| {
                run.checkpoint
                    .steps
                    .get(n)
                    .is_some_and(|s| !s.status.is_final())
            });
            if unmet {
                continue;
            }
            let needs: Vec<(&StepDefinition, &StepState)> = step
                .needs
                .iter()
                .filter_map(|n| Some((def.step(n)?, run.checkpoint.steps.get(n)?)))
                .collect();
            if needs.iter().any(|(_, s)| !s.status.is_final()) {
                continue;
            }
            let failed_now = failed || blocking_failure(run, def).is_some();
            let may_start = match step.run_if {
                None => !failed_now,
                Some(RunIf::Always) => true,
                Some(RunIf::Failure) => failed_now,
            };
            if !may_start {
                continue;
            }
            // A step whose texts hold no template needs no context (building it reads every
            // finished step).
            let ctx = if templates::uses_templates(step) {
                step_context(w, run, def)
            } else {
                Value::Object(Default::default())
            };
            let blocked = needs
                .iter()
                .filter(|_| step.run_if.is_none())
                .find(|(d, s)| !templates::lets_dependants_run(s, d))
                .map(|(d, _)| d.id.clone());
            let verdict = match blocked {
                Some(need) => Err(format!("skipped: step `{need}` did not pass")),
                None => templates::condition_holds(step, &ctx)
                    .map_err(|e| format!("`when` failed: {e}"))
                    .and_then(|holds| if holds { Ok(()) } else { Err(String::new()) }),
            };
            match verdict {
                Err(why) if why.starts_with("`when` failed") => {
                    fail_step(w, run, &step.id, why)?;
                    changed = true;
                    continue;
                }
                Err(why) => {
                    let mut new = StepState::pending();
                    new.status = StepStatus::Skipped;
                    new.error = (!why.is_empty()).then_some(why);
                    new.finished_at = Some(w.now());
                    run.checkpoint.set_step(step.id.clone(), new);
                    boundary(w, run, Some(&step.id), "skipped")?;
                    changed = true;
                    continue;
                }
                Ok(()) => {}
            }
            if let Some(foreach) = &step.foreach {
                match templates::foreach_items(foreach, &ctx) {
                    Ok(items) => fanout::fan_out(w, run, step, items)?,
                    Err(e) => fail_step(w, run, &step.id, format!("field `foreach`: {e}"))?,
                }
                changed = true;
                continue;
            }
            let is_approval = matches!(step.action, StepAction::Approval { .. });
            if !is_approval && running >= def.concurrency {
                continue;
            }
            let rendered = match templates::render_step(step, &ctx) {
                Ok(r) => r,
                Err(e) => {
                    fail_step(
                        w,
                        run,
                        &step.id,
                        format!("its inputs could not be rendered: {e}"),
                    )?;
                    changed = true;
                    continue;
                }
            };
            let mut new = StepState::pending();
            new.inputs = Some(serde_json::to_value(&rendered).expect("steps always serialize"));
            new.started_at = Some(w.now());
            if is_approval {
                new.status = StepStatus::WaitingApproval;
                new.deadline = step.timeout_secs.map(|s| super::after(w.now(), s));
                run.checkpoint.set_step(step.id.clone(), new);
                boundary(w, run, Some(&step.id), "waiting_approval")?;
                continue;
            }
            launch(w, run, &step.id, &rendered, new, &mut running)?;
            // A step that started (or waits for approval) lets no other step start; one that
            // ended at once (its run could not be made) may: only then walk again. A chain's
            // boundary walks its steps once, not twice.
            let ended = run.checkpoint.steps[&step.id].status.is_final();
            changed |= ended;
            // Every slot taken and no step able to move without one: the rest of the walk
            // would only pass them by (a chain's boundary at step k stops there, instead of
            // looking at every step after it).
            if quiet && !ended && running >= def.concurrency {
                break;
            }
        }
        if !changed {
            return Ok(());
        }
    }
}

/// Whether no pending step of `run` can move without a slot: one moves so only when it is
/// skipped (a need that did not pass, or a `when` that does not hold), fails (its `when`
/// cannot be evaluated), fans out (`foreach`) or waits for a person (an approval). Without a
/// `when`, a `foreach`, an approval or a fork's edited fields in the definition, and with
/// every ended step succeeded, none can.
fn nothing_starts_without_a_slot(run: &WorkflowRun, def: &WorkflowDefinition) -> bool {
    run.checkpoint.overrides.is_empty()
        && !def.steps.iter().any(|s| {
            s.when.is_some()
                || s.foreach.is_some()
                || matches!(s.action, StepAction::Approval { .. })
        })
        && run
            .checkpoint
            .steps
            .values()
            .all(|s| !s.status.is_final() || s.status == StepStatus::Succeeded)
}

/// What a step's templates see now: the run's context, and for a handler how the run
/// stands and its first failure.
pub(super) fn step_context(w: &Writer<'_>, run: &WorkflowRun, def: &WorkflowDefinition) -> Value {
    let mut ctx = templates::context(run, &run.checkpoint);
    let first_failure = blocking_failure(run, def).map(|id| {
        let why = run.checkpoint.steps[id].error.clone();
        format!("step `{id}` failed: {}", why.as_deref().unwrap_or("failed"))
    });
    let timed_out = super::timed_out(run, w.now());
    ctx["run"]["status"] = serde_json::json!(match (run.control, &first_failure) {
        _ if timed_out => "failed",
        (flightdeck_types::RunControl::Cancel, _) => "cancelled",
        (_, Some(_)) => "failed",
        _ => "succeeded",
    });
    ctx["run"]["error"] = serde_json::json!(first_failure.or_else(|| run.error.clone()));
    ctx
}

/// Queues the run of `rendered` as checkpoint entry `key` (a step, or an item of a fan-out
/// step), from `new` (its inputs and start already set); a spec that cannot be made fails it.
pub(super) fn launch(
    w: &mut Writer<'_>,
    run: &mut WorkflowRun,
    key: &str,
    rendered: &StepDefinition,
    mut new: StepState,
    running: &mut u32,
) -> Result<()> {
    match step_spec(w, run, rendered) {
        Ok(spec) => {
            let exec = crate::runs::queue_in(
                w,
                flightdeck_types::NewExecution {
                    task_id: run.task_id.clone(),
                    environment_id: run.environment_id.clone(),
                    workflow_run_id: Some(run.id.clone()),
                    step_id: Some(key.to_string()),
                    spec: Some(spec),
                    device_id: run.device_id.clone(),
                    retry_policy: Some(rendered.retry.clone().unwrap_or_default()),
                    ..Default::default()
                },
            )?;
            new.status = StepStatus::Running;
            new.attempt = exec.attempt;
            new.execution_id = Some(exec.id);
            run.checkpoint.set_step(key.to_string(), new);
            boundary(w, run, Some(key), "started")?;
            *running += 1;
        }
        Err(e) => {
            run.checkpoint.set_step(key.to_string(), new);
            fail_step(w, run, key, e.to_string())?;
        }
    }
    Ok(())
}

pub(super) fn fail_step(
    w: &Writer<'_>,
    run: &mut WorkflowRun,
    id: &str,
    error: String,
) -> Result<()> {
    let mut new = run
        .checkpoint
        .steps
        .get(id)
        .cloned()
        .unwrap_or_else(StepState::pending);
    new.status = StepStatus::Failed;
    new.error = Some(error);
    new.finished_at = Some(w.now());
    run.checkpoint.set_step(id.to_string(), new);
    boundary(w, run, Some(id), "failed")
}

/// What a rendered step runs.
fn step_spec(w: &Writer<'_>, run: &WorkflowRun, step: &StepDefinition) -> Result<ExecutionSpec> {
    Ok(match &step.action {
        StepAction::Shell { line } => ExecutionSpec::Shell(ShellSpec {
            line: Some(line.clone()),
            working_dir: step.working_dir.clone(),
            env: step.env.clone(),
            timeout_secs: step.timeout_secs,
            isolation: step.isolation,
            ..ShellSpec::default()
        }),
        StepAction::Http {
            method,
            url,
            headers,
            body,
        } => ExecutionSpec::Http(HttpSpec {
            method: method.clone(),
            url: url.clone(),
            headers: headers.clone(),
            body: body.clone(),
            timeout_secs: step.timeout_secs,
        }),
        StepAction::AgentThread {
            base_url,
            thread_id,
            message,
        } => ExecutionSpec::AgentThread(AgentThreadSpec {
            base_url: base_url.clone(),
            thread_id: thread_id.clone(),
            message: message.clone(),
            timeout_secs: step.timeout_secs,
        }),
        StepAction::Agent { prompt } => {
            let env_id = run.environment_id.as_deref().ok_or_else(|| {
                CoreError::invalid(
                    "environment",
                    "an `agent` step runs the environment's agent command; start the run \
                     with --env ENV or give the workflow an `environment`",
                )
            })?;
            let environment = crate::environments::resolve(w, env_id)?;
            ExecutionSpec::Shell(ShellSpec {
                line: Some(crate::runs::agent_cli::agent_cli_line(
                    &environment,
                    prompt,
                )?),
                agent_prompt: Some(prompt.clone()),
                working_dir: step.working_dir.clone(),
                env: step.env.clone(),
                timeout_secs: step.timeout_secs,
                isolation: step.isolation,
                ..ShellSpec::default()
            })
        }
        StepAction::Workflow { workflow, params } => ExecutionSpec::Workflow(WorkflowSpec {
            workflow: workflow.clone(),
            params: params
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), String::from),
                    )
                })
                .collect(),
            // Pinned when the run started (see `start::pin_children`).
            version: run.checkpoint.children.get(&step.id).copied(),
        }),
        StepAction::Approval { .. } => unreachable!("approvals run nothing"),
    })
}
