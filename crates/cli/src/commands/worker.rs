//! A worker inside a foreground command (`run`, `workflow start --follow`, `workflow
//! follow`): when no daemon or app holds the workspace's worker lock, this process takes it
//! and runs the runner and the workflow driver until the command is done.

use std::sync::Arc;

use flightdeck_core::runs::{self, RunnerConfig, RunnerHandle, WorkerLock};
use flightdeck_core::secrets::SecretStore;
use flightdeck_core::workflows::{self, driver::DriverHandle, WorkflowDriver};
use flightdeck_core::{CoreError, Store};

pub struct LocalWorker {
    lock: WorkerLock,
    runner: RunnerHandle,
    driver: DriverHandle,
}

impl LocalWorker {
    /// Takes the lock and starts, after recovering what a dead process left; `None` when
    /// another process holds the lock (it runs the work, and the command follows along).
    pub fn try_start(
        store: &Arc<Store>,
        runtime: &tokio::runtime::Runtime,
        command: &str,
    ) -> Result<Option<Self>, CoreError> {
        let holder = format!("{command}, pid {}", std::process::id());
        let lock = match WorkerLock::acquire(store, &holder) {
            Ok(lock) => lock,
            Err(CoreError::Refused(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let secrets: Arc<dyn SecretStore> = super::secrets(store)?.store;
        runs::recover_interrupted(store, secrets.as_ref())?;
        workflows::recover(store)?;
        let _entered = runtime.enter();
        let config = runs::settings::apply(store, RunnerConfig::default())?;
        let runner = runs::Runner::new(store.clone(), secrets, config).spawn();
        let driver = WorkflowDriver::new(store.clone()).spawn();
        Ok(Some(Self {
            lock,
            runner,
            driver,
        }))
    }

    /// Stops after the runs in flight end, and releases the lock.
    pub fn stop(self, store: &Store, runtime: &tokio::runtime::Runtime) -> Result<(), CoreError> {
        let driven = runtime.block_on(self.driver.stop());
        let ran = runtime.block_on(self.runner.stop());
        self.lock.release(store)?;
        driven.and(ran)
    }
}
