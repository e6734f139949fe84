//! `flightdeck sync leave` (issue 21, item 10: the engine half of the Sync view's Leave)
//! against the real server: the server revokes the device's token, the keyring loses it, the
//! workspace forgets the server, a daemon syncing it stops; the data stays, and joining again
//! pushes what never reached the server.

use std::sync::Arc;
use std::time::Duration;

use flightdeck_core::secrets::SecretStore;
use flightdeck_core::sync::client::SyncClient;
use flightdeck_core::sync::daemon::DaemonOptions;
use flightdeck_core::{tasks, Store};
use flightdeck_tests::poll::until_async;
use flightdeck_tests::sync_rig::{keyring, server_binary, spawn_daemon_observed, Rounds, Server};
use flightdeck_types::NewTask;

use super::{flightdeck, json};

/// The keyring entry of the device token (`sync/<site id>`, as `sync join` stores it).
fn token_of(data: &std::path::Path) -> Option<String> {
    let store = Store::open_workspace(Some(data), "default").unwrap();
    keyring()
        .get(&format!("sync/{}", store.device_id()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_revokes_the_token_forgets_the_server_and_keeps_the_data() {
    let server = Server::start(server_binary("debug")).await;
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (a.path(), b.path());
    for data in [a, b] {
        json(data, &["sync", "join", &server.url, &server.join_token]);
    }
    json(a, &["task", "add", "Pushed before leaving"]);
    json(a, &["sync", "now"]);
    let token = token_of(a).expect("the device token in the keyring");

    // A daemon syncing the workspace in another process stops once it leaves. It runs its
    // first round, then no other until something in its own process writes (it would push
    // the task below before the leave counts it, as it did under load with a 200 ms pull).
    let store = Arc::new(Store::open_workspace(Some(a), "default").unwrap());
    let (_stop, stop_rx) = tokio::sync::broadcast::channel(1);
    let options = DaemonOptions {
        pull_interval: Duration::from_secs(3600),
        local_poll: Duration::from_secs(3600),
        ..Default::default()
    };
    let rounds = Arc::<Rounds>::default();
    let daemon = spawn_daemon_observed(store.clone(), options, stop_rx, rounds.clone());
    until_async("the daemon's first round", Duration::from_secs(20), || {
        Ok((rounds.counts().0 > 0).then_some(()))
    })
    .await;
    let kept = json(a, &["task", "add", "Written, never pushed"]);

    let left = json(a, &["sync", "leave"]);
    assert_eq!(left["server_url"], server.url.as_str(), "{left}");
    assert_eq!(left["server_error"], serde_json::Value::Null, "{left}");
    assert!(left["unpushed_cells"].as_u64().unwrap() > 0, "{left}");
    // A write in the daemon's process brings its next round now: it finds the workspace
    // left, and stops without sending anything.
    tasks::create(
        &store,
        NewTask {
            title: "Written after leaving".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(20), daemon)
        .await
        .expect("the daemon stops after the leave")
        .unwrap();
    assert!(stopped.is_ok(), "{stopped:?}");

    // The server refuses the old token; the keyring no longer holds it.
    let revoked = SyncClient::new(&server.url, &token).devices().await;
    let error = revoked.expect_err("the token is revoked").to_string();
    assert!(error.contains("revoked"), "{error}");
    assert_eq!(token_of(a), None);

    // Nothing to sync with, said in one line; nothing to leave twice; the data stays.
    let status = json(a, &["sync", "status"]);
    assert_eq!(status["joined"], false, "{status}");
    for args in [["sync", "now"], ["sync", "leave"]] {
        let out = flightdeck(a, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("has not joined"), "{stderr}");
    }
    let id = kept["id"].as_str().unwrap();
    assert_eq!(
        json(a, &["task", "show", id])["title"],
        "Written, never pushed"
    );

    // Joined again: what never reached the server does now, and the other device gets it.
    json(a, &["sync", "join", &server.url, &server.join_token]);
    json(a, &["sync", "now"]);
    json(b, &["sync", "now"]);
    assert_eq!(
        json(b, &["task", "show", id])["title"],
        "Written, never pushed"
    );
}
