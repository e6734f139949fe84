//! The shell executor through the real runner: real child processes, a real store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flightdeck_core::runs::{self, Runner, RunnerConfig};
use flightdeck_core::secrets::OsKeyring;
use flightdeck_core::Store;
use flightdeck_types::{Execution, ExecutionSpec, ExecutionStatus, NewExecution, ShellSpec};

const WAIT: Duration = Duration::from_secs(30);

fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Rig {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    runtime: tokio::runtime::Runtime,
    runner: Option<runs::RunnerHandle>,
}

impl Rig {
    fn start() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("flightdeck.db")).unwrap());
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

    fn queue(&self, line: &str, timeout_secs: Option<u64>) -> Execution {
        runs::queue(
            &self.store,
            NewExecution {
                spec: Some(ExecutionSpec::Shell(ShellSpec {
                    line: Some(line.into()),
                    timeout_secs,
                    ..ShellSpec::default()
                })),
                ..NewExecution::default()
            },
        )
        .unwrap()
    }

    fn final_state(&self, id: &str) -> Execution {
        until("the run to end", || {
            let run = runs::get(&self.store, id).unwrap();
            run.status.is_final().then_some(run)
        })
    }

    fn output(&self, id: &str) -> Vec<(String, String)> {
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

fn alive(pid: &str) -> bool {
    std::process::Command::new("kill")
        .args(["-0", pid])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[test]
fn output_streams_in_order_and_the_exit_code_is_kept() {
    let rig = Rig::start();
    let ok = rig.queue("echo one; echo two >&2; echo three", None);
    let ok = rig.final_state(&ok.id);
    assert_eq!(ok.status, ExecutionStatus::Succeeded);
    assert_eq!(ok.exit_code, Some(0));
    let out = rig.output(&ok.id);
    let stdout: Vec<&str> = out
        .iter()
        .filter(|(k, _)| k == "stdout")
        .map(|(_, d)| d.as_str())
        .collect();
    assert_eq!(stdout, ["one", "three"]);
    assert!(out.contains(&("stderr".into(), "two".into())));

    let bad = rig.queue("exit 7", None);
    let bad = rig.final_state(&bad.id);
    assert_eq!(bad.status, ExecutionStatus::Failed);
    assert_eq!(bad.exit_code, Some(7));
}

#[test]
fn a_timeout_kills_the_command() {
    let rig = Rig::start();
    let run = rig.queue("sleep 1000", Some(1));
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::TimedOut);
}

#[test]
fn cancel_kills_grandchildren_too() {
    let rig = Rig::start();
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    let run = rig.queue(
        &format!("sleep 1000 & echo $! > {}; wait", pid_file.display()),
        None,
    );
    let pid = until("the grandchild's pid", || {
        std::fs::read_to_string(&pid_file)
            .ok()
            .filter(|p| p.ends_with('\n'))
    });
    let pid = pid.trim().to_string();
    assert!(alive(&pid));
    runs::request_cancel(&rig.store, &run.id).unwrap();
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::Cancelled);
    until("the grandchild to be killed", || {
        (!alive(&pid)).then_some(())
    });
}

#[test]
fn huge_output_is_capped_with_one_truncation_marker() {
    let rig = Rig::start();
    let run = rig.queue("yes 0123456789 | head -c 5000000", None);
    let run = rig.final_state(&run.id);
    assert_eq!(run.status, ExecutionStatus::Succeeded);
    let out = rig.output(&run.id);
    let kept: usize = out
        .iter()
        .filter(|(k, _)| k == "stdout")
        .map(|(_, d)| d.len() + 1)
        .sum();
    assert!(kept < 2_000_000, "kept {kept} bytes of 5,000,000");
    assert_eq!(out.iter().filter(|(k, _)| k == "truncated").count(), 1);
    assert_eq!(run.result.as_ref().unwrap()["truncated"], true);
}
