//! `flightdeck daemon`: the workspace's worker in the foreground until Ctrl-C.

use std::sync::Arc;

use flightdeck_core::worker::{self, WorkerEvent, WorkerOptions};
use flightdeck_core::{CoreError, Store};

use super::runtime;

pub fn run(store: Arc<Store>) -> Result<(), CoreError> {
    let keyring = super::secrets(&store)?.store;
    let holder = format!("flightdeck daemon, pid {}", std::process::id());
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    eprintln!("running queued runs and schedules; Ctrl-C stops");
    runtime()?.block_on(worker::run(
        store,
        keyring,
        &holder,
        WorkerOptions::default(),
        shutdown,
        |event| match event {
            WorkerEvent::Recovered(n) => {
                eprintln!("{n} run(s) left running by a process that died are now interrupted")
            }
            WorkerEvent::WorkflowsResumed(n) => {
                eprintln!("{n} workflow run(s) left running by a process that died resume from their checkpoints")
            }
            WorkerEvent::SyncOff => {
                eprintln!(
                    "sync is off: this workspace has not joined a server (`flightdeck sync join`)"
                )
            }
            WorkerEvent::NoDeviceToken(why) => eprintln!("warning: NOT SYNCING: {why}"),
            WorkerEvent::Synced(Ok(r)) if r.pushed_cells + r.pulled_cells > 0 => eprintln!(
                "synced: pushed {} cells, pulled {}, {} conflicts; at {} of {}",
                r.pushed_cells, r.pulled_cells, r.conflicts, r.local_cursor, r.server_head
            ),
            WorkerEvent::Synced(Ok(_)) => {}
            WorkerEvent::Synced(Err(e)) => eprintln!("offline: {e}"),
        },
    ))?;
    eprintln!("stopped");
    Ok(())
}
