//! The sync server killed for real (SIGKILL) while devices keep writing and their daemons keep
//! syncing, then restarted on the same database and address: the daemons catch up by
//! themselves, and every device, a fresh device and the server end with the same rows and the
//! same cells, none lost and none duplicated. And the deployment with several server
//! processes behind nginx, one of them killed mid-stream.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use flightdeck_core::sync::daemon;
use flightdeck_core::tasks;
use flightdeck_tests::balancer::{self, Balancer};
use flightdeck_tests::sync_rig::{
    connected_sockets, device_cells, server_binary, server_cells, spawn_daemon,
    spawn_daemon_observed, Device, Rounds, Server,
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
        ..Default::default()
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

/// The sockets open on each of `addrs`, asked of each process directly; `None` for a process
/// that does not answer (a killed one).
async fn sockets_per_instance(addrs: &[String]) -> Vec<Option<i64>> {
    let mut counts = Vec::new();
    for addr in addrs {
        counts.push(connected_sockets(addr).await.ok());
    }
    counts
}

/// Polls until the live instances among `addrs` hold `expected` sockets in all.
async fn wait_for_sockets(addrs: &[String], expected: i64, what: &str) -> Vec<Option<i64>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let counts = sockets_per_instance(addrs).await;
        if counts.iter().flatten().sum::<i64>() == expected {
            return counts;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: sockets per instance {counts:?}, expected {expected} in all"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_balancer_an_instance_killed_mid_stream_loses_no_device_and_no_socket() {
    let Some(nginx) = balancer::nginx_binary() else {
        // In CI the package is in scripts/setup.sh's list, so a missing binary is a failure.
        assert!(
            std::env::var_os("CI").is_none(),
            "nginx not found: install the Debian package `{}` (scripts/setup.sh lists it)",
            balancer::PACKAGE
        );
        eprintln!(
            "skipped: no nginx (install the Debian package `{}`)",
            balancer::PACKAGE
        );
        return;
    };
    let server = Server::start(server_binary("debug")).await;
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(server.spawn_instance().await);
    }
    let addrs: Vec<String> = instances.iter().map(|i| i.addr.clone()).collect();
    let upstreams: Vec<&str> = addrs.iter().map(String::as_str).collect();
    let balancer = Balancer::start(&nginx, &upstreams);

    let mut devices = Vec::new();
    for _ in 0..4 {
        devices.push(Device::join_at(&balancer.url, &server.join_token).await);
    }
    let devices: Vec<&Device> = devices.iter().collect();
    // No scheduled pull within the test: past the first round, a device that writes nothing
    // pulls only when its announcement socket tells it the head moved (or to retry a failed
    // round, which the rounds' record rules out below).
    let options = daemon::DaemonOptions {
        local_poll: Duration::from_millis(10),
        pull_interval: Duration::from_secs(3600),
        max_backoff: Duration::from_millis(300),
        ..Default::default()
    };
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let rounds: Vec<Arc<Rounds>> = devices.iter().map(|_| Arc::default()).collect();
    let handles: Vec<_> = devices
        .iter()
        .zip(&rounds)
        .map(|(device, rounds)| {
            let (store, stop) = (device.store.clone(), stop_tx.subscribe());
            spawn_daemon_observed(store, options.clone(), stop, rounds.clone())
        })
        .collect();

    // Every device's socket is open, spread by the balancer; the busiest instance dies.
    let before = wait_for_sockets(&addrs, 4, "before the kill").await;
    let (victim, on_victim) = before
        .iter()
        .enumerate()
        .map(|(i, n)| (i, n.unwrap_or(0)))
        .max_by_key(|(_, n)| *n)
        .unwrap();
    assert!(on_victim >= 2, "4 sockets over 3 instances: {before:?}");

    let mut ids = Vec::new();
    write_round(&devices, 0, 20, &mut ids);
    instances[victim].kill().await;
    write_round(&devices, 1, 10, &mut ids);
    write_round(&devices, 2, 10, &mut ids);
    wait_until_everyone_has(&devices, &ids, "after the kill").await;

    // The sockets that were on the dead instance reconnected through the balancer to the
    // live ones (the dead one answers nothing and counts for nothing).
    let after = wait_for_sockets(&addrs, 4, "after the kill").await;
    assert_eq!(
        after[victim], None,
        "the killed instance still answers: {after:?}"
    );

    // No round left to retry: from here on a device that writes nothing pulls only on an
    // announcement.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while rounds.iter().any(|r| r.last_failed.load(Ordering::SeqCst)) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a daemon's rounds keep failing behind the balancer: {rounds:?}; {}",
            balancer.error_log()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Each device writes once, alone: its write reaches every other device by announcement.
    for (x, writer) in devices.iter().enumerate() {
        let counts_before: Vec<(usize, usize)> = rounds.iter().map(|r| r.counts()).collect();
        let task = tasks::create(
            &writer.store,
            flightdeck_types::NewTask {
                title: format!("announced from d{x}"),
                ..Default::default()
            },
        )
        .unwrap();
        ids.push(task.id);
        wait_until_everyone_has(&devices, &ids, &format!("d{x}'s write after the kill")).await;
        for (d, r) in rounds.iter().enumerate().filter(|(d, _)| *d != x) {
            // A failed round is counted before the retry that could have pulled the write.
            let (_, failed) = r.counts();
            assert_eq!(
                failed, counts_before[d].1,
                "d{d} had a failed round (a retry pulls)"
            );
        }
    }

    stop_tx.send(()).unwrap();
    for handle in handles {
        handle.await.unwrap().unwrap();
    }
    let expected = all_tasks(devices[0]);
    assert_eq!(expected.len(), ids.len(), "every task written, once");
    let cells = device_cells(&devices[0].store);
    let mut unique = cells.clone();
    unique.dedup();
    assert_eq!(unique.len(), cells.len(), "no duplicated cell");
    for device in &devices[1..] {
        assert_eq!(all_tasks(device), expected);
        assert_eq!(device_cells(&device.store), cells);
    }
    assert_eq!(server_cells(&devices[0].store).await, cells);
}

fn titles(device: &Device) -> Vec<(String, String)> {
    all_tasks(device)
        .into_iter()
        .map(|t| (t.id, t.title))
        .collect()
}

/// The server's database restored from a dump taken earlier: both devices notice once (the
/// epoch changed), send their changes again and re-read the workspace, so that every write
/// made after the dump is back on the server, and a fresh device gets everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_recover_what_a_server_restored_from_an_older_dump_lost() {
    use flightdeck_core::sync::account;

    let mut server = Server::start(server_binary("debug")).await;
    let a = Device::join(&server, &server.join_token).await;
    let b = Device::join(&server, &server.join_token).await;
    let mut ids = Vec::new();
    write_round(&[&a, &b], 0, 3, &mut ids);
    a.sync().await;
    b.sync().await;
    a.sync().await;
    let backup = tempfile::tempdir().unwrap();
    let dump = backup.path().join("flightdeck.dump");
    server.dump(&dump).await;

    // After the backup: more writes on both, synced, so the cursors pass the dump's head.
    write_round(&[&a, &b], 1, 4, &mut ids);
    a.sync().await;
    b.sync().await;
    a.sync().await;
    assert_eq!(titles(&a), titles(&b));
    assert!(account::status(&a.store)
        .unwrap()
        .server_loss_notice
        .is_none());

    server.kill().await;
    server.restore(&dump).await;
    server.restart().await;

    // Each device notices on its next round, and only then.
    let recovered_a = a.sync().await;
    assert!(recovered_a.pushed_cells > 0, "{recovered_a:?}");
    b.sync().await;
    a.sync().await;
    for device in [&a, &b] {
        let notice = account::status(&device.store).unwrap().server_loss_notice;
        let notice = notice.expect("the device says the server was restored");
        assert!(notice.contains("restored from an older backup"), "{notice}");
    }
    let again = a.sync().await;
    assert_eq!(
        again.pushed_cells, 0,
        "a second round re-sends nothing: {again:?}"
    );

    let c = Device::join(&server, &server.join_token).await;
    c.sync().await;
    assert_eq!(titles(&a), titles(&b));
    assert_eq!(
        titles(&c),
        titles(&a),
        "a fresh device gets every write, after the dump too"
    );
    assert_eq!(all_tasks(&c).len(), ids.len());
    let cells = device_cells(&a.store);
    assert_eq!(device_cells(&b.store), cells);
    assert_eq!(device_cells(&c.store), cells);
    assert_eq!(
        server_cells(&c.store).await,
        cells,
        "the server holds what the devices hold"
    );
    assert!(account::status(&c.store)
        .unwrap()
        .server_loss_notice
        .is_none());
}

/// Polls `holds` until it is true, for at most 30 s, or fails naming `what`.
async fn eventually(what: &str, mut holds: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !holds() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// After its server comes back, a daemon syncs at once: the announcement socket's reconnect
/// ends the wait its failed round left. The first retry wait here is an hour, so a daemon
/// that waited it out (as it did, up to its 60 s cap, whatever the socket said) fails the
/// deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_syncs_at_once_when_its_server_comes_back() {
    let mut server = Server::start(server_binary("debug")).await;
    let a = Device::join(&server, &server.join_token).await;
    let b = Device::join(&server, &server.join_token).await;
    let options = daemon::DaemonOptions {
        local_poll: Duration::from_millis(20),
        pull_interval: Duration::from_secs(3600),
        max_backoff: Duration::from_secs(7200),
        retry_base: Duration::from_secs(3600),
    };
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let rounds = Arc::new(Rounds::default());
    let handle = spawn_daemon_observed(
        a.store.clone(),
        options,
        stop_tx.subscribe(),
        rounds.clone(),
    );
    eventually("a's first round", || rounds.counts().0 >= 1).await;

    server.kill().await;
    let offline = tasks::create(
        &a.store,
        NewTask {
            title: "written while the server was down".into(),
            ..Default::default()
        },
    )
    .unwrap();
    eventually("a failed round", || rounds.counts().1 >= 1).await;

    server.restart().await;
    let remote = tasks::create(
        &b.store,
        NewTask {
            title: "written after the restart".into(),
            ..Default::default()
        },
    )
    .unwrap();
    b.sync().await;
    eventually("a pulls b's task", || {
        tasks::get(&a.store, &remote.id).is_ok()
    })
    .await;
    b.sync().await;
    assert!(
        tasks::get(&b.store, &offline.id).is_ok(),
        "a pushed its offline write"
    );
    let _ = stop_tx.send(());
    handle.await.unwrap().unwrap();
}
