//! Adopting a run whose device stopped answering: refused while that device's lease holds,
//! refused while this device does not trust the one that wrote it, then the run moves here
//! and finishes; a device back after its lease lapsed holds its runs until it has synced.

use flightdeck_core::runs::settings::{self, RunnerSettings};
use flightdeck_core::workflows::{self, driver, lease};
use flightdeck_core::{trust, Store};
use flightdeck_types::WorkflowRunStatus;

use super::common::ship;
use super::rig::{until, WfRig};

fn short_lease(store: &Store) {
    settings::set_settings(
        store,
        RunnerSettings {
            workflow_lease_secs: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
}

#[test]
fn a_run_is_adopted_once_its_devices_lease_lapsed_and_its_writer_is_trusted() {
    let (a, b) = (WfRig::idle(), WfRig::start());
    short_lease(&a.store);
    a.apply("name: far\nsteps:\n  - id: one\n    shell: echo one\n");
    let run = a.start_run("far", &[]);
    lease::renew(&a.store).unwrap();
    ship(&a.store, &b.store);

    let early = lease::adopt(&b.store, &run.id).unwrap_err().to_string();
    assert!(
        early.contains("it can be adopted once that device's lease lapses, in 1 s"),
        "{early}"
    );
    let note = lease::note(&b.store, &workflows::get_run(&b.store, &run.id).unwrap()).unwrap();
    assert_eq!(note, None, "nothing to say while the lease holds");
    let untrusted = until("A's lease to lapse", || {
        let err = lease::adopt(&b.store, &run.id).unwrap_err().to_string();
        (!err.contains("lease lapses")).then_some(err)
    });
    assert!(
        untrusted.contains(a.store.device_id())
            && untrusted.contains("adopting the run would run its steps here"),
        "{untrusted}"
    );
    let seen = workflows::get_run(&b.store, &run.id).unwrap();
    let note = lease::note(&b.store, &seen).unwrap().unwrap();
    assert!(
        note.contains("stopped answering") && note.contains("workflow adopt"),
        "{note}"
    );

    trust::trust(&b.store, a.store.device_id()).unwrap();
    let adopted = lease::adopt(&b.store, &run.id).unwrap();
    assert_eq!(adopted.device_id.as_deref(), Some(b.store.device_id()));
    let done = b.finished(&run.id);
    assert_eq!(
        done.status,
        WorkflowRunStatus::Succeeded,
        "{:?}",
        done.error
    );
    let labels: Vec<String> = workflows::snapshots(&b.store, &run.id)
        .unwrap()
        .into_iter()
        .map(|s| s.label)
        .collect();
    assert!(labels.contains(&"adopted".to_string()), "{labels:?}");
    let again = lease::adopt(&b.store, &run.id).unwrap_err().to_string();
    assert!(again.contains("already ended"), "{again}");
}

#[test]
fn a_device_back_after_its_lease_lapsed_holds_its_runs_until_it_synced() {
    let a = WfRig::idle();
    short_lease(&a.store);
    a.apply("name: mine\nsteps:\n  - id: one\n    shell: echo one\n");
    let run = a.start_run("mine", &[]);
    lease::renew(&a.store).unwrap();
    let now = || flightdeck_core::clock::now_millis().to_string();
    a.store
        .set_sync_state(&[
            ("server.url", "http://127.0.0.1:9"),
            ("last_sync_at", &now()),
        ])
        .unwrap();
    until("the lease to lapse", || {
        lease::held(&a.store).unwrap().then_some(())
    });

    driver::tick(&a.store).unwrap();
    let still = workflows::get_run(&a.store, &run.id).unwrap();
    assert_eq!(
        still.status,
        WorkflowRunStatus::Queued,
        "a held run was moved"
    );
    assert!(lease::note(&a.store, &still)
        .unwrap()
        .unwrap()
        .starts_with("held:"));

    // A sync after the lapse: nothing was adopted, so the run is this device's to run.
    a.store.set_sync_state(&[("last_sync_at", &now())]).unwrap();
    assert!(!lease::held(&a.store).unwrap());
    driver::tick(&a.store).unwrap();
    let moved = workflows::get_run(&a.store, &run.id).unwrap();
    assert_eq!(moved.status, WorkflowRunStatus::Running);
}
