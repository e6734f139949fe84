//! Environments: where runs execute. Create and edit them, their plain variables, and their
//! secret variables, whose values go to the OS keyring through the shell and are never shown
//! back (the view only learns whether each is set on this device). A secret is removed after
//! asking, from the environment and from this device's keyring (`env secret rm`).

use std::collections::BTreeMap;

use flightdeck_types::{Environment, EnvironmentPatch, NewEnvironment};
use leptos::prelude::*;

use super::forms::{for_field, for_form, FieldError};
use crate::api;
use crate::live::use_live;

const FIELDS: [&str; 4] = ["name", "working_dir", "repository", "agent_command"];

/// The editor's fields that show their own errors; any other error (a secret's removal
/// refused, say) shows under the variables.
const FORM_FIELDS: [&str; 7] = [
    "name",
    "working_dir",
    "agent_command",
    "repository",
    "base_branch",
    "setup_script",
    "var",
];

fn optional(text: String) -> Option<String> {
    (!text.trim().is_empty()).then_some(text)
}

#[component]
pub fn EnvironmentsView() -> impl IntoView {
    let live = use_live();
    let selected = RwSignal::new(None::<String>);
    // The environment whose form was saved last: kept here because the editor is drawn
    // anew when the list refreshes after the save, and its "Saved" must outlive that.
    let saved = RwSignal::new(None::<String>);
    // Updates live here too, for the same reason: the editor is drawn anew (on the change's
    // own event) before the update's answer arrives.
    let update: UpdateAction = Action::new_local(|(id, patch): &(String, EnvironmentPatch)| {
        api::update_environment(id.clone(), patch.clone())
    });
    // Which environment's form save is under way (an action forgets its input once answered).
    let saving = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(Ok(env)) = update.value().get() {
            if saving.get_untracked().as_deref() == Some(env.id.as_str()) {
                saved.set(Some(env.id));
            }
        }
    });
    let environments = LocalResource::new(move || {
        live.environments.get();
        api::list_environments()
    });
    view! {
        <section class="view" data-testid="environments">
            <h1>"Environments"</h1>
            <NewEnvironmentForm selected=selected />
            <Transition fallback=|| view! { <p class="loading">"Loading environments…"</p> }>
                {move || Suspend::new(async move {
                    environments.await.map(|list| {
                        if list.is_empty() {
                            return view! {
                                <div class="empty-state" data-testid="environments-empty">
                                    <p class="empty-title">"No environments yet"</p>
                                    <p class="empty-hint">
                                        "An environment says where a task's runs execute: a working "
                                        "directory, variables and secrets. Create one above."
                                    </p>
                                </div>
                            }.into_any();
                        }
                        let current = selected.get().and_then(|id| list.iter().find(|e| e.id == id).cloned());
                        view! {
                            <div class="split">
                                <ul class="env-list">
                                    {list.into_iter().map(|env| {
                                        let id = env.id.clone();
                                        let active = selected.get_untracked().as_deref() == Some(env.id.as_str());
                                        view! {
                                            <li class="env-row" class:active=active data-testid="env-row" data-id=env.id.clone()
                                                on:click=move |_| selected.set(Some(id.clone()))>
                                                <span class="env-name" data-testid="env-name">{env.name}</span>
                                                <span class="muted">{env.working_dir.unwrap_or_default()}</span>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                                {current.map(|env| view! { <EnvironmentEditor env=env saved=saved saving=saving update=update /> })}
                            </div>
                        }.into_any()
                    })
                })}
            </Transition>
        </section>
    }
}

#[component]
fn NewEnvironmentForm(selected: RwSignal<Option<String>>) -> impl IntoView {
    let create = Action::new_local(|input: &NewEnvironment| api::create_environment(input.clone()));
    let name = RwSignal::new(String::new());
    let working_dir = RwSignal::new(String::new());
    let error = move || create.value().get().and_then(Result::err);
    Effect::new(move |_| {
        if let Some(Ok(env)) = create.value().get() {
            name.set(String::new());
            working_dir.set(String::new());
            selected.set(Some(env.id));
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(NewEnvironment {
            name: name.get_untracked(),
            working_dir: optional(working_dir.get_untracked()),
            ..Default::default()
        });
    };
    view! {
        <form class="new-task" data-testid="new-env-form" on:submit=submit>
            <div class="field grow">
                <input class="input" data-testid="new-env-name" data-shortcut="new" placeholder="Name, e.g. backend"
                    aria-label="Environment name"
                    prop:value=name on:input=move |ev| name.set(event_target_value(&ev)) />
                <FieldError testid="name" message=Signal::derive(move || for_field(error(), "name")) />
            </div>
            <div class="field grow">
                <input class="input" data-testid="new-env-working-dir" placeholder="Working directory"
                    aria-label="Working directory"
                    prop:value=working_dir on:input=move |ev| working_dir.set(event_target_value(&ev)) />
                <FieldError testid="working_dir" message=Signal::derive(move || for_field(error(), "working_dir")) />
            </div>
            <button class="button primary" type="submit" data-testid="new-env-submit"
                disabled=move || create.pending().get()>"Add environment"</button>
            {move || for_form(error(), &FIELDS).map(|m| view! { <p class="form-error">{m}</p> })}
        </form>
    }
}

/// An environment's update: its id and the patch.
type UpdateAction = Action<(String, EnvironmentPatch), Result<Environment, api::ApiError>>;

#[component]
fn EnvironmentEditor(
    env: Environment,
    saved: RwSignal<Option<String>>,
    saving: RwSignal<Option<String>>,
    update: UpdateAction,
) -> impl IntoView {
    let id = env.id.clone();
    let (delete_id, delete_name) = (env.id.clone(), env.name.clone());
    let set_secret = Action::new_local({
        let id = id.clone();
        move |(var, value): &(String, String)| {
            api::set_env_secret(id.clone(), var.clone(), value.clone())
        }
    });
    let secrets = LocalResource::new({
        let id = id.clone();
        move || {
            set_secret.version().get();
            api::env_secret_status(id.clone())
        }
    });
    let name = RwSignal::new(env.name.clone());
    let working_dir = RwSignal::new(env.working_dir.clone().unwrap_or_default());
    let agent = RwSignal::new(env.agent_command.clone().unwrap_or_default());
    let repository = RwSignal::new(env.repository.clone().unwrap_or_default());
    let setup = RwSignal::new(env.setup_script.clone().unwrap_or_default());
    let base_branch = RwSignal::new(env.base_branch.clone().unwrap_or_default());
    let context = RwSignal::new(env.agent_context);
    let var_name = RwSignal::new(String::new());
    let var_value = RwSignal::new(String::new());
    let secret_name = RwSignal::new(String::new());
    let secret_value = RwSignal::new(String::new());
    let error = move || update.value().get().and_then(Result::err);
    // "Saved" beside Save once the form's own save went through (a variable added or removed
    // is its own confirmation: it shows in the table).
    let shown_saved = {
        let id = id.clone();
        move || saved.get().as_deref() == Some(id.as_str())
    };
    let secret_error = move || set_secret.value().get().and_then(Result::err);
    Effect::new(move |_| {
        if let Some(Ok(_)) = set_secret.value().get() {
            secret_name.set(String::new());
            secret_value.set(String::new());
        }
    });
    let original = env.clone();
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = |s: RwSignal<String>, old: &Option<String>| {
            let new = optional(s.get_untracked());
            (new != *old).then_some(new)
        };
        let new_name = name.get_untracked();
        saved.set(None);
        saving.set(Some(original.id.clone()));
        update.dispatch((
            original.id.clone(),
            EnvironmentPatch {
                name: (new_name != original.name).then_some(new_name),
                working_dir: text(working_dir, &original.working_dir),
                agent_command: text(agent, &original.agent_command),
                repository: text(repository, &original.repository),
                setup_script: text(setup, &original.setup_script),
                base_branch: text(base_branch, &original.base_branch),
                agent_context: (context.get_untracked() != original.agent_context)
                    .then(|| context.get_untracked()),
                ..Default::default()
            },
        ));
    };
    let id_for_vars = id.clone();
    let add_var = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        saving.set(None);
        update.dispatch((
            id_for_vars.clone(),
            EnvironmentPatch {
                set_vars: BTreeMap::from([(var_name.get_untracked(), var_value.get_untracked())]),
                ..Default::default()
            },
        ));
    };
    let vars: Vec<(String, String)> = env.env_vars.clone().into_iter().collect();
    let env_id = id.clone();
    let (secret_env_id, env_name) = (id.clone(), env.name.clone());
    view! {
        <div class="panel grow" data-testid="env-editor">
            <form class="editor" on:submit=save>
                <label class="field">
                    <span class="label">"Name"</span>
                    <input class="input" data-testid="edit-env-name" prop:value=name
                        on:input=move |ev| name.set(event_target_value(&ev)) />
                    <FieldError testid="name" message=Signal::derive(move || for_field(error(), "name")) />
                </label>
                <label class="field">
                    <span class="label">"Working directory"</span>
                    <input class="input" prop:value=working_dir
                        on:input=move |ev| working_dir.set(event_target_value(&ev)) />
                    <FieldError testid="working_dir" message=Signal::derive(move || for_field(error(), "working_dir")) />
                </label>
                <label class="field">
                    <span class="label">"Agent command"</span>
                    <input class="input" placeholder="claude -p {prompt}" prop:value=agent
                        on:input=move |ev| agent.set(event_target_value(&ev)) />
                    <FieldError testid="agent_command" message=Signal::derive(move || for_field(error(), "agent_command")) />
                </label>
                <label class="field">
                    <span class="label">"Repository"</span>
                    <input class="input" data-testid="edit-env-repository" placeholder="a local git repository: each agent run gets its own worktree"
                        prop:value=repository on:input=move |ev| repository.set(event_target_value(&ev)) />
                    <FieldError testid="repository" message=Signal::derive(move || for_field(error(), "repository")) />
                </label>
                <label class="field">
                    <span class="label">"Base branch"</span>
                    <input class="input" data-testid="edit-env-base-branch" placeholder="the repository's current branch"
                        prop:value=base_branch on:input=move |ev| base_branch.set(event_target_value(&ev)) />
                    <FieldError testid="base_branch" message=Signal::derive(move || for_field(error(), "base_branch")) />
                </label>
                <label class="field">
                    <span class="label">"Setup script"</span>
                    <input class="input mono" data-testid="edit-env-setup" placeholder="run in each fresh worktree, e.g. npm ci"
                        prop:value=setup on:input=move |ev| setup.set(event_target_value(&ev)) />
                    <FieldError testid="setup_script" message=Signal::derive(move || for_field(error(), "setup_script")) />
                </label>
                <label class="field checkbox">
                    <input type="checkbox" data-testid="edit-env-context" prop:checked=context
                        on:change=move |ev| context.set(event_target_checked(&ev)) />
                    <span>"Give agent runs a context file (memories and similar runs)"</span>
                </label>
                <div class="row">
                    <button class="button primary" type="submit" data-testid="save-env"
                        disabled=move || update.pending().get()>"Save"</button>
                    {move || shown_saved().then(|| view! { <span class="saved" data-testid="env-saved">"Saved"</span> })}
                </div>
            </form>
            <h2>"Variables"</h2>
            // The row that adds a variable is the table's last, so that its inputs line up
            // with the name and value columns above them.
            <form on:submit=add_var>
                <table class="table vars" data-testid="env-vars">
                    <tbody>
                        {vars.into_iter().map(|(k, v)| {
                            let key = k.clone();
                            let env_id = env_id.clone();
                            view! {
                                <tr data-testid="env-var">
                                    <td class="mono">{k}</td><td class="mono">{v}</td>
                                    <td class="actions"><button class="button" type="button" on:click=move |_| {
                                        update.dispatch((env_id.clone(), EnvironmentPatch { unset_vars: vec![key.clone()], ..Default::default() }));
                                    }>"Remove"</button></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                    <tfoot>
                        <tr>
                            <td>
                                <input class="input mono" data-testid="var-name" placeholder="NAME"
                                    aria-label="Variable name"
                                    prop:value=var_name on:input=move |ev| var_name.set(event_target_value(&ev)) />
                                <FieldError testid="var" message=Signal::derive(move || for_field(error(), "var")) />
                            </td>
                            <td>
                                <input class="input mono" data-testid="var-value" placeholder="value"
                                    aria-label="Variable value"
                                    prop:value=var_value on:input=move |ev| var_value.set(event_target_value(&ev)) />
                            </td>
                            <td class="actions">
                                <button class="button" type="submit" data-testid="var-add">"Set variable"</button>
                            </td>
                        </tr>
                    </tfoot>
                </table>
            </form>
            {move || for_form(error(), &FORM_FIELDS).map(|m| view! { <p class="form-error">{m}</p> })}
            <h2>"Secrets"</h2>
            <p class="empty-hint">"Values are kept in this device's keyring and never shown again."</p>
            <Transition fallback=|| "…">
                {move || {
                    let (secret_env_id, env_name) = (secret_env_id.clone(), env_name.clone());
                    Suspend::new(async move {
                    secrets.await.map(|map| view! {
                        <ul class="secret-list">
                            {map.into_iter().map(|(var, present)| {
                                let env_id = secret_env_id.clone();
                                let question = format!("Remove the secret {var} from “{env_name}” on every synced device, and its value from this device's keyring? This cannot be undone.");
                                let removed = var.clone();
                                view! {
                                    <li data-testid="secret-var">
                                        <span class="mono">{var}</span>
                                        <span class=if present { "badge ok" } else { "badge warn" }>
                                            {if present { "set on this device" } else { "no value on this device" }}
                                        </span>
                                        <super::confirm::ConfirmDelete label="Remove…" testid="remove-secret" scope="secret-"
                                            question=question pending=update.pending().into()
                                            on_confirm=Callback::new(move |()| {
                                                saving.set(None);
                                                update.dispatch((env_id.clone(), EnvironmentPatch {
                                                    remove_secret_vars: vec![removed.clone()],
                                                    ..Default::default()
                                                }));
                                            }) />
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    })
                })}}
            </Transition>
            <form class="new-task" on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                set_secret.dispatch((secret_name.get_untracked(), secret_value.get_untracked()));
            }>
                <div class="field">
                    <input class="input mono" data-testid="secret-name" placeholder="API_KEY"
                        prop:value=secret_name on:input=move |ev| secret_name.set(event_target_value(&ev)) />
                    <FieldError testid="secret_var" message=Signal::derive(move || for_field(secret_error(), "secret_var")) />
                </div>
                <input class="input mono grow" data-testid="secret-value" type="password" placeholder="secret value"
                    prop:value=secret_value on:input=move |ev| secret_value.set(event_target_value(&ev)) />
                <button class="button" type="submit" data-testid="secret-save">"Save secret"</button>
            </form>
            {move || for_form(secret_error(), &["secret_var"]).map(|m| view! { <p class="form-error">{m}</p> })}
            <super::environment_delete::EnvironmentDelete id=delete_id name=delete_name />
        </div>
    }
}
