//! Fire lag of 1,000 interval schedules all due in the same second, on the real clock. Each
//! round does what the scheduler's run loop does: sleep until `next_tick_at` (the lead before
//! the due instant, which grows with the batch's measured cost), tick, and commit the one
//! write that queues the 1,000 runs with `not_before` = the instant. The fire lag of a round
//! is how late its runs become startable: max(0, commit - instant); the bench also reports
//! how early the commit landed.
//! Run: `cargo bench -p flightdeck-core --bench scheduler`.

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
                expected_secs: None,
            },
        )
        .unwrap();
    }
    let sched = Scheduler::new(Arc::new(store), Arc::new(clock));
    let mut lags = Vec::with_capacity(ROUNDS);
    let mut margins = Vec::with_capacity(ROUNDS);
    let mut leads = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let due = Timestamp(anchor.as_millis() + round as i64 * EVERY_SECS * 1000);
        let wake = sched
            .next_tick_at()
            .unwrap()
            .expect("schedules are enabled");
        let lead = due.as_millis() - wake.as_millis();
        assert!(
            (sched.lead.as_millis() as i64..=schedules::MAX_LEAD.as_millis() as i64)
                .contains(&lead),
            "round {round} woke {lead} ms ahead"
        );
        leads.push(lead);
        let wait = wake.as_millis() - clock.now().as_millis();
        if wait > 0 {
            std::thread::sleep(Duration::from_millis(wait as u64));
        }
        let report = sched.tick_now().unwrap();
        let committed = clock.now().as_millis();
        assert_eq!(report.queued(), SCHEDULES, "round {round}");
        let run = flightdeck_core::runs::get(sched.store(), &report.fired[0].queued[0]).unwrap();
        assert_eq!(run.not_before, Some(due), "runs wait for their instant");
        lags.push((committed - due.as_millis()).max(0));
        margins.push(due.as_millis() - committed);
    }
    lags.sort_unstable();
    margins.sort_unstable();
    leads.sort_unstable();
    let pct = |v: &[i64], p: f64| v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1];
    println!(
        "scheduler: {SCHEDULES} schedules due together, {ROUNDS} rounds, woke ahead by {}..{} \
         ms: fire lag p50 {} ms, p99 {} ms (budget p99 <= 50 ms); commit before the instant by \
         min {} ms, median {} ms",
        leads[0],
        leads[ROUNDS - 1],
        pct(&lags, 0.50),
        pct(&lags, 0.99),
        margins[0],
        pct(&margins, 0.50),
    );
}
