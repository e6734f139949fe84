//! The workflow commands a person steers with, through the real binary against a real
//! daemon: versions, diff, show --version, rm and apply again; pause, resume, approve,
//! reject, cancel and rerun; and a schedule that starts a workflow, with its overlap policy.

use std::path::Path;

use serde_json::Value;

use super::common::{fails, json, ok};
use super::{task, until, Daemon};

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn run_field(d: &Path, run: &str, field: &str) -> Value {
    json(d, &["workflow", "status", run])["run"][field].clone()
}

fn wait_run(d: &Path, run: &str, want: &str) {
    until(&format!("run {run} {want}"), || {
        (run_field(d, run, "status") == want).then_some(())
    });
}

#[test]
fn versions_diff_show_and_rm_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let one = write(
        d,
        "one.yaml",
        "name: evolving\nsteps:\n  - id: a\n    shell: echo one\n",
    );
    let two = write(
        d,
        "two.yaml",
        "name: evolving\nsteps:\n  - id: a\n    shell: echo two\n",
    );
    ok(d, &["workflow", "apply", &one]);
    ok(d, &["workflow", "apply", &two]);
    let versions = json(d, &["workflow", "versions", "evolving"]);
    let numbers: Vec<u64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers.len(), 2, "{versions}");
    assert!(numbers.contains(&1) && numbers.contains(&2));
    let diff = ok(d, &["workflow", "diff", "evolving", "v1", "v2"]);
    assert!(
        diff.contains("-  shell: echo one") && diff.contains("+  shell: echo two"),
        "{diff}"
    );
    let first = ok(d, &["workflow", "show", "evolving", "--version", "1"]);
    assert!(
        first.contains("echo one") && !first.contains("echo two"),
        "{first}"
    );

    ok(d, &["workflow", "rm", "evolving"]);
    let refused = fails(d, &["workflow", "start", "evolving"]);
    assert!(refused.contains("was removed"), "{refused}");
    ok(d, &["workflow", "apply", &two]);
    ok(d, &["workflow", "start", "evolving"]);
}

#[test]
fn pause_resume_approve_reject_cancel_and_rerun_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (gate, shipped) = (d.join("gate"), d.join("shipped"));
    let file = write(
        d,
        "gated.yaml",
        &format!(
            "name: gated\nsteps:\n  - id: wait\n    shell: while [ ! -e {g} ]; do sleep 0.05; done\n  - id: ok\n    kind: approval\n    needs: wait\n  - id: ship\n    needs: ok\n    shell: echo shipped >> {s}\n",
            g = gate.display(),
            s = shipped.display()
        ),
    );
    ok(d, &["workflow", "apply", &file]);
    let _daemon = Daemon::start(d);
    let start = || {
        json(d, &["workflow", "start", "gated"])["id"]
            .as_str()
            .unwrap()
            .to_string()
    };

    let first = start();
    wait_run(d, &first, "running");
    ok(d, &["workflow", "pause", &first]);
    wait_run(d, &first, "paused");
    let again = fails(d, &["workflow", "pause", &first]);
    assert!(again.contains("already paused"), "{again}");
    ok(d, &["workflow", "resume", &first]);
    std::fs::write(&gate, "").unwrap();
    wait_run(d, &first, "waiting_approval");
    ok(
        d,
        &["workflow", "approve", &first, "ok", "--comment", "fine"],
    );
    wait_run(d, &first, "succeeded");
    assert_eq!(std::fs::read_to_string(&shipped).unwrap(), "shipped\n");

    let second = start();
    wait_run(d, &second, "waiting_approval");
    ok(
        d,
        &[
            "workflow",
            "reject",
            &second,
            "ok",
            "--comment",
            "not today",
        ],
    );
    wait_run(d, &second, "failed");
    let error = run_field(d, &second, "error");
    assert_eq!(error, "step `ok` failed: rejected: not today");
    let twice = fails(d, &["workflow", "approve", &second, "ok"]);
    assert!(twice.contains("nothing to decide"), "{twice}");

    std::fs::remove_file(&gate).unwrap();
    let third = start();
    wait_run(d, &third, "running");
    ok(d, &["workflow", "cancel", &third]);
    wait_run(d, &third, "cancelled");

    // A rerun from `ship` reuses `wait` and the approval, and ships again.
    ok(
        d,
        &["workflow", "rerun", &first, "--from", "ship", "--follow"],
    );
    assert_eq!(
        std::fs::read_to_string(&shipped).unwrap(),
        "shipped\nshipped\n"
    );
}

#[test]
fn a_schedule_starts_a_workflow_and_its_overlap_policy_holds() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (gate, log) = (d.join("gate"), d.join("log"));
    let file = write(
        d,
        "timed.yaml",
        &format!(
            "name: timed\nparams:\n  who: {{ type: string, default: nobody }}\nsteps:\n  - id: hold\n    shell: echo \"{{{{ params.who }}}}\" >> {l}; while [ ! -e {g} ]; do sleep 0.05; done\n",
            l = log.display(),
            g = gate.display()
        ),
    );
    ok(d, &["workflow", "apply", &file]);
    let id = task(d);
    ok(
        d,
        &[
            "schedule",
            "add",
            "often",
            "--task",
            &id,
            "--every",
            "1",
            "--workflow",
            "timed",
            "--param",
            "who=scheduler",
            "--overlap",
            "skip",
        ],
    );
    let _daemon = Daemon::start(d);
    let runs = || json(d, &["workflow", "runs", "--workflow", "timed"]);
    until("the schedule to start a workflow run", || {
        (runs().as_array().unwrap().len() == 1).then_some(())
    });
    // While that run holds, later fires are skipped, as the schedule's audit entries say.
    until("a later fire to be skipped while the run holds", || {
        let audit = json(d, &["audit", "--limit", "500"]);
        (audit.to_string().contains("overlap_skipped")).then_some(())
    });
    assert_eq!(
        runs().as_array().unwrap().len(),
        1,
        "an overlapping run started"
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "scheduler\n");
    std::fs::write(&gate, "").unwrap();
    until("a next run once the first ended", || {
        (runs().as_array().unwrap().len() >= 2).then_some(())
    });
}
