//! A task's archive and delete, as the CLI has them (issue 21, item 9): archiving says so with
//! an Undo beside it and in a toast (which Ctrl+Z also takes back); deleting, which cannot be
//! undone, asks first.

use flightdeck_types::{Task, TaskPatch, TaskStatus};
use leptos::prelude::*;

use super::{use_route, Route};
use crate::api::{self, ApiError};

/// One change to a task that the app makes, and that a toast's Undo makes again in reverse:
/// the board's drag, a status saved, a bulk action, an archive.
#[derive(Clone, Copy)]
pub enum TaskChange {
    Status(TaskStatus),
    Archived(bool),
}

impl TaskChange {
    /// Makes the change through the engine.
    pub async fn apply(self, id: String) -> Result<Task, ApiError> {
        match self {
            TaskChange::Status(status) => {
                let patch = TaskPatch {
                    status: Some(status),
                    ..Default::default()
                };
                api::update_task(id, patch).await
            }
            TaskChange::Archived(archived) => api::archive_task(id, archived).await,
        }
    }

    /// Makes the change in the background, as an Undo does (the task's own change event shows
    /// the result).
    pub fn spawn(self, id: String) {
        leptos::task::spawn_local(async move {
            let _ = self.apply(id).await;
        });
    }
}

/// `just_archived` lives with the task's page, not here: the page redraws the task after each
/// change, and the Undo must outlive that.
#[component]
pub fn TaskActions(task: Task, just_archived: RwSignal<bool>) -> impl IntoView {
    let route = use_route();
    let archive = Action::new_local({
        let id = task.id.clone();
        move |to: &bool| api::archive_task(id.clone(), *to)
    });
    let delete = Action::new_local({
        let id = task.id.clone();
        move |_: &()| api::delete_task(id.clone())
    });
    let toasts = crate::toasts::use_toasts();
    Effect::new(move |_| {
        if let Some(Ok(task)) = archive.value().get() {
            just_archived.set(task.archived);
            if task.archived {
                let id = task.id.clone();
                toasts.with_undo(format!("Archived “{}”.", task.title), move || {
                    TaskChange::Archived(false).spawn(id.clone())
                });
            }
        }
        if let Some(Ok(_)) = delete.value().get() {
            route.set(Route::Tasks);
        }
    });
    let failed = move || {
        let archive_error = archive.value().get().and_then(Result::err);
        archive_error.or_else(|| delete.value().get().and_then(Result::err))
    };
    let busy = move || archive.pending().get() || delete.pending().get();
    let archived = task.archived;
    let title = task.title.clone();
    view! {
        <div class="row task-actions" data-testid="task-actions">
            {if archived {
                view! {
                    <span class="badge" data-testid="task-archived">"Archived"</span>
                    {move || if just_archived.get() {
                        view! {
                            <span class="notice" data-testid="archived-notice">"Archived: hidden from the board and lists."</span>
                            <button class="button" data-testid="undo-archive" disabled=busy
                                on:click=move |_| { archive.dispatch(false); }>"Undo"</button>
                        }.into_any()
                    } else {
                        view! {
                            <button class="button" data-testid="unarchive-task" disabled=busy
                                on:click=move |_| { archive.dispatch(false); }>"Unarchive"</button>
                        }.into_any()
                    }}
                }.into_any()
            } else {
                view! {
                    <button class="button" data-testid="archive-task" disabled=busy
                        title="Hide it from the board and lists; Undo or Unarchive brings it back"
                        on:click=move |_| { archive.dispatch(true); }>"Archive"</button>
                }.into_any()
            }}
            <super::confirm::ConfirmDelete label="Delete…" testid="delete-task" scope=""
                question=format!("Delete “{title}” for good, on every synced device? This cannot be undone.")
                pending=Signal::derive(busy) on_confirm=Callback::new(move |()| { delete.dispatch(()); }) />
            {move || failed().map(|e| view! { <p class="form-error" data-testid="task-action-error">{e.message}</p> })}
        </div>
    }
}
