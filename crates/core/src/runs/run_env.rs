//! The variables every shell run started by Flightdeck sees, so that anything it records
//! (a memory through `flightdeck mcp` or the CLI, say) can be tied to the run and reach the
//! same workspace: `$FLIGHTDECK_EXECUTION_ID`, `$FLIGHTDECK_TASK_ID` (when the run has a
//! task), `$FLIGHTDECK_WORKSPACE` and `$FLIGHTDECK_DATA_DIR` (when the database is a
//! workspace's, `DATA_DIR/workspaces/NAME/flightdeck.db`). The CLI reads the last two, so a
//! `flightdeck` command inside a run works on the run's workspace.

use flightdeck_types::Execution;

use crate::store::Store;

pub const EXECUTION_ID_ENV: &str = "FLIGHTDECK_EXECUTION_ID";
pub const TASK_ID_ENV: &str = "FLIGHTDECK_TASK_ID";
pub const WORKSPACE_ENV: &str = "FLIGHTDECK_WORKSPACE";

pub fn run_env(store: &Store, run: &Execution) -> Vec<(&'static str, String)> {
    let mut env = vec![(EXECUTION_ID_ENV, run.id.clone())];
    if let Some(task) = &run.task_id {
        env.push((TASK_ID_ENV, task.clone()));
    }
    if let Some((data_dir, workspace)) = crate::paths::workspace_of_db(store.path()) {
        env.push((WORKSPACE_ENV, workspace));
        env.push((crate::paths::DATA_DIR_ENV, data_dir.display().to_string()));
    }
    env
}
