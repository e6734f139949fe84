//! An import on a synced device reaches the other devices through the real sync server: an
//! archive of another workspace (tasks, an environment, a run with its events, a memory) and
//! a CSV of tasks imported on device A, pushed with `sync now`, and pulled by device B, which
//! then holds the same rows (every field) and finds the memory.

use std::path::Path;

use flightdeck_tests::sync_rig::{server_binary, Server};
use serde_json::Value;

use super::{flightdeck, json};

/// `args` must succeed; its stdout.
fn ok(data: &Path, args: &[&str]) -> String {
    let out = flightdeck(data, args);
    assert!(
        out.status.success(),
        "flightdeck {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What the imports bring, as a device lists it: tasks, environments, runs (ids sorted).
fn listed(data: &Path) -> Vec<Value> {
    let sorted = |mut v: Value| {
        v.as_array_mut()
            .unwrap()
            .sort_by_key(|x| x["id"].as_str().unwrap().to_string());
        v
    };
    vec![
        sorted(json(data, &["task", "list", "--all"])),
        sorted(json(data, &["env", "list"])),
        sorted(json(data, &["runs", "list"])),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_on_a_synced_device_reaches_the_other_device() {
    let server = Server::start(server_binary("debug")).await;
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (elsewhere, a, b) = (dirs[0].path(), dirs[1].path(), dirs[2].path());

    // A workspace that never synced, exported.
    ok(elsewhere, &["env", "add", "staging", "--var", "REGION=eu"]);
    let task = ok(
        elsewhere,
        &["task", "add", "Moved by archive", "--env", "staging"],
    );
    ok(
        elsewhere,
        &["run", task.trim(), "--shell", "echo carried over"],
    );
    ok(
        elsewhere,
        &["memory", "add", "Archives travel through the sync server"],
    );
    let archive = elsewhere.join("moved.ndjson.zst");
    ok(
        elsewhere,
        &["export", "-o", archive.to_str().unwrap(), "--quiet"],
    );
    let csv = elsewhere.join("tasks.csv");
    std::fs::write(
        &csv,
        "Issue key,Summary,Status,Priority\nOPS-1,From the spreadsheet,In Progress,High\n",
    )
    .unwrap();

    for device in [a, b] {
        json(device, &["sync", "join", &server.url, &server.join_token]);
    }
    let report = json(a, &["import", archive.to_str().unwrap()]);
    assert_eq!(report["entities"]["tasks"]["created"], 1, "{report}");
    let report = json(a, &["import", csv.to_str().unwrap()]);
    assert_eq!(report["entities"]["tasks"]["created"], 1, "{report}");
    let pushed = json(a, &["sync", "now"]);
    assert!(pushed["pushed_cells"].as_u64().unwrap() > 0, "{pushed}");
    assert_eq!(json(a, &["sync", "status"])["pending_cells"], 0);

    json(b, &["sync", "now"]);
    let on_b = listed(b);
    assert_eq!(on_b, listed(a), "B holds what A imported, every field");
    let titles: Vec<&str> = on_b[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 2);
    assert!(titles.contains(&"Moved by archive") && titles.contains(&"From the spreadsheet"));
    let runs = on_b[2].as_array().unwrap();
    assert_eq!(runs.len(), 1, "the run came too: {runs:?}");
    let logs = ok(b, &["runs", "logs", runs[0]["id"].as_str().unwrap()]);
    assert!(logs.contains("carried over"), "its events came too: {logs}");
    let found = json(b, &["memory", "search", "travel through sync"]);
    assert!(
        found
            .to_string()
            .contains("Archives travel through the sync server"),
        "the imported memory is found on B: {found}"
    );
}
