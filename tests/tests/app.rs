//! The real desktop app, end to end: its window opens on the workspace database, shows
//! tasks from the engine, creates tasks through it, and shows a bad title beside the field.

use std::time::Duration;

use flightdeck_core::{tasks, Store};
use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_types::{NewTask, TaskFilter};

// The Workflows view (its own file, to keep this one short; the same test binary).
#[path = "../../crates/core/tests/common/git.rs"]
mod git;
#[path = "app/insights.rs"]
mod insights;
#[path = "app/runs_view.rs"]
mod runs_view;
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

#[test]
fn a_change_on_another_device_appears_without_a_reload() {
    use flightdeck_core::sync::account;
    use flightdeck_tests::sync_rig::{keyring, server_binary, Device, Server};

    let rt = flightdeck_tests::runtime();
    let server = rt.block_on(Server::start(server_binary("debug")));
    let data = tempfile::tempdir().unwrap();
    // The app's own workspace database joins the server as a device before the app opens it.
    {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        let joined = rt
            .block_on(account::join(
                &store,
                &keyring(),
                &server.url,
                &server.join_token,
            ))
            .unwrap();
        assert!(joined.keyring_error.is_none(), "{:?}", joined.keyring_error);
    }
    let other = rt.block_on(Device::join(&server, &server.join_token));

    let app = App::launch(data.path());
    let ui = app.session();
    poll::until("the app to report online", WAIT, || {
        Ok(ui
            .texts("[data-testid=sync-indicator]")?
            .into_iter()
            .any(|t| t.starts_with("Online"))
            .then_some(()))
    });

    tasks::create(
        &other.store,
        NewTask {
            title: "Made on the laptop".into(),
            ..Default::default()
        },
    )
    .unwrap();
    rt.block_on(other.sync());
    poll::until("the other device's task on screen", WAIT, || {
        Ok(texts_contain(ui, "[data-testid=task-title]", "Made on the laptop").then_some(()))
    });

    // The Sync view lists the other device as not trusted; its Trust button trusts it.
    ui.click(&ui.find("[data-testid=sync-indicator]").unwrap())
        .unwrap();
    let other_site = other.store.device_id().to_string();
    let row = format!("[data-testid=device-row][data-site='{other_site}']");
    let listed = poll::until("the other device listed", WAIT, || {
        Ok(ui.find_all(&row)?.into_iter().next())
    });
    assert_eq!(
        ui.attribute(&listed, "data-trusted").unwrap().as_deref(),
        Some("false")
    );
    ui.click(
        &ui.find(&format!("{row} [data-testid=device-trust]"))
            .unwrap(),
    )
    .unwrap();
    poll::until("the device shown trusted", WAIT, || {
        let trusted = ui.find_all(&format!("{row}[data-trusted=true]"))?;
        Ok((!trusted.is_empty()).then_some(()))
    });
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    let devices = flightdeck_core::trust::list(&store).unwrap();
    assert!(
        devices.iter().any(|d| d.site_id == other_site && d.trusted),
        "{devices:?}"
    );

    // Sync now: a round on the spot, and what it did; the last sync in local time, as every
    // other time in the app (issue 21, item 10).
    ui.click(&ui.find("[data-testid=sync-now]").unwrap())
        .unwrap();
    let said = poll::until("the round's result", WAIT, || {
        Ok(ui
            .texts("[data-testid=sync-now-result]")?
            .into_iter()
            .next())
    });
    assert!(
        said.starts_with("Pushed ") && said.ends_with("conflicts."),
        "{said}"
    );
    let last = first_text(ui, "[data-testid=sync-last]").unwrap().unwrap();
    let b = last.as_bytes();
    assert!(
        b.len() == 19 && b[4] == b'-' && b[10] == b' ' && b[13] == b':' && !last.contains('Z'),
        "YYYY-MM-DD HH:MM:SS, local: {last}"
    );
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
}

#[test]
fn a_failed_run_shows_in_errors_where_it_is_escalated_and_resolved() {
    use flightdeck_core::{recovery, runs};
    use flightdeck_types::{ErrorFilter, ExecutionSpec, NewExecution, RecoveryStatus, ShellSpec};

    let data = tempfile::tempdir().unwrap();
    {
        // Queued before the app starts: the app's worker runs it, and it fails.
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        let task = tasks::create(
            &store,
            NewTask {
                title: "Nightly import".into(),
                ..Default::default()
            },
        )
        .unwrap();
        runs::queue(
            &store,
            NewExecution {
                task_id: Some(task.id),
                spec: Some(ExecutionSpec::Shell(ShellSpec {
                    line: Some("echo broken >&2; exit 3".into()),
                    ..Default::default()
                })),
                ..Default::default()
            },
        )
        .unwrap();
    }
    let app = App::launch(data.path());
    let ui = app.session();
    poll::until("the app to run the work", WAIT, || {
        Ok(texts_contain(ui, "[data-testid=worker-state]", "Runner: this app").then_some(()))
    });
    ui.click(&ui.find("[data-testid=nav-errors]").unwrap())
        .unwrap();
    let status_of_row = || -> Result<Option<String>, String> {
        match ui.find_all("[data-testid=error-row]")?.first() {
            Some(row) => ui.attribute(row, "data-status"),
            None => Ok(None),
        }
    };
    poll::until("the error of the failed run", WAIT, || {
        Ok((status_of_row()?.as_deref() == Some("new")).then_some(()))
    });
    let message = first_text(ui, "[data-testid=error-message]")
        .unwrap()
        .unwrap();
    assert_eq!(message, "shell run failed with exit code 3", "said once");
    assert_eq!(
        first_text(ui, "[data-testid=error-task]")
            .unwrap()
            .as_deref(),
        Some("Nightly import"),
        "the row names its task"
    );
    poll::until("the sidebar's count of open errors", WAIT, || {
        Ok(
            (first_text(ui, "[data-testid=nav-errors-count]")?.as_deref() == Some("1"))
                .then_some(()),
        )
    });

    ui.click(&ui.find("[data-testid=error-escalate]").unwrap())
        .unwrap();
    poll::until("the error escalated", WAIT, || {
        Ok((status_of_row()?.as_deref() == Some("escalated")).then_some(()))
    });
    ui.click(&ui.find("[data-testid=error-resolve]").unwrap())
        .unwrap();
    poll::until("the error resolved", WAIT, || {
        Ok((status_of_row()?.as_deref() == Some("resolved")).then_some(()))
    });
    poll::until("no count once nothing is open", WAIT, || {
        Ok(ui
            .find_all("[data-testid=nav-errors-count]")?
            .is_empty()
            .then_some(()))
    });
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    let records = recovery::list(&store, &ErrorFilter::default()).unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].recovery_status, RecoveryStatus::Resolved);

    // Its run, one click away: failed, with the exit code and its stderr line.
    ui.click(&ui.find("[data-testid=error-run]").unwrap())
        .unwrap();
    poll::until("the failed run", WAIT, || {
        Ok((shown_status(ui)?.as_deref() == Some("failed")).then_some(()))
    });
    assert_eq!(
        first_text(ui, "[data-testid=run-exit-code]")
            .unwrap()
            .as_deref(),
        Some("3")
    );
    poll::until("its stderr line", WAIT, || {
        Ok(texts_contain(ui, "[data-testid=log-line][data-kind=stderr]", "broken").then_some(()))
    });

    // Retry by hand: the row links to the new run (attempt 2), which opens.
    ui.click(&ui.find("[data-testid=nav-errors]").unwrap())
        .unwrap();
    let retry = poll::until("the Retry button", WAIT, || {
        Ok(ui.find_all("[data-testid=error-retry]")?.into_iter().next())
    });
    ui.click(&retry).unwrap();
    let link = poll::until("the link to the retry", WAIT, || {
        Ok(ui
            .find_all("[data-testid=error-retry-run]")?
            .into_iter()
            .next())
    });
    ui.click(&link).unwrap();
    poll::until("the retry's page", WAIT, || {
        Ok(first_text(ui, "[data-testid=run-attempt]")?
            .filter(|t| t.starts_with("2 of"))
            .map(|_| ()))
    });
}

#[test]
fn what_another_process_writes_shows_without_a_reload() {
    use flightdeck_core::runs;
    use flightdeck_types::{ExecutionSpec, NewExecution, ShellSpec};

    let data = tempfile::tempdir().unwrap();
    let app = App::launch(data.path());
    let ui = app.session();
    poll::until("the empty board", WAIT, || {
        Ok((!ui.find_all("[data-testid=task-search]")?.is_empty()).then_some(()))
    });
    // This test process is "another process": its own connection to the workspace database,
    // as `flightdeck daemon` or the CLI has. The app hears of its commits only through the
    // database itself.
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    tasks::create(
        &store,
        NewTask {
            title: "Written by the CLI".into(),
            ..Default::default()
        },
    )
    .unwrap();
    poll::until("the other process's task on the board", WAIT, || {
        Ok(texts_contain(ui, "[data-testid=task-title]", "Written by the CLI").then_some(()))
    });

    ui.click(&ui.find("[data-testid=nav-runs]").unwrap())
        .unwrap();
    // Queued for a device that is not this app's, so only the list shows it.
    let run = runs::queue(
        &store,
        NewExecution {
            spec: Some(ExecutionSpec::Shell(ShellSpec {
                line: Some("echo from elsewhere".into()),
                ..Default::default()
            })),
            device_id: Some("0".repeat(32)),
            ..Default::default()
        },
    )
    .unwrap();
    let row = poll::until("the other process's run listed", WAIT, || {
        Ok(ui
            .find_all(&format!("[data-testid=run-row][data-id='{}']", run.id))?
            .into_iter()
            .next())
    });
    assert_eq!(
        ui.attribute(&row, "data-status").unwrap().as_deref(),
        Some("queued")
    );
}
