//! Slow-run alerts through the real runner: a run well past 1.5x the p95 of its task's
//! history raises exactly one alert with its diagnostics; quick runs raise none; the run's end
//! resolves it; an expected duration set on the schedule comes before the task's.

use flightdeck_core::{recovery, runs, schedules, tasks};
use flightdeck_types::{
    ErrorFilter, ErrorKind, ExecutionSpec, NewExecution, NewTask, RecoveryStatus, ScheduleKind,
    SchedulePatch, Severity, ShellSpec, Timestamp,
};

use crate::runner::{until, Rig};

fn run_of(rig: &Rig, task: &str, line: &str) -> String {
    rig.queue_new(NewExecution {
        task_id: Some(task.to_string()),
        spec: Some(ExecutionSpec::Shell(ShellSpec {
            line: Some(line.into()),
            ..Default::default()
        })),
        ..Default::default()
    })
    .id
}

fn slow_alerts(rig: &Rig) -> Vec<flightdeck_types::ErrorRecord> {
    recovery::list(
        &rig.store,
        &ErrorFilter {
            kind: Some(ErrorKind::Slow),
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn a_run_past_its_history_raises_one_alert_with_diagnostics_and_its_end_resolves_it() {
    let rig = Rig::start();
    let task = tasks::create(
        &rig.store,
        NewTask {
            title: "nightly import".into(),
            ..Default::default()
        },
    )
    .unwrap()
    .id;
    // Ten runs of about 100 ms, and an eleventh: the history. None of them is slow (they end
    // before anything looks).
    let mut history: Vec<String> = (0..10).map(|_| run_of(&rig, &task, "sleep 0.1")).collect();
    for id in &history {
        rig.final_state(id);
    }
    history.push(run_of(&rig, &task, "sleep 0.1"));
    let mut took: Vec<i64> = history
        .iter()
        .map(|id| {
            let run = rig.final_state(id);
            assert_eq!(run.status.as_str(), "succeeded");
            run.finished_at.unwrap().as_millis() - run.started_at.unwrap().as_millis()
        })
        .collect();
    took.sort();
    let p95 = took[((0.95 * 11.0_f64).ceil() as usize) - 1];
    let expected = (p95 as f64 * 1.5).ceil() as i64;
    assert!(slow_alerts(&rig).is_empty(), "quick runs raise nothing");

    let slow = run_of(
        &rig,
        &task,
        "for i in $(seq 30); do echo line $i; done; sleep 20",
    );
    let alert = until("the slow-run alert", || slow_alerts(&rig).pop());
    assert_eq!(alert.execution_id.as_deref(), Some(slow.as_str()));
    assert_eq!(alert.task_id.as_deref(), Some(task.as_str()));
    assert_eq!(alert.severity, Severity::Low);
    assert_eq!(alert.recovery_status, RecoveryStatus::New);
    assert!(alert.message.contains("is slow"), "{}", alert.message);
    let d = &alert.details;
    assert_eq!(d["expected_ms"], expected, "{d}");
    assert!(d["elapsed_ms"].as_i64().unwrap() >= expected, "{d}");
    assert_eq!(d["judged_against"]["source"], "history");
    assert_eq!(d["judged_against"]["of"], "task");
    assert_eq!(d["judged_against"]["runs"], 11, "{d}");
    assert_eq!(d["judged_against"]["p95_ms"], p95);
    let lines: Vec<String> = (11..=30).map(|i| format!("line {i}")).collect();
    assert_eq!(d["last_lines"], serde_json::json!(lines));
    assert!(d["machine"]["cpus"].as_u64().unwrap() >= 1, "{d}");
    assert!(d["machine"]["busy"].is_boolean(), "{d}");

    // Its end resolves the alert, saying how it ended; still exactly one alert.
    runs::request_cancel(&rig.store, &slow).unwrap();
    rig.final_state(&slow);
    let after = slow_alerts(&rig);
    assert_eq!(after.len(), 1, "{after:#?}");
    assert_eq!(after[0].recovery_status, RecoveryStatus::Resolved);
    assert_eq!(after[0].details["ended"]["status"], "cancelled");
    // A slow-run alert is not a failure to retry.
    let refused = recovery::retry(&rig.store, &after[0].id).unwrap_err();
    assert!(
        refused.to_string().contains("nothing to retry"),
        "{refused}"
    );
}

#[test]
fn a_run_with_no_task_and_no_history_raises_nothing() {
    let rig = Rig::start();
    let run = rig.queue("sleep 1.5", None);
    rig.final_state(&run.id);
    assert!(slow_alerts(&rig).is_empty());
}

#[test]
fn a_schedules_expected_duration_comes_before_its_tasks_and_can_be_cleared() {
    let rig = Rig::start();
    let task = tasks::create(
        &rig.store,
        NewTask {
            title: "nightly export".into(),
            expected_secs: Some(600),
            ..Default::default()
        },
    )
    .unwrap()
    .id;
    let mut input = crate::common::true_schedule("nightly", ScheduleKind::Once);
    input.task_id = Some(task.clone());
    input.run_at = Some(Timestamp(
        flightdeck_core::clock::now().as_millis() + 86_400_000,
    ));
    input.spec = ExecutionSpec::Shell(ShellSpec {
        line: Some("echo exporting; sleep 20".into()),
        ..Default::default()
    });
    input.expected_secs = Some(1);
    let schedule = schedules::add(&rig.store, input).unwrap();
    assert_eq!(schedule.expected_secs, Some(1));

    let run = schedules::trigger(&rig.store, &schedule.id).unwrap();
    let alert = until("the slow-run alert", || slow_alerts(&rig).pop());
    assert_eq!(alert.execution_id.as_deref(), Some(run.id.as_str()));
    assert_eq!(alert.schedule_id.as_deref(), Some(schedule.id.as_str()));
    let d = &alert.details;
    assert_eq!(d["judged_against"]["source"], "schedule", "{d}");
    assert_eq!(d["expected_ms"], 1000, "{d}");
    assert_eq!(d["last_lines"], serde_json::json!(["exporting"]));
    runs::request_cancel(&rig.store, &run.id).unwrap();
    rig.final_state(&run.id);

    // Cleared, the task's own expected duration decides again.
    let cleared = schedules::update(
        &rig.store,
        &schedule.id,
        SchedulePatch {
            expected_secs: Some(None),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(cleared.expected_secs, None);
    let next = schedules::trigger(&rig.store, &schedule.id).unwrap();
    let judged = recovery::slow::expectation(&rig.store, &next)
        .unwrap()
        .unwrap();
    assert_eq!(judged.expected_ms, 600_000);
    assert_eq!(judged.basis["source"], "task");
    runs::request_cancel(&rig.store, &next.id).unwrap();
    rig.final_state(&next.id);
}
