//! The client half of sync without a server: batches of whole transactions to push, the
//! cursor moving with each applied page, and the conflict log with restore.

mod common;

use common::temp_store;
use flightdeck_core::store::Origin;
use flightdeck_core::sync::{self, wire};
use flightdeck_core::{tasks, Store};
use flightdeck_types::sync::PullResponse;
use flightdeck_types::{NewTask, TaskPatch};

/// Everything `from` holds, as a server page ending at `next`.
fn page_from(from: &Store, next: i64) -> PullResponse {
    let changes = from.changes_since(0, Origin::Any).unwrap();
    PullResponse {
        changes: changes.iter().map(wire::to_wire).collect(),
        next,
        head: next,
    }
}

/// Pretends the server took everything `store` had to push.
fn push_all(store: &Store) {
    while let Some(batch) = sync::outgoing(store, 1000).unwrap() {
        sync::acknowledge(store, batch.last_db_version).unwrap();
    }
}

fn title(title: &str) -> TaskPatch {
    TaskPatch {
        title: Some(title.into()),
        ..Default::default()
    }
}

#[test]
fn outgoing_batches_never_split_a_transaction() {
    let (_d, store) = temp_store();
    for i in 0..5 {
        tasks::create(
            &store,
            NewTask {
                title: format!("task {i}"),
                ..Default::default()
            },
        )
        .unwrap();
    }
    let mut seen = Vec::new();
    while let Some(batch) = sync::outgoing(&store, 3).unwrap() {
        let versions: std::collections::BTreeSet<i64> =
            batch.changes.iter().map(|c| c.db_version).collect();
        for v in &versions {
            assert!(!seen.contains(v), "db_version {v} was split across batches");
        }
        assert!(
            batch.changes.len() >= 3,
            "a batch holds at least one whole transaction"
        );
        seen.extend(versions);
        sync::acknowledge(&store, batch.last_db_version).unwrap();
    }
    assert_eq!(seen.len(), 5, "one transaction per task");
    assert!(sync::outgoing(&store, 3).unwrap().is_none());
}

#[test]
fn applying_a_page_advances_the_cursor_in_the_same_transaction() {
    let (_da, a) = temp_store();
    let (_db, b) = temp_store();
    tasks::create(
        &a,
        NewTask {
            title: "From A".into(),
            ..Default::default()
        },
    )
    .unwrap();
    sync::apply_pull(&b, &page_from(&a, 7)).unwrap();
    assert_eq!(sync::pull_cursor(&b).unwrap(), 7);
    assert_eq!(
        tasks::list(&b, &Default::default()).unwrap()[0].title,
        "From A"
    );
    // A page that fails to apply leaves the cursor where it was, and the error names the
    // table, the column and the row.
    let mut bad = page_from(&a, 9);
    let title_cell = bad.changes.iter_mut().find(|c| c.cid == "title").unwrap();
    title_cell.val = flightdeck_types::sync::WireValue::Null;
    title_cell.col_version += 10;
    let pk_hex = title_cell.pk.clone();
    let error = sync::apply_pull(&b, &bad).unwrap_err().to_string();
    let task_id = &tasks::list(&b, &Default::default()).unwrap()[0].id;
    for part in ["`tasks`", "`title`", task_id.as_str(), pk_hex.as_str()] {
        assert!(error.contains(part), "{part} missing from: {error}");
    }
    assert_eq!(sync::pull_cursor(&b).unwrap(), 7);
    // A table this build does not have is held, not an error, and the rest of its page
    // applies with the cursor.
    let mut newer = page_from(&a, 8);
    newer.changes[0].table = "no_such_table".into();
    sync::apply_pull(&b, &newer).unwrap();
    assert_eq!(sync::pull_cursor(&b).unwrap(), 8);
    let held = b.held_changes().unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(
        (held[0].cells, held[0].site_id.as_str()),
        (1, a.device_id())
    );
    assert!(sync::newer_version_notice(&held)
        .unwrap()
        .starts_with("1 change from a newer version is waiting"));
    // Merged remote changes are not this device's to push.
    push_all(&b);
    tasks::create(
        &b,
        NewTask {
            title: "From B".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let batch = sync::outgoing(&b, 1000).unwrap().unwrap();
    assert!(batch.changes.iter().all(|c| c.site_id == b.device_id()));
}

#[test]
fn an_overwritten_unpushed_edit_is_logged_and_can_be_restored() {
    let (_da, a) = temp_store();
    let (_db, b) = temp_store();
    let task = tasks::create(
        &a,
        NewTask {
            title: "Shared".into(),
            ..Default::default()
        },
    )
    .unwrap();
    sync::apply_pull(&b, &page_from(&a, 1)).unwrap();
    push_all(&a);
    push_all(&b);

    // Both offline, A's edit the later one: it wins the merge on B.
    tasks::update(&b, &task.id, title("Apple")).unwrap();
    flightdeck_core::clock::next_millisecond();
    tasks::update(&a, &task.id, title("Zebra")).unwrap();
    let conflicts = sync::apply_pull(&b, &page_from(&a, 2)).unwrap();
    assert_eq!(tasks::get(&b, &task.id).unwrap().title, "Zebra");
    let title_conflict = conflicts
        .iter()
        .find(|c| c.column == "title")
        .expect("title conflict logged");
    assert_eq!(
        title_conflict.local_value,
        rusqlite::types::Value::Text("Apple".into())
    );
    assert_eq!(
        title_conflict.remote_value,
        rusqlite::types::Value::Text("Zebra".into())
    );
    assert_eq!(wire::hex(&title_conflict.remote_site_id), a.device_id());
    assert_eq!(b.conflicts().unwrap().len(), conflicts.len());

    // Restore writes "Apple" back as a new change, which then wins everywhere.
    b.restore_conflict(title_conflict.id).unwrap();
    assert_eq!(tasks::get(&b, &task.id).unwrap().title, "Apple");
    assert!(
        b.restore_conflict(title_conflict.id).is_err(),
        "restoring twice is refused"
    );
    let history = flightdeck_core::audit::list(
        &b,
        &flightdeck_types::AuditFilter {
            entity_id: Some(task.id.clone()),
            limit: None,
        },
    )
    .unwrap();
    assert_eq!(
        history[0].changes["title"].new, "Apple",
        "the restore is audited"
    );
    sync::apply_pull(&a, &page_from(&b, 3)).unwrap();
    assert_eq!(tasks::get(&a, &task.id).unwrap().title, "Apple");

    // A pushed edit that loses is not a conflict: the server already had it.
    push_all(&a);
    push_all(&b);
    tasks::update(&b, &task.id, title("B pushed")).unwrap();
    push_all(&b);
    tasks::update(&a, &task.id, title("Later on A")).unwrap();
    tasks::update(&a, &task.id, title("Later on A, again")).unwrap();
    let none = sync::apply_pull(&b, &page_from(&a, 4)).unwrap();
    assert!(none.iter().all(|c| c.column != "title"), "{none:?}");
}

/// The cheap local-change check (clock tables) against the `crsql_changes` query it stands in
/// for, on a device that only pulled, then wrote, then wrote a delete.
#[test]
fn local_change_checks_agree_with_crsql_changes() {
    let create = |store: &Store, title: &str| {
        let task = NewTask {
            title: title.into(),
            ..Default::default()
        };
        tasks::create(store, task).unwrap()
    };
    let agree = |store: &Store, after: i64| {
        let slow = !store
            .local_changes_after(after, usize::MAX)
            .unwrap()
            .is_empty();
        assert_eq!(
            store.has_local_changes_after(after).unwrap(),
            slow,
            "after {after}"
        );
        slow
    };
    let (_da, a) = temp_store();
    let (_db, b) = temp_store();
    assert!(!agree(&b, 0), "an empty store");
    create(&a, "from a");
    assert!(agree(&a, 0));
    sync::apply_pull(&b, &page_from(&a, 1)).unwrap();
    assert!(!agree(&b, 0), "pulled cells are not b's own");
    let before_write = b.db_version().unwrap();
    let task = create(&b, "from b");
    assert!(agree(&b, 0));
    assert!(agree(&b, before_write));
    let after_write = b.db_version().unwrap();
    assert!(!agree(&b, after_write));
    tasks::delete(&b, &task.id).unwrap();
    assert!(agree(&b, after_write), "a delete is a local change too");
}

/// The value of `column` of task `id` with its SQLite type, as `(typeof, value)`.
fn typed_cell(store: &Store, column: &str, id: &str) -> (String, rusqlite::types::Value) {
    store
        .read(|c| {
            Ok(c.query_row(
                &format!("SELECT typeof({column}), {column} FROM tasks WHERE id = ?1"),
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .unwrap()
}

/// An integer column's conflict keeps both values as integers, and restoring it writes an
/// integer (the log's TEXT columns once turned them into text, and a restore wrote text).
#[test]
fn a_conflict_keeps_its_values_types_and_restore_writes_the_typed_value() {
    use rusqlite::types::Value;
    let (_da, a) = temp_store();
    let (_db, b) = temp_store();
    let task = tasks::create(
        &a,
        NewTask {
            title: "Shared".into(),
            ..Default::default()
        },
    )
    .unwrap();
    sync::apply_pull(&b, &page_from(&a, 1)).unwrap();
    push_all(&a);
    push_all(&b);
    // B edits first, A later: A's edit wins on B, and with it A's updated_at.
    tasks::update(&b, &task.id, title("Apple")).unwrap();
    let b_updated = typed_cell(&b, "updated_at", &task.id).1;
    // A's edit in a later millisecond than B's. (B's updated_at is read before its write
    // commits and takes its clock, which may be a millisecond later: A's editing until its
    // updated_at differed still let both writes take the same millisecond's clock, and the
    // site tag then picked B's in about 1 run of 5.)
    flightdeck_core::clock::next_millisecond();
    tasks::update(&a, &task.id, title("Zebra")).unwrap();
    let a_updated = typed_cell(&a, "updated_at", &task.id).1;
    assert_ne!(a_updated, b_updated);
    let conflicts = sync::apply_pull(&b, &page_from(&a, 2)).unwrap();
    let updated = conflicts
        .iter()
        .find(|c| c.column == "updated_at")
        .expect("the updated_at conflict is logged");
    assert!(
        matches!(updated.local_value, Value::Integer(_)),
        "{updated:?}"
    );
    assert!(
        matches!(updated.remote_value, Value::Integer(_)),
        "{updated:?}"
    );
    let logged = b
        .conflicts()
        .unwrap()
        .into_iter()
        .find(|c| c.id == updated.id)
        .unwrap();
    assert_eq!(logged.local_value, updated.local_value, "read back typed");
    assert_eq!(logged.remote_value, updated.remote_value, "read back typed");

    b.restore_conflict(updated.id).unwrap();
    let (kind, value) = typed_cell(&b, "updated_at", &task.id);
    assert_eq!(kind, "integer");
    assert_eq!(value, logged.local_value);
    assert_ne!(value, a_updated);
}

/// Rows logged before the log kept types get their numbers back when the store upgrades.
#[test]
fn conflicts_logged_as_text_before_the_upgrade_get_their_types_back() {
    use flightdeck_core::store::local_migrations;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flightdeck.db");
    let before: Vec<_> = local_migrations()
        .iter()
        .copied()
        .filter(|m| m.version < 11)
        .collect();
    drop(Store::open_with_migrations(&path, &before).unwrap());
    // What the old build logged, written as it wrote it (the log is a plain local table).
    let old = rusqlite::Connection::open(&path).unwrap();
    old.execute_batch(
        "INSERT INTO conflict_log (table_name, pk, column_name, local_value, remote_value,
             remote_site_id, detected_at)
         VALUES ('tasks', X'01', 'updated_at', 1796282873872, 1796282873999, X'aa', 1),
                ('tasks', X'01', 'title', '42', 'x', X'aa', 2),
                ('tasks', X'01', 'updated_at', NULL, 'oops', X'aa', 3)",
    )
    .unwrap();
    let stored: String = old
        .query_row(
            "SELECT typeof(local_value) FROM conflict_log WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, "text", "the old log turned integers into text");
    drop(old);

    let upgraded = Store::open(&path).unwrap();
    let mut rows = upgraded.conflicts().unwrap();
    rows.sort_by_key(|c| c.id);
    use rusqlite::types::Value;
    assert_eq!(rows[0].local_value, Value::Integer(1796282873872));
    assert_eq!(rows[0].remote_value, Value::Integer(1796282873999));
    assert_eq!(
        rows[1].local_value,
        Value::Text("42".into()),
        "a text column stays text"
    );
    assert_eq!(rows[2].local_value, Value::Null);
    assert_eq!(
        rows[2].remote_value,
        Value::Text("oops".into()),
        "not a number: kept"
    );
}
