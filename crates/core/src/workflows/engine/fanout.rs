//! Fan-out (`foreach`): a step that runs once per item of a list. Its own checkpoint entry
//! runs nothing: it is `running` while its items run and ends when they all have; each item
//! is an ordinary step run under the run's concurrency limit (and the device's step cap),
//! with an entry of its own, `ID[INDEX]`, so a boundary records one item, not all of them.
//! An item that fails (with no `continue_on_failure`) starts no more items, as a failed step
//! starts no more steps; the fan-out step fails once its running items ended.

use flightdeck_types::{StepDefinition, StepState, StepStatus, WorkflowDefinition, WorkflowRun};
use serde_json::{json, Value};

use super::boundary;
use super::steps::{fail_step, launch};
use crate::error::Result;
use crate::store::Writer;
use crate::workflows::templates;

/// The most items one fan-out may have (as many as a workflow may have steps).
pub const MAX_ITEMS: usize = crate::workflows::definition::MAX_STEPS;

/// The checkpoint entry of item `index` of step `id`.
pub fn item_key(id: &str, index: u32) -> String {
    format!("{id}[{index}]")
}

/// The checkpoint entries of `step`, in the order a person reads them: the step, then its
/// fan-out items by index.
pub fn entries_of(checkpoint: &flightdeck_types::Checkpoint, step: &str) -> Vec<String> {
    let prefix = format!("{step}[");
    let mut items: Vec<(u32, String)> = checkpoint
        .steps
        .keys()
        .filter_map(|k| {
            Some((
                k.strip_prefix(&prefix)?.strip_suffix(']')?.parse().ok()?,
                k.clone(),
            ))
        })
        .collect();
    items.sort();
    std::iter::once(step.to_string())
        .chain(items.into_iter().map(|(_, k)| k))
        .collect()
}

/// Starts fan-out step `step` over `items`: its entry becomes `running` (holding the items
/// until they have all started), each item a pending entry. No items: it succeeds at once.
pub(super) fn fan_out(
    w: &Writer<'_>,
    run: &mut WorkflowRun,
    step: &StepDefinition,
    items: Vec<Value>,
) -> Result<()> {
    if items.len() > MAX_ITEMS {
        return fail_step(
            w,
            run,
            &step.id,
            format!(
                "field `foreach`: {} items; a fan-out has at most {MAX_ITEMS}",
                items.len()
            ),
        );
    }
    let n = items.len() as u32;
    let mut parent = StepState::pending();
    parent.started_at = Some(w.now());
    parent.items = Some(n);
    if n == 0 {
        parent.status = StepStatus::Succeeded;
        parent.finished_at = Some(w.now());
        run.checkpoint.set_step(step.id.clone(), parent);
        return boundary(w, run, Some(&step.id), "succeeded");
    }
    parent.status = StepStatus::Running;
    parent.inputs = Some(json!({ "foreach": items }));
    for i in 0..n {
        run.checkpoint
            .set_step(item_key(&step.id, i), StepState::pending());
    }
    run.checkpoint.set_step(step.id.clone(), parent);
    boundary(w, run, Some(&step.id), "started")
}

/// Whether the items of `step` still to start never will: the run failed or is cancelled
/// (unless the step is a handler), or one of its items failed.
fn stopped(run: &WorkflowRun, step: &StepDefinition, failed_run: bool) -> bool {
    let n = run.checkpoint.steps[&step.id].items.unwrap_or(0);
    let item_failed = (0..n).any(|i| {
        run.checkpoint
            .steps
            .get(&item_key(&step.id, i))
            .is_some_and(|s| s.status == StepStatus::Failed)
    });
    (failed_run && step.run_if.is_none()) || (item_failed && !step.continue_on_failure)
}

/// Starts the pending items of running fan-out step `step`, in order, while the run's
/// concurrency allows. Returns whether any started.
pub(super) fn start_items(
    w: &mut Writer<'_>,
    run: &mut WorkflowRun,
    def: &WorkflowDefinition,
    step: &StepDefinition,
    ctx: &Value,
    failed_run: bool,
    running: &mut u32,
) -> Result<bool> {
    if stopped(run, step, failed_run) {
        return Ok(false);
    }
    let parent = run.checkpoint.steps[&step.id].clone();
    let items = parent
        .inputs
        .as_ref()
        .and_then(|i| i.get("foreach"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut changed = false;
    for (i, item) in items.iter().enumerate() {
        let key = item_key(&step.id, i as u32);
        if run.checkpoint.steps.get(&key).map(|s| s.status) != Some(StepStatus::Pending) {
            continue;
        }
        if *running >= def.concurrency {
            break;
        }
        let mut ctx = ctx.clone();
        ctx["item"] = item.clone();
        ctx["index"] = json!(i);
        changed = true;
        let rendered = match templates::render_step(step, &ctx) {
            Ok(r) => r,
            Err(e) => {
                fail_step(
                    w,
                    run,
                    &key,
                    format!("its inputs could not be rendered: {e}"),
                )?;
                break; // a failed item starts no more
            }
        };
        let mut new = StepState::pending();
        new.inputs = Some(serde_json::to_value(&rendered).expect("steps always serialize"));
        new.started_at = Some(w.now());
        launch(w, run, &key, &rendered, new, running)?;
        if stopped(run, step, failed_run) {
            break;
        }
    }
    Ok(changed)
}

/// Ends what of each running fan-out step is over: items that will never start are
/// `cancelled`, and the step ends once all its items have: `failed` if any failed (naming
/// the first), else `cancelled` if any was, else `succeeded`. Returns whether any changed.
pub(super) fn settle(
    w: &Writer<'_>,
    run: &mut WorkflowRun,
    def: &WorkflowDefinition,
    failed_run: bool,
) -> Result<bool> {
    let mut changed = false;
    for step in def.steps.iter().filter(|s| s.foreach.is_some()) {
        let Some(parent) = run.checkpoint.steps.get(&step.id).cloned() else {
            continue;
        };
        if parent.status != StepStatus::Running {
            continue;
        }
        let n = parent.items.unwrap_or(0);
        if stopped(run, step, failed_run) {
            for i in 0..n {
                let key = item_key(&step.id, i);
                let Some(state) = run.checkpoint.steps.get(&key) else {
                    continue;
                };
                if state.status != StepStatus::Pending {
                    continue;
                }
                let mut new = state.clone();
                new.status = StepStatus::Cancelled;
                new.error = Some("not run: the fan-out stopped".into());
                new.finished_at = Some(w.now());
                run.checkpoint.set_step(key.clone(), new);
                boundary(w, run, Some(&key), "cancelled")?;
                changed = true;
            }
        }
        let states: Vec<(u32, StepState)> = (0..n)
            .filter_map(|i| Some((i, run.checkpoint.steps.get(&item_key(&step.id, i))?.clone())))
            .collect();
        if states.iter().any(|(_, s)| !s.status.is_final()) {
            continue;
        }
        let first = |want: StepStatus| states.iter().find(|(_, s)| s.status == want);
        let mut done = parent.clone();
        (done.status, done.error) = match (first(StepStatus::Failed), first(StepStatus::Cancelled))
        {
            (Some((i, s)), _) => (
                StepStatus::Failed,
                Some(format!(
                    "item {i} of {n} failed: {}",
                    s.error.as_deref().unwrap_or("failed")
                )),
            ),
            (None, Some((i, _))) => (
                StepStatus::Cancelled,
                Some(format!("item {i} of {n} was cancelled")),
            ),
            (None, None) => (StepStatus::Succeeded, None),
        };
        done.finished_at = Some(w.now());
        run.checkpoint.set_step(step.id.clone(), done);
        let label = run.checkpoint.steps[&step.id].status.as_str();
        boundary(w, run, Some(&step.id), label)?;
        changed = true;
    }
    Ok(changed)
}
