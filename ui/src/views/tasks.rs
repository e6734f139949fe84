//! The task list with a quick-add form. Reads are a `LocalResource`, the create is an
//! `Action`; a rejected title shows its error beside the field.

use flightdeck_types::validate::task_title;
use flightdeck_types::{NewTask, Task, TaskFilter};
use leptos::prelude::*;

use crate::api::{self, ApiError};

#[component]
pub fn TasksView() -> impl IntoView {
    let create = Action::new_local(|input: &NewTask| api::create_task(input.clone()));
    // Refetch after each successful create.
    let tasks = LocalResource::new(move || {
        create.version().get();
        api::list_tasks(TaskFilter::default())
    });

    view! {
        <section class="view">
            <h1>"Tasks"</h1>
            <NewTaskForm create=create />
            <Transition fallback=|| view! { <p class="loading">"Loading tasks…"</p> }>
                {move || Suspend::new(async move {
                    tasks.await.map(|list| view! { <TaskList tasks=list /> })
                })}
            </Transition>
        </section>
    }
}

#[component]
fn NewTaskForm(create: Action<NewTask, Result<Task, ApiError>>) -> impl IntoView {
    let (title, set_title) = signal(String::new());
    let (local_error, set_local_error) = signal(None::<String>);
    // The engine's verdict on the last submit, when it was about the title.
    let server_error = move || match create.value().get() {
        Some(Err(e)) if e.field.as_deref() == Some("title") => Some(e.message),
        _ => None,
    };
    let other_error = move || match create.value().get() {
        Some(Err(e)) if e.field.as_deref() != Some("title") => Some(e.message),
        _ => None,
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
            Err(e) => set_local_error.set(Some(e.message)),
            Ok(_) => {
                set_local_error.set(None);
                create.dispatch(NewTask {
                    title: text,
                    ..Default::default()
                });
            }
        }
    };

    view! {
        <form class="new-task" on:submit=submit>
            <div class="field">
                <input
                    data-testid="new-task-title"
                    class="input"
                    placeholder="New task title"
                    aria-label="New task title"
                    prop:value=title
                    on:input=move |ev| {
                        set_local_error.set(None);
                        set_title.set(event_target_value(&ev));
                    }
                />
                {move || {
                    local_error
                        .get()
                        .or_else(server_error)
                        .map(|message| {
                            view! {
                                <p class="field-error" data-testid="field-error-title">
                                    "Title " {message}
                                </p>
                            }
                        })
                }}
            </div>
            <button
                class="button primary"
                data-testid="new-task-submit"
                type="submit"
                disabled=move || create.pending().get()
            >
                "Add task"
            </button>
            {move || other_error().map(|m| view! { <p class="form-error">{m}</p> })}
        </form>
    }
}

#[component]
fn TaskList(tasks: Vec<Task>) -> impl IntoView {
    if tasks.is_empty() {
        return view! {
            <div class="empty-state">
                <p class="empty-title">"No tasks yet"</p>
                <p class="empty-hint">
                    "Add one above, or from a terminal: flightdeck task add \"Fix the build\""
                </p>
            </div>
        }
        .into_any();
    }
    view! {
        <ul class="task-list">
            {tasks
                .into_iter()
                .map(|task| {
                    view! {
                        <li class="task-row" data-testid="task-row" data-id=task.id.clone()>
                            <span class=format!("status status-{}", task.status)>
                                {task.status.to_string().replace('_', " ")}
                            </span>
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
    .into_any()
}
