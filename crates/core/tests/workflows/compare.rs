//! Comparing two runs (time travel, issue 33): the first divergent step of two runs of one
//! workflow whose one step's output differs; two versions, one with an added step; two plain
//! runs whose logs differ.

use flightdeck_core::compare::compare;
use flightdeck_types::StepStatus;

use super::rig::WfRig;

#[test]
fn the_first_step_whose_output_differs_is_where_two_runs_diverge() {
    let rig = WfRig::start();
    let source = rig.path("source");
    rig.apply(&format!(
        "name: reader\nsteps:\n  - id: first\n    shell: echo same\n  - id: read\n    needs: first\n    shell: echo \"v=$(cat {s})\" >> \"$FLIGHTDECK_OUTPUT\"\n    outputs: [v]\n  - id: later\n    needs: read\n    shell: echo \"got {{{{ steps.read.outputs.v }}}}\"\n",
        s = source.display()
    ));
    std::fs::write(&source, "1").unwrap();
    let a = rig.finished(&rig.start_run("reader", &[]).id);
    std::fs::write(&source, "2").unwrap();
    let b = rig.finished(&rig.start_run("reader", &[]).id);

    let c = compare(&rig.store, &a.id, &b.id).unwrap();
    assert_eq!(c.first_divergence.as_deref(), Some("read"));
    assert_eq!(c.divergence.as_deref(), Some("its outputs differ"));
    let step = |id: &str| c.steps.iter().find(|s| s.id == id).unwrap();
    assert_eq!(step("first").change, "same");
    assert!(step("first").inputs_diff.is_empty() && step("first").log_first_difference.is_none());
    let read = step("read");
    assert_eq!(read.change, "changed");
    assert_eq!(
        read.outputs_diff,
        [serde_json::json!({ "op": "replace", "path": "/values/v", "value": "2" })]
    );
    let later = step("later");
    assert_eq!(later.change, "changed");
    assert_eq!(later.log_first_difference, Some(1));
    assert!(
        later.log_diff.contains("-got 1") && later.log_diff.contains("+got 2"),
        "{}",
        later.log_diff
    );
    assert!(read.duration_a_ms.is_some() && read.delta_ms.is_some());

    let same = compare(&rig.store, &a.id, &a.id).unwrap();
    assert_eq!(same.first_divergence, None);
    assert!(same.steps.iter().all(|s| s.change == "same"));
}

#[test]
fn runs_of_two_versions_show_the_added_step() {
    let rig = WfRig::start();
    rig.apply("name: grows\nsteps:\n  - id: a\n    shell: echo a\n");
    let one = rig.finished(&rig.start_run("grows", &[]).id);
    rig.apply("name: grows\nsteps:\n  - id: a\n    shell: echo a\n  - id: b\n    needs: a\n    shell: echo b\n");
    let two = rig.finished(&rig.start_run("grows", &[]).id);
    let c = compare(&rig.store, &one.id, &two.id).unwrap();
    assert_eq!(
        (c.what_a.as_str(), c.what_b.as_str()),
        ("grows v1", "grows v2")
    );
    assert_eq!(c.first_divergence.as_deref(), Some("b"));
    assert_eq!(c.divergence.as_deref(), Some("only in B"));
    let b = c.steps.iter().find(|s| s.id == "b").unwrap();
    assert_eq!(
        (b.change.as_str(), b.status_a, b.status_b),
        ("added", None, Some(StepStatus::Succeeded))
    );
    let back = compare(&rig.store, &two.id, &one.id).unwrap();
    assert_eq!(
        back.steps.iter().find(|s| s.id == "b").unwrap().change,
        "removed"
    );
}

#[test]
fn two_plain_runs_whose_logs_differ() {
    let rig = WfRig::start();
    let source = rig.path("word");
    let line = format!("echo same; cat {}", source.display());
    let run = |word: &str| {
        std::fs::write(&source, format!("{word}\n")).unwrap();
        rig.plain_run(&line)
    };
    let (a, b) = (run("one"), run("two"));
    let c = compare(&rig.store, &a, &b).unwrap();
    assert_eq!(c.first_divergence.as_deref(), Some("run"));
    assert_eq!(c.divergence.as_deref(), Some("its logs differ from line 2"));
    assert!(c.spec_diff.is_empty(), "the same spec: {:?}", c.spec_diff);
    let step = &c.steps[0];
    assert_eq!(step.log_first_difference, Some(2));
    assert!(
        step.log_diff.contains("-one") && step.log_diff.contains("+two"),
        "{}",
        step.log_diff
    );
}
