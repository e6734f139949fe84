//! The real desktop app's Memory view and the task detail's context panel, end to end with
//! the real embedding model (set-up installs it; `FLIGHTDECK_MODEL_DIR` names it).

use std::time::Duration;

use flightdeck_core::memory::{self, embed::shared_default};
use flightdeck_core::{tasks, Store};
use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_tests::webdriver::Session;
use flightdeck_types::{MemoryFilter, NewMemory, NewTask};

// A memory's scope picked and a memory edited.
#[path = "app_memory/edit.rs"]
mod edit;

const WAIT: Duration = Duration::from_secs(20);

const STAGING: &str = "The staging database is wiped and reloaded every night at 02:00 UTC";
const DEPLOY: &str = "Release the web frontend with the blue-green deploy script";
const COFFEE: &str = "The coffee machine on the third floor takes only coins";

/// A workspace holding three memories, indexed with the real model.
fn seeded() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    let model = shared_default().expect("the embedding model (run scripts/setup.sh)");
    for content in [STAGING, DEPLOY, COFFEE] {
        let input = NewMemory {
            content: content.into(),
            kind: Some("fact".into()),
            ..Default::default()
        };
        memory::add(&store, Some(model), input).unwrap();
    }
    data
}

fn texts(ui: &Session, css: &str) -> Vec<String> {
    ui.texts(css).unwrap_or_default()
}

fn rows_shown(ui: &Session) -> usize {
    ui.find_all("[data-testid=memory-row]")
        .map(|rows| rows.len())
        .unwrap_or(0)
}

/// Opens the Memory view and waits for the three seeded memories.
fn open_memory_with_the_seeded_three(ui: &Session) {
    ui.click(&ui.find("[data-testid=nav-memory]").unwrap())
        .unwrap();
    poll::until("the three memories", WAIT, || {
        Ok((rows_shown(ui) == 3).then_some(()))
    });
}

#[test]
fn memories_are_found_by_meaning_archived_and_restored() {
    let data = seeded();
    let app = App::launch(data.path());
    let ui = app.session();
    open_memory_with_the_seeded_three(ui);

    // No shared keyword beyond "staging"/"database"; the meaning ranks it first all the same.
    let search = ui.find("[data-testid=memory-search]").unwrap();
    ui.type_text(
        &search,
        "when is the test data of the pre-production DB erased",
    )
    .unwrap();
    let first = poll::until("search hits", WAIT, || {
        let signals = texts(ui, "[data-testid=memory-signals]");
        Ok((!signals.is_empty()).then(|| texts(ui, "[data-testid=memory-content]")))
    });
    assert_eq!(
        first.first().map(String::as_str),
        Some(STAGING),
        "{first:?}"
    );
    let signals = texts(ui, "[data-testid=memory-signals]");
    assert!(signals[0].contains("meaning #1"), "{signals:?}");
    assert!(
        ui.find_all("[data-testid=memory-keyword-only]")
            .unwrap()
            .is_empty(),
        "the search used the model"
    );

    // Archive the hit: it leaves the results, and stays findable behind "Archived too".
    let archive = ui.find("[data-testid=memory-archive]").unwrap();
    ui.click(&archive).unwrap();
    poll::until("the archived memory gone from the hits", WAIT, || {
        Ok(
            (!texts(ui, "[data-testid=memory-content]").contains(&STAGING.to_string()))
                .then_some(()),
        )
    });
    ui.click(&ui.find("[data-testid=memory-include-archived]").unwrap())
        .unwrap();
    poll::until("the archived memory behind the flag", WAIT, || {
        Ok(ui
            .find_all("[data-testid=memory-row][data-archived=true]")?
            .into_iter()
            .next())
    });
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    let archived: Vec<String> = memory::list(
        &store,
        &MemoryFilter {
            include_archived: true,
            ..Default::default()
        },
        10,
    )
    .unwrap()
    .into_iter()
    .filter(|m| m.archived)
    .map(|m| m.content)
    .collect();
    assert_eq!(archived, [STAGING]);

    ui.click(&ui.find("[data-testid=memory-restore]").unwrap())
        .unwrap();
    poll::until("the memory restored", WAIT, || {
        Ok(ui
            .find_all("[data-testid=memory-row][data-archived=true]")?
            .is_empty()
            .then_some(()))
    });
    let restored = memory::list(&store, &MemoryFilter::default(), 10).unwrap();
    assert_eq!(restored.len(), 3, "{restored:?}");
}

#[test]
fn the_memory_form_shows_errors_beside_fields_and_a_task_shows_its_context() {
    let data = seeded();
    {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        tasks::create(
            &store,
            NewTask {
                title: "Our integration tests lose their fixtures overnight on staging".into(),
                ..Default::default()
            },
        )
        .unwrap();
    }
    let app = App::launch(data.path());
    let ui = app.session();
    open_memory_with_the_seeded_three(ui);

    // Nothing to remember: the engine's error, beside the content field.
    let add = ui.find("[data-testid=memory-add]").unwrap();
    ui.click(&add).unwrap();
    let error = poll::until("the content error", WAIT, || {
        Ok(texts(ui, "[data-testid=field-error-content]")
            .into_iter()
            .next())
    });
    assert!(error.contains("must not be empty"), "{error}");

    // An importance that is no number: said beside that field, nothing is saved.
    let content = ui.find("[data-testid=memory-content-input]").unwrap();
    ui.type_text(&content, "Invoices go out on the first Monday of the month")
        .unwrap();
    let importance = ui.find("[data-testid=memory-importance-input]").unwrap();
    ui.type_text(&importance, "very").unwrap();
    ui.click(&add).unwrap();
    let error = poll::until("the importance error", WAIT, || {
        Ok(texts(ui, "[data-testid=field-error-importance]")
            .into_iter()
            .next())
    });
    assert!(error.contains("not a number"), "{error}");
    // Out of range: the engine says so, beside the same field.
    ui.clear(&importance).unwrap();
    ui.type_text(&importance, "7").unwrap();
    ui.click(&add).unwrap();
    poll::until("the range error", WAIT, || {
        Ok(texts(ui, "[data-testid=field-error-importance]")
            .into_iter()
            .find(|e| e.contains("between 0.0 and 1.0")))
    });
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    assert_eq!(
        memory::list(&store, &MemoryFilter::default(), 10)
            .unwrap()
            .len(),
        3
    );

    ui.clear(&importance).unwrap();
    ui.type_text(&importance, "0.2").unwrap();
    ui.click(&add).unwrap();
    poll::until("the new memory listed", WAIT, || {
        Ok((rows_shown(ui) == 4).then_some(()))
    });
    let added = memory::list(&store, &MemoryFilter::default(), 10).unwrap();
    let made = added
        .iter()
        .find(|m| m.content == "Invoices go out on the first Monday of the month")
        .expect("saved through the app");
    assert_eq!(made.importance, 0.2);
    assert!(texts(ui, "[data-testid=field-error-importance]").is_empty());

    // The task's context: the staging memory is the most relevant one.
    ui.click(&ui.find("[data-testid=nav-tasks]").unwrap())
        .unwrap();
    let card = poll::until("the task card", WAIT, || {
        Ok(ui.find_all("[data-testid=task-card]")?.into_iter().next())
    });
    ui.click(&card).unwrap();
    let context = poll::until("the context panel's memories", WAIT, || {
        let shown = texts(ui, "[data-testid=task-context-memory] .memory-content");
        Ok((!shown.is_empty()).then_some(shown))
    });
    assert_eq!(
        context.first().map(String::as_str),
        Some(STAGING),
        "{context:?}"
    );
}

/// Types `query` into the Memory view's search box, replacing what it held.
fn search_for(ui: &Session, query: &str) {
    let search = ui.find("[data-testid=memory-search]").unwrap();
    ui.clear(&search).unwrap();
    ui.type_text(&search, query).unwrap();
}

#[test]
fn a_question_with_no_answer_shows_nothing_relevant_until_the_floor_is_lowered_in_settings() {
    let data = seeded();
    let app = App::launch(data.path());
    let ui = app.session();
    open_memory_with_the_seeded_three(ui);
    let question = "parental leave policy for new fathers";
    search_for(ui, question);
    let said = poll::until("the nothing-relevant answer", WAIT, || {
        Ok(texts(ui, "[data-testid=memory-empty]")
            .into_iter()
            .find(|t| t.contains("Nothing relevant")))
    });
    assert!(said.contains("under the relevance floor 0.25"), "{said}");
    assert_eq!(rows_shown(ui), 0);

    // Settings: a floor that is no number is refused beside the field, one out of range by the
    // engine; 0 is saved for this device.
    ui.click(&ui.find("[data-testid=nav-settings]").unwrap())
        .unwrap();
    let floor = poll::until("the floor field", WAIT, || {
        let field = ui.find("[data-testid=memory-floor]")?;
        let value = ui.property(&field, "value")?;
        Ok((value.as_deref() == Some("0.25")).then_some(field))
    });
    let save = ui.find("[data-testid=memory-floor-save]").unwrap();
    for (typed, says) in [("high", "not a number"), ("3", "not between 0 and 1")] {
        ui.clear(&floor).unwrap();
        ui.type_text(&floor, typed).unwrap();
        ui.click(&save).unwrap();
        poll::until("the floor's error", WAIT, || {
            Ok(texts(ui, "[data-testid=field-error-floor]")
                .into_iter()
                .find(|e| e.contains(says)))
        });
    }
    // Its About: the version and the commit the app was built from, as `--version` says.
    let about = poll::until("the workspace facts", WAIT, || {
        Ok(texts(ui, "[data-testid=workspace-info]").into_iter().next())
    });
    assert!(
        about.contains(&format!(
            "{} (commit {})",
            env!("CARGO_PKG_VERSION"),
            flightdeck_build_info::COMMIT
        )),
        "{about}"
    );
    ui.clear(&floor).unwrap();
    ui.type_text(&floor, "0").unwrap();
    ui.click(&save).unwrap();
    poll::until("the floor saved", WAIT, || {
        Ok(ui
            .find_all("[data-testid=memory-floor-saved]")?
            .into_iter()
            .next())
    });
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    assert_eq!(memory::relevance_floor(&store).unwrap(), 0.0);

    // With the floor at 0 every candidate comes back, each with its relevance.
    ui.click(&ui.find("[data-testid=nav-memory]").unwrap())
        .unwrap();
    search_for(ui, question);
    let signals = poll::until("every candidate listed", WAIT, || {
        let signals = texts(ui, "[data-testid=memory-signals]");
        Ok((signals.len() == 3).then_some(signals))
    });
    assert!(
        signals.iter().all(|s| s.contains("relevance 0.")),
        "{signals:?}"
    );
}

/// The app on a new, empty workspace, its Memory view open and ready.
fn fresh_memory_view() -> (tempfile::TempDir, App) {
    let data = tempfile::tempdir().unwrap();
    Store::open_workspace(Some(data.path()), "default").unwrap();
    let app = App::launch(data.path());
    let ui = app.session();
    ui.click(&ui.find("[data-testid=nav-memory]").unwrap())
        .unwrap();
    poll::until("the Memory view", WAIT, || {
        Ok((!ui
            .find_all("[data-testid=memory-content-input]")?
            .is_empty())
        .then_some(()))
    });
    (data, app)
}

/// A fresh workspace with the model installed: a search says there is nothing to match yet,
/// not that no model is installed; once a memory is remembered, it is found by meaning and
/// the note is gone (issue 21, item 4).
#[test]
fn a_fresh_workspace_says_there_is_nothing_to_match_yet_not_that_the_model_is_missing() {
    let (_data, app) = fresh_memory_view();
    let ui = app.session();
    let search = ui.find("[data-testid=memory-search]").unwrap();
    ui.type_text(&search, "when is staging wiped").unwrap();
    let note = poll::until("the keyword-only note", WAIT, || {
        Ok(texts(ui, "[data-testid=memory-keyword-only]")
            .into_iter()
            .next())
    });
    assert!(
        note.starts_with("Nothing to match yet") && !note.contains("no embedding model"),
        "{note}"
    );

    ui.type_text(
        &ui.find("[data-testid=memory-content-input]").unwrap(),
        STAGING,
    )
    .unwrap();
    ui.click(&ui.find("[data-testid=memory-add]").unwrap())
        .unwrap();
    let signals = poll::until("the memory found by meaning", WAIT, || {
        Ok(texts(ui, "[data-testid=memory-signals]").into_iter().next())
    });
    assert!(signals.contains("meaning"), "{signals}");
    assert!(texts(ui, "[data-testid=memory-keyword-only]").is_empty());
}

/// What is typed while a memory saves stays in the box: only the saved text is cleared
/// (issue 21, item 2).
#[test]
fn what_is_typed_while_a_memory_saves_stays_in_the_box() {
    let (data, app) = fresh_memory_view();
    let ui = app.session();
    let input = ui.find("[data-testid=memory-content-input]").unwrap();
    ui.type_text(&input, STAGING).unwrap();
    ui.click(&ui.find("[data-testid=memory-add]").unwrap())
        .unwrap();
    // At once, while the save (its embedding) runs.
    ui.type_text(&input, "Second thought").unwrap();
    poll::until("the saved memory listed", WAIT, || {
        Ok(texts(ui, "[data-testid=memory-content]")
            .iter()
            .any(|c| c == STAGING)
            .then_some(()))
    });
    let left = poll::until("the box after the save", WAIT, || {
        let value = ui.property(&input, "value")?.unwrap_or_default();
        Ok((!value.starts_with(STAGING)).then_some(value))
    });
    assert_eq!(
        left.trim(),
        "Second thought",
        "what was typed meanwhile stays"
    );
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    let saved: Vec<String> = memory::list(&store, &MemoryFilter::default(), 10)
        .unwrap()
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(
        saved,
        [STAGING],
        "only what was in the box at Remember is saved"
    );
}
