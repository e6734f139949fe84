//! Restore to a point in time (issue 33, item 4): tasks put back as they were at an instant
//! from the audit log, through the write path, as changes another device converges on.

use flightdeck_core::restore::{self, RestoreAction, Scope};
use flightdeck_core::{clock, environments, schedules, tasks, CoreError, Store};
use flightdeck_types::{NewTask, Priority, TaskFilter, TaskPatch, TaskStatus, Timestamp};

use crate::common::{count, exchange, task, temp_store};

/// An instant after `after` (a write's stamp), once the clock has moved past it too: the
/// writes before it are stamped at or before it, the writes after it later.
fn past(after: Timestamp) -> Timestamp {
    let instant = wait_past(after);
    wait_past(instant);
    instant
}

fn wait_past(t: Timestamp) -> Timestamp {
    loop {
        let now = clock::now();
        if now > t {
            return now;
        }
        std::thread::yield_now();
    }
}

fn changes_count(store: &Store) -> i64 {
    count(store, "SELECT count(*) FROM crsql_changes")
}

#[test]
fn a_task_edited_five_times_comes_back_as_it_was_at_each_instant() {
    let (_d, store) = temp_store();
    let made = task(&store, "v0");
    let mut at = vec![past(made.updated_at)];
    let mut expected = vec![made.clone()];
    for i in 1..=5 {
        let patch = TaskPatch {
            title: Some(format!("v{i}")),
            priority: Some(if i % 2 == 0 {
                Priority::High
            } else {
                Priority::Low
            }),
            status: Some(if i == 5 {
                TaskStatus::Done
            } else {
                TaskStatus::Todo
            }),
            ..Default::default()
        };
        let edited = tasks::update(&store, &made.id, patch).unwrap();
        at.push(past(edited.updated_at));
        expected.push(edited);
    }
    tasks::set_archived(&store, &made.id, true).unwrap();

    // Backwards, forwards and back: each restore is itself audited and undone by the next.
    for i in [2, 0, 4, 1, 3, 5] {
        let report = restore::restore(&store, Scope::Entity(&made.id), at[i], false).unwrap();
        assert!(
            !report.changes.is_empty(),
            "restore to v{i} changed nothing"
        );
        let now = tasks::get(&store, &made.id).unwrap();
        let want = &expected[i];
        assert_eq!(
            (&now.title, now.status, now.priority, now.archived),
            (&want.title, want.status, want.priority, false),
            "restored to the instant after edit {i}"
        );
    }
    // Already as it was then: nothing to do, nothing written.
    let before = changes_count(&store);
    let again = restore::restore(&store, Scope::Entity(&made.id), at[5], false).unwrap();
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    assert_eq!(changes_count(&store), before);
}

#[test]
fn a_workspace_restore_removes_what_came_since_and_brings_back_what_went() {
    let (_da, a) = temp_store();
    let (_db, b) = temp_store();
    let kept = task(&a, "kept");
    let gone = task(&a, "deleted later");
    let then = past(gone.updated_at);
    for i in 0..1000 {
        task(&a, &format!("imported {i}"));
    }
    tasks::update(
        &a,
        &kept.id,
        TaskPatch {
            title: Some("renamed".into()),
            ..Default::default()
        },
    )
    .unwrap();
    tasks::delete(&a, &gone.id).unwrap();
    exchange(&a, &b);
    assert_eq!(tasks::list(&b, &TaskFilter::default()).unwrap().len(), 1001);

    // A dry run says what would change and writes nothing.
    let before = changes_count(&a);
    let version: i64 = count(&a, "SELECT crsql_db_version()");
    let dry = restore::restore(&a, Scope::Workspace, then, true).unwrap();
    assert!(dry.dry_run);
    assert_eq!(dry.changes.len(), 1002);
    let deletes = dry
        .changes
        .iter()
        .filter(|c| c.action == RestoreAction::Delete)
        .count();
    assert_eq!(deletes, 1000);
    assert_eq!(changes_count(&a), before);
    assert_eq!(count(&a, "SELECT crsql_db_version()"), version);
    assert_eq!(tasks::list(&a, &TaskFilter::default()).unwrap().len(), 1001);

    let done = restore::restore(&a, Scope::Workspace, then, false).unwrap();
    assert_eq!(done.changes.len(), 1002);
    let restored = |s: &Store| {
        let mut titles: Vec<(String, String)> = tasks::list(s, &TaskFilter::default())
            .unwrap()
            .into_iter()
            .map(|t| (t.id, t.title))
            .collect();
        titles.sort();
        titles
    };
    let mut want = vec![
        (kept.id.clone(), "kept".to_string()),
        (gone.id.clone(), "deleted later".to_string()),
    ];
    want.sort();
    assert_eq!(restored(&a), want);
    // The restore is ordinary changes: the other device converges on it.
    exchange(&a, &b);
    assert_eq!(restored(&b), want);
}

#[test]
fn what_restore_does_not_cover_is_refused_by_name() {
    let (_d, store) = temp_store();
    let run = flightdeck_core::runs::queue(
        &store,
        flightdeck_types::NewExecution {
            spec: Some(flightdeck_types::ExecutionSpec::Shell(
                flightdeck_types::ShellSpec {
                    line: Some("true".into()),
                    ..Default::default()
                },
            )),
            ..Default::default()
        },
    )
    .unwrap();
    let then = past(clock::now());
    match restore::restore(&store, Scope::Entity(&run.id), then, false) {
        Err(e @ CoreError::Invalid(_)) => {
            assert!(e.to_string().contains("an execution"), "{e}");
            assert!(e.to_string().contains("history"), "{e}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    match restore::restore(&store, Scope::Entity("no-such-id"), then, false) {
        Err(CoreError::NotFound { .. }) => {}
        other => panic!("expected not found, got {other:?}"),
    }
    let future = Timestamp(clock::now().as_millis() + 60_000);
    assert!(matches!(
        restore::restore(&store, Scope::Workspace, future, false),
        Err(CoreError::Invalid(_))
    ));
}

#[test]
fn a_schedule_comes_back_as_defined_then_without_catching_up() {
    let (_d, store) = temp_store();
    let hourly = flightdeck_types::NewSchedule {
        interval_secs: Some(3600),
        ..crate::common::true_schedule("hourly", flightdeck_types::ScheduleKind::Interval)
    };
    let made = schedules::add(&store, hourly).unwrap();
    let then = past(made.updated_at);
    let patch = flightdeck_types::SchedulePatch {
        name: Some("daily".into()),
        interval_secs: Some(86_400),
        ..Default::default()
    };
    schedules::update(&store, &made.id, patch).unwrap();
    schedules::pause(&store, &made.id).unwrap();
    let extra = schedules::add(
        &store,
        flightdeck_types::NewSchedule {
            interval_secs: Some(60),
            ..crate::common::true_schedule("extra", flightdeck_types::ScheduleKind::Interval)
        },
    )
    .unwrap();

    let restored_at = clock::now();
    let report = restore::restore(&store, Scope::Workspace, then, false).unwrap();
    assert_eq!(report.changes.len(), 2, "{:?}", report.changes);
    let back = schedules::show(&store, &made.id).unwrap();
    assert_eq!(
        (back.name.as_str(), back.interval_secs, back.enabled),
        ("hourly", Some(3600), true)
    );
    // Its next fire is worked out from now, never an instant already past (which the
    // scheduler would fire at once, catching up the hours in between).
    let next = back
        .next_fire_at
        .expect("an enabled schedule has a next fire");
    assert!(
        next >= restored_at,
        "next fire {next} is before the restore at {restored_at}"
    );
    assert!(matches!(
        schedules::show(&store, &extra.id),
        Err(CoreError::NotFound { .. })
    ));
    // Deleted since: comes back with its id.
    let later = past(clock::now());
    schedules::delete(&store, &made.id).unwrap();
    restore::restore(&store, Scope::Entity(&made.id), later, false).unwrap();
    assert_eq!(schedules::show(&store, &made.id).unwrap().name, "hourly");
}

#[test]
fn environments_come_back_with_their_variables_and_their_tasks() {
    let (_d, store) = temp_store();
    let secrets = flightdeck_core::secrets::OsKeyring::from_env().unwrap();
    let web = environments::create(
        &store,
        flightdeck_types::NewEnvironment {
            name: "web".into(),
            env_vars: [("PORT".to_string(), "3000".to_string())].into(),
            ..Default::default()
        },
    )
    .unwrap();
    let uses = tasks::create(
        &store,
        NewTask {
            title: "deploy".into(),
            environment: Some("web".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let then = past(uses.updated_at);
    let patch = flightdeck_types::EnvironmentPatch {
        set_vars: [("PORT".to_string(), "8080".to_string())].into(),
        ..Default::default()
    };
    environments::update(&store, &secrets, "web", patch).unwrap();
    let later = environments::create(
        &store,
        flightdeck_types::NewEnvironment {
            name: "staging".into(),
            ..Default::default()
        },
    )
    .unwrap();
    environments::delete(&store, &secrets, "web", true).unwrap();
    assert_eq!(tasks::get(&store, &uses.id).unwrap().environment_id, None);

    // One environment alone: `web` comes back with its id and its variables of then.
    let one = restore::restore(&store, Scope::Entity(&web.id), then, false).unwrap();
    assert_eq!(one.changes[0].action, RestoreAction::Recreate);
    let back = environments::get(&store, &web.id).unwrap();
    assert_eq!(back.env_vars["PORT"], "3000");
    assert_eq!(back.name, "web");
    // The whole workspace: the task uses it again, `staging` (made since) is gone.
    restore::restore(&store, Scope::Workspace, then, false).unwrap();
    assert_eq!(
        tasks::get(&store, &uses.id)
            .unwrap()
            .environment_id
            .as_deref(),
        Some(web.id.as_str())
    );
    assert!(matches!(
        environments::get(&store, &later.id),
        Err(CoreError::NotFound { .. })
    ));
}
