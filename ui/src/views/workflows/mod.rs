//! Workflows: every definition (newest version, the versions stored, its steps) with a Start
//! button that opens the parameter form, and the recent runs (status, steps done of total),
//! live: both follow `entity-changed` for `workflows` and `workflow_runs`. A run row opens the
//! run page (its DAG, progress and controls).

pub mod compare;
pub mod dag;
pub mod form;
pub mod run;

use flightdeck_types::{Workflow, WorkflowRun, WorkflowRunFilter, WorkflowRunStatus};
use leptos::prelude::*;

use super::format::local_time;
use super::forms::{CompareButton, CompareTick};
use super::{use_route, Route};
use crate::api;
use crate::live::use_live;

#[component]
pub fn WorkflowsView() -> impl IntoView {
    let live = use_live();
    let workflows = LocalResource::new(move || {
        live.workflows.get();
        api::list_workflows()
    });
    let runs = LocalResource::new(move || {
        live.workflow_runs.get();
        api::list_workflow_runs(WorkflowRunFilter {
            limit: Some(20),
            ..Default::default()
        })
    });
    // The workflow whose start form is open.
    let starting = RwSignal::new(None::<Workflow>);
    // Runs ticked for Compare (kept while the list redraws).
    let picked = RwSignal::new(Vec::<String>::new());
    view! {
        <section class="view" data-testid="workflows">
            <div class="view-head"><h1>"Workflows"</h1></div>
            <Transition fallback=|| view! { <p class="loading">"Loading workflows…"</p> }>
                {move || Suspend::new(async move {
                    workflows.await.map(|list| {
                        if list.is_empty() {
                            return view! { <Empty /> }.into_any();
                        }
                        view! {
                            <table class="table" data-testid="workflow-table">
                                <thead><tr>
                                    <th>"Name"</th><th>"Version"</th><th>"Versions"</th>
                                    <th>"Steps"</th><th></th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|summary| {
                                        let wf = summary.workflow;
                                        let versions = summary.versions.iter()
                                            .map(|v| format!("v{v}")).collect::<Vec<_>>().join(", ");
                                        let name = wf.name.clone();
                                        let (version, steps) = (wf.version, wf.definition.steps.len());
                                        view! {
                                            <tr data-testid="workflow-row" data-name=name.clone()>
                                                <td data-testid="workflow-name">{name.clone()}</td>
                                                <td data-testid="workflow-version">{format!("v{version}")}</td>
                                                <td class="muted">{versions}</td>
                                                <td data-testid="workflow-steps">{steps}</td>
                                                <td><button class="button primary small"
                                                    data-testid=format!("workflow-start-{name}")
                                                    on:click=move |_| starting.set(Some(wf.clone()))>
                                                    "Start…"
                                                </button></td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    })
                })}
            </Transition>
            {move || starting.get().map(|wf| view! {
                <form::StartWorkflowForm workflow=wf on_close=move || starting.set(None) />
            })}
            <h2>"Recent runs"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading runs…"</p> }>
                {move || Suspend::new(async move {
                    runs.await.map(|list| {
                        if list.is_empty() {
                            return view! {
                                <p class="empty-hint" data-testid="workflow-runs-empty">
                                    "No workflow runs yet: start one above."
                                </p>
                            }.into_any();
                        }
                        view! { <RunTable runs=list picked=picked /> }.into_any()
                    })
                })}
            </Transition>
        </section>
    }
}

pub fn status_label(status: WorkflowRunStatus) -> String {
    status.as_str().replace('_', " ")
}

/// Steps finished (succeeded, failed, skipped or cancelled) and steps in all.
pub fn steps_done(run: &WorkflowRun) -> (usize, usize) {
    let steps = &run.checkpoint.steps;
    let done = steps.values().filter(|s| s.status.is_final()).count();
    (done, steps.len())
}

#[component]
fn RunTable(runs: Vec<WorkflowRun>, picked: RwSignal<Vec<String>>) -> impl IntoView {
    let route = use_route();
    view! {
        <CompareButton picked=picked open=move |a, b| route.set(Route::Compare(a, b, false)) />
        <table class="table runs" data-testid="workflow-run-table">
            <thead><tr>
                <th></th><th>"Status"</th><th>"Workflow"</th><th>"Steps"</th><th>"Queued"</th>
            </tr></thead>
            <tbody>
                {runs.into_iter().map(|run| {
                    let id = run.id.clone();
                    let (done, total) = steps_done(&run);
                    view! {
                        <tr class="clickable" data-testid="workflow-run-row" data-id=run.id.clone()
                            data-status=run.status.as_str()
                            on:click=move |_| route.set(Route::WorkflowRun(id.clone()))>
                            <CompareTick id=run.id.clone() picked=picked />
                            <td><span class=format!("status run-{}", run.status.as_str())>
                                {status_label(run.status)}
                            </span></td>
                            // A button too, so the keyboard (and WebDriver) can open it.
                            <td><button class="button link inline" data-testid="workflow-run-open">
                                {format!("{} v{}", run.workflow_name, run.version)}
                            </button></td>
                            <td data-testid="workflow-run-steps">{format!("{done}/{total}")}</td>
                            <td>{local_time(run.queued_at)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn Empty() -> impl IntoView {
    view! {
        <div class="empty-state" data-testid="workflows-empty">
            <p class="empty-title">"No workflows yet"</p>
            <p class="empty-hint">
                "Write a workflow as a YAML file and add it from a terminal: \
                 flightdeck workflow apply deploy.yaml"
            </p>
        </div>
    }
}
