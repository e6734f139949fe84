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

    // Both offline: equal versions, so A's larger value wins the merge on B.
    tasks::update(&a, &task.id, title("Zebra")).unwrap();
    tasks::update(&b, &task.id, title("Apple")).unwrap();
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
