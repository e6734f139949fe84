//! Two independent stores that exchange `crsql_changes` converge, under the rule DESIGN.md
//! states: per column, higher causal length, then higher column version (the hybrid logical
//! clock of the write: the later write wins), then larger value.

mod common;

use common::{exchange, temp_store};
use flightdeck_core::{tasks, Store};
use flightdeck_types::{NewTask, Task, TaskPatch, TaskStatus};

fn rows(store: &Store) -> Vec<(String, String, String, String, i64)> {
    store
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT id, title, description, status, priority FROM tasks ORDER BY id",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .unwrap()
}

/// Device A creates a task and both devices see it: the starting point of each scenario.
fn shared_task() -> (tempfile::TempDir, Store, tempfile::TempDir, Store, Task) {
    let (dir_a, a) = temp_store();
    let (dir_b, b) = temp_store();
    let task = tasks::create(
        &a,
        NewTask {
            title: "Shared".into(),
            ..Default::default()
        },
    )
    .unwrap();
    exchange(&a, &b);
    assert_eq!(tasks::get(&b, &task.id).unwrap().title, "Shared");
    (dir_a, a, dir_b, b, task)
}

fn patch_title(title: &str) -> TaskPatch {
    TaskPatch {
        title: Some(title.into()),
        ..Default::default()
    }
}

#[test]
fn concurrent_edits_to_different_columns_both_survive() {
    let (_da, a, _db, b, task) = shared_task();
    tasks::update(&a, &task.id, patch_title("Renamed on A")).unwrap();
    tasks::update(
        &b,
        &task.id,
        TaskPatch {
            status: Some(TaskStatus::Done),
            ..Default::default()
        },
    )
    .unwrap();
    exchange(&a, &b);

    for store in [&a, &b] {
        let merged = tasks::get(store, &task.id).unwrap();
        assert_eq!(merged.title, "Renamed on A");
        assert_eq!(merged.status, TaskStatus::Done);
    }
    assert_eq!(rows(&a), rows(&b));
}

#[test]
fn same_column_the_later_edit_wins_whatever_its_value() {
    let (_da, a, _db, b, task) = shared_task();
    // One edit each: the later one wins on both sides, though "Apple" < "Zebra".
    tasks::update(&a, &task.id, patch_title("Zebra")).unwrap();
    flightdeck_core::clock::next_millisecond();
    tasks::update(&b, &task.id, patch_title("Apple")).unwrap();
    exchange(&a, &b);
    assert_eq!(tasks::get(&a, &task.id).unwrap().title, "Apple");
    assert_eq!(tasks::get(&b, &task.id).unwrap().title, "Apple");
    assert_eq!(rows(&a), rows(&b));
}

#[test]
fn same_column_the_later_edit_wins_however_often_the_other_side_edited() {
    let (_da, a, _db, b, task) = shared_task();
    // B edits twice, A once and later: A's value wins (a count of edits used to decide).
    tasks::update(&b, &task.id, patch_title("Zebra draft")).unwrap();
    tasks::update(&b, &task.id, patch_title("Zebra")).unwrap();
    flightdeck_core::clock::next_millisecond();
    tasks::update(&a, &task.id, patch_title("Apple")).unwrap();
    exchange(&a, &b);
    assert_eq!(tasks::get(&a, &task.id).unwrap().title, "Apple");
    assert_eq!(tasks::get(&b, &task.id).unwrap().title, "Apple");
    assert_eq!(rows(&a), rows(&b));
}

#[test]
fn a_write_made_after_seeing_another_wins() {
    let (_da, a, _db, b, task) = shared_task();
    tasks::update(&a, &task.id, patch_title("Zebra")).unwrap();
    exchange(&a, &b);
    // B saw "Zebra" and then wrote: causally later, so it wins though "Apple" < "Zebra".
    tasks::update(&b, &task.id, patch_title("Apple")).unwrap();
    exchange(&a, &b);
    assert_eq!(tasks::get(&a, &task.id).unwrap().title, "Apple");
    assert_eq!(rows(&a), rows(&b));
}

#[test]
fn concurrent_delete_and_edit_converge_on_the_delete() {
    let (_da, a, _db, b, task) = shared_task();
    tasks::delete(&a, &task.id).unwrap();
    tasks::update(&b, &task.id, patch_title("Edited while deleted elsewhere")).unwrap();
    exchange(&a, &b);
    // A delete raises the causal length, which outranks any column version.
    assert!(tasks::get(&a, &task.id).is_err());
    assert!(tasks::get(&b, &task.id).is_err());
    assert_eq!(rows(&a), rows(&b));
    assert!(rows(&a).is_empty());
}

#[test]
fn exchanging_twice_changes_nothing() {
    let (_da, a, _db, b, task) = shared_task();
    tasks::update(&a, &task.id, patch_title("Once")).unwrap();
    exchange(&a, &b);
    let before = (rows(&a), rows(&b));
    exchange(&a, &b);
    exchange(&b, &a);
    assert_eq!((rows(&a), rows(&b)), before);
}

#[test]
fn three_devices_converge_whatever_the_order() {
    let (_da, a, _db, b, task) = shared_task();
    let (_dc, c) = temp_store();
    common::ship(&a, &c);
    tasks::update(&a, &task.id, patch_title("A's title")).unwrap();
    tasks::update(
        &b,
        &task.id,
        TaskPatch {
            description: Some("B's words".into()),
            ..Default::default()
        },
    )
    .unwrap();
    tasks::update(&c, &task.id, patch_title("C's title")).unwrap();
    tasks::create(
        &c,
        NewTask {
            title: "Only on C".into(),
            ..Default::default()
        },
    )
    .unwrap();
    // An arbitrary gossip order.
    common::ship(&c, &b);
    common::ship(&b, &a);
    common::ship(&a, &c);
    common::ship(&a, &b);
    assert_eq!(rows(&a), rows(&b));
    assert_eq!(rows(&b), rows(&c));
    assert_eq!(rows(&a).len(), 2);
}
