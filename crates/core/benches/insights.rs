//! Insights over a large store (issue 16): the default dashboard (30 days, by task) over
//! 1,000,000 runs, beside the plainest correct way to get the same figures (every run read
//! without the window's index, grouped in a hash map), in the same run. Ours is measured once
//! with no day kept (the first read, which keeps them) and then as a dashboard reads it again.
//!
//! The store is made once and kept (`target/bench-data/insights-N.db`, N from
//! `FLIGHTDECK_BENCH_INSIGHTS_RUNS`, default 1,000,000): 100 tasks, 5 environments, runs spread
//! over the last 30 days, written with plain SQL inside the store's write (cr-sqlite records
//! them as it does any write).
//!
//! Run: `scripts/with-keyring.sh cargo bench -p flightdeck-core --bench insights`.

use std::path::PathBuf;
use std::time::Instant;

use flightdeck_core::{insights, Store};
use flightdeck_types::{InsightsGroup, InsightsQuery, Timestamp};

const DAY: i64 = 86_400_000;

/// The plainest query's row: task, status, start, end.
type PlainRow = (Option<String>, String, Option<i64>, Option<i64>);

fn store(n: usize) -> Store {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("insights-v2-{n}.db"));
    let fresh = !path.exists();
    let store = Store::open(&path).unwrap();
    if fresh {
        let t = Instant::now();
        let now = flightdeck_core::clock::now().as_millis();
        store
            .write(|w| {
                for i in 0..100 {
                    w.execute(
                        "INSERT INTO tasks (id, title, created_at, updated_at) VALUES (?1, ?2, 0, 0)",
                        rusqlite::params![format!("task-{i:03}"), format!("task number {i}")],
                    )?;
                }
                Ok(())
            })
            .unwrap();
        let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for chunk in 0..n.div_ceil(50_000) {
            store
                .write(|w| {
                    let mut insert = w.prepare(
                        "INSERT INTO executions (id, task_id, environment_id, executor, status,
                             attempt, error, queued_at, started_at, finished_at, spec, result)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                    )?;
                    for i in chunk * 50_000..((chunk + 1) * 50_000).min(n) {
                        let r = next();
                        let queued = now - 30 * DAY + (i as i64 * 30 * DAY) / n as i64;
                        let started = queued + (r % 2_000) as i64;
                        let duration = 50 + ((r >> 12) % 1_000) as i64 * ((r >> 24) % 60) as i64;
                        let (status, error) = match (r >> 40) % 100 {
                            0..=89 => ("succeeded", None),
                            90..=96 => ("failed", Some(format!("exited with code {}", (r >> 50) % 5 + 1))),
                            _ => ("cancelled", None),
                        };
                        insert.execute(rusqlite::params![
                            format!("run-{i:08}"),
                            format!("task-{:03}", (r >> 8) % 100),
                            format!("env-{}", (r >> 16) % 5),
                            if (r >> 20) % 10 == 0 { "http" } else { "shell" },
                            status,
                            if (r >> 30) % 20 == 0 { 2 } else { 1 },
                            error,
                            queued,
                            started,
                            started + duration,
                            // As wide as real runs' rows: the spec and the result.
                            format!(
                                r#"{{"shell":{{"line":"cargo test --workspace --all-targets -- --test-threads 2 shard-{i}","working_dir":"/home/dev/src/project","env":{{"RUST_LOG":"info","CI":"1"}},"timeout_secs":3600}}}}"#
                            ),
                            format!(
                                r#"{{"exit_code":{},"output_bytes":{},"truncated":false,"memories":{{"recorded":[],"errors":[]}}}}"#,
                                if status == "failed" { 1 } else { 0 },
                                r % 100_000
                            ),
                        ])?;
                    }
                    Ok(())
                })
                .unwrap();
        }
        println!("made {n} runs in {:.1} s", t.elapsed().as_secs_f64());
    }
    store
}

fn median_ms(mut f: impl FnMut()) -> (f64, Vec<f64>) {
    let mut samples: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let all = samples.clone();
    samples.sort_by(f64::total_cmp);
    (samples[2], all)
}

fn main() {
    let n: usize = std::env::var("FLIGHTDECK_BENCH_INSIGHTS_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let store = store(n);
    let now = flightdeck_core::clock::now().as_millis();
    let q = InsightsQuery {
        since: Timestamp::from_millis(now - 30 * DAY),
        until: Timestamp::from_millis(now + 1),
        by: InsightsGroup::Task,
    };
    // The first read after the kept days are dropped reads every run and keeps the days.
    store
        .write(|w| {
            w.execute("DELETE FROM insights_days", [])?;
            Ok(())
        })
        .unwrap();
    let t = Instant::now();
    let runs = insights::insights(&store, &q).unwrap().total.runs;
    println!(
        "insights, 30 days by task, first read (keeps the ended days): {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let (ours, all) = median_ms(|| {
        insights::insights(&store, &q).unwrap();
    });
    println!("insights, 30 days by task, {runs} runs in the window: median {ours:.0} ms {all:.0?}");
    let (plain, all) = median_ms(|| {
        let rows: Vec<PlainRow> = store
            .read(|c| {
                let mut stmt = c.prepare(
                    "SELECT task_id, status, started_at, finished_at FROM executions
                     NOT INDEXED WHERE queued_at >= ?1 AND queued_at < ?2",
                )?;
                let rows = stmt.query_map(
                    rusqlite::params![q.since.as_millis(), q.until.as_millis()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .unwrap();
        let mut by: std::collections::HashMap<Option<String>, Vec<i64>> = Default::default();
        for (task, _, s, e) in rows {
            if let (Some(s), Some(e)) = (s, e) {
                by.entry(task).or_default().push(e - s);
            }
        }
        for v in by.values_mut() {
            v.sort_unstable();
        }
    });
    println!("plainest: every run read without the index, durations sorted per task: median {plain:.0} ms {all:.0?}");
    for (name, by) in [
        ("executor", InsightsGroup::Executor),
        ("env", InsightsGroup::Env),
    ] {
        let q = InsightsQuery { by, ..q.clone() };
        let (ms, _) = median_ms(|| {
            insights::insights(&store, &q).unwrap();
        });
        println!("insights, 30 days by {name}: median {ms:.0} ms");
    }
    let week = InsightsQuery {
        since: Timestamp::from_millis(now - 7 * DAY),
        ..q.clone()
    };
    let (ms, _) = median_ms(|| {
        insights::insights(&store, &week).unwrap();
    });
    println!("insights, 7 days by task: median {ms:.0} ms");
    let (ms, _) = median_ms(|| {
        insights::failures(&store, &q, 10).unwrap();
    });
    println!("insights failures, 30 days: median {ms:.0} ms");
}
