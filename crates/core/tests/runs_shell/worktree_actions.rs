//! What a person does with a worktree run, through the real runner and real git: merge (a
//! conflict in the base's checkout and without one), discard, re-run in the worktree, open it
//! in an editor, and the clean-up of old worktrees.

use std::path::Path;

use flightdeck_core::runs::{self, worktree};
use flightdeck_core::CoreError;
use flightdeck_types::{ExecutionStatus, Isolation, WorktreeState};

use crate::git::git;
use crate::runner::Rig;
use crate::worktree::{environment, files, record, repository, shell_run};

#[test]
fn a_conflicting_merge_changes_nothing_and_names_the_files_then_discard_removes_it_all() {
    let rig = Rig::start();
    let dir = tempfile::tempdir().unwrap();
    let repo = repository(dir.path());
    let env = environment(&rig.store, &repo, "true {prompt}", None);
    // A plain shell run that asks for a worktree, and leaves its change uncommitted.
    let run = shell_run(
        &rig,
        &env,
        "echo from-the-agent > README.md",
        Some(Isolation::Worktree),
    );
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    let r = record(&run);
    assert!(r.committed_leftovers, "{r:?}");
    assert_eq!(files(&r), ["README.md"]);
    assert!(r.branch.starts_with("flightdeck/run-"), "{}", r.branch);

    // Meanwhile main changes the same line.
    std::fs::write(repo.join("README.md"), "from-the-person\n").unwrap();
    git(&repo, &["commit", "-qam", "person"]);
    let before = git(&repo, &["rev-parse", "main"]);
    match worktree::merge(&rig.store, &run.id).unwrap() {
        worktree::MergeOutcome::Conflict { files } => assert_eq!(files, ["README.md"]),
        other => panic!("{other:?}"),
    }
    assert_eq!(git(&repo, &["rev-parse", "main"]), before);
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
    assert_eq!(
        std::fs::read_to_string(repo.join("README.md")).unwrap(),
        "from-the-person\n"
    );
    assert_eq!(
        record(&runs::get(&rig.store, &run.id).unwrap()).state,
        WorktreeState::Open
    );

    // The same conflict with main not checked out anywhere: merge-tree, no files touched.
    git(&repo, &["checkout", "-q", "-b", "elsewhere"]);
    match worktree::merge(&rig.store, &run.id).unwrap() {
        worktree::MergeOutcome::Conflict { files } => assert_eq!(files, ["README.md"]),
        other => panic!("{other:?}"),
    }
    assert_eq!(git(&repo, &["rev-parse", "main"]), before);

    let gone = worktree::discard(&rig.store, &run.id).unwrap();
    assert_eq!(gone.state, WorktreeState::Discarded);
    assert!(!Path::new(&r.path).exists());
    assert_eq!(git(&repo, &["branch", "--list", &r.branch]), "");
    assert!(!git(&repo, &["worktree", "list"]).contains(&r.path));
    let stored = record(&runs::get(&rig.store, &run.id).unwrap());
    assert_eq!(stored.state, WorktreeState::Discarded);
    let merge = worktree::merge(&rig.store, &run.id)
        .unwrap_err()
        .to_string();
    assert!(merge.contains("discarded"), "{merge}");
}

#[test]
fn a_merge_without_a_checkout_of_the_base_moves_only_the_branch() {
    let rig = Rig::start();
    let dir = tempfile::tempdir().unwrap();
    let repo = repository(dir.path());
    let env = environment(&rig.store, &repo, "true {prompt}", None);
    let run = shell_run(&rig, &env, "echo new > new.txt", Some(Isolation::Worktree));
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    // main moves on (another file), and the repository's checkout leaves main.
    std::fs::write(repo.join("other.txt"), "other\n").unwrap();
    git(&repo, &["add", "other.txt"]);
    git(&repo, &["commit", "-qm", "other"]);
    git(&repo, &["checkout", "-q", "-b", "elsewhere"]);
    match worktree::merge(&rig.store, &run.id).unwrap() {
        worktree::MergeOutcome::Merged {
            commit,
            fast_forward,
        } => {
            assert!(!fast_forward);
            assert_eq!(commit, git(&repo, &["rev-parse", "main"]));
            assert_eq!(git(&repo, &["show", "main:new.txt"]), "new");
            assert_eq!(git(&repo, &["show", "main:other.txt"]), "other");
        }
        other => panic!("{other:?}"),
    }
    // The checkout on `elsewhere` was not touched.
    assert!(!repo.join("new.txt").exists());
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
}

#[test]
fn merge_and_discard_refuse_a_run_without_a_worktree() {
    let rig = Rig::start();
    let run = rig.final_state(&rig.queue("true", None).id);
    let e = worktree::merge(&rig.store, &run.id).unwrap_err();
    assert!(
        matches!(e, CoreError::Refused(ref m) if m.contains("did not work in a worktree")),
        "{e}"
    );
    assert!(worktree::discard(&rig.store, &run.id).is_err());
}

#[test]
fn a_rerun_in_the_worktree_goes_on_from_there_and_the_editor_opens_it() {
    let rig = Rig::start();
    let dir = tempfile::tempdir().unwrap();
    let repo = repository(dir.path());
    let env = environment(
        &rig.store,
        &repo,
        "true {prompt}",
        Some("echo set-up >> setup.log"),
    );
    let line = "ls > \"listing-$FLIGHTDECK_EXECUTION_ID\"";
    let first = rig.final_state(&shell_run(&rig, &env, line, Some(Isolation::Worktree)).id);
    assert_eq!(
        first.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        first.error
    );
    let r1 = record(&first);

    let second = runs::rerun_in_worktree(&rig.store, &first.id).unwrap();
    let second = rig.final_state(&second.id);
    assert_eq!(
        second.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        second.error
    );
    let r2 = record(&second);
    assert_eq!(
        (&r2.path, &r2.branch, &r2.base_commit),
        (&r1.path, &r1.branch, &r1.base_commit)
    );
    // It saw the first run's file, and its diff (from the same base) holds both runs' work.
    let listing =
        std::fs::read_to_string(Path::new(&r2.path).join(format!("listing-{}", second.id)))
            .unwrap();
    assert!(
        listing.contains(&format!("listing-{}", first.id)),
        "{listing}"
    );
    assert_eq!(r2.files_changed, 3, "{:?}", files(&r2));
    // The setup script ran once, when the worktree was made.
    let setup = std::fs::read_to_string(Path::new(&r2.path).join("setup.log")).unwrap();
    assert_eq!(setup, "set-up\n");

    // The editor gets the worktree's path as one argument.
    let opened = dir.path().join("opened");
    let editor = dir.path().join("my editor.sh");
    std::fs::write(
        &editor,
        format!("printf '%s' \"$1\" > '{}'\n", opened.display()),
    )
    .unwrap();
    let editor_line = format!("sh '{}'", editor.display());
    let path = worktree::open_in_editor(&rig.store, &second.id, Some(&editor_line)).unwrap();
    assert_eq!(path, Path::new(&r2.path));
    let got = crate::runner::until("the editor to run", || {
        std::fs::read_to_string(&opened).ok()
    });
    assert_eq!(got, r2.path);

    // Once discarded, neither a re-run there nor the editor can use it.
    worktree::discard(&rig.store, &second.id).unwrap();
    let e = worktree::open_in_editor(&rig.store, &second.id, Some("true")).unwrap_err();
    assert!(e.to_string().contains("is gone"), "{e}");
    let e = runs::rerun_in_worktree(&rig.store, &second.id).unwrap_err();
    assert!(e.to_string().contains("discarded"), "{e}");
}

#[test]
fn the_clean_up_removes_old_merged_worktrees_and_keeps_the_rest() {
    use flightdeck_core::runs::worktree::clean::{self, WorktreeSettings};
    let rig = Rig::start();
    let dir = tempfile::tempdir().unwrap();
    let repo = repository(dir.path());
    let env = environment(&rig.store, &repo, "true {prompt}", None);
    let mut ids = Vec::new();
    for file in ["merged", "open", "edited"] {
        let line = format!("echo {file} > {file}.txt");
        let run = rig.final_state(&shell_run(&rig, &env, &line, Some(Isolation::Worktree)).id);
        assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
        ids.push(run.id);
    }
    worktree::merge(&rig.store, &ids[0]).unwrap();
    worktree::merge(&rig.store, &ids[2]).unwrap();
    // Work goes on in the merged "edited" worktree after its merge.
    let edited = record(&runs::get(&rig.store, &ids[2]).unwrap());
    std::fs::write(Path::new(&edited.path).join("later.txt"), "more\n").unwrap();

    let now = flightdeck_core::clock::now();
    let nothing = clean::clean(&rig.store, now).unwrap();
    assert!(
        nothing.removed.is_empty() && nothing.kept.is_empty(),
        "{nothing:?}"
    );

    let later = flightdeck_types::Timestamp::from_millis(now.as_millis() + 15 * 24 * 3_600_000);
    let report = clean::clean(&rig.store, later).unwrap();
    let removed: Vec<&str> = report.removed.iter().map(|e| e.run_id.as_str()).collect();
    assert_eq!(removed, [ids[0].as_str()]);
    let mut kept: Vec<(&str, &str)> = report
        .kept
        .iter()
        .map(|(e, why)| (e.run_id.as_str(), why.as_str()))
        .collect();
    kept.sort();
    let mut want = vec![
        (ids[1].as_str(), "not merged: merge or discard it"),
        (
            ids[2].as_str(),
            "changed since the merge (uncommitted files)",
        ),
    ];
    want.sort();
    assert_eq!(kept, want);
    let first = record(&runs::get(&rig.store, &ids[0]).unwrap());
    assert!(!Path::new(&first.path).exists());
    assert_eq!(
        git(&repo, &["branch", "--list", &first.branch]),
        "",
        "its merged branch went too"
    );
    assert!(Path::new(&edited.path).join("later.txt").exists());

    let listed = clean::list(&rig.store).unwrap();
    assert_eq!(listed.len(), 3);
    assert!(!listed.iter().find(|e| e.run_id == ids[0]).unwrap().present);
    // A longer retention keeps everything; zero days is refused.
    clean::set_settings(&rig.store, WorktreeSettings { retention_days: 30 }).unwrap();
    assert!(clean::clean(&rig.store, later).unwrap().kept.is_empty());
    let e = clean::set_settings(&rig.store, WorktreeSettings { retention_days: 0 }).unwrap_err();
    assert!(e.to_string().contains("at least 1 day"), "{e}");
}
