pub mod audit;
pub mod context;
pub mod daemon;
pub mod devices;
pub mod env;
pub mod errors;
pub mod memory;
pub mod runs;
pub mod schedule;
pub mod sync;
pub mod task;
pub mod worker;
pub mod workflow;
mod workflow_follow;

use flightdeck_core::CoreError;

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CoreError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CoreError::io("cannot start the async runtime", e))
}
