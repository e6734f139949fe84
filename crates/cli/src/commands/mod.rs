pub mod audit;
pub mod backup;
pub mod context;
pub mod daemon;
pub mod devices;
pub mod env;
pub mod errors;
pub mod export;
pub mod insights;
pub mod mcp;
pub mod memory;
pub mod replay;
pub mod restore;
pub mod run_worktree;
pub mod runs;
pub mod schedule;
pub mod secrets;
pub mod sync;
pub mod task;
pub mod worker;
pub mod workflow;
mod workflow_follow;

use flightdeck_core::secrets::WorkspaceSecrets;
use flightdeck_core::{CoreError, Store};

/// This workspace's secret store ([`flightdeck_core::secrets::for_workspace`]); when it is the
/// secrets file because no OS keyring works here, says so on stderr in one line.
pub(crate) fn secrets(store: &Store) -> Result<WorkspaceSecrets, CoreError> {
    let chosen = flightdeck_core::secrets::for_workspace(store)?;
    if let Some(notice) = &chosen.notice {
        eprintln!("warning: {notice}");
    }
    Ok(chosen)
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CoreError> {
    runtime_with(2)
}

/// The runtime of a command that runs what it queued and follows it from its main thread
/// (`run`, `workflow start --follow`): one async worker, so that a run's tasks do not hop
/// between two workers at each step (its store work runs on blocking threads either way).
/// A 100-step chain 239 -> 232 ms, a 1000-step one 2,670 -> 2,562 ms (BENCHMARKS.md).
pub(crate) fn follower_runtime() -> Result<tokio::runtime::Runtime, CoreError> {
    runtime_with(1)
}

fn runtime_with(workers: usize) -> Result<tokio::runtime::Runtime, CoreError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(|e| CoreError::io("cannot start the async runtime", e))
}
