//! Schedules: create one (cron with a helper that previews the next fire times, a fixed
//! interval, or once), and for each: its timing and next fire, its misfire and overlap
//! policies (changed in place), pause/resume, run now, delete. Reads follow live
//! `entity-changed` events for `schedules`.

pub mod form;

use flightdeck_types::{
    Execution, MisfirePolicy, OverlapPolicy, Schedule, ScheduleKind, SchedulePatch,
};
use leptos::prelude::*;

use super::format::{local_time, spec_summary};
use super::forms::for_form;
use super::{use_route, Route};
use crate::api::{self, ApiError, ScheduleAction};
use crate::live::use_live;

#[component]
pub fn SchedulesView() -> impl IntoView {
    let live = use_live();
    let act = Action::new_local(|(action, id): &(ScheduleAction, String)| {
        api::schedule_action(*action, id.clone())
    });
    let trigger = Action::new_local(|id: &String| api::trigger_schedule(id.clone()));
    let update = Action::new_local(|(id, patch): &(String, SchedulePatch)| {
        api::update_schedule(id.clone(), patch.clone())
    });
    let schedules = LocalResource::new(move || {
        live.schedules.get();
        act.version().get();
        update.version().get();
        api::list_schedules()
    });
    let failed = move || {
        act.value()
            .get()
            .and_then(Result::err)
            .or_else(|| trigger.value().get().and_then(Result::err))
            .or_else(|| update.value().get().and_then(Result::err))
    };
    let actions = Actions {
        act,
        trigger,
        update,
    };
    view! {
        <section class="view" data-testid="schedules">
            <h1>"Schedules"</h1>
            {move || for_form(failed(), &[]).map(|m| view! { <p class="form-error" data-testid="schedule-action-error">{m}</p> })}
            <Triggered trigger=trigger />
            <Transition fallback=|| view! { <p class="loading">"Loading schedules…"</p> }>
                {move || Suspend::new(async move {
                    schedules.await.map(|list| {
                        if list.is_empty() {
                            return view! {
                                <div class="empty-state" data-testid="schedules-empty">
                                    <p class="empty-title">"No schedules yet"</p>
                                    <p class="empty-hint">
                                        "Add one below: a command that runs on a cron timetable (say, \
                                         nightly at 02:00), every so many seconds, or once."
                                    </p>
                                </div>
                            }.into_any();
                        }
                        view! {
                            <div class="table-scroll">
                            <table class="table" data-testid="schedule-table">
                                <thead><tr>
                                    <th>"Name"</th><th>"When"</th><th>"Next"</th><th>"Runs"</th>
                                    <th>"Misfire"</th><th>"Overlap"</th><th></th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|s| view! { <ScheduleRow schedule=s actions=actions /> }).collect_view()}
                                </tbody>
                            </table>
                            </div>
                        }.into_any()
                    })
                })}
            </Transition>
            // Below the list: the schedules one has come first, and adding one is a longer form.
            <form::NewScheduleForm />
        </section>
    }
}

type Result2<T> = Result<T, ApiError>;

#[derive(Clone, Copy)]
struct Actions {
    act: Action<(ScheduleAction, String), Result2<Schedule>>,
    trigger: Action<String, Result2<Execution>>,
    update: Action<(String, SchedulePatch), Result2<Schedule>>,
}

/// "Queued run …" after a run-now, with a link to it.
#[component]
fn Triggered(trigger: Action<String, Result2<Execution>>) -> impl IntoView {
    let route = use_route();
    move || {
        trigger.value().get().and_then(Result::ok).map(|run| {
            let id = run.id.clone();
            view! {
                <p class="saved" data-testid="schedule-triggered">
                    "Queued a run. "
                    <button class="button link inline" on:click=move |_| route.set(Route::Run(id.clone()))>
                        "Open it"
                    </button>
                </p>
            }
        })
    }
}

/// When a schedule fires, in words.
pub fn timing(s: &Schedule) -> String {
    match s.kind {
        ScheduleKind::Cron => format!(
            "cron {} ({})",
            s.cron_expr.as_deref().unwrap_or_default(),
            s.timezone
        ),
        ScheduleKind::Interval => format!("every {} s", s.interval_secs.unwrap_or_default()),
        ScheduleKind::Once => match s.run_at {
            Some(at) => format!("once at {}", local_time(at)),
            None => "once".into(),
        },
    }
}

pub fn words(text: &str) -> String {
    text.replace('_', " ")
}

#[component]
fn ScheduleRow(schedule: Schedule, actions: Actions) -> impl IntoView {
    let id = schedule.id.clone();
    let (pause_or_resume, label) = if schedule.enabled {
        (ScheduleAction::Pause, "Pause")
    } else {
        (ScheduleAction::Resume, "Resume")
    };
    let next = match (schedule.enabled, schedule.next_fire_at) {
        (false, _) => "paused".to_string(),
        (true, Some(at)) => local_time(at),
        (true, None) => "nothing left".to_string(),
    };
    let name = if schedule.name.is_empty() {
        "(no name)".to_string()
    } else {
        schedule.name.clone()
    };
    let (misfire, overlap) = (schedule.misfire_policy, schedule.overlap_policy);
    let set_misfire = {
        let id = id.clone();
        move |ev: leptos::ev::Event| {
            if let Ok(p) = event_target_value(&ev).parse::<MisfirePolicy>() {
                let patch = SchedulePatch {
                    misfire_policy: Some(p),
                    ..Default::default()
                };
                actions.update.dispatch((id.clone(), patch));
            }
        }
    };
    let set_overlap = {
        let id = id.clone();
        move |ev: leptos::ev::Event| {
            if let Ok(p) = event_target_value(&ev).parse::<OverlapPolicy>() {
                let patch = SchedulePatch {
                    overlap_policy: Some(p),
                    ..Default::default()
                };
                actions.update.dispatch((id.clone(), patch));
            }
        }
    };
    let (id1, id2, id3) = (id.clone(), id.clone(), id.clone());
    let question =
        format!("Delete the schedule “{name}” on every synced device? Its past runs stay.");
    view! {
        <tr data-testid="schedule-row" data-id=schedule.id.clone()
            data-enabled=schedule.enabled.to_string()>
            <td data-testid="schedule-name">{name}</td>
            <td class="mono">{timing(&schedule)}</td>
            <td data-testid="schedule-next">{next}</td>
            <td class="mono">{super::format::clip(&spec_summary(&schedule.spec), 40)}</td>
            <td>
                <select class="input" data-testid="schedule-misfire" aria-label="Misfire policy" on:change=set_misfire>
                    {MisfirePolicy::ALL.iter().map(|p| view! {
                        <option value=p.as_str() selected=*p == misfire>{words(p.as_str())}</option>
                    }).collect_view()}
                </select>
            </td>
            <td>
                <select class="input" data-testid="schedule-overlap" aria-label="Overlap policy" on:change=set_overlap>
                    {OverlapPolicy::ALL.iter().map(|p| view! {
                        <option value=p.as_str() selected=*p == overlap>{words(p.as_str())}</option>
                    }).collect_view()}
                </select>
            </td>
            <td class="actions">
                <button class="button" data-testid="schedule-toggle"
                    on:click=move |_| { actions.act.dispatch((pause_or_resume, id1.clone())); }>{label}</button>
                <button class="button" data-testid="schedule-trigger"
                    on:click=move |_| { actions.trigger.dispatch(id2.clone()); }>"Run now"</button>
                <super::confirm::ConfirmDelete label="Delete…" testid="schedule-delete" scope="schedule-"
                    question=question pending=actions.act.pending().into()
                    on_confirm=Callback::new(move |()| { actions.act.dispatch((ScheduleAction::Delete, id3.clone())); }) />
            </td>
        </tr>
    }
}
