//! Large pushes: a transaction over the request limit goes in parts, a backlog of many
//! batches goes whole, and one pushed behind another device's push is acknowledged only
//! after pulling that push.

use flightdeck_core::store::Origin;
use flightdeck_core::tasks;
use flightdeck_tests::sync_rig::Device;
use flightdeck_types::{NewTask, Task};

use super::{all_tasks, join, start_server, sync, title};

/// One local transaction larger than the server's request limit (here 120 tasks with the
/// longest description allowed, about 12 MB) is pushed in parts and arrives whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_larger_than_the_request_limit_is_pushed_in_parts() {
    use flightdeck_types::sync::MAX_REQUEST_BYTES;
    use flightdeck_types::validate::MAX_TEXT_CHARS;

    let server = start_server().await;
    let (a, b) = (join(&server).await, join(&server).await);
    let template = tasks::create(
        &a.store,
        NewTask {
            title: "Template".into(),
            description: Some("d".repeat(MAX_TEXT_CHARS)),
            ..Default::default()
        },
    )
    .unwrap();
    let copies: Vec<Task> = (0..120)
        .map(|n| Task {
            id: flightdeck_core::ids::new_id(),
            title: format!("Copy {n}"),
            description: format!("{n:03}{}", "d".repeat(MAX_TEXT_CHARS - 3)),
            ..template.clone()
        })
        .collect();
    assert!(copies.len() * MAX_TEXT_CHARS > MAX_REQUEST_BYTES);
    a.store
        .write(|w| {
            for task in &copies {
                flightdeck_core::store::tasks::insert(w, task)?;
            }
            Ok(())
        })
        .unwrap();

    let pushed = sync(&a).await;
    assert!(pushed.pushed_cells > copies.len(), "{pushed:?}");
    sync(&b).await;
    let on_b = all_tasks(&b);
    assert_eq!(on_b.len(), copies.len() + 1);
    for task in &copies {
        let got = on_b.iter().find(|t| t.id == task.id).expect("every copy");
        assert_eq!(
            (&got.title, &got.description),
            (&task.title, &task.description)
        );
    }
    // Nothing is left to push, and a second round sends nothing again.
    assert_eq!(sync(&a).await.pushed_cells, 0);
}

/// A template task and 2,400 copies of it in 24 transactions (more than three push batches);
/// returns the copies.
fn write_backlog(device: &Device) -> Vec<Task> {
    let template = tasks::create(
        &device.store,
        NewTask {
            title: "Template".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let mut written = Vec::new();
    for round in 0..24 {
        let tasks: Vec<Task> = (0..100)
            .map(|n| Task {
                id: flightdeck_core::ids::new_id(),
                title: format!("Backlog {round}-{n}"),
                ..template.clone()
            })
            .collect();
        device
            .store
            .write(|w| {
                for task in &tasks {
                    flightdeck_core::store::tasks::insert(w, task)?;
                }
                Ok(())
            })
            .unwrap();
        written.extend(tasks);
    }
    written
}

/// A backlog pushed after another device pushed: the other's change is pulled against the
/// still unacknowledged local values (so the edit it beat is in the conflict log) before the
/// push is acknowledged, and every cell arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_pushed_behind_another_device_is_acknowledged_after_pulling_its_change() {
    let server = start_server().await;
    let (a, b) = (join(&server).await, join(&server).await);
    let shared = tasks::create(
        &b.store,
        NewTask {
            title: "Shared".into(),
            ..Default::default()
        },
    )
    .unwrap();
    sync(&b).await;
    sync(&a).await;
    tasks::update(&a.store, &shared.id, title("A's edit")).unwrap();
    let written = write_backlog(&a);
    flightdeck_core::clock::next_millisecond();
    tasks::update(&b.store, &shared.id, title("B's later edit")).unwrap();
    sync(&b).await;

    let round = sync(&a).await;
    assert!(round.pushed_cells > 3 * flightdeck_core::sync::client::PUSH_BATCH_CELLS);
    assert!(round.pulled_cells > 0, "B's edit is pulled: {round:?}");
    assert!(
        round.conflicts >= 1,
        "A's edit, overwritten, is logged: {round:?}"
    );
    assert!(a
        .store
        .conflicts()
        .unwrap()
        .iter()
        .any(|c| c.column == "title" && format!("{:?}", c.local_value).contains("A's edit")));
    assert_eq!(
        tasks::get(&a.store, &shared.id).unwrap().title,
        "B's later edit"
    );
    assert_eq!(round.local_cursor, round.server_head);
    assert_eq!(
        sync(&a).await.pushed_cells,
        0,
        "the whole push was acknowledged"
    );
    sync(&b).await;
    assert_eq!(all_tasks(&b).len(), written.len() + 2);
    assert_eq!(all_tasks(&a), all_tasks(&b));
}

/// Many transactions, more than one push batch of them: each batch is read while the one
/// before is on the wire, and every cell arrives, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_many_batches_is_pushed_whole() {
    use flightdeck_core::sync::client::PUSH_BATCH_CELLS;

    let server = start_server().await;
    let (a, b) = (join(&server).await, join(&server).await);
    let written = write_backlog(&a);
    let local_cells = a.store.changes_since(0, Origin::Any).unwrap().len();
    assert!(local_cells > 3 * PUSH_BATCH_CELLS, "{local_cells} cells");

    let pushed = sync(&a).await;
    assert_eq!(pushed.pushed_cells, local_cells, "every cell once");
    assert!(pushed.server_head >= 3, "in several batches: {pushed:?}");
    sync(&b).await;
    let on_b = all_tasks(&b);
    assert_eq!(on_b.len(), written.len() + 1);
    for task in &written {
        let got = on_b.iter().find(|t| t.id == task.id).expect("every task");
        assert_eq!(got.title, task.title);
    }
    assert_eq!(sync(&a).await.pushed_cells, 0);
}
