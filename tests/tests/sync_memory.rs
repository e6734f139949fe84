//! Memories through the real sync server: a memory written on device A is found by meaning on
//! device B right after B's sync round, with no index step by hand; rounds that pull nothing
//! about memories leave the index alone; a broken index never fails the round. Uses the real
//! all-MiniLM-L6-v2 (`$FLIGHTDECK_MODEL_DIR`). Run under scripts/with-keyring.sh.

use flightdeck_core::memory::{self, embed::shared_default};
use flightdeck_core::tasks;
use flightdeck_tests::sync_rig::{server_binary, Device, Server};
use flightdeck_types::{MemoryFilter, NewMemory, NewTask, SearchMode};

fn note(content: &str) -> NewMemory {
    NewMemory {
        content: content.into(),
        ..Default::default()
    }
}

fn search(device: &Device, query: &str) -> flightdeck_types::MemorySearch {
    memory::search(
        &device.store,
        shared_default(),
        query,
        &MemoryFilter::default(),
        3,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_from_a_is_found_by_meaning_on_b_after_its_sync_round() {
    let server = Server::start(server_binary("debug")).await;
    let a = Device::join(&server, &server.join_token).await;
    let b = Device::join(&server, &server.join_token).await;
    let model = shared_default().expect("the all-MiniLM-L6-v2 model is installed");

    let camera = memory::add(
        &a.store,
        Some(model),
        note("The Android app crashes when the user denies camera permission."),
    )
    .unwrap();
    memory::add(
        &a.store,
        Some(model),
        note("Invoices are emailed on the first working day of the month."),
    )
    .unwrap();
    a.sync().await;

    let round = b.sync().await;
    assert!(round.pulled_memory_cells > 0, "{round:?}");
    assert_eq!(round.memories_indexed, 2, "{round:?}");
    let found = search(&b, "phone app closes when camera access is refused");
    assert_eq!(found.mode, SearchMode::Hybrid);
    assert_eq!(found.hits[0].memory.id, camera.id);
    assert_eq!(found.hits[0].vector_rank, Some(1), "found by meaning");

    // A round that pulls no memory cells does not touch the index.
    tasks::create(
        &a.store,
        NewTask {
            title: "Unrelated work".into(),
            ..Default::default()
        },
    )
    .unwrap();
    a.sync().await;
    let round = b.sync().await;
    assert!(round.pulled_cells > 0);
    assert_eq!(
        (round.pulled_memory_cells, round.memories_indexed),
        (0, 0),
        "{round:?}"
    );

    // Access counts change memory cells but not what is indexed: nothing is re-embedded.
    memory::record_access(&a.store, &camera.id).unwrap();
    a.sync().await;
    let round = b.sync().await;
    assert!(round.pulled_memory_cells > 0, "{round:?}");
    assert_eq!(round.memories_indexed, 0, "{round:?}");

    // Archiving on A reaches B's index at once: hidden by default, found with the flag.
    memory::archive(&a.store, &camera.id).unwrap();
    a.sync().await;
    let round = b.sync().await;
    assert_eq!(round.memories_indexed, 1, "{round:?}");
    let hidden = search(&b, "phone app closes when camera access is refused");
    assert!(hidden.hits.iter().all(|h| h.memory.id != camera.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_index_update_does_not_fail_the_round() {
    let server = Server::start(server_binary("debug")).await;
    let a = Device::join(&server, &server.join_token).await;
    let b = Device::join(&server, &server.join_token).await;
    let added = memory::add(&a.store, shared_default(), note("Standup is at 9:30.")).unwrap();
    a.sync().await;

    // Break B's local full-text index (derived data, not synced): indexing must fail there.
    b.store
        .write(|w| {
            w.execute_batch("DROP TABLE memory_fts")?;
            Ok(())
        })
        .unwrap();
    let round = b.sync().await;
    assert!(round.pulled_memory_cells > 0, "{round:?}");
    assert_eq!(round.memories_indexed, 0);
    assert_eq!(
        memory::get(&b.store, &added.id).unwrap().content,
        "Standup is at 9:30.",
        "the pulled row is stored all the same"
    );
}
