//! What a person does with a finished run's worktree: read its diff, merge its branch into the
//! base branch, or discard both. Each is refused on a device that does not hold the worktree.

use std::path::{Path, PathBuf};

use flightdeck_types::{
    AuditAction, EntityKind, Execution, MergeOutcome, RunDiff, WorktreeRecord, WorktreeState,
};
use serde_json::json;

use super::prepare::{checkout_of, commit_leftovers};
use super::{diff_path, git};
use crate::audit::diff;
use crate::error::{CoreError, Result};
use crate::store::{executions, Store};

/// A run's worktree record, the run, and whether this device holds it.
fn record_of(store: &Store, run_id: &str) -> Result<(Execution, WorktreeRecord)> {
    let run = store.read(|c| executions::find(c, run_id))?;
    let record = WorktreeRecord::from_result(run.result.as_ref()).ok_or_else(|| {
        CoreError::Refused(format!(
            "run {} did not work in a worktree, so it has no diff (agent runs get one when \
             their environment's repository is a local git repository)",
            run.id
        ))
    })?;
    Ok((run, record))
}

fn here(store: &Store, run: &Execution, record: &WorktreeRecord, doing: &str) -> Result<()> {
    if record.device_id != store.device_id() {
        return Err(CoreError::Refused(format!(
            "run {}'s worktree is on device {}; {doing} it there",
            run.id, record.device_id
        )));
    }
    Ok(())
}

pub fn diff_of(store: &Store, run_id: &str) -> Result<RunDiff> {
    let (run, record) = record_of(store, run_id)?;
    let (diff, missing) = if record.head_commit.is_none() {
        (
            None,
            Some(format!(
                "run {} has not finished; its diff is taken when it ends",
                run.id
            )),
        )
    } else {
        match std::fs::read(diff_path(store, &run.id)) {
            Ok(bytes) => (Some(String::from_utf8_lossy(&bytes).into_owned()), None),
            Err(_) if record.device_id != store.device_id() => (
                None,
                Some(format!(
                    "the full diff stays on device {}, which ran it; the file list is above",
                    record.device_id
                )),
            ),
            Err(e) => (None, Some(format!("the stored diff cannot be read: {e}"))),
        }
    };
    Ok(RunDiff {
        run_id: run.id,
        worktree: record,
        diff,
        missing,
    })
}

/// Merges the run's branch into its base branch: a fast-forward when the base has not moved,
/// else a merge commit. Changes made in the worktree since the run ended are committed on the
/// branch first. When the base branch is checked out, the merge happens in that checkout (which
/// must be clean), so the files there move with it; otherwise only the branch moves.
pub fn merge(store: &Store, run_id: &str) -> Result<MergeOutcome> {
    let (run, mut record) = record_of(store, run_id)?;
    here(store, &run, &record, "merge")?;
    open_and_finished(&run, &record)?;
    let top = PathBuf::from(&record.repository);
    let worktree = PathBuf::from(&record.path);
    if worktree.is_dir() {
        commit_leftovers(
            &worktree,
            &format!("Flightdeck: changes to run {} before its merge", run.id),
        )?;
    }
    let branch_ref = format!("refs/heads/{}", record.branch);
    let base_ref = format!("refs/heads/{}", record.base_branch);
    let head = git::run(&top, &["rev-parse", "--verify", &branch_ref]).map_err(|_| {
        CoreError::Refused(format!(
            "the branch `{}` is gone from {}; nothing to merge",
            record.branch, record.repository
        ))
    })?;
    let base = git::run(&top, &["rev-parse", "--verify", &base_ref]).map_err(|_| {
        CoreError::Refused(format!(
            "the base branch `{}` is gone from {}",
            record.base_branch, record.repository
        ))
    })?;
    let fast_forward = git::succeeds(&top, &["merge-base", "--is-ancestor", &base, &head])?;
    let message = format!("Merge {} (Flightdeck run {})", record.branch, run.id);
    let commit = match checkout_of(&top, &base_ref)? {
        Some(checkout) => merge_in_checkout(&checkout, &record, &head, &message)?,
        None if fast_forward => {
            git::run(&top, &["update-ref", &base_ref, &head, &base])?;
            Ok(head.clone())
        }
        None => merge_without_checkout(&top, &base_ref, &base, &head, &message)?,
    };
    let commit = match commit {
        Ok(commit) => commit,
        Err(files) => return Ok(MergeOutcome::Conflict { files }),
    };
    record.state = WorktreeState::Merged;
    record.merged_commit = Some(commit.clone());
    save(store, &run.id, &record)?;
    Ok(MergeOutcome::Merged {
        commit,
        fast_forward,
    })
}

/// Merges in the checkout of the base branch; `Err(files)` on a conflict, after `merge
/// --abort` put the checkout back.
fn merge_in_checkout(
    checkout: &Path,
    record: &WorktreeRecord,
    head: &str,
    message: &str,
) -> Result<std::result::Result<String, Vec<String>>> {
    let dirty = git::run(checkout, &["status", "--porcelain", "--untracked-files=no"])?;
    if !dirty.is_empty() {
        return Err(CoreError::Refused(format!(
            "the base branch `{}` is checked out in {} with uncommitted changes; commit or \
             stash them, then merge again",
            record.base_branch,
            checkout.display()
        )));
    }
    let args = git::with_identity(checkout, &["merge", "--no-edit", "-m", message, head])?;
    let out = git::output(checkout, &args)?;
    if out.status.success() {
        return Ok(Ok(git::run(checkout, &["rev-parse", "HEAD"])?));
    }
    let files = git::run(checkout, &["diff", "--name-only", "--diff-filter=U"])?;
    let files: Vec<String> = files.lines().map(String::from).collect();
    let _ = git::output(checkout, &["merge", "--abort"]);
    if files.is_empty() {
        // Not a conflict: something else stopped git (an untracked file in the way, say).
        return Err(CoreError::Refused(format!(
            "`git merge` in {} failed: {}",
            checkout.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(Err(files))
}

/// Merges with no checkout of the base branch: `merge-tree` builds the merged tree (or names
/// the conflicting files) without touching any files, then a two-parent commit moves the
/// branch, only if it still points where it did.
fn merge_without_checkout(
    top: &Path,
    base_ref: &str,
    base: &str,
    head: &str,
    message: &str,
) -> Result<std::result::Result<String, Vec<String>>> {
    let out = git::output(
        top,
        &[
            "merge-tree",
            "--write-tree",
            "--name-only",
            "--no-messages",
            base,
            head,
        ],
    )?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let tree = lines.next().unwrap_or_default().to_string();
    match out.status.code() {
        Some(0) => {}
        Some(1) => {
            return Ok(Err(lines
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect()))
        }
        _ => {
            return Err(CoreError::Refused(format!(
                "`git merge-tree` in {} failed (git 2.38 or later is needed): {}",
                top.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }
    let args = git::with_identity(
        top,
        &["commit-tree", &tree, "-p", base, "-p", head, "-m", message],
    )?;
    let commit = git::run(top, &args)?;
    git::run(top, &["update-ref", base_ref, &commit, base])?;
    Ok(Ok(commit))
}

/// Removes the run's worktree and deletes its branch, merged or not.
pub fn discard(store: &Store, run_id: &str) -> Result<WorktreeRecord> {
    let (run, mut record) = record_of(store, run_id)?;
    here(store, &run, &record, "discard")?;
    if record.state == WorktreeState::Discarded {
        return Err(CoreError::Refused(format!(
            "run {}'s worktree was already discarded",
            run.id
        )));
    }
    if !run.status.is_final() {
        return Err(CoreError::Refused(format!(
            "run {} is still {}; cancel it before discarding its worktree",
            run.id, run.status
        )));
    }
    let top = PathBuf::from(&record.repository);
    if Path::new(&record.path).exists() {
        git::run(&top, &["worktree", "remove", "--force", &record.path])?;
    }
    git::run(&top, &["worktree", "prune"])?;
    let branch_ref = format!("refs/heads/{}", record.branch);
    if git::succeeds(&top, &["show-ref", "--verify", "--quiet", &branch_ref])? {
        git::run(&top, &["branch", "--quiet", "-D", &record.branch])?;
    }
    record.state = WorktreeState::Discarded;
    save(store, &run.id, &record)?;
    Ok(record)
}

/// Opens the run's worktree in the person's editor: `editor` (the app passes `$VISUAL`, else
/// `$EDITOR`; it may carry arguments, e.g. `code -n`) with the worktree's path, else the
/// desktop's default for a folder (`xdg-open`, `open` on macOS). Returns without waiting for it.
pub fn open_in_editor(store: &Store, run_id: &str, editor: Option<&str>) -> Result<PathBuf> {
    let (run, record) = record_of(store, run_id)?;
    here(store, &run, &record, "open")?;
    let path = PathBuf::from(&record.path);
    if !path.is_dir() {
        return Err(CoreError::Refused(format!(
            "run {}'s worktree {} is gone ({})",
            run.id, record.path, record.state
        )));
    }
    let mut cmd = match editor.map(str::trim).filter(|e| !e.is_empty()) {
        // Through the shell, so an editor with arguments works; the path goes in as $1.
        Some(editor) => {
            let mut cmd = std::process::Command::new("sh");
            cmd.arg("-c")
                .arg(format!("{editor} \"$1\""))
                .arg("sh")
                .arg(&path);
            cmd
        }
        None if cfg!(target_os = "macos") => {
            let mut cmd = std::process::Command::new("open");
            cmd.arg(&path);
            cmd
        }
        None => {
            let mut cmd = std::process::Command::new("xdg-open");
            cmd.arg(&path);
            cmd
        }
    };
    cmd.current_dir(&path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().map_err(|e| {
        CoreError::Refused(format!(
            "cannot open an editor for {}: {e}; set $VISUAL or $EDITOR",
            path.display()
        ))
    })?;
    // Reaped in the background, so no zombie is left behind.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(path)
}

fn open_and_finished(run: &Execution, record: &WorktreeRecord) -> Result<()> {
    if !run.status.is_final() || record.head_commit.is_none() {
        return Err(CoreError::Refused(format!(
            "run {} is still {}; merge it when it has ended",
            run.id, run.status
        )));
    }
    match record.state {
        WorktreeState::Open => Ok(()),
        WorktreeState::Merged => Err(CoreError::Refused(format!(
            "run {} was already merged into `{}`{}",
            run.id,
            record.base_branch,
            record
                .merged_commit
                .as_deref()
                .map(|c| format!(" ({})", &c[..c.len().min(12)]))
                .unwrap_or_default()
        ))),
        WorktreeState::Discarded => Err(CoreError::Refused(format!(
            "run {}'s worktree and branch were discarded; there is nothing to merge",
            run.id
        ))),
    }
}

/// Writes the record back into the run's result, with an audit row.
fn save(store: &Store, run_id: &str, record: &WorktreeRecord) -> Result<()> {
    store.write(|w| {
        let old = executions::find(w, run_id)?;
        let mut new = old.clone();
        let result = new.result.get_or_insert_with(|| json!({}));
        result["worktree"] = serde_json::to_value(record).expect("a record serializes");
        executions::set_result(w, run_id, new.result.as_ref())?;
        w.audit(
            EntityKind::Execution,
            run_id,
            AuditAction::Update,
            diff(Some(&old), Some(&new)),
        );
        Ok(())
    })
}
