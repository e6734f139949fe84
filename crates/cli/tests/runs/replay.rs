//! `flightdeck replay` through the real binary: a workflow run at its first mark, at a time
//! after its start, and at its end; a plain run; clear errors for a bad instant.

use super::common::{fails, json, ok};
use super::task;

#[test]
fn replay_shows_a_run_at_a_mark_a_time_and_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("two.yaml");
    std::fs::write(
        &file,
        "name: two\nsteps:\n  - id: first\n    shell: echo first-line\n  - id: second\n    needs: first\n    shell: echo second-line\n",
    )
    .unwrap();
    ok(d, &["workflow", "apply", &file.display().to_string()]);
    ok(d, &["workflow", "start", "two", "--follow"]);
    let run = json(d, &["workflow", "runs"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let start = json(d, &["replay", &run, "--step", "0"]);
    assert_eq!(start["status"], "queued");
    assert_eq!(start["mark"]["label"], "queued");
    assert!(start["log"].as_array().unwrap().is_empty());
    assert!(start["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] == "pending"));

    let end = ok(d, &["replay", &run]);
    assert!(
        end.contains("status:    succeeded (at the end of its timeline)"),
        "{end}"
    );
    assert!(
        end.contains("  [first] first-line\n  [second] second-line"),
        "{end}"
    );

    let at_start = json(d, &["replay", &run, "--at", "+0ms"]);
    // The first mark's own instant: in force from then on, so not "before".
    assert!(at_start["mark"].is_object(), "{at_start}");
    assert_ne!(at_start["position"], "before");
    let rfc = at_start["at"].as_str().unwrap().to_string();
    let same = json(d, &["replay", &run, "--at", &rfc]);
    assert_eq!(same["mark"], at_start["mark"]);

    let bad = fails(d, &["replay", &run, "--at", "yesterday"]);
    assert!(bad.contains("`yesterday` is not a time"), "{bad}");
    let far = fails(d, &["replay", &run, "--step", "999"]);
    assert!(far.contains("no mark 999"), "{far}");
    let missing = fails(d, &["replay", "no-such-run"]);
    assert!(missing.contains("no-such-run"), "{missing}");

    let id = task(d);
    ok(d, &["run", &id, "--shell", "echo plain-line"]);
    let plain = json(d, &["runs", "list"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let text = ok(d, &["replay", &plain]);
    assert!(text.starts_with(&format!("run {plain} (shell)")), "{text}");
    assert!(
        text.contains("status:    succeeded") && text.contains("  plain-line"),
        "{text}"
    );
}

#[test]
fn compare_names_the_step_where_two_runs_diverge() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let source = d.join("source");
    let file = d.join("reader.yaml");
    std::fs::write(
        &file,
        format!(
            "name: reader\nsteps:\n  - id: first\n    shell: echo same\n  - id: read\n    needs: first\n    shell: cat {}\n",
            source.display()
        ),
    )
    .unwrap();
    ok(d, &["workflow", "apply", &file.display().to_string()]);
    std::fs::write(&source, "alpha\n").unwrap();
    ok(d, &["workflow", "start", "reader", "--follow"]);
    std::fs::write(&source, "beta\n").unwrap();
    ok(d, &["workflow", "start", "reader", "--follow"]);
    let runs = json(d, &["workflow", "runs"]);
    let (b, a) = (
        runs[0]["id"].as_str().unwrap().to_string(),
        runs[1]["id"].as_str().unwrap().to_string(),
    );
    let text = ok(d, &["compare", &a, &b]);
    let line = text
        .lines()
        .find(|l| l.contains("diverge"))
        .unwrap_or_else(|| panic!("no divergence line in:\n{text}"));
    assert_eq!(
        line,
        "the runs diverge at step `read`: its logs differ from line 1"
    );
    assert!(
        text.contains("      -alpha") && text.contains("      +beta"),
        "{text}"
    );
    let c = json(d, &["compare", &a, &b]);
    assert_eq!(c["first_divergence"], "read");
    let missing = fails(d, &["compare", &a, "nope"]);
    assert!(missing.contains("nope"), "{missing}");
}

#[test]
fn fork_runs_a_step_again_with_an_edited_input_and_both_runs_show_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("pair.yaml");
    std::fs::write(
        &file,
        "name: pair\nsteps:\n  - id: first\n    shell: echo first-line\n  - id: second\n    needs: first\n    shell: echo second-line\n",
    )
    .unwrap();
    ok(d, &["workflow", "apply", &file.display().to_string()]);
    ok(d, &["workflow", "start", "pair", "--follow"]);
    let run = json(d, &["workflow", "runs"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = ok(
        d,
        &[
            "fork",
            &run,
            "--step",
            "second",
            "--input",
            "shell=echo forked-line",
            "--follow",
        ],
    );
    assert!(out.contains("[second] forked-line"), "{out}");
    assert!(
        !out.contains("[first]"),
        "the step before the fork ran again: {out}"
    );
    let fork = json(d, &["workflow", "runs"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(fork, run);
    let forked = ok(d, &["workflow", "status", &fork]);
    assert!(
        forked.contains(&format!("forked from:  {run} at step second")),
        "{forked}"
    );
    let original = ok(d, &["workflow", "status", &run]);
    assert!(
        original.contains(&format!("forked as:  {fork} at step second")),
        "{original}"
    );
    let bad = fails(
        d,
        &["fork", &run, "--step", "second", "--input", "agent=hi"],
    );
    assert!(bad.contains("has no field `agent` to edit"), "{bad}");
}

#[test]
fn a_backup_restores_the_workspace_as_it_was_and_not_under_a_running_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["task", "add", "before the backup"]);
    let made = json(d, &["backup", "now"]);
    let file = made["file"].as_str().unwrap().to_string();
    assert_eq!(json(d, &["backup", "list"])[0]["file"], file.as_str());
    ok(d, &["task", "add", "after the backup"]);
    {
        let _daemon = super::Daemon::start(d);
        let lock = d.join("workspaces/default/flightdeck.db.worker.lock");
        super::until("the daemon to hold the workspace", || {
            std::fs::read_to_string(&lock)
                .ok()
                .filter(|holder| holder.contains("daemon"))
        });
        let refused = fails(d, &["backup", "restore", &file]);
        assert!(refused.contains("in use by"), "{refused}");
    }
    let titles = |d: &std::path::Path| -> Vec<String> {
        json(d, &["task", "list"])
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["title"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(titles(d).contains(&"after the backup".to_string()));
    let restored = json(d, &["backup", "restore", &file]);
    assert!(std::path::Path::new(restored["kept_aside"].as_str().unwrap()).is_file());
    assert_eq!(titles(d), ["before the backup"]);
    let missing = fails(d, &["backup", "restore", "/no/such/backup.db"]);
    assert!(missing.contains("is not a file"), "{missing}");
}

#[test]
fn replay_steps_to_the_next_or_previous_event_of_a_kind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let id = task(d);
    ok(
        d,
        &[
            "run",
            &id,
            "--shell",
            "echo a; sleep 0.05; echo b >&2; sleep 0.05; echo c",
        ],
    );
    let run = json(d, &["runs", "list"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let last_line = |args: &[&str]| -> String {
        let mut all = vec!["replay", run.as_str()];
        all.extend_from_slice(args);
        let state = json(d, &all);
        state["log"].as_array().unwrap().last().unwrap()["data"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(last_line(&["--next", "stdout"]), "a");
    assert_eq!(last_line(&["--next", "stderr"]), "b");
    assert_eq!(last_line(&["--previous", "stdout"]), "c");
    let none = fails(d, &["replay", &run, "--next", "http"]);
    assert!(none.contains("`http` after"), "{none}");
}

#[test]
fn a_plain_run_forks_as_the_same_run_edited_and_both_show_their_lineage() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let id = task(d);
    assert_eq!(
        ok(d, &["run", &id, "--shell", "echo \"one $WHO\""]),
        "one \n"
    );
    let first_id = json(d, &["runs", "list"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = ok(
        d,
        &[
            "fork",
            &first_id,
            "--input",
            "shell=echo \"two $WHO\"",
            "--input",
            "env.WHO=you",
            "--follow",
        ],
    );
    assert_eq!(out, "two you\n");
    let forks: Vec<String> = json(d, &["runs", "list"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["forked_from"] == first_id.as_str())
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(forks.len(), 1);
    let shown = ok(d, &["runs", "show", &forks[0]]);
    assert!(
        shown.contains(&format!("forked from: {first_id}")),
        "{shown}"
    );
    let old = ok(d, &["runs", "show", &first_id]);
    assert!(old.contains(&format!("forked as: {}", forks[0])), "{old}");

    let bad = fails(d, &["fork", &first_id, "--input", "http.url=http://x"]);
    assert!(
        bad.contains("no field `http.url`") && bad.contains("shell"),
        "{bad}"
    );
    let params = fails(d, &["fork", &first_id, "--param", "a=1"]);
    assert!(params.contains("--param is for workflow runs"), "{params}");
    let missing = fails(d, &["fork", "no-such-run"]);
    assert!(missing.contains("no-such-run"), "{missing}");
}
