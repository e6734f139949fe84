//! Tasks: a board by status (or a list), search and filters, a quick-add form, and keyboard
//! shortcuts (`n` new task and `/` search as in every view, `b` board/list); the board is
//! `task_board`, the list with its bulk actions `task_list`. Reads are a `LocalResource` that
//! follows live `entity-changed` events, the create is an `Action`.

use std::collections::HashSet;

use flightdeck_types::validate::task_title;
use flightdeck_types::{NewTask, Priority, Task, TaskFilter, TaskStatus};
use leptos::html::Input;
use leptos::prelude::*;

use super::forms::{for_field, for_form, FieldError};
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
        if crate::palette::typing(&ev) || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
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
                                Layout::Board => view! { <super::task_board::Board tasks=list /> }.into_any(),
                                Layout::List => view! { <super::task_list::TaskList tasks=list ticked=ticked /> }.into_any(),
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
