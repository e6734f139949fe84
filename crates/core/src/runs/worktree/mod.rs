//! One git worktree per agent run. An agent run of an environment whose repository is a local
//! git repository (and any shell run or step that asks with `isolation: worktree`) works in a
//! fresh worktree on its own branch, so parallel runs never share a checkout. When it ends, its
//! leftovers are committed on the branch and the diff is measured; a person then merges the
//! branch into its base or discards it.
//!
//! Where things live:
//! - the worktree: `<data dir>/worktrees/<run id>` (the data dir is the person's own);
//! - the diff stat (files, lines added and removed, at most 500 files listed): in the run's
//!   `result.worktree`, which syncs, so every device can show what a run changed;
//! - the full diff: `<data dir>/diffs/<run id>.diff`, cut at 1 MiB, never synced. Only the
//!   device holding the worktree can merge it, a diff can be megabytes, and a synced cell is
//!   kept in every device's and the server's change history for good.

mod actions;
pub mod clean;
mod git;
mod prepare;
mod run;

pub use actions::{diff_of, discard, merge, open_in_editor};
pub use flightdeck_types::{MergeOutcome, RunDiff};
pub use prepare::{collect, plan, prepare, reuse, Plan, Prepared};
pub(crate) use run::run_in_worktree;
pub use run::{BASE_BRANCH_ENV, BRANCH_ENV, WORKTREE_ENV};

use crate::store::Store;

/// The largest full diff kept; a longer one is cut at a line boundary and marked truncated.
pub const DIFF_CAP: usize = 1 << 20;

pub(crate) fn worktrees_dir(store: &Store) -> std::path::PathBuf {
    super::beside_database(store, "worktrees")
}

pub(crate) fn diff_path(store: &Store, run_id: &str) -> std::path::PathBuf {
    super::beside_database(store, "diffs").join(format!("{run_id}.diff"))
}
