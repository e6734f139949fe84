//! A run that worked in its own git worktree: where, on which branch, from which commit, and
//! what it changed. Kept in the run's `result` under `worktree` (small, so it syncs); the full
//! diff stays on the device that ran it (see `flightdeck_core::runs::worktree`).

use serde::{Deserialize, Serialize};

string_enum! {
    /// What became of a run's worktree and branch.
    WorktreeState, "worktree state" {
        /// The worktree and branch are there, waiting for a merge or a discard.
        Open => "open",
        /// The branch was merged into its base; the worktree stays until clean-up.
        Merged => "merged",
        /// The worktree and branch were removed unmerged.
        Discarded => "discarded",
    }
}

/// One changed file: lines added and removed (`None` for a binary file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    pub path: String,
    pub added: Option<u64>,
    pub removed: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorktreeRecord {
    /// The device whose disk holds the worktree (merge and discard happen there).
    pub device_id: String,
    /// The repository's top-level directory.
    pub repository: String,
    /// The worktree's directory.
    pub path: String,
    /// The run's branch, `flightdeck/<task-slug>-<short run id>`.
    pub branch: String,
    pub base_branch: String,
    /// The base branch's commit the worktree started from.
    pub base_commit: String,
    /// The branch's commit when the run ended (unset while it runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_commit: Option<String>,
    /// Whether the run left changes uncommitted, which Flightdeck then committed on its branch.
    #[serde(default)]
    pub committed_leftovers: bool,
    /// Files changed between the base commit and the head, the first
    /// [`WorktreeRecord::FILES_KEPT`] of them.
    #[serde(default)]
    pub files: Vec<FileChange>,
    #[serde(default)]
    pub files_changed: u64,
    #[serde(default)]
    pub lines_added: u64,
    #[serde(default)]
    pub lines_removed: u64,
    /// Size of the full diff, and whether the stored copy was cut at the cap.
    #[serde(default)]
    pub diff_bytes: u64,
    #[serde(default)]
    pub diff_truncated: bool,
    pub state: WorktreeState,
    /// The base branch's commit after the merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_commit: Option<String>,
}

impl WorktreeRecord {
    /// Files listed in the record; `files_changed` counts them all.
    pub const FILES_KEPT: usize = 500;

    /// A worktree just made, open, with nothing measured yet.
    pub fn new(
        device_id: String,
        repository: String,
        path: String,
        branch: String,
        base_branch: String,
        base_commit: String,
    ) -> Self {
        WorktreeRecord {
            device_id,
            repository,
            path,
            branch,
            base_branch,
            base_commit,
            head_commit: None,
            committed_leftovers: false,
            files: Vec::new(),
            files_changed: 0,
            lines_added: 0,
            lines_removed: 0,
            diff_bytes: 0,
            diff_truncated: false,
            state: WorktreeState::Open,
            merged_commit: None,
        }
    }

    /// The same worktree and branch for another run in it: where it is and what it started
    /// from, with what the last run measured cleared.
    pub fn for_another_run(&self) -> Self {
        Self::new(
            self.device_id.clone(),
            self.repository.clone(),
            self.path.clone(),
            self.branch.clone(),
            self.base_branch.clone(),
            self.base_commit.clone(),
        )
    }

    /// The record in a run's result, if the run had a worktree.
    pub fn from_result(result: Option<&serde_json::Value>) -> Option<WorktreeRecord> {
        serde_json::from_value(result?.get("worktree")?.clone()).ok()
    }
}

/// A run's diff: its worktree record and the stored full diff, or why there is none here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunDiff {
    pub run_id: String,
    pub worktree: WorktreeRecord,
    /// The unified diff (cut at the cap when `worktree.diff_truncated`).
    #[serde(default)]
    pub diff: Option<String>,
    /// Why `diff` is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

/// How a merge went. A conflict changes nothing: the base branch, its checkout and the run's
/// branch are as they were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum MergeOutcome {
    Merged {
        /// The base branch's new commit.
        commit: String,
        fast_forward: bool,
    },
    Conflict {
        files: Vec<String>,
    },
}
