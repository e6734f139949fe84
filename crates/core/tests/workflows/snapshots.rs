//! Snapshots time travel can trust: every committed checkpoint of a run (watched live while
//! it runs) is exactly what its snapshots rebuild at that boundary, for runs that succeed
//! (with a retried step and a fan-out), fail, are cancelled, paused under a timeout, and
//! rerun; and each attempt of a step keeps its own run, start, end and outcome.

use std::collections::BTreeMap;
use std::time::Duration;

use flightdeck_core::workflows;
use flightdeck_types::{Checkpoint, ExecutionStatus, StepStatus, WorkflowRunStatus};

use super::rig::WfRig;

/// Reads run `id` until it ends, keeping each committed checkpoint by its boundary count;
/// `act` runs at each look (to pause, resume or cancel at some point).
fn watch(
    rig: &WfRig,
    id: &str,
    mut act: impl FnMut(&flightdeck_types::WorkflowRun),
) -> BTreeMap<u32, Checkpoint> {
    let mut seen = BTreeMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let run = workflows::get_run(&rig.store, id).unwrap();
        seen.insert(run.checkpoint.boundaries, run.checkpoint.clone());
        if run.status.is_final() {
            return seen;
        }
        act(&run);
        assert!(std::time::Instant::now() < deadline, "run {id} never ended");
        std::thread::sleep(Duration::from_millis(2)); // a poll interval, not a wait
    }
}

/// Every watched checkpoint equals the rebuilt one at its boundary; returns how many were.
fn assert_rebuilt(rig: &WfRig, id: &str, seen: &BTreeMap<u32, Checkpoint>) -> usize {
    let snapshots = workflows::snapshots(&rig.store, id).unwrap();
    let last = workflows::get_run(&rig.store, id).unwrap();
    assert_eq!(snapshots.len() as u32, last.checkpoint.boundaries);
    for (boundaries, live) in seen {
        let rebuilt = &snapshots[*boundaries as usize - 1];
        assert_eq!(
            &rebuilt.checkpoint, live,
            "run {id}: boundary {} ({}) does not rebuild to the checkpoint the run had",
            rebuilt.seq, rebuilt.label
        );
    }
    seen.len()
}

#[test]
fn every_boundary_rebuilds_to_the_checkpoint_the_run_had() {
    let rig = WfRig::start();
    let marker = rig.path("tried");
    rig.apply(&format!(
        "name: ok\nsteps:\n  - id: a\n    shell: sleep 0.1\n  - id: flaky\n    needs: a\n    retry: {{ max_attempts: 2, base_delay_ms: 10 }}\n    shell: test -e {m} || {{ touch {m}; sleep 0.1; exit 3; }}\n  - id: each\n    needs: flaky\n    foreach: [1, 2, 3]\n    shell: sleep 0.05\n  - id: last\n    needs: each\n    shell: echo done\n",
        m = marker.display()
    ));
    rig.apply("name: bad\nsteps:\n  - id: a\n    shell: sleep 0.1; exit 2\n  - id: b\n    needs: a\n    shell: echo never\n  - id: c\n    shell: sleep 0.3\n  - id: tidy\n    if: always\n    needs: [b, c]\n    shell: echo tidy\n");
    rig.apply("name: stop\nsteps:\n  - id: a\n    shell: sleep 30\n  - id: b\n    needs: a\n    shell: echo never\n");
    rig.apply("name: held\ntimeout: 60\nsteps:\n  - id: a\n    shell: sleep 0.3\n  - id: b\n    needs: a\n    shell: echo b\n");

    let ok = rig.start_run("ok", &[]);
    let seen = watch(&rig, &ok.id, |_| {});
    let done = workflows::get_run(&rig.store, &ok.id).unwrap();
    assert_eq!(
        done.status,
        WorkflowRunStatus::Succeeded,
        "{:?}",
        done.error
    );
    assert!(
        assert_rebuilt(&rig, &ok.id, &seen) >= 4,
        "{} states seen",
        seen.len()
    );

    // Each attempt keeps its own run, times and outcome, and the retry's boundary names
    // the attempt that failed.
    let flaky = &done.checkpoint.steps["flaky"];
    assert_eq!(flaky.attempts.len(), 2);
    let (first, second) = (&flaky.attempts[0], &flaky.attempts[1]);
    assert_eq!((first.attempt, first.status), (1, ExecutionStatus::Failed));
    assert_eq!(
        (second.attempt, second.status),
        (2, ExecutionStatus::Succeeded)
    );
    assert_ne!(first.execution_id, second.execution_id);
    assert!(first.finished_at.unwrap() <= second.started_at.unwrap());
    let snapshots = workflows::snapshots(&rig.store, &ok.id).unwrap();
    let retrying = snapshots
        .iter()
        .find(|s| s.label == "retrying")
        .expect("a retrying boundary");
    assert_eq!(
        retrying.execution_id.as_deref(),
        Some(first.execution_id.as_str())
    );
    assert_eq!(Some(retrying.started_at), first.started_at);
    assert_eq!(retrying.finished_at, first.finished_at);
    let ended = snapshots
        .iter()
        .find(|s| s.step_id.as_deref() == Some("flaky") && s.label == "succeeded")
        .unwrap();
    assert_eq!(
        ended.execution_id.as_deref(),
        Some(second.execution_id.as_str())
    );
    assert_eq!(Some(ended.started_at), second.started_at);

    let bad = rig.start_run("bad", &[]);
    let seen = watch(&rig, &bad.id, |_| {});
    assert_eq!(
        workflows::get_run(&rig.store, &bad.id).unwrap().status,
        WorkflowRunStatus::Failed
    );
    assert_rebuilt(&rig, &bad.id, &seen);

    let stop = rig.start_run("stop", &[]);
    let mut asked = false;
    let seen = watch(&rig, &stop.id, |run| {
        if !asked && run.checkpoint.steps["a"].status == StepStatus::Running {
            workflows::cancel(&rig.store, &stop.id).unwrap();
            asked = true;
        }
    });
    assert_eq!(
        workflows::get_run(&rig.store, &stop.id).unwrap().status,
        WorkflowRunStatus::Cancelled
    );
    assert_rebuilt(&rig, &stop.id, &seen);

    // Paused and resumed under a timeout: the deadline moves, and the rebuilt one with it.
    let held = rig.start_run("held", &[]);
    let (mut paused, mut resumed) = (false, false);
    let seen = watch(&rig, &held.id, |run| {
        if !paused && run.checkpoint.steps["a"].status == StepStatus::Running {
            workflows::pause(&rig.store, &held.id).unwrap();
            paused = true;
        } else if paused && !resumed && run.status == WorkflowRunStatus::Paused {
            workflows::resume(&rig.store, &held.id).unwrap();
            resumed = true;
        }
    });
    assert!(resumed);
    assert_rebuilt(&rig, &held.id, &seen);

    let again = workflows::rerun_from(&rig.store, &ok.id, "each").unwrap();
    let seen = watch(&rig, &again.id, |_| {});
    assert_eq!(
        workflows::get_run(&rig.store, &again.id).unwrap().status,
        WorkflowRunStatus::Succeeded
    );
    assert_rebuilt(&rig, &again.id, &seen);
}
