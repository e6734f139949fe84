//! Control: pause (a shell step really stops), resume, cancel, rerun from a step, progress
//! and its ETA.

use flightdeck_core::{runs, workflows};
use flightdeck_types::{ExecutionStatus, RunControl, StepStatus, WorkflowRunStatus};

use super::rig::{lines, until, WfRig};

/// The state letters of every process in group `pgid`, from /proc (`T` is stopped).
fn group_states(pgid: i32) -> Vec<char> {
    let mut states = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // After the command name (in parentheses, may hold spaces): state, ppid, pgrp.
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid) {
            states.extend(fields[0].chars().next());
        }
    }
    states
}

pub(super) fn all_stopped(pgid: i32) -> bool {
    let states = group_states(pgid);
    !states.is_empty() && states.iter().all(|s| *s == 'T')
}

pub(super) fn group_of(rig: &WfRig, exec_id: &str) -> i32 {
    until("the step's process group", || {
        runs::events(&rig.store, exec_id, 0, 1000)
            .unwrap()
            .into_iter()
            .find(|e| e.kind == "process")
            .and_then(|e| {
                e.data
                    .split_whitespace()
                    .find_map(|p| p.strip_prefix("pgid=").and_then(|v| v.parse().ok()))
            })
    })
}

#[test]
fn pause_stops_the_running_shell_step_and_resume_continues_it() {
    let rig = WfRig::start();
    let ticks = rig.path("ticks");
    rig.apply(&format!(
        "name: ticker\nsteps:\n  - id: tick\n    shell: for i in $(seq 40); do echo $i >> {t}; sleep 0.05; done\n  - id: after\n    needs: [tick]\n    shell: echo after\n",
        t = ticks.display()
    ));
    let run = rig.start_run("ticker", &[]);
    until("the step to be ticking", || {
        (lines(&ticks) >= 2).then_some(())
    });
    let exec = rig.step_run(&run.id, "tick");
    let pgid = group_of(&rig, &exec.id);

    workflows::pause(&rig.store, &run.id).unwrap();
    rig.wait_status(&run.id, WorkflowRunStatus::Paused);
    until("every process of the step to be stopped", || {
        all_stopped(pgid).then_some(())
    });
    // With every process of the group stopped, nothing can write: the file stays as it is
    // for as long as they stay stopped.
    let at_pause = lines(&ticks);
    assert!(all_stopped(pgid));
    assert_eq!(lines(&ticks), at_pause, "a paused step must not write");
    assert!(
        rig.step_runs(&run.id)
            .iter()
            .all(|e| e.step_id.as_deref() == Some("tick")),
        "nothing new started"
    );
    let err = workflows::pause(&rig.store, &run.id).unwrap_err();
    assert!(err.to_string().contains("already paused"), "{err}");

    workflows::resume(&rig.store, &run.id).unwrap();
    until("the step to tick again", || {
        (lines(&ticks) > at_pause).then_some(())
    });
    let done = rig.wait_status(&run.id, WorkflowRunStatus::Succeeded);
    assert_eq!(lines(&ticks), 40, "every tick ran, once");
    assert_eq!(done.checkpoint.steps["after"].status, StepStatus::Succeeded);
    let labels: Vec<String> = workflows::snapshots(&rig.store, &run.id)
        .unwrap()
        .into_iter()
        .map(|s| s.label)
        .collect();
    assert!(labels.contains(&"paused".to_string()) && labels.contains(&"resumed".to_string()));
}

#[test]
fn a_paused_run_starts_no_new_step() {
    let rig = WfRig::start();
    rig.apply("name: two\nsteps:\n  - id: gate\n    kind: approval\n  - id: b\n    needs: [gate]\n    shell: echo b\n");
    let run = rig.start_run("two", &[]);
    rig.wait_status(&run.id, WorkflowRunStatus::WaitingApproval);
    workflows::pause(&rig.store, &run.id).unwrap();
    rig.wait_status(&run.id, WorkflowRunStatus::Paused);
    workflows::approve(&rig.store, &run.id, "gate", None).unwrap();
    // The approval is recorded at once, but `b` does not start while paused.
    until("the approval to be applied", || {
        let r = workflows::get_run(&rig.store, &run.id).unwrap();
        (r.checkpoint.steps["gate"].status == StepStatus::Succeeded).then_some(())
    });
    let r = workflows::get_run(&rig.store, &run.id).unwrap();
    assert_eq!(r.status, WorkflowRunStatus::Paused);
    assert_eq!(r.checkpoint.steps["b"].status, StepStatus::Pending);
    workflows::resume(&rig.store, &run.id).unwrap();
    rig.wait_status(&run.id, WorkflowRunStatus::Succeeded);
}

#[test]
fn cancel_kills_running_steps_and_ends_the_run() {
    let rig = WfRig::start();
    rig.apply("name: long\nsteps:\n  - id: a\n    shell: sleep 30\n  - id: b\n    shell: sleep 30\n  - id: c\n    needs: [a, b]\n    shell: echo never\n");
    let run = rig.start_run("long", &[]);
    until("both steps running", || {
        let r = workflows::get_run(&rig.store, &run.id).unwrap();
        let running = r
            .checkpoint
            .steps
            .values()
            .filter(|s| s.status == StepStatus::Running)
            .count();
        (running == 2).then_some(())
    });
    let a = rig.step_run(&run.id, "a");
    group_of(&rig, &a.id);
    let asked = workflows::cancel(&rig.store, &run.id).unwrap();
    assert_eq!(asked.control, RunControl::Cancel);
    let done = rig.wait_status(&run.id, WorkflowRunStatus::Cancelled);
    for step in ["a", "b"] {
        assert_eq!(
            rig.step_run(&run.id, step).status,
            ExecutionStatus::Cancelled
        );
        assert_eq!(done.checkpoint.steps[step].status, StepStatus::Cancelled);
    }
    assert_eq!(done.checkpoint.steps["c"].status, StepStatus::Cancelled);
    let err = workflows::cancel(&rig.store, &run.id).unwrap_err();
    assert!(err.to_string().contains("already ended"), "{err}");
}

#[test]
fn rerun_from_a_step_reuses_the_outputs_before_it() {
    let rig = WfRig::start();
    let (first, fixed) = (rig.path("first-count"), rig.path("fixed"));
    rig.apply(&format!(
        "name: fix\nsteps:\n  - id: prepare\n    shell: echo x >> {f}; echo \"v=prepared\" >> \"$FLIGHTDECK_OUTPUT\"\n  - id: check\n    needs: [prepare]\n    shell: test -e {x} && echo \"checked {{{{ steps.prepare.outputs.v }}}}\"\n  - id: report\n    needs: [check]\n    shell: echo reported\n",
        f = first.display(),
        x = fixed.display()
    ));
    let run = rig.start_run("fix", &[]);
    let failed = rig.wait_status(&run.id, WorkflowRunStatus::Failed);
    assert_eq!(failed.checkpoint.steps["check"].status, StepStatus::Failed);
    assert_eq!(lines(&first), 1);

    std::fs::write(&fixed, "").unwrap();
    let again = workflows::rerun_from(&rig.store, &run.id, "check").unwrap();
    assert_eq!(again.rerun_of.as_deref(), Some(run.id.as_str()));
    assert_eq!(again.rerun_from.as_deref(), Some("check"));
    let done = rig.wait_status(&again.id, WorkflowRunStatus::Succeeded);
    assert_eq!(lines(&first), 1, "prepare was not run again");
    assert_eq!(
        done.checkpoint.steps["prepare"].reused_from.as_deref(),
        Some(run.id.as_str())
    );
    assert_eq!(
        rig.stdout(&rig.step_run(&again.id, "check").id),
        ["checked prepared"]
    );
    // The failed run stays as it was.
    let old = workflows::get_run(&rig.store, &run.id).unwrap();
    assert_eq!(old.status, WorkflowRunStatus::Failed);
    assert_eq!(old.checkpoint, failed.checkpoint);

    let err = workflows::rerun_from(&rig.store, &run.id, "nope").unwrap_err();
    assert!(err.to_string().contains("prepare, check, report"), "{err}");
}

#[test]
fn progress_counts_steps_and_estimates_along_the_critical_path() {
    let rig = WfRig::start();
    rig.apply("name: eta\nsteps:\n  - id: gate\n    kind: approval\n  - id: a\n    needs: [gate]\n    shell: sleep 0.2\n  - id: b\n    needs: [gate]\n    shell: sleep 0.1\n  - id: c\n    needs: [a, b]\n    shell: sleep 0.1\n");
    let new_run = || {
        let run = rig.start_run("eta", &[]);
        rig.wait_status(&run.id, WorkflowRunStatus::WaitingApproval);
        run
    };
    // No history: the estimate is a guess.
    let first = new_run();
    let p = workflows::progress(&rig.store, &first.id).unwrap();
    assert_eq!((p.done, p.total), (0, 4));
    assert_eq!(p.waiting_approval, ["gate"]);
    assert!(p.eta_is_guess);
    workflows::approve(&rig.store, &first.id, "gate", None).unwrap();
    rig.wait_status(&first.id, WorkflowRunStatus::Succeeded);
    for _ in 0..2 {
        let run = new_run();
        workflows::approve(&rig.store, &run.id, "gate", None).unwrap();
        rig.wait_status(&run.id, WorkflowRunStatus::Succeeded);
    }
    let run = new_run();
    let p = workflows::progress(&rig.store, &run.id).unwrap();
    let p50 = |id: &str| p.steps.iter().find(|s| s.id == id).unwrap().p50_ms.unwrap();
    assert_eq!(p.steps.iter().find(|s| s.id == "a").unwrap().samples, 3);
    // The approval has no history (a person's time), so the estimate stays a guess; the
    // run steps' critical path is the longer branch plus `c`, not the sum of all three.
    assert!(p.eta_is_guess);
    let want = p50("a").max(p50("b")) + p50("c");
    assert_eq!(p.remaining_ms, Some(want));
    assert!(want < p50("a") + p50("b") + p50("c"));
    workflows::approve(&rig.store, &run.id, "gate", None).unwrap();
    let done = rig.wait_status(&run.id, WorkflowRunStatus::Succeeded);
    let p = workflows::progress(&rig.store, &done.id).unwrap();
    assert_eq!((p.done, p.total), (4, 4));
    assert_eq!(p.remaining_ms, None);
}
