//! Tasks: a board by status (or a list), search and filters, a quick-add form, and keyboard
//! shortcuts (`n` new task and `/` search as in every view, `b` board/list). A card shows its
//! environment and its last run's status, and is dragged to another column to change its
//! status (a toast offers Undo). Reads are a `LocalResource` that follows live
//! `entity-changed` events, the create is an `Action`.

use flightdeck_types::validate::task_title;
use std::collections::{HashMap, HashSet};

use flightdeck_types::{
    ExecutionFilter, ExecutionStatus, NewTask, Priority, Task, TaskFilter, TaskPatch, TaskStatus,
};
use leptos::html::Input;
use leptos::prelude::*;

use super::forms::{for_field, for_form, FieldError};
use super::{use_route, Route};
use crate::api::{self, ApiError};
use crate::live::use_live;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    Board,
    List,
}

thread_local! {
    /// The layout last chosen, so that it survives opening a task and coming back (the page
    /// is one thread; the choice lasts as long as the window).
    static LAST_LAYOUT: std::cell::Cell<Layout> = const { std::cell::Cell::new(Layout::Board) };
}

#[component]
pub fn TasksView() -> impl IntoView {
    let live = use_live();
    let (search, set_search) = signal(String::new());
    let (status, set_status) = signal(None::<TaskStatus>);
    let (priority, set_priority) = signal(None::<Priority>);
    let (layout, set_layout) = signal(LAST_LAYOUT.with(std::cell::Cell::get));
    // The list's ticked tasks, kept while the list redraws.
    let ticked = RwSignal::new(HashSet::<String>::new());
    Effect::new(move |_| {
        let chosen = layout.get();
        LAST_LAYOUT.with(|last| last.set(chosen));
    });
    let tasks = LocalResource::new(move || {
        live.tasks.get();
        let text = search.get();
        let filter = TaskFilter {
            status: status.get(),
            search: (!text.trim().is_empty()).then(|| text.trim().to_string()),
            ..Default::default()
        };
        api::list_tasks(filter)
    });
    let title_input = NodeRef::<Input>::new();
    let search_input = NodeRef::<Input>::new();

    // The view's own shortcut, ignored while typing in a field (`n` and `/` are every view's:
    // `palette::install_shortcuts`).
    let handle = window_event_listener(leptos::ev::keydown, move |ev| {
        let typing = ev
            .target()
            .and_then(|t| js_sys::Reflect::get(&t, &"tagName".into()).ok())
            .and_then(|tag| tag.as_string())
            .is_some_and(|tag| matches!(tag.as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
        if typing || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        if ev.key() == "b" {
            set_layout.update(|l| {
                *l = if *l == Layout::Board {
                    Layout::List
                } else {
                    Layout::Board
                }
            });
        }
    });
    on_cleanup(move || handle.remove());

    view! {
        <section class="view">
            <div class="view-head">
                <h1>"Tasks"</h1>
                <div class="toggle" role="group" aria-label="Layout">
                    <button
                        class="button"
                        data-testid="layout-board"
                        class:active=move || layout.get() == Layout::Board
                        on:click=move |_| set_layout.set(Layout::Board)
                    >
                        "Board"
                    </button>
                    <button
                        class="button"
                        data-testid="layout-list"
                        class:active=move || layout.get() == Layout::List
                        on:click=move |_| set_layout.set(Layout::List)
                    >
                        "List"
                    </button>
                </div>
            </div>
            <NewTaskForm title_input=title_input />
            <div class="filters">
                <input
                    node_ref=search_input
                    class="input"
                    data-testid="task-search"
                    data-shortcut="search"
                    placeholder="Search tasks  ( / )"
                    aria-label="Search tasks"
                    prop:value=search
                    on:input=move |ev| set_search.set(event_target_value(&ev))
                    on:keydown=move |ev| {
                        // Esc: the search cleared and left, as in a desktop app.
                        if ev.key() == "Escape" {
                            set_search.set(String::new());
                            if let Some(input) = search_input.get() {
                                let _ = input.blur();
                            }
                        }
                    }
                />
                <select
                    class="input"
                    data-testid="filter-status"
                    aria-label="Status"
                    on:change=move |ev| set_status.set(event_target_value(&ev).parse().ok())
                >
                    <option value="">"Any status"</option>
                    {TaskStatus::ALL
                        .iter()
                        .map(|s| view! { <option value=s.to_string()>{label(*s)}</option> })
                        .collect_view()}
                </select>
                <select
                    class="input"
                    data-testid="filter-priority"
                    aria-label="Priority"
                    on:change=move |ev| set_priority.set(event_target_value(&ev).parse().ok())
                >
                    <option value="">"Any priority"</option>
                    {Priority::ALL
                        .iter()
                        .map(|p| view! { <option value=p.to_string()>{p.to_string()}</option> })
                        .collect_view()}
                </select>
            </div>
            <Transition fallback=|| view! { <p class="loading">"Loading tasks…"</p> }>
                {move || Suspend::new(async move {
                    let wanted = priority.get();
                    tasks
                        .await
                        .map(|list| {
                            crate::app::report_ready();
                            let list: Vec<Task> = list
                                .into_iter()
                                .filter(|t| wanted.is_none_or(|p| t.priority == p))
                                .collect();
                            let filtered = !search.get_untracked().trim().is_empty()
                                || status.get_untracked().is_some() || wanted.is_some();
                            if list.is_empty() {
                                return view! { <Empty filtered=filtered /> }.into_any();
                            }
                            match layout.get() {
                                Layout::Board => view! { <Board tasks=list /> }.into_any(),
                                Layout::List => view! { <TaskList tasks=list ticked=ticked /> }.into_any(),
                            }
                        })
                })}
            </Transition>
        </section>
    }
}

pub fn label(status: TaskStatus) -> String {
    status.to_string().replace('_', " ")
}

#[component]
fn NewTaskForm(title_input: NodeRef<Input>) -> impl IntoView {
    let create = Action::new_local(|input: &NewTask| api::create_task(input.clone()));
    let (title, set_title) = signal(String::new());
    let (status, set_status) = signal(TaskStatus::Todo);
    let (local_error, set_local_error) = signal(None::<ApiError>);
    let error = move || {
        local_error
            .get()
            .or_else(|| create.value().get().and_then(Result::err))
    };
    // A successful create clears the field.
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            set_title.set(String::new());
        }
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = title.get_untracked();
        // Same rule as the engine, checked here so the error appears without a round trip.
        match task_title(&text) {
            Err(e) => set_local_error.set(Some(ApiError {
                code: "invalid".into(),
                message: e.message,
                field: Some(e.field),
            })),
            Ok(_) => {
                set_local_error.set(None);
                create.dispatch(NewTask {
                    title: text,
                    status: Some(status.get_untracked()),
                    ..Default::default()
                });
            }
        }
    };

    view! {
        <form class="new-task" on:submit=submit>
            <div class="field grow">
                <input
                    node_ref=title_input
                    data-testid="new-task-title"
                    data-shortcut="new"
                    class="input"
                    placeholder="New task title  ( n )"
                    aria-label="New task title"
                    prop:value=title
                    on:input=move |ev| {
                        set_local_error.set(None);
                        set_title.set(event_target_value(&ev));
                    }
                />
                <FieldError testid="title" message=Signal::derive(move || for_field(error(), "title")) />
            </div>
            <select
                class="input"
                data-testid="new-task-status"
                aria-label="Status of the new task"
                // Kept after a task is added: the next one often goes in the same column.
                prop:value=move || status.get().to_string()
                on:change=move |ev| {
                    if let Ok(s) = event_target_value(&ev).parse() {
                        set_status.set(s);
                    }
                }
            >
                {TaskStatus::ALL
                    .iter()
                    .map(|s| view! { <option value=s.to_string()>{label(*s)}</option> })
                    .collect_view()}
            </select>
            <button
                class="button primary"
                data-testid="new-task-submit"
                type="submit"
                disabled=move || create.pending().get()
            >
                "Add task"
            </button>
            {move || for_form(error(), &["title"]).map(|m| view! { <p class="form-error">{m}</p> })}
        </form>
    }
}

#[component]
fn Empty(filtered: bool) -> impl IntoView {
    let (title, hint) = if filtered {
        (
            "No task matches",
            "Clear the search or the filters to see every task.",
        )
    } else {
        (
            "No tasks yet",
            "Press n to add one, or from a terminal: flightdeck task add \"Fix the build\"",
        )
    };
    view! {
        <div class="empty-state" data-testid="tasks-empty">
            <p class="empty-title">{title}</p>
            <p class="empty-hint">{hint}</p>
        </div>
    }
}

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
        let patch = |status| TaskPatch {
            status: Some(status),
            ..Default::default()
        };
        match api::update_task(id.clone(), patch(to)).await {
            Ok(_) => toasts.with_undo(
                format!("Moved “{title}” to {}.", label(to)),
                move || {
                    let (id, patch) = (id.clone(), patch(from));
                    leptos::task::spawn_local(async move {
                        let _ = api::update_task(id, patch).await;
                    });
                },
            ),
            Err(e) => toasts.say(format!("“{title}” was not moved: {}", e.message)),
        }
    });
}

#[component]
fn Board(tasks: Vec<Task>) -> impl IntoView {
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

/// Applies `change` to every task of `tasks` (one write each, through the engine), then says so
/// in a toast whose Undo applies `undo` to each task as it was.
fn bulk(
    tasks: Vec<Task>,
    what: String,
    change: impl Fn(&Task) -> BulkChange + 'static,
    undo: impl Fn(&Task) -> BulkChange + Send + Sync + 'static,
) {
    let toasts = crate::toasts::use_toasts();
    let changes: Vec<(String, BulkChange)> =
        tasks.iter().map(|t| (t.id.clone(), change(t))).collect();
    let undos: Vec<(String, BulkChange)> = tasks.iter().map(|t| (t.id.clone(), undo(t))).collect();
    leptos::task::spawn_local(async move {
        let mut failed = Vec::new();
        for (id, change) in changes {
            if let Err(e) = change.apply(id).await {
                failed.push(e.message);
            }
        }
        if let Some(first) = failed.first() {
            toasts.say(format!("{} of {what} failed: {first}", failed.len()));
            return;
        }
        toasts.with_undo(what, move || {
            let undos = undos.clone();
            leptos::task::spawn_local(async move {
                for (id, change) in undos {
                    let _ = change.apply(id).await;
                }
            });
        });
    });
}

/// One task's part of a bulk action.
#[derive(Clone)]
enum BulkChange {
    Status(TaskStatus),
    Archived(bool),
}

impl BulkChange {
    async fn apply(self, id: String) -> Result<Task, ApiError> {
        match self {
            BulkChange::Status(status) => {
                let patch = TaskPatch {
                    status: Some(status),
                    ..Default::default()
                };
                api::update_task(id, patch).await
            }
            BulkChange::Archived(archived) => api::archive_task(id, archived).await,
        }
    }
}

/// The list's bulk bar: how many are ticked, a status for all of them, Archive, Clear.
#[component]
fn BulkBar(tasks: StoredValue<Vec<Task>>, ticked: RwSignal<HashSet<String>>) -> impl IntoView {
    let chosen = move || {
        let ticked = ticked.get_untracked();
        tasks.with_value(|all| {
            all.iter()
                .filter(|t| ticked.contains(&t.id))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let set_status = move |ev: leptos::ev::Event| {
        let Ok(status) = event_target_value(&ev).parse::<TaskStatus>() else {
            return;
        };
        let chosen = chosen();
        let what = format!("Moved {} tasks to {}.", chosen.len(), label(status));
        bulk(
            chosen,
            what,
            move |_| BulkChange::Status(status),
            |t| BulkChange::Status(t.status),
        );
        ticked.set(HashSet::new());
    };
    let archive = move |_| {
        let chosen = chosen();
        let what = format!("Archived {} tasks.", chosen.len());
        bulk(
            chosen,
            what,
            |_| BulkChange::Archived(true),
            |_| BulkChange::Archived(false),
        );
        ticked.set(HashSet::new());
    };
    move || {
        let count = ticked.get().len();
        (count > 0).then(|| view! {
            <div class="bulk-bar" data-testid="bulk-bar">
                <span data-testid="bulk-count">{format!("{count} selected")}</span>
                <select class="input" data-testid="bulk-status" aria-label="Set the status of the selected tasks"
                    on:change=set_status>
                    <option value="" selected=true>"Set status…"</option>
                    {TaskStatus::ALL.iter().map(|s| view! { <option value=s.to_string()>{label(*s)}</option> }).collect_view()}
                </select>
                <button class="button" data-testid="bulk-archive" on:click=archive>"Archive"</button>
                <button class="button" data-testid="bulk-clear" on:click=move |_| ticked.set(HashSet::new())>"Clear"</button>
            </div>
        })
    }
}

#[component]
fn TaskList(tasks: Vec<Task>, ticked: RwSignal<HashSet<String>>) -> impl IntoView {
    let route = use_route();
    let all = StoredValue::new(tasks.clone());
    view! {
        <BulkBar tasks=all ticked=ticked />
        <ul class="task-list" data-testid="task-list">
            {tasks
                .into_iter()
                .map(|task| {
                    let id = task.id.clone();
                    let (tick_id, shown_id) = (task.id.clone(), task.id.clone());
                    view! {
                        <li
                            class="task-row"
                            data-testid="task-row"
                            data-id=task.id.clone()
                            on:click=move |_| route.set(Route::Task(id.clone()))
                        >
                            <input type="checkbox" data-testid="task-tick" aria-label="Select"
                                prop:checked=move || ticked.with(|t| t.contains(&shown_id))
                                on:click=move |ev| ev.stop_propagation()
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    ticked.update(|t| {
                                        if on { t.insert(tick_id.clone()); } else { t.remove(&tick_id); }
                                    });
                                } />
                            <span class=format!("status status-{}", task.status)>{label(task.status)}</span>
                            <span class="task-title" data-testid="task-title">{task.title}</span>
                            <span class=format!("priority priority-{}", task.priority)>
                                {task.priority.to_string()}
                            </span>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}
