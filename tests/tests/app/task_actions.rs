//! A task archived from its page, with Undo, and deleted after a confirmation (issue 21,
//! item 9), checked in the engine's store each time.

use flightdeck_core::{tasks, CoreError, Store};
use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_types::NewTask;

use super::WAIT;

fn archived(data: &std::path::Path, id: &str) -> Result<bool, String> {
    let store = Store::open_workspace(Some(data), "default").map_err(|e| e.to_string())?;
    Ok(tasks::get(&store, id).map_err(|e| e.to_string())?.archived)
}

#[test]
fn a_task_is_archived_with_undo_and_deleted_only_after_asking() {
    let data = tempfile::tempdir().unwrap();
    let task = {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        tasks::create(
            &store,
            NewTask {
                title: "Retire the old build".into(),
                ..Default::default()
            },
        )
        .unwrap()
    };
    let app = App::launch(data.path());
    let ui = app.session();
    let title = poll::until("the task listed", WAIT, || {
        Ok(ui.find_all("[data-testid=task-title]")?.into_iter().next())
    });
    ui.click(&title).unwrap();
    let archive = poll::until("the task's Archive button", WAIT, || {
        Ok(ui
            .find_all("[data-testid=archive-task]")?
            .into_iter()
            .next())
    });

    // Archive: the engine has it archived, the page says so and offers Undo.
    ui.click(&archive).unwrap();
    let undo = poll::until("the Undo after archiving", WAIT, || {
        Ok(ui
            .find_all("[data-testid=undo-archive]")?
            .into_iter()
            .next())
    });
    assert!(archived(data.path(), &task.id).unwrap());
    assert_eq!(
        ui.texts("[data-testid=task-archived]").unwrap(),
        vec!["Archived".to_string()]
    );
    ui.click(&undo).unwrap();
    poll::until("the task back, unarchived", WAIT, || {
        Ok((!archived(data.path(), &task.id)?
            && !ui.find_all("[data-testid=archive-task]")?.is_empty())
        .then_some(()))
    });

    // Archived again: a toast says so, and its Undo works after leaving the task's page.
    ui.click(&ui.find("[data-testid=archive-task]").unwrap())
        .unwrap();
    let said = poll::until("the toast", WAIT, || {
        Ok(ui.texts("[data-testid=toast-text]")?.into_iter().next())
    });
    assert!(
        said.contains("Archived") && said.contains("Retire the old build"),
        "{said}"
    );
    poll::until("archived", WAIT, || {
        Ok(archived(data.path(), &task.id)?.then_some(()))
    });
    ui.click(&ui.find("[data-testid=nav-tasks]").unwrap())
        .unwrap();
    ui.click(&ui.find("[data-testid=toast-undo]").unwrap())
        .unwrap();
    poll::until("unarchived by the toast", WAIT, || {
        Ok((!archived(data.path(), &task.id)?).then_some(()))
    });
    let card = format!("[data-testid=task-card][data-id='{}']", task.id);
    let card = poll::until("the task back on the board", WAIT, || {
        Ok(ui.find_all(&card)?.into_iter().next())
    });
    ui.click(&card).unwrap();
    poll::until("its page again", WAIT, || {
        Ok((!ui.find_all("[data-testid=archive-task]")?.is_empty()).then_some(()))
    });

    // Delete asks first; Cancel keeps the task.
    ui.click(&ui.find("[data-testid=delete-task]").unwrap())
        .unwrap();
    let prompt = poll::until("the confirmation", WAIT, || {
        Ok(ui
            .texts("[data-testid=confirm-delete-prompt]")?
            .into_iter()
            .next())
    });
    assert!(prompt.contains("Retire the old build"), "{prompt}");
    ui.click(&ui.find("[data-testid=cancel-delete]").unwrap())
        .unwrap();
    poll::until("the prompt gone", WAIT, || {
        Ok(ui
            .find_all("[data-testid=confirm-delete-prompt]")?
            .is_empty()
            .then_some(()))
    });
    assert!(!archived(data.path(), &task.id).unwrap());

    // Confirmed: gone from the engine, and the app is back on the task list.
    ui.click(&ui.find("[data-testid=delete-task]").unwrap())
        .unwrap();
    let confirm = poll::until("the confirmation again", WAIT, || {
        Ok(ui
            .find_all("[data-testid=confirm-delete]")?
            .into_iter()
            .next())
    });
    ui.click(&confirm).unwrap();
    poll::until("back on the task list", WAIT, || {
        Ok(ui
            .find_all("[data-testid=task-detail]")?
            .is_empty()
            .then_some(()))
    });
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    assert!(matches!(
        tasks::get(&store, &task.id),
        Err(CoreError::NotFound { .. })
    ));
}
