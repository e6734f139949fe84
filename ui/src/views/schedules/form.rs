//! The new-schedule form. Its cron helper offers common timetables and, as the person types,
//! shows the next fire times the engine computes for the draft (or the engine's verdict
//! beside the field at fault).

use flightdeck_types::{
    ExecutionSpec, MisfirePolicy, NewSchedule, OverlapPolicy, ScheduleKind, ShellSpec, TaskFilter,
    Timestamp,
};
use leptos::prelude::*;
use wasm_bindgen::JsValue;

use super::words;
use crate::api::{self, ApiError};
use crate::views::format::local_time_with_weekday;
use crate::views::forms::{for_field, for_form, FieldError};

const FIELDS: [&str; 8] = [
    "name",
    "cron_expr",
    "timezone",
    "interval_secs",
    "run_at",
    "misfire_cap",
    "shell",
    "task",
];

/// The timing fields: the preview's errors show beside these only (the rest on submit).
const TIMING: [&str; 4] = ["cron_expr", "timezone", "interval_secs", "run_at"];

const PRESETS: [(&str, &str); 5] = [
    ("Every 15 minutes", "*/15 * * * *"),
    ("Hourly", "0 * * * *"),
    ("Nightly at 02:00", "0 2 * * *"),
    ("Weekdays at 09:00", "0 9 * * MON-FRI"),
    ("Mondays at 08:00", "0 8 * * MON"),
];

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError {
        code: "invalid".into(),
        message: message.into(),
        field: Some(field.into()),
    }
}

/// The person's time zone, as the browser knows it (`UTC` when it does not).
fn local_zone() -> String {
    let options = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
        .resolved_options();
    js_sys::Reflect::get(&options, &"timeZone".into())
        .ok()
        .and_then(|z| z.as_string())
        .unwrap_or_else(|| "UTC".into())
}

/// A `datetime-local` value (the person's local time) as a timestamp.
fn parse_local(text: &str) -> Option<Timestamp> {
    let ms = js_sys::Date::new(&JsValue::from_str(text)).get_time();
    (!ms.is_nan() && !text.is_empty()).then_some(Timestamp(ms as i64))
}

#[derive(Clone, Copy)]
struct Draft {
    name: RwSignal<String>,
    task: RwSignal<String>,
    kind: RwSignal<ScheduleKind>,
    cron: RwSignal<String>,
    timezone: RwSignal<String>,
    interval: RwSignal<String>,
    run_at: RwSignal<String>,
    shell: RwSignal<String>,
    misfire: RwSignal<MisfirePolicy>,
    overlap: RwSignal<OverlapPolicy>,
}

impl Draft {
    fn new() -> Draft {
        Draft {
            name: RwSignal::new(String::new()),
            task: RwSignal::new(String::new()),
            kind: RwSignal::new(ScheduleKind::Cron),
            cron: RwSignal::new("0 9 * * MON-FRI".into()),
            timezone: RwSignal::new(local_zone()),
            interval: RwSignal::new("3600".into()),
            run_at: RwSignal::new(String::new()),
            shell: RwSignal::new(String::new()),
            misfire: RwSignal::new(MisfirePolicy::RunOnce),
            overlap: RwSignal::new(OverlapPolicy::Skip),
        }
    }

    /// The schedule as the engine takes it (tracks every field), or the error of a field the
    /// form itself can judge.
    fn build(&self) -> Result<NewSchedule, ApiError> {
        let kind = self.kind.get();
        let (mut cron_expr, mut interval_secs, mut run_at) = (None, None, None);
        match kind {
            ScheduleKind::Cron => cron_expr = Some(self.cron.get()),
            ScheduleKind::Interval => {
                let text = self.interval.get();
                let secs = text.trim().parse::<i64>().map_err(|_| {
                    invalid(
                        "interval_secs",
                        &format!("`{text}` is not a whole number of seconds"),
                    )
                })?;
                interval_secs = Some(secs);
            }
            ScheduleKind::Once => {
                let text = self.run_at.get();
                run_at = Some(
                    parse_local(&text)
                        .ok_or_else(|| invalid("run_at", "pick the date and time to run"))?,
                );
            }
        }
        let task = self.task.get();
        Ok(NewSchedule {
            name: self.name.get(),
            task_id: (!task.is_empty()).then_some(task),
            kind,
            cron_expr,
            timezone: Some(self.timezone.get()),
            interval_secs,
            run_at,
            spec: ExecutionSpec::Shell(ShellSpec {
                line: Some(self.shell.get()),
                ..ShellSpec::default()
            }),
            misfire_policy: Some(self.misfire.get()),
            misfire_cap: None,
            overlap_policy: Some(self.overlap.get()),
            retry_policy: None,
            runner_device_id: None,
            expected_secs: None,
        })
    }
}

#[component]
pub fn NewScheduleForm() -> impl IntoView {
    let draft = Draft::new();
    let add = Action::new_local(|input: &NewSchedule| api::add_schedule(input.clone()));
    let (local_error, set_local_error) = signal(None::<ApiError>);
    let tasks = LocalResource::new(|| api::list_tasks(TaskFilter::default()));
    // Bumped once the first previewed time has passed, so the preview moves on as the
    // schedule would fire rather than keep listing times gone by.
    let passed = RwSignal::new(0u64);
    let preview = LocalResource::new(move || {
        passed.track();
        let built = draft.build();
        async move {
            match built {
                Ok(input) => api::preview_schedule(input, 5).await,
                Err(e) => Err(e),
            }
        }
    });
    let pending_refresh = StoredValue::new(None::<TimeoutHandle>);
    Effect::new(move |_| {
        let first = match preview.get() {
            Some(Ok(times)) => times.first().copied(),
            _ => None,
        };
        if let Some(handle) = pending_refresh.get_value() {
            handle.clear();
        }
        let Some(first) = first else {
            pending_refresh.set_value(None);
            return;
        };
        // A little after it passed; at most a day ahead (a browser timer fires at once past
        // about 24 days).
        let wait = (first.as_millis() - js_sys::Date::now() as i64 + 250).clamp(0, 86_400_000);
        let handle = set_timeout_with_handle(
            move || passed.update(|n| *n += 1),
            std::time::Duration::from_millis(wait as u64),
        );
        pending_refresh.set_value(handle.ok());
    });
    let error = move || {
        local_error
            .get()
            .or_else(|| add.value().get().and_then(Result::err))
    };
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            draft.name.set(String::new());
            draft.shell.set(String::new());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let built = draft.build_untracked();
        match built {
            Ok(input) if input_shell_empty(&input) => set_local_error.set(Some(invalid(
                "shell",
                "give the shell command the schedule runs",
            ))),
            Ok(input) => {
                set_local_error.set(None);
                add.dispatch(input);
            }
            Err(e) => set_local_error.set(Some(e)),
        }
    };
    // Beside each timing field: the submit's error, else the live preview's.
    let beside = move |field: &'static str| {
        Signal::derive(move || {
            for_field(error(), field).or_else(|| {
                preview
                    .get()
                    .and_then(|r| r.err())
                    .filter(|_| TIMING.contains(&field))
                    .and_then(|e| for_field(Some(e), field))
            })
        })
    };
    view! {
        <form class="panel editor" data-testid="new-schedule-form" on:submit=submit>
            <h2>"New schedule"</h2>
            <div class="row">
                <label class="field">
                    <span class="label">"Name"</span>
                    <input class="input" data-testid="schedule-name-input" data-shortcut="new" placeholder="Nightly tests"
                        prop:value=draft.name on:input=move |ev| draft.name.set(event_target_value(&ev)) />
                    <FieldError testid="name" message=beside("name") />
                </label>
                <label class="field">
                    <span class="label">"Task (optional)"</span>
                    <select class="input" data-testid="schedule-task"
                        on:change=move |ev| draft.task.set(event_target_value(&ev))>
                        <option value="">"None"</option>
                        <Transition fallback=|| ()>
                            {move || Suspend::new(async move {
                                tasks.await.map(|list| list.into_iter().map(|t| view! {
                                    <option value=t.id.clone()>{t.title}</option>
                                }).collect_view())
                            })}
                        </Transition>
                    </select>
                    <FieldError testid="task" message=beside("task") />
                </label>
            </div>
            <label class="field">
                <span class="label">"Shell command"</span>
                <input class="input mono" data-testid="schedule-shell" placeholder="make test"
                    prop:value=draft.shell on:input=move |ev| {
                        set_local_error.set(None);
                        draft.shell.set(event_target_value(&ev));
                    } />
                <FieldError testid="shell" message=beside("shell") />
            </label>
            <div class="row">
                <label class="field">
                    <span class="label">"Runs"</span>
                    <select class="input" data-testid="schedule-kind"
                        on:change=move |ev| if let Ok(k) = event_target_value(&ev).parse() { draft.kind.set(k) }>
                        <option value="cron">"on a cron timetable"</option>
                        <option value="interval">"every so many seconds"</option>
                        <option value="once">"once"</option>
                    </select>
                </label>
                <Timing draft=draft beside=beside />
            </div>
            <Preview preview=preview />
            <div class="row">
                <label class="field">
                    <span class="label">"When fire times were missed (asleep, off)"</span>
                    <select class="input" data-testid="schedule-misfire-policy"
                        on:change=move |ev| if let Ok(p) = event_target_value(&ev).parse() { draft.misfire.set(p) }>
                        {MisfirePolicy::ALL.iter().map(|p| view! {
                            <option value=p.as_str() selected=*p == MisfirePolicy::RunOnce>{words(p.as_str())}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label class="field">
                    <span class="label">"When the last run is still going"</span>
                    <select class="input" data-testid="schedule-overlap-policy"
                        on:change=move |ev| if let Ok(p) = event_target_value(&ev).parse() { draft.overlap.set(p) }>
                        {OverlapPolicy::ALL.iter().map(|p| view! {
                            <option value=p.as_str() selected=*p == OverlapPolicy::Skip>{words(p.as_str())}</option>
                        }).collect_view()}
                    </select>
                </label>
            </div>
            <div class="row">
                <button class="button primary" type="submit" data-testid="schedule-submit"
                    disabled=move || add.pending().get()>"Add schedule"</button>
                {move || matches!(add.value().get(), Some(Ok(_))).then(|| view! { <span class="saved">"Added"</span> })}
            </div>
            {move || for_form(error(), &FIELDS).map(|m| view! { <p class="form-error">{m}</p> })}
        </form>
    }
}

fn input_shell_empty(input: &NewSchedule) -> bool {
    match &input.spec {
        ExecutionSpec::Shell(shell) => shell.line.as_deref().is_none_or(|l| l.trim().is_empty()),
        _ => false,
    }
}

impl Draft {
    fn build_untracked(&self) -> Result<NewSchedule, ApiError> {
        leptos::prelude::untrack(|| self.build())
    }
}

/// The fields of the chosen kind of timing.
#[component]
fn Timing<F>(draft: Draft, beside: F) -> impl IntoView
where
    F: Fn(&'static str) -> Signal<Option<String>> + Copy + Send + Sync + 'static,
{
    move || {
        match draft.kind.get() {
        ScheduleKind::Cron => view! {
            <label class="field grow">
                <span class="label">"Cron (minute hour day-of-month month day-of-week)"</span>
                <input class="input mono" data-testid="schedule-cron" prop:value=draft.cron
                    on:input=move |ev| draft.cron.set(event_target_value(&ev)) />
                <FieldError testid="cron_expr" message=beside("cron_expr") />
                <div class="presets" data-testid="cron-presets">
                    {PRESETS.into_iter().map(|(label, expr)| view! {
                        <button class="button small" type="button" data-testid="cron-preset"
                            title=expr on:click=move |_| draft.cron.set(expr.to_string())>{label}</button>
                    }).collect_view()}
                </div>
            </label>
            <label class="field">
                <span class="label">"Time zone"</span>
                <input class="input" data-testid="schedule-timezone" prop:value=draft.timezone
                    on:input=move |ev| draft.timezone.set(event_target_value(&ev)) />
                <FieldError testid="timezone" message=beside("timezone") />
            </label>
        }
        .into_any(),
        ScheduleKind::Interval => view! {
            <label class="field">
                <span class="label">"Every (seconds)"</span>
                <input class="input" data-testid="schedule-interval" inputmode="numeric"
                    prop:value=draft.interval on:input=move |ev| draft.interval.set(event_target_value(&ev)) />
                <FieldError testid="interval_secs" message=beside("interval_secs") />
            </label>
        }
        .into_any(),
        ScheduleKind::Once => view! {
            <label class="field">
                <span class="label">"At"</span>
                <input class="input" type="datetime-local" data-testid="schedule-run-at"
                    prop:value=draft.run_at on:input=move |ev| draft.run_at.set(event_target_value(&ev)) />
                <FieldError testid="run_at" message=beside("run_at") />
            </label>
        }
        .into_any(),
    }
    }
}

/// The next fire times of the draft, in the person's local time.
#[component]
fn Preview(preview: LocalResource<Result<Vec<Timestamp>, ApiError>>) -> impl IntoView {
    view! {
        <div class="preview" data-testid="schedule-preview">
            <span class="label">"Next fire times (your local time)"</span>
            <Transition fallback=|| view! { <p class="muted">"…"</p> }>
                {move || Suspend::new(async move {
                    match preview.await {
                        Ok(times) if times.is_empty() => view! {
                            <p class="muted">"It would never fire."</p>
                        }.into_any(),
                        Ok(times) => view! {
                            <ol class="fire-times">
                                {times.into_iter().map(|t| view! {
                                    <li data-testid="fire-time" title=t.to_rfc3339()>{local_time_with_weekday(t)}</li>
                                }).collect_view()}
                            </ol>
                        }.into_any(),
                        Err(_) => view! {
                            <p class="muted">"Fix the timing to see when it fires."</p>
                        }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}
