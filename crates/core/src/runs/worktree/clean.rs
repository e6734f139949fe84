//! The worktrees this device holds, and their clean-up: a merged run's worktree is removed
//! once the run is older than the retention (a setting, 14 days by default), with its branch
//! when the base holds all of it. A worktree that is not merged, or that has changes the base
//! lacks, is never removed by the clean-up: it is listed, for a person to merge or discard.

use std::path::{Path, PathBuf};

use flightdeck_types::{Execution, Timestamp, WorktreeRecord, WorktreeState};
use serde::{Deserialize, Serialize};

use super::git;
use crate::error::{CoreError, Result};
use crate::store::memories as meta;
use crate::store::{executions, Store};

const SETTINGS_KEY: &str = "worktrees";
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// This device's worktree settings (local, like the other per-device settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorktreeSettings {
    /// Merged runs' worktrees are removed once the run ended this many days ago.
    pub retention_days: u32,
}

impl Default for WorktreeSettings {
    fn default() -> Self {
        WorktreeSettings { retention_days: 14 }
    }
}

pub fn settings(store: &Store) -> Result<WorktreeSettings> {
    let stored = store.read(|c| meta::meta(c, SETTINGS_KEY))?;
    Ok(stored
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default())
}

pub fn set_settings(store: &Store, settings: WorktreeSettings) -> Result<WorktreeSettings> {
    if settings.retention_days == 0 {
        return Err(CoreError::invalid(
            "retention_days",
            "give at least 1 day (the default is 14)",
        ));
    }
    let text = serde_json::to_string(&settings).expect("settings serialize");
    store.write(|w| meta::set_meta(w, SETTINGS_KEY, &text))?;
    Ok(settings)
}

/// One run's worktree as this device holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorktreeEntry {
    pub run_id: String,
    pub task_id: Option<String>,
    pub branch: String,
    pub state: WorktreeState,
    pub path: String,
    /// Whether the worktree's directory is still there.
    pub present: bool,
    /// When the run ended (unset while it runs).
    pub finished_at: Option<Timestamp>,
}

fn entry(run: &Execution, record: &WorktreeRecord) -> WorktreeEntry {
    WorktreeEntry {
        run_id: run.id.clone(),
        task_id: run.task_id.clone(),
        branch: record.branch.clone(),
        state: record.state,
        path: record.path.clone(),
        present: Path::new(&record.path).is_dir(),
        finished_at: run.finished_at,
    }
}

fn runs_with_worktrees(store: &Store) -> Result<Vec<(Execution, WorktreeRecord)>> {
    let runs = store.read(|c| executions::with_worktree_on(c, store.device_id()))?;
    Ok(runs
        .into_iter()
        .filter_map(|run| {
            let record = WorktreeRecord::from_result(run.result.as_ref())?;
            Some((run, record))
        })
        .collect())
}

/// Every run's worktree on this device, oldest run first.
pub fn list(store: &Store) -> Result<Vec<WorktreeEntry>> {
    Ok(runs_with_worktrees(store)?
        .iter()
        .map(|(run, record)| entry(run, record))
        .collect())
}

/// What a clean-up did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CleanReport {
    /// Merged worktrees removed now.
    pub removed: Vec<WorktreeEntry>,
    /// Worktrees past the retention that were kept: not merged, or changed since the merge.
    pub kept: Vec<(WorktreeEntry, String)>,
}

/// Removes the worktrees of merged runs that ended more than the retention before `now`;
/// reports the ones past it that stay, and why.
pub fn clean(store: &Store, now: Timestamp) -> Result<CleanReport> {
    let retention = i64::from(settings(store)?.retention_days) * DAY_MS;
    let mut report = CleanReport::default();
    for (run, record) in runs_with_worktrees(store)? {
        let Some(finished) = run.finished_at else {
            continue;
        };
        let found = entry(&run, &record);
        if !found.present || now.as_millis() - finished.as_millis() < retention {
            continue;
        }
        if record.state != WorktreeState::Merged {
            report
                .kept
                .push((found, "not merged: merge or discard it".into()));
            continue;
        }
        match remove_merged(&record) {
            Ok(()) => report.removed.push(WorktreeEntry {
                present: false,
                ..found
            }),
            Err(why) => report.kept.push((found, why)),
        }
    }
    Ok(report)
}

/// Removes a merged run's worktree when it holds nothing the base lacks, and its branch when
/// the base holds all of it; `Err` says why it stays.
fn remove_merged(record: &WorktreeRecord) -> std::result::Result<(), String> {
    let top = PathBuf::from(&record.repository);
    let path = Path::new(&record.path);
    let check = || -> Result<Option<String>> {
        if !git::run(path, &["status", "--porcelain"])?.is_empty() {
            return Ok(Some("changed since the merge (uncommitted files)".into()));
        }
        let base = format!("refs/heads/{}", record.base_branch);
        // In the worktree, so HEAD is the worktree's own; branches are shared with the repository.
        if !git::succeeds(path, &["merge-base", "--is-ancestor", "HEAD", &base])? {
            return Ok(Some(format!(
                "changed since the merge (commits `{}` lacks)",
                record.base_branch
            )));
        }
        Ok(None)
    };
    match check() {
        Ok(Some(why)) => return Err(why),
        Ok(None) => {}
        Err(e) => return Err(e.to_string()),
    }
    git::run(&top, &["worktree", "remove", "--force", &record.path]).map_err(|e| e.to_string())?;
    // `-d` deletes only a branch its base holds; a refusal leaves the branch, which is harmless.
    let _ = git::output(&top, &["branch", "-d", &record.branch]);
    Ok(())
}
