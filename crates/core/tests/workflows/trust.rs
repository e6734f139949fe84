//! A workflow whose definition another device wrote runs no step on this device until that
//! device is trusted; this device's own definitions always run.

use flightdeck_core::trust;
use flightdeck_types::WorkflowRunStatus;

use super::common::ship;
use super::rig::WfRig;

#[test]
fn steps_of_a_definition_another_device_wrote_are_refused_until_it_is_trusted() {
    let b = WfRig::start();
    let a = WfRig::idle();
    let marker = b.path("ran");
    a.apply(&format!(
        "name: remote\nsteps:\n  - id: only\n    shell: touch '{}'\n",
        marker.display()
    ));
    b.apply("name: local\nsteps:\n  - id: only\n    shell: 'true'\n");
    ship(&a.store, &b.store);

    let run = b.start_run("remote", &[]);
    assert_eq!(b.finished(&run.id).status, WorkflowRunStatus::Failed);
    let step = b.step_run(&run.id, "only");
    let error = step.error.unwrap();
    assert!(error.contains(a.store.device_id()), "{error}");
    assert!(error.contains("workflows.definition"), "{error}");
    assert!(!marker.exists(), "a step of A's definition ran");

    let own = b.start_run("local", &[]);
    assert_eq!(b.finished(&own.id).status, WorkflowRunStatus::Succeeded);

    trust::trust(&b.store, a.store.device_id()).unwrap();
    let run = b.start_run("remote", &[]);
    assert_eq!(b.finished(&run.id).status, WorkflowRunStatus::Succeeded);
    assert!(marker.exists());
}
