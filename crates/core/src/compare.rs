//! Comparing two runs (time travel, issue 33): steps aligned by step id (a plain run is one
//! step), each with its status, duration and delta, structural diffs (RFC 6902, the
//! `json-patch` crate) of its rendered inputs and outputs, and its log diff; the parameters
//! or spec and the environment's variables (by name; values never shown) diffed too; and the
//! first step where the runs diverge.

use std::collections::BTreeMap;

use flightdeck_types::{
    Environment, Execution, RunComparison, StepComparison, StepStatus, WorkflowRun,
};
use serde_json::{json, Value};

use crate::error::{CoreError, Result};
use crate::store::Store;

/// Log diffs are cut here (the first differing line is always given).
const LOG_DIFF_CAP: usize = 4_000;

struct SideStep {
    id: String,
    status: StepStatus,
    duration_ms: Option<i64>,
    inputs: Value,
    outputs: Value,
    log: Vec<String>,
}

struct Side {
    what: String,
    spec: Value,
    environment: Option<Environment>,
    steps: Vec<SideStep>,
}

pub fn compare(store: &Store, a: &str, b: &str) -> Result<RunComparison> {
    let (left, right) = (side(store, a)?, side(store, b)?);
    let mut ids: Vec<&str> = left.steps.iter().map(|s| s.id.as_str()).collect();
    for s in &right.steps {
        if !ids.contains(&s.id.as_str()) {
            ids.push(&s.id);
        }
    }
    let mut steps = Vec::with_capacity(ids.len());
    let mut first: Option<(String, String)> = None;
    for id in ids {
        let (x, y) = (
            left.steps.iter().find(|s| s.id == id),
            right.steps.iter().find(|s| s.id == id),
        );
        let (compared, why) = compare_step(id, x, y);
        if first.is_none() {
            if let Some(why) = why {
                first = Some((id.to_string(), why));
            }
        }
        steps.push(compared);
    }
    Ok(RunComparison {
        a: a.to_string(),
        b: b.to_string(),
        what_a: left.what,
        what_b: right.what,
        first_divergence: first.as_ref().map(|(id, _)| id.clone()),
        divergence: first.map(|(_, why)| why),
        spec_diff: patch(&left.spec, &right.spec),
        environment_diff: environment_diff(left.environment.as_ref(), right.environment.as_ref()),
        steps,
    })
}

fn patch(a: &Value, b: &Value) -> Vec<Value> {
    serde_json::to_value(json_patch::diff(a, b))
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

/// The comparison of one step, and why it diverges there (if it does).
fn compare_step(
    id: &str,
    x: Option<&SideStep>,
    y: Option<&SideStep>,
) -> (StepComparison, Option<String>) {
    let empty = Value::Object(Default::default());
    let inputs_diff = patch(
        x.map_or(&empty, |s| &s.inputs),
        y.map_or(&empty, |s| &s.inputs),
    );
    let outputs_diff = patch(
        x.map_or(&empty, |s| &s.outputs),
        y.map_or(&empty, |s| &s.outputs),
    );
    let (la, lb) = (
        x.map(|s| s.log.as_slice()).unwrap_or_default(),
        y.map(|s| s.log.as_slice()).unwrap_or_default(),
    );
    let log_first_difference = (la != lb).then(|| {
        la.iter()
            .zip(lb)
            .position(|(p, q)| p != q)
            .unwrap_or(la.len().min(lb.len())) as u32
            + 1
    });
    let log_diff = match log_first_difference {
        None => String::new(),
        Some(_) => {
            let (ta, tb) = (la.join("\n") + "\n", lb.join("\n") + "\n");
            let mut text = similar::TextDiff::from_lines(&ta, &tb)
                .unified_diff()
                .context_radius(2)
                .header("A", "B")
                .to_string();
            if text.len() > LOG_DIFF_CAP {
                let cut = (0..=LOG_DIFF_CAP)
                    .rev()
                    .find(|i| text.is_char_boundary(*i))
                    .unwrap_or(0);
                text.truncate(cut);
                text.push_str("\n... (cut; `flightdeck runs logs` has each whole)\n");
            }
            text
        }
    };
    let (status_a, status_b) = (x.map(|s| s.status), y.map(|s| s.status));
    let why = match (x, y) {
        (Some(_), None) => Some("only in A".to_string()),
        (None, Some(_)) => Some("only in B".to_string()),
        _ if status_a != status_b => Some(format!(
            "status {} -> {}",
            status_a.map_or("-".into(), |s| s.to_string()),
            status_b.map_or("-".into(), |s| s.to_string())
        )),
        _ if !inputs_diff.is_empty() => Some("its inputs differ".to_string()),
        _ if !outputs_diff.is_empty() => Some("its outputs differ".to_string()),
        _ => log_first_difference.map(|n| format!("its logs differ from line {n}")),
    };
    let change = match (x, y) {
        (Some(_), None) => "removed",
        (None, Some(_)) => "added",
        _ if why.is_some() => "changed",
        _ => "same",
    };
    let (da, db) = (x.and_then(|s| s.duration_ms), y.and_then(|s| s.duration_ms));
    (
        StepComparison {
            id: id.to_string(),
            change: change.to_string(),
            status_a,
            status_b,
            duration_a_ms: da,
            duration_b_ms: db,
            delta_ms: da.zip(db).map(|(p, q)| q - p),
            inputs_diff,
            outputs_diff,
            log_first_difference,
            log_diff,
        },
        why,
    )
}

/// Variables by name: `+NAME` only in B, `-NAME` only in A, `~NAME` a different value (a
/// secret variable's value is never read here).
fn environment_diff(a: Option<&Environment>, b: Option<&Environment>) -> Vec<String> {
    let vars = |e: Option<&Environment>| -> BTreeMap<String, Option<String>> {
        let Some(e) = e else {
            return BTreeMap::new();
        };
        let mut all: BTreeMap<String, Option<String>> = e
            .env_vars
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        all.extend(e.secret_vars.iter().map(|k| (k.clone(), None)));
        all
    };
    let (va, vb) = (vars(a), vars(b));
    let mut out = Vec::new();
    for (k, v) in &va {
        match vb.get(k) {
            None => out.push(format!("-{k}")),
            Some(w) if w != v => out.push(format!("~{k}")),
            _ => {}
        }
    }
    out.extend(
        vb.keys()
            .filter(|k| !va.contains_key(*k))
            .map(|k| format!("+{k}")),
    );
    out
}

fn log_of(store: &Store, execution_id: &str) -> Result<Vec<String>> {
    Ok(crate::runs::all_events(store, execution_id)?
        .into_iter()
        .filter(|e| matches!(e.kind.as_str(), "stdout" | "stderr"))
        .map(|e| e.data)
        .collect())
}

fn environment_of(store: &Store, id: Option<&str>) -> Option<Environment> {
    id.and_then(|id| crate::environments::get(store, id).ok())
}

fn side(store: &Store, id: &str) -> Result<Side> {
    match crate::workflows::get_run(store, id) {
        Ok(run) => workflow_side(store, &run),
        Err(CoreError::NotFound { .. }) => {
            let exec = crate::runs::get(store, id)?;
            plain_side(store, &exec)
        }
        Err(e) => Err(e),
    }
}

fn plain_side(store: &Store, exec: &Execution) -> Result<Side> {
    let spec = serde_json::to_value(&exec.spec).expect("specs serialize");
    Ok(Side {
        what: exec.spec.kind().to_string(),
        environment: environment_of(store, exec.environment_id.as_deref()),
        steps: vec![SideStep {
            id: "run".into(),
            status: match exec.status {
                flightdeck_types::ExecutionStatus::Succeeded => StepStatus::Succeeded,
                flightdeck_types::ExecutionStatus::Cancelled => StepStatus::Cancelled,
                s if s.is_final() => StepStatus::Failed,
                _ => StepStatus::Running,
            },
            duration_ms: exec
                .started_at
                .zip(exec.finished_at)
                .map(|(s, f)| f.as_millis() - s.as_millis()),
            inputs: spec.clone(),
            outputs: json!({ "exit_code": exec.exit_code, "result": exec.result }),
            log: log_of(store, &exec.id)?,
        }],
        spec,
    })
}

fn workflow_side(store: &Store, run: &WorkflowRun) -> Result<Side> {
    let def = crate::workflows::definition_of(store, run)?;
    let snapshots = crate::workflows::snapshots(store, &run.id)?;
    let cp = &run.checkpoint;
    let mut steps = Vec::new();
    for step in &def.steps {
        let keys = crate::workflows::engine::fanout::entries_of(cp, &step.id);
        for key in keys {
            let Some(state) = cp.steps.get(&key) else {
                continue;
            };
            // The rendered inputs of its last start (a finished step keeps them only there).
            let inputs = snapshots
                .iter()
                .rev()
                .find(|s| s.step_id.as_deref() == Some(key.as_str()) && s.label == "started")
                .map(|s| s.inputs.clone())
                .unwrap_or_else(|| json!({}));
            let (start, end) = match state.attempts.last() {
                Some(a) => (a.started_at, a.finished_at),
                None => (state.started_at, state.finished_at),
            };
            let log = match &state.execution_id {
                Some(exec) => log_of(store, exec)?,
                None => Vec::new(),
            };
            steps.push(SideStep {
                id: key,
                status: state.status,
                duration_ms: start.zip(end).map(|(s, f)| f.as_millis() - s.as_millis()),
                inputs,
                outputs: serde_json::to_value(&state.outputs).expect("outputs serialize"),
                log,
            });
        }
    }
    Ok(Side {
        what: format!("{} v{}", run.workflow_name, run.version),
        spec: Value::Object(cp.params.clone()),
        environment: environment_of(store, run.environment_id.as_deref()),
        steps,
    })
}
