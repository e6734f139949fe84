//! The shell executor: `argv` directly or `line` through `sh -c`, in its own process group
//! so that a timeout or a cancel can kill everything it started, grandchildren included.

use std::process::Stdio;
use std::time::Duration;

use flightdeck_types::{Environment, ExecutionStatus, ShellSpec};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use regex::Regex;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

use super::{parse_retry_after_value, pause_clock, CancelSignal, EventSink, Outcome};
use crate::error::{CoreError, Result};
use crate::secrets::{env_secret_account, SecretStore};

/// The values of an environment's secret variables, read from the keyring now (handed to the
/// child only, never stored). A variable without a value on this device is an error that
/// names the command that sets it.
pub fn secret_values(
    environment: &Environment,
    secrets: &dyn SecretStore,
) -> Result<Vec<(String, String)>> {
    let mut values = Vec::with_capacity(environment.secret_vars.len());
    for var in &environment.secret_vars {
        let value = secrets
            .get(&env_secret_account(&environment.id, var))?
            .ok_or_else(|| {
                CoreError::invalid(
                    "secret_var",
                    format!(
                        "`{var}` of environment `{}` has no value on this device; set it \
                         with `flightdeck env secret set {} {var}`",
                        environment.name, environment.name
                    ),
                )
            })?;
        values.push((var.clone(), value));
    }
    Ok(values)
}

/// How long a process group gets between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// Everything a shell run needs besides its spec.
pub struct ShellContext<'a> {
    pub environment: Option<&'a Environment>,
    /// The environment's secret variables and their values ([`secret_values`]).
    pub secret_env: &'a [(String, String)],
    /// The run's retry policy pattern (see `RetryPolicy::retry_after_pattern`).
    pub retry_after_pattern: Option<&'a str>,
    /// Where the run may write memories, one JSON object per line; handed to the command as
    /// `$FLIGHTDECK_MEMORY_FILE`.
    pub memory_file: Option<&'a std::path::Path>,
    /// Set last, over the environment's and the spec's (a workflow step's attempt number,
    /// idempotency key and output file).
    pub extra_env: Vec<(&'static str, String)>,
}

/// Builds the command: program, working dir, variables (secrets handed to the child only,
/// never stored).
fn command(spec: &ShellSpec, ctx: &ShellContext<'_>) -> Result<Command> {
    let mut cmd = match (&spec.argv, &spec.line) {
        (Some(argv), None) => {
            let (program, args) = argv.split_first().ok_or_else(|| {
                CoreError::invalid("argv", "is empty; give the program and its arguments")
            })?;
            let mut cmd = Command::new(program);
            cmd.args(args);
            cmd
        }
        (None, Some(line)) => {
            // By its path where it is there: a bare `sh` is looked up in every directory of
            // $PATH at each spawn (8 failed execs a run on a usual PATH).
            let sh = if std::path::Path::new("/bin/sh").is_file() {
                "/bin/sh"
            } else {
                "sh"
            };
            let mut cmd = Command::new(sh);
            cmd.arg("-c").arg(line);
            cmd
        }
        _ => {
            return Err(CoreError::invalid(
                "spec",
                "a shell run needs exactly one of `argv` or `line`",
            ))
        }
    };
    let dir = spec
        .working_dir
        .as_deref()
        .or(ctx.environment.and_then(|e| e.working_dir.as_deref()));
    if let Some(dir) = dir {
        if !std::path::Path::new(dir).is_dir() {
            return Err(CoreError::invalid(
                "working_dir",
                format!("`{dir}` is not a directory on this device"),
            ));
        }
        cmd.current_dir(dir);
    }
    if let Some(env) = ctx.environment {
        cmd.envs(&env.env_vars);
    }
    cmd.envs(ctx.secret_env.iter().map(|(k, v)| (k, v)));
    cmd.envs(&spec.env);
    // After the spec's own variables: the runner reads this path, not one a spec names.
    if let Some(path) = ctx.memory_file {
        cmd.env(crate::memory::MEMORY_FILE_ENV, path);
    }
    cmd.envs(ctx.extra_env.iter().map(|(k, v)| (*k, v)));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    Ok(cmd)
}

pub async fn run(
    spec: &ShellSpec,
    ctx: &ShellContext<'_>,
    sink: &EventSink,
    mut cancel: CancelSignal,
) -> Outcome {
    let pattern = match ctx.retry_after_pattern.map(Regex::new).transpose() {
        Ok(p) => p,
        Err(e) => return Outcome::failed(format!("invalid retry_after_pattern: {e}")),
    };
    let mut cmd = match command(spec, ctx) {
        Ok(cmd) => cmd,
        Err(e) => return Outcome::failed(e.to_string()),
    };
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return Outcome::failed(format!("cannot start the command: {e}")),
    };
    let pgid = child.id().map(|id| Pid::from_raw(id as i32));
    if let Some(pgid) = pgid {
        // Recorded at once: if this process dies, the next runner finds and kills the group.
        sink.push("process", process_record(pgid));
        sink.flush().await;
    }
    // Readers report lines matching the retry-after pattern here.
    let (found_tx, mut found_rx) = mpsc::unbounded_channel::<String>();
    let readers = [
        tokio::spawn(read_lines(
            child.stdout.take(),
            "stdout",
            sink.clone(),
            pattern.clone(),
            found_tx.clone(),
        )),
        tokio::spawn(read_lines(
            child.stderr.take(),
            "stderr",
            sink.clone(),
            pattern,
            found_tx,
        )),
    ];
    let timeout = spec.timeout_secs.map(Duration::from_secs);
    let group = pgid.map(|p| p.as_raw());
    if let Some(g) = group {
        pause_clock::start(g);
    }
    let started = std::time::Instant::now();
    // Time the group spends stopped by a workflow pause does not count.
    let sleep = async {
        match timeout {
            Some(t) => pause_clock::running_time_elapsed(group, started, t).await,
            None => std::future::pending().await,
        }
    };
    enum End {
        Exited(std::io::Result<std::process::ExitStatus>),
        TimedOut,
        Cancelled,
    }
    let end = tokio::select! {
        status = child.wait() => End::Exited(status),
        _ = sleep => End::TimedOut,
        _ = cancel.cancelled() => End::Cancelled,
    };
    if !matches!(end, End::Exited(_)) {
        if let Some(pgid) = pgid {
            terminate_group(pgid, &mut child).await;
        }
    }
    // The leader is gone; whatever it left behind holding the pipes gets the grace period
    // to finish, then the group is killed so the run can end.
    let drained = async {
        for r in readers {
            let _ = r.await;
        }
    };
    if tokio::time::timeout(KILL_GRACE, drained).await.is_err() {
        if let Some(pgid) = pgid {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
    if let Some(g) = group {
        pause_clock::end(g);
    }
    let mut retry_after_value = None;
    while let Ok(v) = found_rx.try_recv() {
        retry_after_value = Some(v);
    }
    match end {
        End::TimedOut => Outcome {
            status: ExecutionStatus::TimedOut,
            exit_code: None,
            result: None,
            error: Some(format!(
                "timed out after {} s; the process group was killed",
                spec.timeout_secs.unwrap_or_default()
            )),
        },
        End::Cancelled => Outcome {
            status: ExecutionStatus::Cancelled,
            exit_code: None,
            result: None,
            error: Some("cancelled; the process group was killed".into()),
        },
        End::Exited(Err(e)) => Outcome::failed(format!("cannot wait for the process: {e}")),
        End::Exited(Ok(status)) => exited(spec, status, retry_after_value),
    }
}

fn exited(
    spec: &ShellSpec,
    status: std::process::ExitStatus,
    retry_after_value: Option<String>,
) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    let code = status.code();
    let mut result = json!({ "exit_code": code });
    if let (Some(code), Some(want)) = (code, spec.retry_after_exit_code) {
        if code == want {
            if let Some(at) = retry_after_value
                .as_deref()
                .and_then(|v| parse_retry_after_value(v, crate::clock::now()))
            {
                result["retry_after_at"] = json!(at);
            }
        }
    }
    let (run_status, error) = match (code, status.signal()) {
        (Some(0), _) => (ExecutionStatus::Succeeded, None),
        (Some(code), _) => (
            ExecutionStatus::Failed,
            Some(format!("exited with code {code}")),
        ),
        (None, Some(sig)) => (
            ExecutionStatus::Failed,
            Some(format!("killed by signal {sig}")),
        ),
        (None, None) => (
            ExecutionStatus::Failed,
            Some("ended without an exit code".into()),
        ),
    };
    Outcome {
        status: run_status,
        exit_code: code.map(i64::from),
        result: Some(result),
        error,
    }
}

/// SIGTERM to the whole group, SIGKILL after the grace period if the leader is still there.
async fn terminate_group(pgid: Pid, child: &mut tokio::process::Child) {
    let _ = killpg(pgid, Signal::SIGTERM);
    if tokio::time::timeout(KILL_GRACE, child.wait())
        .await
        .is_err()
    {
        let _ = killpg(pgid, Signal::SIGKILL);
        let _ = child.wait().await;
    } else {
        // The leader left; members that ignored SIGTERM must not outlive the run.
        let _ = killpg(pgid, Signal::SIGKILL);
    }
}

async fn read_lines(
    pipe: Option<impl AsyncRead + Unpin>,
    kind: &'static str,
    sink: EventSink,
    pattern: Option<Regex>,
    found: mpsc::UnboundedSender<String>,
) {
    let Some(pipe) = pipe else { return };
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                let line = String::from_utf8_lossy(&buf).into_owned();
                if let Some(caps) = pattern.as_ref().and_then(|p| p.captures(&line)) {
                    if let Some(m) = caps.get(1).or_else(|| caps.get(0)) {
                        let _ = found.send(m.as_str().to_string());
                    }
                }
                sink.push(kind, line);
            }
        }
    }
}

/// `pgid=N boot=ID`: a process group, and the boot it belongs to (a pid from another boot
/// names some other process).
pub fn process_record(pgid: Pid) -> String {
    format!("pgid={pgid} boot={}", boot_id())
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|id| id.trim().to_string())
        .unwrap_or_default()
}

/// Kills the process group a [`process_record`] names, if it is from this boot. Used for runs
/// whose runner died: their commands may still be running, orphaned. Within one boot a pid
/// could in principle have been reused since; recovery runs at the next start, usually soon
/// after the crash, which keeps that window small.
pub fn kill_recorded_group(record: &str) {
    signal_recorded_group(record, Signal::SIGKILL);
}

/// Sends `signal` to the process group a [`process_record`] names, if it is from this boot
/// (pausing a workflow stops its shell steps with SIGSTOP and resuming continues them).
pub fn signal_recorded_group(record: &str, signal: Signal) {
    let mut pgid = None;
    let mut boot = None;
    for part in record.split_whitespace() {
        match part.split_once('=') {
            Some(("pgid", v)) => pgid = v.parse::<i32>().ok(),
            Some(("boot", v)) => boot = Some(v.to_string()),
            _ => {}
        }
    }
    let (Some(pgid), Some(boot)) = (pgid, boot) else {
        return;
    };
    if pgid > 1 && !boot.is_empty() && boot == boot_id() {
        match signal {
            Signal::SIGSTOP => pause_clock::stopped(pgid),
            Signal::SIGCONT => pause_clock::continued(pgid),
            _ => {}
        }
        let _ = killpg(Pid::from_raw(pgid), signal);
    }
}
