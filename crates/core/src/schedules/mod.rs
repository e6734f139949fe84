//! Schedules: add, list, show, update, pause, resume, delete, trigger now, next fire times.
//! Every change is audited. Firing on time is the [`scheduler`]'s job, on the schedule's
//! runner device only.
//!
//! Trigger now queues a run at once whatever the timing, paused or not, and leaves the next
//! fire where it was; it still obeys the overlap policy (a `skip` schedule with a live run
//! refuses, saying so), because that policy protects whatever the run touches. The run goes
//! to the runner device, so a trigger from another device still runs in one place.

pub mod clock;
pub mod scheduler;
pub mod timing;

use flightdeck_types::schedule::{cron_expr, interval_secs, misfire_cap, CronDialect};
use flightdeck_types::{
    AuditAction, EntityKind, Execution, MisfirePolicy, NewExecution, NewSchedule, OverlapPolicy,
    Schedule, ScheduleKind, SchedulePatch, Timestamp,
};
use rusqlite::types::Value;

use crate::audit::diff;
use crate::error::{CoreError, Result};
use crate::store::{executions, schedules as sql, Store, Writer};

pub use clock::{Clock, SystemClock, TestClock};
pub use scheduler::{Fired, Scheduler, TickReport, MAX_LEAD};
pub use timing::next_fire_times;

/// Checks the timing fields of `s` and, when `cron_typed` (the request sets it), normalises
/// its cron expression as standard cron.
fn validate(s: &mut Schedule, cron_typed: bool) -> Result<()> {
    let name = s.name.trim();
    if name.chars().count() > flightdeck_types::validate::MAX_NAME_CHARS {
        return Err(CoreError::invalid("name", "is longer than 100 characters"));
    }
    s.name = name.to_string();
    timing::parse_zone(&s.timezone)?;
    match s.kind {
        ScheduleKind::Cron => {
            let expr = s.cron_expr.clone().ok_or_else(|| {
                CoreError::invalid(
                    "cron_expr",
                    "a cron schedule needs a cron expression, e.g. `0 9 * * MON-FRI`",
                )
            })?;
            // A stored expression is kept as it is: normalising it again would read its
            // weekday numbers (the crate's, in a row from an older build) as standard ones.
            if cron_typed {
                s.cron_expr = Some(cron_expr(&expr)?);
                s.cron_dialect = CronDialect::Standard;
            }
            timing::parse_stored_cron(s.cron_expr.as_deref().unwrap_or(&expr), s.cron_dialect)?;
        }
        ScheduleKind::Interval => {
            interval_secs(s.interval_secs)?;
        }
        ScheduleKind::Once => {
            if s.run_at.is_none() {
                return Err(CoreError::invalid(
                    "run_at",
                    "a once schedule needs run_at (the time to run)",
                ));
            }
        }
    }
    misfire_cap(s.misfire_cap)?;
    if s.runner_device_id
        .as_deref()
        .is_some_and(|d| d.trim().is_empty())
    {
        return Err(CoreError::invalid(
            "runner_device_id",
            "must not be empty (leave it out to run on this device)",
        ));
    }
    Ok(())
}

/// How far in the past a one-time `run_at` may be and still count as "now" (the scheduler's
/// default grace: a time typed as the current minute is not refused).
const PAST_GRACE_MS: i64 = 60_000;

/// Whether the misfire policy given with a request asks for a catch-up run of missed times.
fn asks_catch_up(policy: Option<MisfirePolicy>) -> bool {
    matches!(policy, Some(MisfirePolicy::RunOnce | MisfirePolicy::RunAll))
}

/// Refuses a schedule that would never fire: a cron expression with no fire time within
/// [`timing::NEVER_FIRES_HORIZON_DAYS`], or a one-time schedule in the past unless the request
/// asked for a catch-up run (then it fires once, at once, as a misfire). `typed` is the cron
/// expression as the person wrote it, for the message.
fn check_fires(s: &Schedule, typed: Option<&str>, now: Timestamp, catch_up: bool) -> Result<()> {
    match s.kind {
        ScheduleKind::Cron => timing::check_cron_fires(s, typed, now),
        ScheduleKind::Once => match s.run_at {
            Some(at) if at.as_millis() < now.as_millis() - PAST_GRACE_MS && !catch_up => {
                Err(CoreError::invalid(
                    "run_at",
                    format!(
                        "`{}` is in the past; ask for a catch-up run (--misfire run_once) to \
                         run it once now",
                        at.to_rfc3339()
                    ),
                ))
            }
            _ => Ok(()),
        },
        ScheduleKind::Interval => Ok(()),
    }
}

pub fn add(store: &Store, input: NewSchedule) -> Result<Schedule> {
    add_at(store, input, None)
}

/// As [`add`], with the first fire computed from `now` instead of the wall clock (for a
/// scheduler on a test clock).
pub fn add_at(store: &Store, input: NewSchedule, now: Option<Timestamp>) -> Result<Schedule> {
    store.write(|w| {
        let now = now.unwrap_or(w.now());
        let catch_up = asks_catch_up(input.misfire_policy);
        let typed = input.cron_expr.clone();
        let mut s = from_input(input, now, w.device_id());
        validate(&mut s, true)?;
        check_fires(&s, typed.as_deref(), now, catch_up)?;
        s.next_fire_at = timing::first_fire(&s, now)?;
        sql::insert(w, &s)?;
        w.audit(
            EntityKind::Schedule,
            &s.id,
            AuditAction::Create,
            diff(None, Some(&s)),
        );
        Ok(s)
    })
}

/// The next `n` fire times of a schedule not saved yet, as [`add`] would set it up at `now`:
/// what a form shows while the person types. Errors are [`add`]'s, naming the field.
pub fn preview(input: NewSchedule, now: Timestamp, n: usize) -> Result<Vec<Timestamp>> {
    // Any non-empty device: the runner device does not change when it fires.
    let catch_up = asks_catch_up(input.misfire_policy);
    let typed = input.cron_expr.clone();
    let mut s = from_input(input, now, "preview");
    validate(&mut s, true)?;
    check_fires(&s, typed.as_deref(), now, catch_up)?;
    let Some(first) = timing::first_fire(&s, now)? else {
        return Ok(Vec::new());
    };
    let mut out = vec![first];
    out.extend(next_fire_times(&s, first, n.saturating_sub(1))?);
    out.truncate(n);
    Ok(out)
}

/// A new schedule from its input, before validation and its first fire.
fn from_input(input: NewSchedule, now: Timestamp, device_id: &str) -> Schedule {
    Schedule {
        id: crate::ids::new_id(),
        name: input.name,
        task_id: input.task_id,
        kind: input.kind,
        cron_expr: input.cron_expr,
        cron_dialect: CronDialect::Standard,
        timezone: input.timezone.unwrap_or_else(|| "UTC".into()),
        interval_secs: input.interval_secs,
        run_at: input.run_at,
        spec: input.spec,
        misfire_policy: input.misfire_policy.unwrap_or(MisfirePolicy::RunOnce),
        misfire_cap: input.misfire_cap.unwrap_or(10),
        overlap_policy: input.overlap_policy.unwrap_or(OverlapPolicy::Skip),
        retry_policy: input.retry_policy.unwrap_or_default(),
        enabled: true,
        runner_device_id: Some(
            input
                .runner_device_id
                .unwrap_or_else(|| device_id.to_string()),
        ),
        last_fired_at: None,
        next_fire_at: None,
        expected_secs: input.expected_secs.filter(|s| *s > 0),
        created_at: now,
        updated_at: now,
    }
}

pub fn list(store: &Store) -> Result<Vec<Schedule>> {
    store.read(sql::list)
}

pub fn show(store: &Store, id: &str) -> Result<Schedule> {
    store.read(|c| sql::find(c, id))
}

/// The next `n` fire times after now (none while paused or when nothing is left).
pub fn next(store: &Store, id: &str, n: usize) -> Result<Vec<Timestamp>> {
    let s = show(store, id)?;
    match s.next_fire_at {
        Some(first) if s.enabled => {
            let mut out = vec![first];
            out.extend(next_fire_times(&s, first, n.saturating_sub(1))?);
            out.truncate(n);
            Ok(out)
        }
        _ => Ok(Vec::new()),
    }
}

/// A column's new value, for [`Writer::update_changed`].
fn column_value(s: &Schedule, field: &str) -> Value {
    let ts = |t: Option<Timestamp>| t.map_or(Value::Null, |t| Value::Integer(t.as_millis()));
    let opt_text = |t: &Option<String>| t.clone().map_or(Value::Null, Value::Text);
    match field {
        "name" => Value::Text(s.name.clone()),
        "task_id" => opt_text(&s.task_id),
        "kind" => Value::Text(s.kind.as_str().into()),
        "cron_expr" => opt_text(&s.cron_expr),
        "cron_dialect" => Value::Text(s.cron_dialect.as_str().into()),
        "timezone" => Value::Text(s.timezone.clone()),
        "interval_secs" => s.interval_secs.map_or(Value::Null, Value::Integer),
        "run_at" => ts(s.run_at),
        "spec" => Value::Text(serde_json::to_string(&s.spec).expect("specs serialize")),
        "misfire_policy" => Value::Text(s.misfire_policy.as_str().into()),
        "misfire_cap" => Value::Integer(s.misfire_cap.into()),
        "overlap_policy" => Value::Text(s.overlap_policy.as_str().into()),
        "retry_policy" => {
            Value::Text(serde_json::to_string(&s.retry_policy).expect("policies serialize"))
        }
        "enabled" => Value::Integer(s.enabled.into()),
        "runner_device_id" => opt_text(&s.runner_device_id),
        "last_fired_at" => ts(s.last_fired_at),
        "next_fire_at" => ts(s.next_fire_at),
        "expected_secs" => s
            .expected_secs
            .map_or(Value::Null, |v| Value::Integer(v as i64)),
        other => unreachable!("schedule has no column {other}"),
    }
}

fn save(
    w: &mut Writer<'_>,
    old: &Schedule,
    new: Schedule,
    action: AuditAction,
) -> Result<Schedule> {
    let changes = diff(Some(old), Some(&new));
    if changes.is_empty() {
        return Ok(old.clone());
    }
    if changes.contains_key("spec") {
        w.execute(
            "UPDATE schedules SET executor = ?2 WHERE id = ?1",
            rusqlite::params![new.id, new.spec.kind().as_str()],
        )?;
    }
    w.update_changed(EntityKind::Schedule, &new.id, action, changes, |f| {
        column_value(&new, f)
    })?;
    sql::find(w, &new.id)
}

pub fn update(store: &Store, id: &str, patch: SchedulePatch) -> Result<Schedule> {
    if patch.is_empty() {
        return Err(CoreError::invalid(
            "update",
            "nothing to change: give at least one field",
        ));
    }
    store.write(|w| {
        let old = sql::find(w, id)?;
        let mut new = old.clone();
        let timing_changed = patch.cron_expr.is_some()
            || patch.timezone.is_some()
            || patch.interval_secs.is_some()
            || patch.run_at.is_some();
        let p = patch;
        let catch_up = asks_catch_up(p.misfire_policy);
        let typed = p.cron_expr.clone();
        new.name = p.name.unwrap_or(new.name);
        // What the person types now is standard cron, whatever the row was.
        let cron_typed = p.cron_expr.is_some();
        new.cron_expr = p.cron_expr.or(new.cron_expr);
        new.timezone = p.timezone.unwrap_or(new.timezone);
        new.interval_secs = p.interval_secs.or(new.interval_secs);
        new.run_at = p.run_at.or(new.run_at);
        new.spec = p.spec.unwrap_or(new.spec);
        new.misfire_policy = p.misfire_policy.unwrap_or(new.misfire_policy);
        new.misfire_cap = p.misfire_cap.unwrap_or(new.misfire_cap);
        new.overlap_policy = p.overlap_policy.unwrap_or(new.overlap_policy);
        new.retry_policy = p.retry_policy.unwrap_or(new.retry_policy);
        new.runner_device_id = p.runner_device_id.or(new.runner_device_id);
        if let Some(expected) = p.expected_secs {
            new.expected_secs = expected.filter(|s| *s > 0);
        }
        validate(&mut new, cron_typed)?;
        if timing_changed {
            // Only the timing this request sets is judged: a stored once that already
            // fired is in the past, and that is fine.
            let judged = Schedule {
                run_at: p.run_at,
                ..new.clone()
            };
            if new.kind != ScheduleKind::Once || p.run_at.is_some() {
                check_fires(&judged, typed.as_deref(), w.now(), catch_up)?;
            }
        }
        if timing_changed && new.enabled {
            if new.kind == ScheduleKind::Once && p.run_at.is_some() {
                new.last_fired_at = None;
            }
            new.next_fire_at = timing::first_fire(&new, w.now())?;
        }
        save(w, &old, new, AuditAction::Update)
    })
}

/// Schedule `id` as it is now, if it exists.
pub(crate) fn find_in(conn: &rusqlite::Connection, id: &str) -> Result<Option<Schedule>> {
    match sql::find(conn, id) {
        Ok(s) => Ok(Some(s)),
        Err(CoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `target` (a schedule as it was at a past instant, see [`crate::restore`]) as a restore
/// writes it: its definition and whether it fires as they were, but when it fired last as it
/// is now (history; `current`'s, or the target's for one deleted since), and its next fire
/// worked out from `now` as a resume does, so that a restore never makes it catch up the
/// fires of the time in between.
pub(crate) fn as_restored(
    mut target: Schedule,
    current: Option<&Schedule>,
    now: Timestamp,
) -> Result<Schedule> {
    if let Some(current) = current {
        target.last_fired_at = current.last_fired_at;
    }
    target.next_fire_at = match target.enabled {
        true => timing::first_fire(&target, now)?,
        false => None,
    };
    Ok(target)
}

/// Puts schedule `id` back as `target` (see [`as_restored`]): one created since is deleted (a
/// run it queued ahead of its instant cancelled), one deleted since comes back with its id.
pub(crate) fn restore_in(
    w: &mut Writer<'_>,
    id: &str,
    current: Option<Schedule>,
    target: Option<Schedule>,
) -> Result<()> {
    match (current, target) {
        (None, None) => Ok(()),
        (Some(old), None) => delete_in(w, &old),
        (None, Some(mut s)) => {
            s.updated_at = w.now();
            sql::insert(w, &s)?;
            w.audit(
                EntityKind::Schedule,
                id,
                AuditAction::Create,
                diff(None, Some(&s)),
            );
            Ok(())
        }
        (Some(old), Some(new)) => {
            if !new.enabled {
                cancel_fired_ahead(w, id)?;
            }
            save(w, &old, new, AuditAction::Update).map(|_| ())
        }
    }
}

/// Stops firing; the next fire is cleared, and a run queued ahead of its instant cancelled.
pub fn pause(store: &Store, id: &str) -> Result<Schedule> {
    store.write(|w| {
        let old = sql::find(w, id)?;
        cancel_fired_ahead(w, id)?;
        let new = Schedule {
            enabled: false,
            next_fire_at: None,
            ..old.clone()
        };
        save(w, &old, new, AuditAction::Transition)
    })
}

/// Fires again from now on: the paused time is not a misfire (nothing catches up), except a
/// `once` that never fired, which keeps its time.
pub fn resume(store: &Store, id: &str) -> Result<Schedule> {
    store.write(|w| {
        let old = sql::find(w, id)?;
        let mut new = Schedule {
            enabled: true,
            ..old.clone()
        };
        new.next_fire_at = timing::first_fire(&new, w.now())?;
        save(w, &old, new, AuditAction::Transition)
    })
}

/// Deletes a schedule. Its past and live runs stay (they keep `schedule_id` for history),
/// except a run queued ahead of its instant, which is cancelled.
pub fn delete(store: &Store, id: &str) -> Result<Schedule> {
    store.write(|w| {
        let old = sql::find(w, id)?;
        delete_in(w, &old)?;
        Ok(old)
    })
}

/// Deletes schedule `old` inside the caller's write, audited; a run it queued ahead of its
/// instant is cancelled.
fn delete_in(w: &mut Writer<'_>, old: &Schedule) -> Result<()> {
    cancel_fired_ahead(w, &old.id)?;
    sql::delete(w, &old.id)?;
    w.audit(
        EntityKind::Schedule,
        &old.id,
        AuditAction::Delete,
        diff(Some(old), None),
    );
    Ok(())
}

/// Queues a run now (see the module notes for the rules).
pub fn trigger(store: &Store, id: &str) -> Result<Execution> {
    store.write(|w| {
        let s = sql::find(w, id)?;
        let mut live = sql::live_runs(w, id)?;
        match scheduler::overlap(w, &s, &mut live, None)?.0 {
            Some(run) => {
                let mut changes = std::collections::BTreeMap::new();
                changes.insert(
                    "triggered_run".to_string(),
                    flightdeck_types::FieldChange {
                        old: serde_json::Value::Null,
                        new: run.id.clone().into(),
                    },
                );
                w.audit(EntityKind::Schedule, id, AuditAction::Transition, changes);
                Ok(run)
            }
            None => Err(CoreError::Refused(format!(
                "schedule {id} has a live run ({}) and its overlap policy is {}; wait for it, \
                 cancel it, or change the overlap policy",
                live.iter()
                    .map(|(id, st)| format!("{id} {st}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                s.overlap_policy
            ))),
        }
    })
}

/// Queues one run of `s` inside `w`, on its runner device, to start at `not_before` (a fire
/// queued ahead of its instant) or at once.
pub(crate) fn queue_run(
    w: &mut Writer<'_>,
    s: &Schedule,
    not_before: Option<Timestamp>,
) -> Result<Execution> {
    // The task's environment when it fires (it may have changed since the schedule was made),
    // so the run gets that environment's working dir, variables and secrets.
    let environment_id = match &s.task_id {
        Some(task) => crate::store::tasks::environment_of(w, task)?,
        None => None,
    };
    crate::runs::queue_in(
        w,
        NewExecution {
            task_id: s.task_id.clone(),
            environment_id,
            schedule_id: Some(s.id.clone()),
            spec: Some(s.spec.clone()),
            device_id: s.runner_device_id.clone(),
            retry_policy: Some(s.retry_policy.clone()),
            not_before,
            ..Default::default()
        },
    )
}

/// Cancels the runs the scheduler queued ahead of their instant (still waiting for it): a
/// paused or deleted schedule must not fire after the person stopped it.
fn cancel_fired_ahead(w: &mut Writer<'_>, schedule_id: &str) -> Result<()> {
    for run_id in sql::waiting_runs(w, schedule_id, w.now())? {
        cancel_in(w, &run_id)?;
    }
    Ok(())
}

/// Asks a live run to cancel inside `w` (the cancel-previous overlap policy).
pub(crate) fn cancel_in(w: &mut Writer<'_>, run_id: &str) -> Result<()> {
    executions::request_cancel(w, run_id, w.now())?;
    w.touched("executions", run_id, AuditAction::Update);
    Ok(())
}
