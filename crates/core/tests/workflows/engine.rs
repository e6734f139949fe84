//! The engine: data through templates and `$FLIGHTDECK_OUTPUT`, parallel steps and the
//! concurrency limit, `when`, retries, timeouts, approvals, child workflows, schedules, and
//! a run keeping its version.

use flightdeck_core::workflows;
use flightdeck_types::{ExecutionSpec, ExecutionStatus, StepStatus, WorkflowRunStatus};

use super::rig::{lines, until, WfRig};

#[test]
fn data_flows_through_templates_output_files_and_json() {
    let rig = WfRig::start();
    rig.apply(
        r#"
name: hello-dag
params:
  greeting: { type: string, default: hello }
steps:
  - id: make
    shell: echo "word={{ params.greeting }}" >> "$FLIGHTDECK_OUTPUT"
  - id: left
    needs: [make]
    shell: echo "left-{{ steps.make.outputs.word }}"
  - id: right
    needs: [make]
    shell: echo "right-{{ steps.make.outputs.word }}"
  - id: report
    needs: [left, right]
    shell: |
      echo '{"files": 3, "name": "{{ params.greeting | upper }}"}'
  - id: use
    needs: [report]
    shell: |
      echo "files={{ steps.report.json.files }} name={{ steps.report.json.name }} code={{ steps.report.exit_code }}"
"#,
    );
    let run = rig.start_run("hello-dag", &["greeting=hi"]);
    let done = rig.wait_status(&run.id, WorkflowRunStatus::Succeeded);
    assert_eq!(rig.stdout(&rig.step_run(&run.id, "left").id), ["left-hi"]);
    assert_eq!(rig.stdout(&rig.step_run(&run.id, "right").id), ["right-hi"]);
    assert_eq!(
        rig.stdout(&rig.step_run(&run.id, "use").id),
        ["files=3 name=HI code=0"]
    );
    let make = &done.checkpoint.steps["make"];
    assert_eq!(make.outputs.values["word"], "hi");
    assert_eq!(make.outputs.exit_code, Some(0));
    assert_eq!(
        done.checkpoint.steps["report"]
            .outputs
            .json
            .as_ref()
            .unwrap()["files"],
        3
    );
    // Every boundary was written: queued, running, each step's start and end, the end.
    let snapshots = workflows::snapshots(&rig.store, &run.id).unwrap();
    let labels: Vec<&str> = snapshots.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels.first(), Some(&"queued"));
    assert_eq!(labels.last(), Some(&"succeeded"));
    assert_eq!(labels.iter().filter(|l| **l == "started").count(), 5);
    assert!(snapshots.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
    // Each boundary's checkpoint is rebuilt whole; the last one is the run's own.
    assert_eq!(snapshots.last().unwrap().checkpoint, done.checkpoint);
    let after_make = snapshots
        .iter()
        .find(|s| s.step_id.as_deref() == Some("make") && s.label == "succeeded")
        .unwrap();
    assert_eq!(
        after_make.checkpoint.steps["left"].status,
        StepStatus::Pending
    );
    let left_end = snapshots
        .iter()
        .find(|s| s.step_id.as_deref() == Some("left") && s.label == "succeeded")
        .unwrap();
    assert_eq!(left_end.inputs["line"], "echo \"left-hi\"");
    assert_eq!(
        left_end.checkpoint.steps["make"].outputs.values["word"],
        "hi"
    );
}

#[test]
fn independent_steps_overlap_up_to_the_concurrency_limit() {
    let rig = WfRig::start();
    let mut yaml =
        String::from("name: fan\nconcurrency: 2\nsteps:\n  - id: start\n    shell: 'true'\n");
    for i in 0..5 {
        yaml.push_str(&format!(
            "  - id: w{i}\n    needs: [start]\n    shell: sleep 0.3\n"
        ));
    }
    yaml.push_str("  - id: join\n    needs: [w0, w1, w2, w3, w4]\n    shell: 'true'\n");
    rig.apply(&yaml);
    let run = rig.start_run("fan", &[]);
    rig.wait_status(&run.id, WorkflowRunStatus::Succeeded);
    let spans: Vec<(i64, i64)> = (0..5)
        .map(|i| {
            let e = rig.step_run(&run.id, &format!("w{i}"));
            (
                e.started_at.unwrap().as_millis(),
                e.finished_at.unwrap().as_millis(),
            )
        })
        .collect();
    // The most running at one instant, from the recorded start and end times.
    let most = spans
        .iter()
        .map(|(s, _)| spans.iter().filter(|(a, b)| a <= s && s < b).count())
        .max()
        .unwrap();
    assert_eq!(most, 2, "two at a time, no more and no fewer: {spans:?}");
    let join = rig.step_run(&run.id, "join");
    let last_end = spans.iter().map(|(_, e)| *e).max().unwrap();
    assert!(
        join.started_at.unwrap().as_millis() >= last_end,
        "fan-in waits for all"
    );
}

#[test]
fn a_false_when_skips_the_step_and_its_dependants() {
    let rig = WfRig::start();
    rig.apply(
        "name: cond\nparams:\n  deploy: { type: boolean, default: false }\nsteps:\n  - id: test\n    shell: 'true'\n  - id: deploy\n    needs: [test]\n    when: params.deploy and steps.test.exit_code == 0\n    shell: echo deployed\n  - id: announce\n    needs: [deploy]\n    shell: echo announced\n  - id: always\n    needs: [test]\n    shell: echo ran\n",
    );
    let run = rig.start_run("cond", &[]);
    let done = rig.wait_status(&run.id, WorkflowRunStatus::Succeeded);
    assert_eq!(done.checkpoint.steps["deploy"].status, StepStatus::Skipped);
    assert_eq!(
        done.checkpoint.steps["announce"].status,
        StepStatus::Skipped
    );
    assert_eq!(
        done.checkpoint.steps["always"].status,
        StepStatus::Succeeded
    );
    assert!(rig
        .step_runs(&run.id)
        .iter()
        .all(|e| e.step_id.as_deref() != Some("deploy")));

    let run = rig.start_run("cond", &["deploy=true"]);
    let done = rig.wait_status(&run.id, WorkflowRunStatus::Succeeded);
    assert_eq!(
        done.checkpoint.steps["deploy"].status,
        StepStatus::Succeeded
    );
    assert_eq!(
        rig.stdout(&rig.step_run(&run.id, "announce").id),
        ["announced"]
    );
}

#[test]
fn a_flaky_step_is_retried_with_a_stable_idempotency_key() {
    let rig = WfRig::start();
    let marker = rig.path("flaky");
    rig.apply(&format!(
        "name: flaky\nsteps:\n  - id: f\n    retry: {{ max_attempts: 3, base_delay_ms: 10, jitter: 0 }}\n    shell: echo \"attempt=$FLIGHTDECK_STEP_ATTEMPT key=$FLIGHTDECK_IDEMPOTENCY_KEY\"; echo x >> {m}; test $(wc -l < {m}) -ge 2\n",
        m = marker.display()
    ));
    let run = rig.start_run("flaky", &[]);
    let done = rig.wait_status(&run.id, WorkflowRunStatus::Succeeded);
    let attempts = rig.step_runs(&run.id);
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].status, ExecutionStatus::Failed);
    assert_eq!(
        attempts[1].retry_of.as_deref(),
        Some(attempts[0].id.as_str())
    );
    let key = format!("{}:f", run.id);
    assert_eq!(
        rig.stdout(&attempts[0].id),
        [format!("attempt=1 key={key}")]
    );
    assert_eq!(
        rig.stdout(&attempts[1].id),
        [format!("attempt=2 key={key}")]
    );
    assert_eq!(done.checkpoint.steps["f"].attempt, 2);
    assert_eq!(lines(&marker), 2);
}

#[test]
fn a_step_over_its_timeout_fails_the_run() {
    let rig = WfRig::start();
    rig.apply(
        "name: slow\nsteps:\n  - id: s\n    timeout: 1\n    retry: 1\n    shell: sleep 30\n  - id: after\n    needs: [s]\n    shell: 'true'\n",
    );
    let run = rig.start_run("slow", &[]);
    let done = rig.wait_status(&run.id, WorkflowRunStatus::Failed);
    assert_eq!(rig.step_run(&run.id, "s").status, ExecutionStatus::TimedOut);
    assert_eq!(done.checkpoint.steps["s"].status, StepStatus::Failed);
    assert_eq!(done.checkpoint.steps["after"].status, StepStatus::Cancelled);
    assert!(done.error.unwrap().contains("step `s` failed: timed out"));
}

const GATED: &str = "\
name: gated
steps:
  - id: build
    shell: echo built
  - id: ok
    kind: approval
    message: ship {{ steps.build.exit_code }}?
    needs: [build]
  - id: ship
    needs: [ok]
    shell: echo 'shipped by {{ steps.ok.decided_by }} saying {{ steps.ok.comment }}'
";

#[test]
fn an_approval_waits_and_then_lets_the_run_on_or_fails_it() {
    let rig = WfRig::start();
    rig.apply(GATED);
    let run = rig.start_run("gated", &[]);
    let waiting = rig.wait_status(&run.id, WorkflowRunStatus::WaitingApproval);
    assert_eq!(
        waiting.checkpoint.steps["ok"].status,
        StepStatus::WaitingApproval
    );
    assert_eq!(
        waiting.checkpoint.steps["ok"].inputs.as_ref().unwrap()["message"],
        "ship 0?"
    );
    let err = workflows::approve(&rig.store, &run.id, "build", None).unwrap_err();
    assert!(err.to_string().contains("not an approval"), "{err}");
    workflows::approve(&rig.store, &run.id, "ok", Some("go".into())).unwrap();
    rig.wait_status(&run.id, WorkflowRunStatus::Succeeded);
    let device = rig.store.device_id().to_string();
    assert_eq!(
        rig.stdout(&rig.step_run(&run.id, "ship").id),
        [format!("shipped by {device} saying go")]
    );
    let again = workflows::approve(&rig.store, &run.id, "ok", None).unwrap_err();
    assert!(again.to_string().contains("already"), "{again}");

    let run = rig.start_run("gated", &[]);
    rig.wait_status(&run.id, WorkflowRunStatus::WaitingApproval);
    workflows::reject(&rig.store, &run.id, "ok", Some("not today".into())).unwrap();
    let done = rig.wait_status(&run.id, WorkflowRunStatus::Failed);
    assert_eq!(done.checkpoint.steps["ship"].status, StepStatus::Cancelled);
    assert!(done.error.unwrap().contains("rejected: not today"));
}

#[test]
fn a_step_can_run_another_workflow_as_a_child() {
    let rig = WfRig::start();
    rig.apply(
        "name: child\nparams:\n  n: { type: integer }\nsteps:\n  - id: double\n    shell: echo \"twice=$(( {{ params.n }} * 2 ))\" >> \"$FLIGHTDECK_OUTPUT\"\n",
    );
    rig.apply(
        "name: parent\nsteps:\n  - id: sub\n    workflow: { name: child, params: { n: '21' } }\n  - id: show\n    needs: [sub]\n    shell: echo \"got {{ steps.sub.outputs.twice }}\"\n",
    );
    let run = rig.start_run("parent", &[]);
    rig.wait_status(&run.id, WorkflowRunStatus::Succeeded);
    assert_eq!(rig.stdout(&rig.step_run(&run.id, "show").id), ["got 42"]);
    let sub = rig.step_run(&run.id, "sub");
    assert!(matches!(sub.spec, ExecutionSpec::Workflow(_)));
    let child_id = sub.result.unwrap()["workflow_run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let child = workflows::get_run(&rig.store, &child_id).unwrap();
    assert_eq!(child.parent_execution_id.as_deref(), Some(sub.id.as_str()));
    assert_eq!(child.status, WorkflowRunStatus::Succeeded);

    // A workflow that starts itself is refused at that step, not looped.
    rig.apply("name: ouroboros\nsteps:\n  - id: again\n    workflow: ouroboros\n");
    let run = rig.start_run("ouroboros", &[]);
    let done = rig.wait_status(&run.id, WorkflowRunStatus::Failed);
    assert!(done.error.unwrap().contains("would start itself"));
}

#[test]
fn a_schedule_starts_a_workflow_with_its_parameters() {
    use flightdeck_core::schedules;
    use flightdeck_types::{ScheduleKind, WorkflowSpec};
    let rig = WfRig::start();
    rig.apply(
        "name: nightly\nparams:\n  target: { type: string }\nsteps:\n  - id: go\n    shell: echo \"building {{ params.target }}\"\n",
    );
    let mut input = super::common::true_schedule("nightly", ScheduleKind::Interval);
    input.interval_secs = Some(3600);
    input.spec = ExecutionSpec::Workflow(WorkflowSpec {
        workflow: "nightly".into(),
        params: [("target".to_string(), "release".to_string())].into(),
        version: None,
    });
    let schedule = schedules::add(&rig.store, input).unwrap();
    let fired = schedules::trigger(&rig.store, &schedule.id).unwrap();
    let exec = until("the schedule's run to end", || {
        let e = flightdeck_core::runs::get(&rig.store, &fired.id).unwrap();
        e.status.is_final().then_some(e)
    });
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.error);
    let run_id = exec.result.unwrap()["workflow_run_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        rig.stdout(&rig.step_run(&run_id, "go").id),
        ["building release"]
    );
}

#[test]
fn a_run_finishes_on_the_version_it_started_on() {
    let rig = WfRig::start();
    rig.apply(
        "name: pinned\nsteps:\n  - id: gate\n    kind: approval\n  - id: say\n    needs: [gate]\n    shell: echo version one\n",
    );
    let run = rig.start_run("pinned", &[]);
    rig.wait_status(&run.id, WorkflowRunStatus::WaitingApproval);
    let v2 = rig.apply(
        "name: pinned\nsteps:\n  - id: gate\n    kind: approval\n  - id: say\n    needs: [gate]\n    shell: echo version two\n",
    );
    assert_eq!(v2.version, 2);
    workflows::approve(&rig.store, &run.id, "gate", None).unwrap();
    let done = rig.wait_status(&run.id, WorkflowRunStatus::Succeeded);
    assert_eq!(done.version, 1);
    assert_eq!(
        rig.stdout(&rig.step_run(&run.id, "say").id),
        ["version one"]
    );
}
