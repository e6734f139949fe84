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
