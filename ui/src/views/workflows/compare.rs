//! Two runs side by side (the app's `flightdeck compare`): steps aligned by id with each
//! run's status and duration and the delta, the first step where they diverge named on top
//! and its row marked, then what differs in a step's inputs, outputs and log, in the
//! parameters (a plain run: its spec) and in the environment's variables (by name only).

use flightdeck_types::{RunComparison, StepComparison};
use leptos::prelude::*;

use super::dag::step_label;
use crate::api;
use crate::views::format::duration;
use crate::views::{use_route, Route};

#[component]
pub fn CompareView(a: String, b: String, plain: bool) -> impl IntoView {
    let route = use_route();
    let comparison = LocalResource::new({
        let (a, b) = (a.clone(), b.clone());
        move || api::compare_runs(a.clone(), b.clone())
    });
    view! {
        <section class="view" data-testid="compare" data-a=a.clone() data-b=b.clone()>
            {if plain {
                view! { <button class="button link" data-testid="back-to-runs"
                    on:click=move |_| route.set(Route::Runs)>"← Runs"</button> }.into_any()
            } else {
                view! { <button class="button link" data-testid="back-to-workflows"
                    on:click=move |_| route.set(Route::Workflows)>"← Workflows"</button> }.into_any()
            }}
            <Transition fallback=|| view! { <p class="loading">"Comparing…"</p> }>
                {move || Suspend::new(async move {
                    match comparison.await {
                        Ok(c) => view! { <Comparison c=c plain=plain /> }.into_any(),
                        Err(e) => view! {
                            <p class="form-error" data-testid="compare-error">{e.message}</p>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Comparison(c: RunComparison, plain: bool) -> impl IntoView {
    let route = use_route();
    let open = move |id: String, testid: &'static str| {
        let to = id.clone();
        view! {
            <button class="button link mono" data-testid=testid
                on:click=move |_| route.set(if plain { Route::Run(to.clone()) } else { Route::WorkflowRun(to.clone()) })>{id}</button>
        }
    };
    let divergence = match &c.first_divergence {
        Some(step) => format!(
            "They diverge at step `{step}`{}",
            c.divergence
                .as_ref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ),
        None => "They do not diverge: every step ended the same way.".to_string(),
    };
    let first = c.first_divergence.clone();
    let rows = c
        .steps
        .into_iter()
        .map(|s| {
            let diverges = first.as_deref() == Some(s.id.as_str());
            view! { <StepRow s=s diverges=diverges /> }
        })
        .collect_view();
    let environment = (!c.environment_diff.is_empty()).then(|| {
        let names = c.environment_diff.join(" ");
        view! {
            <h2>"Environment"</h2>
            <p class="mono" data-testid="compare-environment"
                title="+ only in B, - only in A, ~ different values (never shown)">{names}</p>
        }
    });
    let params = (!c.spec_diff.is_empty()).then(|| {
        let text = serde_json::to_string_pretty(&c.spec_diff).unwrap_or_default();
        view! { <h2>"Parameters"</h2><pre class="mono" data-testid="compare-params">{text}</pre> }
    });
    view! {
        <div class="view-head">
            <h1>"Compare"</h1>
        </div>
        <p>
            "A: "{open(c.a.clone(), "compare-a")}<span class="muted">{format!(" {}", c.what_a)}</span>
            " · B: "{open(c.b.clone(), "compare-b")}<span class="muted">{format!(" {}", c.what_b)}</span>
        </p>
        <p class=if first.is_some() { "panel diverge" } else { "panel" } data-testid="compare-divergence">
            {divergence}
        </p>
        {params}
        {environment}
        <table class="table" data-testid="compare-steps">
            <thead><tr>
                <th>"Step"</th><th>"A"</th><th>"B"</th><th>"Took A"</th><th>"Took B"</th>
                <th>"Delta"</th><th>"What differs"</th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

#[component]
fn StepRow(s: StepComparison, diverges: bool) -> impl IntoView {
    let status =
        |st: Option<flightdeck_types::StepStatus>| st.map(step_label).unwrap_or_else(|| "-".into());
    let took = |ms: Option<i64>| ms.map(duration).unwrap_or_else(|| "-".into());
    let delta = s
        .delta_ms
        .map(|d| format!("{}{}", if d >= 0 { "+" } else { "-" }, duration(d.abs())))
        .unwrap_or_else(|| "-".into());
    let mut differs: Vec<String> = Vec::new();
    if !s.change.is_empty() {
        differs.push(s.change.clone());
    }
    if !s.inputs_diff.is_empty() {
        differs.push(format!("inputs ({})", s.inputs_diff.len()));
    }
    if !s.outputs_diff.is_empty() {
        differs.push(format!("outputs ({})", s.outputs_diff.len()));
    }
    if let Some(line) = s.log_first_difference {
        differs.push(format!("log from line {line}"));
    }
    let log = (!s.log_diff.is_empty()).then(|| {
        view! {
            <details><summary>"Log diff"</summary>
                <pre class="mono" data-testid="compare-log-diff">{s.log_diff.clone()}</pre>
            </details>
        }
    });
    view! {
        <tr data-testid="compare-step" data-step=s.id.clone() data-diverges=diverges.to_string()
            class=if diverges { "diverge" } else { "" }>
            <td class="mono">{s.id.clone()}</td>
            <td>{status(s.status_a)}</td>
            <td>{status(s.status_b)}</td>
            <td>{took(s.duration_a_ms)}</td>
            <td>{took(s.duration_b_ms)}</td>
            <td>{delta}</td>
            <td>{differs.join(", ")}{log}</td>
        </tr>
    }
}
