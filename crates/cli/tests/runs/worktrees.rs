//! The worktree flow through the real binary and real git: an agent run in its own worktree,
//! `runs diff`, `runs merge` and `runs discard`, and their errors.

use std::path::Path;

use crate::common::{fails, flightdeck, json, ok};
use crate::git::git;

#[test]
fn an_agent_run_works_in_a_worktree_and_its_diff_is_merged_or_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let d = d.as_path();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README.md"), "hello\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "first"]);
    // The "agent": writes the prompt into a file and leaves it uncommitted.
    let agent = dir.path().join("agent.sh");
    std::fs::write(
        &agent,
        "printf '%s\\n' \"$1\" > notes.txt\necho \"on $FLIGHTDECK_BRANCH\"\n",
    )
    .unwrap();
    let repo_text = repo.display().to_string();
    let agent_line = format!("sh {} {{prompt}}", agent.display());
    ok(
        d,
        &[
            "env",
            "add",
            "web",
            "--repo",
            &repo_text,
            "--agent",
            &agent_line,
        ],
    );
    let task = ok(d, &["task", "add", "Fix the login bug", "--env", "web"])
        .trim()
        .to_string();

    let run = flightdeck(d, &["run", &task]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("on flightdeck/fix-the-login-bug-"),
        "{}",
        run.stdout
    );
    let runs = json(d, &["runs", "list", "--task", &task]);
    let id = runs[0]["id"].as_str().unwrap().to_string();
    let record = &runs[0]["result"]["worktree"];
    let branch = record["branch"].as_str().unwrap().to_string();
    assert_eq!(record["files_changed"], 1);
    assert_eq!(record["committed_leftovers"], true);

    let diff = ok(d, &["runs", "diff", &id]);
    assert!(
        diff.contains(&format!("branch {branch} from main")),
        "{diff}"
    );
    assert!(
        diff.contains("notes.txt") && diff.contains("+Fix the login bug"),
        "{diff}"
    );
    let stat = ok(d, &["runs", "diff", &id, "--stat"]);
    assert!(
        stat.contains("notes.txt") && !stat.contains("+Fix the login bug"),
        "{stat}"
    );
    let as_json = json(d, &["runs", "diff", &id]);
    assert!(as_json["diff"]
        .as_str()
        .unwrap()
        .contains("+++ b/notes.txt"));

    let merged = ok(d, &["runs", "merge", &id]);
    assert!(merged.contains("fast-forward"), "{merged}");
    assert_eq!(
        std::fs::read_to_string(repo.join("notes.txt")).unwrap(),
        "Fix the login bug\n"
    );
    let again = fails(d, &["runs", "merge", &id]);
    assert!(again.contains("already merged"), "{again}");

    // A second run, discarded: asked without a terminal, it needs --yes.
    assert_eq!(flightdeck(d, &["run", &task]).code, 0);
    let second = json(d, &["runs", "list", "--task", &task])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = json(d, &["runs", "show", &second])["result"]["worktree"]["path"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(Path::new(&path).is_dir());
    let no = fails(d, &["runs", "discard", &second]);
    assert!(no.contains("--yes"), "{no}");
    assert!(
        Path::new(&path).is_dir(),
        "nothing is removed without --yes"
    );
    let gone = ok(d, &["runs", "discard", &second, "--yes"]);
    assert!(gone.contains("discarded"), "{gone}");
    assert!(!Path::new(&path).exists());

    // Both runs are listed with their state; the discarded one's directory is gone.
    let listed = json(d, &["runs", "worktrees"]);
    let states: Vec<(&str, &str, bool)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["run_id"].as_str().unwrap(),
                e["state"].as_str().unwrap(),
                e["present"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            (id.as_str(), "merged", true),
            (second.as_str(), "discarded", false)
        ]
    );
    let text = ok(d, &["runs", "worktrees", "--retention-days", "3"]);
    assert!(text.contains("removed 3 days after"), "{text}");
    let cleaned = ok(d, &["runs", "worktrees", "--clean"]);
    assert!(
        cleaned.starts_with("removed 0 merged worktree(s) older than 3 days"),
        "{cleaned}"
    );
    let e = fails(d, &["runs", "worktrees", "--retention-days", "0"]);
    assert!(e.contains("at least 1 day"), "{e}");

    // The environment's settings: a base branch and context off, shown and cleared.
    let updated = json(
        d,
        &[
            "env",
            "update",
            "web",
            "--base-branch",
            "main",
            "--context",
            "off",
        ],
    );
    assert_eq!(
        (
            updated["base_branch"].as_str(),
            updated["agent_context"].as_bool()
        ),
        (Some("main"), Some(false))
    );
    let shown = ok(d, &["env", "show", "web"]);
    assert!(
        shown.contains("base:    main") && shown.contains("context: off"),
        "{shown}"
    );
    let cleared = json(
        d,
        &[
            "env",
            "update",
            "web",
            "--no-base-branch",
            "--context",
            "on",
        ],
    );
    assert_eq!(
        (
            cleared["base_branch"].as_str(),
            cleared["agent_context"].as_bool()
        ),
        (None, Some(true))
    );
    let e = fails(d, &["env", "update", "web", "--base-branch", "a..b"]);
    assert!(e.contains("not a branch name"), "{e}");

    // No git on this device: the run fails before anything runs, saying so (PATH holds a
    // shell and nothing else).
    let bin = dir.path().join("only-sh");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink("/bin/sh", bin.join("sh")).unwrap();
    let no_git = crate::common::command(d, &["run", &task])
        .env("PATH", &bin)
        .output()
        .unwrap();
    assert_ne!(no_git.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&no_git.stderr);
    assert!(
        stderr.contains("git is not installed on this device"),
        "{stderr}"
    );

    // Errors: --isolation on an HTTP run; a diff of a run without a worktree.
    let e = fails(
        d,
        &[
            "run",
            &task,
            "--http",
            "http://127.0.0.1:9",
            "--isolation",
            "worktree",
        ],
    );
    assert!(e.contains("--isolation"), "{e}");
    let shared = flightdeck(
        d,
        &["run", &task, "--shell", "true", "--isolation", "shared"],
    );
    assert_eq!(shared.code, 0, "{}", shared.stderr);
    let plain = json(d, &["runs", "list", "--task", &task])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let e = fails(d, &["runs", "diff", &plain]);
    assert!(e.contains("did not work in a worktree"), "{e}");
}
