//! The task detail's runs panel: start a run of the task (a shell command, or the agent
//! command of its environment) and its runs, live; a started run opens at once.

use flightdeck_types::{ExecutionFilter, StartRun};
use leptos::prelude::*;

use super::forms::{for_field, for_form, FieldError};
use super::runs::RunTable;
use super::{use_route, Route};
use crate::api;
use crate::live::use_live;

/// Errors about what to run are shown beside the command field.
const FIELDS: [&str; 2] = ["shell", "agent_command"];

#[component]
pub fn TaskRuns(task_id: String) -> impl IntoView {
    let live = use_live();
    let route = use_route();
    let runs = LocalResource::new({
        let task_id = task_id.clone();
        move || {
            live.runs.get();
            api::list_runs(ExecutionFilter {
                task_id: Some(task_id.clone()),
                limit: Some(20),
                ..Default::default()
            })
        }
    });
    let start = Action::new_local(|input: &StartRun| api::start_run(input.clone()));
    let shell = RwSignal::new(String::new());
    let error = move || start.value().get().and_then(Result::err);
    Effect::new(move |_| {
        if let Some(Ok(run)) = start.value().get() {
            shell.set(String::new());
            route.set(Route::Run(run.id));
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let line = shell.get_untracked();
        start.dispatch(StartRun {
            task_id: task_id.clone(),
            shell: (!line.trim().is_empty()).then_some(line),
            timeout_secs: None,
        });
    };
    let beside = Signal::derive(move || {
        for_field(error(), "shell").or_else(|| for_field(error(), "agent_command"))
    });
    view! {
        <section class="panel" data-testid="task-runs">
            <h2>"Runs"</h2>
            <form class="new-task" data-testid="start-run-form" on:submit=submit>
                <div class="field grow">
                    <input class="input mono" data-testid="start-run-shell"
                        placeholder="Shell command, e.g. make test (empty: the environment's agent command)"
                        aria-label="Shell command to run"
                        prop:value=shell on:input=move |ev| shell.set(event_target_value(&ev)) />
                    <FieldError testid="shell" message=beside />
                </div>
                <button class="button primary" type="submit" data-testid="start-run-submit"
                    disabled=move || start.pending().get()>"Start run"</button>
                {move || for_form(error(), &FIELDS).map(|m| view! { <p class="form-error">{m}</p> })}
            </form>
            <Transition fallback=|| view! { <p class="loading">"Loading runs…"</p> }>
                {move || Suspend::new(async move {
                    runs.await.map(|list| {
                        if list.is_empty() {
                            return view! {
                                <p class="empty-hint" data-testid="task-runs-empty">
                                    "No runs of this task yet. Type a shell command above and start it, \
                                     or leave it empty to run the agent command of the task's environment."
                                </p>
                            }.into_any();
                        }
                        view! { <RunTable runs=list /> }.into_any()
                    })
                })}
            </Transition>
        </section>
    }
}
