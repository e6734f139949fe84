//! A memory's scope picker and its editor (issue 21, item 9): pick whether a memory is global
//! or belongs to an environment or a task, and edit a memory's text, kind, importance and
//! scope in place (`flightdeck memory add --scope`, `flightdeck memory edit`).

use flightdeck_types::{Memory, MemoryPatch, MemoryScope, MemoryScopeKind, TaskFilter};
use leptos::prelude::*;

use super::forms::{for_field, for_form, FieldError};
use crate::api::{self, ApiError};

/// An edit under way or answered: the memory's id and the patch.
pub type UpdateAction = Action<(String, MemoryPatch), Result<Memory, ApiError>>;

/// A scope as a select's value: `global`, `environment:ID` or `task:ID`.
pub fn scope_value(scope: &MemoryScope) -> String {
    match (&scope.kind, &scope.id) {
        (MemoryScopeKind::Global, _) | (_, None) => "global".into(),
        (kind, Some(id)) => format!("{}:{id}", kind.as_str()),
    }
}

/// The scope a select's value names (see [`scope_value`]).
pub fn parse_scope_value(value: &str) -> MemoryScope {
    match value.split_once(':') {
        Some(("task", id)) => MemoryScope::task(id),
        Some(("environment", id)) => MemoryScope::environment(id),
        _ => MemoryScope::global(),
    }
}

/// The choices: global, every environment by name, every open task by title.
async fn scope_choices() -> Result<Vec<(String, String)>, ApiError> {
    let mut choices = vec![("global".to_string(), "Global: every task".to_string())];
    for env in api::list_environments().await? {
        choices.push((
            scope_value(&MemoryScope::environment(env.id)),
            format!("Environment: {}", env.name),
        ));
    }
    for task in api::list_tasks(TaskFilter::default()).await? {
        choices.push((
            scope_value(&MemoryScope::task(task.id)),
            format!("Task: {}", task.title),
        ));
    }
    Ok(choices)
}

/// A select of scopes bound to `value` (a [`scope_value`]); a value not among the choices (an
/// archived task's) stays selectable as it is.
#[component]
pub fn ScopePicker(value: RwSignal<String>, testid: &'static str) -> impl IntoView {
    let choices = LocalResource::new(scope_choices);
    view! {
        <Transition fallback=|| view! { <span class="muted">"…"</span> }>
            {move || Suspend::new(async move {
                choices.await.map(|mut choices| {
                    let current = value.get_untracked();
                    if !choices.iter().any(|(v, _)| *v == current) {
                        choices.push((current.clone(), current.clone()));
                    }
                    view! {
                        <select class="input" data-testid=testid aria-label="Scope"
                            on:change=move |ev| value.set(event_target_value(&ev))>
                            {choices.into_iter().map(|(v, label)| {
                                let selected = v == current;
                                view! { <option value=v selected=selected>{label}</option> }
                            }).collect_view()}
                        </select>
                    }
                })
            })}
        </Transition>
    }
}

/// The fields `memory edit` takes, as an editor shows their errors.
const FIELDS: [&str; 4] = ["content", "kind", "importance", "scope"];

/// A memory's editor: Save sends only what changed; the view closes it once saved.
#[component]
pub fn MemoryEditor(
    memory: Memory,
    update: UpdateAction,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let content = RwSignal::new(memory.content.clone());
    let kind = RwSignal::new(memory.kind.clone());
    let importance = RwSignal::new(format!("{}", memory.importance));
    let scope = RwSignal::new(scope_value(&memory.scope));
    let importance_error = RwSignal::new(None::<String>);
    let error = move || update.value().get().and_then(Result::err);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = importance.get_untracked();
        let parsed = match text.trim().parse::<f64>() {
            Ok(v) => v,
            Err(_) => {
                importance_error.set(Some(format!(
                    "importance: `{}` is not a number; give one from 0 to 1, e.g. 0.8",
                    text.trim()
                )));
                return;
            }
        };
        importance_error.set(None);
        let changed = |new: String, old: &str| (new != old).then_some(new);
        let new_scope = parse_scope_value(&scope.get_untracked());
        update.dispatch((
            memory.id.clone(),
            MemoryPatch {
                content: changed(content.get_untracked(), &memory.content),
                kind: changed(kind.get_untracked().trim().to_string(), &memory.kind),
                scope: (new_scope != memory.scope).then_some(new_scope),
                importance: (parsed != memory.importance).then_some(parsed),
            },
        ));
    };
    let beside = move |field: &'static str| Signal::derive(move || for_field(error(), field));
    let importance_message = Signal::derive(move || {
        importance_error
            .get()
            .or_else(|| for_field(error(), "importance"))
    });
    view! {
        <form class="editor memory-editor" data-testid="memory-editor" on:submit=save>
            <label class="field">
                <span class="label">"Text"</span>
                <textarea class="input" data-testid="memory-edit-content" rows="3"
                    prop:value=content on:input=move |ev| content.set(event_target_value(&ev))></textarea>
                <FieldError testid="edit-content" message=beside("content") />
            </label>
            <div class="row">
                <label class="field">
                    <span class="label">"Kind"</span>
                    <input class="input" data-testid="memory-edit-kind" prop:value=kind
                        on:input=move |ev| kind.set(event_target_value(&ev)) />
                    <FieldError testid="edit-kind" message=beside("kind") />
                </label>
                <label class="field">
                    <span class="label">"Importance"</span>
                    <input class="input" data-testid="memory-edit-importance" prop:value=importance
                        on:input=move |ev| importance.set(event_target_value(&ev)) />
                    <FieldError testid="edit-importance" message=importance_message />
                </label>
                <label class="field grow">
                    <span class="label">"Scope"</span>
                    <ScopePicker value=scope testid="memory-edit-scope" />
                    <FieldError testid="edit-scope" message=beside("scope") />
                </label>
            </div>
            <div class="row">
                <button class="button primary" type="submit" data-testid="memory-edit-save"
                    disabled=move || update.pending().get()>"Save"</button>
                <button class="button" type="button" data-testid="memory-edit-cancel"
                    on:click=move |_| on_cancel.run(())>"Cancel"</button>
            </div>
            {move || for_form(error(), &FIELDS).map(|m| view! { <p class="form-error" data-testid="memory-edit-error">{m}</p> })}
        </form>
    }
}
