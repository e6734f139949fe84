//! Child workflows: the version a `workflow:` step runs is pinned when the parent starts, and
//! pausing the parent pauses its running children (resuming resumes them).

use flightdeck_core::workflows::{self, Format};
use flightdeck_types::{RunControl, StepStatus, WorkflowRunFilter, WorkflowRunStatus};

use super::rig::{until, WfRig};

#[test]
fn a_child_runs_the_version_pinned_when_its_parent_started() {
    let mut rig = WfRig::idle();
    rig.apply("name: child\nsteps:\n  - id: c\n    shell: echo one\n");
    rig.apply("name: parent\nsteps:\n  - id: first\n    shell: 'true'\n  - id: sub\n    needs: first\n    workflow: child\n");
    let parent = rig.start_run("parent", &[]);
    assert_eq!(parent.checkpoint.children.get("sub"), Some(&1));
    // Applied after the parent started: not what this parent's child runs.
    workflows::apply(
        &rig.store,
        "name: child\nsteps:\n  - id: c\n    shell: echo two\n",
        Format::Yaml,
    )
    .unwrap();
    rig.run_worker();
    assert_eq!(
        rig.finished(&parent.id).status,
        WorkflowRunStatus::Succeeded
    );
    let children = workflows::runs(
        &rig.store,
        &WorkflowRunFilter {
            workflow: Some("child".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].version, 1);
    let step = rig.step_run(&children[0].id, "c");
    assert_eq!(rig.stdout(&step.id), ["one"]);
}

#[test]
fn pausing_a_parent_pauses_its_running_child_and_resuming_resumes_it() {
    let rig = WfRig::start();
    let gate = rig.path("go");
    rig.apply(&format!(
        "name: slowchild\nsteps:\n  - id: wait\n    shell: while [ ! -f {} ]; do sleep 0.05; done\n  - id: after\n    needs: wait\n    shell: echo after\n",
        gate.display()
    ));
    rig.apply("name: holder\nsteps:\n  - id: sub\n    workflow: slowchild\n");
    let parent = rig.start_run("holder", &[]);
    let child = until("the child to run", || {
        let found = workflows::runs(
            &rig.store,
            &WorkflowRunFilter {
                workflow: Some("slowchild".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let run = found.into_iter().next()?;
        (run.checkpoint.steps["wait"].status == StepStatus::Running).then_some(run)
    });
    workflows::pause(&rig.store, &parent.id).unwrap();
    rig.wait_status(&parent.id, WorkflowRunStatus::Paused);
    let paused = rig.wait_status(&child.id, WorkflowRunStatus::Paused);
    assert_eq!(paused.control, RunControl::Pause);
    workflows::resume(&rig.store, &parent.id).unwrap();
    until("the child to resume", || {
        let run = workflows::get_run(&rig.store, &child.id).unwrap();
        (run.control == RunControl::Run && run.status != WorkflowRunStatus::Paused).then_some(())
    });
    std::fs::write(&gate, "").unwrap();
    assert_eq!(
        rig.finished(&parent.id).status,
        WorkflowRunStatus::Succeeded
    );
    assert_eq!(rig.finished(&child.id).status, WorkflowRunStatus::Succeeded);
}
