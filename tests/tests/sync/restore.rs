//! Restore to a point in time across devices: the restored state is ordinary changes, so it
//! reaches another device through the real sync server and both end equal.

use flightdeck_core::restore::{self, Scope};
use flightdeck_core::{clock, tasks};
use flightdeck_types::{NewTask, TaskStatus, Timestamp};

use super::{all_tasks, join, start_server, sync, title};

/// An instant after every write so far, once the clock has moved past it.
fn instant_after(t: Timestamp) -> Timestamp {
    let wait = |after: Timestamp| loop {
        let now = clock::now();
        if now > after {
            return now;
        }
        std::thread::yield_now();
    };
    let instant = wait(t);
    wait(instant);
    instant
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_on_one_device_reaches_the_other_through_the_server() {
    let server = start_server().await;
    let (a, b) = (join(&server).await, join(&server).await);
    let new = |title: &str| NewTask {
        title: title.into(),
        ..Default::default()
    };
    let kept = tasks::create(&a.store, new("kept")).unwrap();
    let doomed = tasks::create(&a.store, new("deleted later")).unwrap();
    sync(&a).await;
    sync(&b).await;
    let then = instant_after(doomed.updated_at);
    let before: Vec<_> = all_tasks(&a)
        .into_iter()
        .map(|t| (t.id, t.title, t.status))
        .collect();

    // Changes after the instant, on both devices.
    tasks::update(&a.store, &kept.id, title("renamed on A")).unwrap();
    tasks::delete(&b.store, &doomed.id).unwrap();
    for i in 0..20 {
        tasks::create(&b.store, new(&format!("added on B {i}"))).unwrap();
    }
    let done = flightdeck_types::TaskPatch {
        status: Some(TaskStatus::Done),
        ..Default::default()
    };
    tasks::update(&b.store, &kept.id, done).unwrap();
    sync(&a).await;
    sync(&b).await;
    sync(&a).await;
    assert_eq!(all_tasks(&a).len(), 21);

    let report = restore::restore(&a.store, Scope::Workspace, then, false).unwrap();
    assert_eq!(report.changes.len(), 22, "{:?}", report.changes);
    sync(&a).await;
    sync(&b).await;
    let on = |d: &flightdeck_tests::sync_rig::Device| -> Vec<_> {
        all_tasks(d)
            .into_iter()
            .map(|t| (t.id, t.title, t.status))
            .collect()
    };
    assert_eq!(on(&a), before);
    assert_eq!(
        on(&b),
        before,
        "the other device converges on the restored state"
    );
}
