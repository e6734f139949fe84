//! Cron across daylight-saving transitions in America/New_York (2027: clocks go forward at
//! 02:00 on 14 March, back at 02:00 on 7 November), with exact instants.

mod common;

use std::sync::Arc;

use common::{at, temp_store, true_schedule};
use flightdeck_core::schedules::{self, Scheduler, TestClock};
use flightdeck_types::{NewSchedule, ScheduleKind, Timestamp};

fn daily(expr: &str) -> NewSchedule {
    NewSchedule {
        cron_expr: Some(expr.into()),
        timezone: Some("America/New_York".into()),
        overlap_policy: Some(flightdeck_types::OverlapPolicy::Allow),
        ..true_schedule("dst", ScheduleKind::Cron)
    }
}

/// Ticks a scheduler on a test clock at each fire it announces and returns the instants.
fn fired(expr: &str, from: &str, n: usize) -> Vec<Timestamp> {
    let (_dir, store) = temp_store();
    let from = at(from);
    schedules::add_at(&store, daily(expr), Some(from)).unwrap();
    let clock = Arc::new(TestClock::new(from));
    let sched = Scheduler::new(Arc::new(store), clock.clone());
    let mut out = Vec::new();
    while out.len() < n {
        let s = &schedules::list(sched.store()).unwrap()[0];
        let next = s
            .next_fire_at
            .expect("a cron schedule always has a next fire");
        clock.set(next);
        let report = sched.tick_now().unwrap();
        assert_eq!(report.queued(), 1);
        out.push(report.fired[0].due[0]);
    }
    out
}

#[test]
fn spring_gap_skips_the_nonexistent_local_time() {
    // 02:30 does not exist on 14 March: that day has no fire.
    assert_eq!(
        fired("30 2 * * *", "2027-03-12T12:00:00Z", 3),
        [
            at("2027-03-13T07:30:00Z"), // 02:30 EST
            at("2027-03-15T06:30:00Z"), // 02:30 EDT
            at("2027-03-16T06:30:00Z"),
        ]
    );
    // A time outside the gap keeps its local time across it.
    assert_eq!(
        fired("0 3 * * *", "2027-03-13T12:00:00Z", 2),
        [at("2027-03-14T07:00:00Z"), at("2027-03-15T07:00:00Z")]
    );
}

#[test]
fn autumn_repeat_fires_the_repeated_local_time_once() {
    // 01:30 happens twice on 7 November (EDT, then EST).
    assert_eq!(
        fired("30 1 * * *", "2027-11-06T12:00:00Z", 3),
        [
            at("2027-11-07T05:30:00Z"), // 01:30 EDT, the first 01:30
            at("2027-11-08T06:30:00Z"), // 01:30 EST
            at("2027-11-09T06:30:00Z"),
        ]
    );
}

#[test]
fn autumn_repeat_fires_a_wildcard_hour_on_real_time() {
    // 01:00-02:00 happens twice on 7 November: EDT (05:00-06:00 UTC), then EST (06:00-07:00).
    assert_eq!(
        fired("0 * * * *", "2027-11-07T03:30:00Z", 5),
        [
            at("2027-11-07T04:00:00Z"), // 00:00 EDT
            at("2027-11-07T05:00:00Z"), // 01:00 EDT
            at("2027-11-07T06:00:00Z"), // 01:00 EST, the repeated hour
            at("2027-11-07T07:00:00Z"), // 02:00 EST
            at("2027-11-07T08:00:00Z"),
        ]
    );
    // Every 15 minutes: no gap of an hour, every instant once.
    let quarter = fired("*/15 * * * *", "2027-11-07T05:40:00Z", 7);
    assert_eq!(
        quarter,
        ["05:45", "06:00", "06:15", "06:30", "06:45", "07:00", "07:15"]
            .map(|hm| at(&format!("2027-11-07T{hm}:00Z")))
    );
    // The spring gap under a wildcard hour: real time runs on, 02:00 EST does not exist.
    assert_eq!(
        fired("0 * * * *", "2027-03-14T06:30:00Z", 3),
        [
            at("2027-03-14T07:00:00Z"), // 03:00 EDT (02:00 never happens)
            at("2027-03-14T08:00:00Z"),
            at("2027-03-14T09:00:00Z"),
        ]
    );
}

#[test]
fn autumn_repeat_fires_a_fixed_hour_with_wildcard_minutes_once() {
    // `*/30 1 * * *`: 01:00 and 01:30, in the first (daylight) 01:00 hour only.
    assert_eq!(
        fired("*/30 1 * * *", "2027-11-07T04:00:00Z", 3),
        [
            at("2027-11-07T05:00:00Z"),
            at("2027-11-07T05:30:00Z"),
            at("2027-11-08T06:00:00Z"),
        ]
    );
}
