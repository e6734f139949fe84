//! `flightdeck import` of archives made here: all or nothing under kill -9 (a 100,000-task
//! import killed at several points leaves every table as it was), and an archive of an older
//! schema upgraded on read.

use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::common::{json, ok};

/// An archive of `n` tasks made here (header, records, manifest with its counts and checksum),
/// as `flightdeck export` writes one.
fn tasks_archive(path: &Path, n: usize) {
    let mut plain = String::from(
        "{\"flightdeck_export\":{\"format_version\":1,\"schema_version\":1,\"workspace\":\"w\",\"device\":\"d\",\"entities\":[\"tasks\"]}}\n",
    );
    let mut hash = Sha256::new();
    for i in 0..n {
        let line = format!(
            "{{\"entity\":\"tasks\",\"row\":{{\"id\":\"01a24c00-0000-7000-8000-{i:012}\",\"title\":\"Task {i} from the tracker\",\"description\":\"Moved over with the rest of the backlog.\",\"status\":\"todo\",\"priority\":1,\"created_at\":{t},\"updated_at\":{t}}}}}\n",
            t = 1_795_000_000_000u64 + i as u64
        );
        hash.update(line.as_bytes());
        plain.push_str(&line);
    }
    plain.push_str(&format!(
        "{{\"manifest\":{{\"format_version\":1,\"counts\":{{\"tasks\":{n}}},\"checksums\":{{\"tasks\":\"{}\"}}}}}}\n",
        hex::encode(hash.finalize())
    ));
    std::fs::write(path, zstd::stream::encode_all(plain.as_bytes(), 3).unwrap()).unwrap();
}

/// Rows of every table of the workspace's database and its integrity check, read with plain
/// SQLite (cr-sqlite's clock tables are ordinary tables: a change recorded is a row there).
fn db_state(data: &Path) -> (Vec<(String, i64)>, String) {
    let db = rusqlite::Connection::open(data.join("workspaces/default/flightdeck.db")).unwrap();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'memory_vec%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let counts = tables
        .into_iter()
        .map(|t| {
            let n = db
                .query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| r.get(0))
                .unwrap();
            (t, n)
        })
        .collect();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    (counts, check)
}

#[test]
fn an_import_killed_midway_leaves_the_workspace_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let archive = d.join("tasks.ndjson.zst");
    tasks_archive(&archive, 100_000);
    ok(d, &["task", "add", "Here before"]);
    let before = db_state(d);
    assert_eq!(before.1, "ok");
    let wal = d.join("workspaces/default/flightdeck.db-wal");
    // Killed while its transaction has written 1, 4 and 16 MiB to the write-ahead log.
    for mib in [1u64, 4, 16] {
        let wal_now = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        assert!(
            wal_now < mib << 20,
            "the log is {wal_now} bytes before the import starts"
        );
        let mut child = super::common::command(d, &["import", archive.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
            if size >= mib << 20 {
                break;
            }
            assert!(
                child.try_wait().unwrap().is_none(),
                "the import ended before its log reached {mib} MiB"
            );
            assert!(
                std::time::Instant::now() < deadline,
                "no progress to {mib} MiB"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(!status.success(), "killed at {mib} MiB");
        assert_eq!(db_state(d), before, "after a kill at {mib} MiB");
    }
    let tasks = json(d, &["task", "list"]);
    assert_eq!(tasks.as_array().unwrap().len(), 1);
}

/// An archive of an older schema (version 1: tasks without the columns later migrations
/// added) is upgraded on read: the columns it lacks take this schema's defaults.
#[test]
fn an_archive_of_an_older_schema_imports_with_the_new_columns_defaulted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let archive = d.join("old.ndjson.zst");
    tasks_archive(&archive, 3);
    let report = json(d, &["import", archive.to_str().unwrap()]);
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["entities"]["tasks"]["created"], 3);
    let tasks = json(d, &["task", "list"]);
    let first = tasks
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"] == "Task 0 from the tracker")
        .expect("imported");
    assert_eq!(
        first["expected_secs"],
        Value::Null,
        "added by migration 0024"
    );
    assert_eq!(first["archived"], false);
    assert_eq!(first["priority"], "medium");
    // The task runs like any other (its retry policy, added by migration 0003, defaulted).
    ok(
        d,
        &["run", first["id"].as_str().unwrap(), "--shell", "true"],
    );
}
