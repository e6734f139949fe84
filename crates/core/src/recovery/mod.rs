//! Recovery: error records for failed runs, retries with backoff, escalation.

use flightdeck_types::Execution;

use crate::error::Result;
use crate::store::Writer;

/// Called by the runner inside the write that moves `run` to a final status (failed,
/// timed_out, interrupted, cancelled or succeeded), so the error record and any retry commit
/// together with the status.
pub fn on_run_finished(_w: &mut Writer<'_>, _run: &Execution) -> Result<()> {
    Ok(())
}
