//! Fan-out (`foreach`): a step once per item of a list parameter or of an earlier step's JSON
//! list, each an ordinary step run under the concurrency limits; later steps see the outputs
//! as a list; a failed item stops the rest; cancel stops them all.

use flightdeck_core::runs::RunnerConfig;
use flightdeck_core::workflows::{self, Format};
use flightdeck_types::{StepStatus, WorkflowRunStatus};

use super::rig::{most_at_once, spans, WfRig};

#[test]
fn a_step_fans_out_over_a_list_and_later_steps_see_the_outputs_as_a_list() {
    let rig = WfRig::start();
    rig.apply(
        r#"
name: repos
params:
  repos: { type: list, default: [api, web, cli] }
steps:
  - id: each
    foreach: "{{ params.repos }}"
    shell: echo "name={{ item }}-{{ index }}" >> "$FLIGHTDECK_OUTPUT"
    outputs: [name]
  - id: join
    needs: each
    shell: echo "{{ steps.each.outputs | map(attribute='name') | join(',') }} {{ steps.each.items | length }}"
  - id: listed
    shell: echo '["x", "y"]'
  - id: over
    needs: listed
    foreach: steps.listed.json
    shell: echo "got {{ item }}"
  - id: none
    foreach: []
    shell: echo never
  - id: after_none
    needs: none
    shell: echo "{{ steps.none.outputs | length }} items"
"#,
    );
    let run = rig.start_run("repos", &[]);
    let done = rig.finished(&run.id);
    assert_eq!(
        done.status,
        WorkflowRunStatus::Succeeded,
        "{:?}",
        done.error
    );
    assert_eq!(
        rig.stdout(&rig.step_run(&run.id, "join").id),
        ["api-0,web-1,cli-2 3"]
    );
    for (i, want) in ["got x", "got y"].iter().enumerate() {
        let item = rig.step_run(&run.id, &format!("over[{i}]"));
        assert_eq!(rig.stdout(&item.id), [*want]);
    }
    assert_eq!(
        rig.stdout(&rig.step_run(&run.id, "after_none").id),
        ["0 items"]
    );
    let each = &done.checkpoint.steps["each"];
    assert_eq!((each.status, each.items), (StepStatus::Succeeded, Some(3)));
    // Each item is a run of its own, with its own entry.
    assert_eq!(
        rig.step_runs(&run.id)
            .iter()
            .filter(|e| e.step_id.as_deref().is_some_and(|s| s.starts_with("each[")))
            .count(),
        3
    );
    let progress = workflows::progress(&rig.store, &run.id).unwrap();
    let each = progress.steps.iter().find(|s| s.id == "each").unwrap();
    assert_eq!(each.items.len(), 3);
    assert!(each.items.iter().all(|i| i.status == StepStatus::Succeeded));

    // A rerun from a later step reuses the fan-out's outputs.
    let again = workflows::rerun_from(&rig.store, &run.id, "join").unwrap();
    let again = rig.finished(&again.id);
    assert_eq!(
        again.status,
        WorkflowRunStatus::Succeeded,
        "{:?}",
        again.error
    );
    assert_eq!(
        rig.stdout(&rig.step_run(&again.id, "join").id),
        ["api-0,web-1,cli-2 3"]
    );
}

#[test]
fn fan_outs_keep_to_the_run_concurrency_and_the_device_step_cap() {
    const CAP: usize = 3;
    let rig = WfRig::start_with(RunnerConfig {
        step_concurrency: CAP,
        ..RunnerConfig::default()
    });
    rig.apply("name: narrow\nconcurrency: 2\nsteps:\n  - id: each\n    foreach: [1, 2, 3, 4, 5, 6]\n    shell: sleep 0.1\n");
    let one = rig.start_run("narrow", &[]);
    assert_eq!(rig.finished(&one.id).status, WorkflowRunStatus::Succeeded);
    let within = most_at_once(&spans(&rig, std::slice::from_ref(&one.id)));
    assert!(
        within <= 2,
        "{within} items of one run at once, over its concurrency of 2"
    );

    rig.apply("name: wide\nconcurrency: 20\nsteps:\n  - id: each\n    foreach: \"{{ range(20) | list }}\"\n    shell: sleep 0.02\n");
    let started: Vec<String> = (0..5).map(|_| rig.start_run("wide", &[]).id).collect();
    for id in &started {
        assert_eq!(rig.finished(id).status, WorkflowRunStatus::Succeeded);
    }
    let all = spans(&rig, &started);
    assert_eq!(all.len(), 100);
    let most = most_at_once(&all);
    assert!(
        most <= CAP as i32,
        "{most} items ran at once, over the cap of {CAP}"
    );
    assert!(most >= 2, "items ran side by side ({most})");
}

#[test]
fn a_failed_item_starts_no_more_unless_the_step_continues_on_failure() {
    let rig = WfRig::start();
    let file = |name: &str, on: bool| {
        format!(
            "name: {name}\nconcurrency: 1\nsteps:\n  - id: each\n    foreach: [ok, bad, later]\n    continue_on_failure: {on}\n    shell: test {{{{ item }}}} != bad\n  - id: after\n    needs: each\n    shell: echo after\n"
        )
    };
    rig.apply(&file("strict", false));
    rig.apply(&file("lenient", true));

    let strict = rig.finished(&rig.start_run("strict", &[]).id);
    assert_eq!(strict.status, WorkflowRunStatus::Failed);
    let steps = &strict.checkpoint.steps;
    assert_eq!(steps["each[0]"].status, StepStatus::Succeeded);
    assert_eq!(steps["each[1]"].status, StepStatus::Failed);
    assert_eq!(
        steps["each[2]"].status,
        StepStatus::Cancelled,
        "no item starts after a failure"
    );
    assert_eq!(steps["each"].status, StepStatus::Failed);
    assert_eq!(
        strict.error.as_deref(),
        Some("step `each` failed: item 1 of 3 failed: exited with code 1")
    );
    assert_eq!(steps["after"].status, StepStatus::Cancelled);

    let lenient = rig.finished(&rig.start_run("lenient", &[]).id);
    assert_eq!(
        lenient.status,
        WorkflowRunStatus::Succeeded,
        "{:?}",
        lenient.error
    );
    let steps = &lenient.checkpoint.steps;
    assert_eq!(
        steps["each[2]"].status,
        StepStatus::Succeeded,
        "every item ran"
    );
    assert_eq!(steps["each"].status, StepStatus::Failed);
    assert_eq!(steps["after"].status, StepStatus::Succeeded);
}

#[test]
fn cancel_stops_every_item_of_a_fan_out() {
    let rig = WfRig::start();
    rig.apply("name: long\nconcurrency: 2\nsteps:\n  - id: each\n    foreach: [1, 2, 3, 4]\n    shell: sleep 30\n");
    let run = rig.start_run("long", &[]);
    super::rig::until("two items to be running", || {
        let r = workflows::get_run(&rig.store, &run.id).unwrap();
        let running = (0..4)
            .filter(|i| {
                r.checkpoint
                    .steps
                    .get(&format!("each[{i}]"))
                    .is_some_and(|s| s.status == StepStatus::Running)
            })
            .count();
        (running == 2).then_some(())
    });
    workflows::cancel(&rig.store, &run.id).unwrap();
    let done = rig.finished(&run.id);
    assert_eq!(done.status, WorkflowRunStatus::Cancelled);
    for i in 0..4 {
        assert_eq!(
            done.checkpoint.steps[&format!("each[{i}]")].status,
            StepStatus::Cancelled
        );
    }
    assert_eq!(done.checkpoint.steps["each"].status, StepStatus::Cancelled);
    assert_eq!(
        rig.step_runs(&run.id).len(),
        2,
        "the items not started never ran"
    );
}

#[test]
fn a_fan_out_is_checked_when_the_file_is() {
    for (yaml, want) in [
        (
            "name: w\nsteps:\n  - id: a\n    kind: approval\n    foreach: [1, 2]\n",
            "step `a`, field `foreach`: an approval step waits for a person once",
        ),
        (
            "name: w\nsteps:\n  - id: a\n    shell: echo {{ item }}\n",
            "step `a`, field `shell`: names unknown variable `item`",
        ),
        (
            "name: w\nsteps:\n  - id: a\n    foreach: params.nope\n    shell: echo {{ item }}\n",
            "step `a`, field `foreach`: names unknown parameter `nope`",
        ),
        (
            "name: w\nsteps:\n  - id: a\n    foreach: 3\n    shell: 'true'\n",
            "step `a`, field `foreach`: `3` must be a list, or an expression giving one",
        ),
    ] {
        let err = workflows::validate(yaml, Format::Yaml).unwrap_err();
        assert!(err.to_string().contains(want), "{want}\nin: {err}");
    }
    let rig = WfRig::start();
    rig.apply("name: notalist\nparams:\n  n: { type: integer, default: 3 }\nsteps:\n  - id: a\n    foreach: params.n\n    shell: 'true'\n");
    let done = rig.finished(&rig.start_run("notalist", &[]).id);
    assert_eq!(done.status, WorkflowRunStatus::Failed);
    assert_eq!(
        done.checkpoint.steps["a"].error.as_deref(),
        Some("field `foreach`: `3` is not a list")
    );
}
