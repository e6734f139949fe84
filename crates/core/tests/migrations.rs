//! Migrations are append-only, idempotent, and upgrade a database made by an older set
//! without losing data, including a CRR schema change through crsql_begin_alter.

mod common;

use common::count;
use flightdeck_core::store::{local_migrations, Migration, Origin};
use flightdeck_core::{tasks, CoreError, Store};
use flightdeck_types::NewTask;

fn schema(store: &Store) -> Vec<(String, String)> {
    store
        .read(|c| {
            let mut stmt =
                c.prepare("SELECT name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .unwrap()
}

#[test]
fn running_migrations_twice_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let first = Store::open(&path).unwrap();
    let task = tasks::create(
        &first,
        NewTask {
            title: "Keep".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let schema_before = schema(&first);
    let versions_before = count(&first, "SELECT count(*) FROM schema_migrations");
    drop(first);

    let again = Store::open(&path).unwrap();
    assert_eq!(schema(&again), schema_before);
    assert_eq!(
        count(&again, "SELECT count(*) FROM schema_migrations"),
        versions_before
    );
    assert_eq!(versions_before as usize, local_migrations().len());
    assert_eq!(tasks::get(&again, &task.id).unwrap().title, "Keep");
}

/// A task as the first schema has it, written in a store of an older schema (this build's
/// `tasks::create` writes columns later migrations added).
fn older_task(store: &Store, title: &str) {
    store
        .write(|w| {
            w.execute(
                "INSERT INTO tasks (id, title, created_at, updated_at) VALUES (?1, ?2, 0, 0)",
                rusqlite::params![flightdeck_core::ids::new_id(), title],
            )?;
            Ok(())
        })
        .unwrap();
}

#[test]
fn each_older_migration_set_upgrades_to_the_current_one() {
    let all = local_migrations();
    for cut in 1..all.len() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let older = Store::open_with_migrations(&path, &all[..cut]).unwrap();
        if cut >= 1 {
            older_task(&older, &format!("made at {cut}"));
        }
        drop(older);
        let current = Store::open(&path).unwrap();
        assert_eq!(
            count(&current, "SELECT count(*) FROM schema_migrations") as usize,
            all.len()
        );
        assert_eq!(count(&current, "SELECT count(*) FROM tasks"), 1);
        let fresh_dir = tempfile::tempdir().unwrap();
        let fresh = Store::open(&fresh_dir.path().join("db")).unwrap();
        assert_eq!(
            schema(&current),
            schema(&fresh),
            "upgraded schema equals a fresh one (cut {cut})"
        );
    }
}

/// A later migration that adds a column to a CRR the way DESIGN.md prescribes.
const ADD_COLUMN: Migration = Migration {
    version: 9000,
    name: "9000_test_add_task_estimate",
    sql: "SELECT crsql_begin_alter('tasks');
          ALTER TABLE tasks ADD COLUMN estimate_minutes INTEGER;
          SELECT crsql_commit_alter('tasks');",
};

#[test]
fn a_crr_column_added_through_begin_alter_keeps_data_and_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = Store::open(&path).unwrap();
    let task = tasks::create(
        &store,
        NewTask {
            title: "Before alter".into(),
            ..Default::default()
        },
    )
    .unwrap();
    drop(store);

    let mut extended: Vec<Migration> = local_migrations().to_vec();
    extended.push(ADD_COLUMN);
    let store = Store::open_with_migrations(&path, &extended).unwrap();
    assert_eq!(tasks::get(&store, &task.id).unwrap().title, "Before alter");
    store
        .write(|w| {
            w.execute(
                "UPDATE tasks SET estimate_minutes = 45 WHERE id = ?1",
                [&task.id],
            )?;
            Ok(())
        })
        .unwrap();
    let changes = store.changes_since(0, Origin::Local).unwrap();
    assert!(
        changes.iter().any(|c| c.cid == "estimate_minutes"),
        "the new column is tracked by cr-sqlite"
    );
    // And opening with the extended set again is a no-op.
    drop(store);
    Store::open_with_migrations(&path, &extended).unwrap();
}

#[test]
fn an_edited_migration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    drop(Store::open(&path).unwrap());
    let mut edited: Vec<Migration> = local_migrations().to_vec();
    edited[0].sql = "CREATE TABLE sneaky (id TEXT PRIMARY KEY NOT NULL);";
    match Store::open_with_migrations(&path, &edited) {
        Err(CoreError::Migration(msg)) => assert!(msg.contains("append-only"), "{msg}"),
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("an edited migration must be refused"),
    }
}

#[test]
fn a_database_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut newer: Vec<Migration> = local_migrations().to_vec();
    newer.push(ADD_COLUMN);
    drop(Store::open_with_migrations(&path, &newer).unwrap());
    match Store::open(&path) {
        Err(CoreError::Migration(msg)) => assert!(msg.contains("upgrade Flightdeck"), "{msg}"),
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
}

#[test]
fn a_failing_migration_rolls_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut broken: Vec<Migration> = local_migrations().to_vec();
    broken.push(Migration {
        version: 9001,
        name: "9001_broken",
        sql: "CREATE TABLE half_done (id TEXT PRIMARY KEY NOT NULL); SELECT no_such_function();",
    });
    assert!(matches!(
        Store::open_with_migrations(&path, &broken),
        Err(CoreError::Migration(_))
    ));
    let store = Store::open(&path).unwrap();
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM sqlite_master WHERE name = 'half_done'"
        ),
        0
    );
}

#[test]
fn opening_a_database_with_migrations_to_apply_backs_it_up_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flightdeck.db");
    let all = local_migrations();
    {
        let older = Store::open_with_migrations(&path, &all[..all.len() - 1]).unwrap();
        older_task(&older, "before the upgrade");
    }
    assert!(flightdeck_core::backup::list(&path).unwrap().is_empty());
    drop(Store::open(&path).unwrap());
    let made = flightdeck_core::backup::list(&path).unwrap();
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0].kind, "pre-migration");
    flightdeck_core::backup::check(&made[0].file).unwrap();
    // The copy is the database as it was: the task, and the older schema.
    let copy = rusqlite::Connection::open(&made[0].file).unwrap();
    let (title, newest): (String, u32) = (
        copy.query_row("SELECT title FROM tasks", [], |r| r.get(0))
            .unwrap(),
        copy.query_row("SELECT max(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })
        .unwrap(),
    );
    assert_eq!(title, "before the upgrade");
    assert_eq!(newest, all[all.len() - 2].version);
    drop(Store::open(&path).unwrap());
    assert_eq!(
        flightdeck_core::backup::list(&path).unwrap().len(),
        1,
        "nothing to migrate"
    );
}

#[test]
fn a_backup_is_a_checked_copy_and_seven_daily_ones_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("flightdeck.db")).unwrap();
    tasks::create(
        &store,
        NewTask {
            title: "kept".into(),
            ..NewTask::default()
        },
    )
    .unwrap();
    let manual = flightdeck_core::backup::now(&store, "manual").unwrap();
    let copy = Store::open(&manual.file).unwrap();
    assert_eq!(
        count(&copy, "SELECT count(*) FROM tasks WHERE title = 'kept'"),
        1
    );
    drop(copy);
    for _ in 0..9 {
        flightdeck_core::backup::now(&store, "daily").unwrap();
    }
    let all = flightdeck_core::backup::list(store.path()).unwrap();
    let daily = all.iter().filter(|b| b.kind == "daily").count();
    assert_eq!(daily, flightdeck_core::backup::KEEP_DAILY);
    assert!(
        all.iter().any(|b| b.kind == "manual"),
        "a manual one is never pruned"
    );
    assert!(
        all.windows(2).all(|w| w[0].created_at >= w[1].created_at),
        "newest first"
    );
    assert!(flightdeck_core::backup::daily_if_due(&store)
        .unwrap()
        .is_none());
    std::fs::write(dir.path().join("garbage.db"), b"not a database at all").unwrap();
    let err = flightdeck_core::backup::check(&dir.path().join("garbage.db"));
    assert!(err.is_err());
}
