//! The Runs view and a run's page as a person reads them (issue 21, item 8): the list names
//! each run's task and marks runs a schedule fired or that retry another; a run's page names
//! its task by title and its retry's parent by attempt; the log leaves out the runner's own
//! `process` record and shows each line's time when asked.

use std::time::Duration;

use flightdeck_core::{runs, schedules, tasks, Store};
use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_tests::webdriver::Session;
use flightdeck_types::{ExecutionSpec, NewExecution, NewSchedule, NewTask, ShellSpec};

const WAIT: Duration = Duration::from_secs(30);

fn shell(line: &str) -> Option<ExecutionSpec> {
    Some(ExecutionSpec::Shell(ShellSpec {
        line: Some(line.into()),
        ..Default::default()
    }))
}

fn click(ui: &Session, css: &str) {
    ui.click(&ui.find(css).unwrap()).unwrap();
}

#[test]
fn runs_name_their_task_and_mark_schedules_and_retries() {
    let data = tempfile::tempdir().unwrap();
    let (first, retry) = {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        let task = tasks::create(
            &store,
            NewTask {
                title: "Build the docs".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let first = runs::queue(
            &store,
            NewExecution {
                task_id: Some(task.id.clone()),
                spec: shell("echo first"),
                ..Default::default()
            },
        )
        .unwrap();
        let retry = runs::queue(
            &store,
            NewExecution {
                task_id: Some(task.id.clone()),
                spec: shell("echo again"),
                retry_of: Some(first.id.clone()),
                attempt: Some(2),
                ..Default::default()
            },
        )
        .unwrap();
        let schedule = schedules::add(
            &store,
            // Every other field at its default (absent).
            serde_json::from_value::<NewSchedule>(serde_json::json!({
                "name": "nightly docs",
                "task_id": task.id,
                "kind": "interval",
                "interval_secs": 86_400,
                "spec": shell("echo scheduled"),
            }))
            .unwrap(),
        )
        .unwrap();
        runs::queue(
            &store,
            NewExecution {
                task_id: Some(task.id),
                schedule_id: Some(schedule.id),
                spec: shell("echo scheduled"),
                ..Default::default()
            },
        )
        .unwrap();
        (first, retry)
    };

    let app = App::launch(data.path());
    let ui = app.session();
    click(ui, "[data-testid=nav-runs]");
    let rows = poll::until("the three runs, ended", WAIT, || {
        let rows = ui.find_all("[data-testid=run-row][data-status=succeeded]")?;
        Ok((rows.len() >= 3).then_some(rows))
    });
    let titles = ui.texts("[data-testid=run-task-title]").unwrap();
    assert!(
        titles.len() >= 3 && titles.iter().all(|t| t == "Build the docs"),
        "{titles:?}"
    );
    let marks: Vec<(String, Vec<String>)> = rows
        .iter()
        .map(|row| {
            let id = ui.attribute(row, "data-id").unwrap().unwrap();
            let marks = ui
                .texts(&format!(
                    "[data-testid=run-row][data-id='{id}'] [data-testid=run-mark]"
                ))
                .unwrap();
            (id, marks)
        })
        .collect();
    let of = |id: &str| marks.iter().find(|(i, _)| i == id).map(|(_, m)| m.clone());
    assert_eq!(of(&first.id), Some(vec![]), "started by hand: no mark");
    assert_eq!(of(&retry.id), Some(vec!["retry".to_string()]));
    assert!(
        marks.iter().any(|(_, m)| m == &["scheduled".to_string()]),
        "{marks:?}"
    );

    // The retry's page: its task by title, its parent by attempt.
    click(
        ui,
        &format!(
            "[data-testid=run-row][data-id='{}'] [data-testid=run-what]",
            retry.id
        ),
    );
    let task = poll::until("the task's title", WAIT, || {
        Ok(ui
            .texts("[data-testid=run-task]")?
            .into_iter()
            .find(|t| !t.is_empty() && t != &retry.task_id.clone().unwrap_or_default()))
    });
    assert_eq!(task, "Build the docs");
    assert_eq!(
        ui.texts("[data-testid=run-retry-of]").unwrap(),
        ["attempt 1"]
    );
    // The log: the run's output and status, not the runner's process record; times on ask.
    poll::until("the log", WAIT, || {
        Ok(ui
            .texts("[data-testid=log-line][data-kind=stdout]")?
            .iter()
            .any(|t| t == "again")
            .then_some(()))
    });
    assert!(
        ui.find_all("[data-testid=log-line][data-kind=process]")
            .unwrap()
            .is_empty(),
        "the process record is not output"
    );
    assert!(ui.find_all("[data-testid=log-time]").unwrap().is_empty());
    click(ui, "[data-testid=run-log-times]");
    let times = poll::until("each line's time", WAIT, || {
        let times = ui.texts("[data-testid=log-time]")?;
        Ok((!times.is_empty()).then_some(times))
    });
    let shape = |t: &str| {
        let b = t.trim().as_bytes();
        b.len() == 12 && b[2] == b':' && b[5] == b':' && b[8] == b'.'
    };
    assert!(times.iter().all(|t| shape(t)), "HH:MM:SS.mmm: {times:?}");
}
