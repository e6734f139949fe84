//! Before the run: decide whether it gets a worktree and make it. After: commit what it left,
//! measure the diff and store it.

use std::path::{Path, PathBuf};

use flightdeck_types::{
    Environment, Execution, FileChange, Isolation, ShellSpec, WorktreeRecord, WorktreeState,
};

use super::{diff_path, git, worktrees_dir, DIFF_CAP};
use crate::error::{CoreError, Result};
use crate::store::Store;

/// Where a shell run works, when not in its working dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// A new worktree of this repository.
    New(PathBuf),
    /// The worktree of this earlier run (see [`ShellSpec::reuse_worktree`]).
    Reuse(String),
}

/// Whether a run gets a worktree (see [`Isolation`]): asked for with `worktree`, or an agent run
/// of an environment whose repository is a local directory, or a re-run in an earlier run's
/// worktree. Asking for a worktree without a local repository is an error that says what to set.
pub fn plan(spec: &ShellSpec, environment: Option<&Environment>) -> Result<Option<Plan>> {
    if let Some(run_id) = &spec.reuse_worktree {
        return Ok(Some(Plan::Reuse(run_id.clone())));
    }
    Ok(repository_for(spec, environment)?.map(Plan::New))
}

fn repository_for(spec: &ShellSpec, environment: Option<&Environment>) -> Result<Option<PathBuf>> {
    let local = environment
        .and_then(|e| e.repository.as_deref())
        .and_then(local_path);
    match spec.isolation {
        Some(Isolation::Shared) => Ok(None),
        Some(Isolation::Worktree) => match local {
            Some(path) => Ok(Some(path)),
            None => Err(CoreError::invalid(
                "isolation",
                match environment {
                    None => "a worktree run needs an environment whose repository is a local \
                             git repository; give the run an environment"
                        .to_string(),
                    Some(e) => format!(
                        "a worktree run needs a local git repository, and environment `{}` has \
                         {}; set one with `flightdeck env update {} --repo PATH`",
                        e.name,
                        match &e.repository {
                            None => "none".to_string(),
                            Some(r) => format!("`{r}`, which is not a local path"),
                        },
                        e.name
                    ),
                },
            )),
        },
        None if spec.agent_prompt.is_some() => Ok(local),
        None => Ok(None),
    }
}

/// A repository setting that names a directory on this machine (`~/` expanded); URLs and
/// `host:path` remotes are not.
fn local_path(repository: &str) -> Option<PathBuf> {
    let r = repository.trim();
    if r.is_empty() || r.contains("://") {
        return None;
    }
    let path = match r.strip_prefix("~/") {
        Some(rest) => PathBuf::from(std::env::var_os("HOME")?).join(rest),
        None => PathBuf::from(r),
    };
    if !path.is_absolute() && r.contains(':') {
        return None; // user@host:repo.git
    }
    Some(path)
}

/// A worktree made for a run, and the directory the run works in inside it.
pub struct Prepared {
    pub record: WorktreeRecord,
    pub work_dir: PathBuf,
}

/// Makes the run's worktree: a new branch `flightdeck/<task-slug>-<short run id>` from the
/// base branch's commit, under `<data dir>/worktrees/<run id>`. Refused, before anything is
/// made, when git is missing, the repository is not git, the base branch does not exist or has
/// uncommitted changes in its checkout, or the branch name is taken.
pub fn prepare(
    store: &Store,
    run: &Execution,
    spec: &ShellSpec,
    environment: &Environment,
    repository: &Path,
) -> Result<Prepared> {
    if !repository.is_dir() {
        return Err(CoreError::invalid(
            "repository",
            format!(
                "`{}` (the repository of environment `{}`) is not a directory on this device",
                repository.display(),
                environment.name
            ),
        ));
    }
    let top = match git::output(repository, &["rev-parse", "--show-toplevel"])? {
        out if out.status.success() => {
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim_end())
        }
        _ => {
            return Err(CoreError::invalid(
                "repository",
                format!(
                    "`{}` (the repository of environment `{}`) is not a git repository; run \
                     `git init` there and commit, or run with isolation `shared`",
                    repository.display(),
                    environment.name
                ),
            ))
        }
    };
    let base_branch = match spec
        .base_branch
        .as_ref()
        .or(environment.base_branch.as_ref())
    {
        Some(b) => b.clone(),
        None => git::run(&top, &["symbolic-ref", "--quiet", "--short", "HEAD"]).map_err(|_| {
            CoreError::invalid(
                "base_branch",
                format!(
                    "the checkout of {} is on no branch (detached HEAD); check out the branch \
                     agents should start from, or give a base branch",
                    top.display()
                ),
            )
        })?,
    };
    let base_ref = format!("refs/heads/{base_branch}");
    let base_commit = git::run(
        &top,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{base_ref}^{{commit}}"),
        ],
    )
    .map_err(|_| {
        CoreError::invalid(
            "base_branch",
            format!(
                "the base branch `{base_branch}` does not exist in {} (an empty repository \
                     needs a first commit)",
                top.display()
            ),
        )
    })?;
    if let Some(checkout) = checkout_of(&top, &base_ref)? {
        let dirty = git::run(
            &checkout,
            &["status", "--porcelain", "--untracked-files=no"],
        )?;
        if !dirty.is_empty() {
            let files: Vec<&str> = dirty
                .lines()
                .map(|l| l.get(3..).unwrap_or(l))
                .take(5)
                .collect();
            return Err(CoreError::invalid(
                "base_branch",
                format!(
                    "the base branch `{base_branch}` has uncommitted changes in {} ({}); commit \
                     or stash them, so the agent starts from what you see",
                    checkout.display(),
                    files.join(", ")
                ),
            ));
        }
    }
    let branch = branch_name(store, run);
    if git::succeeds(
        &top,
        &[
            "show-ref",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}"),
        ],
    )? {
        return Err(CoreError::invalid(
            "branch",
            format!(
                "the branch `{branch}` already exists in {}; delete it (`git branch -D \
                 {branch}`) or rename it, then run again",
                top.display()
            ),
        ));
    }
    let path = worktrees_dir(store).join(&run.id);
    if path.exists() {
        return Err(CoreError::invalid(
            "worktree",
            format!(
                "{} already exists; remove it, then run again",
                path.display()
            ),
        ));
    }
    let dir = worktrees_dir(store);
    std::fs::create_dir_all(&dir).map_err(|e| CoreError::io(dir.display().to_string(), e))?;
    let path_text = path.to_string_lossy().into_owned();
    git::run(
        &top,
        &[
            "worktree",
            "add",
            "--quiet",
            "-b",
            &branch,
            &path_text,
            &base_commit,
        ],
    )?;
    let work_dir = work_dir_in(&top, &path, spec, environment);
    Ok(Prepared {
        record: WorktreeRecord::new(
            store.device_id().to_string(),
            top.to_string_lossy().into_owned(),
            path_text,
            branch,
            base_branch,
            base_commit,
        ),
        work_dir,
    })
}

/// The worktree of the earlier run `run_id`, for a new run to work in: it must be open on
/// this device, and its directory still there. The new run's diff is taken from the same base
/// commit, so it shows the whole branch.
pub fn reuse(store: &Store, run_id: &str) -> Result<Prepared> {
    let earlier = store.read(|c| crate::store::executions::find(c, run_id))?;
    let record = WorktreeRecord::from_result(earlier.result.as_ref()).ok_or_else(|| {
        CoreError::invalid(
            "reuse_worktree",
            format!("run {run_id} did not work in a worktree; there is none to run in"),
        )
    })?;
    if record.device_id != store.device_id() {
        return Err(CoreError::invalid(
            "reuse_worktree",
            format!(
                "run {run_id}'s worktree is on device {}; run it there",
                record.device_id
            ),
        ));
    }
    if record.state != WorktreeState::Open || !Path::new(&record.path).is_dir() {
        return Err(CoreError::invalid(
            "reuse_worktree",
            format!(
                "run {run_id}'s worktree is {}; start a fresh run instead",
                if record.state == WorktreeState::Open {
                    "gone"
                } else {
                    record.state.as_str()
                }
            ),
        ));
    }
    let work_dir = PathBuf::from(&record.path);
    Ok(Prepared {
        record: record.for_another_run(),
        work_dir,
    })
}

/// Where `branch_ref` is checked out (the repository's own checkout or another worktree).
pub(super) fn checkout_of(top: &Path, branch_ref: &str) -> Result<Option<PathBuf>> {
    let list = git::run(top, &["worktree", "list", "--porcelain"])?;
    let mut current: Option<&str> = None;
    for line in list.lines() {
        if let Some(path) = line.strip_prefix("worktree ") {
            current = Some(path);
        } else if line.strip_prefix("branch ") == Some(branch_ref) {
            return Ok(current.map(PathBuf::from));
        }
    }
    Ok(None)
}

/// The run's working dir mapped into the worktree when it lies inside the repository; the
/// worktree's top otherwise.
fn work_dir_in(
    top: &Path,
    worktree: &Path,
    spec: &ShellSpec,
    environment: &Environment,
) -> PathBuf {
    let wanted = spec
        .working_dir
        .as_deref()
        .or(environment.working_dir.as_deref());
    wanted
        .map(Path::new)
        .and_then(|dir| {
            let dir = dir.canonicalize().ok()?;
            let rel = dir.strip_prefix(top.canonicalize().ok()?).ok()?;
            Some(worktree.join(rel))
        })
        .unwrap_or_else(|| worktree.to_path_buf())
}

/// `flightdeck/<task-slug>-<short run id>`: the slug from the task's title (or `run`), the
/// short id from the run id's random tail, so two runs started in the same millisecond differ.
fn branch_name(store: &Store, run: &Execution) -> String {
    let title = match &run.task_id {
        Some(id) => crate::tasks::get(store, id)
            .map(|t| t.title)
            .unwrap_or_default(),
        None => String::new(),
    };
    let mut slug = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 40 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() { "run" } else { slug };
    let hex: String = run.id.chars().filter(char::is_ascii_hexdigit).collect();
    let short = &hex[hex.len().saturating_sub(8)..];
    format!("flightdeck/{slug}-{short}")
}

/// After the run: commits what it left uncommitted on its branch, then records the head, the
/// diff stat and the full diff (cut at [`DIFF_CAP`], in `<data dir>/diffs/<run id>.diff`).
pub fn collect(store: &Store, run_id: &str, record: &mut WorktreeRecord) -> Result<()> {
    let path = PathBuf::from(&record.path);
    if commit_leftovers(
        &path,
        &format!("Flightdeck: changes run {run_id} left uncommitted"),
    )? {
        record.committed_leftovers = true;
    }
    let head = git::run(&path, &["rev-parse", "HEAD"])?;
    measure(&path, record, &head)?;
    let full = git::output(
        &path,
        &[
            "diff",
            "--no-color",
            "--no-ext-diff",
            &record.base_commit,
            &head,
        ],
    )?;
    let mut diff = full.stdout;
    record.diff_bytes = diff.len() as u64;
    record.diff_truncated = diff.len() > DIFF_CAP;
    if record.diff_truncated {
        let cut = diff[..DIFF_CAP]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(DIFF_CAP, |i| i + 1);
        diff.truncate(cut);
    }
    let file = diff_path(store, run_id);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| CoreError::io(dir.display().to_string(), e))?;
    }
    std::fs::write(&file, &diff).map_err(|e| CoreError::io(file.display().to_string(), e))?;
    record.head_commit = Some(head);
    Ok(())
}

/// Stages and commits everything in the worktree; false when there was nothing.
pub(super) fn commit_leftovers(path: &Path, message: &str) -> Result<bool> {
    if git::run(path, &["status", "--porcelain"])?.is_empty() {
        return Ok(false);
    }
    git::run(path, &["add", "--all"])?;
    let args = git::with_identity(path, &["commit", "--quiet", "--no-verify", "-m", message])?;
    git::run(path, &args)?;
    Ok(true)
}

/// Files, lines added and removed between the base commit and `head`.
fn measure(path: &Path, record: &mut WorktreeRecord, head: &str) -> Result<()> {
    let stat = git::output(
        path,
        &[
            "diff",
            "--numstat",
            "-z",
            "--no-renames",
            &record.base_commit,
            head,
        ],
    )?;
    let text = String::from_utf8_lossy(&stat.stdout);
    let (mut files, mut added, mut removed) = (Vec::new(), 0, 0);
    let mut count = 0u64;
    for entry in text.split('\0').filter(|e| !e.is_empty()) {
        let mut parts = entry.splitn(3, '\t');
        let (Some(a), Some(r), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let (a, r) = (a.parse::<u64>().ok(), r.parse::<u64>().ok());
        added += a.unwrap_or(0);
        removed += r.unwrap_or(0);
        count += 1;
        if files.len() < WorktreeRecord::FILES_KEPT {
            files.push(FileChange {
                path: file.to_string(),
                added: a,
                removed: r,
            });
        }
    }
    record.files = files;
    record.files_changed = count;
    record.lines_added = added;
    record.lines_removed = removed;
    Ok(())
}
