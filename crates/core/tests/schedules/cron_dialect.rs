//! Standard cron: weekday numbering (0 and 7 = Sunday) and names, macros, Vixie's
//! day-of-month OR day-of-week, and rows stored before the standard dialect.

use super::common::{at, temp_store};
use super::{cron, field_error, scheduler, T0};
use flightdeck_core::schedules;
use flightdeck_types::SchedulePatch;

/// The first `n` fire times of a new cron schedule in New York added at `from`, as UTC text.
fn fires_in_new_york(expr: &str, from: &str, n: usize) -> Vec<String> {
    let (_dir, store) = temp_store();
    let s = schedules::add_at(&store, cron(expr, "America/New_York"), Some(at(from))).unwrap();
    let mut out = vec![s.next_fire_at.unwrap()];
    out.extend(schedules::next_fire_times(&s, out[0], n - 1).unwrap());
    out.iter().map(|t| t.to_rfc3339()).collect()
}

fn days(dates: &[&str], time: &str) -> Vec<String> {
    dates
        .iter()
        .map(|d| format!("2027-{d}T{time}.000Z"))
        .collect()
}

#[test]
fn cron_weekdays_are_standard_zero_and_seven_being_sunday() {
    // Saturday 2 January 2027, noon in New York; 09:00 EST is 14:00 UTC.
    let from = "2027-01-02T17:00:00Z";
    let weekdays = days(
        &["01-04", "01-05", "01-06", "01-07", "01-08", "01-11"],
        "14:00:00",
    );
    assert_eq!(fires_in_new_york("0 9 * * 1-5", from, 6), weekdays);
    assert_eq!(fires_in_new_york("0 9 * * MON-FRI", from, 6), weekdays);
    assert_eq!(
        fires_in_new_york("0 9 * * mon,tue-thu,5", from, 6),
        weekdays
    );
    let sundays = days(&["01-03", "01-10", "01-17"], "14:00:00");
    assert_eq!(fires_in_new_york("0 9 * * 0", from, 3), sundays);
    assert_eq!(fires_in_new_york("0 9 * * 7", from, 3), sundays);
    assert_eq!(fires_in_new_york("0 9 * * SUN", from, 3), sundays);
    // 5-7: Friday to Sunday; */2: Sunday, Tuesday, Thursday, Saturday.
    assert_eq!(
        fires_in_new_york("0 9 * * 5-7", from, 4),
        days(&["01-03", "01-08", "01-09", "01-10"], "14:00:00")
    );
    assert_eq!(
        fires_in_new_york("0 9 * * */2", from, 4),
        days(&["01-03", "01-05", "01-07", "01-09"], "14:00:00")
    );

    // Stored with weekday names, which every build reads the same way.
    let (_dir, store) = temp_store();
    for (typed, stored) in [
        ("0 9 * * 1-5", "0 0 9 * * MON-FRI"),
        ("0 9 * * 0,7", "0 0 9 * * SUN"),
        ("0 9 * * 5-7", "0 0 9 * * SUN,FRI,SAT"),
        ("0 9 * * 1,2", "0 0 9 * * MON,TUE"),
        ("0 0 9 * * 6 2028", "0 0 9 * * SAT 2028"),
    ] {
        let s = schedules::add_at(&store, cron(typed, "UTC"), Some(at(from))).unwrap();
        assert_eq!(s.cron_expr.as_deref(), Some(stored), "{typed}");
        assert_eq!(s.cron_dialect.as_str(), "standard");
    }
    // 8 is no day.
    let (field, message) = field_error(cron("0 9 * * 8", "UTC"));
    assert_eq!(field, "cron_expr");
    assert!(message.contains("0 and 7 = Sunday"), "{message}");
}

#[test]
fn cron_macros_stand_for_their_standard_expressions() {
    // Saturday 2 January 2027, noon in New York (17:00 UTC, itself a fire of @hourly);
    // midnight EST is 05:00 UTC.
    let from = "2027-01-02T17:00:00Z";
    let midnights = days(&["01-03", "01-04", "01-05"], "05:00:00");
    assert_eq!(fires_in_new_york("@daily", from, 3), midnights);
    assert_eq!(fires_in_new_york("@midnight", from, 3), midnights);
    assert_eq!(
        fires_in_new_york("@hourly", from, 2),
        ["2027-01-02T17:00:00.000Z", "2027-01-02T18:00:00.000Z"]
    );
    assert_eq!(
        fires_in_new_york("@weekly", from, 2),
        days(&["01-03", "01-10"], "05:00:00")
    );
    assert_eq!(
        fires_in_new_york("@monthly", from, 2),
        days(&["02-01", "03-01"], "05:00:00")
    );
    assert_eq!(
        fires_in_new_york("@YEARLY", from, 1),
        ["2028-01-01T05:00:00.000Z"]
    );
    assert_eq!(
        fires_in_new_york("@annually", from, 1),
        ["2028-01-01T05:00:00.000Z"]
    );
    let (field, message) = field_error(cron("@fortnightly", "UTC"));
    assert_eq!(field, "cron_expr");
    assert!(
        message.contains("is not a macro; use one of @yearly"),
        "{message}"
    );
}

#[test]
fn both_day_fields_restricted_fire_on_either_as_vixie_cron_does() {
    // The 1st of the month and every Monday. January 2027: Monday the 4th, 11th, ...;
    // 1 February is a Monday, 1 March a Monday too.
    assert_eq!(
        fires_in_new_york("0 0 1 * 1", "2026-12-31T17:00:00Z", 7),
        days(
            &["01-01", "01-04", "01-11", "01-18", "01-25", "02-01", "02-08"],
            "05:00:00"
        )
    );
    // Either field unrestricted: the other alone decides.
    assert_eq!(
        fires_in_new_york("0 0 1 * *", "2026-12-31T17:00:00Z", 2),
        days(&["01-01", "02-01"], "05:00:00")
    );
    // An impossible day is no longer impossible when a weekday may fire instead.
    let (_dir, store) = temp_store();
    let s = schedules::add_at(&store, cron("0 0 30 2 1", "UTC"), Some(at(T0))).unwrap();
    assert_eq!(s.next_fire_at, Some(at("2027-02-01T00:00:00Z")));
}

#[test]
fn a_row_stored_before_the_standard_dialect_fires_as_it_did() {
    let (_dir, store) = temp_store();
    let made = schedules::add_at(&store, cron("0 9 * * *", "UTC"), Some(at(T0))).unwrap();
    // As a row written by an older build arrives: no cron_dialect (the column's default) and
    // the crate's numbering, 2-6 = Monday to Friday; `1 * 2`: the 1st only if a Monday.
    for (id, expr) in [("weekdays", "0 0 9 * * 2-6"), ("both", "0 0 0 1 * 2")] {
        store
            .write(|w| {
                w.execute(
                    "INSERT INTO schedules (id, name, kind, cron_expr, timezone, spec, executor,
                         runner_device_id, created_at, updated_at)
                     SELECT ?1, ?1, 'cron', ?2, 'America/New_York', spec, executor,
                         runner_device_id, created_at, updated_at
                     FROM schedules WHERE id = ?3",
                    rusqlite::params![id, expr, made.id],
                )?;
                Ok(())
            })
            .unwrap();
    }
    let old = schedules::show(&store, "weekdays").unwrap();
    assert_eq!(old.cron_dialect.as_str(), "quartz");
    // Sunday 3 January 2027 noon: Monday to Friday, 09:00 EST.
    let next = schedules::next_fire_times(&old, at("2027-01-03T17:00:00Z"), 6).unwrap();
    assert_eq!(
        next.iter().map(|t| t.to_rfc3339()).collect::<Vec<_>>(),
        days(
            &["01-04", "01-05", "01-06", "01-07", "01-08", "01-11"],
            "14:00:00"
        )
    );
    // Both day fields must match: the first Monday that is a 1st is 1 February 2027.
    let both = schedules::show(&store, "both").unwrap();
    let next = schedules::next_fire_times(&both, at("2027-01-02T00:00:00Z"), 2).unwrap();
    assert_eq!(
        next,
        [at("2027-02-01T05:00:00Z"), at("2027-03-01T05:00:00Z")]
    );

    // Editing something else keeps the old reading; the scheduler fires it on Monday.
    let renamed = schedules::update(
        &store,
        "weekdays",
        SchedulePatch {
            timezone: Some("America/New_York".into()),
            name: Some("still weekdays".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(renamed.cron_expr.as_deref(), Some("0 0 9 * * 2-6"));
    assert_eq!(renamed.cron_dialect.as_str(), "quartz");
    // The scheduler fires it on Monday and moves it to Tuesday.
    store
        .write(|w| {
            w.execute(
                "UPDATE schedules SET next_fire_at = ?1 WHERE id = 'weekdays'",
                [at("2027-01-04T14:00:00Z").as_millis()],
            )?;
            Ok(())
        })
        .unwrap();
    let (_clock, sched) = scheduler(store, at("2027-01-04T14:00:00Z"));
    let report = sched.tick_now().unwrap();
    let fired = report
        .fired
        .iter()
        .find(|f| f.schedule_id == "weekdays")
        .expect("fired on Monday");
    assert_eq!(fired.next_fire_at, Some(at("2027-01-05T14:00:00Z")));

    // Retyping the expression makes it standard.
    let retyped = schedules::update(
        sched.store(),
        "weekdays",
        SchedulePatch {
            cron_expr: Some("0 9 * * 1-5".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(retyped.cron_expr.as_deref(), Some("0 0 9 * * MON-FRI"));
    assert_eq!(retyped.cron_dialect.as_str(), "standard");

    // An older build that retypes it writes the crate's numbers into the standard row; an
    // edit of another field here keeps them as they are (not read again as standard).
    sched
        .store()
        .write(|w| {
            w.execute(
                "UPDATE schedules SET cron_expr = '0 0 9 * * 2-6' WHERE id = 'weekdays'",
                [],
            )?;
            Ok(())
        })
        .unwrap();
    let edited = schedules::update(
        sched.store(),
        "weekdays",
        SchedulePatch {
            timezone: Some("UTC".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(edited.cron_expr.as_deref(), Some("0 0 9 * * 2-6"));
    let next = schedules::next_fire_times(&edited, at("2027-01-09T12:00:00Z"), 1).unwrap();
    assert_eq!(next, [at("2027-01-11T09:00:00Z")], "Monday, not Tuesday");
}
