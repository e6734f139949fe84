//! The store opens with the real extensions, and its one write path captures changes,
//! writes audit rows, rolls back on error and notifies subscribers.

#[path = "store/clocks.rs"]
mod clocks;
mod common;
#[path = "store/insights.rs"]
mod insights;
#[path = "store/staged.rs"]
mod staged;
#[path = "store/transfer.rs"]
mod transfer;

use common::{count, temp_store};
use flightdeck_core::store::Origin;
use flightdeck_core::{tasks, CoreError, Store};
use flightdeck_types::{AuditAction, NewTask};

#[test]
fn crsqlite_and_sqlite_vec_answer() {
    let (_dir, store) = temp_store();
    store
        .read(|c| {
            let site: Vec<u8> = c.query_row("SELECT crsql_site_id()", [], |r| r.get(0))?;
            assert_eq!(site.len(), 16, "cr-sqlite site ids are 16 bytes");
            let changes: i64 = c.query_row("SELECT count(*) FROM crsql_changes", [], |r| r.get(0))?;
            assert_eq!(changes, 0, "a new store has no changes");

            c.execute_batch(
                "CREATE VIRTUAL TABLE temp.probe USING vec0(embedding float[3]);
                 INSERT INTO temp.probe(rowid, embedding) VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0.9,0.1,0]');",
            )?;
            let nearest: Vec<i64> = c
                .prepare("SELECT rowid FROM temp.probe WHERE embedding MATCH '[1,0,0]' AND k = 2 ORDER BY distance")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            assert_eq!(nearest, vec![1, 3]);
            Ok(())
        })
        .unwrap();
    assert_eq!(store.device_id().len(), 32);
}

#[test]
fn every_synced_table_is_a_crr_and_local_tables_are_not() {
    let (_dir, store) = temp_store();
    let synced = [
        "environments",
        "tasks",
        "executions",
        "execution_events",
        "execution_snapshots",
        "schedules",
        "error_records",
        "workflows",
        "workflow_runs",
        "memories",
        "audit_log",
    ];
    for table in synced {
        let clock = format!("{table}__crsql_clock");
        let n = count(
            &store,
            &format!("SELECT count(*) FROM sqlite_master WHERE name = '{clock}'"),
        );
        assert_eq!(n, 1, "{table} should be a CRR");
    }
    for table in [
        "settings",
        "sync_state",
        "conflict_log",
        "locks",
        "schema_migrations",
    ] {
        let exists = count(
            &store,
            &format!("SELECT count(*) FROM sqlite_master WHERE name = '{table}'"),
        );
        assert_eq!(exists, 1, "{table} should exist");
        let clock = count(
            &store,
            &format!("SELECT count(*) FROM sqlite_master WHERE name = '{table}__crsql_clock'"),
        );
        assert_eq!(clock, 0, "{table} must stay local");
    }
}

#[test]
fn a_write_produces_local_changes_and_an_audit_row() {
    let (_dir, store) = temp_store();
    let task = tasks::create(
        &store,
        NewTask {
            title: "Ship it".into(),
            ..Default::default()
        },
    )
    .unwrap();

    let changes = store.changes_since(0, Origin::Local).unwrap();
    let task_cells: Vec<_> = changes.iter().filter(|c| c.table == "tasks").collect();
    assert!(
        task_cells.iter().any(|c| c.cid == "title"),
        "title cell captured: {task_cells:?}"
    );
    let site = hex(&task_cells[0].site_id);
    assert_eq!(
        site,
        store.device_id(),
        "changes carry this device's site id"
    );
    assert!(
        changes.iter().any(|c| c.table == "audit_log"),
        "audit row is a synced change too"
    );
    // One transaction: the task and its audit row share one db_version.
    let versions: std::collections::BTreeSet<i64> = changes.iter().map(|c| c.db_version).collect();
    assert_eq!(versions.len(), 1);

    let audit: String = store
        .read(|c| {
            Ok(c.query_row(
                "SELECT action FROM audit_log WHERE entity_id = ?1",
                [&task.id],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(audit, "create");
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    let (_dir, store) = temp_store();
    let result: Result<(), CoreError> = store.write(|w| {
        w.execute("INSERT INTO tasks (id, title) VALUES ('x', 'half')", [])?;
        Err(CoreError::Refused("changed my mind".into()))
    });
    assert!(result.is_err());
    assert_eq!(count(&store, "SELECT count(*) FROM tasks"), 0);
    assert_eq!(count(&store, "SELECT count(*) FROM crsql_changes"), 0);
}

#[test]
fn subscribers_hear_committed_changes() {
    let (_dir, store) = temp_store();
    let rx = store.subscribe();
    let task = tasks::create(
        &store,
        NewTask {
            title: "Watch me".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let change = rx.try_recv().expect("a change was announced");
    assert_eq!(change.table, "tasks");
    assert_eq!(change.id, task.id);
    assert_eq!(change.action, AuditAction::Create);
}

#[test]
fn data_survives_reopen_and_the_device_id_is_stable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dirs/flightdeck.db");
    let (id, device) = {
        let store = Store::open(&path).unwrap();
        let task = tasks::create(
            &store,
            NewTask {
                title: "Persist".into(),
                ..Default::default()
            },
        )
        .unwrap();
        (task.id, store.device_id().to_string())
    };
    let store = Store::open(&path).unwrap();
    assert_eq!(tasks::get(&store, &id).unwrap().title, "Persist");
    assert_eq!(store.device_id(), device);
    let mode: String = store
        .read(|c| Ok(c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(mode, "wal");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every 8th commit has the store's own thread ask the kernel to start writing the WAL out
/// (`store/writeback.rs`): none before the 8th, one after it, another after the 16th.
#[test]
fn every_eighth_commit_starts_the_wal_s_writeback() {
    let (_dir, store) = temp_store();
    let write = || {
        tasks::create(
            &store,
            NewTask {
                title: "one more page".into(),
                ..Default::default()
            },
        )
        .unwrap();
    };
    let started = |at_least: u64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while store.wal_writebacks() < at_least {
            assert!(
                std::time::Instant::now() < deadline,
                "no WAL writeback started after {} commits",
                store.write_count()
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    };
    assert!(
        store.write_count() < 7,
        "opening wrote {}",
        store.write_count()
    );
    while store.write_count() < 7 {
        write();
    }
    assert_eq!(store.wal_writebacks(), 0, "none before the 8th commit");
    write();
    started(1);
    for _ in 0..8 {
        write();
    }
    started(2);
}
