//! Sustained trivial shell runs per second, their events persisted: 500 runs of
//! `echo run $i` queued in one write, executed by the real runner (real child processes,
//! default concurrency) on a real store, timed from the queue's commit to the last run's final
//! status. Every run's output line and status events are checked to be in the store.
//! Run: `cargo bench -p flightdeck-core --bench runs` (FLIGHTDECK_BENCH_RUNS=N for another
//! count).

use std::sync::Arc;
use std::time::{Duration, Instant};

use flightdeck_core::runs::{self, Runner, RunnerConfig};
use flightdeck_core::secrets::OsKeyring;
use flightdeck_core::Store;
use flightdeck_types::{ExecutionSpec, ExecutionStatus, NewExecution, ShellSpec};

fn main() {
    let n: usize = std::env::var("FLIGHTDECK_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("bench.db")).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = RunnerConfig::default();
    let concurrency = config.concurrency;
    let runner = {
        let _entered = runtime.enter();
        Runner::new(
            store.clone(),
            Arc::new(OsKeyring::from_env().unwrap()),
            config,
        )
        .spawn()
    };
    let start = Instant::now();
    let ids: Vec<String> = store
        .write(|w| {
            (0..n)
                .map(|i| {
                    let run = runs::queue_in(
                        w,
                        NewExecution {
                            spec: Some(ExecutionSpec::Shell(ShellSpec {
                                line: Some(format!("echo run {i}")),
                                ..ShellSpec::default()
                            })),
                            ..NewExecution::default()
                        },
                    )?;
                    Ok(run.id)
                })
                .collect()
        })
        .unwrap();
    let count_final = || -> i64 {
        store
            .read(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM executions
                     WHERE status NOT IN ('queued', 'running')",
                    [],
                    |r| r.get(0),
                )?)
            })
            .unwrap()
    };
    while (count_final() as usize) < n {
        assert!(start.elapsed() < Duration::from_secs(600), "runs stalled");
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = start.elapsed();
    runtime.block_on(runner.stop()).unwrap();

    let mut events = 0;
    for (i, id) in ids.iter().enumerate() {
        let run = runs::get(&store, id).unwrap();
        assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
        let timeline = runs::events(&store, id, 0, 100).unwrap();
        let want = format!("run {i}");
        assert!(
            timeline
                .iter()
                .any(|e| e.kind == "stdout" && e.data == want),
            "run {i}'s output is persisted"
        );
        events += timeline.len();
    }
    println!(
        "runs: {n} trivial shell runs (concurrency {concurrency}) in {:.2} s = {:.0} runs/s \
         (budget >= 100/s), {events} events persisted ({:.1} per run)",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        events as f64 / n as f64
    );
}
