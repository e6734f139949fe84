//! The workflow engine beside a peer, in the same run: a chain of N steps that each spawn
//! `true`, run by Flightdeck (`flightdeck workflow start --follow`, the release CLI, its own
//! start included) and by DBOS (PyPI `dbos` 3.4, a durable-workflow library whose steps are
//! checkpointed in Postgres; timed inside Python from the workflow's call to its result, so
//! the interpreter's start is not counted; one Python process, kept warm, runs every DBOS
//! sample), on a throwaway Postgres cluster. The two take turns, one sample each, so that a
//! drift of the machine falls on both. Beside them: N bare spawns of `true`, the floor both
//! stand on.
//!
//! Set up once (a virtual environment under the target dir, from PyPI), then:
//!   cargo build --release -p flightdeck-cli
//!   scripts/with-keyring.sh cargo bench -p flightdeck-tests --bench workflow_peer
//! `FLIGHTDECK_BENCH_STEPS` (default `100,1000`) and `FLIGHTDECK_BENCH_SAMPLES` (default 5).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use flightdeck_tests::sync_rig::release_cli_binary;

const DBOS_VERSION: &str = "3.4.0";

const DBOS_CHAIN: &str = r#"
import os, subprocess, sys, time
from dbos import DBOS, DBOSConfig

DBOS(config={"name": "chain", "system_database_url": os.environ["DBOS_URL"]})

@DBOS.step()
def spawn_true(i: int) -> int:
    return subprocess.run(["true"]).returncode

@DBOS.workflow()
def chain(n: int) -> int:
    for i in range(n):
        spawn_true(i)
    return n

DBOS.launch()
print("ready", flush=True)
# One chain of N steps per line read ("N"), its time printed; the process stays warm between.
for line in sys.stdin:
    n = int(line)
    t = time.perf_counter()
    chain(n)
    print(f"ms {(time.perf_counter() - t) * 1000:.3f}", flush=True)
DBOS.destroy()
"#;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// A virtual environment with DBOS, made on first use; fails naming what could not be had.
fn dbos_python() -> PathBuf {
    let venv = target_dir().join(format!("bench-venv-dbos-{DBOS_VERSION}"));
    let python = venv.join("bin/python");
    if python.is_file() {
        return python;
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("python3 (for the DBOS peer) is not installed");
    assert!(made.success(), "python3 -m venv {} failed", venv.display());
    let installed = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", &format!("dbos=={DBOS_VERSION}")])
        .status()
        .expect("pip runs");
    assert!(
        installed.success(),
        "pip install dbos=={DBOS_VERSION} failed (PyPI must be reachable)"
    );
    python
}

/// A `key=value` connection string as the URL SQLAlchemy takes.
fn sqlalchemy_url(conninfo: &str) -> String {
    let field = |key: &str| {
        conninfo
            .split_whitespace()
            .rev()
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .unwrap_or_default()
            .to_string()
    };
    if conninfo.starts_with("postgres") {
        return conninfo.replacen("postgres://", "postgresql://", 1);
    }
    format!(
        "postgresql://{}@/{}?host={}&port={}",
        field("user"),
        field("dbname"),
        field("host"),
        field("port")
    )
}

/// The DBOS side: one Python process, kept warm, that runs a chain each time it is asked.
struct Dbos {
    child: std::process::Child,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl Dbos {
    fn start(python: &Path, url: &str) -> Dbos {
        let script = std::env::temp_dir().join("flightdeck-bench-dbos-chain.py");
        std::fs::write(&script, DBOS_CHAIN).unwrap();
        let mut child = Command::new(python)
            .arg(&script)
            .env("DBOS_URL", url)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the DBOS chain starts");
        let stdout = child.stdout.take().unwrap();
        let mut dbos = Dbos {
            child,
            lines: std::io::BufRead::lines(std::io::BufReader::new(stdout)),
        };
        assert_eq!(dbos.next_line(), "ready", "DBOS did not launch");
        dbos
    }

    fn next_line(&mut self) -> String {
        match self.lines.next() {
            Some(Ok(line)) => line,
            other => panic!("the DBOS chain stopped: {other:?} (its stderr is above)"),
        }
    }

    /// One chain of `steps` steps, timed inside Python.
    fn sample(&mut self, steps: usize) -> f64 {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{steps}").unwrap();
        stdin.flush().unwrap();
        let line = self.next_line();
        line.strip_prefix("ms ")
            .and_then(|ms| ms.parse().ok())
            .unwrap_or_else(|| panic!("DBOS answered {line:?}"))
    }
}

impl Drop for Dbos {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn chain_file(dir: &Path, steps: usize) -> PathBuf {
    let mut yaml = format!("name: chain{steps}\nconcurrency: 1\nsteps:\n");
    for i in 0..steps {
        yaml.push_str(&format!("  - id: s{i}\n"));
        if i > 0 {
            yaml.push_str(&format!("    needs: s{}\n", i - 1));
        }
        yaml.push_str("    shell: 'true'\n");
    }
    let path = dir.join(format!("chain{steps}.yaml"));
    std::fs::write(&path, yaml).unwrap();
    path
}

fn apply_chain(data: &Path, steps: usize) {
    let applied = Command::new(release_cli_binary())
        .arg("--data-dir")
        .arg(data)
        .args(["workflow", "apply"])
        .arg(chain_file(data, steps))
        .output()
        .unwrap();
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
}

/// One `flightdeck workflow start chainN --follow`, timed from outside.
fn flightdeck_sample(data: &Path, steps: usize) -> f64 {
    let started = Instant::now();
    let out = Command::new(release_cli_binary())
        .arg("--data-dir")
        .arg(data)
        .args(["workflow", "start", &format!("chain{steps}"), "--follow"])
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    took.as_secs_f64() * 1000.0
}

fn bare_spawns(n: usize) -> f64 {
    let started = Instant::now();
    for _ in 0..n {
        Command::new("true").status().unwrap();
    }
    started.elapsed().as_secs_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[(v.len() - 1) / 2]
}

fn main() {
    let samples: usize = env_or("FLIGHTDECK_BENCH_SAMPLES", "5").parse().unwrap();
    let lengths: Vec<usize> = env_or("FLIGHTDECK_BENCH_STEPS", "100,1000")
        .split(',')
        .map(|n| n.trim().parse().unwrap())
        .collect();
    let python = dbos_python();
    let runtime = flightdeck_tests::runtime();
    let database = runtime.block_on(flightdeck_tests::pg::fresh_database());
    let url = sqlalchemy_url(&database.url);
    let data = tempfile::tempdir().unwrap();
    let mut dbos = Dbos::start(&python, &url);
    println!(
        "chain of N steps spawning `true`; the two take turns, one sample each, after one \
         unmeasured warm-up each; median of {samples} (all samples in ms)"
    );
    for steps in lengths {
        apply_chain(data.path(), steps);
        flightdeck_sample(data.path(), steps);
        dbos.sample(steps);
        let (mut ours, mut peer) = (Vec::new(), Vec::new());
        for _ in 0..samples {
            ours.push(flightdeck_sample(data.path(), steps));
            peer.push(dbos.sample(steps));
        }
        let floor = bare_spawns(steps);
        let (o, p) = (median(ours.clone()), median(peer.clone()));
        println!(
            "N={steps}: flightdeck {o:.0} ms ({:.2} ms/step) {ours:.0?}; dbos {p:.0} ms \
             ({:.2} ms/step) {peer:.0?}; ratio flightdeck/dbos {:.2}; {steps} bare spawns \
             {floor:.0} ms",
            o / steps as f64,
            p / steps as f64,
            o / p
        );
    }
}
