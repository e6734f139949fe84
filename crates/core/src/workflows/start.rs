//! Starting runs: by name with parameters, from a `workflow` run (a schedule's fire or a
//! parent's step), and `rerun --from STEP`, which reuses what an earlier run recorded.

use std::collections::BTreeSet;

use flightdeck_types::{
    Checkpoint, Execution, RunControl, StartWorkflow, StepState, StepStatus, Workflow, WorkflowRun,
    WorkflowRunStatus,
};

use super::definition;
use crate::error::{CoreError, Result};
use crate::runs::step_secrets;
use crate::secrets::SecretStore;
use crate::store::{executions, workflows as sql, Writer};

/// The version of workflow `key` (name or id) a run would start on: `version`, or the newest.
pub fn resolve_version(w: &Writer<'_>, key: &str, version: Option<u32>) -> Result<Workflow> {
    let (newest, removed) = sql::newest(w, key)?.ok_or_else(|| CoreError::NotFound {
        kind: "workflow",
        key: key.to_string(),
    })?;
    if removed {
        return Err(CoreError::Refused(format!(
            "workflow `{}` was removed; apply its file again to bring it back",
            newest.name
        )));
    }
    match version {
        None => Ok(newest),
        Some(v) => sql::named_version(w, &newest.name, v),
    }
}

/// Starts a run: checks the parameters, writes the run `queued` with every step pending; the
/// runner device's driver takes it from there.
pub fn resolve_and_start(
    w: &mut Writer<'_>,
    req: &StartWorkflow,
    parent: Option<&Execution>,
    secrets: Option<&dyn SecretStore>,
) -> Result<WorkflowRun> {
    let workflow = resolve_version(w, &req.workflow, req.version)?;
    let mut params =
        definition::resolve_params(&workflow.definition, &req.params, &req.text_params)?;
    let inherited = match parent.and_then(|p| p.workflow_run_id.as_deref()) {
        Some(run) => sql::find_run(w, run)?.checkpoint.params,
        None => Default::default(),
    };
    seal_secret_params(&workflow, &mut params, &inherited, secrets)?;
    if let Some(parent) = parent {
        refuse_recursion(w, &workflow, parent)?;
    }
    let env_key = req
        .environment
        .clone()
        .or_else(|| workflow.definition.environment.clone());
    let environment_id = match env_key {
        Some(key) => Some(crate::environments::resolve(w, &key)?.id),
        None => parent.and_then(|p| p.environment_id.clone()),
    };
    let steps = workflow
        .definition
        .steps
        .iter()
        .map(|s| (s.id.clone(), StepState::pending()))
        .collect();
    let run = new_run(
        w,
        &workflow,
        Checkpoint {
            params,
            steps,
            boundaries: 0,
            children: pin_children(w, &workflow.definition)?,
            ..Default::default()
        },
        NewRun {
            task_id: req.task_id.clone(),
            environment_id,
            parent_execution_id: parent.map(|p| p.id.clone()),
            device_id: parent.and_then(|p| p.device_id.clone()),
            rerun: None,
        },
    )?;
    Ok(run)
}

struct NewRun {
    task_id: Option<String>,
    environment_id: Option<String>,
    parent_execution_id: Option<String>,
    device_id: Option<String>,
    rerun: Option<(String, String)>,
}

fn new_run(
    w: &mut Writer<'_>,
    workflow: &Workflow,
    checkpoint: Checkpoint,
    new: NewRun,
) -> Result<WorkflowRun> {
    let now = w.now();
    let mut run = WorkflowRun {
        id: crate::ids::new_id(),
        workflow_id: workflow.id.clone(),
        workflow_name: workflow.name.clone(),
        version: workflow.version,
        status: WorkflowRunStatus::Queued,
        control: RunControl::Run,
        device_id: Some(new.device_id.unwrap_or_else(|| w.device_id().to_string())),
        task_id: new.task_id,
        environment_id: new.environment_id,
        parent_execution_id: new.parent_execution_id,
        rerun_of: new.rerun.as_ref().map(|r| r.0.clone()),
        rerun_from: new.rerun.map(|r| r.1),
        checkpoint,
        error: None,
        queued_at: now,
        started_at: None,
        finished_at: None,
        updated_at: now,
    };
    let snapshot = flightdeck_types::Snapshot {
        id: crate::ids::new_id(),
        workflow_run_id: run.id.clone(),
        execution_id: None,
        seq: 0,
        step_id: None,
        label: "queued".into(),
        inputs: serde_json::to_value(&run.checkpoint.params).expect("params serialize"),
        outputs: serde_json::json!({}),
        checkpoint: run.checkpoint.clone(),
        started_at: now,
        finished_at: None,
        recorded_at: Some(now),
    };
    run.checkpoint.boundaries = 1;
    sql::insert_run(w, &run)?;
    sql::insert_snapshot(w, &snapshot)?;
    w.touched(
        "workflow_runs",
        &run.id,
        flightdeck_types::AuditAction::Create,
    );
    Ok(run)
}

/// A workflow that (through its steps' children) would start itself again never ends.
/// The newest version of each child workflow a `workflow:` step names, now: what the run's
/// children will run, whatever is applied meanwhile. A child not yet applied is resolved when
/// its step starts (and refused then if it still does not exist).
fn pin_children(
    w: &Writer<'_>,
    def: &flightdeck_types::WorkflowDefinition,
) -> Result<std::collections::BTreeMap<String, u32>> {
    let mut pins = std::collections::BTreeMap::new();
    for step in &def.steps {
        if let flightdeck_types::StepAction::Workflow { workflow, .. } = &step.action {
            if let Some((child, false)) = sql::newest(w, workflow)? {
                pins.insert(step.id.clone(), child.version);
            }
        }
    }
    Ok(pins)
}

fn refuse_recursion(w: &Writer<'_>, workflow: &Workflow, parent: &Execution) -> Result<()> {
    let mut at = parent.workflow_run_id.clone();
    let mut depth = 0;
    while let Some(run_id) = at {
        let run = sql::find_run(w, &run_id)?;
        if run.workflow_name == workflow.name {
            return Err(CoreError::Refused(format!(
                "workflow `{}` would start itself (through run {run_id}); a workflow cannot \
                 be its own child",
                workflow.name
            )));
        }
        depth += 1;
        if depth > 32 {
            return Err(CoreError::Refused(
                "workflows nest more than 32 deep".into(),
            ));
        }
        at = match &run.parent_execution_id {
            Some(e) => executions::find(w, e)?.workflow_run_id,
            None => None,
        };
    }
    Ok(())
}

/// What a fork changes: inputs of its step (field -> text) and parameters (`K=V` text).
#[derive(Debug, Clone, Default)]
pub struct ForkChanges {
    pub inputs: Vec<(String, String)>,
    pub params: Vec<String>,
}

/// A new run of `run_id`'s version that reuses the recorded outputs of every step that
/// passed there and neither is `from` nor comes after it; `from` and what follows run again.
pub fn rerun_from(w: &mut Writer<'_>, run_id: &str, from: &str) -> Result<WorkflowRun> {
    fork_or_rerun(w, run_id, from, None, None)
}

/// A fork of `run_id` from step `from`: the steps that had passed when `from` last started
/// keep their recorded outputs, `from` runs with `changes.inputs` in place of its
/// definition's fields and the run with `changes.params` over its parameters, and what
/// follows runs again.
pub fn fork(
    w: &mut Writer<'_>,
    run_id: &str,
    from: &str,
    changes: &ForkChanges,
    secrets: &dyn SecretStore,
) -> Result<WorkflowRun> {
    fork_or_rerun(w, run_id, from, Some(changes), Some(secrets))
}

fn fork_or_rerun(
    w: &mut Writer<'_>,
    run_id: &str,
    from: &str,
    changes: Option<&ForkChanges>,
    secrets: Option<&dyn SecretStore>,
) -> Result<WorkflowRun> {
    let mut old = sql::find_run(w, run_id)?;
    let workflow = sql::version(w, &old.workflow_id, old.version)?;
    let def = &workflow.definition;
    if def.step(from).is_none() {
        return Err(CoreError::NotFound {
            kind: "step",
            key: format!(
                "{from} in {} v{} (steps: {})",
                old.workflow_name,
                old.version,
                def.steps
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    if !old.status.is_final() {
        return Err(CoreError::Refused(format!(
            "run {run_id} is still {}; cancel it or wait for it to end before rerunning",
            old.status
        )));
    }
    let mut params = old.checkpoint.params.clone();
    let mut overrides = std::collections::BTreeMap::new();
    if let Some(changes) = changes {
        // The state when `from` last started: what had passed by then is kept.
        let snapshots = sql::snapshots(w, run_id)?;
        let started = snapshots
            .iter()
            .rposition(|s| s.step_id.as_deref() == Some(from) && s.label == "started");
        if let Some(k) = started {
            let mut whole = snapshots[0].checkpoint.clone();
            for row in &snapshots[1..=k] {
                whole.steps.extend(row.checkpoint.steps.clone());
            }
            old.checkpoint.steps = whole.steps;
        }
        let edited = edited_inputs(def, from, &changes.inputs)?;
        if !edited.is_empty() {
            overrides.insert(from.to_string(), edited);
        }
        for pair in &changes.params {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                CoreError::invalid("params", format!("`{pair}` is not K=V (e.g. --param n=2)"))
            })?;
            let spec = def.params.get(k.trim()).ok_or_else(|| {
                CoreError::invalid(
                    "params",
                    format!(
                        "unknown parameter `{}` (this workflow has: {})",
                        k.trim(),
                        {
                            let names: Vec<&str> = def.params.keys().map(String::as_str).collect();
                            if names.is_empty() {
                                "none".to_string()
                            } else {
                                names.join(", ")
                            }
                        }
                    ),
                )
            })?;
            let value = definition::parse_typed(spec.param_type, v)
                .map_err(|e| CoreError::invalid("params", format!("parameter `{k}`: {e}")))?;
            params.insert(k.trim().to_string(), value);
        }
        let inherited = old.checkpoint.params.clone();
        seal_secret_params(&workflow, &mut params, &inherited, secrets)?;
    }
    let again: BTreeSet<&str> = def
        .steps
        .iter()
        .filter(|s| s.id == from || definition::ancestors(def, &s.id).contains(from))
        .map(|s| s.id.as_str())
        .collect();
    let mut steps = std::collections::BTreeMap::new();
    for step in &def.steps {
        let recorded = old.checkpoint.steps.get(&step.id);
        let reuse = !again.contains(step.id.as_str())
            && recorded
                .is_some_and(|s| matches!(s.status, StepStatus::Succeeded | StepStatus::Skipped));
        let state = match recorded {
            Some(s) if reuse => StepState {
                reused_from: Some(s.reused_from.clone().unwrap_or_else(|| run_id.to_string())),
                ..s.clone()
            },
            _ => StepState::pending(),
        };
        if reuse {
            // A reused fan-out step's items, which later steps read its outputs from.
            let prefix = format!("{}[", step.id);
            for (key, item) in old.checkpoint.steps.range(prefix.clone()..) {
                if !key.starts_with(&prefix) {
                    break;
                }
                steps.insert(key.clone(), item.clone());
            }
        }
        steps.insert(step.id.clone(), state);
    }
    new_run(
        w,
        &workflow,
        Checkpoint {
            params,
            steps,
            boundaries: 0,
            // The same children as the run it repeats.
            children: old.checkpoint.children.clone(),
            overrides,
            forked: changes.is_some(),
            ..Default::default()
        },
        NewRun {
            task_id: old.task_id.clone(),
            environment_id: old.environment_id.clone(),
            parent_execution_id: None,
            device_id: None,
            rerun: Some((run_id.to_string(), from.to_string())),
        },
    )
}

/// Secret parameters: each value goes into this device's keyring and the run holds a marker
/// in its place, so no stored or synced row has it. A child run may take its parent run's
/// marker as it is (`params: { token: "{{ params.token }}" }`), and nothing else: a marker
/// typed by hand, or a value from a schedule or `run --workflow` (both store what they are
/// given), is refused.
fn seal_secret_params(
    workflow: &Workflow,
    params: &mut serde_json::Map<String, serde_json::Value>,
    parent_params: &serde_json::Map<String, serde_json::Value>,
    secrets: Option<&dyn SecretStore>,
) -> Result<()> {
    for (name, _) in workflow.definition.params.iter().filter(|(_, s)| s.secret) {
        let Some(serde_json::Value::String(value)) = params.get(name) else {
            continue;
        };
        if step_secrets::is_marker(value) {
            if parent_params.values().any(|v| v.as_str() == Some(value)) {
                continue;
            }
            return Err(CoreError::invalid(
                "params",
                format!("parameter `{name}`: a secret's marker is not a value; give the value"),
            ));
        }
        let Some(secrets) = secrets else {
            return Err(CoreError::invalid(
                "params",
                format!(
                    "parameter `{name}` of workflow `{}` is secret, and a schedule or `run \
                     --workflow` stores the parameters it is given: start it with `flightdeck \
                     workflow start`, or pass a secret parameter of a parent run, or read an \
                     environment secret variable with `{{{{ secrets.NAME }}}}` instead",
                    workflow.name
                ),
            ));
        };
        let (marker, account) = step_secrets::new_param_marker(name);
        secrets.set(&account, value)?;
        params.insert(name.clone(), serde_json::Value::String(marker));
    }
    Ok(())
}

/// The fields a fork may edit on step `from`, checked as the file's would be: a field the
/// step's kind has, and a template that parses and names only what the step may use.
fn edited_inputs(
    def: &flightdeck_types::WorkflowDefinition,
    from: &str,
    inputs: &[(String, String)],
) -> Result<std::collections::BTreeMap<String, String>> {
    let mut edited = std::collections::BTreeMap::new();
    let Some(step) = def.step(from) else {
        return Ok(edited);
    };
    for (field, text) in inputs {
        let mut probe = def.clone();
        let target = probe
            .steps
            .iter_mut()
            .find(|s| s.id == from)
            .expect("the step is there");
        if !super::overrides::override_field(target, field, text) {
            return Err(CoreError::invalid(
                "input",
                format!(
                    "step `{from}` ({}) has no field `{field}` to edit (fields: {})",
                    step.action.executor(),
                    super::overrides::editable_fields(step).join(", ")
                ),
            ));
        }
        let mut problems = Vec::new();
        super::templates::check_definition(&probe, &mut problems);
        if let Some(p) = problems
            .into_iter()
            .find(|p| p.starts_with(&format!("step `{from}`")))
        {
            return Err(CoreError::invalid("input", p));
        }
        edited.insert(field.clone(), text.clone());
    }
    Ok(edited)
}
