//! Import and Export in the real app's Settings: a CSV with a status the app does not know is
//! refused in the preview with its line and column and cannot be imported; a good CSV's
//! preview counts what would be created and writes nothing; confirming imports it, the tasks
//! show on the board in their columns; an export writes an archive whose manifest counts them.

use std::io::BufRead;
use std::time::Duration;

use flightdeck_core::{tasks, Store};
use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_tests::webdriver::Session;
use flightdeck_types::TaskFilter;

const WAIT: Duration = Duration::from_secs(30);

fn set_field(ui: &Session, testid: &str, text: &str) {
    let field = ui.find(&format!("[data-testid={testid}]")).unwrap();
    ui.clear(&field).unwrap();
    ui.type_text(&field, text).unwrap();
}

fn click(ui: &Session, testid: &str) {
    ui.click(&ui.find(&format!("[data-testid={testid}]")).unwrap())
        .unwrap();
}

/// The text of the first `css`, once one shows.
fn shown(ui: &Session, what: &str, css: &str) -> String {
    poll::until(what, WAIT, || {
        Ok(ui.texts(css)?.into_iter().find(|t| !t.is_empty()))
    })
}

fn titles(store: &Store) -> Vec<String> {
    let mut titles: Vec<String> = tasks::list(store, &TaskFilter::default())
        .unwrap()
        .into_iter()
        .map(|t| t.title)
        .collect();
    titles.sort();
    titles
}

#[test]
fn a_csv_imports_through_settings_with_a_preview_and_the_workspace_exports() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let bad = files.path().join("bad.csv");
    std::fs::write(&bad, "Summary,Status\nFirst,To Do\nSecond,Parked\n").unwrap();
    let good = files.path().join("backlog.csv");
    std::fs::write(
        &good,
        "Summary,Status,Priority,Description\n\
         Rotate the keys,In Progress,High,\"Then restart, in order\"\n\
         Write the runbook,To Do,Low,\n\
         Retire the old host,Done,,\n",
    )
    .unwrap();

    let app = App::launch(data.path());
    let ui = app.session();
    click(ui, "nav-settings");
    poll::until("the import panel", WAIT, || {
        Ok(ui.find_all("[data-testid=import-path]")?.first().cloned())
    });

    // A status nobody knows: named with its line and column; nothing can be imported.
    set_field(ui, "import-path", bad.to_str().unwrap());
    click(ui, "import-preview");
    let problem = shown(ui, "the problem", "[data-testid=import-problem]");
    assert!(
        problem.contains("line 3 (column Status)") && problem.contains("`Parked` is not a status"),
        "{problem}"
    );
    let confirm = ui.find("[data-testid=import-confirm]").unwrap();
    assert!(
        ui.attribute(&confirm, "disabled").unwrap().is_some(),
        "Import stays off while the file has problems"
    );

    // The good file: the preview counts three tasks to create and writes nothing.
    set_field(ui, "import-path", good.to_str().unwrap());
    click(ui, "import-preview");
    let cells = poll::until("the preview's counts", WAIT, || {
        let cells = ui.texts("[data-testid=import-preview-table] [data-testid=transfer-row] td")?;
        Ok((!cells.is_empty()).then_some(cells))
    });
    assert_eq!(
        cells,
        ["tasks", "3", "0", "0", "0"],
        "entity, created, updated, unchanged, skipped"
    );
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    assert!(titles(&store).is_empty(), "a preview writes nothing");

    poll::until("Import enabled", WAIT, || {
        let confirm = ui.find("[data-testid=import-confirm]")?;
        Ok(ui.attribute(&confirm, "disabled")?.is_none().then_some(()))
    });
    click(ui, "import-confirm");
    let result = shown(ui, "the import's result", "[data-testid=import-result] p");
    assert!(result.contains("3 created"), "{result}");
    assert_eq!(
        titles(&store),
        [
            "Retire the old host",
            "Rotate the keys",
            "Write the runbook"
        ]
    );

    // On the board, each in its column.
    click(ui, "nav-tasks");
    let column_of = |title: &str| -> Option<String> {
        ["todo", "in_progress", "blocked", "done", "cancelled"]
            .into_iter()
            .find(|status| {
                ui.texts(&format!(
                    "[data-testid=board-column][data-status={status}] [data-testid=task-title]"
                ))
                .map(|titles| titles.iter().any(|t| t == title))
                .unwrap_or(false)
            })
            .map(str::to_string)
    };
    poll::until("the imported tasks on the board", WAIT, || {
        Ok(column_of("Rotate the keys").map(|_| ()))
    });
    assert_eq!(column_of("Rotate the keys").as_deref(), Some("in_progress"));
    assert_eq!(column_of("Write the runbook").as_deref(), Some("todo"));
    assert_eq!(column_of("Retire the old host").as_deref(), Some("done"));

    // Export: the workspace to a file of the person's choosing.
    click(ui, "nav-settings");
    let archive = files.path().join("workspace.ndjson.zst");
    poll::until("the export path's default", WAIT, || {
        let field = ui.find("[data-testid=export-path]")?;
        Ok(ui
            .property(&field, "value")?
            .filter(|v| v.ends_with(".ndjson.zst"))
            .map(|_| ()))
    });
    set_field(ui, "export-path", archive.to_str().unwrap());
    click(ui, "export-run");
    let done = shown(ui, "the export's result", "[data-testid=export-result] p");
    assert!(
        done.starts_with("Exported ") && done.contains(archive.to_str().unwrap()),
        "{done}"
    );
    let plain = zstd::stream::decode_all(&std::fs::read(&archive).unwrap()[..]).unwrap();
    let last = plain.lines().map(Result::unwrap).last().unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(manifest["manifest"]["counts"]["tasks"], 3, "{last}");
}
