//! The real desktop app, end to end: its window opens on the workspace database, shows
//! tasks from the engine, creates tasks through it, and shows a bad title beside the field.

use std::time::Duration;

use flightdeck_core::{tasks, Store};
use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_types::{NewTask, TaskFilter};

// The Workflows view (its own file, to keep this one short; the same test binary).
#[path = "app/desktop.rs"]
mod desktop;
#[path = "app/environment_delete.rs"]
mod environment_delete;
#[path = "app/environment_secrets.rs"]
mod environment_secrets;
#[path = "app/errors.rs"]
mod errors;
#[path = "app/filters.rs"]
mod filters;
#[path = "../../crates/core/tests/common/git.rs"]
mod git;
#[path = "app/insights.rs"]
mod insights;
// What other devices and processes write, on screen without a reload.
#[path = "app/layout.rs"]
mod layout;
#[path = "app/live.rs"]
mod live;
#[path = "app/runs_view.rs"]
mod runs_view;
#[path = "app/schedule_preview.rs"]
mod schedule_preview;
#[path = "app/task_actions.rs"]
mod task_actions;
#[path = "app/time_travel.rs"]
mod time_travel;
#[path = "app/transfer.rs"]
mod transfer;
#[path = "app/workflows.rs"]
mod workflows;
// A worktree run's diff and merge.
#[path = "app/worktrees.rs"]
mod worktrees;

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn the_window_opens_lists_and_creates_tasks() {
    let data = tempfile::tempdir().unwrap();
    {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        tasks::create(
            &store,
            NewTask {
                title: "Seeded through the engine".into(),
                ..Default::default()
            },
        )
        .unwrap();
    }

    let app = App::launch(data.path());
    let ui = app.session();
    assert_eq!(ui.title().unwrap(), "Flightdeck");

    poll::until("the seeded task on screen", WAIT, || {
        Ok(ui
            .texts("[data-testid=task-title]")?
            .iter()
            .any(|t| t == "Seeded through the engine")
            .then_some(()))
    });

    // Bad input: an empty title is refused beside the field and nothing is created.
    let submit = ui
        .find_all("[data-testid=new-task-submit]")
        .unwrap()
        .remove(0);
    ui.click(&submit).unwrap();
    let error = poll::until("the title error", WAIT, || {
        Ok(ui
            .texts("[data-testid=field-error-title]")?
            .into_iter()
            .next())
    });
    assert!(error.contains("must not be empty"), "{error}");

    // A real create goes through the shell into the store.
    let input = ui
        .find_all("[data-testid=new-task-title]")
        .unwrap()
        .remove(0);
    ui.type_text(&input, "Made in the window").unwrap();
    ui.click(&submit).unwrap();
    poll::until("the new task on screen", WAIT, || {
        Ok(ui
            .texts("[data-testid=task-title]")?
            .iter()
            .any(|t| t == "Made in the window")
            .then_some(()))
    });
    assert!(
        ui.find_all("[data-testid=field-error-title]")
            .unwrap()
            .is_empty(),
        "the error cleared"
    );

    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    let titles: Vec<String> = tasks::list(&store, &TaskFilter::default())
        .unwrap()
        .into_iter()
        .map(|t| t.title)
        .collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(titles.contains(&"Made in the window".to_string()));
}

fn texts_contain(ui: &flightdeck_tests::webdriver::Session, css: &str, text: &str) -> bool {
    ui.texts(css)
        .map(|texts| texts.iter().any(|t| t == text))
        .unwrap_or(false)
}

#[test]
fn a_task_created_with_a_status_shows_in_that_board_column() {
    let data = tempfile::tempdir().unwrap();
    let app = App::launch(data.path());
    let ui = app.session();
    poll::until("the empty board", WAIT, || {
        Ok((!ui.find_all("[data-testid=tasks-empty]")?.is_empty()).then_some(()))
    });

    let option = ui
        .find("[data-testid=new-task-status] option[value=in_progress]")
        .unwrap();
    ui.click(&option).unwrap();
    let input = ui.find("[data-testid=new-task-title]").unwrap();
    ui.type_text(&input, "Wire the board").unwrap();
    ui.click(&ui.find("[data-testid=new-task-submit]").unwrap())
        .unwrap();

    let column = "[data-testid=board-column][data-status=in_progress] [data-testid=task-title]";
    poll::until("the task in the in-progress column", WAIT, || {
        Ok(texts_contain(ui, column, "Wire the board").then_some(()))
    });
    let todo = "[data-testid=board-column][data-status=todo] [data-testid=task-title]";
    assert!(!texts_contain(ui, todo, "Wire the board"));

    // The list layout shows the same task.
    ui.click(&ui.find("[data-testid=layout-list]").unwrap())
        .unwrap();
    poll::until("the task in the list", WAIT, || {
        Ok(texts_contain(
            ui,
            "[data-testid=task-row] [data-testid=task-title]",
            "Wire the board",
        )
        .then_some(()))
    });

    // The quick-add keeps its status: the next task goes in the same column (issue 21, 10).
    let status = ui.find("[data-testid=new-task-status]").unwrap();
    assert_eq!(
        ui.property(&status, "value").unwrap().as_deref(),
        Some("in_progress")
    );
    ui.type_text(&input, "Wire the list too").unwrap();
    ui.click(&ui.find("[data-testid=new-task-submit]").unwrap())
        .unwrap();
    poll::until("the second task", WAIT, || {
        Ok(texts_contain(
            ui,
            "[data-testid=task-row] [data-testid=task-title]",
            "Wire the list too",
        )
        .then_some(()))
    });
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    let second = tasks::list(&store, &TaskFilter::default())
        .unwrap()
        .into_iter()
        .find(|t| t.title == "Wire the list too")
        .unwrap();
    assert_eq!(second.status, flightdeck_types::TaskStatus::InProgress);

    // The list layout survives opening a task and coming back.
    ui.click(
        &ui.find("[data-testid=task-row] [data-testid=task-title]")
            .unwrap(),
    )
    .unwrap();
    poll::until("the task's page", WAIT, || {
        Ok((!ui.find_all("[data-testid=task-detail]")?.is_empty()).then_some(()))
    });
    ui.click(&ui.find("[data-testid=nav-tasks]").unwrap())
        .unwrap();
    poll::until("the list again", WAIT, || {
        Ok((!ui.find_all("[data-testid=task-row]")?.is_empty()).then_some(()))
    });
    assert!(ui.find_all("[data-testid=board]").unwrap().is_empty());

    // Esc in the search clears it and leaves it.
    let search = ui.find("[data-testid=task-search]").unwrap();
    ui.type_text(&search, "Wire the list").unwrap();
    poll::until("the search narrows the list", WAIT, || {
        Ok((ui.find_all("[data-testid=task-row]")?.len() == 1).then_some(()))
    });
    ui.type_text(&search, "\u{E00C}").unwrap();
    poll::until("the search cleared", WAIT, || {
        Ok((ui.property(&search, "value")?.as_deref() == Some("")
            && ui.find_all("[data-testid=task-row]")?.len() == 2)
            .then_some(()))
    });
    let focused = ui.find("[data-testid=task-search]:focus").ok();
    assert!(focused.is_none(), "the search was left");
}

#[test]
fn a_bad_environment_name_is_shown_beside_the_field() {
    let data = tempfile::tempdir().unwrap();
    let app = App::launch(data.path());
    let ui = app.session();
    ui.click(&ui.find("[data-testid=nav-environments]").unwrap())
        .unwrap();
    let name = poll::until("the environment form", WAIT, || {
        Ok(ui
            .find_all("[data-testid=new-env-name]")?
            .into_iter()
            .next())
    });
    ui.type_text(&name, "web/api").unwrap();
    ui.click(&ui.find("[data-testid=new-env-submit]").unwrap())
        .unwrap();
    // The engine's verdict, beside the name field.
    let error = poll::until("the name error", WAIT, || {
        Ok(ui
            .texts("[data-testid=new-env-form] [data-testid=field-error-name]")?
            .into_iter()
            .next())
    });
    assert!(error.contains("contains `/`"), "{error}");
    assert!(ui
        .find_all("[data-testid=field-error-working_dir]")
        .unwrap()
        .is_empty());

    // Fixed, it is created and listed.
    ui.clear(&name).unwrap();
    ui.type_text(&name, "web-api").unwrap();
    ui.click(&ui.find("[data-testid=new-env-submit]").unwrap())
        .unwrap();
    poll::until("the environment listed", WAIT, || {
        Ok(texts_contain(ui, "[data-testid=env-name]", "web-api").then_some(()))
    });
}

fn first_text(
    ui: &flightdeck_tests::webdriver::Session,
    css: &str,
) -> Result<Option<String>, String> {
    Ok(ui.texts(css)?.into_iter().next())
}

fn log_has(ui: &flightdeck_tests::webdriver::Session, line: &str) -> Result<bool, String> {
    Ok(ui
        .texts("[data-testid=run-log] [data-testid=log-line][data-kind=stdout]")?
        .iter()
        .any(|t| t == line))
}

fn shown_status(ui: &flightdeck_tests::webdriver::Session) -> Result<Option<String>, String> {
    match ui.find_all("[data-testid=run-detail-status]")?.first() {
        Some(badge) => ui.attribute(badge, "data-status"),
        None => Ok(None),
    }
}

#[test]
fn a_shell_run_started_in_the_app_streams_its_log_while_it_runs() {
    use flightdeck_core::runs;
    use flightdeck_types::{ExecutionFilter, ExecutionStatus};

    let data = tempfile::tempdir().unwrap();
    let gate = data.path().join("release-the-run");
    let task_id = {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        tasks::create(
            &store,
            NewTask {
                title: "Stream a log".into(),
                ..Default::default()
            },
        )
        .unwrap()
        .id
    };

    let app = App::launch(data.path());
    let ui = app.session();
    let card = poll::until("the task card", WAIT, || {
        Ok(ui.find_all("[data-testid=task-card]")?.into_iter().next())
    });
    ui.click(&card).unwrap();
    let shell = poll::until("the start-run form", WAIT, || {
        Ok(ui
            .find_all("[data-testid=start-run-shell]")?
            .into_iter()
            .next())
    });

    // Nothing to run (no command, and the task has no environment): said beside the field.
    ui.click(&ui.find("[data-testid=start-run-submit]").unwrap())
        .unwrap();
    let error = poll::until("the command error", WAIT, || {
        first_text(ui, "[data-testid=field-error-shell]")
    });
    assert!(error.contains("give a shell command"), "{error}");

    // A run that prints, waits for the test to release it, then prints again.
    let line = format!(
        "echo 'first line'; while [ ! -e '{}' ]; do sleep 0.05; done; echo 'second line'",
        gate.display()
    );
    ui.type_text(&shell, &line).unwrap();
    ui.click(&ui.find("[data-testid=start-run-submit]").unwrap())
        .unwrap();

    // The app opens the new run; its first line arrives while it still runs.
    poll::until("the first log line", WAIT, || {
        Ok(log_has(ui, "first line")?.then_some(()))
    });
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    let filter = ExecutionFilter {
        task_id: Some(task_id.clone()),
        ..Default::default()
    };
    let found = runs::list(&store, &filter).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let run = &found[0];
    assert_eq!(run.status, ExecutionStatus::Running, "{run:?}");
    assert!(!gate.exists());
    assert!(!log_has(ui, "second line").unwrap());
    poll::until("the run shown as running", WAIT, || {
        Ok((shown_status(ui)?.as_deref() == Some("running")).then_some(()))
    });
    // While it runs, "Took" ticks.
    let took = first_text(ui, "[data-testid=run-took]")
        .unwrap()
        .unwrap_or_default();
    poll::until("the elapsed time to move on", WAIT, || {
        let now = first_text(ui, "[data-testid=run-took]")?.unwrap_or_default();
        Ok((!now.is_empty() && now != took).then_some(()))
    });

    // Released, it prints its second line and ends.
    std::fs::write(&gate, b"go").unwrap();
    poll::until("the second log line", WAIT, || {
        Ok(log_has(ui, "second line")?.then_some(()))
    });
    poll::until("the run shown as succeeded", WAIT, || {
        Ok((shown_status(ui)?.as_deref() == Some("succeeded")).then_some(()))
    });
    let done = runs::get(&store, &run.id).unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    // The run's end is also told in a toast (a background event, as the desktop notification).
    let told = poll::until("the run's toast", WAIT, || {
        Ok(ui
            .texts("[data-testid=toast-text]")?
            .into_iter()
            .find(|t| t.starts_with("Run succeeded")))
    });
    assert!(told.contains("Stream a log"), "{told}");
    let lines = ui
        .texts("[data-testid=run-log] [data-testid=log-line][data-kind=stdout]")
        .unwrap();
    assert_eq!(
        lines,
        ["first line", "second line"],
        "each line once, in order"
    );
}

#[test]
fn the_schedule_form_previews_fire_times_and_shows_a_bad_cron_beside_the_field() {
    use flightdeck_core::schedules;

    let data = tempfile::tempdir().unwrap();
    let app = App::launch(data.path());
    let ui = app.session();
    ui.click(&ui.find("[data-testid=nav-schedules]").unwrap())
        .unwrap();
    poll::until("the empty schedule list", WAIT, || {
        Ok((!ui.find_all("[data-testid=schedules-empty]")?.is_empty()).then_some(()))
    });
    // The default timetable previews five fire times.
    poll::until("five fire times", WAIT, || {
        Ok((ui.find_all("[data-testid=fire-time]")?.len() == 5).then_some(()))
    });

    let cron = ui.find("[data-testid=schedule-cron]").unwrap();
    ui.clear(&cron).unwrap();
    ui.type_text(&cron, "0 25 * * *").unwrap();
    let error = poll::until("the cron error", WAIT, || {
        first_text(ui, "[data-testid=field-error-cron_expr]")
    });
    assert!(error.contains("hours field `25`"), "{error}");
    assert!(
        !error.contains("cron_expr"),
        "the error names what the person typed, not the internal field: {error}"
    );
    assert!(ui.find_all("[data-testid=fire-time]").unwrap().is_empty());

    // A preset fixes it; the schedule is added and listed.
    let presets = ui.find_all("[data-testid=cron-preset]").unwrap();
    ui.click(&presets[2]).unwrap(); // nightly at 02:00
    poll::until("the error gone and five fire times", WAIT, || {
        Ok((ui
            .find_all("[data-testid=field-error-cron_expr]")?
            .is_empty()
            && ui.find_all("[data-testid=fire-time]")?.len() == 5)
            .then_some(()))
    });
    // Each fire time names its weekday: `Mon 2026-12-07 02:00`.
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let times = ui.texts("[data-testid=fire-time]").unwrap();
    for time in &times {
        let (day, rest) = time.split_once(' ').unwrap_or(("", ""));
        assert!(DAYS.contains(&day), "no weekday in {time:?}");
        assert!(
            rest.ends_with(" 02:00") && rest.len() == "2026-12-07 02:00".len(),
            "{time:?}"
        );
    }
    let days: std::collections::BTreeSet<&str> =
        times.iter().filter_map(|t| t.split(' ').next()).collect();
    assert_eq!(days.len(), 5, "five nights, five weekdays: {times:?}");
    let name = ui.find("[data-testid=schedule-name-input]").unwrap();
    ui.type_text(&name, "Nightly build").unwrap();
    ui.click(&ui.find("[data-testid=schedule-submit]").unwrap())
        .unwrap();
    let error = poll::until("the missing-command error", WAIT, || {
        first_text(ui, "[data-testid=field-error-shell]")
    });
    assert!(error.contains("shell command"), "{error}");
    let shell = ui.find("[data-testid=schedule-shell]").unwrap();
    ui.type_text(&shell, "make build").unwrap();
    ui.click(&ui.find("[data-testid=schedule-submit]").unwrap())
        .unwrap();
    poll::until("the schedule listed", WAIT, || {
        Ok(texts_contain(ui, "[data-testid=schedule-name]", "Nightly build").then_some(()))
    });

    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    let saved = schedules::list(&store).unwrap();
    assert_eq!(saved.len(), 1);
    assert!(saved[0].enabled);
    assert_eq!(saved[0].cron_expr.as_deref(), Some("0 0 2 * * *"));

    // Pause, then resume, from the list: the row and the store follow.
    let enabled_shown = || -> Result<Option<String>, String> {
        match ui.find_all("[data-testid=schedule-row]")?.first() {
            Some(row) => ui.attribute(row, "data-enabled"),
            None => Ok(None),
        }
    };
    for (label, want) in [("Pause", false), ("Resume", true)] {
        let toggle = ui.find("[data-testid=schedule-toggle]").unwrap();
        assert_eq!(ui.text(&toggle).unwrap(), label);
        ui.click(&toggle).unwrap();
        poll::until(label, WAIT, || {
            Ok((enabled_shown()?.as_deref() == Some(want.to_string().as_str())).then_some(()))
        });
        assert_eq!(schedules::list(&store).unwrap()[0].enabled, want);
        let next = first_text(ui, "[data-testid=schedule-next]").unwrap();
        assert_eq!(next.as_deref() == Some("paused"), !want, "{next:?}");
    }

    // Delete… asks first (issue 21, item 9: destructive actions ask); Cancel keeps it.
    ui.click(&ui.find("[data-testid=schedule-delete]").unwrap())
        .unwrap();
    let question = poll::until("the question", WAIT, || {
        first_text(ui, "[data-testid=confirm-schedule-delete-prompt]")
    });
    assert!(question.contains("Nightly build"), "{question}");
    ui.click(&ui.find("[data-testid=cancel-schedule-delete]").unwrap())
        .unwrap();
    assert_eq!(schedules::list(&store).unwrap().len(), 1);
    ui.click(&ui.find("[data-testid=schedule-delete]").unwrap())
        .unwrap();
    ui.click(&ui.find("[data-testid=confirm-schedule-delete]").unwrap())
        .unwrap();
    poll::until("the schedule deleted", WAIT, || {
        Ok(schedules::list(&store)
            .map_err(|e| e.to_string())?
            .is_empty()
            .then_some(()))
    });
}
