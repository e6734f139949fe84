//! The real desktop app, end to end: its window opens on the workspace database, shows
//! tasks from the engine, creates tasks through it, and shows a bad title beside the field.

use std::time::Duration;

use flightdeck_core::{tasks, Store};
use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_types::{NewTask, TaskFilter};

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
}
