//! One workflow run: its DAG coloured by step status, a progress bar with the ETA (said to
//! be a guess when there is little history), Pause / Resume / Cancel, Approve / Reject on
//! the steps waiting for a person, and a selected step's facts and live log (the run log of
//! its execution) with "Rerun from here" once the run ended. It follows `entity-changed` for
//! `workflow_runs`, so every step boundary redraws it without polling.

use std::collections::HashMap;

use flightdeck_types::{
    DerivedRun, ReplayState, RunControl, StepAction, StepProgress, WorkflowDefinition,
    WorkflowProgress, WorkflowRun, WorkflowRunStatus,
};
use leptos::prelude::*;

use super::dag::{split_item, step_label, Dag};
use super::status_label;
use crate::api::{self, ApiError, WorkflowAction};
use crate::live::use_live;
use crate::views::format::{duration, local_time};
use crate::views::forms::ForkEdit;
use crate::views::runs::log::RunLog;
use crate::views::{use_route, Route};

type Act = Action<(String, WorkflowAction), Result<WorkflowRun, ApiError>>;

#[component]
pub fn WorkflowRunView(id: String) -> impl IntoView {
    let live = use_live();
    let route = use_route();
    let act: Act = Action::new_local(|(id, action): &(String, WorkflowAction)| {
        api::workflow_action(id.clone(), action.clone())
    });
    let detail = LocalResource::new({
        let id = id.clone();
        move || {
            live.workflow_runs.get();
            act.version().get();
            api::workflow_run_detail(id.clone())
        }
    });
    // A rerun is a new run (every other action returns this one): open it.
    Effect::new({
        let id = id.clone();
        move |_| {
            if let Some(Ok(run)) = act.value().get() {
                if run.id != id {
                    route.set(Route::WorkflowRun(run.id));
                }
            }
        }
    });
    let selected = RwSignal::new(None::<String>);
    let comments = Comments(StoredValue::new(HashMap::new()));
    // The timeline: the mark the scrubber is on (none: the run as it is now), and the run as
    // it stood there.
    let scrub = RwSignal::new(None::<u32>);
    let replay = LocalResource::new({
        let id = id.clone();
        move || {
            let mark = scrub.get();
            let id = id.clone();
            async move {
                match mark {
                    Some(mark) => Some(api::replay_run(id, mark).await),
                    None => None,
                }
            }
        }
    });
    // The selected step's execution, so its log opens once and stays while the run redraws.
    let selected_execution = Memo::new(move |_| {
        let selection = selected.get()?;
        let (step, item) = split_item(&selection);
        let detail = detail.get()?.ok()?;
        let found = detail.progress.steps.into_iter().find(|s| s.id == step)?;
        match item {
            Some(i) => found.items.get(i)?.execution_id.clone(),
            None => found.execution_id,
        }
    });
    let failed = move || act.value().get().and_then(Result::err).map(|e| e.message);
    view! {
        <section class="view" data-testid="workflow-run" data-id=id.clone()>
            <button class="button link" data-testid="back-to-workflows"
                on:click=move |_| route.set(Route::Workflows)>"← Workflows"</button>
            <Transition fallback=|| view! { <p class="loading">"Loading the run…"</p> }>
                {move || Suspend::new(async move {
                    detail.await.map(|d| view! {
                        <RunHead progress=d.progress.clone() derived=d.made_from_this.clone() act=act />
                        <Lease note=d.lease_note.clone() adoptable=d.adoptable run_id=d.progress.run.id.clone() act=act />
                        <Progress progress=d.progress.clone() />
                        <Timeline marks=d.progress.run.checkpoint.boundaries scrub=scrub replay=replay
                            ended=d.progress.run.status.is_final() act=act />
                        {
                            let steps = d.progress.steps.clone();
                            move || view! { <Dag steps=at_mark(&steps, replay.get().flatten()) selected=selected /> }
                        }
                        <Approvals progress=d.progress.clone() definition=d.definition.clone() act=act comments=comments />
                        <SelectedStep progress=d.progress selected=selected act=act />
                    })
                })}
            </Transition>
            {move || failed().map(|m| view! { <p class="form-error" data-testid="workflow-action-error">{m}</p> })}
            {move || selected_execution.get().map(|execution| view! {
                <h2>"Step log"</h2>
                <RunLog id=execution />
            })}
        </section>
    }
}

#[component]
fn RunHead(progress: WorkflowProgress, derived: Vec<DerivedRun>, act: Act) -> impl IntoView {
    let route = use_route();
    let run = progress.run;
    // Lineage both ways: the run this one was made from, and the runs made from it.
    let link = move |id: String, testid: &'static str| {
        let (to, attr) = (id.clone(), id.clone());
        view! {
            <button class="button link mono" data-testid=testid data-id=attr
                on:click=move |_| route.set(Route::WorkflowRun(to.clone()))>{id}</button>
        }
    };
    let made_from = run.rerun_of.clone().map(|of| {
        let (said, testid) = match run.checkpoint.forked {
            true => ("forked from", "forked-from"),
            false => ("rerun of", "rerun-of"),
        };
        let at = run.rerun_from.clone().unwrap_or_default();
        view! {
            <p class="muted" data-testid="workflow-run-origin">
                {format!("{said} ")}{link(of, testid)}{format!(" at step `{at}`")}
            </p>
        }
    });
    let made = (!derived.is_empty()).then(|| {
        let items = derived
            .into_iter()
            .map(|d| {
                let said = if d.forked { "forked as" } else { "rerun as" };
                let testid = if d.forked { "forked-as" } else { "rerun-as" };
                let at = d.step.clone().unwrap_or_default();
                view! {
                    <li>{format!("{said} ")}{link(d.id, testid)}{format!(" at step `{at}`")}</li>
                }
            })
            .collect_view();
        view! { <ul class="muted" data-testid="workflow-run-derived">{items}</ul> }
    });
    let live = !run.status.is_final();
    let paused = run.control == RunControl::Pause || run.status == WorkflowRunStatus::Paused;
    let cancelling = run.control == RunControl::Cancel;
    let button = |label: &'static str, testid: &'static str, action: WorkflowAction| {
        let id = run.id.clone();
        view! {
            <button class="button" data-testid=testid
                disabled=move || act.pending().get() || cancelling
                on:click=move |_| { act.dispatch((id.clone(), action.clone())); }>{label}</button>
        }
    };
    let controls = live.then(|| {
        view! {
            {if paused {
                button("Resume", "workflow-resume", WorkflowAction::Resume).into_any()
            } else {
                button("Pause", "workflow-pause", WorkflowAction::Pause).into_any()
            }}
            {button(if cancelling { "Cancelling…" } else { "Cancel" }, "workflow-cancel", WorkflowAction::Cancel)}
        }
    });
    view! {
        <div class="view-head">
            <h1 data-testid="workflow-run-title">
                {run.workflow_name.clone()} <span class="muted">{format!(" v{}", run.version)}</span>
            </h1>
            <div class="row">{controls}</div>
        </div>
        <p>
            <span class=format!("status run-{}", run.status.as_str()) data-testid="workflow-run-status"
                data-status=run.status.as_str()>{status_label(run.status)}</span>
            <span class="muted">{format!(" · queued {}", local_time(run.queued_at))}</span>
            {run.rerun_from.clone().map(|step| view! {
                <span class="muted">{format!(" · rerun from `{step}`")}</span>
            })}
        </p>
        {run.error.clone().map(|e| view! { <p class="form-error" data-testid="workflow-run-error">{e}</p> })}
        {made_from}
        {made}
    }
}

type Replay = LocalResource<Option<Result<ReplayState, ApiError>>>;

/// The steps as the graph draws them: as they are, or as they stood at the scrubbed mark.
fn at_mark(
    steps: &[StepProgress],
    replay: Option<Result<ReplayState, ApiError>>,
) -> Vec<StepProgress> {
    let mut steps = steps.to_vec();
    if let Some(Ok(state)) = replay {
        for step in &mut steps {
            let then = state.steps.iter().find(|s| s.id == step.id);
            step.status = then.map_or(flightdeck_types::StepStatus::Pending, |s| s.status);
        }
    }
    steps
}

/// The timeline scrubber: one stop per mark (a step boundary), dragged or moved with the
/// arrow keys (Home and End for the first and last); the graph above and the log below
/// follow. "Now" goes back to the run as it is.
#[component]
fn Timeline(
    marks: u32,
    scrub: RwSignal<Option<u32>>,
    replay: Replay,
    ended: bool,
    act: Act,
) -> impl IntoView {
    if marks == 0 {
        return ().into_any();
    }
    let last = marks - 1;
    let set = move |ev: leptos::ev::Event| {
        if let Ok(n) = event_target_value(&ev).parse::<u32>() {
            scrub.set(Some(n.min(last)));
        }
    };
    let step_by = move |delta: i64| {
        let now = i64::from(scrub.get_untracked().unwrap_or(last));
        scrub.set(Some((now + delta).clamp(0, i64::from(last)) as u32));
    };
    view! {
        <section class="panel" data-testid="timeline-panel">
            <div class="row">
                <button class="button small" data-testid="timeline-previous"
                    on:click=move |_| step_by(-1)>"◀"</button>
                <input type="range" class="timeline" data-testid="timeline"
                    aria-label="The run at a step boundary"
                    min="0" max=last.to_string() step="1"
                    prop:value=move || scrub.get().unwrap_or(last).to_string()
                    on:input=set on:change=set />
                <button class="button small" data-testid="timeline-next"
                    on:click=move |_| step_by(1)>"▶"</button>
                <button class="button small" data-testid="timeline-now"
                    disabled=move || scrub.get().is_none()
                    on:click=move |_| scrub.set(None)>"Now"</button>
            </div>
            {move || match replay.get().flatten() {
                None => view! {
                    <p class="muted" data-testid="timeline-mark" data-mark="now">
                        {format!("Now · {marks} boundaries: drag or use the arrow keys to go back")}
                    </p>
                }.into_any(),
                Some(Err(e)) => view! { <p class="form-error">{e.message}</p> }.into_any(),
                Some(Ok(state)) => {
                    let mark = state.mark.clone();
                    let said = mark.as_ref().map(|m| format!(
                        "#{} {} · {} · run {}", m.seq, m.label, local_time(m.at), state.status
                    )).unwrap_or_default();
                    let lines = state.log.iter().map(|l| view! {
                        <li class="mono" data-testid="timeline-log-line" data-kind=l.kind.clone()>
                            {format!("[{}] {}", l.step.clone().unwrap_or_default(), l.data)}
                        </li>
                    }).collect_view();
                    // A boundary of a step of an ended run: fork the run there.
                    let fork = mark.as_ref().and_then(|m| m.step_id.clone()).filter(|_| ended).map(|step| {
                        let (run_id, label) = (state.run_id.clone(), format!("Fork from `{step}`"));
                        view! {
                            <button class="button small" data-testid="timeline-fork" data-step=step.clone()
                                disabled=move || act.pending().get()
                                on:click=move |_| {
                                    act.dispatch((run_id.clone(), WorkflowAction::Fork { step: step.clone(), inputs: Vec::new() }));
                                }>{label}</button>
                        }
                    });
                    view! {
                        <p data-testid="timeline-mark" data-mark=mark.map(|m| m.seq.to_string()).unwrap_or_default()>
                            {said}
                        </p>
                        {fork}
                        {state.pruned.then(|| view! { <p class="muted">"This run's history was pruned (runs settings --keep-history): only its end is known."</p> })}
                        <h3>"Log by then"</h3>
                        <ul class="log" data-testid="timeline-log">{lines}</ul>
                    }.into_any()
                }
            }}
        </section>
    }
    .into_any()
}

/// What the ETA text says: time left and when, marked as a guess with little history.
fn eta_text(p: &WorkflowProgress) -> String {
    if p.run.status.is_final() {
        return format!("Ended after {}", duration(p.elapsed_ms));
    }
    // With no history at all the remaining time adds up to nothing: say so, not "0 ms left".
    let unknown = p.eta_is_guess && p.remaining_ms.unwrap_or(0) == 0;
    let left = match (p.remaining_ms, p.eta) {
        _ if unknown => "no estimate yet".to_string(),
        (Some(ms), Some(at)) => format!("about {} left (ETA {})", duration(ms), local_time(at)),
        (Some(ms), None) => format!("about {} left", duration(ms)),
        _ => "no estimate yet".to_string(),
    };
    let guess = match (p.eta_is_guess, unknown) {
        (true, true) => " — the ETA is a guess until these steps have run a few times",
        (true, false) => " — a guess: few earlier runs of these steps",
        _ => "",
    };
    format!("{} elapsed, {left}{guess}", duration(p.elapsed_ms))
}

#[component]
fn Progress(progress: WorkflowProgress) -> impl IntoView {
    let percent = if progress.total == 0 {
        0.0
    } else {
        100.0 * f64::from(progress.done) / f64::from(progress.total)
    };
    view! {
        <div class="progress-row">
            <div class="progress" data-testid="workflow-progress" data-done=progress.done
                data-total=progress.total role="progressbar" aria-valuemin="0"
                aria-valuemax=progress.total aria-valuenow=progress.done>
                <div class="progress-fill" style=format!("width: {percent:.1}%")></div>
            </div>
            <span data-testid="workflow-steps-done">{format!("{}/{} steps", progress.done, progress.total)}</span>
        </div>
        <p class="muted" data-testid="workflow-eta" data-guess=progress.eta_is_guess.to_string()>
            {eta_text(&progress)}
        </p>
    }
}

/// The comment typed for each approval step. Kept by the page, not by the panel, which is
/// redrawn at every step boundary of the run (and would lose what is being typed).
#[derive(Clone, Copy)]
struct Comments(StoredValue<HashMap<String, RwSignal<String>>>);

impl Comments {
    fn get(&self, step: &str) -> RwSignal<String> {
        if let Some(signal) = self.0.with_value(|m| m.get(step).copied()) {
            return signal;
        }
        let signal = RwSignal::new(String::new());
        self.0.update_value(|m| {
            m.insert(step.to_string(), signal);
        });
        signal
    }
}

/// Approve / Reject for each step waiting for a person, with an optional comment.
#[component]
fn Approvals(
    progress: WorkflowProgress,
    definition: WorkflowDefinition,
    act: Act,
    comments: Comments,
) -> impl IntoView {
    let run_id = progress.run.id.clone();
    progress
        .waiting_approval
        .into_iter()
        .map(|step| {
            let message = definition.step(&step).and_then(|s| match &s.action {
                StepAction::Approval { message, .. } => message.clone(),
                _ => None,
            });
            let comment = comments.get(&step);
            let decide = {
                let (run_id, step) = (run_id.clone(), step.clone());
                move |approve: bool| {
                    let text = comment.get_untracked();
                    let comment = (!text.trim().is_empty()).then_some(text);
                    let step = step.clone();
                    let action = if approve {
                        WorkflowAction::Approve { step, comment }
                    } else {
                        WorkflowAction::Reject { step, comment }
                    };
                    act.dispatch((run_id.clone(), action));
                }
            };
            let reject = decide.clone();
            view! {
                <section class="panel approval" data-testid=format!("approval-{step}")>
                    <h2>{format!("`{step}` waits for approval")}</h2>
                    {message.map(|m| view! { <p data-testid="approval-message">{m}</p> })}
                    <div class="row">
                        <input class="input grow" data-testid=format!("approval-comment-{step}")
                            placeholder="Comment (optional)" aria-label="Comment"
                            prop:value=move || comment.get()
                            on:input=move |ev| comment.set(event_target_value(&ev)) />
                        <button class="button primary" data-testid=format!("approve-{step}")
                            disabled=move || act.pending().get()
                            on:click=move |_| decide(true)>"Approve"</button>
                        <button class="button danger" data-testid=format!("reject-{step}")
                            disabled=move || act.pending().get()
                            on:click=move |_| reject(false)>"Reject"</button>
                    </div>
                </section>
            }
        })
        .collect_view()
}

/// The selected step's facts, and "Rerun from here" once the run ended.
#[component]
fn SelectedStep(
    progress: WorkflowProgress,
    selected: RwSignal<Option<String>>,
    act: Act,
) -> impl IntoView {
    let run = progress.run.clone();
    let steps = progress.steps;
    let forking = RwSignal::new(false);
    move || {
        let selection = selected.get()?;
        let (id, item) = split_item(&selection);
        let step: StepProgress = steps.iter().find(|s| s.id == id)?.clone();
        let rerun = run.status.is_final().then(|| {
            let (run_id, step_id) = (run.id.clone(), step.id.clone());
            let (fork_run, fork_step) = (run.id.clone(), step.id.clone());
            view! {
                <button class="button" data-testid=format!("rerun-from-{}", step.id)
                    disabled=move || act.pending().get()
                    on:click=move |_| {
                        act.dispatch((run_id.clone(), WorkflowAction::RerunFrom { step: step_id.clone() }));
                    }>"Rerun from here"</button>
                <button class="button" data-testid=format!("fork-from-{}", step.id)
                    on:click=move |_| forking.update(|open| *open = !*open)>"Fork from here"</button>
                {move || forking.get().then(|| view! {
                    <ForkForm run_id=fork_run.clone() step=fork_step.clone() act=act />
                })}
            }
        });
        let history = match step.p50_ms {
            Some(ms) => format!("usually {} ({} earlier runs)", duration(ms), step.samples),
            None => "no earlier runs".to_string(),
        };
        Some(view! {
            <section class="panel" data-testid="workflow-step" data-step=step.id.clone()>
                <div class="view-head">
                    <h2 class="mono">{step.id.clone()}</h2>
                    {rerun}
                </div>
                <dl class="facts">
                    <dt>"Status"</dt><dd data-testid="workflow-step-status">{step_label(step.status)}</dd>
                    <dt>"Executor"</dt><dd>{step.executor.clone()}</dd>
                    <dt>"Needs"</dt><dd>{if step.needs.is_empty() { "nothing".to_string() } else { step.needs.join(", ") }}</dd>
                    <dt>"Attempt"</dt><dd>{step.attempt}</dd>
                    <dt>"Took"</dt><dd>{step.duration_ms.map(duration).unwrap_or_default()}</dd>
                    <dt>"History"</dt><dd>{history}</dd>
                </dl>
                {step.error.clone().map(|e| view! { <p class="form-error">{e}</p> })}
                <FanOutItems step=step.clone() item=item selected=selected />
                {(step.execution_id.is_none() && step.items.is_empty()).then(|| view! {
                    <p class="empty-hint">"This step has not run: it has no log."</p>
                })}
            </section>
        })
    }
}

/// "Fork from here": a field of the step to run with instead (`shell`, `env.NAME`,
/// `http.url`, `agent`, ...; a template like the file's) and its text; none runs it as it was.
#[component]
fn ForkForm(run_id: String, step: String, act: Act) -> impl IntoView {
    view! {
        <ForkEdit testid="fork" pending=act.pending().into()
            on_fork=move |inputs| {
                act.dispatch((run_id.clone(), WorkflowAction::Fork { step: step.clone(), inputs }));
            } />
    }
}

/// A fan-out step's items, one button each: the chosen item's state and log show below.
#[component]
fn FanOutItems(
    step: StepProgress,
    item: Option<usize>,
    selected: RwSignal<Option<String>>,
) -> impl IntoView {
    if step.items.is_empty() {
        return None;
    }
    let chosen = item.and_then(|i| step.items.get(i)).cloned();
    let buttons = step
        .items
        .iter()
        .map(|it| {
            let key = format!("{}[{}]", step.id, it.index);
            let active = item == Some(it.index as usize);
            view! {
                <button class=format!("button small step-chip step-{}", it.status.as_str())
                    class:active=active
                    data-testid=format!("item-button-{}-{}", step.id, it.index)
                    data-status=it.status.as_str()
                    title=step_label(it.status)
                    on:click=move |_| selected.set(Some(key.clone()))>
                    {format!("#{}", it.index)}
                </button>
            }
        })
        .collect_view();
    Some(view! {
        <h3>{format!("Items ({})", step.items.len())}</h3>
        <div class="row step-chips" role="group" aria-label="Items" data-testid="fan-out-items">
            {buttons}
        </div>
        {match chosen {
            Some(it) => view! {
                <p data-testid="fan-out-item" data-status=it.status.as_str()>
                    {format!("Item #{}: {}, attempt {}", it.index, step_label(it.status), it.attempt)}
                </p>
                {it.error.map(|e| view! { <p class="form-error">{e}</p> })}
            }.into_any(),
            None => view! { <p class="empty-hint">"Choose an item to see its log."</p> }.into_any(),
        }}
    })
}

/// Who runs the run, when that needs saying, with Adopt when its device stopped answering.
#[component]
fn Lease(note: Option<String>, adoptable: bool, run_id: String, act: Act) -> impl IntoView {
    let note = note?;
    let adopt = adoptable.then(|| {
        view! {
            <button class="button" data-testid="workflow-adopt"
                disabled=move || act.pending().get()
                on:click=move |_| { act.dispatch((run_id.clone(), WorkflowAction::Adopt)); }>
                "Adopt"
            </button>
        }
    });
    Some(view! {
        <div class="panel row" data-testid="workflow-lease">
            <p class="muted">{note}</p>
            {adopt}
        </div>
    })
}
