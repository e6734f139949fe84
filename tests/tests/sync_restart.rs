//! The sync server killed for real (SIGKILL) while devices keep writing and their daemons keep
//! syncing, then restarted on the same database and address: the daemons catch up by
//! themselves, and every device, a fresh device and the server end with the same rows and the
//! same cells, none lost and none duplicated.

use std::time::Duration;

use flightdeck_core::sync::daemon;
use flightdeck_core::tasks;
use flightdeck_tests::sync_rig::{
    device_cells, server_binary, server_cells, spawn_daemon, Device, Server,
};
use flightdeck_types::{NewTask, Task, TaskFilter, TaskPatch};

fn all_tasks(device: &Device) -> Vec<Task> {
    let filter = TaskFilter {
        include_archived: true,
        ..Default::default()
    };
    let mut list = tasks::list(&device.store, &filter).unwrap();
    list.sort_by(|a, b| a.id.cmp(&b.id));
    list
}

/// Each of the devices writes `n` tasks and retitles its previous one.
fn write_round(devices: &[&Device], round: usize, n: usize, ids: &mut Vec<String>) {
    for (d, device) in devices.iter().enumerate() {
        for i in 0..n {
            let task = tasks::create(
                &device.store,
                NewTask {
                    title: format!("r{round} d{d} t{i}"),
                    ..Default::default()
                },
            )
            .unwrap();
            ids.push(task.id);
        }
        let last = ids.last().unwrap().clone();
        tasks::update(
            &device.store,
            &last,
            TaskPatch {
                title: Some(format!("r{round} d{d} retitled")),
                ..Default::default()
            },
        )
        .unwrap();
    }
}

/// Polls until every device holds every id, or fails naming what is missing.
async fn wait_until_everyone_has(devices: &[&Device], ids: &[String], what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let missing: Vec<(usize, usize)> = devices
            .iter()
            .enumerate()
            .map(|(d, device)| {
                let have = all_tasks(device);
                let n = ids.iter().filter(|id| !have.iter().any(|t| &t.id == *id));
                (d, n.count())
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: (device, tasks missing) {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_and_restarted_mid_stream_loses_and_duplicates_nothing() {
    let mut server = Server::start(server_binary("debug")).await;
    let (a, b, c) = (
        Device::join(&server, &server.join_token).await,
        Device::join(&server, &server.join_token).await,
        Device::join(&server, &server.join_token).await,
    );
    let devices = [&a, &b, &c];
    let options = daemon::DaemonOptions {
        local_poll: Duration::from_millis(10),
        pull_interval: Duration::from_millis(100),
        max_backoff: Duration::from_millis(300),
    };
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let handles: Vec<_> = devices
        .iter()
        .map(|device| spawn_daemon(device.store.clone(), options.clone(), stop_tx.subscribe()))
        .collect();

    let mut ids = Vec::new();
    // Writes while the daemons are pushing and pulling; the kill lands mid-stream.
    write_round(&devices, 0, 20, &mut ids);
    server.kill().await;
    // Offline: the devices keep working.
    write_round(&devices, 1, 10, &mut ids);
    server.restart().await;
    write_round(&devices, 2, 10, &mut ids);
    wait_until_everyone_has(&devices, &ids, "after the first restart").await;

    // A second kill while everyone is idle-synced, and a restart with no write in between.
    server.kill().await;
    server.restart().await;
    write_round(&devices, 3, 5, &mut ids);
    wait_until_everyone_has(&devices, &ids, "after the second restart").await;

    stop_tx.send(()).unwrap();
    for handle in handles {
        handle.await.unwrap().unwrap();
    }
    // Settle: a final round each, so that every device saw every other's last push.
    for device in devices {
        device.sync().await;
    }
    for device in devices {
        device.sync().await;
    }

    let fresh = Device::join(&server, &server.join_token).await;
    let report = fresh.sync().await;
    assert_eq!(report.local_cursor, report.server_head);
    let expected = all_tasks(&a);
    assert_eq!(expected.len(), ids.len(), "every task written, once");
    let cells = device_cells(&a.store);
    let mut unique = cells.clone();
    unique.dedup();
    assert_eq!(unique.len(), cells.len(), "no duplicated cell on A");
    for device in [&b, &c, &fresh] {
        assert_eq!(all_tasks(device), expected);
        assert_eq!(device_cells(&device.store), cells);
    }
    assert_eq!(server_cells(&fresh.store).await, cells);
}
