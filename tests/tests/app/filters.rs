//! The Runs view's filters (task, environment, status, executor) and the task list's bulk
//! actions (a status for all ticked tasks, Archive, each with a toast's Undo) (issue 21).

use std::collections::BTreeSet;

use flightdeck_core::{environments, runs, tasks, Store};
use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_tests::webdriver::Session;
use flightdeck_types::{
    ExecutionFilter, ExecutionSpec, HttpSpec, NewEnvironment, NewExecution, NewTask, RetryPolicy,
    ShellSpec, Task, TaskFilter, TaskStatus,
};

use super::WAIT;

fn shell(line: &str) -> Option<ExecutionSpec> {
    Some(ExecutionSpec::Shell(ShellSpec {
        line: Some(line.into()),
        ..Default::default()
    }))
}

/// The ids of the runs listed, once every run of the workspace has ended.
fn listed(ui: &Session) -> Result<BTreeSet<String>, String> {
    ui.find_all("[data-testid=run-row]")?
        .iter()
        .map(|row| Ok(ui.attribute(row, "data-id")?.unwrap_or_default()))
        .collect()
}

fn pick(ui: &Session, select: &str, value: &str) {
    let css = format!("[data-testid={select}] option[value='{value}']");
    let option = poll::until(&css, WAIT, || Ok(ui.find_all(&css)?.into_iter().next()));
    ui.click(&option).unwrap();
}

/// Waits until the Runs view lists exactly `want`.
fn shows(ui: &Session, what: &str, want: &BTreeSet<String>) {
    poll::until(what, WAIT, || Ok((listed(ui)? == *want).then_some(())));
}

/// Ticks the rows of `tasks` in the list, each once the bar counts the one before.
fn tick(ui: &Session, tasks: &[&Task]) {
    for (n, task) in tasks.iter().enumerate() {
        let css = format!(
            "[data-testid=task-row][data-id='{}'] [data-testid=task-tick]",
            task.id
        );
        let tick = poll::until("the row's box", WAIT, || {
            Ok(ui.find_all(&css)?.into_iter().next())
        });
        ui.click(&tick).unwrap();
        let want = format!("{} selected", n + 1);
        poll::until("the bulk bar's count", WAIT, || {
            let count = ui.texts("[data-testid=bulk-count]")?;
            Ok((count.first() == Some(&want)).then_some(()))
        });
    }
}

fn all_tasks(data: &std::path::Path) -> Result<Vec<Task>, String> {
    let store = Store::open_workspace(Some(data), "default").map_err(|e| e.to_string())?;
    let filter = TaskFilter {
        include_archived: true,
        ..Default::default()
    };
    tasks::list(&store, &filter).map_err(|e| e.to_string())
}

#[test]
fn runs_filter_by_task_environment_status_and_executor_and_tasks_change_in_bulk() {
    let data = tempfile::tempdir().unwrap();
    let (store_runs, web, build, docs) = {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        for name in ["web", "docs-site"] {
            let env = NewEnvironment {
                name: name.into(),
                working_dir: Some("/tmp".into()),
                ..Default::default()
            };
            environments::create(&store, env).unwrap();
        }
        let task = |title: &str, env: Option<&str>| {
            let input = NewTask {
                title: title.into(),
                environment: env.map(str::to_string),
                ..Default::default()
            };
            tasks::create(&store, input).unwrap()
        };
        let (build, docs, spare) = (
            task("Build the site", Some("web")),
            task("Write the docs", Some("docs-site")),
            task("Tidy the backlog", None),
        );
        let queue = |task: &Task, spec| {
            // One attempt: a refused connection is not retried, so four runs stay four.
            let input = NewExecution {
                task_id: Some(task.id.clone()),
                // As a run started from its task is: in the task's environment.
                environment_id: task.environment_id.clone(),
                spec,
                retry_policy: Some(RetryPolicy {
                    max_attempts: 1,
                    ..Default::default()
                }),
                ..Default::default()
            };
            runs::queue(&store, input).unwrap().id
        };
        queue(&build, shell("echo built"));
        queue(&build, shell("exit 2"));
        queue(&docs, shell("echo written"));
        // Nothing listens there: a failed HTTP run.
        let http = ExecutionSpec::Http(HttpSpec {
            url: "http://127.0.0.1:9/".into(),
            ..Default::default()
        });
        queue(&spare, Some(http));
        let web = environments::get(&store, "web").unwrap().id;
        (store, web, build, docs)
    };
    let run_ids = |filter: ExecutionFilter| -> BTreeSet<String> {
        runs::list(&store_runs, &filter)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect()
    };
    let app = App::launch(data.path());
    let ui = app.session();
    ui.click(&ui.find("[data-testid=nav-runs]").unwrap())
        .unwrap();
    // Every run ended (the app runs them), all four listed.
    poll::until("four ended runs", WAIT, || {
        let ended = ui
            .find_all("[data-testid=run-row][data-status=succeeded]")?
            .len()
            + ui.find_all("[data-testid=run-row][data-status=failed]")?
                .len();
        Ok((ended == 4).then_some(()))
    });

    pick(ui, "filter-run-task", &build.id);
    let of_build = run_ids(ExecutionFilter {
        task_id: Some(build.id.clone()),
        ..Default::default()
    });
    assert_eq!(of_build.len(), 2);
    shows(ui, "the build's two runs", &of_build);
    pick(ui, "filter-run-status", "failed");
    let failed_build = run_ids(ExecutionFilter {
        task_id: Some(build.id.clone()),
        status: Some(flightdeck_types::ExecutionStatus::Failed),
        ..Default::default()
    });
    assert_eq!(failed_build.len(), 1);
    shows(ui, "the build's failed run", &failed_build);
    pick(ui, "filter-run-task", "");
    pick(ui, "filter-run-status", "");
    pick(ui, "filter-run-executor", "http");
    let http = run_ids(ExecutionFilter {
        executor: Some(flightdeck_types::ExecutorKind::Http),
        ..Default::default()
    });
    assert_eq!(http.len(), 1);
    shows(ui, "the HTTP run", &http);
    pick(ui, "filter-run-executor", "");
    pick(ui, "filter-run-env", &web);
    shows(ui, "the web environment's runs", &of_build);

    // Bulk: two tasks ticked in the list, moved to Done, then back by the toast's Undo.
    ui.click(&ui.find("[data-testid=nav-tasks]").unwrap())
        .unwrap();
    let list = poll::until("the List button", WAIT, || {
        Ok(ui.find_all("[data-testid=layout-list]")?.into_iter().next())
    });
    ui.click(&list).unwrap();
    tick(ui, &[&build, &docs]);
    pick(ui, "bulk-status", "done");
    let status_of = |id: &str| -> Result<(TaskStatus, bool), String> {
        let task = all_tasks(data.path())?.into_iter().find(|t| t.id == id);
        task.map(|t| (t.status, t.archived)).ok_or("gone".into())
    };
    poll::until("both done", WAIT, || {
        Ok((status_of(&build.id)?.0 == TaskStatus::Done
            && status_of(&docs.id)?.0 == TaskStatus::Done)
            .then_some(()))
    });
    let said = poll::until("the toast", WAIT, || {
        Ok(ui.texts("[data-testid=toast-text]")?.into_iter().next())
    });
    assert_eq!(said, "Moved 2 tasks to done.");
    ui.click(&ui.find("[data-testid=toast-undo]").unwrap())
        .unwrap();
    poll::until("both back in todo", WAIT, || {
        Ok((status_of(&build.id)?.0 == TaskStatus::Todo
            && status_of(&docs.id)?.0 == TaskStatus::Todo)
            .then_some(()))
    });

    // Archived in bulk: gone from the list; Undo brings both back.
    // The list shows the Undo's two writes first (a row redrawn under a click would take it).
    poll::until("both shown in todo", WAIT, || {
        let todo = ui.texts("[data-testid=task-row] .status")?;
        Ok((todo.len() == 3 && todo.iter().all(|t| t == "todo")).then_some(()))
    });
    tick(ui, &[&build, &docs]);
    ui.click(&ui.find("[data-testid=bulk-archive]").unwrap())
        .unwrap();
    poll::until("both archived and off the list", WAIT, || {
        let rows = ui.find_all("[data-testid=task-row]")?.len();
        Ok((status_of(&build.id)?.1 && status_of(&docs.id)?.1 && rows == 1).then_some(()))
    });
    let undo = poll::until("the archive's Undo", WAIT, || {
        let toasts = ui.texts("[data-testid=toast-text]")?;
        let shown = toasts.iter().any(|t| t == "Archived 2 tasks.");
        Ok(shown
            .then(|| ui.find_all("[data-testid=toast-undo]").ok())
            .flatten()
            .and_then(|u| u.into_iter().last()))
    });
    ui.click(&undo).unwrap();
    poll::until("both back", WAIT, || {
        Ok((!status_of(&build.id)?.1 && !status_of(&docs.id)?.1).then_some(()))
    });
}
