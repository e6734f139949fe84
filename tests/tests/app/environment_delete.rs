//! An environment deleted from the app (issue 21, item 9): asked first, refused while a task
//! uses it until "Delete anyway", and gone from the engine each time it says so.

use flightdeck_core::{environments, tasks, Store};
use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_types::{NewEnvironment, NewTask};

use super::WAIT;

fn names(data: &std::path::Path) -> Result<Vec<String>, String> {
    let store = Store::open_workspace(Some(data), "default").map_err(|e| e.to_string())?;
    let list = environments::list(&store).map_err(|e| e.to_string())?;
    Ok(list.into_iter().map(|e| e.name).collect())
}

/// Opens the editor of the environment named `name` and asks to delete it.
fn ask_to_delete(ui: &flightdeck_tests::webdriver::Session, name: &str) {
    let row = poll::until("the environment's row", WAIT, || {
        for row in ui.find_all("[data-testid=env-row]")? {
            if ui.text(&row)?.contains(name) {
                return Ok(Some(row));
            }
        }
        Ok(None)
    });
    ui.click(&row).unwrap();
    let delete = poll::until("its Delete button", WAIT, || {
        Ok(ui.find_all("[data-testid=delete-env]")?.into_iter().next())
    });
    ui.click(&delete).unwrap();
}

#[test]
fn an_environment_is_deleted_after_asking_and_one_in_use_only_when_forced() {
    let data = tempfile::tempdir().unwrap();
    let task = {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        for name in ["scratch", "backend"] {
            let input = NewEnvironment {
                name: name.into(),
                ..NewEnvironment::default()
            };
            environments::create(&store, input).unwrap();
        }
        tasks::create(
            &store,
            NewTask {
                title: "Uses the backend".into(),
                environment: Some("backend".into()),
                ..Default::default()
            },
        )
        .unwrap()
    };
    let app = App::launch(data.path());
    let ui = app.session();
    ui.click(&ui.find("[data-testid=nav-environments]").unwrap())
        .unwrap();

    // Asked first; Cancel keeps it.
    ask_to_delete(ui, "scratch");
    let prompt = poll::until("the confirmation", WAIT, || {
        Ok(ui
            .texts("[data-testid=confirm-env-delete-prompt]")?
            .into_iter()
            .next())
    });
    assert!(prompt.contains("scratch"), "{prompt}");
    ui.click(&ui.find("[data-testid=cancel-env-delete]").unwrap())
        .unwrap();
    poll::until("the prompt gone", WAIT, || {
        Ok(ui
            .find_all("[data-testid=confirm-env-delete-prompt]")?
            .is_empty()
            .then_some(()))
    });
    assert_eq!(names(data.path()).unwrap().len(), 2);

    // Confirmed: gone from the engine and the list.
    ui.click(&ui.find("[data-testid=delete-env]").unwrap())
        .unwrap();
    ui.click(&ui.find("[data-testid=confirm-env-delete]").unwrap())
        .unwrap();
    poll::until("scratch deleted", WAIT, || {
        let listed = ui.texts("[data-testid=env-name]")?;
        Ok((names(data.path())? == vec!["backend".to_string()]
            && !listed.iter().any(|n| n == "scratch"))
        .then_some(()))
    });

    // In use: refused with the reason, then deleted when forced; the task loses it.
    ask_to_delete(ui, "backend");
    ui.click(&ui.find("[data-testid=confirm-env-delete]").unwrap())
        .unwrap();
    let error = poll::until("the refusal", WAIT, || {
        Ok(ui
            .texts("[data-testid=env-delete-error]")?
            .into_iter()
            .next())
    });
    assert!(error.contains("used by 1 task"), "{error}");
    assert_eq!(names(data.path()).unwrap(), vec!["backend".to_string()]);
    ui.click(&ui.find("[data-testid=force-env-delete]").unwrap())
        .unwrap();
    poll::until("backend deleted", WAIT, || {
        Ok(names(data.path())?.is_empty().then_some(()))
    });
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    assert_eq!(tasks::get(&store, &task.id).unwrap().environment_id, None);
}
