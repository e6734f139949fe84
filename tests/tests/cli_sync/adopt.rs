//! A workflow run whose device is lost for real: device A's daemon is killed with SIGKILL in
//! the middle of a step; device B, once A's lease lapsed, adopts the run through the real sync
//! server and finishes it, the step caught running retried on B; A, started again, sees the
//! run finished and runs nothing of it again.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use flightdeck_tests::poll::until;
use flightdeck_tests::sync_rig::{cli_binary, server_binary, Server};
use serde_json::Value;

use super::{flightdeck, json};

const WAIT: Duration = Duration::from_secs(60);

fn daemon(data: &Path) -> Child {
    Command::new(cli_binary())
        .arg("--data-dir")
        .arg(data)
        .arg("daemon")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// Kills every process whose command line names `needle` (the orphaned step of a device that
/// is gone: its machine would have taken it along).
fn kill_processes_naming(needle: &str) {
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) && pid != std::process::id() as i32 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

fn step_status(data: &Path, run: &str, step: &str) -> Option<String> {
    let out = flightdeck(data, &["--json", "workflow", "status", run]);
    let status: Value = serde_json::from_slice(&out.stdout).ok()?;
    status["steps"]
        .as_array()?
        .iter()
        .find(|s| s["id"] == step)
        .and_then(|s| s["status"].as_str().map(String::from))
}

fn run_status(data: &Path, run: &str) -> Option<Value> {
    let out = flightdeck(data, &["--json", "workflow", "status", run]);
    let status: Value = serde_json::from_slice(&out.stdout).ok()?;
    Some(status["run"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_devices_run_is_adopted_finished_elsewhere_and_not_run_again() {
    let server = Server::start(server_binary("debug")).await;
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (a, b, scratch) = (dirs[0].path(), dirs[1].path(), dirs[2].path());
    json(a, &["sync", "join", &server.url, &server.join_token]);
    // B takes runs from A: adopting a run means running steps A's definition names.
    json(
        b,
        &[
            "sync",
            "join",
            &server.url,
            &server.join_token,
            "--trust-peers",
        ],
    );
    let a_id = json(a, &["sync", "status"])["device_id"]
        .as_str()
        .unwrap()
        .to_string();
    let b_id = json(b, &["sync", "status"])["device_id"]
        .as_str()
        .unwrap()
        .to_string();
    json(a, &["runs", "settings", "--workflow-lease", "3"]);

    let (log, gate) = (scratch.join("log"), scratch.join("gate"));
    let file = scratch.join("adopted.yaml");
    std::fs::write(
        &file,
        format!(
            "name: adopted\nsteps:\n  - id: one\n    shell: echo one >> {log}\n  - id: wait\n    needs: one\n    shell: while [ ! -e {gate} ]; do sleep 0.05; done; echo wait-$FLIGHTDECK_STEP_ATTEMPT >> {log}\n  - id: three\n    needs: wait\n    shell: echo three >> {log}\n",
            log = log.display(),
            gate = gate.display()
        ),
    )
    .unwrap();
    json(a, &["workflow", "apply", &file.display().to_string()]);

    let mut a_daemon = daemon(a);
    let run = json(a, &["workflow", "start", "adopted"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut b_daemon = daemon(b);
    until("B to see the wait step running on A", WAIT, || {
        Ok((step_status(b, &run, "wait").as_deref() == Some("running")).then_some(()))
    });
    // A is lost for real: its daemon and the step it was running, killed.
    a_daemon.kill().unwrap();
    a_daemon.wait().unwrap();
    kill_processes_naming(&gate.display().to_string());
    let a_runs_before = json(a, &["runs", "list", "--limit", "1000"]);

    // Within A's lease, B is refused, and told when it can adopt.
    let early = flightdeck(b, &["workflow", "adopt", &run]);
    let said = String::from_utf8_lossy(&early.stderr);
    assert!(!early.status.success(), "adopted within the lease");
    assert!(
        said.contains("it can be adopted once that device's lease lapses"),
        "{said}"
    );
    until("A's lease to lapse and B to adopt the run", WAIT, || {
        let out = flightdeck(b, &["workflow", "adopt", &run]);
        Ok(out.status.success().then_some(()))
    });
    std::fs::write(&gate, "").unwrap();
    until("the run to finish on B", WAIT, || {
        Ok(run_status(b, &run)
            .filter(|r| r["status"] == "succeeded")
            .map(|_| ()))
    });
    assert_eq!(
        lines(&log),
        ["one", "wait-2", "three"],
        "the step ran again on B, once"
    );
    let done = run_status(b, &run).unwrap();
    assert_eq!(done["device_id"], b_id.as_str());

    // A comes back: it sees the run finished on B and runs nothing of it.
    let mut a_daemon = daemon(a);
    until("A to see the run finished", WAIT, || {
        Ok(run_status(a, &run)
            .filter(|r| r["status"] == "succeeded")
            .map(|_| ()))
    });
    until("A to be synced", WAIT, || {
        let status = json(a, &["sync", "status"]);
        Ok((status["pending_cells"] == 0).then_some(()))
    });
    let a_runs_after = json(a, &["runs", "list", "--limit", "1000"]);
    let on_a = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["device_id"] == a_id.as_str())
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        on_a(&a_runs_after),
        on_a(&a_runs_before),
        "A started nothing after it came back"
    );
    assert_eq!(lines(&log), ["one", "wait-2", "three"]);
    for child in [&mut a_daemon, &mut b_daemon] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
