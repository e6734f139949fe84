//! Last write wins (issue 19): between two edits of one column the later one wins on every
//! device and on the server, however often the other device edited, and an edit made after
//! seeing another wins whatever the clocks say.

use flightdeck_core::store::SqlValue;
use flightdeck_core::sync::account;
use flightdeck_core::tasks;
use flightdeck_tests::sync_rig::{server_cells, Device, Server};
use flightdeck_types::NewTask;

use super::{join, start_server, sync, title};

/// A task titled `title`, made on `device`.
pub(super) fn new_task(device: &Device, title: &str) -> flightdeck_types::Task {
    let input = NewTask {
        title: title.into(),
        ..Default::default()
    };
    tasks::create(&device.store, input).unwrap()
}

/// Checks that `devices`, a device joined afterwards and the server all hold `expected` as
/// the title of `id`, the workspace's only task.
async fn assert_title_everywhere(server: &Server, devices: &[&Device], id: &str, expected: &str) {
    let everywhere = titles_everywhere(server, devices, id).await;
    let (on_devices, on_server) = everywhere.split_at(everywhere.len() - 1);
    assert!(
        on_devices.iter().all(|t| t == expected),
        "devices, then one joined afterwards: {on_devices:?} (expected {expected})"
    );
    assert!(
        on_server[0].contains(expected),
        "the server holds {} (expected {expected})",
        on_server[0]
    );
}

/// The title every device, a device joined afterwards, and the server hold for `id`, the
/// workspace's only task.
async fn titles_everywhere(server: &Server, devices: &[&Device], id: &str) -> Vec<String> {
    let late = join(server).await;
    sync(&late).await;
    let mut titles: Vec<String> = devices
        .iter()
        .copied()
        .chain(std::iter::once(&late))
        .map(|d| tasks::get(&d.store, id).unwrap().title)
        .collect();
    // The workspace has this one task.
    let on_server: Vec<String> = server_cells(&late.store)
        .await
        .into_iter()
        .filter(|(table, _, cid, ..)| table == "tasks" && cid == "title")
        .map(|(.., value, _, _)| value)
        .collect();
    assert_eq!(on_server.len(), 1, "one title cell on the server");
    titles.push(on_server[0].clone());
    titles
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_later_of_two_offline_edits_wins_however_often_the_other_device_edited() {
    let server = start_server().await;
    let (a, b) = (join(&server).await, join(&server).await);
    let task = new_task(&a, "Shared");
    sync(&a).await;
    sync(&b).await;

    // Both offline: A edits the title three times, B once, later. Before clocks, A's three
    // edits gave its cell the higher version and A won everywhere.
    for text in ["A first", "A second", "A third"] {
        tasks::update(&a.store, &task.id, title(text)).unwrap();
    }
    flightdeck_core::clock::next_millisecond();
    tasks::update(&b.store, &task.id, title("B, later")).unwrap();

    sync(&b).await;
    let a_round = sync(&a).await;
    sync(&b).await;

    assert_title_everywhere(&server, &[&a, &b], &task.id, "B, later").await;
    assert!(a_round.conflicts >= 1);
    let conflicts = a.store.conflicts().unwrap();
    assert!(
        conflicts.iter().any(|c| c.column == "title"
            && c.local_value == SqlValue::Text("A third".into())
            && c.remote_value == SqlValue::Text("B, later".into())),
        "A's value is in A's conflict log: {conflicts:?}"
    );
}

/// B, its clock `behind_ms` behind A's, sees A's edit and then edits: B's edit wins on every
/// device and the server.
async fn an_edit_after_seeing_another_wins_with_a_clock_behind(behind_ms: i64) {
    let server = start_server().await;
    let (a, b) = (join(&server).await, join(&server).await);
    b.store.skew_clock_for_tests(-behind_ms);
    let task = new_task(&a, "Shared");
    tasks::update(&a.store, &task.id, title("A's edit")).unwrap();
    sync(&a).await;
    sync(&b).await;
    assert_eq!(tasks::get(&b.store, &task.id).unwrap().title, "A's edit");

    // B's clock reads before A's edit, but B has seen it.
    tasks::update(&b.store, &task.id, title("B's, after seeing A's")).unwrap();
    sync(&b).await;
    sync(&a).await;

    assert_title_everywhere(&server, &[&a, &b], &task.id, "B's, after seeing A's").await;
}

/// Within the clock bound nothing corrects B's clock: only causality makes its edit win.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_made_after_seeing_another_wins_on_a_device_whose_clock_is_4_minutes_behind() {
    an_edit_after_seeing_another_wins_with_a_clock_behind(4 * 60 * 1000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_made_after_seeing_another_wins_on_a_device_whose_clock_is_10_minutes_behind() {
    an_edit_after_seeing_another_wins_with_a_clock_behind(10 * 60 * 1000).await;
}

const HOUR_MS: i64 = 3_600_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_whose_clock_runs_an_hour_ahead_does_not_win_a_later_edit_and_is_told() {
    let server = start_server().await;
    let (a, fast) = (join(&server).await, join(&server).await);
    fast.store.skew_clock_for_tests(HOUR_MS);
    let task = new_task(&a, "Shared");
    sync(&a).await;
    // The round reads the server's clock: this device's is an hour ahead.
    sync(&fast).await;
    let notice = account::status(&fast.store).unwrap().clock_notice;
    assert!(
        notice
            .as_deref()
            .is_some_and(|n| n.contains("1 h 0 min ahead of the sync server's")),
        "{notice:?}"
    );
    assert_eq!(account::status(&a.store).unwrap().clock_notice, None);
    // What `sync status` does when the server answers: read the device list. It names the
    // fast device.
    account::refresh_devices(&a.store, &flightdeck_tests::sync_rig::keyring())
        .await
        .unwrap();
    let notice = account::status(&a.store).unwrap().clock_notice;
    let fast_site = &fast.store.device_id()[..8];
    assert!(
        notice.as_deref().is_some_and(|n| n.contains(&format!(
            "({fast_site})'s clock is 1 h 0 min ahead of the sync server's"
        ))),
        "{notice:?}"
    );
    assert!(!notice.unwrap().contains("this device's clock"));

    // Apart: the fast device edits, then A, later. By the fast clock, its edit would be an
    // hour later than A's and win.
    tasks::update(&fast.store, &task.id, title("fast clock's edit")).unwrap();
    flightdeck_core::clock::next_millisecond();
    tasks::update(&a.store, &task.id, title("A's edit, later")).unwrap();
    sync(&fast).await;
    sync(&a).await;
    sync(&fast).await;

    assert_title_everywhere(&server, &[&a, &fast], &task.id, "A's edit, later").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_made_after_the_clock_jumped_ahead_are_stamped_anew_when_the_server_refuses_them() {
    let server = start_server().await;
    let jumped = join(&server).await;
    let task = new_task(&jumped, "Before the jump");
    sync(&jumped).await;
    // The clock jumps an hour ahead while offline: the device does not know yet.
    jumped.store.skew_clock_for_tests(HOUR_MS);
    tasks::update(&jumped.store, &task.id, title("after the jump")).unwrap();
    let before = flightdeck_core::clock::now_millis();
    let report = sync(&jumped).await;
    assert!(report.pushed_cells > 0);
    assert_eq!(
        account::status(&jumped.store).unwrap().pending_cells,
        0,
        "everything was pushed"
    );
    let late = join(&server).await;
    sync(&late).await;
    assert_eq!(
        tasks::get(&late.store, &task.id).unwrap().title,
        "after the jump"
    );
    // What the server holds is stamped with the server's time, not an hour ahead.
    let stamped = server_cells(&late.store)
        .await
        .into_iter()
        .find(|(table, _, cid, ..)| table == "tasks" && cid == "title")
        .map(|(.., col_version, _)| col_version >> flightdeck_types::sync::CLOCK_LOGICAL_BITS)
        .unwrap();
    let after = flightdeck_core::clock::now_millis();
    assert!(
        (before..=after).contains(&stamped),
        "stamped at {stamped}, pushed between {before} and {after}"
    );
    assert!(account::status(&jumped.store)
        .unwrap()
        .clock_notice
        .is_some());
}
