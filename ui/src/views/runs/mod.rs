//! Runs: every run, newest first, with its status (live: rows follow `entity-changed` for
//! `executions`), filtered by task, environment, status and executor (as `runs list` is); a
//! row opens the run's detail with its live log.

pub mod detail;
mod diff_lines;
pub mod log;
mod worktree;

use std::collections::HashMap;

use flightdeck_types::{Execution, ExecutionFilter, ExecutionStatus, ExecutorKind, TaskFilter};
use leptos::prelude::*;

use super::format::{clip, local_time, run_duration, spec_summary, status_class, status_label};
use super::forms::{CompareButton, CompareTick};
use super::{use_route, Route};
use crate::api;
use crate::live::use_live;

#[component]
pub fn RunsView() -> impl IntoView {
    let live = use_live();
    let (status, set_status) = signal(None::<ExecutionStatus>);
    let (task, set_task) = signal(None::<String>);
    let (environment, set_environment) = signal(None::<String>);
    let (executor, set_executor) = signal(None::<ExecutorKind>);
    // Runs ticked for Compare (kept while the list redraws).
    let picked = RwSignal::new(Vec::<String>::new());
    let runs = LocalResource::new(move || {
        live.runs.get();
        api::list_runs(ExecutionFilter {
            status: status.get(),
            task_id: task.get(),
            environment_id: environment.get(),
            executor: executor.get(),
            ..Default::default()
        })
    });
    // The filters' choices: every task (archived ones too: their runs are listed) and
    // environment.
    let choices = LocalResource::new(move || {
        live.tasks.get();
        live.environments.get();
        async {
            let tasks = api::list_tasks(TaskFilter {
                include_archived: true,
                ..Default::default()
            })
            .await
            .unwrap_or_default();
            let envs = api::list_environments().await.unwrap_or_default();
            (
                tasks
                    .into_iter()
                    .map(|t| (t.id, t.title))
                    .collect::<Vec<_>>(),
                envs.into_iter().map(|e| (e.id, e.name)).collect::<Vec<_>>(),
            )
        }
    });
    let some = |text: String| (!text.is_empty()).then_some(text);
    let titles = LocalResource::new(move || {
        live.tasks.get();
        api::task_titles()
    });
    view! {
        <section class="view" data-testid="runs">
            <div class="view-head">
                <h1>"Runs"</h1>
            </div>
            <div class="filters tight" data-testid="run-filters">
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let (tasks, envs) = choices.await;
                        view! {
                            <select class="input" data-testid="filter-run-task" aria-label="Task"
                                on:change=move |ev| set_task.set(some(event_target_value(&ev)))>
                                <option value="">"Any task"</option>
                                {tasks.into_iter().map(|(id, title)| {
                                    let selected = task.get_untracked().as_deref() == Some(id.as_str());
                                    view! { <option value=id selected=selected>{title}</option> }
                                }).collect_view()}
                            </select>
                            <select class="input" data-testid="filter-run-env" aria-label="Environment"
                                on:change=move |ev| set_environment.set(some(event_target_value(&ev)))>
                                <option value="">"Any environment"</option>
                                {envs.into_iter().map(|(id, name)| {
                                    let selected = environment.get_untracked().as_deref() == Some(id.as_str());
                                    view! { <option value=id selected=selected>{name}</option> }
                                }).collect_view()}
                            </select>
                        }
                    })}
                </Transition>
                <select class="input" data-testid="filter-run-status" aria-label="Status"
                    on:change=move |ev| set_status.set(event_target_value(&ev).parse().ok())>
                    <option value="">"Any status"</option>
                    {ExecutionStatus::ALL.iter().map(|s| view! {
                        <option value=s.as_str()>{status_label(*s)}</option>
                    }).collect_view()}
                </select>
                <select class="input" data-testid="filter-run-executor" aria-label="Executor"
                    on:change=move |ev| set_executor.set(event_target_value(&ev).parse().ok())>
                    <option value="">"Any executor"</option>
                    {ExecutorKind::ALL.iter().map(|k| view! {
                        <option value=k.as_str()>{k.as_str().replace('_', " ")}</option>
                    }).collect_view()}
                </select>
            </div>
            <Transition fallback=|| view! { <p class="loading">"Loading runs…"</p> }>
                {move || Suspend::new(async move {
                    let titles: HashMap<String, String> = titles.await;
                    runs.await.map(|list| {
                        if list.is_empty() {
                            let filtered = status.get_untracked().is_some()
                                || task.get_untracked().is_some()
                                || environment.get_untracked().is_some()
                                || executor.get_untracked().is_some();
                            return view! { <Empty filtered=filtered /> }.into_any();
                        }
                        view! { <RunTable runs=list picked=picked titles=titles /> }.into_any()
                    })
                })}
            </Transition>
        </section>
    }
}

/// What brought a run about, when it was not started by hand: a schedule, a retry.
fn marks(run: &Execution) -> Vec<&'static str> {
    let mut marks = Vec::new();
    if run.schedule_id.is_some() {
        marks.push("scheduled");
    }
    if run.retry_of.is_some() {
        marks.push("retry");
    }
    marks
}

#[component]
fn Empty(filtered: bool) -> impl IntoView {
    let (title, hint) = if filtered {
        (
            "No run matches",
            "Set a filter back to Any to see more runs.",
        )
    } else {
        (
            "No runs yet",
            "Open a task and start a run from its Runs panel, add a schedule, or from a \
             terminal: flightdeck run TASK --shell 'make test'",
        )
    };
    view! {
        <div class="empty-state" data-testid="runs-empty">
            <p class="empty-title">{title}</p>
            <p class="empty-hint">{hint}</p>
        </div>
    }
}

/// Runs as rows (status, what, when, how long); a click opens the run. With `picked`, each
/// row has a box to tick and two ticked runs open side by side.
#[component]
pub fn RunTable(
    runs: Vec<Execution>,
    #[prop(optional)] picked: Option<RwSignal<Vec<String>>>,
    /// Task titles by id: with them, a Task column.
    #[prop(optional)]
    titles: Option<HashMap<String, String>>,
) -> impl IntoView {
    let route = use_route();
    let compare = picked.map(|picked| {
        view! {
            <CompareButton picked=picked open=move |a, b| route.set(Route::Compare(a, b, true)) />
        }
    });
    view! {
        {compare}
        <table class="table runs" data-testid="run-table">
            <thead>
                <tr>{picked.map(|_| view! { <th></th> })}<th>"Status"</th>{titles.is_some().then(|| view! { <th>"Task"</th> })}<th>"Runs"</th><th>"Queued"</th><th>"Took"</th><th>"Attempt"</th></tr>
            </thead>
            <tbody>
                {runs.into_iter().map(|run| {
                    let id = run.id.clone();
                    let tick = picked.map(|picked| view! { <CompareTick id=run.id.clone() picked=picked /> });
                    view! {
                        <tr class="clickable" data-testid="run-row" data-id=run.id.clone()
                            data-status=run.status.as_str()
                            on:click=move |_| route.set(Route::Run(id.clone()))>
                            {tick}
                            <td><span class=status_class(run.status) data-testid="run-status">
                                {status_label(run.status)}
                            </span></td>
                            {titles.as_ref().map(|titles| {
                                let title = run.task_id.as_ref().and_then(|id| titles.get(id)).cloned().unwrap_or_default();
                                view! { <td data-testid="run-task-title">{title}</td> }
                            })}
                            <td class="mono" data-testid="run-what">
                                {clip(&spec_summary(&run.spec), 80)}
                                {marks(&run).into_iter().map(|m| view! { " " <span class="badge" data-testid="run-mark">{m}</span> }).collect_view()}
                            </td>
                            <td>{local_time(run.queued_at)}</td>
                            <td>{run_duration(&run).unwrap_or_default()}</td>
                            <td>{run.attempt}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
