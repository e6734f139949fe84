//! The app as a desktop app (issue 21): the command palette (Ctrl+K) jumps to views and
//! records and runs the common actions, `?` lists the shortcuts, `g` then a letter and `n`
//! work in every view, board cards show their environment and last run, and a card dragged
//! to another column changes the task's status with a toast whose Undo (or Ctrl+Z) takes it
//! back.

use flightdeck_core::{environments, memory, runs, schedules, tasks, Store};
use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_tests::webdriver::Session;
use flightdeck_types::{
    ExecutionSpec, NewEnvironment, NewExecution, NewMemory, NewTask, ShellSpec, TaskStatus,
};

use super::{first_text, WAIT};

const CONTROL: &str = "\u{E009}";
const ESCAPE: &str = "\u{E00C}";
const ENTER: &str = "\u{E007}";
const STAGING: &str = "The staging database resets every night at 02:00 UTC";

/// The `data-testid` of the focused element.
fn focused(ui: &Session) -> String {
    ui.execute(
        "return document.activeElement && document.activeElement.getAttribute('data-testid');",
    )
    .unwrap()
    .as_str()
    .unwrap_or_default()
    .to_string()
}

fn shown(ui: &Session, css: &str) -> bool {
    !ui.find_all(css).unwrap().is_empty()
}

fn wait_for(ui: &Session, css: &str) {
    poll::until(css, WAIT, || Ok(shown(ui, css).then_some(())));
}

/// Ctrl+K, `text` typed into the palette, then Enter: the first entry.
fn palette(ui: &Session, text: &str) {
    ui.press(&[CONTROL, "k"]).unwrap();
    let input = poll::until("the palette", WAIT, || {
        Ok(ui
            .find_all("[data-testid=palette-input]")?
            .into_iter()
            .next())
    });
    ui.type_text(&input, text).unwrap();
    poll::until("an entry for the text", WAIT, || {
        Ok(shown(ui, "[data-testid=palette-entry]").then_some(()))
    });
    ui.press(&[ENTER]).unwrap();
    poll::until("the palette closed", WAIT, || {
        Ok((!shown(ui, "[data-testid=palette]")).then_some(()))
    });
}

/// Drags the card of `task_id` onto the column of `status` (the events a drag makes; WebDriver
/// has no HTML drag and drop of its own).
fn drag(ui: &Session, task_id: &str, status: &str) {
    let script = format!(
        "const card = document.querySelector(\"[data-testid=task-card][data-id='{task_id}']\");
         const column = document.querySelector('[data-testid=board-column][data-status={status}]');
         const data = new DataTransfer();
         const fire = (target, type) => target.dispatchEvent(new DragEvent(type,
             {{ bubbles: true, cancelable: true, dataTransfer: data }}));
         fire(card, 'dragstart'); fire(column, 'dragover'); fire(column, 'drop'); fire(card, 'dragend');
         return true;"
    );
    ui.execute(&script).unwrap();
}

fn status_of(data: &std::path::Path, id: &str) -> Result<TaskStatus, String> {
    let store = Store::open_workspace(Some(data), "default").map_err(|e| e.to_string())?;
    Ok(tasks::get(&store, id).map_err(|e| e.to_string())?.status)
}

#[test]
fn the_palette_shortcuts_and_dragging_cards_work_in_every_view() {
    let data = tempfile::tempdir().unwrap();
    let task = {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        let env = NewEnvironment {
            name: "backend".into(),
            ..Default::default()
        };
        environments::create(&store, env).unwrap();
        let task = tasks::create(
            &store,
            NewTask {
                title: "Fix the flaky login test".into(),
                environment: Some("backend".into()),
                ..Default::default()
            },
        )
        .unwrap();
        runs::queue(
            &store,
            NewExecution {
                task_id: Some(task.id.clone()),
                spec: Some(ExecutionSpec::Shell(ShellSpec {
                    line: Some("echo fine".into()),
                    ..Default::default()
                })),
                ..Default::default()
            },
        )
        .unwrap();
        let note = NewMemory {
            content: STAGING.into(),
            ..Default::default()
        };
        memory::add(&store, None, note).unwrap();
        let schedule = serde_json::json!({
            "name": "nightly audit",
            "kind": "cron",
            "cron_expr": "0 2 * * *",
            "spec": { "executor": "shell", "line": "echo audit" },
        });
        schedules::add(&store, serde_json::from_value(schedule).unwrap()).unwrap();
        task
    };
    let app = App::launch(data.path());
    let ui = app.session();

    // The card names its environment and, once the run ended, its last run's status.
    let card = format!("[data-testid=task-card][data-id='{}']", task.id);
    poll::until("the card's environment and run", WAIT, || {
        let env = first_text(ui, &format!("{card} [data-testid=card-env]"))?;
        let run = first_text(ui, &format!("{card} [data-testid=card-run]"))?;
        Ok(
            (env.as_deref() == Some("backend") && run.as_deref() == Some("succeeded"))
                .then_some(()),
        )
    });

    // The palette: a view, a task, an action that focuses a field, a memory.
    palette(ui, "go to sched");
    wait_for(ui, "[data-testid=schedules]");
    palette(ui, "flaky login");
    wait_for(ui, "[data-testid=task-detail]");
    palette(ui, "start a run of flaky");
    poll::until("the run's command field focused", WAIT, || {
        Ok((focused(ui) == "start-run-shell").then_some(()))
    });
    palette(ui, "new task");
    poll::until("the new task's title focused", WAIT, || {
        Ok((focused(ui) == "new-task-title").then_some(()))
    });
    // An environment opens in its editor; a schedule is shown, marked, in its list.
    palette(ui, "backend");
    poll::until("the environment's editor", WAIT, || {
        let name = ui.find_all("[data-testid=edit-env-name]")?;
        let value = match name.first() {
            Some(input) => ui.property(input, "value")?,
            None => None,
        };
        Ok((value.as_deref() == Some("backend")).then_some(()))
    });
    palette(ui, "nightly audit");
    wait_for(ui, "[data-testid=schedule-row].found");
    ui.press(&[ESCAPE]).unwrap();
    palette(ui, "staging database");
    wait_for(ui, "[data-testid=memory]");
    poll::until("the memory searched for", WAIT, || {
        let search = ui.find("[data-testid=memory-search]")?;
        let value = ui.property(&search, "value")?.unwrap_or_default();
        let rows = ui.texts("[data-testid=memory-content]")?;
        Ok((value == STAGING && rows.first().map(String::as_str) == Some(STAGING)).then_some(()))
    });
    // Esc closes an open palette without doing anything.
    ui.press(&[CONTROL, "k"]).unwrap();
    wait_for(ui, "[data-testid=palette]");
    ui.press(&[ESCAPE]).unwrap();
    poll::until("the palette closed by Esc", WAIT, || {
        Ok((!shown(ui, "[data-testid=palette]")).then_some(()))
    });
    assert!(shown(ui, "[data-testid=memory]"));

    // `?` lists the shortcuts; `g` then a letter goes to a view; `n` is the view's new item.
    ui.click(&ui.find("[data-testid=memory] h1").unwrap())
        .unwrap();
    ui.press(&["?"]).unwrap();
    wait_for(ui, "[data-testid=shortcut-help]");
    let listed = ui.texts("[data-testid=shortcut]").unwrap();
    assert!(listed.iter().any(|l| l.contains("Ctrl+K")), "{listed:?}");
    assert!(
        listed
            .iter()
            .any(|l| l.contains("g r") && l.contains("Runs")),
        "{listed:?}"
    );
    ui.press(&[ESCAPE]).unwrap();
    poll::until("the list closed", WAIT, || {
        Ok((!shown(ui, "[data-testid=shortcut-help]")).then_some(()))
    });
    ui.press(&["g"]).unwrap();
    ui.press(&["r"]).unwrap();
    wait_for(ui, "[data-testid=runs]");
    ui.press(&["g"]).unwrap();
    ui.press(&["m"]).unwrap();
    wait_for(ui, "[data-testid=memory]");
    ui.press(&["n"]).unwrap();
    poll::until("the memory's text focused", WAIT, || {
        Ok((focused(ui) == "memory-content-input").then_some(()))
    });
    ui.press(&[ESCAPE]).unwrap();
    ui.click(&ui.find("[data-testid=memory] h1").unwrap())
        .unwrap();
    ui.press(&["g"]).unwrap();
    ui.press(&["t"]).unwrap();
    wait_for(ui, &card);

    // A card dragged to Done: the task is done, a toast says so, its Undo takes it back.
    drag(ui, &task.id, "done");
    poll::until("the task done", WAIT, || {
        Ok((status_of(data.path(), &task.id)? == TaskStatus::Done).then_some(()))
    });
    let said = poll::until("the toast", WAIT, || {
        first_text(ui, "[data-testid=toast-text]")
    });
    assert!(
        said.contains("Fix the flaky login test") && said.contains("done"),
        "{said}"
    );
    ui.click(&ui.find("[data-testid=toast-undo]").unwrap())
        .unwrap();
    poll::until("the task back in todo", WAIT, || {
        Ok((status_of(data.path(), &task.id)? == TaskStatus::Todo).then_some(()))
    });
    // Dragged to Blocked, then Ctrl+Z.
    wait_for(
        ui,
        "[data-testid=board-column][data-status=todo] [data-testid=task-card]",
    );
    drag(ui, &task.id, "blocked");
    poll::until("the task blocked", WAIT, || {
        Ok((status_of(data.path(), &task.id)? == TaskStatus::Blocked).then_some(()))
    });
    wait_for(ui, "[data-testid=toast-undo]");
    ui.click(&ui.find(".view h1").unwrap()).unwrap();
    ui.press(&[CONTROL, "z"]).unwrap();
    poll::until("the task back in todo by Ctrl+Z", WAIT, || {
        Ok((status_of(data.path(), &task.id)? == TaskStatus::Todo).then_some(()))
    });

    // On the task's page, a status saved is told in a toast with Undo too.
    wait_for(
        ui,
        "[data-testid=board-column][data-status=todo] [data-testid=task-card]",
    );
    ui.click(&ui.find(&card).unwrap()).unwrap();
    let option = "[data-testid=edit-status] option[value=in_progress]";
    wait_for(ui, option);
    ui.click(&ui.find(option).unwrap()).unwrap();
    ui.click(&ui.find("[data-testid=save-task]").unwrap())
        .unwrap();
    poll::until("the task in progress", WAIT, || {
        Ok((status_of(data.path(), &task.id)? == TaskStatus::InProgress).then_some(()))
    });
    let said = poll::until("the status toast", WAIT, || {
        Ok(ui
            .texts("[data-testid=toast-text]")?
            .into_iter()
            .find(|t| t.contains("in progress")))
    });
    assert!(
        said.starts_with("Moved “Fix the flaky login test”"),
        "{said}"
    );
    let undo = ui.find_all("[data-testid=toast-undo]").unwrap();
    ui.click(undo.last().unwrap()).unwrap();
    poll::until("the task back in todo from its page", WAIT, || {
        Ok((status_of(data.path(), &task.id)? == TaskStatus::Todo).then_some(()))
    });
}
