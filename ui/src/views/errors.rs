//! Errors: the record of every failed run and its retries, live, with what a person can do
//! about one: retry now, resolve, ignore, escalate. Each record links to its latest run.

use flightdeck_types::{ErrorFilter, ErrorRecord, RecoveryStatus, Severity};
use leptos::prelude::*;

use super::format::local_time;
use super::forms::for_form;
use super::{use_route, Route};
use crate::api::{self, ErrorAction};
use crate::live::use_live;

#[component]
pub fn ErrorsView() -> impl IntoView {
    let live = use_live();
    let (status, set_status) = signal(None::<RecoveryStatus>);
    let (severity, set_severity) = signal(None::<Severity>);
    let act = Action::new_local(|(action, id): &(ErrorAction, String)| {
        api::error_action(*action, id.clone())
    });
    let errors = LocalResource::new(move || {
        live.errors.get();
        act.version().get();
        api::list_errors(ErrorFilter {
            status: status.get(),
            severity: severity.get(),
            ..Default::default()
        })
    });
    let failed = move || act.value().get().and_then(Result::err);
    // Each record names its run's task by title.
    let titles = LocalResource::new(move || {
        live.tasks.get();
        api::task_titles()
    });
    view! {
        <section class="view" data-testid="errors">
            <div class="view-head">
                <h1>"Errors"</h1>
                <div class="filters tight">
                    <select class="input" data-testid="filter-error-status" aria-label="Recovery status"
                        on:change=move |ev| set_status.set(event_target_value(&ev).parse().ok())>
                        <option value="">"Any status"</option>
                        {RecoveryStatus::ALL.iter().map(|s| view! {
                            <option value=s.as_str()>{words(s.as_str())}</option>
                        }).collect_view()}
                    </select>
                    <select class="input" data-testid="filter-error-severity" aria-label="Severity"
                        on:change=move |ev| set_severity.set(event_target_value(&ev).parse().ok())>
                        <option value="">"Any severity"</option>
                        {Severity::ALL.iter().map(|s| view! {
                            <option value=s.as_str()>{s.as_str()}</option>
                        }).collect_view()}
                    </select>
                </div>
            </div>
            {move || for_form(failed(), &[]).map(|m| view! { <p class="form-error" data-testid="error-action-error">{m}</p> })}
            <Transition fallback=|| view! { <p class="loading">"Loading errors…"</p> }>
                {move || Suspend::new(async move {
                    let titles = titles.await;
                    errors.await.map(|list| {
                        if list.is_empty() {
                            let filtered = status.get_untracked().is_some() || severity.get_untracked().is_some();
                            return view! { <Empty filtered=filtered /> }.into_any();
                        }
                        view! {
                            <ul class="error-list" data-testid="error-list">
                                {list.into_iter().map(|record| {
                                    let task = record.task_id.clone().and_then(|id| titles.get(&id).cloned().map(|t| (id, t)));
                                    view! { <ErrorRow record=record task=task act=act /> }
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    })
                })}
            </Transition>
        </section>
    }
}

fn words(text: &str) -> String {
    text.replace('_', " ")
}

/// The actions that make sense for a record in its current state.
fn actions_for(status: RecoveryStatus) -> Vec<ErrorAction> {
    ErrorAction::ALL
        .into_iter()
        .filter(|a| match a {
            ErrorAction::Retry => !matches!(
                status,
                RecoveryStatus::RetryScheduled | RecoveryStatus::Retrying
            ),
            ErrorAction::Resolve => status != RecoveryStatus::Resolved,
            ErrorAction::Ignore => status != RecoveryStatus::Ignored,
            ErrorAction::Escalate => status != RecoveryStatus::Escalated,
        })
        .collect()
}

type ErrorActs = Action<(ErrorAction, String), Result<ErrorRecord, crate::api::ApiError>>;

#[component]
fn ErrorRow(record: ErrorRecord, task: Option<(String, String)>, act: ErrorActs) -> impl IntoView {
    let route = use_route();
    let id = record.id.clone();
    let run = record.execution_id.clone().map(|run_id| {
        view! {
            <button class="button link inline" data-testid="error-run"
                on:click=move |_| route.set(Route::Run(run_id.clone()))>"open the run"</button>
        }
    });
    let task = task.map(|(task_id, title)| {
        view! {
            <button class="button link inline" data-testid="error-task"
                on:click=move |_| route.set(Route::Task(task_id.clone()))>{title}</button>
            " · "
        }
    });
    // A retry asked for by hand: its run, one click away.
    let retry = record
        .details
        .get("retry_run_id")
        .and_then(|v| v.as_str())
        .map(|run_id| {
            let run_id = run_id.to_string();
            view! {
                " · "
                <button class="button link inline" data-testid="error-retry-run"
                    on:click=move |_| route.set(Route::Run(run_id.clone()))>"open the retry"</button>
            }
        });
    let retry_at = record
        .next_retry_at
        .map(|t| format!(" · next try {}", local_time(t)));
    view! {
        <li class="error-row" data-testid="error-row" data-id=record.id.clone()
            data-status=record.recovery_status.as_str()>
            <div class="error-head">
                <span class=format!("badge severity-{}", record.severity.as_str())>{record.severity.as_str()}</span>
                <span class="error-message" data-testid="error-message">{record.message.clone()}</span>
            </div>
            <div class="muted">
                {task}
                <span data-testid="error-status">{words(record.recovery_status.as_str())}</span>
                {format!(" · attempt {} of {}", record.attempts, record.max_attempts)}
                {retry_at}
                {format!(" · since {}", local_time(record.created_at))}
                " · " {run} {retry}
            </div>
            <div class="row">
                {actions_for(record.recovery_status).into_iter().map(|action| {
                    let id = id.clone();
                    view! {
                        <button class="button" data-testid=format!("error-{}", action.label().to_lowercase())
                            disabled=move || act.pending().get()
                            on:click=move |_| { act.dispatch((action, id.clone())); }>
                            {action.label()}
                        </button>
                    }
                }).collect_view()}
            </div>
        </li>
    }
}

#[component]
fn Empty(filtered: bool) -> impl IntoView {
    let (title, hint) = if filtered {
        (
            "No error matches",
            "Pick any status and any severity to see every error.",
        )
    } else {
        (
            "No errors",
            "When a run fails, its error shows here: high and critical ones retry on their own, \
             and you can retry, resolve, ignore or escalate any of them.",
        )
    };
    view! {
        <div class="empty-state" data-testid="errors-empty">
            <p class="empty-title">{title}</p>
            <p class="empty-hint">{hint}</p>
        </div>
    }
}
