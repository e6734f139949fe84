//! Fork (time travel, issue 33): a new run from a step of a past run, with edited inputs and
//! parameters: the steps before it are not run again, the step sees its edited input, what
//! follows runs again; forking at the last step; a fork of a run made on another device.

use flightdeck_core::secrets::OsKeyring;
use flightdeck_core::{trust, workflows};
use flightdeck_types::WorkflowRunStatus;

use super::common::ship;
use super::rig::WfRig;

fn count(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn changes(inputs: &[(&str, &str)], params: &[&str]) -> workflows::ForkChanges {
    workflows::ForkChanges {
        inputs: inputs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        params: params.iter().map(|p| p.to_string()).collect(),
    }
}

fn flow(rig: &WfRig) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let (a, b, c) = (rig.path("a"), rig.path("b"), rig.path("c"));
    rig.apply(&format!(
        "name: forked\nparams:\n  greeting: hello\nsteps:\n  - id: a\n    shell: echo ran >> {a}\n  - id: b\n    needs: a\n    shell: echo \"{{{{ params.greeting }}}}\" >> {b}; echo x=plain >> \"$FLIGHTDECK_OUTPUT\"\n    outputs: [x]\n  - id: c\n    needs: b\n    shell: echo \"{{{{ steps.b.outputs.x }}}}\" >> {c}\n",
        a = a.display(),
        b = b.display(),
        c = c.display()
    ));
    (a, b, c)
}

#[test]
fn a_fork_keeps_what_came_before_and_runs_the_step_with_its_edits() {
    let rig = WfRig::start();
    let (a, b, c) = flow(&rig);
    let first = rig.finished(&rig.start_run("forked", &[]).id);
    assert_eq!(first.status, WorkflowRunStatus::Succeeded);
    let keyring = OsKeyring::from_env().unwrap();

    let edit = format!(
        "echo \"edited {{{{ params.greeting }}}}\" >> {}; echo x=edited >> \"$FLIGHTDECK_OUTPUT\"",
        b.display()
    );
    let fork = workflows::fork(
        &rig.store,
        &keyring,
        &first.id,
        "b",
        &changes(&[("shell", &edit)], &["greeting=hey"]),
    )
    .unwrap();
    assert_eq!(fork.rerun_of.as_deref(), Some(first.id.as_str()));
    assert_eq!(fork.rerun_from.as_deref(), Some("b"));
    assert!(fork.checkpoint.forked);
    let done = rig.finished(&fork.id);
    assert_eq!(
        done.status,
        WorkflowRunStatus::Succeeded,
        "{:?}",
        done.error
    );
    assert_eq!(count(&a), ["ran"], "a step before the fork ran again");
    assert_eq!(count(&b), ["hello", "edited hey"]);
    assert_eq!(count(&c), ["plain", "edited"]);
    assert_eq!(
        done.checkpoint.steps["a"].reused_from.as_deref(),
        Some(first.id.as_str())
    );

    // At the last step: only it runs.
    let last = workflows::fork(&rig.store, &keyring, &first.id, "c", &changes(&[], &[])).unwrap();
    assert_eq!(rig.finished(&last.id).status, WorkflowRunStatus::Succeeded);
    assert_eq!(
        (count(&a).len(), count(&b).len(), count(&c).len()),
        (1, 2, 3)
    );

    for (inputs, params, want) in [
        (vec![("http.url", "http://x")], vec![], "step `b` (shell) has no field `http.url` to edit (fields: shell, env.NAME, working_dir)"),
        (vec![("shell", "echo {{ steps.c.outputs.x }}")], vec![], "step `b`, field `shell`: uses step `c`, which is not among this step's needs"),
        (vec![], vec!["nope=1"], "unknown parameter `nope` (this workflow has: greeting)"),
    ] {
        let err = workflows::fork(&rig.store, &keyring, &first.id, "b", &changes(&inputs, &params))
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{want}\nin: {err}");
    }
}

#[test]
fn a_run_made_on_another_device_forks_here_after_sync() {
    let (a, b) = (WfRig::start(), WfRig::start());
    let (_, _, c) = flow(&a);
    let first = a.finished(&a.start_run("forked", &[]).id);
    ship(&a.store, &b.store);
    trust::trust(&b.store, a.store.device_id()).unwrap();
    let keyring = OsKeyring::from_env().unwrap();
    let fork = workflows::fork(&b.store, &keyring, &first.id, "c", &changes(&[], &[])).unwrap();
    assert_eq!(fork.device_id.as_deref(), Some(b.store.device_id()));
    let done = b.finished(&fork.id);
    assert_eq!(
        done.status,
        WorkflowRunStatus::Succeeded,
        "{:?}",
        done.error
    );
    assert_eq!(count(&c), ["plain", "plain"]);
}
