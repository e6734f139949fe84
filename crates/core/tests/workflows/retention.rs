//! Retention (time travel, issue 33): the history of runs that ended before the cut is
//! pruned (their events, a workflow run's snapshots), their rows and ends are kept, replay
//! says so, and a second pass or a later cut prunes nothing.

use flightdeck_core::replay::{self, Instant};
use flightdeck_core::{retention, runs, workflows};
use flightdeck_types::WorkflowRunStatus;

use super::rig::WfRig;

#[test]
fn history_past_the_cut_is_pruned_and_replay_says_so() {
    let rig = WfRig::start();
    let plain = rig.plain_run("echo kept-only-until-pruned");
    rig.apply("name: short\nsteps:\n  - id: a\n    shell: echo a\n  - id: b\n    needs: a\n    shell: echo b\n");
    let run = rig.finished(&rig.start_run("short", &[]).id);
    assert_eq!(run.status, WorkflowRunStatus::Succeeded);
    let far_future = replay::at(
        &rig.store,
        &plain,
        Instant::At(flightdeck_types::Timestamp(i64::MAX / 2)),
        10,
    )
    .unwrap();
    assert!(!far_future.pruned && !far_future.log.is_empty());

    // Kept for a day: nothing that ended just now goes.
    assert_eq!(
        retention::prune(&rig.store, 1).unwrap(),
        retention::Pruned::default()
    );

    let pruned = retention::prune(&rig.store, 0).unwrap();
    assert_eq!(pruned.workflow_runs, 1);
    assert_eq!(pruned.runs, 3, "the plain run and the two step runs");
    let events = runs::events(&rig.store, &plain, 0, 100).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "pruned");
    assert_eq!(
        runs::get(&rig.store, &plain).unwrap().status.as_str(),
        "succeeded"
    );

    let state = replay::at(
        &rig.store,
        &plain,
        Instant::At(flightdeck_types::Timestamp(i64::MAX / 2)),
        10,
    )
    .unwrap();
    assert!(state.pruned && state.log.is_empty());
    assert_eq!(state.status, "succeeded");
    let state = replay::at(
        &rig.store,
        &run.id,
        Instant::At(flightdeck_types::Timestamp(i64::MAX / 2)),
        10,
    )
    .unwrap();
    assert!(state.pruned);
    assert_eq!((state.status.as_str(), state.marks), ("succeeded", 1));
    assert_eq!(state.steps.len(), 2, "the final checkpoint is kept whole");
    let snapshots = workflows::snapshots(&rig.store, &run.id).unwrap();
    assert_eq!(snapshots.len(), 1);
    assert_eq!(snapshots[0].label, "pruned");

    assert_eq!(
        retention::prune(&rig.store, 0).unwrap(),
        retention::Pruned::default()
    );
}
