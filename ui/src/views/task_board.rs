//! The task board: a column per status, cards that show their environment and their last
//! run's status, dragged between columns to change a task's status (a toast offers Undo).

use std::collections::HashMap;

use flightdeck_types::{ExecutionFilter, ExecutionStatus, Task, TaskStatus};
use leptos::prelude::*;

use super::task_actions::TaskChange;
use super::tasks::label;
use super::{use_route, Route};
use crate::api;
use crate::live::use_live;

/// What a board card shows besides its task: its environment's name and its last run's
/// status, by task id.
#[derive(Clone, Default)]
struct CardFacts {
    environments: HashMap<String, String>,
    last_run: HashMap<String, ExecutionStatus>,
}

async fn card_facts() -> CardFacts {
    let environments = api::list_environments()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.id, e.name))
        .collect();
    let mut last_run = HashMap::new();
    // Newest first: the first run seen of a task is its last.
    let runs = api::list_runs(ExecutionFilter {
        limit: Some(500),
        ..Default::default()
    })
    .await
    .unwrap_or_default();
    for run in runs {
        if let Some(task) = run.task_id {
            last_run.entry(task).or_insert(run.status);
        }
    }
    CardFacts {
        environments,
        last_run,
    }
}

/// The data a dragged card carries: its task's id.
const DRAGGED_TASK: &str = "application/x-flightdeck-task";

/// Moves a task to `to` (a card dropped on a column): through the engine's write path, with a
/// toast whose Undo moves it back.
fn move_task(task: &Task, to: TaskStatus) {
    if task.status == to {
        return;
    }
    let toasts = crate::toasts::use_toasts();
    let (id, from, title) = (task.id.clone(), task.status, task.title.clone());
    leptos::task::spawn_local(async move {
        match TaskChange::Status(to).apply(id.clone()).await {
            Ok(_) => toasts.with_undo(
                format!("Moved “{title}” to {}.", label(to)),
                move || TaskChange::Status(from).spawn(id.clone()),
            ),
            Err(e) => toasts.say(format!("“{title}” was not moved: {}", e.message)),
        }
    });
}

#[component]
pub fn Board(tasks: Vec<Task>) -> impl IntoView {
    let live = use_live();
    let facts = LocalResource::new(move || {
        live.runs.get();
        live.environments.get();
        card_facts()
    });
    let facts = Signal::derive(move || facts.get().unwrap_or_default());
    // The column a card is dragged over, for its highlight.
    let over = RwSignal::new(None::<TaskStatus>);
    let all = StoredValue::new(tasks.clone());
    view! {
        <div class="board" data-testid="board">
            {TaskStatus::ALL
                .iter()
                .map(|status| {
                    let status = *status;
                    let column: Vec<Task> =
                        tasks.iter().filter(|t| t.status == status).cloned().collect();
                    let count = column.len();
                    let drop = move |ev: leptos::ev::DragEvent| {
                        ev.prevent_default();
                        over.set(None);
                        let id = ev.data_transfer().and_then(|d| d.get_data(DRAGGED_TASK).ok());
                        let task = id.and_then(|id| all.with_value(|all| all.iter().find(|t| t.id == id).cloned()));
                        if let Some(task) = task {
                            move_task(&task, status);
                        }
                    };
                    view! {
                        <div class="board-column" data-testid="board-column" data-status=status.to_string()
                            class:drop-target=move || over.get() == Some(status)
                            on:dragover=move |ev: leptos::ev::DragEvent| { ev.prevent_default(); over.set(Some(status)); }
                            on:dragleave=move |_| over.set(None)
                            on:drop=drop>
                            <h2 class="column-title">{label(status)} <span class="count">{count}</span></h2>
                            {column.into_iter().map(|task| view! { <Card task=task facts=facts /> }).collect_view()}
                        </div>
                    }
                })
                .collect_view()}
        </div>
    }
}

#[component]
fn Card(task: Task, facts: Signal<CardFacts>) -> impl IntoView {
    let route = use_route();
    let id = task.id.clone();
    let dragged = task.id.clone();
    let (env_id, task_id) = (task.environment_id.clone(), task.id.clone());
    let environment = move || {
        env_id
            .as_ref()
            .and_then(|e| facts.with(|f| f.environments.get(e).cloned()))
    };
    let last_run = move || facts.with(|f| f.last_run.get(&task_id).copied());
    view! {
        <button
            class="task-card"
            data-testid="task-card"
            data-id=task.id.clone()
            draggable="true"
            on:dragstart=move |ev: leptos::ev::DragEvent| {
                if let Some(data) = ev.data_transfer() {
                    let _ = data.set_data(DRAGGED_TASK, &dragged);
                    let _ = data.set_data("text/plain", &dragged);
                    data.set_effect_allowed("move");
                }
            }
            on:click=move |_| route.set(Route::Task(id.clone()))
        >
            <span class="task-title" data-testid="task-title">{task.title}</span>
            <span class="card-facts">
                <span class=format!("priority priority-{}", task.priority)>{task.priority.to_string()}</span>
                {move || environment().map(|name| view! {
                    <span class="card-env" data-testid="card-env" title="Environment">{name}</span>
                })}
                {move || last_run().map(|status| view! {
                    <span class=format!("status status-{}", status.as_str()) data-testid="card-run"
                        title="Its last run">{status.as_str()}</span>
                })}
            </span>
        </button>
    }
}
