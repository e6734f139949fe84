//! Handler steps: `if: always` runs whatever happened, `if: failure` only when the run failed
//! or was cancelled; both see how the run stands and the first failure, and their own failure
//! never hides it.

use flightdeck_core::workflows;
use flightdeck_types::{StepStatus, WorkflowRunStatus};

use super::rig::{until, WfRig};

#[test]
fn after_a_failure_only_the_handlers_run_and_the_first_failure_stays_the_reason() {
    let rig = WfRig::start();
    rig.apply(
        r#"
name: handled
steps:
  - id: build
    shell: echo building; exit 3
  - id: deploy
    needs: build
    shell: echo deploying
  - id: report
    needs: [build, deploy]
    if: always
    shell: 'echo "report: {{ run.status }} /" {{ run.error | quote }}'
  - id: page
    needs: deploy
    if: failure
    shell: echo paging; exit 1
  - id: celebrate
    needs: deploy
    if: failure()
    when: "false"
    shell: echo never
"#,
    );
    let run = rig.start_run("handled", &[]);
    let done = rig.finished(&run.id);
    assert_eq!(done.status, WorkflowRunStatus::Failed);
    let status = |id: &str| done.checkpoint.steps[id].status;
    assert_eq!(status("build"), StepStatus::Failed);
    assert_eq!(status("deploy"), StepStatus::Cancelled);
    assert_eq!(status("report"), StepStatus::Succeeded);
    assert_eq!(
        status("page"),
        StepStatus::Failed,
        "it ran, and its own failure is recorded"
    );
    assert_eq!(status("celebrate"), StepStatus::Skipped);
    let report = rig.step_run(&run.id, "report");
    assert_eq!(
        rig.stdout(&report.id),
        ["report: failed / step `build` failed: exited with code 3"]
    );
    let error = done.error.unwrap();
    assert!(
        error.starts_with("step `build` failed"),
        "the first failure is the reason: {error}"
    );
    // Every step that ended has a boundary of its own, `deploy`'s cancel included.
    let labels: Vec<(Option<String>, String)> = workflows::snapshots(&rig.store, &run.id)
        .unwrap()
        .into_iter()
        .map(|s| (s.step_id, s.label))
        .collect();
    assert!(
        labels.contains(&(Some("deploy".into()), "cancelled".into())),
        "{labels:?}"
    );
}

#[test]
fn a_run_that_succeeds_skips_failure_handlers_and_runs_always_ones() {
    let rig = WfRig::start();
    rig.apply(
        r#"
name: fine
steps:
  - id: work
    shell: echo working
  - id: cleanup
    needs: work
    if: always
    shell: 'echo "cleanup after {{ run.status }}"'
  - id: page
    needs: work
    if: failure
    shell: echo paging
"#,
    );
    let run = rig.start_run("fine", &[]);
    let done = rig.finished(&run.id);
    assert_eq!(
        done.status,
        WorkflowRunStatus::Succeeded,
        "{:?}",
        done.error
    );
    assert_eq!(done.checkpoint.steps["page"].status, StepStatus::Skipped);
    let cleanup = rig.step_run(&run.id, "cleanup");
    assert_eq!(rig.stdout(&cleanup.id), ["cleanup after succeeded"]);
}

#[test]
fn a_cancelled_run_still_runs_its_handlers() {
    let rig = WfRig::start();
    let marker = rig.path("cleaned");
    rig.apply(&format!(
        r#"
name: cancelled
steps:
  - id: slow
    shell: sleep 60
  - id: cleanup
    needs: slow
    if: always
    shell: 'echo "{{{{ run.status }}}}" > {}'
"#,
        marker.display()
    ));
    let run = rig.start_run("cancelled", &[]);
    until("the slow step to run", || {
        let now = workflows::get_run(&rig.store, &run.id).unwrap();
        (now.checkpoint.steps["slow"].status == StepStatus::Running).then_some(())
    });
    workflows::cancel(&rig.store, &run.id).unwrap();
    let done = rig.finished(&run.id);
    assert_eq!(done.status, WorkflowRunStatus::Cancelled);
    assert_eq!(
        done.checkpoint.steps["cleanup"].status,
        StepStatus::Succeeded
    );
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap().trim(),
        "cancelled"
    );
}

#[test]
fn an_output_no_step_wrote_is_named_and_raw_shell_text_works() {
    let rig = WfRig::start();
    // `{% raw %}` keeps shell's `${#x}` away from the template's `{#` comments.
    rig.apply(
        "name: outs\nsteps:\n  - id: a\n    shell: 'x=abc; echo \"len={% raw %}${#x}{% endraw %}\"; echo \"k=v\" >> \"$FLIGHTDECK_OUTPUT\"'\n  - id: b\n    needs: a\n    shell: echo {{ steps.a.outputs.missing }}\n",
    );
    let run = rig.start_run("outs", &[]);
    let done = rig.finished(&run.id);
    assert_eq!(rig.stdout(&rig.step_run(&run.id, "a").id), ["len=3"]);
    let b = &done.checkpoint.steps["b"];
    assert_eq!(b.status, StepStatus::Failed);
    let why = b.error.clone().unwrap();
    assert!(
        why.contains("`steps.a.outputs.missing` is not set: step `a` wrote no `missing=` line"),
        "{why}"
    );
}
