//! Fire lag of 1,000 interval schedules all due in the same second, on the real clock: the
//! time from the due instant to the commit of the write that queued their runs (one
//! transaction per batch). Run: `cargo bench -p flightdeck-core --bench scheduler`.

use std::sync::Arc;
use std::time::Duration;

use flightdeck_core::schedules::{self, Clock, Scheduler, SystemClock};
use flightdeck_core::Store;
use flightdeck_types::{
    ExecutionSpec, NewSchedule, OverlapPolicy, ScheduleKind, ShellSpec, Timestamp,
};

const SCHEDULES: usize = 1_000;
const ROUNDS: usize = 20;
const EVERY_SECS: i64 = 2;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bench.db")).unwrap();
    let clock = SystemClock;
    // All anchored on the same whole second, far enough ahead to create them all first.
    let anchor = Timestamp((clock.now().as_millis() / 1000 + 30) * 1000);
    for i in 0..SCHEDULES {
        schedules::add(
            &store,
            NewSchedule {
                name: format!("bench {i}"),
                task_id: None,
                kind: ScheduleKind::Interval,
                cron_expr: None,
                timezone: None,
                interval_secs: Some(EVERY_SECS),
                run_at: Some(anchor),
                spec: ExecutionSpec::Shell(ShellSpec {
                    line: Some("true".into()),
                    ..Default::default()
                }),
                misfire_policy: None,
                misfire_cap: None,
                overlap_policy: Some(OverlapPolicy::Allow),
                retry_policy: None,
                runner_device_id: None,
            },
        )
        .unwrap();
    }
    let sched = Scheduler::new(Arc::new(store), Arc::new(clock));
    let mut lags = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let due = Timestamp(anchor.as_millis() + round as i64 * EVERY_SECS * 1000);
        let wait = due.as_millis() - clock.now().as_millis();
        if wait > 0 {
            std::thread::sleep(Duration::from_millis(wait as u64));
        }
        // Like the run loop: wake at the earliest next fire, tick until it has fired.
        let report = sched.tick_now().unwrap();
        let lag = clock.now().as_millis() - due.as_millis();
        assert_eq!(report.queued(), SCHEDULES, "round {round}");
        lags.push(lag);
    }
    lags.sort_unstable();
    let pct = |p: f64| lags[((lags.len() as f64 * p).ceil() as usize).clamp(1, lags.len()) - 1];
    println!(
        "scheduler: {SCHEDULES} schedules due together, {ROUNDS} rounds: fire lag p50 {} ms, \
         p99 {} ms, max {} ms (budget p99 <= 50 ms)",
        pct(0.50),
        pct(0.99),
        lags[lags.len() - 1]
    );
}
