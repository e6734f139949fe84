//! `flightdeck schedule ...`

use flightdeck_core::{schedules, tasks, CoreError, Store};
use flightdeck_types::{NewSchedule, Schedule, ScheduleKind, Timestamp};

use super::runs::spec_from_args;
use crate::args::ScheduleCommand;
use crate::output::{table, Output};

pub fn run(store: &Store, cmd: &ScheduleCommand, out: &Output) -> Result<(), CoreError> {
    match cmd {
        ScheduleCommand::Add {
            name,
            task,
            timing,
            tz,
            executor,
            policies,
        } => {
            let task = tasks::get(store, task)?;
            let spec = spec_from_args(store, &task, executor)?;
            let (kind, run_at) = match (&timing.cron, timing.every, &timing.at) {
                (Some(_), _, _) => (ScheduleKind::Cron, None),
                (_, Some(_), _) => (ScheduleKind::Interval, None),
                (_, _, Some(at)) => (
                    ScheduleKind::Once,
                    Some(Timestamp::parse_rfc3339(at).map_err(|e| {
                        CoreError::invalid(
                            "run_at",
                            format!(
                                "`{at}` is not an RFC 3339 time ({e}); e.g. 2026-12-01T09:00:00Z"
                            ),
                        )
                    })?),
                ),
                _ => unreachable!("clap requires one of --cron, --every, --at"),
            };
            let schedule = schedules::add(
                store,
                NewSchedule {
                    name: name.clone(),
                    task_id: Some(task.id.clone()),
                    kind,
                    cron_expr: timing.cron.clone(),
                    timezone: tz.clone(),
                    interval_secs: timing.every,
                    run_at,
                    spec,
                    misfire_policy: policies.misfire,
                    misfire_cap: policies.misfire_cap,
                    overlap_policy: policies.overlap,
                    retry_policy: None,
                    runner_device_id: None,
                    expected_secs: policies.expected,
                },
            )?;
            out.print(&schedule, || schedule.id.clone());
        }
        ScheduleCommand::List => {
            let found = schedules::list(store)?;
            out.print(&found, || render_list(&found));
        }
        ScheduleCommand::Show { id } => {
            let s = schedules::show(store, id)?;
            out.print(&s, || render_one(&s));
        }
        ScheduleCommand::Next { id, count } => {
            let times = schedules::next(store, id, *count as usize)?;
            out.print(&times, || {
                if times.is_empty() {
                    "nothing left to fire (paused, or a one-time schedule that fired)".into()
                } else {
                    times
                        .iter()
                        .map(|t| t.to_rfc3339())
                        .collect::<Vec<_>>()
                        .join("\n")
                }
            });
        }
        ScheduleCommand::Pause { id } => {
            let s = schedules::pause(store, id)?;
            out.print(&s, || format!("paused {}", s.name));
        }
        ScheduleCommand::Resume { id } => {
            let s = schedules::resume(store, id)?;
            out.print(&s, || format!("resumed {}; next fire {}", s.name, next(&s)));
        }
        ScheduleCommand::Trigger { id } => {
            let run = schedules::trigger(store, id)?;
            out.print(&run, || format!("queued run {}", run.id));
        }
        ScheduleCommand::Rm { id } => {
            let s = schedules::delete(store, id)?;
            out.print(&s, || format!("deleted {}", s.name));
        }
    }
    Ok(())
}

fn next(s: &Schedule) -> String {
    s.next_fire_at
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|| "-".into())
}

fn timing(s: &Schedule) -> String {
    match s.kind {
        ScheduleKind::Cron => format!(
            "cron {} {}",
            s.cron_expr.as_deref().unwrap_or(""),
            s.timezone
        ),
        ScheduleKind::Interval => format!("every {}s", s.interval_secs.unwrap_or(0)),
        ScheduleKind::Once => format!(
            "once at {}",
            s.run_at.map(|t| t.to_rfc3339()).unwrap_or_default()
        ),
    }
}

fn render_list(found: &[Schedule]) -> String {
    if found.is_empty() {
        return "no schedules yet; add one with `flightdeck schedule add NAME --task ID --cron \
                '0 9 * * 1-5' --shell CMD`"
            .into();
    }
    let rows = found
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                s.name.clone(),
                if s.enabled { "on" } else { "paused" }.into(),
                next(s),
                timing(s),
            ]
        })
        .collect::<Vec<_>>();
    table(&["ID", "NAME", "STATE", "NEXT", "WHEN"], &rows)
}

fn render_one(s: &Schedule) -> String {
    [
        format!("id:       {}", s.id),
        format!("name:     {}", s.name),
        format!("when:     {}", timing(s)),
        format!("state:    {}", if s.enabled { "on" } else { "paused" }),
        format!("next:     {}", next(s)),
        format!(
            "last:     {}",
            s.last_fired_at
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "-".into())
        ),
        format!("misfire:  {} (cap {})", s.misfire_policy, s.misfire_cap),
        format!("overlap:  {}", s.overlap_policy),
        format!("task:     {}", s.task_id.as_deref().unwrap_or("-")),
        format!("runner:   {}", s.runner_device_id.as_deref().unwrap_or("-")),
        format!(
            "spec:     {}",
            serde_json::to_string(&s.spec).expect("specs always serialize")
        ),
    ]
    .join("\n")
}
