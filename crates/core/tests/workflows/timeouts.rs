//! Timeouts: a workflow's own `timeout`, an approval's `timeout` with `on_timeout`, and a
//! step's `timeout` that does not count the time its run was paused.

use std::time::{Duration, Instant};

use flightdeck_core::workflows;
use flightdeck_types::{ExecutionStatus, StepStatus, WorkflowRunStatus};

use super::control::{all_stopped, group_of};
use super::rig::{lines, until, WfRig};

/// Keeps a run paused until `hold` has passed since `since`, checking at every look that
/// nothing of it ended meanwhile (a timeout counting paused time would end it).
fn hold_paused(rig: &WfRig, run_id: &str, since: Instant, hold: Duration) {
    until("the pause to have lasted past the timeout", || {
        let run = workflows::get_run(&rig.store, run_id).unwrap();
        assert_eq!(run.status, WorkflowRunStatus::Paused, "{:?}", run.error);
        assert!(
            rig.step_runs(run_id)
                .iter()
                .all(|e| !e.status.is_final() || e.status == ExecutionStatus::Succeeded),
            "a step run ended while paused: {:?}",
            rig.step_runs(run_id)
        );
        (since.elapsed() >= hold).then_some(())
    });
}

#[test]
fn a_step_timeout_does_not_count_the_time_its_run_was_paused() {
    let rig = WfRig::start();
    let ticks = rig.path("ticks");
    // About 1.5 s of work under a 2 s timeout, paused for longer than the timeout.
    rig.apply(&format!(
        "name: ticker\nsteps:\n  - id: tick\n    timeout: 2\n    shell: for i in $(seq 30); do echo $i >> {t}; sleep 0.05; done\n",
        t = ticks.display()
    ));
    let run = rig.start_run("ticker", &[]);
    until("the step to be ticking", || {
        (lines(&ticks) >= 2).then_some(())
    });
    let pgid = group_of(&rig, &rig.step_run(&run.id, "tick").id);
    workflows::pause(&rig.store, &run.id).unwrap();
    rig.wait_status(&run.id, WorkflowRunStatus::Paused);
    until("the step's processes to be stopped", || {
        all_stopped(pgid).then_some(())
    });
    hold_paused(&rig, &run.id, Instant::now(), Duration::from_millis(2500));
    workflows::resume(&rig.store, &run.id).unwrap();
    let done = rig.finished(&run.id);
    assert_eq!(
        done.status,
        WorkflowRunStatus::Succeeded,
        "the paused time counted: {:?}",
        done.error
    );
    assert_eq!(lines(&ticks), 30);
}

#[test]
fn a_workflow_timeout_stops_its_steps_runs_handlers_and_fails_the_run() {
    let rig = WfRig::start();
    let report = rig.path("report");
    rig.apply(&format!(
        "name: bounded\ntimeout: 1\nsteps:\n  - id: slow\n    shell: sleep 30\n  - id: after\n    needs: [slow]\n    shell: echo never\n  - id: report\n    if: always\n    needs: [slow]\n    shell: \"echo {{{{ run.status }}}}: {{{{ run.error | quote }}}} > {r}\"\n",
        r = report.display()
    ));
    let run = rig.start_run("bounded", &[]);
    let done = rig.finished(&run.id);
    assert_eq!(done.status, WorkflowRunStatus::Failed);
    let error = done.error.clone().unwrap();
    assert!(
        error.starts_with("timed out after 1 s (the workflow's `timeout`"),
        "{error}"
    );
    assert_eq!(
        rig.step_run(&run.id, "slow").status,
        ExecutionStatus::Cancelled,
        "the running step was stopped"
    );
    assert_eq!(done.checkpoint.steps["after"].status, StepStatus::Cancelled);
    let report_state = &done.checkpoint.steps["report"];
    assert_eq!(
        report_state.status,
        StepStatus::Succeeded,
        "{:?}",
        report_state.error
    );
    let said = std::fs::read_to_string(&report).unwrap();
    assert!(said.starts_with("failed: timed out after 1 s"), "{said}");
}

#[test]
fn a_workflow_timeout_does_not_count_the_time_the_run_was_paused() {
    let rig = WfRig::start();
    rig.apply("name: patient\ntimeout: 2\nsteps:\n  - id: gate\n    kind: approval\n  - id: b\n    needs: [gate]\n    shell: echo b\n");
    let run = rig.start_run("patient", &[]);
    rig.wait_status(&run.id, WorkflowRunStatus::WaitingApproval);
    workflows::pause(&rig.store, &run.id).unwrap();
    rig.wait_status(&run.id, WorkflowRunStatus::Paused);
    hold_paused(&rig, &run.id, Instant::now(), Duration::from_millis(2500));
    workflows::resume(&rig.store, &run.id).unwrap();
    let waiting = rig.wait_status(&run.id, WorkflowRunStatus::WaitingApproval);
    assert!(waiting.error.is_none(), "{:?}", waiting.error);
    workflows::approve(&rig.store, &run.id, "gate", None).unwrap();
    rig.wait_status(&run.id, WorkflowRunStatus::Succeeded);
}

#[test]
fn an_approval_timeout_rejects_by_default_or_decides_as_on_timeout_says() {
    let rig = WfRig::start();
    rig.apply("name: unanswered\nsteps:\n  - id: gate\n    kind: approval\n    timeout: 1\n  - id: ship\n    needs: [gate]\n    shell: echo shipped\n");
    rig.apply("name: lenient\nsteps:\n  - id: gate\n    kind: approval\n    timeout: 1\n    on_timeout: approve\n  - id: ship\n    needs: [gate]\n    shell: echo 'by {{ steps.gate.decided_by }}'\n");
    let rejected = rig.start_run("unanswered", &[]);
    let approved = rig.start_run("lenient", &[]);

    let done = rig.finished(&rejected.id);
    assert_eq!(done.status, WorkflowRunStatus::Failed);
    assert_eq!(
        done.error.as_deref(),
        Some("step `gate` failed: rejected: no decision within 1 s (the step's `timeout`)")
    );
    assert_eq!(done.checkpoint.steps["ship"].status, StepStatus::Cancelled);
    let err = workflows::approve(&rig.store, &rejected.id, "gate", None).unwrap_err();
    assert!(err.to_string().contains("nothing to decide"), "{err}");

    let done = rig.wait_status(&approved.id, WorkflowRunStatus::Succeeded);
    let ship = rig.step_run(&approved.id, "ship");
    assert_eq!(rig.stdout(&ship.id), ["by timeout"]);
    let gate = &done.checkpoint.steps["gate"];
    assert_eq!(gate.status, StepStatus::Succeeded);
    assert_eq!(
        gate.outputs.approval.as_ref().unwrap().decided_by,
        "timeout"
    );
}
