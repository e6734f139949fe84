//! The Errors view in the real app: a failed run's error, named by its task, escalated,
//! resolved and retried, with the sidebar's count of open errors.

use flightdeck_core::{tasks, Store};
use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_types::NewTask;

use super::{first_text, shown_status, texts_contain, WAIT};

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
