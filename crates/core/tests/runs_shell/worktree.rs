//! One git worktree per agent run, through the real runner and real git: parallel runs on
//! their own branches, the environment's setup script in the worktree, the diff recorded, the
//! base branch chosen, and the errors before a run starts. The helpers here serve
//! `worktree_actions.rs` too (merge, discard, re-run, editor, clean-up).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flightdeck_core::runs::{self, worktree};
use flightdeck_core::{environments, tasks, CoreError, Store};
use flightdeck_types::{
    Environment, Execution, ExecutionSpec, ExecutionStatus, Isolation, NewEnvironment,
    NewExecution, NewTask, ShellSpec, StartRun, WorktreeRecord, WorktreeState,
};

use crate::git::git;
use crate::runner::Rig;

/// A repository on `main` with one commit holding README.md.
pub(crate) fn repository(dir: &Path) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README.md"), "hello\n").unwrap();
    git(&repo, &["add", "README.md"]);
    git(&repo, &["commit", "-qm", "first"]);
    repo
}

/// Commits made by the agent scripts need an identity; the test machine may have none.
pub(crate) fn identity() -> BTreeMap<String, String> {
    [
        ("GIT_AUTHOR_NAME", "Agent"),
        ("GIT_AUTHOR_EMAIL", "agent@example.com"),
        ("GIT_COMMITTER_NAME", "Agent"),
        ("GIT_COMMITTER_EMAIL", "agent@example.com"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

pub(crate) fn environment(
    store: &Store,
    repo: &Path,
    agent_command: &str,
    setup: Option<&str>,
) -> Environment {
    environments::create(
        store,
        NewEnvironment {
            name: repo.file_name().unwrap().to_string_lossy().into_owned(),
            repository: Some(repo.display().to_string()),
            env_vars: identity(),
            agent_command: Some(agent_command.into()),
            setup_script: setup.map(String::from),
            ..NewEnvironment::default()
        },
    )
    .unwrap()
}

pub(crate) fn task(store: &Store, title: &str, env: &Environment) -> String {
    tasks::create(
        store,
        NewTask {
            title: title.into(),
            environment: Some(env.id.clone()),
            ..NewTask::default()
        },
    )
    .unwrap()
    .id
}

pub(crate) fn agent_run(store: &Store, task_id: &str) -> Execution {
    runs::start_for_task(
        store,
        &StartRun {
            task_id: task_id.into(),
            shell: None,
            timeout_secs: Some(60),
        },
    )
    .unwrap()
}

pub(crate) fn shell_run(
    rig: &Rig,
    env: &Environment,
    line: &str,
    isolation: Option<Isolation>,
) -> Execution {
    rig.queue_new(NewExecution {
        environment_id: Some(env.id.clone()),
        spec: Some(ExecutionSpec::Shell(ShellSpec {
            line: Some(line.into()),
            isolation,
            ..ShellSpec::default()
        })),
        ..NewExecution::default()
    })
}

pub(crate) fn record(run: &Execution) -> WorktreeRecord {
    WorktreeRecord::from_result(run.result.as_ref())
        .unwrap_or_else(|| panic!("run {} has no worktree record: {:?}", run.id, run.result))
}

pub(crate) fn files(record: &WorktreeRecord) -> Vec<&str> {
    let mut files: Vec<&str> = record.files.iter().map(|f| f.path.as_str()).collect();
    files.sort();
    files
}

#[test]
fn parallel_agent_runs_work_on_their_own_branches_and_merge_into_the_base() {
    let rig = Rig::start();
    let dir = tempfile::tempdir().unwrap();
    let repo = repository(dir.path());
    // The agent: says which task it is in a file named after it, waits so the two overlap,
    // notes what its checkout holds, checks the setup script ran in it, and commits.
    let script = dir.path().join("agent.sh");
    std::fs::write(
        &script,
        "set -e\ntest -f .ready\necho \"$1\" > \"$1.txt\"\nsleep 0.3\nls > \"$1.seen\"\n\
         git add -A\ngit commit -qm \"agent: $1\"\n",
    )
    .unwrap();
    let env = environment(
        &rig.store,
        &repo,
        &format!("sh {} {{prompt}}", script.display()),
        Some("echo ready > .ready"),
    );
    let alpha = agent_run(&rig.store, &task(&rig.store, "alpha", &env));
    let beta = agent_run(&rig.store, &task(&rig.store, "beta", &env));
    let alpha = rig.final_state(&alpha.id);
    let beta = rig.final_state(&beta.id);
    assert_eq!(
        alpha.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        alpha.error
    );
    assert_eq!(beta.status, ExecutionStatus::Succeeded, "{:?}", beta.error);

    let (a, b) = (record(&alpha), record(&beta));
    assert!(a.branch.starts_with("flightdeck/alpha-"), "{}", a.branch);
    assert!(b.branch.starts_with("flightdeck/beta-"), "{}", b.branch);
    assert_ne!(a.path, b.path);
    let main = git(&repo, &["rev-parse", "main"]);
    assert_eq!(
        (a.base_branch.as_str(), a.base_commit.as_str()),
        ("main", main.as_str())
    );
    assert_eq!(files(&a), [".ready", "alpha.seen", "alpha.txt"]);
    assert_eq!(files(&b), [".ready", "beta.seen", "beta.txt"]);
    // .ready 1 line, alpha.txt 1, alpha.seen 3 (README.md, alpha.seen, alpha.txt).
    assert_eq!(
        (a.files_changed, a.lines_added, a.lines_removed),
        (3, 5, 0),
        "{a:?}"
    );
    assert!(!a.committed_leftovers);
    assert_eq!(a.state, WorktreeState::Open);
    // No cross-talk: each checkout held only its own files.
    let seen = git(&repo, &["show", &format!("{}:beta.seen", b.branch)]);
    assert!(!seen.contains("alpha"), "beta saw alpha's files: {seen}");
    assert_eq!(
        git(&repo, &["show", &format!("{}:alpha.txt", a.branch)]),
        "alpha"
    );
    // The base is untouched until a merge.
    assert!(!repo.join("alpha.txt").exists());

    let diff = worktree::diff_of(&rig.store, &alpha.id).unwrap();
    let text = diff.diff.expect("the full diff is stored on this device");
    assert!(
        text.contains("+++ b/alpha.txt") && text.contains("+alpha"),
        "{text}"
    );
    assert!(!text.contains("beta"), "{text}");

    // Alpha first: the base has not moved, so a fast-forward, in the checkout of main.
    match worktree::merge(&rig.store, &alpha.id).unwrap() {
        worktree::MergeOutcome::Merged {
            commit,
            fast_forward,
        } => {
            assert!(fast_forward);
            assert_eq!(commit, git(&repo, &["rev-parse", "main"]));
            assert_eq!(
                Some(commit),
                record(&runs::get(&rig.store, &alpha.id).unwrap()).head_commit
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        std::fs::read_to_string(repo.join("alpha.txt")).unwrap(),
        "alpha\n"
    );
    // Then beta: main moved, so a merge commit with both parents.
    match worktree::merge(&rig.store, &beta.id).unwrap() {
        worktree::MergeOutcome::Merged {
            commit,
            fast_forward,
        } => {
            assert!(!fast_forward);
            let parents = git(&repo, &["rev-list", "--parents", "-n", "1", &commit]);
            assert_eq!(parents.split(' ').count(), 3, "{parents}");
        }
        other => panic!("{other:?}"),
    }
    assert!(repo.join("beta.txt").exists() && repo.join("alpha.txt").exists());
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
    let merged = record(&runs::get(&rig.store, &beta.id).unwrap());
    assert_eq!(merged.state, WorktreeState::Merged);
    assert_eq!(
        merged.merged_commit.as_deref(),
        Some(git(&repo, &["rev-parse", "main"]).as_str())
    );
    let again = worktree::merge(&rig.store, &beta.id)
        .unwrap_err()
        .to_string();
    assert!(again.contains("already merged"), "{again}");
}

#[test]
fn a_repository_that_is_not_git_or_a_dirty_base_fails_before_the_command_runs() {
    let rig = Rig::start();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let line = format!("touch {}", marker.display());

    let plain = dir.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let env = environment(&rig.store, &plain, "true {prompt}", None);
    let run = rig.final_state(&shell_run(&rig, &env, &line, Some(Isolation::Worktree)).id);
    assert_eq!(run.status, ExecutionStatus::Failed);
    let error = run.error.unwrap();
    assert!(
        error.contains("is not a git repository") && error.contains("git init"),
        "{error}"
    );

    let repo = repository(dir.path());
    std::fs::write(repo.join("README.md"), "edited, not committed\n").unwrap();
    let dirty = environment(&rig.store, &repo, "true {prompt}", None);
    let run = rig.final_state(&shell_run(&rig, &dirty, &line, Some(Isolation::Worktree)).id);
    assert_eq!(run.status, ExecutionStatus::Failed);
    let error = run.error.unwrap();
    assert!(
        error.contains("uncommitted changes") && error.contains("README.md"),
        "{error}"
    );
    assert!(!marker.exists(), "the command ran despite the errors");
    assert_eq!(git(&repo, &["branch", "--list", "flightdeck/*"]), "");

    // Asking for a worktree with no repository at all names the setting.
    let bare = environments::create(
        &rig.store,
        NewEnvironment {
            name: "no-repo".into(),
            ..NewEnvironment::default()
        },
    )
    .unwrap();
    let run = rig.final_state(&shell_run(&rig, &bare, &line, Some(Isolation::Worktree)).id);
    let error = run.error.unwrap();
    assert!(error.contains("--repo PATH"), "{error}");
    // `shared` runs where it always did, repository or not.
    let run = rig.final_state(&shell_run(&rig, &env, &line, Some(Isolation::Shared)).id);
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    assert!(WorktreeRecord::from_result(run.result.as_ref()).is_none());
    assert!(marker.exists());
}

#[test]
fn the_environment_names_the_base_branch_and_a_run_can_name_another() {
    let rig = Rig::start();
    let dir = tempfile::tempdir().unwrap();
    let repo = repository(dir.path());
    git(&repo, &["branch", "develop"]);
    git(&repo, &["checkout", "-q", "develop"]);
    std::fs::write(repo.join("dev.txt"), "dev\n").unwrap();
    git(&repo, &["add", "dev.txt"]);
    git(&repo, &["commit", "-qm", "dev"]);
    git(&repo, &["checkout", "-q", "main"]);
    let env = environments::create(
        &rig.store,
        NewEnvironment {
            name: "repo".into(),
            repository: Some(repo.display().to_string()),
            base_branch: Some("develop".into()),
            ..NewEnvironment::default()
        },
    )
    .unwrap();
    let run =
        rig.final_state(&shell_run(&rig, &env, "test -f dev.txt", Some(Isolation::Worktree)).id);
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    let r = record(&run);
    assert_eq!(r.base_branch, "develop");
    assert_eq!(r.base_commit, git(&repo, &["rev-parse", "develop"]));

    // The run's own --base wins; a branch that does not exist is named.
    let spec = |base: &str| {
        ExecutionSpec::Shell(ShellSpec {
            line: Some("test ! -f dev.txt".into()),
            isolation: Some(Isolation::Worktree),
            base_branch: Some(base.into()),
            ..ShellSpec::default()
        })
    };
    let on_main = rig.queue_new(NewExecution {
        environment_id: Some(env.id.clone()),
        spec: Some(spec("main")),
        ..NewExecution::default()
    });
    let on_main = rig.final_state(&on_main.id);
    assert_eq!(
        on_main.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        on_main.error
    );
    assert_eq!(record(&on_main).base_branch, "main");
    let missing = rig.queue_new(NewExecution {
        environment_id: Some(env.id.clone()),
        spec: Some(spec("nope")),
        ..NewExecution::default()
    });
    let error = rig.final_state(&missing.id).error.unwrap();
    assert!(
        error.contains("the base branch `nope` does not exist"),
        "{error}"
    );

    let bad = environments::create(
        &rig.store,
        NewEnvironment {
            name: "bad".into(),
            base_branch: Some("two words".into()),
            ..NewEnvironment::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(bad, CoreError::Invalid(ref f) if f.field == "base_branch"),
        "{bad}"
    );
}

#[test]
fn a_branch_name_already_taken_fails_the_run_before_it_starts() {
    let rig = Rig::start();
    let dir = tempfile::tempdir().unwrap();
    let repo = repository(dir.path());
    let env = environment(&rig.store, &repo, "true {prompt}", None);
    let marker = dir.path().join("ran");
    // Queued a moment ahead, so its branch can be taken first; the name is the run id's tail.
    let later =
        flightdeck_types::Timestamp::from_millis(flightdeck_core::clock::now().as_millis() + 3_000);
    let run = rig.queue_new(NewExecution {
        environment_id: Some(env.id.clone()),
        spec: Some(ExecutionSpec::Shell(ShellSpec {
            line: Some(format!("touch {}", marker.display())),
            isolation: Some(Isolation::Worktree),
            ..ShellSpec::default()
        })),
        not_before: Some(later),
        ..NewExecution::default()
    });
    let hex: String = run.id.chars().filter(char::is_ascii_hexdigit).collect();
    let branch = format!("flightdeck/run-{}", &hex[hex.len() - 8..]);
    git(&repo, &["branch", &branch]);
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::Failed);
    let error = run.error.unwrap();
    assert!(
        error.contains(&format!("the branch `{branch}` already exists")),
        "{error}"
    );
    assert!(!marker.exists());
}
