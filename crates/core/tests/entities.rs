//! Tasks and environments through the engine API: references checked in code, tolerated
//! when a merge leaves them dangling, and names that collide after offline creation.

mod common;
#[path = "entities/restore.rs"]
mod restore;

use common::{exchange, temp_store};
use flightdeck_core::{environments, tasks, CoreError};
use flightdeck_types::{NewEnvironment, NewTask, TaskFilter, TaskPatch};

fn env(name: &str) -> NewEnvironment {
    NewEnvironment {
        name: name.into(),
        ..Default::default()
    }
}

#[test]
fn the_same_name_created_offline_on_two_devices_needs_the_id_afterwards() {
    let (_da, a) = temp_store();
    let (_db, b) = temp_store();
    let on_a = environments::create(&a, env("web")).unwrap();
    let on_b = environments::create(&b, env("web")).unwrap();
    exchange(&a, &b);

    match environments::get(&a, "web") {
        Err(CoreError::Ambiguous { count, ids, .. }) => {
            assert_eq!(count, 2);
            assert!(ids.contains(&on_a.id) && ids.contains(&on_b.id), "{ids}");
        }
        other => panic!("expected an ambiguous name, got {other:?}"),
    }
    assert_eq!(
        environments::get(&a, &on_b.id).unwrap().id,
        on_b.id,
        "ids still work"
    );
    // Renaming one resolves it, and the rename syncs.
    let keyring = flightdeck_core::secrets::OsKeyring::from_env().unwrap();
    let patch = flightdeck_types::EnvironmentPatch {
        name: Some("web-b".into()),
        ..Default::default()
    };
    environments::update(&a, &keyring, &on_b.id, patch).unwrap();
    exchange(&a, &b);
    assert_eq!(environments::get(&b, "web").unwrap().id, on_a.id);
    assert_eq!(environments::get(&b, "web-b").unwrap().id, on_b.id);
}

#[test]
fn a_task_whose_environment_was_deleted_elsewhere_still_lists_and_updates() {
    let (_da, a) = temp_store();
    let (_db, b) = temp_store();
    let e = environments::create(&a, env("gone-soon")).unwrap();
    exchange(&a, &b);
    // B deletes the unused environment while A, offline, points a task at it.
    let keyring = flightdeck_core::secrets::OsKeyring::from_env().unwrap();
    environments::delete(&b, &keyring, "gone-soon", false).unwrap();
    let task = tasks::create(
        &a,
        NewTask {
            title: "Uses it".into(),
            environment: Some("gone-soon".into()),
            ..Default::default()
        },
    )
    .unwrap();
    exchange(&a, &b);

    for store in [&a, &b] {
        let listed = tasks::list(store, &TaskFilter::default()).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            listed[0].environment_id.as_deref(),
            Some(e.id.as_str()),
            "the dangling id is kept"
        );
        assert!(environments::get(store, &e.id).is_err());
    }
    let moved = tasks::update(
        &b,
        &task.id,
        TaskPatch {
            environment: Some(None),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(moved.environment_id, None);
}

#[test]
fn updating_to_the_same_values_writes_nothing() {
    let (_d, store) = temp_store();
    let task = tasks::create(
        &store,
        NewTask {
            title: "Same".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let version_before = common::count(&store, "SELECT crsql_db_version()");
    let same = tasks::update(
        &store,
        &task.id,
        TaskPatch {
            title: Some("Same".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(same, task);
    assert_eq!(
        common::count(&store, "SELECT crsql_db_version()"),
        version_before
    );
    assert_eq!(
        common::count(&store, "SELECT count(*) FROM audit_log"),
        1,
        "no audit row for a no-op"
    );
}
