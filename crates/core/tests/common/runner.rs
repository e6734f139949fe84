//! A real runner over a real store, for the executor tests.

#![allow(dead_code)] // each test file uses its own subset

use std::sync::Arc;
use std::time::{Duration, Instant};

use flightdeck_core::runs::{self, Runner, RunnerConfig};
use flightdeck_core::secrets::OsKeyring;
use flightdeck_core::Store;
use flightdeck_types::{Execution, ExecutionFilter, ExecutionSpec, NewExecution, ShellSpec};

pub const WAIT: Duration = Duration::from_secs(30);

pub fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub struct Rig {
    _dir: tempfile::TempDir,
    pub store: Arc<Store>,
    pub runtime: tokio::runtime::Runtime,
    runner: Option<runs::RunnerHandle>,
}

impl Rig {
    pub fn start() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("flightdeck.db")).unwrap();
        Self::start_on(dir, store)
    }

    /// A rig on workspace `workspace` of the data dir `data/<data_dir>` (a name with a space
    /// tests quoting), as the CLI and the app lay them out.
    #[allow(dead_code)]
    pub fn start_in_workspace(data_dir: &str, workspace: &str) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_workspace(Some(&dir.path().join(data_dir)), workspace).unwrap();
        Self::start_on(dir, store)
    }

    fn start_on(dir: tempfile::TempDir, store: Store) -> Rig {
        let store = Arc::new(store);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let runner = {
            let _entered = runtime.enter();
            Runner::new(
                store.clone(),
                Arc::new(OsKeyring::from_env().unwrap()),
                RunnerConfig::default(),
            )
            .spawn()
        };
        Rig {
            _dir: dir,
            store,
            runtime,
            runner: Some(runner),
        }
    }

    pub fn queue(&self, line: &str, timeout_secs: Option<u64>) -> Execution {
        self.queue_spec(ExecutionSpec::Shell(ShellSpec {
            line: Some(line.into()),
            timeout_secs,
            ..ShellSpec::default()
        }))
    }

    pub fn queue_spec(&self, spec: ExecutionSpec) -> Execution {
        self.queue_new(NewExecution {
            spec: Some(spec),
            ..NewExecution::default()
        })
    }

    pub fn queue_new(&self, input: NewExecution) -> Execution {
        runs::queue(&self.store, input).unwrap()
    }

    pub fn final_state(&self, id: &str) -> Execution {
        until("the run to end", || {
            let run = runs::get(&self.store, id).unwrap();
            run.status.is_final().then_some(run)
        })
    }

    /// The run queued to retry `id`, once recovery has queued it.
    pub fn retry_of(&self, id: &str) -> Execution {
        until("the retry to be queued", || {
            runs::list(&self.store, &ExecutionFilter::default())
                .unwrap()
                .into_iter()
                .find(|r| r.retry_of.as_deref() == Some(id))
        })
    }

    /// Serves `app` on 127.0.0.1:0 on the rig's runtime; returns its base URL.
    pub fn serve(&self, app: axum::Router) -> String {
        serve_on(&self.runtime, app)
    }

    pub fn output(&self, id: &str) -> Vec<(String, String)> {
        runs::events(&self.store, id, 0, 100_000)
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == "stdout" || e.kind == "stderr" || e.kind == "truncated")
            .map(|e| (e.kind, e.data))
            .collect()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(runner) = self.runner.take() {
            let _ = self.runtime.block_on(runner.stop());
        }
    }
}

/// Serves `app` on 127.0.0.1:0 on `runtime` for as long as it runs; returns its base URL.
pub fn serve_on(runtime: &tokio::runtime::Runtime, app: axum::Router) -> String {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}
