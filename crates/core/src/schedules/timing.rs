//! When a schedule fires.
//!
//! - cron: the `cron` crate evaluated in the schedule's IANA zone. Daylight saving (checked
//!   by tests/schedules_dst.rs): a local time that does not exist (the spring gap) is
//!   skipped, not moved. A local time that happens twice (the autumn repeat) fires once, at
//!   its first (daylight) instant, when the hour field is fixed (`30 1 * * *`); with a
//!   wildcard hour (`0 * * * *`, `*/15 * * * *`) it fires both times, on real time, as Vixie
//!   cron does, so an hourly schedule does not skip an hour. The crate only knows the first
//!   instant; the second comes from [`repeated_fire`].
//! - interval: a fixed grid `anchor + k * interval`, the anchor being `run_at` or else
//!   `created_at + interval`, so fires never drift however late a tick runs.
//! - once: `run_at`.

use std::str::FromStr;

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;
use flightdeck_types::schedule::CronDialect;
use flightdeck_types::{Schedule, ScheduleKind, Timestamp};

use crate::error::{CoreError, Result};

pub fn parse_zone(zone: &str) -> Result<Tz> {
    Tz::from_str(zone).map_err(|_| {
        CoreError::invalid(
            "timezone",
            format!("`{zone}` is not an IANA time zone; e.g. `Europe/Berlin`, `America/New_York`, `UTC`"),
        )
    })
}

/// Parses an already field-checked expression with the cron crate (the final authority).
pub fn parse_cron(expr: &str) -> Result<cron::Schedule> {
    cron::Schedule::from_str(expr)
        .map_err(|e| CoreError::invalid("cron_expr", format!("`{expr}`: {e}")))
}

/// A stored expression as the cron crate schedules whose earliest next time is the
/// schedule's. Stored weekdays are names (or, from an older build, the crate's own numbers),
/// so the crate reads them as meant; what it lacks is Vixie's day rule: when both day-of-month and
/// day-of-week are restricted (neither starts with `*`), a day matching EITHER fires. That is
/// two schedules, one per day field with the other unrestricted. Quartz rows (written before)
/// keep the crate's rule: a day must match both.
pub fn parse_stored_cron(expr: &str, dialect: CronDialect) -> Result<Vec<cron::Schedule>> {
    let parts: Vec<&str> = expr.split_whitespace().collect();
    let restricted = |f: &str| !(f.starts_with('*') || f.starts_with('?'));
    if dialect == CronDialect::Standard
        && parts.len() >= 6
        && restricted(parts[3])
        && restricted(parts[5])
    {
        let with = |i: usize| {
            let mut p = parts.clone();
            p[i] = "*";
            p.join(" ")
        };
        return Ok(vec![parse_cron(&with(5))?, parse_cron(&with(3))?]);
    }
    Ok(vec![parse_cron(expr)?])
}

fn utc(t: Timestamp) -> chrono::DateTime<Utc> {
    Utc.timestamp_millis_opt(t.as_millis())
        .single()
        .unwrap_or_else(Utc::now)
}

/// A prepared schedule timing, parsed once.
pub enum Timing {
    /// Fires at the earliest next time of any of these (see [`parse_stored_cron`]).
    Cron {
        crons: Vec<cron::Schedule>,
        tz: Tz,
        /// The hour field starts with `*`: the repeated autumn hour fires twice.
        wildcard_hour: bool,
    },
    Interval {
        anchor: i64,
        every_ms: i64,
    },
    Once(Option<Timestamp>),
}

impl Timing {
    pub fn of(s: &Schedule) -> Result<Self> {
        Ok(match s.kind {
            ScheduleKind::Cron => {
                let expr = s.cron_expr.as_deref().ok_or_else(|| {
                    CoreError::invalid("cron_expr", "a cron schedule needs a cron expression")
                })?;
                Timing::Cron {
                    crons: parse_stored_cron(expr, s.cron_dialect)?,
                    tz: parse_zone(&s.timezone)?,
                    // Stored expressions have seconds first: hours are the third field.
                    wildcard_hour: expr
                        .split_whitespace()
                        .nth(2)
                        .is_some_and(|h| h.starts_with('*')),
                }
            }
            ScheduleKind::Interval => {
                let secs = flightdeck_types::schedule::interval_secs(s.interval_secs)?;
                let every_ms = secs.saturating_mul(1000);
                let anchor = s
                    .run_at
                    .map(Timestamp::as_millis)
                    .unwrap_or(s.created_at.as_millis() + every_ms);
                Timing::Interval { anchor, every_ms }
            }
            ScheduleKind::Once => Timing::Once(s.run_at),
        })
    }

    /// The first fire strictly after `t`.
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        match self {
            Timing::Cron {
                crons,
                tz,
                wildcard_hour,
            } => {
                let from = utc(t).with_timezone(tz);
                // From inside a repeated hour the crate maps the local times that follow to
                // their first instants, which are before `t`: those are passed over.
                let first = crons
                    .iter()
                    .filter_map(|c| {
                        c.after(&from)
                            .map(|d| d.timestamp_millis())
                            .find(|ms| *ms > t.as_millis())
                    })
                    .map(Timestamp)
                    .min();
                let repeated = if *wildcard_hour {
                    crons.iter().filter_map(|c| repeated_fire(c, tz, t)).min()
                } else {
                    None
                };
                match (first, repeated) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            Timing::Interval { anchor, every_ms } => {
                let t = t.as_millis();
                if t < *anchor {
                    return Some(Timestamp(*anchor));
                }
                let k = (t - anchor) / every_ms + 1;
                Some(Timestamp(anchor + k * every_ms))
            }
            Timing::Once(at) => at.filter(|at| *at > t),
        }
    }
}

/// A cron schedule with no fire time this far ahead is refused as one that never fires.
pub const NEVER_FIRES_HORIZON_DAYS: i64 = 5 * 366;

/// Refuses a cron schedule that has no fire within [`NEVER_FIRES_HORIZON_DAYS`] of `now`
/// (`0 0 30 2 *`), naming the day and month when that is why.
pub fn check_cron_fires(s: &Schedule, typed: Option<&str>, now: Timestamp) -> Result<()> {
    let timing = Timing::of(s)?;
    let horizon = now.as_millis() + NEVER_FIRES_HORIZON_DAYS * 86_400_000;
    if timing
        .next_after(now)
        .is_some_and(|t| t.as_millis() <= horizon)
    {
        return Ok(());
    }
    let typed = typed.or(s.cron_expr.as_deref()).unwrap_or_default();
    let why = impossible_day(typed)
        .unwrap_or_else(|| "it has no fire time in the next 5 years".to_string());
    Err(CoreError::invalid(
        "cron_expr",
        format!("`{typed}` never fires: {why}"),
    ))
}

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
/// The most days each month can have (February: a leap year's).
const MONTH_DAYS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// "day 30 never occurs in February" when the day-of-month field holds only plain days and
/// the smallest exceeds every month the month field allows; None when that is not the cause
/// (or the fields are too intricate to tell cheaply).
fn impossible_day(expr: &str) -> Option<String> {
    let parts: Vec<&str> = expr.split_whitespace().collect();
    let (dom, month) = match parts.len() {
        5 => (parts[2], parts[3]),
        6 | 7 => (parts[3], parts[4]),
        _ => return None,
    };
    let day = dom
        .split(',')
        .map(|item| item.split('-').next().and_then(|d| d.parse::<u32>().ok()))
        .collect::<Option<Vec<u32>>>()?
        .into_iter()
        .min()?;
    let month_number = |m: &str| -> Option<usize> {
        m.parse::<usize>()
            .ok()
            .filter(|n| (1..=12).contains(n))
            .or_else(|| {
                MONTH_NAMES
                    .iter()
                    .position(|n| n[..3].eq_ignore_ascii_case(m))
                    .map(|i| i + 1)
            })
    };
    let mut months = Vec::new();
    for item in month.split(',') {
        if item.contains('/') || item.contains('*') {
            return None;
        }
        let (lo, hi) = item.split_once('-').unwrap_or((item, item));
        months.extend(month_number(lo)?..=month_number(hi)?);
    }
    if months.is_empty() || months.iter().any(|m| MONTH_DAYS[m - 1] >= day) {
        return None;
    }
    let mut names: Vec<&str> = months.iter().map(|m| MONTH_NAMES[m - 1]).collect();
    let last = names.pop()?;
    let months = if names.is_empty() {
        last.to_string()
    } else {
        format!("{} or {last}", names.join(", "))
    };
    Some(format!("day {day} never occurs in {months}"))
}

/// The longest a clock is ever set back (Lord Howe's half hour, most zones' hour: 2 h covers
/// every zone in the database).
const MAX_SETBACK_MS: i64 = 2 * 3_600_000;

/// The next fire after `t` that is the SECOND instant of a repeated local time (the autumn
/// hour), which the crate never yields: it maps a repeated local time to its first instant.
/// Such an instant is at most [`MAX_SETBACK_MS`] after `t` when no fire of the first
/// occurrence lies between (that one would come first), so it is looked for in the offset in
/// force just after the change: the zone's offset at `t` + that much.
fn repeated_fire(cron: &cron::Schedule, tz: &Tz, t: Timestamp) -> Option<Timestamp> {
    use chrono::{Offset, TimeZone as _};
    let limit = t.as_millis() + MAX_SETBACK_MS;
    let offset_at = |ms: i64| {
        tz.offset_from_utc_datetime(&utc(Timestamp(ms)).naive_utc())
            .fix()
    };
    let offset = offset_at(limit);
    // No change of offset around `t` (two changes are never this close): nothing repeats.
    if offset_at(t.as_millis() - MAX_SETBACK_MS) == offset {
        return None;
    }
    let next = cron.after(&utc(t).with_timezone(&offset)).next()?;
    let at = next.timestamp_millis();
    if at > limit {
        return None;
    }
    // Only the second instant of a repeated local time: the first is the crate's own.
    match tz.from_local_datetime(&next.naive_local()) {
        chrono::LocalResult::Ambiguous(_, second) if second.timestamp_millis() == at => {
            Some(Timestamp(at))
        }
        _ => None,
    }
}

/// The next `n` fire times strictly after `after`.
pub fn next_fire_times(s: &Schedule, after: Timestamp, n: usize) -> Result<Vec<Timestamp>> {
    let timing = Timing::of(s)?;
    let mut out = Vec::with_capacity(n.min(1000));
    let mut t = after;
    while out.len() < n {
        match timing.next_after(t) {
            Some(next) => {
                out.push(next);
                t = next;
            }
            None => break,
        }
    }
    Ok(out)
}

/// The first fire of a schedule that is (re)started at `now`: a `once` keeps its time even
/// when it is past (so it still fires, under the misfire policy) unless it already fired.
pub fn first_fire(s: &Schedule, now: Timestamp) -> Result<Option<Timestamp>> {
    let timing = Timing::of(s)?;
    Ok(match timing {
        Timing::Once(at) => at.filter(|_| s.last_fired_at.is_none()),
        _ => timing.next_after(Timestamp(now.as_millis() - 1)),
    })
}
