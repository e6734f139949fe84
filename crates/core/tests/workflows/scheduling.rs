//! Step scheduling on one device: workflow steps have a pool of slots of their own, so long
//! plain runs never hold a workflow back, and all workflow runs together never run more steps
//! at once than the device's cap (checked from the steps' recorded start and end times).

use flightdeck_core::runs::{self, RunnerConfig};
use flightdeck_types::{
    ExecutionSpec, ExecutionStatus, NewExecution, ShellSpec, WorkflowRunStatus,
};

use super::rig::{most_at_once, until, WfRig};

#[test]
fn long_plain_runs_holding_every_slot_do_not_stall_a_workflow() {
    let rig = WfRig::start_with(RunnerConfig {
        concurrency: 4,
        ..RunnerConfig::default()
    });
    let sleepers: Vec<String> = (0..4)
        .map(|_| {
            runs::queue(
                &rig.store,
                NewExecution {
                    spec: Some(ExecutionSpec::Shell(ShellSpec {
                        line: Some("sleep 60".into()),
                        ..ShellSpec::default()
                    })),
                    ..NewExecution::default()
                },
            )
            .unwrap()
            .id
        })
        .collect();
    until("the four plain runs to hold every slot", || {
        sleepers
            .iter()
            .all(|id| runs::get(&rig.store, id).unwrap().status == ExecutionStatus::Running)
            .then_some(())
    });
    rig.apply("name: beside\nsteps:\n  - id: a\n    shell: echo a\n  - id: b\n    needs: a\n    shell: echo b\n");
    let run = rig.start_run("beside", &[]);
    rig.wait_status(&run.id, WorkflowRunStatus::Succeeded);
    // The plain runs were never held back or pushed out: still running, then cancelled.
    for id in &sleepers {
        assert_eq!(
            runs::get(&rig.store, id).unwrap().status,
            ExecutionStatus::Running
        );
        runs::request_cancel(&rig.store, id).unwrap();
    }
}

#[test]
fn all_workflow_runs_together_never_exceed_the_step_cap() {
    const CAP: usize = 3;
    let rig = WfRig::start_with(RunnerConfig {
        step_concurrency: CAP,
        ..RunnerConfig::default()
    });
    // 12 independent steps, each allowed to run at once within its run.
    let mut yaml = String::from("name: wide\nconcurrency: 12\nsteps:\n");
    for i in 0..12 {
        yaml.push_str(&format!("  - id: s{i}\n    shell: sleep 0.05\n"));
    }
    rig.apply(&yaml);
    let started: Vec<String> = (0..5).map(|_| rig.start_run("wide", &[]).id).collect();
    let mut spans = Vec::new();
    for id in &started {
        assert_eq!(rig.finished(id).status, WorkflowRunStatus::Succeeded);
        for step in rig.step_runs(id) {
            spans.push((
                step.started_at.expect("started").as_millis(),
                step.finished_at.expect("finished").as_millis(),
            ));
        }
    }
    assert_eq!(spans.len(), 60);
    let most = most_at_once(&spans);
    assert!(
        most <= CAP as i32,
        "{most} steps ran at once, over the cap of {CAP}"
    );
    assert!(
        most >= 2,
        "steps of different runs ran side by side ({most})"
    );
}

#[test]
fn runs_waiting_for_approval_cost_no_writes() {
    use flightdeck_core::workflows;
    use flightdeck_types::StepStatus;
    let rig = WfRig::start();
    rig.apply("name: gate\nsteps:\n  - id: ask\n    kind: approval\n  - id: after\n    needs: ask\n    shell: echo done\n");
    let started: Vec<String> = (0..100).map(|_| rig.start_run("gate", &[]).id).collect();
    for id in &started {
        rig.wait_status(id, WorkflowRunStatus::WaitingApproval);
    }
    assert_ticks_write_nothing(&rig, "ticks over 100 waiting runs wrote");
    // An approval still moves its run on.
    workflows::approve(&rig.store, &started[0], "ask", None).unwrap();
    let done = rig.finished(&started[0]);
    assert_eq!(done.status, WorkflowRunStatus::Succeeded);
    assert_eq!(done.checkpoint.steps["after"].status, StepStatus::Succeeded);
}

#[test]
fn runs_waiting_on_their_running_steps_cost_no_writes() {
    use flightdeck_types::StepStatus;
    let rig = WfRig::start();
    let done = rig.path("done");
    rig.apply(&format!(
        "name: long\nsteps:\n  - id: build\n    shell: 'for i in $(seq 200); do [ -f {} ] && exit 0; sleep 0.05; done; exit 1'\n  - id: after\n    needs: build\n    shell: echo done\n",
        done.display()
    ));
    let started: Vec<String> = (0..3).map(|_| rig.start_run("long", &[]).id).collect();
    // Each step's run is running and has written its process record: nothing is left to
    // write until a step ends.
    for id in &started {
        until("the step's process record", || {
            let step = rig.step_runs(id).pop()?;
            let events = runs::events(&rig.store, &step.id, 0, 100).unwrap();
            events.iter().any(|e| e.kind == "process").then_some(())
        });
    }
    assert_ticks_write_nothing(&rig, "ticks over 3 runs waiting on their steps wrote");
    // A step's end still moves its run on.
    std::fs::write(&done, "").unwrap();
    for id in &started {
        let finished = rig.finished(id);
        assert_eq!(finished.status, WorkflowRunStatus::Succeeded);
        assert_eq!(
            finished.checkpoint.steps["after"].status,
            StepStatus::Succeeded
        );
    }
}

#[test]
fn a_step_that_needs_no_slot_moves_while_the_slots_are_full() {
    use flightdeck_core::workflows::driver;
    use flightdeck_types::StepStatus;
    // No runner: `a` takes the one slot and stays there, and nothing moves the run but the
    // ticks below.
    let rig = WfRig::idle();
    // `b` is skipped by its `when` and `c` for want of `b`, neither needing a slot: at the
    // boundary that starts `a`, not at some later one.
    rig.apply(
        "name: full\nconcurrency: 1\nsteps:\n  - id: a\n    shell: sleep 60\n  - id: b\n    when: 'false'\n    shell: 'true'\n  - id: c\n    needs: b\n    shell: 'true'\n",
    );
    let run = rig.start_run("full", &[]);
    let steps = || {
        flightdeck_core::workflows::get_run(&rig.store, &run.id)
            .unwrap()
            .checkpoint
            .steps
    };
    let mut ticks = 0;
    while steps()["a"].status == StepStatus::Pending && ticks < 3 {
        driver::tick(&rig.store).unwrap();
        ticks += 1;
    }
    let steps = steps();
    assert_eq!(steps["a"].status, StepStatus::Running, "a never started");
    assert_eq!(steps["b"].status, StepStatus::Skipped);
    assert_eq!(steps["c"].status, StepStatus::Skipped);
}

/// Three looks of the driver over the rig's live runs write nothing (`why`: the message if
/// they do).
fn assert_ticks_write_nothing(rig: &WfRig, why: &str) {
    let before = rig.store.write_count();
    for _ in 0..3 {
        flightdeck_core::workflows::driver::tick(&rig.store).unwrap();
    }
    assert_eq!(rig.store.write_count(), before, "{why}");
}
