//! Versions under sync: two devices that apply different files under one name while offline
//! both keep both, distinct and unchanged, resolve the name the same way, and a run pinned to
//! one of them runs exactly that one.

use flightdeck_core::workflows::{self, Format};
use flightdeck_types::WorkflowRunStatus;

use super::common::exchange;
use super::rig::WfRig;

const V1: &str = "name: w\nsteps:\n  - id: a\n    shell: echo one\n";
// B's file sorts after A's, so a last-writer-wins merge of one row would keep B's.
const ON_A: &str = "name: w\nsteps:\n  - id: a\n    shell: echo from-a\n";
const ON_B: &str = "name: w\nsteps:\n  - id: a\n    shell: echo from-b\n";

fn summary(rig: &WfRig) -> Vec<(u32, String, String)> {
    workflows::versions(&rig.store, "w")
        .unwrap()
        .into_iter()
        .map(|w| {
            (
                w.version,
                w.id,
                serde_json::to_string(&w.definition).unwrap(),
            )
        })
        .collect()
}

#[test]
fn versions_applied_offline_on_two_devices_are_all_kept_and_a_run_runs_its_own() {
    let mut a = WfRig::idle();
    let b = WfRig::idle();
    workflows::apply(&a.store, V1, Format::Yaml).unwrap();
    exchange(&a.store, &b.store);

    // Offline: each applies its own v2; A starts a run of its v2 (queued, pinned).
    let on_a = workflows::apply(&a.store, ON_A, Format::Yaml)
        .unwrap()
        .workflow;
    let on_b = workflows::apply(&b.store, ON_B, Format::Yaml)
        .unwrap()
        .workflow;
    assert_eq!((on_a.version, on_b.version), (2, 2));
    assert_ne!(on_a.id, on_b.id);
    let run = a.start_run("w", &[]);
    exchange(&a.store, &b.store);

    // Both devices hold all three definitions, unchanged, in the same order.
    let seen = summary(&a);
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen, summary(&b));
    assert!(seen.iter().any(|(v, id, _)| *v == 2 && *id == on_a.id));
    assert!(seen.iter().any(|(v, id, _)| *v == 2 && *id == on_b.id));
    let kept = workflows::versions(&b.store, "w").unwrap();
    let a_there = kept.iter().find(|w| w.id == on_a.id).unwrap();
    assert_eq!(
        a_there.definition, on_a.definition,
        "A's v2 is A's file on B too"
    );
    let b_there = kept.iter().find(|w| w.id == on_b.id).unwrap();
    assert_eq!(b_there.definition, on_b.definition);
    // The name resolves to the same version everywhere, and one workflow is listed.
    let newest = workflows::show(&a.store, "w", None).unwrap();
    assert_eq!(newest, workflows::show(&b.store, "w", None).unwrap());
    assert_eq!(workflows::list(&a.store).unwrap().len(), 1);
    assert_eq!(workflows::list(&b.store).unwrap().len(), 1);

    // The run A started runs A's v2, not the version the name resolves to now.
    a.run_worker();
    let done = a.finished(&run.id);
    assert_eq!(
        done.status,
        WorkflowRunStatus::Succeeded,
        "{:?}",
        done.error
    );
    let step = a.step_run(&run.id, "a");
    assert_eq!(a.stdout(&step.id), ["from-a"]);

    // The next apply anywhere is v3.
    let v3 = "name: w\nsteps:\n  - id: a\n    shell: echo three\n";
    assert_eq!(
        workflows::apply(&b.store, v3, Format::Yaml)
            .unwrap()
            .workflow
            .version,
        3
    );
}
