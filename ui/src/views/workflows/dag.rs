//! A run's steps drawn as a graph (SVG): one box per step, in columns by depth in `needs`
//! (a step sits one column right of the deepest step it waits for), an arrow per `needs`
//! edge, and the box coloured by the step's status. A click on a box, or on the step's
//! button under the graph, selects the step.

use std::collections::HashMap;

use flightdeck_types::{StepProgress, StepStatus};
use leptos::prelude::*;

use crate::views::format::duration;

const BOX_W: f64 = 168.0;
const BOX_H: f64 = 50.0;
const GAP_X: f64 = 64.0;
const GAP_Y: f64 = 22.0;
const MARGIN: f64 = 10.0;

/// Each step's column: 0 without `needs`, else one more than its deepest need. Definitions
/// are checked acyclic before they are stored; a need that is not a step counts as none.
pub fn depths(steps: &[StepProgress]) -> HashMap<String, usize> {
    let index: HashMap<&str, &StepProgress> = steps.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut depth: HashMap<String, usize> = HashMap::new();
    fn visit(
        id: &str,
        index: &HashMap<&str, &StepProgress>,
        depth: &mut HashMap<String, usize>,
        guard: usize,
    ) -> usize {
        if let Some(d) = depth.get(id) {
            return *d;
        }
        let Some(step) = index.get(id) else {
            return 0;
        };
        // `guard` bounds the recursion should a cycle ever reach the UI.
        let d = if guard > index.len() {
            0
        } else {
            step.needs
                .iter()
                .filter(|n| index.contains_key(n.as_str()))
                .map(|n| visit(n, index, depth, guard + 1) + 1)
                .max()
                .unwrap_or(0)
        };
        depth.insert(id.to_string(), d);
        d
    }
    for step in steps {
        visit(&step.id, &index, &mut depth, 0);
    }
    depth
}

/// The top-left corner of each step's box, and the drawing's width and height.
fn layout(steps: &[StepProgress]) -> (HashMap<String, (f64, f64)>, f64, f64) {
    let depth = depths(steps);
    let mut rows: HashMap<usize, usize> = HashMap::new();
    let mut at = HashMap::new();
    for step in steps {
        let column = depth.get(&step.id).copied().unwrap_or(0);
        let row = rows.entry(column).or_insert(0);
        let x = MARGIN + column as f64 * (BOX_W + GAP_X);
        let y = MARGIN + *row as f64 * (BOX_H + GAP_Y);
        *row += 1;
        at.insert(step.id.clone(), (x, y));
    }
    let columns = rows.keys().max().map_or(1, |c| c + 1) as f64;
    let most_rows = rows.values().max().copied().unwrap_or(1) as f64;
    let width = 2.0 * MARGIN + columns * BOX_W + (columns - 1.0) * GAP_X;
    let height = 2.0 * MARGIN + most_rows * BOX_H + (most_rows - 1.0) * GAP_Y;
    (at, width, height)
}

/// A selection as (step, item): `each[2]` is item 2 of fan-out step `each`.
pub fn split_item(selected: &str) -> (&str, Option<usize>) {
    match selected.strip_suffix(']').and_then(|s| s.split_once('[')) {
        Some((step, index)) => (step, index.parse().ok()),
        None => (selected, None),
    }
}

pub fn step_label(status: StepStatus) -> String {
    status.as_str().replace('_', " ")
}

#[component]
pub fn Dag(steps: Vec<StepProgress>, selected: RwSignal<Option<String>>) -> impl IntoView {
    let (at, width, height) = layout(&steps);
    let order: Vec<(String, StepStatus)> = steps.iter().map(|s| (s.id.clone(), s.status)).collect();
    let edges = steps
        .iter()
        .flat_map(|step| {
            step.needs.iter().filter_map(|need| {
                let (x1, y1) = at.get(need)?;
                let (x2, y2) = at.get(&step.id)?;
                let (x1, y1) = (x1 + BOX_W, y1 + BOX_H / 2.0);
                let (x2, y2) = (*x2 - 4.0, y2 + BOX_H / 2.0);
                let bend = GAP_X / 2.0;
                let d = format!(
                    "M {x1} {y1} C {} {y1}, {} {y2}, {x2} {y2}",
                    x1 + bend,
                    x2 - bend
                );
                let testid = format!("dag-edge-{need}-{}", step.id);
                Some(view! {
                    <path class="dag-edge" data-testid=testid d=d marker-end="url(#dag-arrow)" />
                })
            })
        })
        .collect_view();
    let boxes = steps
        .into_iter()
        .map(|step| {
            let (x, y) = at.get(&step.id).copied().unwrap_or((MARGIN, MARGIN));
            let id = step.id.clone();
            let is_selected = {
                let id = id.clone();
                move || selected.get().as_deref() == Some(id.as_str())
            };
            // A fan-out is one box: how many of its items ended, of how many.
            let detail = match (step.items.len(), step.duration_ms) {
                (0, Some(ms)) => format!("{} · {}", step_label(step.status), duration(ms)),
                (0, None) => step_label(step.status),
                (n, _) => format!(
                    "{} · {}/{n} items",
                    step_label(step.status),
                    step.items.iter().filter(|i| i.status.is_final()).count()
                ),
            };
            let items = step.items.len();
            view! {
                <g class=format!("dag-step step-{}", step.status.as_str())
                    class:selected=is_selected
                    data-testid=format!("dag-step-{}", step.id) data-status=step.status.as_str()
                    data-items=items
                    transform=format!("translate({x} {y})")
                    on:click=move |_| selected.set(Some(id.clone()))>
                    <title>{format!("{} ({}): {}", step.id, step.executor, step_label(step.status))}</title>
                    <rect width=BOX_W height=BOX_H rx="6" />
                    <text x="10" y="20" class="dag-step-id">{step.id.clone()}</text>
                    <text x="10" y="38" class="dag-step-detail">{detail}</text>
                </g>
            }
        })
        .collect_view();
    // The same selection from the keyboard (an SVG box is not focusable).
    let buttons = order
        .into_iter()
        .map(|(id, status)| {
            let target = id.clone();
            view! {
                <button class=format!("button small step-chip step-{}", status.as_str())
                    data-testid=format!("step-button-{id}") data-status=status.as_str()
                    class:active=move || selected.get().as_deref() == Some(target.as_str())
                    on:click=move |_| selected.set(Some(id.clone()))>
                    {id.clone()}
                </button>
            }
        })
        .collect_view();
    view! {
        <svg class="dag" data-testid="workflow-dag" width=width height=height
            viewBox=format!("0 0 {width} {height}")>
            <defs>
                <marker id="dag-arrow" viewBox="0 0 10 10" refX="9" refY="5"
                    markerWidth="7" markerHeight="7" orient="auto">
                    <path d="M 0 0 L 10 5 L 0 10 z" class="dag-arrow" />
                </marker>
            </defs>
            {edges}
            {boxes}
        </svg>
        <div class="row step-chips" role="group" aria-label="Steps">{buttons}</div>
    }
}
