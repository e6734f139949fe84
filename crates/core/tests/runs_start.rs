//! Starting runs as the app does: a task's run from a shell line or from its environment's
//! agent command (errors naming the field), a re-run of a finished run, and the fire times
//! of a schedule draft.

mod common;
#[path = "common/runner.rs"]
mod runner;

use common::{at, task, temp_store, true_schedule};
use flightdeck_core::{environments, runs, schedules, tasks, CoreError};
use flightdeck_types::{
    ExecutionSpec, ExecutionStatus, NewEnvironment, NewSchedule, ScheduleKind, ShellSpec, StartRun,
    TaskPatch,
};
use runner::{until, Rig};

fn field_of(e: CoreError) -> String {
    match e {
        CoreError::Invalid(f) => f.field,
        other => panic!("expected an invalid field, got {other:?}"),
    }
}

fn line_of(spec: &ExecutionSpec) -> &str {
    match spec {
        ExecutionSpec::Shell(ShellSpec { line: Some(l), .. }) => l,
        other => panic!("not a shell line: {other:?}"),
    }
}

#[test]
fn a_shell_line_queues_a_run_of_the_task() {
    let (_dir, store) = temp_store();
    let id = task(&store, "Build").id;
    let run = runs::start_for_task(
        &store,
        &StartRun {
            task_id: id.clone(),
            shell: Some("  make build  ".into()),
            timeout_secs: Some(60),
        },
    )
    .unwrap();
    assert_eq!(run.status, ExecutionStatus::Queued);
    assert_eq!(run.task_id.as_deref(), Some(id.as_str()));
    assert_eq!(line_of(&run.spec), "make build");
    assert_eq!(runs::get(&store, &run.id).unwrap(), run);
}

#[test]
fn without_a_line_the_environment_agent_command_runs_with_the_task_as_prompt() {
    let (_dir, store) = temp_store();
    let id = task(&store, "Fix the flaky test").id;
    // No line and no environment: the error is about the command field.
    let none = StartRun {
        task_id: id.clone(),
        shell: Some("   ".into()),
        timeout_secs: None,
    };
    assert_eq!(
        field_of(runs::start_for_task(&store, &none).unwrap_err()),
        "shell"
    );

    let give_env = |name: &str, agent: Option<&str>| {
        let env = environments::create(
            &store,
            NewEnvironment {
                name: name.into(),
                agent_command: agent.map(str::to_string),
                ..Default::default()
            },
        )
        .unwrap();
        tasks::update(
            &store,
            &id,
            TaskPatch {
                environment: Some(Some(env.id.clone())),
                ..Default::default()
            },
        )
        .unwrap();
        env.id
    };
    // An environment with no agent command: said about that field.
    give_env("bare", None);
    let e = runs::start_for_task(&store, &none).unwrap_err();
    assert_eq!(field_of(e), "agent_command");

    let env = give_env("backend", Some("claude -p {prompt}"));
    let run = runs::start_for_task(&store, &none).unwrap();
    assert_eq!(line_of(&run.spec), "claude -p 'Fix the flaky test'");
    assert_eq!(run.environment_id.as_deref(), Some(env.as_str()));
}

#[test]
fn a_rerun_repeats_a_finished_run_and_refuses_a_live_one() {
    let rig = Rig::start();
    let first = rig.queue("sleep 30", None);
    until("the first run to start", || {
        let run = runs::get(&rig.store, &first.id).unwrap();
        (run.status == ExecutionStatus::Running).then_some(())
    });
    let refused = runs::rerun(&rig.store, &first.id).unwrap_err();
    assert!(matches!(refused, CoreError::Refused(_)), "{refused:?}");

    runs::request_cancel(&rig.store, &first.id).unwrap();
    let ended = rig.final_state(&first.id);
    assert_eq!(ended.status, ExecutionStatus::Cancelled);
    let again = runs::rerun(&rig.store, &first.id).unwrap();
    assert_ne!(again.id, first.id);
    assert_eq!(again.spec, first.spec);
    assert_eq!(again.attempt, 1);
    assert_eq!(again.retry_of, None);
    assert_eq!(again.status, ExecutionStatus::Queued);
    runs::request_cancel(&rig.store, &again.id).unwrap();
    assert_eq!(
        rig.final_state(&again.id).status,
        ExecutionStatus::Cancelled
    );
}

fn draft(kind: ScheduleKind) -> NewSchedule {
    true_schedule("draft", kind)
}

#[test]
fn a_draft_previews_its_next_fire_times_or_names_the_field_at_fault() {
    // Monday 2026-11-30 10:00 UTC: weekdays at 09:00 next fire on Tuesday.
    let now = at("2026-11-30T10:00:00Z");
    let weekdays = NewSchedule {
        cron_expr: Some("0 9 * * MON-FRI".into()),
        timezone: Some("Europe/Berlin".into()),
        ..draft(ScheduleKind::Cron)
    };
    let times = schedules::preview(weekdays, now, 5).unwrap();
    let shown: Vec<String> = times.iter().map(|t| t.to_rfc3339()).collect();
    assert_eq!(
        shown,
        [
            "2026-12-01T08:00:00.000Z",
            "2026-12-02T08:00:00.000Z",
            "2026-12-03T08:00:00.000Z",
            "2026-12-04T08:00:00.000Z",
            "2026-12-07T08:00:00.000Z",
        ]
    );

    let bad = NewSchedule {
        cron_expr: Some("0 25 * * *".into()),
        ..draft(ScheduleKind::Cron)
    };
    assert_eq!(
        field_of(schedules::preview(bad, now, 5).unwrap_err()),
        "cron_expr"
    );
    let zone = NewSchedule {
        cron_expr: Some("0 9 * * *".into()),
        timezone: Some("Mars/Olympus".into()),
        ..draft(ScheduleKind::Cron)
    };
    assert_eq!(
        field_of(schedules::preview(zone, now, 5).unwrap_err()),
        "timezone"
    );

    let every = NewSchedule {
        interval_secs: Some(90),
        run_at: Some(now),
        ..draft(ScheduleKind::Interval)
    };
    let times = schedules::preview(every, now, 3).unwrap();
    let gaps: Vec<i64> = times.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert_eq!(gaps, [90_000, 90_000]);

    let once = NewSchedule {
        run_at: Some(at("2026-12-24T18:00:00Z")),
        ..draft(ScheduleKind::Once)
    };
    assert_eq!(
        schedules::preview(once, now, 5).unwrap(),
        [at("2026-12-24T18:00:00Z")]
    );
    // Nothing is saved by a preview.
    let (_dir, store) = temp_store();
    assert!(schedules::list(&store).unwrap().is_empty());
}
