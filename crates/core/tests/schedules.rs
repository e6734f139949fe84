//! Schedules and the scheduler on a test clock: misfire and overlap policies, validation,
//! pause/resume/trigger/delete, next fire times, and two synced devices.

mod common;
#[path = "schedules/cron_dialect.rs"]
mod cron_dialect;

use std::sync::Arc;

use common::{at, count, exchange, temp_store, true_schedule};
use flightdeck_core::schedules::{self, Scheduler, TestClock};
use flightdeck_core::{CoreError, Store};
use flightdeck_types::{
    MisfirePolicy, NewSchedule, OverlapPolicy, ScheduleKind, SchedulePatch, Timestamp,
};

fn interval(every: i64, anchor: Timestamp) -> NewSchedule {
    NewSchedule {
        interval_secs: Some(every),
        run_at: Some(anchor),
        overlap_policy: Some(OverlapPolicy::Allow),
        ..true_schedule("every", ScheduleKind::Interval)
    }
}

fn cron(expr: &str, zone: &str) -> NewSchedule {
    NewSchedule {
        kind: ScheduleKind::Cron,
        cron_expr: Some(expr.into()),
        timezone: Some(zone.into()),
        interval_secs: None,
        run_at: None,
        ..interval(1, Timestamp(0))
    }
}

fn runs_of(store: &Store, schedule_id: &str) -> i64 {
    count(
        store,
        &format!("SELECT count(*) FROM executions WHERE schedule_id = '{schedule_id}'"),
    )
}

fn scheduler(store: Store, now: Timestamp) -> (Arc<TestClock>, Scheduler) {
    let clock = Arc::new(TestClock::new(now));
    (clock.clone(), Scheduler::new(Arc::new(store), clock))
}

const T0: &str = "2027-01-04T00:00:00Z";

/// Ten-minute interval, the device asleep from T0 to T0 + 3h05m: 18 fire times were missed
/// (the last one 5 minutes ago, beyond the 60 s grace).
fn after_sleep(policy: MisfirePolicy, cap: Option<u32>) -> (usize, usize) {
    let (_dir, store) = temp_store();
    let t0 = at(T0);
    let s = schedules::add_at(
        &store,
        NewSchedule {
            misfire_policy: Some(policy),
            misfire_cap: cap,
            ..interval(600, t0)
        },
        Some(t0),
    )
    .unwrap();
    let (clock, sched) = scheduler(store, t0);
    assert_eq!(
        sched.tick_now().unwrap().queued(),
        1,
        "the on-time fire at T0"
    );
    clock.advance_secs(3 * 3600 + 300);
    let report = sched.tick_now().unwrap();
    assert_eq!(report.fired.len(), 1);
    let fired = &report.fired[0];
    assert_eq!(fired.due.len(), 18);
    assert_eq!(
        fired.next_fire_at,
        Some(Timestamp(t0.as_millis() + 19 * 600_000))
    );
    assert_eq!(
        runs_of(sched.store(), &s.id) as usize,
        1 + fired.queued.len()
    );
    // Nothing more is due until the next fire.
    assert_eq!(sched.tick_now().unwrap().queued(), 0);
    (fired.queued.len(), fired.misfire_dropped)
}

#[test]
fn three_hour_sleep_under_each_misfire_policy() {
    assert_eq!(after_sleep(MisfirePolicy::Skip, None), (0, 18));
    assert_eq!(after_sleep(MisfirePolicy::RunOnce, None), (1, 17));
    assert_eq!(after_sleep(MisfirePolicy::RunAll, Some(5)), (5, 13));
    assert_eq!(after_sleep(MisfirePolicy::RunAll, Some(100)), (18, 0));
}

#[test]
fn skip_still_fires_a_due_time_within_grace() {
    let (_dir, store) = temp_store();
    let t0 = at(T0);
    schedules::add_at(
        &store,
        NewSchedule {
            misfire_policy: Some(MisfirePolicy::Skip),
            ..interval(600, t0)
        },
        Some(t0),
    )
    .unwrap();
    let (clock, sched) = scheduler(store, t0);
    clock.advance_secs(3 * 3600 + 10);
    let report = sched.tick_now().unwrap();
    assert_eq!(report.queued(), 1);
    assert_eq!(report.fired[0].misfire_dropped, 18);
}

/// A schedule with one live run (queued, or running when `running`), ticked at its next fire.
fn overlap_case(
    policy: OverlapPolicy,
    running: bool,
) -> (tempfile::TempDir, Scheduler, String, String) {
    let (dir, store) = temp_store();
    let t0 = at(T0);
    let s = schedules::add_at(
        &store,
        NewSchedule {
            overlap_policy: Some(policy),
            ..interval(60, t0)
        },
        Some(t0),
    )
    .unwrap();
    let live = schedules::trigger(&store, &s.id).unwrap();
    if running {
        store
            .write(|w| {
                w.execute(
                    "UPDATE executions SET status = 'running' WHERE id = ?1",
                    [&live.id],
                )?;
                Ok(())
            })
            .unwrap();
    }
    let (_clock, sched) = scheduler(store, t0);
    (dir, sched, s.id, live.id)
}

#[test]
fn overlap_skip_queues_nothing_while_a_run_is_live() {
    let (_dir, sched, id, _) = overlap_case(OverlapPolicy::Skip, true);
    let report = sched.tick(at(T0)).unwrap();
    assert_eq!(report.queued(), 0);
    assert_eq!(report.fired[0].overlap_skipped, 1);
    assert_eq!(runs_of(sched.store(), &id), 1);
    // Trigger now obeys it too, and says why.
    let err = schedules::trigger(sched.store(), &id).unwrap_err();
    assert!(matches!(err, CoreError::Refused(ref m) if m.contains("overlap policy is skip")));
}

#[test]
fn overlap_queue_one_waits_behind_a_running_run_but_never_stacks() {
    let (_dir, sched, id, _) = overlap_case(OverlapPolicy::QueueOne, true);
    assert_eq!(sched.tick(at(T0)).unwrap().queued(), 1);
    let later = Timestamp(at(T0).as_millis() + 60_000);
    let report = sched.tick(later).unwrap();
    assert_eq!(report.queued(), 0);
    assert_eq!(report.fired[0].overlap_skipped, 1);
    assert_eq!(runs_of(sched.store(), &id), 2);
}

#[test]
fn overlap_allow_queues_beside_a_live_run() {
    let (_dir, sched, id, _) = overlap_case(OverlapPolicy::Allow, true);
    assert_eq!(sched.tick(at(T0)).unwrap().queued(), 1);
    assert_eq!(runs_of(sched.store(), &id), 2);
}

#[test]
fn overlap_cancel_previous_asks_the_live_run_to_stop_and_queues() {
    let (_dir, sched, id, live) = overlap_case(OverlapPolicy::CancelPrevious, true);
    let report = sched.tick(at(T0)).unwrap();
    assert_eq!(report.queued(), 1);
    assert_eq!(report.fired[0].cancelled, vec![live.clone()]);
    let run = flightdeck_core::runs::get(sched.store(), &live).unwrap();
    assert!(run.cancel_requested_at.is_some());
    assert_eq!(runs_of(sched.store(), &id), 2);
}

fn field_error(input: NewSchedule) -> (String, String) {
    let (_dir, store) = temp_store();
    match schedules::add(&store, input) {
        Err(CoreError::Invalid(e)) => (e.field, e.message),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn validation_names_the_field_and_the_cron_part() {
    for (expr, part) in [
        ("61 * * * * *", "seconds"),
        ("61 * * * *", "minutes"),
        ("0 24 * * *", "hours"),
        ("0 0 32 * *", "day-of-month"),
        ("0 0 * 13 *", "month"),
        ("0 0 * * FUNDAY", "day-of-week"),
        ("0 0 0 * * * 1800", "year"),
        ("0 0 */0 * *", "day-of-month"),
    ] {
        let (field, message) = field_error(cron(expr, "UTC"));
        assert_eq!(field, "cron_expr", "{expr}");
        assert!(message.starts_with(part), "{expr}: {message}");
    }
    let (field, message) = field_error(cron("* * *", "UTC"));
    assert_eq!(field, "cron_expr");
    assert!(message.contains("has 3 fields"), "{message}");
    assert_eq!(field_error(cron("0 9 * * *", "Mars/Olympus")).0, "timezone");
    let zero = interval(0, at(T0));
    assert_eq!(field_error(zero).0, "interval_secs");
    let once = NewSchedule {
        kind: ScheduleKind::Once,
        run_at: None,
        ..interval(1, at(T0))
    };
    assert_eq!(field_error(once).0, "run_at");
    let cap = NewSchedule {
        misfire_cap: Some(0),
        ..interval(1, at(T0))
    };
    assert_eq!(field_error(cap).0, "misfire_cap");
}

#[test]
fn five_field_cron_is_normalised_and_next_fire_times_are_listed() {
    let (_dir, store) = temp_store();
    // 2027-01-01 is a Friday.
    let s = schedules::add_at(
        &store,
        cron("0 9 * * MON-FRI", "UTC"),
        Some(at("2027-01-01T10:00:00Z")),
    )
    .unwrap();
    assert_eq!(s.cron_expr.as_deref(), Some("0 0 9 * * MON-FRI"));
    assert_eq!(s.next_fire_at, Some(at("2027-01-04T09:00:00Z")));
    let next = schedules::next_fire_times(&s, at("2027-01-01T10:00:00Z"), 4).unwrap();
    assert_eq!(
        next,
        ["2027-01-04", "2027-01-05", "2027-01-06", "2027-01-07"]
            .map(|d| at(&format!("{d}T09:00:00Z")))
    );
    assert_eq!(schedules::next(&store, &s.id, 2).unwrap(), next[..2]);
}

#[test]
fn pause_resume_trigger_delete() {
    let (_dir, store) = temp_store();
    let t0 = at(T0);
    let s = schedules::add_at(&store, interval(60, t0), Some(t0)).unwrap();
    let (_clock, sched) = scheduler(store, t0);
    let store = sched.store();

    let paused = schedules::pause(store, &s.id).unwrap();
    assert!(!paused.enabled);
    assert_eq!(paused.next_fire_at, None);
    assert!(schedules::next(store, &s.id, 3).unwrap().is_empty());
    assert_eq!(
        sched
            .tick(Timestamp(t0.as_millis() + 3_600_000))
            .unwrap()
            .queued(),
        0
    );

    // Trigger works while paused, and the run goes to the runner device.
    let run = schedules::trigger(store, &s.id).unwrap();
    assert_eq!(run.schedule_id.as_deref(), Some(s.id.as_str()));
    assert_eq!(run.device_id.as_deref(), Some(store.device_id()));

    let resumed = schedules::resume(store, &s.id).unwrap();
    assert!(resumed.enabled);
    assert!(resumed.next_fire_at.is_some());

    let updated = schedules::update(
        store,
        &s.id,
        SchedulePatch {
            name: Some("renamed".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(updated.name, "renamed");

    schedules::delete(store, &s.id).unwrap();
    assert!(matches!(
        schedules::show(store, &s.id),
        Err(CoreError::NotFound { .. })
    ));
    let audited = count(
        store,
        &format!(
            "SELECT count(*) FROM audit_log WHERE entity_id = '{}'",
            s.id
        ),
    );
    // create, pause, trigger, resume, update, delete
    assert_eq!(audited, 6);
}

#[test]
fn once_fires_once() {
    let (_dir, store) = temp_store();
    let t0 = at(T0);
    let input = NewSchedule {
        kind: ScheduleKind::Once,
        interval_secs: None,
        ..interval(1, t0)
    };
    let s = schedules::add_at(&store, input, Some(Timestamp(t0.as_millis() - 1000))).unwrap();
    let (clock, sched) = scheduler(store, t0);
    assert_eq!(sched.tick_now().unwrap().queued(), 1);
    clock.advance_secs(86_400);
    assert_eq!(sched.tick_now().unwrap().queued(), 0);
    assert_eq!(
        schedules::show(sched.store(), &s.id).unwrap().next_fire_at,
        None
    );
}

#[test]
fn of_two_synced_devices_only_the_runner_fires() {
    let (_da, a) = temp_store();
    let (_db, b) = temp_store();
    let t0 = at(T0);
    let s = schedules::add_at(&a, interval(60, t0), Some(t0)).unwrap();
    assert_eq!(s.runner_device_id.as_deref(), Some(a.device_id()));
    exchange(&a, &b);
    let (_ca, sa) = scheduler(a, t0);
    let (_cb, sb) = scheduler(b, t0);
    assert_eq!(sb.tick(t0).unwrap().queued(), 0);
    assert_eq!(sa.tick(t0).unwrap().queued(), 1);
    exchange(sa.store(), sb.store());
    assert_eq!(sb.tick(t0).unwrap().queued(), 0);
    for store in [sa.store(), sb.store()] {
        assert_eq!(runs_of(store, &s.id), 1);
    }

    // Hand the schedule to B: from then on only B fires it.
    let b_id = sb.store().device_id().to_string();
    schedules::update(
        sa.store(),
        &s.id,
        SchedulePatch {
            runner_device_id: Some(b_id),
            ..Default::default()
        },
    )
    .unwrap();
    exchange(sa.store(), sb.store());
    let later = Timestamp(t0.as_millis() + 60_000);
    assert_eq!(sa.tick(later).unwrap().queued(), 0);
    assert_eq!(sb.tick(later).unwrap().queued(), 1);
    exchange(sa.store(), sb.store());
    for store in [sa.store(), sb.store()] {
        assert_eq!(runs_of(store, &s.id), 2);
    }
}

#[test]
fn a_fire_is_queued_ahead_to_start_at_its_instant_and_a_pause_cancels_it() {
    let (_dir, store) = temp_store();
    let t0 = at(T0);
    let s = schedules::add_at(
        &store,
        interval(60, t0),
        Some(Timestamp(t0.as_millis() - 5000)),
    )
    .unwrap();
    let (_clock, sched) = scheduler(store, t0);
    let lead = sched.lead.as_millis() as i64;
    assert_eq!(
        sched.next_tick_at().unwrap(),
        Some(Timestamp(t0.as_millis() - lead))
    );
    // Earlier than `lead` before the instant: nothing yet.
    let early = Timestamp(t0.as_millis() - lead - 1);
    assert_eq!(sched.tick(early).unwrap().queued(), 0);
    // Within `lead`: queued now, to start at the instant exactly.
    let report = sched.tick(Timestamp(t0.as_millis() - lead)).unwrap();
    assert_eq!(report.queued(), 1);
    assert_eq!(report.fired[0].due, [t0]);
    assert_eq!(report.fired[0].misfire_dropped, 0);
    assert_eq!(
        report.fired[0].next_fire_at,
        Some(Timestamp(t0.as_millis() + 60_000))
    );
    let run = flightdeck_core::runs::get(sched.store(), &report.fired[0].queued[0]).unwrap();
    assert_eq!(run.not_before, Some(t0));
    // Ticking again at the instant fires nothing twice.
    assert_eq!(sched.tick(t0).unwrap().queued(), 0);

    // A pause before the instant cancels the run queued ahead.
    schedules::pause(sched.store(), &s.id).unwrap();
    let run = flightdeck_core::runs::get(sched.store(), &run.id).unwrap();
    assert!(run.cancel_requested_at.is_some());
}

#[test]
fn a_task_schedule_runs_in_the_environment_the_task_has_when_it_fires() {
    use flightdeck_core::{environments, runs, tasks};
    use flightdeck_types::{NewEnvironment, NewTask, TaskPatch};

    let (_dir, store) = temp_store();
    let env = |name: &str| {
        environments::create(
            &store,
            NewEnvironment {
                name: name.into(),
                ..Default::default()
            },
        )
        .unwrap()
        .id
    };
    let (first, second) = (env("first"), env("second"));
    let task = tasks::create(
        &store,
        NewTask {
            title: "Nightly build".into(),
            environment: Some(first.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let t0 = at(T0);
    let s = schedules::add_at(
        &store,
        NewSchedule {
            task_id: Some(task.id.clone()),
            ..interval(60, t0)
        },
        Some(t0),
    )
    .unwrap();
    let (clock, sched) = scheduler(store, t0);
    let report = sched.tick(t0).unwrap();
    let run = runs::get(sched.store(), &report.fired[0].queued[0]).unwrap();
    assert_eq!(run.environment_id.as_deref(), Some(first.as_str()));
    assert_eq!(run.task_id.as_deref(), Some(task.id.as_str()));

    // The task moves to another environment: the next fire follows it.
    tasks::update(
        sched.store(),
        &task.id,
        TaskPatch {
            environment: Some(Some(second.clone())),
            ..Default::default()
        },
    )
    .unwrap();
    clock.set(Timestamp(t0.as_millis() + 60_000));
    let report = sched.tick_now().unwrap();
    assert_eq!(report.fired[0].schedule_id, s.id);
    let run = runs::get(sched.store(), &report.fired[0].queued[0]).unwrap();
    assert_eq!(run.environment_id.as_deref(), Some(second.as_str()));
}

#[test]
fn a_cron_that_never_fires_is_refused_naming_the_day() {
    for (expr, why) in [
        ("0 0 30 2 *", "day 30 never occurs in February"),
        ("0 0 31 4 *", "day 31 never occurs in April"),
        (
            "0 0 31 4,6,9,11 *",
            "day 31 never occurs in April, June, September or November",
        ),
        ("0 0 0 30 FEB * 2027", "day 30 never occurs in February"),
    ] {
        let (field, message) = field_error(cron(expr, "UTC"));
        assert_eq!(field, "cron_expr", "{expr}");
        assert_eq!(message, format!("`{expr}` never fires: {why}"));
    }
    // A year long gone: no fire, and no day to blame.
    let (_, message) = field_error(cron("0 0 0 1 1 * 1999", "UTC"));
    assert!(message.ends_with("never fires: it has no fire time in the next 5 years"));
    // 29 February comes, if only every four years.
    let (_dir, store) = temp_store();
    let leap = schedules::add_at(&store, cron("0 0 29 2 *", "UTC"), Some(at(T0))).unwrap();
    assert_eq!(leap.next_fire_at, Some(at("2028-02-29T00:00:00Z")));
    // An update to a never-firing expression is refused too, and changes nothing.
    let err = schedules::update(
        &store,
        &leap.id,
        SchedulePatch {
            cron_expr: Some("0 0 31 4 *".into()),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(&err, CoreError::Invalid(e) if e.field == "cron_expr"),
        "{err:?}"
    );
    assert_eq!(
        schedules::show(&store, &leap.id)
            .unwrap()
            .cron_expr
            .as_deref(),
        Some("0 0 0 29 2 *")
    );
}

#[test]
fn a_once_in_the_past_is_refused_unless_a_catch_up_is_asked_for() {
    let now = at(T0);
    let past = Timestamp(now.as_millis() - 3_600_000);
    let once = |policy: Option<MisfirePolicy>| NewSchedule {
        kind: ScheduleKind::Once,
        interval_secs: None,
        misfire_policy: policy,
        ..interval(1, past)
    };
    let (_dir, store) = temp_store();
    for policy in [None, Some(MisfirePolicy::Skip)] {
        match schedules::add_at(&store, once(policy), Some(now)) {
            Err(CoreError::Invalid(e)) => {
                assert_eq!(e.field, "run_at");
                assert_eq!(
                    e.message,
                    "`2027-01-03T23:00:00.000Z` is in the past; ask for a catch-up run \
                     (--misfire run_once) to run it once now"
                );
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(schedules::preview(once(policy), now, 1).is_err());
    }
    assert!(schedules::list(&store).unwrap().is_empty(), "nothing kept");
    // Asked for: it fires once, at the first tick.
    let s = schedules::add_at(&store, once(Some(MisfirePolicy::RunOnce)), Some(now)).unwrap();
    assert_eq!(s.next_fire_at, Some(past));
    let (_clock, sched) = scheduler(store, now);
    assert_eq!(sched.tick_now().unwrap().queued(), 1);
    // A time within the last minute is "now", not the past.
    let just_now = NewSchedule {
        run_at: Some(Timestamp(now.as_millis() - 30_000)),
        ..once(None)
    };
    assert!(schedules::add_at(sched.store(), just_now, Some(now)).is_ok());
}
