//! One run: what it runs, where it stands (live), cancel while it is live, re-run once it has
//! ended, and its log streaming as it is written.

use flightdeck_types::Execution;
use leptos::prelude::*;

use super::log::RunLog;
use super::worktree::WorktreePanel;
use crate::api::{self, ApiError};
use crate::live::use_live;
use crate::views::format::{local_time, run_duration, spec_summary, status_class, status_label};
use crate::views::forms::{for_form, ForkEdit};
use crate::views::{use_route, Route};

#[component]
pub fn RunDetailView(id: String) -> impl IntoView {
    let live = use_live();
    let route = use_route();
    let run = LocalResource::new({
        let id = id.clone();
        move || {
            live.runs.get();
            api::get_run(id.clone())
        }
    });
    let cancel = Action::new_local(|id: &String| api::cancel_run(id.clone()));
    let rerun = Action::new_local(|id: &String| api::rerun(id.clone()));
    let fork = Action::new_local(|(id, inputs): &(String, Vec<(String, String)>)| {
        api::fork_run(id.clone(), inputs.clone())
    });
    // A re-run and a fork are new runs: open them.
    Effect::new(move |_| {
        if let Some(Ok(new)) = rerun.value().get() {
            route.set(Route::Run(new.id));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(new)) = fork.value().get() {
            route.set(Route::Run(new.id));
        }
    });
    let forks = LocalResource::new({
        let id = id.clone();
        move || {
            live.runs.get();
            api::run_forks(id.clone())
        }
    });
    let error = move || {
        let failed = |v: Option<Result<Execution, ApiError>>| v.and_then(Result::err);
        failed(cancel.value().get())
            .or_else(|| failed(rerun.value().get()))
            .or_else(|| failed(fork.value().get()))
    };
    view! {
        <section class="view" data-testid="run-detail">
            <button class="button link" data-testid="back-to-runs" on:click=move |_| route.set(Route::Runs)>
                "← Runs"
            </button>
            <Transition fallback=|| view! { <p class="loading">"Loading the run…"</p> }>
                {move || Suspend::new(async move {
                    run.await.map(|run| view! {
                        <Facts run=run.clone() cancel=cancel rerun=rerun />
                        <Lineage run=run.clone() forks=forks />
                        {run.status.is_final().then(|| view! { <ForkForm id=run.id.clone() fork=fork /> })}
                        <Timeline run=run.clone() />
                        <WorktreePanel run=run />
                    })
                })}
            </Transition>
            {move || for_form(error(), &[]).map(|m| view! { <p class="form-error" data-testid="run-action-error">{m}</p> })}
            <h2>"Log"</h2>
            <RunLog id=id />
        </section>
    }
}

type RunAction = Action<String, Result<Execution, ApiError>>;
type ForkAction = Action<(String, Vec<(String, String)>), Result<Execution, ApiError>>;

/// Where this run came from (`forked from`) and the runs forked from it, linked.
#[component]
fn Lineage(run: Execution, forks: LocalResource<Result<Vec<String>, ApiError>>) -> impl IntoView {
    let route = use_route();
    let link = move |id: String, testid: &'static str| {
        let to = id.clone();
        view! {
            <button class="button link mono" data-testid=testid
                on:click=move |_| route.set(Route::Run(to.clone()))>{id}</button>
        }
    };
    let from = run.forked_from.clone().map(|from| {
        view! {
            <p class="muted">"forked from "{link(from, "run-forked-from")}</p>
        }
    });
    view! {
        {from}
        {move || forks.get().and_then(Result::ok).filter(|f| !f.is_empty()).map(|f| view! {
            <p class="muted">"forked as "{f.into_iter().map(|id| link(id, "run-forked-as")).collect_view()}</p>
        })}
    }
}

/// "Fork…": run it again with a field of its spec edited (`shell`, `env.NAME`, `http.url`,
/// `agent`, ...); left empty, it runs as it was.
#[component]
fn ForkForm(id: String, fork: ForkAction) -> impl IntoView {
    let open = RwSignal::new(false);
    view! {
        <button class="button" data-testid="run-fork" on:click=move |_| open.update(|o| *o = !*o)>
            "Fork…"
        </button>
        <div hidden=move || !open.get()>
            <ForkEdit testid="run-fork" pending=fork.pending().into()
                on_fork=move |inputs| { fork.dispatch((id.clone(), inputs)); } />
        </div>
    }
}

/// A timeline over an ended run, from when it was queued to when it ended (Home and End for
/// those, the arrow keys a thousandth of it at a time, or drag): its status then and the
/// last 50 lines of its log by then. "Now" hides it again.
#[component]
fn Timeline(run: Execution) -> impl IntoView {
    let Some(end) = run.finished_at.filter(|_| run.status.is_final()) else {
        return ().into_any();
    };
    let (start, id) = (run.queued_at.as_millis(), run.id.clone());
    let span = (end.as_millis() - start).max(1);
    let per_mille = RwSignal::new(None::<i64>);
    let state = LocalResource::new(move || {
        let (id, at) = (id.clone(), per_mille.get());
        async move {
            match at {
                Some(p) => Some(api::replay_run_at(id, start + span * p / 1000).await),
                None => None,
            }
        }
    });
    let set = move |ev: leptos::ev::Event| {
        if let Ok(p) = event_target_value(&ev).parse::<i64>() {
            per_mille.set(Some(p.clamp(0, 1000)));
        }
    };
    view! {
        <section class="panel" data-testid="run-timeline-panel">
            <div class="row">
                <input type="range" class="timeline" data-testid="run-timeline"
                    aria-label="The run at an instant"
                    min="0" max="1000" step="1"
                    prop:value=move || per_mille.get().unwrap_or(1000).to_string()
                    on:input=set on:change=set />
                <button class="button small" data-testid="run-timeline-now"
                    disabled=move || per_mille.get().is_none()
                    on:click=move |_| per_mille.set(None)>"Now"</button>
            </div>
            {move || match state.get().flatten() {
                None => view! {
                    <p class="muted" data-testid="run-timeline-at" data-status="now">
                        "Drag, or use the arrow keys, to see the run at an instant"
                    </p>
                }.into_any(),
                Some(Err(e)) => view! { <p class="form-error">{e.message}</p> }.into_any(),
                Some(Ok(s)) => {
                    let lines = s.log.iter().map(|l| view! {
                        <li class="mono" data-testid="run-timeline-line" data-kind=l.kind.clone()>{l.data.clone()}</li>
                    }).collect_view();
                    view! {
                        <p data-testid="run-timeline-at" data-status=s.status.clone()>
                            {format!("{} · {}", local_time(s.at), s.status)}
                        </p>
                        {s.pruned.then(|| view! { <p class="muted">"This run's history was pruned: only its end is known."</p> })}
                        <ul class="log" data-testid="run-timeline-log">{lines}</ul>
                    }.into_any()
                }
            }}
        </section>
    }
    .into_any()
}

#[component]
fn Facts(run: Execution, cancel: RunAction, rerun: RunAction) -> impl IntoView {
    let route = use_route();
    let id = run.id.clone();
    let live = !run.status.is_final();
    let cancelling = run.cancel_requested_at.is_some();
    let task = run.task_id.clone().map(|task_id| {
        let target = task_id.clone();
        // The task's title (its id until it is read, or when the task is gone).
        let title = LocalResource::new(move || {
            let id = task_id.clone();
            async move {
                crate::api::get_task(id.clone())
                    .await
                    .map(|t| t.title)
                    .unwrap_or(id)
            }
        });
        view! {
            <button class="button link inline" data-testid="run-task"
                on:click=move |_| route.set(Route::Task(target.clone()))>
                {move || title.get().unwrap_or_default()}
            </button>
        }
    });
    let attempt = run.attempt;
    let retry_of = run.retry_of.clone().map(|previous| {
        let target = previous.clone();
        view! {
            <dt>"Retries"</dt>
            <dd><button class="button link inline" data-testid="run-retry-of"
                on:click=move |_| route.set(Route::Run(target.clone()))>
                {format!("attempt {}", attempt.saturating_sub(1).max(1))}
            </button></dd>
        }
    });
    let action = if live {
        let id = id.clone();
        view! {
            <button class="button" data-testid="run-cancel" disabled=cancelling
                on:click=move |_| { cancel.dispatch(id.clone()); }>
                {if cancelling { "Cancelling…" } else { "Cancel" }}
            </button>
        }
        .into_any()
    } else {
        let id = id.clone();
        view! {
            <button class="button primary" data-testid="run-rerun"
                disabled=move || rerun.pending().get()
                on:click=move |_| { rerun.dispatch(id.clone()); }>"Run again"</button>
        }
        .into_any()
    };
    view! {
        <div class="view-head">
            <h1 class="mono run-title" data-testid="run-what">{spec_summary(&run.spec)}</h1>
            {action}
        </div>
        <section class="panel" data-testid="run-facts">
            <dl class="facts">
                <dt>"Status"</dt>
                <dd><span class=status_class(run.status) data-testid="run-detail-status"
                    data-status=run.status.as_str()>{status_label(run.status)}</span></dd>
                <dt>"Executor"</dt><dd>{run.spec.kind().as_str()}</dd>
                <dt>"Task"</dt><dd>{match task {
                    Some(link) => link.into_any(),
                    None => view! { <span class="muted">"none"</span> }.into_any(),
                }}</dd>
                <dt>"Attempt"</dt><dd data-testid="run-attempt">{run.attempt} " of " {run.retry_policy.max_attempts}</dd>
                {retry_of}
                <dt>"Queued"</dt><dd>{local_time(run.queued_at)}</dd>
                <dt>"Started"</dt><dd>{run.started_at.map(local_time).unwrap_or_else(|| "not yet".into())}</dd>
                <dt>"Finished"</dt><dd>{run.finished_at.map(local_time).unwrap_or_else(|| "not yet".into())}</dd>
                <dt>"Took"</dt><dd data-testid="run-took"><Took run=run.clone() /></dd>
                <dt>"Exit code"</dt><dd data-testid="run-exit-code">{run.exit_code.map(|c| c.to_string()).unwrap_or_default()}</dd>
            </dl>
            {run.error.clone().map(|e| view! { <p class="form-error" data-testid="run-error">{e}</p> })}
        </section>
    }
}

/// How long the run took; while it runs, how long it has been running, ticking every second.
#[component]
fn Took(run: Execution) -> impl IntoView {
    let tick = RwSignal::new(0u64);
    if run.started_at.is_some() && run.finished_at.is_none() {
        let interval = set_interval_with_handle(
            move || tick.update(|t| *t += 1),
            std::time::Duration::from_secs(1),
        );
        if let Ok(handle) = interval {
            on_cleanup(move || handle.clear());
        }
    }
    move || {
        tick.track();
        run_duration(&run).unwrap_or_default()
    }
}
