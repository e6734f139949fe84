//! Insights over real workflow runs: the critical path names the step that decided the end.

use flightdeck_core::insights;
use flightdeck_types::{InsightsGroup, InsightsQuery, Timestamp, WorkflowRunStatus};

use super::rig::WfRig;

#[test]
fn the_bottleneck_is_the_slow_step_on_the_critical_path_not_its_parallel_sibling() {
    let rig = WfRig::start();
    rig.apply(
        "name: build\nconcurrency: 4\nsteps:\n  - id: prep\n    shell: 'true'\n  - id: slow\n    needs: prep\n    shell: 'sleep 0.4'\n  - id: fast\n    needs: prep\n    shell: 'true'\n  - id: done\n    needs: [slow, fast]\n    shell: 'true'\n",
    );
    for _ in 0..2 {
        let run = rig.start_run("build", &[]);
        rig.wait_status(&run.id, WorkflowRunStatus::Succeeded);
    }
    let now = flightdeck_core::clock::now().as_millis();
    let q = InsightsQuery {
        since: Timestamp::from_millis(now - 3_600_000),
        until: Timestamp::from_millis(now + 1),
        by: InsightsGroup::Step,
    };
    let found = insights::bottlenecks(&rig.store, &q, None).unwrap();
    assert_eq!(found.len(), 1);
    let b = &found[0];
    assert_eq!((b.workflow.as_str(), b.runs), ("build", 2));
    let step = |id: &str| b.steps.iter().find(|s| s.step == id).unwrap();
    assert_eq!(b.steps[0].step, "slow", "{b:#?}");
    assert!(step("slow").duration_ms.p50.unwrap() >= 400);
    assert!(
        step("slow").critical_share > 0.3 && step("slow").critical_share <= 1.0,
        "{b:#?}"
    );
    assert_eq!(
        step("fast").critical_ms,
        0,
        "in parallel with `slow`: {b:#?}"
    );
    assert_eq!(step("done").runs, 2);
    // `--by step` sees the same four steps' runs.
    let by_step = insights::insights(&rig.store, &q).unwrap();
    let keys: Vec<&str> = by_step
        .groups
        .iter()
        .filter_map(|g| g.key.as_deref())
        .collect();
    for key in ["build/prep", "build/slow", "build/fast", "build/done"] {
        assert!(keys.contains(&key), "{keys:?}");
    }
    // Another workflow's name finds nothing.
    assert!(insights::bottlenecks(&rig.store, &q, Some("other"))
        .unwrap()
        .is_empty());
}

#[test]
fn a_steps_expected_duration_raises_the_alert_without_any_history() {
    use flightdeck_core::recovery;
    use flightdeck_types::{ErrorFilter, ErrorKind};
    let rig = WfRig::start();
    rig.apply(
        "name: nightly\nsteps:\n  - id: quick\n    shell: 'true'\n  - id: load\n    needs: quick\n    expected: 1s\n    shell: 'echo loading; sleep 2.5'\n",
    );
    let run = rig.start_run("nightly", &[]);
    rig.wait_status(&run.id, WorkflowRunStatus::Succeeded);
    let alerts = recovery::list(
        &rig.store,
        &ErrorFilter {
            kind: Some(ErrorKind::Slow),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let d = &alerts[0].details;
    assert_eq!(d["step"], "load");
    assert_eq!(d["expected_ms"], 1000);
    assert_eq!(d["judged_against"]["source"], "step");
    assert_eq!(d["last_lines"], serde_json::json!(["loading"]));
    assert!(
        alerts[0].message.contains("step `load` is slow"),
        "{}",
        alerts[0].message
    );
    // The step ended: the alert is resolved, saying so.
    assert_eq!(alerts[0].recovery_status.as_str(), "resolved");
    assert_eq!(d["ended"]["status"], "succeeded");
    // `expected` must be a positive duration.
    let bad = flightdeck_core::workflows::apply(
        &rig.store,
        "name: bad\nsteps:\n  - id: a\n    expected: 0\n    shell: 'true'\n",
        flightdeck_core::workflows::Format::Yaml,
    )
    .unwrap_err()
    .to_string();
    assert!(bad.contains("field `expected`"), "{bad}");
}
