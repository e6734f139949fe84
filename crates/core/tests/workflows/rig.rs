//! A store with the runner and the workflow driver running, as a worker runs them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use flightdeck_core::runs::{self, Runner, RunnerConfig};
use flightdeck_core::secrets::OsKeyring;
use flightdeck_core::workflows::{self, Format, WorkflowDriver};
use flightdeck_core::Store;
use flightdeck_types::{Execution, ExecutionFilter, StartWorkflow, WorkflowRun, WorkflowRunStatus};

pub use super::runner::until;

pub struct WfRig {
    pub dir: tempfile::TempDir,
    pub store: Arc<Store>,
    pub runtime: tokio::runtime::Runtime,
    handles: Option<(runs::RunnerHandle, workflows::driver::DriverHandle)>,
}

impl WfRig {
    /// A store with nothing running on it (definitions, control from "another device").
    pub fn idle() -> WfRig {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("flightdeck.db")).unwrap());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        WfRig {
            dir,
            store,
            runtime,
            handles: None,
        }
    }

    pub fn start() -> WfRig {
        let mut rig = Self::idle();
        rig.run_worker();
        rig
    }

    /// A rig whose runner has this configuration (slots, step cap).
    pub fn start_with(config: RunnerConfig) -> WfRig {
        let mut rig = Self::idle();
        rig.run_worker_with(config);
        rig
    }

    pub fn run_worker(&mut self) {
        self.run_worker_with(RunnerConfig::default());
    }

    pub fn run_worker_with(&mut self, config: RunnerConfig) {
        let _entered = self.runtime.enter();
        let runner = Runner::new(
            self.store.clone(),
            Arc::new(OsKeyring::from_env().unwrap()),
            config,
        )
        .spawn();
        let driver = WorkflowDriver::new(self.store.clone()).spawn();
        self.handles = Some((runner, driver));
    }

    /// Serves `app` on a local port for as long as the rig lives; its base URL.
    pub fn serve(&self, app: axum::Router) -> String {
        super::runner::serve_on(&self.runtime, app)
    }

    /// A scratch file path in the rig's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn apply(&self, yaml: &str) -> flightdeck_types::Workflow {
        workflows::apply(&self.store, yaml, Format::Yaml)
            .unwrap()
            .workflow
    }

    pub fn start_run(&self, name: &str, params: &[&str]) -> WorkflowRun {
        workflows::start(
            &self.store,
            &flightdeck_core::secrets::OsKeyring::from_env().unwrap(),
            &StartWorkflow {
                workflow: name.into(),
                text_params: params.iter().map(|p| p.to_string()).collect(),
                ..Default::default()
            },
        )
        .unwrap()
    }

    pub fn wait_status(&self, id: &str, want: WorkflowRunStatus) -> WorkflowRun {
        until(&format!("run {id} {want}"), || {
            let run = workflows::get_run(&self.store, id).unwrap();
            assert!(
                !run.status.is_final() || run.status == want,
                "run ended {} ({:?}), not {want}",
                run.status,
                run.error
            );
            (run.status == want).then_some(run)
        })
    }

    pub fn finished(&self, id: &str) -> WorkflowRun {
        until(&format!("run {id} to end"), || {
            let run = workflows::get_run(&self.store, id).unwrap();
            run.status.is_final().then_some(run)
        })
    }

    /// Waits for run `id` to end, and checks that it succeeded.
    pub fn succeeded(&self, id: &str) -> WorkflowRun {
        let done = self.finished(id);
        assert_eq!(
            done.status,
            WorkflowRunStatus::Succeeded,
            "{:?}",
            done.error
        );
        done
    }

    /// Every step run of a workflow run, oldest first.
    pub fn step_runs(&self, run_id: &str) -> Vec<Execution> {
        let mut found = runs::list(
            &self.store,
            &ExecutionFilter {
                workflow_run_id: Some(run_id.into()),
                limit: Some(10_000),
                ..Default::default()
            },
        )
        .unwrap();
        found.reverse();
        found
    }

    pub fn step_run(&self, run_id: &str, step: &str) -> Execution {
        self.step_runs(run_id)
            .into_iter()
            .rev()
            .find(|e| e.step_id.as_deref() == Some(step))
            .unwrap_or_else(|| panic!("no run of step {step}"))
    }

    /// Queues a plain shell run of `line` and waits for its end; its id.
    pub fn plain_run(&self, line: &str) -> String {
        let id = runs::queue(
            &self.store,
            flightdeck_types::NewExecution {
                spec: Some(flightdeck_types::ExecutionSpec::Shell(
                    flightdeck_types::ShellSpec {
                        line: Some(line.to_string()),
                        ..Default::default()
                    },
                )),
                ..Default::default()
            },
        )
        .unwrap()
        .id;
        until("the run to end", || {
            runs::get(&self.store, &id)
                .unwrap()
                .status
                .is_final()
                .then_some(())
        });
        id
    }

    pub fn stdout(&self, exec_id: &str) -> Vec<String> {
        runs::events(&self.store, exec_id, 0, 100_000)
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == "stdout")
            .map(|e| e.data)
            .collect()
    }
}

impl Drop for WfRig {
    fn drop(&mut self) {
        if let Some((runner, driver)) = self.handles.take() {
            let _ = self.runtime.block_on(driver.stop());
            let _ = self.runtime.block_on(runner.stop());
        }
    }
}

pub fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// The most of `spans` (start, end in ms) that overlap at any instant; at equal times an end
/// comes before a start (the slot is freed, then taken).
pub fn most_at_once(spans: &[(i64, i64)]) -> i32 {
    let mut edges: Vec<(i64, i32)> = spans
        .iter()
        .flat_map(|(s, e)| [(*s, 1), (*e, -1)])
        .collect();
    edges.sort_by_key(|(t, d)| (*t, *d));
    let (mut now, mut most) = (0, 0);
    for (_, d) in edges {
        now += d;
        most = most.max(now);
    }
    most
}

/// The (start, end) of every step run of these workflow runs, in ms.
pub fn spans(rig: &WfRig, runs: &[String]) -> Vec<(i64, i64)> {
    runs.iter()
        .flat_map(|id| rig.step_runs(id))
        .map(|step| {
            (
                step.started_at.expect("started").as_millis(),
                step.finished_at.expect("finished").as_millis(),
            )
        })
        .collect()
}
