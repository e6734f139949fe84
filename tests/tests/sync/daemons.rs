//! The sync daemon: changes travel without anyone syncing by hand, a small one in the
//! announcement itself, and writes by other processes are still pushed.

use std::sync::Arc;
use std::time::Duration;

use flightdeck_core::sync::daemon;
use flightdeck_core::tasks;
use flightdeck_tests::sync_rig::{keyring, metric, spawn_daemon, spawn_daemon_observed, Rounds};
use flightdeck_types::NewTask;

use super::{join, quick_daemons, start_server, title};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemons_carry_a_change_without_anyone_syncing_by_hand() {
    let server = start_server().await;
    let (a, b) = (join(&server).await, join(&server).await);
    let (stop_tx, handles) = quick_daemons(&[&a, &b]);
    let task = tasks::create(
        &a.store,
        NewTask {
            title: "Carried by daemons".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tasks::get(&b.store, &task.id).is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the task never reached B"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_tx.send(()).unwrap();
    for handle in handles {
        handle.await.unwrap().unwrap();
    }
}

/// Issue 20: a small change reaches a device whose daemon listens through the announcement
/// alone, which carries its cells: nobody pulls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_change_rides_in_the_announcement_and_nobody_pulls() {
    let server = start_server().await;
    let addr = server.url.trim_start_matches("http://").to_string();
    let (a, b) = (join(&server).await, join(&server).await);
    // No scheduled pulls during the test: only the first round's and announcements'.
    let options = daemon::DaemonOptions {
        pull_interval: Duration::from_secs(3600),
        ..Default::default()
    };
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let rounds = [Arc::new(Rounds::default()), Arc::new(Rounds::default())];
    let handles: Vec<_> = [&a, &b]
        .iter()
        .zip(&rounds)
        .map(|(device, rounds)| {
            spawn_daemon_observed(
                device.store.clone(),
                options.clone(),
                stop_tx.subscribe(),
                rounds.clone(),
            )
        })
        .collect();
    // Both daemons have done their first round and hold their sockets open.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while rounds.iter().any(|r| r.counts().0 == 0)
        || metric(&addr, "flightdeck_sync_connected_sockets").await != Ok(2.0)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the daemons never settled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pulls = metric(&addr, "flightdeck_sync_pulls_total").await.unwrap();

    let task = tasks::create(
        &a.store,
        NewTask {
            title: "Announced".into(),
            ..Default::default()
        },
    )
    .unwrap();
    while tasks::get(&b.store, &task.id).is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the task never reached B"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        metric(&addr, "flightdeck_sync_pulls_total").await.unwrap(),
        pulls,
        "B applied the announced cells without pulling (and A's push needed no pull)"
    );
    assert_eq!(
        flightdeck_core::sync::pull_cursor(&b.store).unwrap(),
        1,
        "B's cursor moved to the announced head"
    );
    stop_tx.send(()).unwrap();
    for handle in handles {
        handle.await.unwrap().unwrap();
    }
}

/// While another device's announcements keep the daemon busy pulling, a write to its database
/// by another process (which wakes nothing in the daemon's process) must still be pushed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_by_another_process_is_pushed_while_announcements_keep_coming() {
    let server = start_server().await;
    let (a, b) = (join(&server).await, join(&server).await);
    // No safety-net pull within the test's deadline: only the poll for unpushed writes can
    // carry the other process's task.
    let options = daemon::DaemonOptions {
        local_poll: Duration::from_millis(100),
        pull_interval: Duration::from_secs(600),
        max_backoff: Duration::from_secs(1),
        ..Default::default()
    };
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let a_daemon = spawn_daemon(a.store.clone(), options, stop_tx.subscribe());

    // B writes and syncs back to back, so that A hears an announcement far more often than
    // its poll interval, for as long as the test runs.
    let busy = tasks::create(
        &b.store,
        NewTask {
            title: "busy 0".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let flood = {
        let (b_store, busy) = (b.store.clone(), busy.id.clone());
        let mut stop = stop_tx.subscribe();
        tokio::spawn(async move {
            let keyring = keyring();
            for n in 1.. {
                if stop.try_recv().is_ok() {
                    break;
                }
                tasks::update(&b_store, &busy, title(&format!("busy {n}"))).unwrap();
                flightdeck_core::sync::account::sync_now(&b_store, &keyring)
                    .await
                    .unwrap();
            }
        })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tasks::get(&a.store, &busy.id).is_err() {
        assert!(tokio::time::Instant::now() < deadline, "A never pulled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Another process: its own store on A's file, whose writes A's store is not told about.
    let other_process = flightdeck_core::Store::open(&a.path).unwrap();
    let task = tasks::create(
        &other_process,
        NewTask {
            title: "Written by another process".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tasks::get(&b.store, &task.id).is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the other process's task never reached B while announcements kept coming"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_tx.send(()).unwrap();
    flood.await.unwrap();
    a_daemon.await.unwrap().unwrap();
}
