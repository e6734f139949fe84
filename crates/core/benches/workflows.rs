//! Workflow engine figures (issue 15):
//! 1. engine overhead per step: the write that ends a step's run and moves the workflow on
//!    (checkpoint, snapshots, the next step queued), against the same write for a plain run that queues the next plain run; no process
//!    runs, so the step's own work is excluded; p50 over a 200-step chain;
//! 2. a 100- and a 1000-step chain of `true` shell steps end to end through the real runner
//!    and driver, beside as many plain `true` runs one after another (runner concurrency 1),
//!    in `FLIGHTDECK_BENCH_SAMPLES` pairs (3): the overhead per step is the pairs' median;
//! 3. a 100-wide fan-out then fan-in at concurrency 8: time and the most steps running at once.
//!
//! Run: `scripts/with-keyring.sh cargo bench -p flightdeck-core --bench workflows`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flightdeck_core::runs::{self, Runner, RunnerConfig};
use flightdeck_core::secrets::OsKeyring;
use flightdeck_core::store::executions;
use flightdeck_core::workflows::{self, engine, Format, WorkflowDriver};
use flightdeck_core::Store;
use flightdeck_types::{
    Execution, ExecutionFilter, ExecutionSpec, ExecutionStatus, NewExecution, ShellSpec,
    StartWorkflow, WorkflowRunStatus,
};

fn new_store() -> (tempfile::TempDir, Arc<Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("bench.db")).unwrap());
    (dir, store)
}

fn chain(name: &str, n: usize) -> String {
    let mut yaml = format!("name: {name}\nsteps:\n  - id: s0\n    shell: 'true'\n");
    for i in 1..n {
        yaml.push_str(&format!(
            "  - id: s{i}\n    needs: [s{}]\n    shell: 'true'\n",
            i - 1
        ));
    }
    yaml
}

fn start(store: &Store, name: &str) -> String {
    workflows::start(
        store,
        &flightdeck_core::secrets::OsKeyring::from_env().unwrap(),
        &StartWorkflow {
            workflow: name.into(),
            ..Default::default()
        },
    )
    .unwrap()
    .id
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The queued run a write left for the next step (or the next plain run).
fn only_queued(store: &Store) -> Execution {
    let mut queued = runs::list(
        store,
        &ExecutionFilter {
            status: Some(ExecutionStatus::Queued),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(queued.len(), 1, "one run queued at a time");
    queued.pop().unwrap()
}

fn ended(run: &Execution) -> Execution {
    Execution {
        status: ExecutionStatus::Succeeded,
        exit_code: Some(0),
        result: Some(serde_json::json!({ "output_bytes": 0, "truncated": false })),
        finished_at: Some(flightdeck_core::clock::now()),
        ..run.clone()
    }
}

fn engine_overhead(n: usize) -> (f64, f64, f64) {
    // With the engine: each step's end moves the run on inside the same write.
    let (_dir, store) = new_store();
    workflows::apply(&store, &chain("overhead", n), Format::Yaml).unwrap();
    let run_id = start(&store, "overhead");
    store.write(|w| engine::advance_in(w, &run_id)).unwrap();
    let mut with_engine = Vec::with_capacity(n);
    for _ in 0..n {
        let step = only_queued(&store);
        store
            .write(|w| executions::mark_running(w, &step.id, w.now()))
            .unwrap();
        let running = runs::get(&store, &step.id).unwrap();
        let done = ended(&running);
        let t = Instant::now();
        store
            .write(|w| {
                executions::finish(w, &done)?;
                engine::on_execution_finished(w, &done)
            })
            .unwrap();
        with_engine.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let run = workflows::get_run(&store, &run_id).unwrap();
    assert_eq!(run.status, WorkflowRunStatus::Succeeded);

    // Without: a plain run's end, and the next plain run queued, in one write.
    let (_dir2, plain) = new_store();
    let spec = ExecutionSpec::Shell(ShellSpec {
        line: Some("true".into()),
        ..ShellSpec::default()
    });
    fn queue(
        w: &mut flightdeck_core::store::Writer<'_>,
        spec: &ExecutionSpec,
    ) -> flightdeck_core::Result<()> {
        runs::queue_in(
            w,
            NewExecution {
                spec: Some(spec.clone()),
                ..Default::default()
            },
        )
        .map(|_| ())
    }
    plain.write(|w| queue(w, &spec)).unwrap();
    let mut without = Vec::with_capacity(n);
    for i in 0..n {
        let next = only_queued(&plain);
        plain
            .write(|w| executions::mark_running(w, &next.id, w.now()))
            .unwrap();
        let done = ended(&runs::get(&plain, &next.id).unwrap());
        let t = Instant::now();
        plain
            .write(|w| {
                executions::finish(w, &done)?;
                if i + 1 < n {
                    queue(w, &spec)?;
                }
                Ok(())
            })
            .unwrap();
        without.push(t.elapsed().as_secs_f64() * 1e3);
    }
    with_engine.sort_by(f64::total_cmp);
    without.sort_by(f64::total_cmp);
    let (a, b) = (percentile(&with_engine, 0.5), percentile(&without, 0.5));
    (a - b, a, b)
}

struct Worker {
    runtime: tokio::runtime::Runtime,
    handles: Option<(runs::RunnerHandle, workflows::driver::DriverHandle)>,
}

impl Worker {
    fn start(store: &Arc<Store>, concurrency: usize) -> Worker {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let handles = {
            let _entered = runtime.enter();
            let config = RunnerConfig {
                concurrency,
                ..RunnerConfig::default()
            };
            let runner = Runner::new(
                store.clone(),
                Arc::new(OsKeyring::from_env().unwrap()),
                config,
            )
            .spawn();
            (runner, WorkflowDriver::new(store.clone()).spawn())
        };
        Worker {
            runtime,
            handles: Some(handles),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some((runner, driver)) = self.handles.take() {
            self.runtime.block_on(driver.stop()).unwrap();
            self.runtime.block_on(runner.stop()).unwrap();
        }
    }
}

fn wait_run(store: &Store, id: &str) -> Duration {
    let start = Instant::now();
    loop {
        // The status alone: reading the whole run (every step's row) at each poll would take
        // the store from the chain it waits for, the more the longer the chain.
        if workflows::status_of(store, id).unwrap().is_final() {
            let took = start.elapsed();
            let run = workflows::get_run(store, id).unwrap();
            assert_eq!(run.status, WorkflowRunStatus::Succeeded, "{:?}", run.error);
            return took;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the run stalled"
        );
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn chain_end_to_end(n: usize) -> (Duration, Duration) {
    let (_dir, store) = new_store();
    workflows::apply(&store, &chain("chain", n), Format::Yaml).unwrap();
    let worker = Worker::start(&store, 1);
    let t = Instant::now();
    let id = start(&store, "chain");
    wait_run(&store, &id);
    let workflow = t.elapsed();
    drop(worker);

    // The same n runs without a workflow, one after another.
    let (_dir2, plain) = new_store();
    let worker = Worker::start(&plain, 1);
    let t = Instant::now();
    plain
        .write(|w| {
            for _ in 0..n {
                runs::queue_in(
                    w,
                    NewExecution {
                        spec: Some(ExecutionSpec::Shell(ShellSpec {
                            line: Some("true".into()),
                            ..ShellSpec::default()
                        })),
                        ..Default::default()
                    },
                )?;
            }
            Ok(())
        })
        .unwrap();
    let count = || -> i64 {
        plain
            .read(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM executions WHERE status = 'succeeded'",
                    [],
                    |r| r.get(0),
                )?)
            })
            .unwrap()
    };
    while (count() as usize) < n {
        std::thread::sleep(Duration::from_micros(500));
    }
    let runs_alone = t.elapsed();
    drop(worker);
    (workflow, runs_alone)
}

fn fan_out(width: usize, concurrency: u32) -> (Duration, usize) {
    let (_dir, store) = new_store();
    let mut yaml =
        format!("name: fan\nconcurrency: {concurrency}\nsteps:\n  - id: root\n    shell: 'true'\n");
    for i in 0..width {
        yaml.push_str(&format!(
            "  - id: w{i}\n    needs: [root]\n    shell: 'true'\n"
        ));
    }
    let all: Vec<String> = (0..width).map(|i| format!("w{i}")).collect();
    yaml.push_str(&format!(
        "  - id: join\n    needs: [{}]\n    shell: 'true'\n",
        all.join(", ")
    ));
    workflows::apply(&store, &yaml, Format::Yaml).unwrap();
    let worker = Worker::start(&store, 4);
    let t = Instant::now();
    let id = start(&store, "fan");
    wait_run(&store, &id);
    let took = t.elapsed();
    drop(worker);
    let spans: Vec<(i64, i64)> = runs::list(
        &store,
        &ExecutionFilter {
            workflow_run_id: Some(id),
            limit: Some(10_000),
            ..Default::default()
        },
    )
    .unwrap()
    .into_iter()
    .filter(|e| e.step_id.as_deref().is_some_and(|s| s.starts_with('w')))
    .map(|e| {
        (
            e.started_at.unwrap().as_millis(),
            e.finished_at.unwrap().as_millis(),
        )
    })
    .collect();
    let most = spans
        .iter()
        .map(|(s, _)| spans.iter().filter(|(a, b)| a <= s && s < b).count())
        .max()
        .unwrap_or(0);
    (took, most)
}

/// `runs` runs started at once of a `width`-wide `foreach` step, on a runner with the
/// device's default step cap: the time until all ended, the most steps running at once across
/// all of them (from recorded start and end times, ms), and the cap.
fn foreach_runs(runs: usize, width: usize) -> (Duration, usize, usize) {
    let (_dir, store) = new_store();
    let yaml = format!(
        "name: wide
concurrency: {width}
steps:
  - id: each
    foreach: \"{{{{ range({width}) | list }}}}\"
    shell: 'true'
"
    );
    workflows::apply(&store, &yaml, Format::Yaml).unwrap();
    let cap = runs::runner::default_step_concurrency();
    let worker = Worker::start(&store, 4);
    let t = Instant::now();
    let ids: Vec<String> = (0..runs).map(|_| start(&store, "wide")).collect();
    for id in &ids {
        wait_run(&store, id);
    }
    let took = t.elapsed();
    drop(worker);
    let mut edges: Vec<(i64, i32)> = Vec::new();
    for id in &ids {
        let steps = runs::list(
            &store,
            &ExecutionFilter {
                workflow_run_id: Some(id.clone()),
                limit: Some(10_000),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(steps.len(), width);
        for e in steps {
            edges.push((e.started_at.unwrap().as_millis(), 1));
            edges.push((e.finished_at.unwrap().as_millis(), -1));
        }
    }
    edges.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        most = most.max(now);
    }
    (took, most as usize, cap)
}

/// Write transactions per second of `runs` runs that only wait, the driver and the runner
/// running, over `secs` seconds (issue 32: a run waiting for a person, or for a long step,
/// costs nothing): runs of `yaml`'s workflow `name`, measured once each is `waiting`.
fn idle_writes(
    yaml: &str,
    name: &str,
    waiting: WorkflowRunStatus,
    runs: usize,
    secs: u64,
) -> (u64, f64) {
    let (_dir, store) = new_store();
    workflows::apply(&store, yaml, Format::Yaml).unwrap();
    let worker = Worker::start(&store, 4);
    let ids: Vec<String> = (0..runs).map(|_| start(&store, name)).collect();
    for id in &ids {
        while workflows::get_run(&store, id).unwrap().status != waiting {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let before = store.write_count();
    std::thread::sleep(Duration::from_secs(secs));
    let writes = store.write_count() - before;
    drop(worker);
    (writes, writes as f64 / secs as f64)
}

/// [`idle_writes`] of 100 runs waiting for approval, then of 20 runs whose one step sleeps
/// (as many running as the device's step cap lets, the rest queued), each printed.
fn print_idle_writes() {
    let gate = "name: gate\nsteps:\n  - id: ask\n    kind: approval\n";
    let (writes, rate) = idle_writes(gate, "gate", WorkflowRunStatus::WaitingApproval, 100, 10);
    println!("100 runs waiting for approval, 10 s: {writes} write transactions ({rate:.1}/s)");
    let long = "name: long\nsteps:\n  - id: build\n    shell: 'sleep 30'\n";
    let (writes, rate) = idle_writes(long, "long", WorkflowRunStatus::Running, 20, 10);
    println!(
        "20 runs whose step sleeps 30 s, 10 s of it: {writes} write transactions ({rate:.1}/s)"
    );
}

/// Time travel (issue 33): replay of a 10,000-event plain run at random instants and its
/// next/previous marks, p50 and p99 (ms); and `compare` of two 200-step workflow runs (ms).
fn time_travel() -> ((f64, f64), (f64, f64), f64) {
    use flightdeck_core::replay::{self, Instant as At};
    let (_dir, store) = new_store();
    let worker = Worker::start(&store, 4);
    let id = runs::queue(
        &store,
        NewExecution {
            spec: Some(ExecutionSpec::Shell(ShellSpec {
                line: Some("seq 10000".into()),
                ..ShellSpec::default()
            })),
            ..NewExecution::default()
        },
    )
    .unwrap()
    .id;
    while !runs::get(&store, &id).unwrap().status.is_final() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let events = runs::events(&store, &id, 0, 20_000).unwrap();
    assert!(events.len() >= 10_000, "{} events", events.len());
    let (first, last) = (
        events[0].at.as_millis(),
        events.last().unwrap().at.as_millis(),
    );
    let mut rng_state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state
    };
    let (mut jumps, mut steps) = (Vec::new(), Vec::new());
    for _ in 0..200 {
        let t = first + (next() % (last - first + 1) as u64) as i64;
        let started = Instant::now();
        let state = replay::at(&store, &id, At::At(flightdeck_types::Timestamp(t)), 50).unwrap();
        jumps.push(started.elapsed().as_secs_f64() * 1e3);
        let target = state.next.or(state.previous).map_or(0, |m| m.seq);
        let started = Instant::now();
        replay::at(&store, &id, At::Mark(target), 50).unwrap();
        steps.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let mut yaml =
        String::from("name: twohundred\nconcurrency: 1\nsteps:\n  - id: s0\n    shell: echo 0\n");
    for i in 1..200 {
        yaml.push_str(&format!(
            "  - id: s{i}\n    needs: [s{}]\n    shell: echo {i}\n",
            i - 1
        ));
    }
    workflows::apply(&store, &yaml, Format::Yaml).unwrap();
    let (a, b) = (start(&store, "twohundred"), start(&store, "twohundred"));
    wait_run(&store, &a);
    wait_run(&store, &b);
    drop(worker);
    let mut compares = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        flightdeck_core::compare::compare(&store, &a, &b).unwrap();
        compares.push(started.elapsed().as_secs_f64() * 1e3);
    }
    for v in [&mut jumps, &mut steps, &mut compares] {
        v.sort_by(|x, y| x.partial_cmp(y).unwrap());
    }
    (
        (percentile(&jumps, 0.5), percentile(&jumps, 0.99)),
        (percentile(&steps, 0.5), percentile(&steps, 0.99)),
        percentile(&compares, 0.5),
    )
}

fn main() {
    if std::env::var("FLIGHTDECK_BENCH_TIME_TRAVEL_ONLY").is_ok() {
        let ((j50, j99), (s50, s99), compare) = time_travel();
        println!(
            "replay of a 10,000-event run at a random instant: p50 {j50:.1} ms, p99 {j99:.1} ms; \
             to the next/previous mark: p50 {s50:.1} ms, p99 {s99:.1} ms; compare of two \
             200-step runs: {compare:.1} ms (median of 5)"
        );
        return;
    }
    if std::env::var("FLIGHTDECK_BENCH_FANOUT_ONLY").is_ok() {
        let (took, most, cap) = foreach_runs(20, 100);
        println!(
            "20 runs of a 100-wide foreach at once: {:.0} ms for 2000 steps; at most {most} \
             steps running at once (the device's step cap: {cap})",
            took.as_secs_f64() * 1e3
        );
        return;
    }
    if std::env::var("FLIGHTDECK_BENCH_IDLE_ONLY").is_ok() {
        print_idle_writes();
        return;
    }
    for n in [10, 100, 200] {
        let (overhead, with_engine, without) = engine_overhead(n);
        println!(
            "engine overhead per step (p50 over a {n}-step chain): {overhead:.3} ms \
             (step end with the engine {with_engine:.3} ms, plain run end {without:.3} ms)"
        );
    }
    if std::env::var("FLIGHTDECK_BENCH_OVERHEAD_ONLY").is_ok() {
        return;
    }
    // One chain and its plain runs are one sample; a machine's drift falls on both halves of a
    // pair, and the overhead is the median of the pairs (`FLIGHTDECK_BENCH_SAMPLES`, 3).
    let samples: usize = std::env::var("FLIGHTDECK_BENCH_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    for n in [100, 1000] {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let pairs: Vec<(f64, f64)> = (0..samples.max(1))
            .map(|_| {
                let (workflow, alone) = chain_end_to_end(n);
                (ms(workflow), ms(alone))
            })
            .collect();
        let mut overheads: Vec<f64> = pairs.iter().map(|(w, a)| (w - a) / n as f64).collect();
        overheads.sort_by(|x, y| x.partial_cmp(y).unwrap());
        let median = |mut v: Vec<f64>| {
            v.sort_by(|x, y| x.partial_cmp(y).unwrap());
            percentile(&v, 0.5)
        };
        let workflow = median(pairs.iter().map(|p| p.0).collect());
        let alone = median(pairs.iter().map(|p| p.1).collect());
        println!(
            "{n}-step chain of `true`, end to end: {workflow:.0} ms ({:.2} ms per step); the same \
             {n} runs without a workflow, one at a time: {alone:.0} ms (medians); overhead per \
             step, median of {} pairs: {:.2} ms (all: {})",
            workflow / n as f64,
            overheads.len(),
            percentile(&overheads, 0.5),
            overheads
                .iter()
                .map(|o| format!("{o:.2}"))
                .collect::<Vec<_>>()
                .join(" / ")
        );
    }
    if std::env::var("FLIGHTDECK_BENCH_CHAIN_ONLY").is_ok() {
        return;
    }
    print_idle_writes();
    let (took, most, cap) = foreach_runs(20, 100);
    println!(
        "20 runs of a 100-wide foreach at once: {:.0} ms for 2000 steps; at most {most} steps \
         running at once (the device's step cap: {cap})",
        took.as_secs_f64() * 1e3
    );
    let (took, most) = fan_out(100, 8);
    println!(
        "100-wide fan-out then fan-in at concurrency 8: {:.0} ms; at most {most} steps running \
         at once (from their recorded start and end times, ms resolution)",
        took.as_secs_f64() * 1e3
    );
}
