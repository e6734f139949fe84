//! One task: its fields, an edit form with errors beside each field, its runs (start a run,
//! follow them) and its context (related memories, similar runs).

use flightdeck_types::{format_span_secs, parse_span_secs, Priority, Task, TaskPatch, TaskStatus};
use leptos::prelude::*;

use super::forms::{for_field, for_form, FieldError};
use super::task_actions::TaskChange;
use super::tasks::label;
use super::{use_route, Route};
use crate::api;
use crate::live::use_live;

#[component]
pub fn TaskDetailView(id: String) -> impl IntoView {
    let live = use_live();
    let route = use_route();
    let just_archived = RwSignal::new(false);
    let task = LocalResource::new({
        let id = id.clone();
        move || {
            live.tasks.get();
            api::get_task(id.clone())
        }
    });
    let environments = LocalResource::new(move || {
        live.environments.get();
        api::list_environments()
    });
    view! {
        <section class="view" data-testid="task-detail">
            <button class="button link" data-testid="back-to-tasks" on:click=move |_| route.set(Route::Tasks)>
                "← Tasks"
            </button>
            <Transition fallback=|| view! { <p class="loading">"Loading the task…"</p> }>
                {move || Suspend::new(async move {
                    let envs = environments.await.unwrap_or_default();
                    task.await.map(|task| view! {
                        <super::task_actions::TaskActions task=task.clone() just_archived=just_archived />
                        <TaskEditor task=task environments=envs />
                    })
                })}
            </Transition>
            <super::insights::TaskFigures task_id=id.clone() />
            <super::task_runs::TaskRuns task_id=id.clone() />
            <super::task_context::TaskContextPanel task_id=id />
        </section>
    }
}

const FIELDS: [&str; 6] = [
    "title",
    "description",
    "status",
    "priority",
    "environment",
    "expected_secs",
];

#[component]
fn TaskEditor(task: Task, environments: Vec<flightdeck_types::Environment>) -> impl IntoView {
    let id = task.id.clone();
    // A status changed by Save is told in a toast whose Undo puts the old one back (from the
    // save itself: the editor is drawn anew as the change comes back, maybe before its answer).
    let toasts = crate::toasts::use_toasts();
    let from = task.status;
    let save = Action::new_local(move |patch: &TaskPatch| {
        let (id, patch) = (id.clone(), patch.clone());
        async move {
            let saved = api::update_task(id.clone(), patch.clone()).await;
            if let (Ok(task), Some(_)) = (&saved, patch.status) {
                toasts.with_undo(
                    format!("Moved “{}” to {}.", task.title, label(task.status)),
                    move || TaskChange::Status(from).spawn(id.clone()),
                );
            }
            saved
        }
    });
    let title = RwSignal::new(task.title.clone());
    let description = RwSignal::new(task.description.clone());
    let status = RwSignal::new(task.status);
    let priority = RwSignal::new(task.priority);
    let environment = RwSignal::new(task.environment_id.clone().unwrap_or_default());
    let expected = RwSignal::new(task.expected_secs.map(format_span_secs).unwrap_or_default());
    // A span that does not read, said beside the field before anything is sent.
    let (bad_span, set_bad_span) = signal(None::<String>);
    let error = move || save.value().get().and_then(Result::err);
    let saved = move || matches!(save.value().get(), Some(Ok(_)));
    let original = task.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let changed = |new: String, old: &str| (new != old).then_some(new);
        let env = environment.get_untracked();
        let span = expected.get_untracked();
        let expected_secs = match span.trim() {
            "" => None,
            text => match parse_span_secs(text) {
                Ok(secs) => Some(secs),
                Err(e) => {
                    set_bad_span.set(Some(e));
                    return;
                }
            },
        };
        set_bad_span.set(None);
        let patch = TaskPatch {
            title: changed(title.get_untracked(), &original.title),
            description: changed(description.get_untracked(), &original.description),
            status: (status.get_untracked() != original.status).then(|| status.get_untracked()),
            priority: (priority.get_untracked() != original.priority)
                .then(|| priority.get_untracked()),
            environment: (Some(env.clone()) != original.environment_id
                && !(env.is_empty() && original.environment_id.is_none()))
            .then(|| (!env.is_empty()).then_some(env)),
            expected_secs: (expected_secs != original.expected_secs).then_some(expected_secs),
        };
        save.dispatch(patch);
    };
    let message = |field: &'static str| Signal::derive(move || for_field(error(), field));
    view! {
        <form class="editor" data-testid="task-editor" on:submit=submit>
            <label class="field">
                <span class="label">"Title"</span>
                <input class="input" data-testid="edit-title" prop:value=title
                    on:input=move |ev| title.set(event_target_value(&ev)) />
                <FieldError testid="title" message=message("title") />
            </label>
            <label class="field">
                <span class="label">"Description"</span>
                <textarea class="input" data-testid="edit-description" rows="5" prop:value=description
                    on:input=move |ev| description.set(event_target_value(&ev))></textarea>
                <FieldError testid="description" message=message("description") />
            </label>
            <div class="row">
                <label class="field">
                    <span class="label">"Status"</span>
                    <select class="input" data-testid="edit-status"
                        on:change=move |ev| if let Ok(s) = event_target_value(&ev).parse() { status.set(s) }>
                        {TaskStatus::ALL.iter().map(|s| view! {
                            <option value=s.to_string() selected=*s == task.status>{label(*s)}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label class="field">
                    <span class="label">"Priority"</span>
                    <select class="input" data-testid="edit-priority"
                        on:change=move |ev| if let Ok(p) = event_target_value(&ev).parse() { priority.set(p) }>
                        {Priority::ALL.iter().map(|p| view! {
                            <option value=p.to_string() selected=*p == task.priority>{p.to_string()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label class="field">
                    <span class="label">"Environment"</span>
                    <select class="input" data-testid="edit-environment"
                        on:change=move |ev| environment.set(event_target_value(&ev))>
                        <option value="">"None"</option>
                        {environments.into_iter().map(|e| {
                            let selected = task.environment_id.as_deref() == Some(e.id.as_str());
                            view! { <option value=e.id.clone() selected=selected>{e.name}</option> }
                        }).collect_view()}
                    </select>
                    <FieldError testid="environment" message=message("environment") />
                </label>
                <label class="field">
                    <span class="label">"Expected duration"</span>
                    <input class="input" data-testid="edit-expected" placeholder="e.g. 5m (empty: its history decides)"
                        title="How long a run of it should take (90s, 5m, 2h); past it, a slow-run alert"
                        prop:value=expected on:input=move |ev| expected.set(event_target_value(&ev)) />
                    <FieldError testid="expected_secs"
                        message=Signal::derive(move || bad_span.get().or_else(|| for_field(error(), "expected_secs"))) />
                </label>
            </div>
            <div class="row">
                <button class="button primary" type="submit" data-testid="save-task"
                    disabled=move || save.pending().get()>"Save"</button>
                {move || saved().then(|| view! { <span class="saved">"Saved"</span> })}
                {move || for_form(error(), &FIELDS).map(|m: String| view! { <p class="form-error">{m}</p> })}
            </div>
        </form>
    }
}
