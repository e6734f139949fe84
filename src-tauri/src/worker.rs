//! The workspace's worker in the app: `flightdeck_core::worker::run` (runner, scheduler and,
//! once joined, sync) on its own thread and tokio runtime, under the workspace's worker lock,
//! the same lock `flightdeck daemon` takes. When another process already holds it, that
//! process runs the work; the app keeps working, keeps its own sync going (so remote changes
//! still show live), says who runs the work in the sync status, and takes over once the lock
//! is free again.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use flightdeck_core::runs::WorkerLock;
use flightdeck_core::secrets::SecretStore;
use flightdeck_core::sync::account;
use flightdeck_core::worker::{self, WorkerEvent, WorkerOptions};
use flightdeck_core::{CoreError, Store};
use flightdeck_types::WorkerState;
use tauri::{AppHandle, Manager};
use tokio::sync::watch;

use crate::state::AppState;

/// How often the app looks whether the process holding the worker lock has let it go.
const TAKE_OVER_EVERY: Duration = Duration::from_secs(3);

/// How this app appears in the lock file (the pid is added by the lock).
const HOLDER: &str = "the Flightdeck app";

/// The running worker thread.
pub struct Worker {
    shutdown: watch::Sender<bool>,
    done: std::sync::mpsc::Receiver<()>,
}

impl Worker {
    /// Asks the worker to stop and waits at most `grace`: the runner lets runs in flight end
    /// first, and a run still going when the app exits is marked interrupted (and recovered
    /// by its retry policy) at the next start.
    pub fn stop(&self, grace: Duration) {
        let _ = self.shutdown.send(true);
        let _ = self.done.recv_timeout(grace);
    }
}

/// Starts the worker thread (once); its state goes to the sync status and the tray.
pub fn start(app: &AppHandle) {
    let state = app.state::<AppState>();
    let (store, secrets) = match (state.store(), state.keyring()) {
        (Ok(store), Ok(keyring)) => (store.clone(), keyring.clone() as Arc<dyn SecretStore>),
        (Err(e), _) | (_, Err(e)) => {
            set_state(app, WorkerState::Stopped { error: e.message });
            return;
        }
    };
    let (shutdown, stopped) = watch::channel(false);
    let (finished, done) = std::sync::mpsc::channel();
    let handle = app.clone();
    std::thread::spawn(move || {
        // Its own runtime, two workers (this machine's cores): the runner's executors and the
        // scheduler never compete with Tauri's runtime.
        match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("flightdeck-worker")
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(supervise(&handle, store, secrets, stopped)),
            Err(e) => set_state(
                &handle,
                WorkerState::Stopped {
                    error: format!("no runtime for the worker: {e}"),
                },
            ),
        }
        let _ = finished.send(());
    });
    *state.worker.lock().unwrap_or_else(|p| p.into_inner()) = Some(Worker { shutdown, done });
}

/// Runs the worker whenever the lock is free, until the app stops it.
async fn supervise(
    app: &AppHandle,
    store: Arc<Store>,
    secrets: Arc<dyn SecretStore>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        match look(&store) {
            Ok(Lock::Free) => run_worker(app, &store, &secrets, &stopped).await,
            Ok(Lock::Held(holder)) => set_state(app, WorkerState::Elsewhere { holder }),
            Err(error) => set_state(app, WorkerState::Stopped { error }),
        }
        if *stopped.borrow() {
            return;
        }
        // Elsewhere or stopped: the app syncs by itself meanwhile, and looks again later.
        if let Err(e) = crate::sync::start_if_joined(app) {
            tracing::warn!(error = %e.message, "background sync did not start");
        }
        crate::sync::report(app);
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(TAKE_OVER_EVERY) => {}
        }
    }
}

enum Lock {
    Free,
    /// Held by someone else, named as the lock file names them.
    Held(String),
}

/// Whether the worker lock can be taken now (taken and released at once when it can).
fn look(store: &Store) -> Result<Lock, String> {
    match WorkerLock::acquire(store, HOLDER) {
        Ok(lock) => lock
            .release(store)
            .map(|_| Lock::Free)
            .map_err(|e| e.to_string()),
        Err(CoreError::Refused(message)) => Ok(Lock::Held(holder_of(&message))),
        Err(e) => Err(e.to_string()),
    }
}

/// "… already running (flightdeck daemon, pid 12 pid 12); stop it …" -> the part in brackets.
fn holder_of(message: &str) -> String {
    message
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(");"))
        .map(|(who, _)| who.to_string())
        .unwrap_or_else(|| message.to_string())
}

async fn run_worker(
    app: &AppHandle,
    store: &Arc<Store>,
    secrets: &Arc<dyn SecretStore>,
    stopped: &watch::Receiver<bool>,
) {
    let state = app.state::<AppState>();
    // The worker syncs a joined workspace itself: the app's own sync steps aside.
    let joined = account::status(store).map(|s| s.joined).unwrap_or(false);
    state.worker_syncs.store(joined, Ordering::SeqCst);
    crate::sync::stop_standalone(app);
    set_state(app, WorkerState::Running);
    let mut stop = stopped.clone();
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let events = app.clone();
    let outcome = worker::run(
        store.clone(),
        secrets.clone(),
        HOLDER,
        WorkerOptions::default(),
        shutdown,
        move |event| on_event(&events, event),
    )
    .await;
    state.worker_syncs.store(false, Ordering::SeqCst);
    match outcome {
        Ok(()) => {}
        // Taken by another process between the look and the run.
        Err(CoreError::Refused(message)) => set_state(
            app,
            WorkerState::Elsewhere {
                holder: holder_of(&message),
            },
        ),
        Err(e) => {
            tracing::error!(error = %e, "the worker stopped");
            set_state(
                app,
                WorkerState::Stopped {
                    error: e.to_string(),
                },
            );
        }
    }
}

fn on_event(app: &AppHandle, event: WorkerEvent) {
    match event {
        WorkerEvent::Recovered(n) => {
            tracing::info!(
                n,
                "runs left running by a process that died are now interrupted"
            )
        }
        WorkerEvent::WorkflowsResumed(n) => {
            tracing::info!(
                n,
                "workflow runs left running resume from their checkpoints"
            )
        }
        WorkerEvent::SyncOff => {}
        WorkerEvent::NoDeviceToken(why) => {
            tracing::error!(%why, "not syncing");
            crate::sync::on_round(
                app,
                &Err(flightdeck_core::CoreError::Sync {
                    code: "no_device_token".into(),
                    message: why,
                }),
            )
        }
        WorkerEvent::Synced(round) => crate::sync::on_round(app, &round),
    }
}

/// Records the worker's state and reports it with the sync status.
pub fn set_state(app: &AppHandle, worker: WorkerState) {
    {
        let state = app.state::<AppState>();
        let mut live = state.live.lock().unwrap_or_else(|p| p.into_inner());
        if live.worker == worker {
            return;
        }
        live.worker = worker;
    }
    crate::sync::report(app);
}
