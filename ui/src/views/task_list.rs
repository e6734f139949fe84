//! The task list: a row per task, ticked to set the status of several at once or archive
//! them, each bulk action with a toast whose Undo puts every task back as it was.

use std::collections::HashSet;

use flightdeck_types::{Task, TaskStatus};
use leptos::prelude::*;

use super::task_actions::TaskChange;
use super::tasks::label;
use super::{use_route, Route};

/// Applies `change` to every task of `tasks` (one write each, through the engine), then says so
/// in a toast whose Undo applies `undo` to each task as it was.
fn bulk(
    tasks: Vec<Task>,
    what: String,
    change: impl Fn(&Task) -> TaskChange + 'static,
    undo: impl Fn(&Task) -> TaskChange + Send + Sync + 'static,
) {
    let toasts = crate::toasts::use_toasts();
    let changes: Vec<(String, TaskChange)> =
        tasks.iter().map(|t| (t.id.clone(), change(t))).collect();
    let undos: Vec<(String, TaskChange)> = tasks.iter().map(|t| (t.id.clone(), undo(t))).collect();
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
            for (id, change) in undos.clone() {
                change.spawn(id);
            }
        });
    });
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
            move |_| TaskChange::Status(status),
            |t| TaskChange::Status(t.status),
        );
        ticked.set(HashSet::new());
    };
    let archive = move |_| {
        let chosen = chosen();
        let what = format!("Archived {} tasks.", chosen.len());
        bulk(
            chosen,
            what,
            |_| TaskChange::Archived(true),
            |_| TaskChange::Archived(false),
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
pub fn TaskList(tasks: Vec<Task>, ticked: RwSignal<HashSet<String>>) -> impl IntoView {
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
