//! A memory's scope picked and a memory edited in the app (issue 21, item 9), as `memory add
//! --scope` and `memory edit` do: checked in the engine, and found by its new text.

use flightdeck_core::memory;
use flightdeck_core::{environments, tasks, Store};
use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_tests::webdriver::Session;
use flightdeck_types::{Memory, MemoryFilter, MemoryScope, NewEnvironment, NewTask};

use super::{open_memory_with_the_seeded_three, search_for, seeded, texts, STAGING, WAIT};

const RELEASE: &str = "Ask Alice before merging a release branch";
const EDITED: &str = "The staging database is backed up to the Frankfurt bucket every hour";

fn all(data: &std::path::Path) -> Result<Vec<Memory>, String> {
    let store = Store::open_workspace(Some(data), "default").map_err(|e| e.to_string())?;
    memory::list(&store, &MemoryFilter::default(), 50).map_err(|e| e.to_string())
}

fn pick(ui: &Session, select: &str, value: &str) {
    let css = format!("[data-testid={select}] option[value='{value}']");
    let option = poll::until("the scope choice", WAIT, || {
        Ok(ui.find_all(&css)?.into_iter().next())
    });
    ui.click(&option).unwrap();
}

#[test]
fn a_memory_is_added_to_a_task_and_another_edited_into_an_environment() {
    let data = seeded();
    let (task, env) = {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        let task = NewTask {
            title: "Release 2.0".into(),
            ..Default::default()
        };
        let env = NewEnvironment {
            name: "backend".into(),
            ..Default::default()
        };
        (
            tasks::create(&store, task).unwrap(),
            environments::create(&store, env).unwrap(),
        )
    };
    let staging = all(data.path())
        .unwrap()
        .into_iter()
        .find(|m| m.content == STAGING)
        .unwrap();
    let app = App::launch(data.path());
    let ui = app.session();
    open_memory_with_the_seeded_three(ui);

    // Added with the task's scope, picked by its title.
    let task_choice = format!("task:{}", task.id);
    pick(ui, "memory-scope-input", &task_choice);
    let label = ui
        .texts(&format!(
            "[data-testid=memory-scope-input] option[value='{task_choice}']"
        ))
        .unwrap();
    assert_eq!(label, ["Task: Release 2.0"]);
    let input = ui.find("[data-testid=memory-content-input]").unwrap();
    ui.type_text(&input, RELEASE).unwrap();
    ui.click(&ui.find("[data-testid=memory-add]").unwrap())
        .unwrap();
    let added = poll::until("the memory under the task", WAIT, || {
        Ok(all(data.path())?.into_iter().find(|m| m.content == RELEASE))
    });
    assert_eq!(added.scope, MemoryScope::task(&task.id));
    // The list redrawn with it (a row clicked while the list is swapped would be lost).
    poll::until("the new memory listed", WAIT, || {
        Ok(texts(ui, "[data-testid=memory-content]")
            .iter()
            .any(|t| t == RELEASE)
            .then_some(()))
    });

    // The staging memory edited: a bad importance is said beside its field, nothing saved.
    let row = format!("[data-testid=memory-row][data-id='{}']", staging.id);
    let edit = poll::until("the row's Edit", WAIT, || {
        Ok(ui
            .find_all(&format!("{row} [data-testid=memory-edit]"))?
            .into_iter()
            .next())
    });
    ui.click(&edit).unwrap();
    let content = poll::until("the editor", WAIT, || {
        Ok(ui
            .find_all(&format!("{row} [data-testid=memory-edit-content]"))?
            .into_iter()
            .next())
    });
    ui.clear(&content).unwrap();
    ui.type_text(&content, EDITED).unwrap();
    let importance = ui.find("[data-testid=memory-edit-importance]").unwrap();
    ui.clear(&importance).unwrap();
    ui.type_text(&importance, "lots").unwrap();
    pick(ui, "memory-edit-scope", &format!("environment:{}", env.id));
    ui.click(&ui.find("[data-testid=memory-edit-save]").unwrap())
        .unwrap();
    let error = poll::until("the importance's error", WAIT, || {
        Ok(texts(ui, "[data-testid=field-error-edit-importance]")
            .into_iter()
            .next())
    });
    assert!(error.contains("not a number"), "{error}");
    let unchanged = all(data.path()).unwrap();
    assert!(unchanged.contains(&staging), "nothing saved");

    // Fixed and saved: the engine has the new text, importance and scope; the editor closes.
    let importance = ui.find("[data-testid=memory-edit-importance]").unwrap();
    ui.clear(&importance).unwrap();
    ui.type_text(&importance, "0.9").unwrap();
    ui.click(&ui.find("[data-testid=memory-edit-save]").unwrap())
        .unwrap();
    let saved = poll::until("the edit in the engine", WAIT, || {
        Ok(all(data.path())?
            .into_iter()
            .find(|m| m.id == staging.id && m.content == EDITED))
    });
    assert_eq!(saved.importance, 0.9);
    assert_eq!(saved.scope, MemoryScope::environment(&env.id));
    assert_eq!(saved.kind, "fact", "the kind was left as it was");
    poll::until("the editor closed", WAIT, || {
        Ok(ui
            .find_all("[data-testid=memory-editor]")?
            .is_empty()
            .then_some(()))
    });

    // Found by the meaning of its new text.
    search_for(ui, "hourly backups in Frankfurt");
    poll::until("the edited memory first", WAIT, || {
        let shown = texts(ui, "[data-testid=memory-content]");
        Ok((shown.first().map(String::as_str) == Some(EDITED)).then_some(()))
    });
}
