//! Several devices and the real sync server (its binary, on 127.0.0.1:0, over a throwaway
//! Postgres): changes reach every device, offline edits converge under the CRDT rule with
//! overwritten local values in the conflict log, and a late device bootstraps from the
//! server's compacted state.

use std::time::Duration;

use flightdeck_core::store::{local_migrations, Migration, Origin, SqlValue};
use flightdeck_core::sync::{account, daemon};
use flightdeck_core::{environments, tasks, Store};
use flightdeck_tests::sync_rig::{keyring, server_binary, spawn_daemon, Device, Server};
use flightdeck_types::{NewEnvironment, NewTask, Task, TaskFilter, TaskPatch, TaskStatus};

#[path = "sync/builds.rs"]
mod builds;
#[path = "sync/daemons.rs"]
mod daemons;
#[path = "sync/last_write.rs"]
mod last_write;
#[path = "sync/pushes.rs"]
mod pushes;
#[path = "sync/restore.rs"]
mod restore;
#[path = "sync/workflows.rs"]
mod workflows;

async fn start_server() -> Server {
    Server::start(server_binary("debug")).await
}

async fn join(server: &Server) -> Device {
    Device::join(server, &server.join_token).await
}

async fn sync(device: &Device) -> flightdeck_core::sync::client::SyncReport {
    device.sync().await
}

fn all_tasks(device: &Device) -> Vec<Task> {
    let filter = TaskFilter {
        include_archived: true,
        ..Default::default()
    };
    let mut list = tasks::list(&device.store, &filter).unwrap();
    list.sort_by(|a, b| a.id.cmp(&b.id));
    list
}

/// Sync daemons on `devices` that poll and pull often (tests of live propagation), and the
/// sender that stops them.
fn quick_daemons(
    devices: &[&Device],
) -> (
    tokio::sync::broadcast::Sender<()>,
    Vec<tokio::task::JoinHandle<flightdeck_core::Result<()>>>,
) {
    let options = daemon::DaemonOptions {
        local_poll: Duration::from_millis(20),
        pull_interval: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
        ..Default::default()
    };
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let handles = devices
        .iter()
        .map(|device| spawn_daemon(device.store.clone(), options.clone(), stop_tx.subscribe()))
        .collect();
    (stop_tx, handles)
}

fn title(text: &str) -> TaskPatch {
    TaskPatch {
        title: Some(text.into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_devices_converge_through_the_server() {
    let server = start_server().await;
    let (a, b, c) = (
        join(&server).await,
        join(&server).await,
        join(&server).await,
    );

    let env = environments::create(
        &a.store,
        NewEnvironment {
            name: "web".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let task = tasks::create(
        &a.store,
        NewTask {
            title: "From A".into(),
            environment: Some("web".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let pushed = sync(&a).await;
    assert!(pushed.pushed_cells > 0);
    for device in [&b, &c] {
        sync(device).await;
        assert_eq!(
            tasks::get(&device.store, &task.id)
                .unwrap()
                .environment_id
                .as_deref(),
            Some(env.id.as_str())
        );
    }
    tasks::update(
        &c.store,
        &task.id,
        TaskPatch {
            status: Some(TaskStatus::Done),
            ..Default::default()
        },
    )
    .unwrap();
    sync(&c).await;
    sync(&a).await;
    sync(&b).await;
    assert_eq!(
        tasks::get(&a.store, &task.id).unwrap().status,
        TaskStatus::Done
    );
    assert_eq!(all_tasks(&a), all_tasks(&b));
    assert_eq!(all_tasks(&b), all_tasks(&c));
    // A round with nothing new moves nothing.
    let idle = sync(&b).await;
    assert_eq!((idle.pushed_cells, idle.pulled_cells), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_edits_converge_and_the_loser_keeps_its_value_in_the_conflict_log() {
    let server = start_server().await;
    let (a, b) = (join(&server).await, join(&server).await);
    let shared = tasks::create(
        &a.store,
        NewTask {
            title: "Shared".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let doomed = tasks::create(
        &a.store,
        NewTask {
            title: "Doomed".into(),
            ..Default::default()
        },
    )
    .unwrap();
    sync(&a).await;
    sync(&b).await;

    // Both offline: same column (A's edit the later), different columns, and delete against
    // edit.
    tasks::update(&b.store, &shared.id, title("Zebra")).unwrap();
    flightdeck_core::clock::next_millisecond();
    tasks::update(&a.store, &shared.id, title("Apple")).unwrap();
    tasks::update(
        &b.store,
        &shared.id,
        TaskPatch {
            description: Some("B's notes".into()),
            ..Default::default()
        },
    )
    .unwrap();
    tasks::delete(&a.store, &doomed.id).unwrap();
    tasks::update(&b.store, &doomed.id, title("Edited while deleted")).unwrap();

    sync(&a).await;
    let b_round = sync(&b).await;
    sync(&a).await;

    assert_eq!(all_tasks(&a), all_tasks(&b));
    let merged = tasks::get(&a.store, &shared.id).unwrap();
    assert_eq!(
        merged.title, "Apple",
        "the later write wins, not the larger value"
    );
    assert_eq!(
        merged.description, "B's notes",
        "a different column survives"
    );
    assert!(tasks::get(&b.store, &doomed.id).is_err(), "the delete wins");

    assert!(b_round.conflicts >= 1);
    let conflicts = b.store.conflicts().unwrap();
    let lost = conflicts
        .iter()
        .find(|c| {
            c.column == "title"
                && c.local_value == flightdeck_core::store::SqlValue::Text("Zebra".into())
        })
        .expect("B's title is in the log");
    b.store.restore_conflict(lost.id).unwrap();
    sync(&b).await;
    sync(&a).await;
    assert_eq!(
        tasks::get(&a.store, &shared.id).unwrap().title,
        "Zebra",
        "the restore propagates"
    );
    assert_eq!(all_tasks(&a), all_tasks(&b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_device_bootstraps_from_live_state_not_history() {
    let server = start_server().await;
    let a = join(&server).await;
    let task = tasks::create(
        &a.store,
        NewTask {
            title: "v0".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let mut history = 0;
    for i in 1..=50 {
        tasks::update(&a.store, &task.id, title(&format!("v{i}"))).unwrap();
        history += sync(&a).await.pushed_cells;
    }
    let gone = tasks::create(
        &a.store,
        NewTask {
            title: "Deleted before B came".into(),
            ..Default::default()
        },
    )
    .unwrap();
    tasks::delete(&a.store, &gone.id).unwrap();
    history += sync(&a).await.pushed_cells;

    let late = join(&server).await;
    let report = sync(&late).await;
    assert_eq!(all_tasks(&late), all_tasks(&a));
    assert_eq!(tasks::get(&late.store, &task.id).unwrap().title, "v50");
    // Only live cells travel: exactly what a fully synced device holds (cr-sqlite keeps one
    // clock entry per live cell), fewer than the history of pushes (audit rows are live too).
    let live: i64 = a
        .store
        .read(|c| Ok(c.query_row("SELECT count(*) FROM crsql_changes", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(report.pulled_cells as i64, live);
    assert!(
        report.pulled_cells < history,
        "pulled {} of {history}",
        report.pulled_cells
    );
    assert_eq!(report.local_cursor, report.server_head);
}

/// What a newer build adds: a column on tasks and a new synced table.
const NEWER_BUILD: Migration = Migration {
    version: 9000,
    name: "9000_test_estimates_and_labels",
    sql: "SELECT crsql_begin_alter('tasks');
          ALTER TABLE tasks ADD COLUMN estimate_minutes INTEGER NOT NULL DEFAULT 0;
          SELECT crsql_commit_alter('tasks');
          CREATE TABLE task_labels (
              id TEXT PRIMARY KEY NOT NULL, task_id TEXT, label TEXT NOT NULL DEFAULT '');
          SELECT crsql_as_crr('task_labels');",
};

fn newer_build() -> Vec<Migration> {
    let mut migrations = local_migrations().to_vec();
    migrations.push(NEWER_BUILD);
    migrations
}

/// Every row `sql` returns, each value shown with its type.
fn rows(store: &Store, sql: &str) -> Vec<Vec<String>> {
    store
        .read(|c| {
            let mut stmt = c.prepare(sql)?;
            let width = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    (0..width)
                        .map(|i| r.get::<_, SqlValue>(i).map(|v| format!("{v:?}")))
                        .collect::<Result<Vec<_>, _>>()
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_on_two_schema_versions_sync_both_ways_and_converge_after_the_upgrade() {
    let server = start_server().await;
    let a = join(&server).await;
    let b = Device::join_with_migrations(&server, &server.join_token, &newer_build()).await;
    assert_eq!(b.store.schema_version(), 9000);
    let new_task = |store: &Store, title: &str| {
        let task = NewTask {
            title: title.into(),
            ..Default::default()
        };
        tasks::create(store, task).unwrap()
    };

    // B (newer) writes a task with an estimate, a row of its new table, and an ordinary task.
    let estimated = new_task(&b.store, "Estimated");
    b.store
        .write(|w| {
            w.execute(
                "UPDATE tasks SET estimate_minutes = 45 WHERE id = ?1",
                [&estimated.id],
            )?;
            w.execute(
                "INSERT INTO task_labels (id, task_id, label) VALUES ('l1', ?1, 'urgent')",
                [&estimated.id],
            )?;
            Ok(())
        })
        .unwrap();
    let ordinary = new_task(&b.store, "Ordinary");
    sync(&b).await;
    let unknown_to_a = b
        .store
        .changes_since(0, Origin::Local)
        .unwrap()
        .iter()
        .filter(|c| c.table == "task_labels" || c.cid == "estimate_minutes")
        .count();
    assert!(unknown_to_a >= 3, "{unknown_to_a}");

    // A (current) syncs without error, gets what it knows and holds the rest.
    let report = sync(&a).await;
    assert!(report.pulled_cells > unknown_to_a, "{report:?}");
    assert_eq!(
        tasks::get(&a.store, &ordinary.id).unwrap().title,
        "Ordinary"
    );
    assert_eq!(
        tasks::get(&a.store, &estimated.id).unwrap().title,
        "Estimated"
    );
    let listed = account::connect(&a.store, &keyring())
        .unwrap()
        .devices()
        .await
        .unwrap();
    let b_listed = listed
        .devices
        .iter()
        .find(|d| d.site_id == b.store.device_id())
        .expect("B is listed");
    assert_eq!(b_listed.schema_version, Some(9000));
    let a_listed = listed
        .devices
        .iter()
        .find(|d| d.site_id == a.store.device_id())
        .expect("A is listed");
    assert_eq!(
        a_listed.schema_version,
        Some(i64::from(a.store.schema_version()))
    );
    let status = account::status(&a.store).unwrap();
    assert_eq!(status.held_changes.len(), 1, "{:?}", status.held_changes);
    let held = &status.held_changes[0];
    assert_eq!(held.site_id, b.store.device_id());
    assert_eq!(held.cells, unknown_to_a);
    assert_eq!(held.device_name.as_deref(), Some(b_listed.name.as_str()));
    let notice = status.newer_version_notice.expect("a notice");
    assert_eq!(
        notice,
        format!(
            "{unknown_to_a} changes from a newer version are waiting (from {}); update Flightdeck",
            b_listed.name
        )
    );
    sync(&a).await;
    let again = account::status(&a.store).unwrap();
    assert_eq!(
        again.held_changes, status.held_changes,
        "nothing held twice"
    );

    // The other direction: A's new task and edit reach B, whose estimate stays.
    let from_a = new_task(&a.store, "From A");
    tasks::update(&a.store, &estimated.id, title("Renamed on A")).unwrap();
    sync(&a).await;
    sync(&b).await;
    assert_eq!(tasks::get(&b.store, &from_a.id).unwrap().title, "From A");
    assert_eq!(
        tasks::get(&b.store, &estimated.id).unwrap().title,
        "Renamed on A"
    );

    // A upgrades: the held cells merge, and A's rows equal B's.
    let (_dir, path) = a.close();
    let upgraded = Store::open_with_migrations(&path, &newer_build()).unwrap();
    let status = account::status(&upgraded).unwrap();
    assert!(status.held_changes.is_empty(), "{:?}", status.held_changes);
    assert_eq!(status.newer_version_notice, None);
    for sql in [
        "SELECT id, title, estimate_minutes FROM tasks ORDER BY id",
        "SELECT id, task_id, label FROM task_labels ORDER BY id",
    ] {
        assert_eq!(rows(&upgraded, sql), rows(&b.store, sql), "{sql}");
    }
    assert_eq!(
        rows(
            &upgraded,
            &format!(
                "SELECT estimate_minutes FROM tasks WHERE id = '{}'",
                estimated.id
            )
        ),
        vec![vec!["Integer(45)".to_string()]]
    );
}
