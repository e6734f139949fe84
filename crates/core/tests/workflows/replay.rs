//! Replay (time travel, issue 33): a run at any instant is the state it had then. States are
//! recorded live while a workflow with parallel steps runs, then compared with the replay at
//! each one's boundary and instant; before the first mark and after the last; a plain run's
//! status and log at its own instants.

use std::collections::BTreeMap;
use std::time::Duration;

use flightdeck_core::replay::{self, Instant};
use flightdeck_core::{runs, workflows};
use flightdeck_types::{ReplayState, StepStatus, Timestamp};

use super::rig::WfRig;

fn statuses(state: &ReplayState) -> BTreeMap<String, StepStatus> {
    state
        .steps
        .iter()
        .map(|s| (s.id.clone(), s.status))
        .collect()
}

#[test]
fn a_workflow_run_replayed_at_any_instant_is_the_state_it_had_then() {
    let rig = WfRig::start();
    rig.apply("name: par\nconcurrency: 2\nsteps:\n  - id: a\n    shell: echo a-out; sleep 0.1\n  - id: b\n    needs: a\n    shell: echo b-out; sleep 0.15\n  - id: c\n    needs: a\n    shell: sleep 0.05; echo v=c >> \"$FLIGHTDECK_OUTPUT\"\n  - id: d\n    needs: [b, c]\n    shell: echo done\n");
    let run = rig.start_run("par", &[]);
    // Every committed state, by its number of boundaries, as the run goes.
    let mut seen: BTreeMap<u32, BTreeMap<String, StepStatus>> = BTreeMap::new();
    loop {
        let now = workflows::get_run(&rig.store, &run.id).unwrap();
        let steps = now
            .checkpoint
            .steps
            .iter()
            .map(|(k, s)| (k.clone(), s.status))
            .collect();
        seen.insert(now.checkpoint.boundaries, steps);
        if now.status.is_final() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2)); // a poll interval, not a wait
    }
    assert!(seen.len() >= 4, "{} states seen", seen.len());
    let snapshots = workflows::snapshots(&rig.store, &run.id).unwrap();
    assert!(
        snapshots
            .windows(2)
            .all(|w| w[0].instant() <= w[1].instant()),
        "marks in order"
    );
    for (boundaries, live) in &seen {
        let k = *boundaries as usize - 1;
        let by_mark = replay::at(&rig.store, &run.id, Instant::Mark(k as u32), 1000).unwrap();
        assert_eq!(&statuses(&by_mark), live, "at mark {k}");
        // By time too, unless a later boundary was recorded in the same millisecond.
        let t = snapshots[k].instant();
        if snapshots.get(k + 1).is_none_or(|n| n.instant() > t) {
            let by_time = replay::at(&rig.store, &run.id, Instant::At(t), 1000).unwrap();
            assert_eq!(&statuses(&by_time), live, "at {t}");
            assert_eq!(by_time.mark.as_ref().unwrap().seq as usize, k);
        }
    }

    let first = snapshots[0].instant();
    let before = replay::at(
        &rig.store,
        &run.id,
        Instant::At(Timestamp(first.as_millis() - 1)),
        10,
    )
    .unwrap();
    assert_eq!(
        (before.position.as_str(), before.status.as_str()),
        ("before", "not yet queued")
    );
    assert!(before.steps.is_empty() && before.log.is_empty() && before.mark.is_none());
    assert_eq!(before.next.as_ref().unwrap().seq, 0);

    let last = snapshots.last().unwrap().instant();
    let after = replay::at(
        &rig.store,
        &run.id,
        Instant::At(Timestamp(last.as_millis() + 60_000)),
        1000,
    )
    .unwrap();
    assert_eq!(
        (after.position.as_str(), after.status.as_str()),
        ("after", "succeeded")
    );
    assert!(after.next.is_none());
    let c = after.steps.iter().find(|s| s.id == "c").unwrap();
    assert_eq!(c.outputs.values["v"], "c");
    let logged: Vec<&str> = after.log.iter().map(|l| l.data.as_str()).collect();
    assert_eq!(logged, ["a-out", "b-out", "done"]);

    // When `a` had just succeeded: its line is in the log, `d`'s is not yet.
    let a_done = snapshots
        .iter()
        .find(|s| s.step_id.as_deref() == Some("a") && s.label == "succeeded")
        .unwrap();
    let then = replay::at(&rig.store, &run.id, Instant::Mark(a_done.seq), 1000).unwrap();
    let logged: Vec<&str> = then.log.iter().map(|l| l.data.as_str()).collect();
    assert!(
        logged.contains(&"a-out") && !logged.contains(&"done"),
        "{logged:?}"
    );
    assert_eq!(then.status, "running");
    let err = replay::at(&rig.store, &run.id, Instant::Mark(10_000), 10)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no mark 10000"), "{err}");
}

#[test]
fn a_plain_run_replayed_has_its_status_and_log_of_then() {
    let rig = WfRig::start();
    let id = rig.plain_run("echo one; sleep 0.2; echo two");
    let queued = replay::at(&rig.store, &id, Instant::Mark(0), 10).unwrap();
    assert_eq!(
        (queued.kind.as_str(), queued.status.as_str()),
        ("run", "queued")
    );
    assert!(queued.log.is_empty());
    let events = runs::events(&rig.store, &id, 0, 100).unwrap();
    let one = events.iter().find(|e| e.data == "one").unwrap();
    let two = events.iter().find(|e| e.data == "two").unwrap();
    assert!(one.at < two.at, "the sleep parts them");
    let mid = replay::at(&rig.store, &id, Instant::At(one.at), 10).unwrap();
    assert_eq!(mid.status, "running");
    let logged: Vec<&str> = mid.log.iter().map(|l| l.data.as_str()).collect();
    assert_eq!(logged, ["one"]);
    let end = replay::at(&rig.store, &id, Instant::Mark(queued.marks - 1), 1).unwrap();
    assert_eq!(
        (end.status.as_str(), end.position.as_str()),
        ("succeeded", "after")
    );
    assert_eq!(end.log.len(), 1, "the limit keeps the last line");
    assert_eq!((end.log[0].data.as_str(), end.log_before), ("two", 1));
}
