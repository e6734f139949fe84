//! Schedules: when to queue a run (cron in an IANA zone, a fixed interval, or once), what to do
//! about fire times missed while the device slept (misfire), and about a previous run that is
//! still live when the next fire comes (overlap).

use serde::{Deserialize, Serialize};

use crate::run::{ExecutionSpec, RetryPolicy};
use crate::time::Timestamp;
use crate::validate::FieldError;

string_enum! {
    ScheduleKind, "schedule kind" {
        Cron => "cron",
        Interval => "interval",
        Once => "once",
    }
}

string_enum! {
    /// Fire times missed by more than the scheduler's grace period (device asleep or off).
    MisfirePolicy, "misfire policy" {
        /// Fire none of the missed times; just move on to the next one.
        Skip => "skip",
        /// One run stands for all the missed times.
        RunOnce => "run_once",
        /// One run per missed time, up to the schedule's `misfire_cap`; the rest are dropped
        /// (and the drop is recorded in the audit log).
        RunAll => "run_all",
    }
}

string_enum! {
    /// What a fire does when a run of the same schedule is still queued or running.
    OverlapPolicy, "overlap policy" {
        /// Queue nothing.
        Skip => "skip",
        /// Queue at most one waiting run: skip if one is already queued.
        QueueOne => "queue_one",
        /// Always queue.
        Allow => "allow",
        /// Ask the live runs to cancel, then queue.
        CancelPrevious => "cancel_previous",
    }
}

string_enum! {
    /// How a stored cron expression is read. People type standard cron (day-of-week 0-7, 0
    /// and 7 Sunday); it is stored with weekday names, which the `cron` crate and every
    /// build read alike, so weekday numbers in a stored expression are the crate's (1 =
    /// Sunday) in either dialect: only a row from an older build has them.
    CronDialect, "cron dialect" {
        /// Vixie's day rule: when both day-of-month and day-of-week are restricted (neither
        /// starts with `*`), a day matching EITHER fires. Every expression typed into this
        /// build.
        Standard => "standard",
        /// The `cron` crate's rule, that of builds before the standard dialect: a day must
        /// match both day fields. Rows written before keep it, so they fire when they did.
        Quartz => "quartz",
    }
}

impl CronDialect {
    /// The dialect of a row that does not say (written by an older build).
    pub fn legacy() -> Self {
        CronDialect::Quartz
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub id: String,
    pub name: String,
    pub task_id: Option<String>,
    pub kind: ScheduleKind,
    /// Normalised to the 6/7-field form (seconds first), macros expanded, weekdays as names.
    pub cron_expr: Option<String>,
    /// How `cron_expr` is read (see [`CronDialect`]).
    #[serde(default = "CronDialect::legacy")]
    pub cron_dialect: CronDialect,
    pub timezone: String,
    pub interval_secs: Option<i64>,
    /// `once`: the time to fire. `interval`: the anchor (first fire); `created_at` + interval
    /// when absent.
    pub run_at: Option<Timestamp>,
    pub spec: ExecutionSpec,
    pub misfire_policy: MisfirePolicy,
    pub misfire_cap: u32,
    pub overlap_policy: OverlapPolicy,
    pub retry_policy: RetryPolicy,
    pub enabled: bool,
    /// The only device that fires this schedule (cr-sqlite site id, hex).
    pub runner_device_id: Option<String>,
    pub last_fired_at: Option<Timestamp>,
    /// None when nothing is left to fire (a `once` that fired) or while paused.
    pub next_fire_at: Option<Timestamp>,
    /// How long a run of this schedule should take, in seconds: past it, a slow-run alert
    /// (before the task's own expected duration). Without it, the task's decides.
    #[serde(default)]
    pub expected_secs: Option<u64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSchedule {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub task_id: Option<String>,
    pub kind: ScheduleKind,
    #[serde(default)]
    pub cron_expr: Option<String>,
    /// UTC when absent.
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub interval_secs: Option<i64>,
    #[serde(default)]
    pub run_at: Option<Timestamp>,
    pub spec: ExecutionSpec,
    /// run_once when absent.
    #[serde(default)]
    pub misfire_policy: Option<MisfirePolicy>,
    /// 10 when absent.
    #[serde(default)]
    pub misfire_cap: Option<u32>,
    /// skip when absent.
    #[serde(default)]
    pub overlap_policy: Option<OverlapPolicy>,
    #[serde(default)]
    pub retry_policy: Option<RetryPolicy>,
    /// The creating device when absent.
    #[serde(default)]
    pub runner_device_id: Option<String>,
    /// How long a run should take, in seconds (see [`Schedule::expected_secs`]).
    #[serde(default)]
    pub expected_secs: Option<u64>,
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SchedulePatch {
    pub name: Option<String>,
    pub cron_expr: Option<String>,
    pub timezone: Option<String>,
    pub interval_secs: Option<i64>,
    pub run_at: Option<Timestamp>,
    pub spec: Option<ExecutionSpec>,
    pub misfire_policy: Option<MisfirePolicy>,
    pub misfire_cap: Option<u32>,
    pub overlap_policy: Option<OverlapPolicy>,
    pub retry_policy: Option<RetryPolicy>,
    pub runner_device_id: Option<String>,
    /// `Some(None)` clears it.
    pub expected_secs: Option<Option<u64>>,
}

impl SchedulePatch {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

pub const MAX_MISFIRE_CAP: u32 = 1_000;

/// An interval: a whole number of seconds above zero.
pub fn interval_secs(value: Option<i64>) -> Result<i64, FieldError> {
    match value {
        None => Err(FieldError::new(
            "interval_secs",
            "an interval schedule needs interval_secs (seconds between runs)",
        )),
        Some(v) if v <= 0 => Err(FieldError::new(
            "interval_secs",
            format!("must be greater than 0 (got {v})"),
        )),
        Some(v) => Ok(v),
    }
}

pub fn misfire_cap(cap: u32) -> Result<u32, FieldError> {
    if cap == 0 || cap > MAX_MISFIRE_CAP {
        return Err(FieldError::new(
            "misfire_cap",
            format!("must be between 1 and {MAX_MISFIRE_CAP} (got {cap})"),
        ));
    }
    Ok(cap)
}

struct CronField {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// `?` ("no specific value") is allowed in the day fields.
    question: bool,
}

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const CRON_FIELDS: [CronField; 7] = [
    CronField {
        name: "seconds",
        min: 0,
        max: 59,
        names: &[],
        question: false,
    },
    CronField {
        name: "minutes",
        min: 0,
        max: 59,
        names: &[],
        question: false,
    },
    CronField {
        name: "hours",
        min: 0,
        max: 23,
        names: &[],
        question: false,
    },
    CronField {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
        question: true,
    },
    CronField {
        name: "month",
        min: 1,
        max: 12,
        names: MONTHS,
        question: false,
    },
    // Standard cron: 0-7, 0 and 7 both Sunday.
    CronField {
        name: "day-of-week",
        min: 0,
        max: 7,
        names: DAYS,
        question: true,
    },
    CronField {
        name: "year",
        min: 1970,
        max: 2100,
        names: &[],
        question: false,
    },
];

/// The standard macros and the 5-field expressions they stand for.
const CRON_MACROS: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// Checks a standard cron expression field by field and returns it normalised: 6 or 7 fields
/// (seconds first), macros expanded, day-of-week as names. Accepts 5 fields (minutes first;
/// seconds 0 is prepended), 6 (seconds first), 7 (plus year) or a macro (`@daily`, ...).
/// Day-of-week is standard: 0-7, 0 and 7 Sunday, or SUN-SAT. The result is read with
/// [`CronDialect::Standard`]. Errors name the field `cron_expr` and, in the message, the
/// part that is wrong.
pub fn cron_expr(expr: &str) -> Result<String, FieldError> {
    let trimmed = expr.trim();
    let expr = if trimmed.starts_with('@') {
        CRON_MACROS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(trimmed))
            .map(|(_, fields)| *fields)
            .ok_or_else(|| {
                FieldError::new(
                    "cron_expr",
                    format!(
                        "`{trimmed}` is not a macro; use one of {}",
                        CRON_MACROS
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?
    } else {
        trimmed
    };
    let parts: Vec<&str> = expr.split_whitespace().collect();
    let (parts, offset) = match parts.len() {
        5 => (parts, 1),
        6 | 7 => (parts, 0),
        0 => {
            return Err(FieldError::new(
                "cron_expr",
                "must not be empty; e.g. `0 9 * * MON-FRI` (09:00 on weekdays)",
            ))
        }
        n => {
            return Err(FieldError::new(
                "cron_expr",
                format!(
                    "has {n} fields; use 5 (minutes hours day-of-month month day-of-week), \
                     6 (seconds first) or 7 (plus year)"
                ),
            ))
        }
    };
    let mut out: Vec<String> = Vec::with_capacity(7);
    if offset == 1 {
        out.push("0".into());
    }
    for (i, part) in parts.iter().enumerate() {
        let field = &CRON_FIELDS[i + offset];
        check_cron_part(field, part)?;
        out.push(if field.name == "day-of-week" {
            weekday_names(part)
        } else {
            part.to_string()
        });
    }
    Ok(out.join(" "))
}

/// A checked standard day-of-week field with every day as its name (`1-5` -> `MON-FRI`,
/// `0,7` -> `SUN`, `*/2` -> `SUN,TUE,THU,SAT`): the one place standard numbering meets the
/// cron crate's (which counts 1-7 from Sunday). Names read the same in both dialects, so a
/// build that only knows the crate's numbering still fires such a row on the same days.
fn weekday_names(part: &str) -> String {
    if part == "*" || part == "?" {
        return part.to_string();
    }
    let number = |text: &str| -> usize {
        DAYS.iter()
            .position(|n| n.eq_ignore_ascii_case(text))
            .unwrap_or_else(|| text.parse::<usize>().unwrap_or(0) % 7)
    };
    let mut days = [false; 7];
    for item in part.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, s.parse::<usize>().unwrap_or(1).max(1)),
            None => (item, 1),
        };
        // Bounds in 0-7 (7 being Sunday again), so `5-7` is Friday to Sunday.
        let (lo, hi) = match (range, range.split_once('-')) {
            ("*" | "?", _) => (0, 6),
            (_, Some((lo, hi))) => (number(lo), bound(hi, number)),
            (one, None) if step > 1 => (number(one), 6),
            (one, None) => (number(one), number(one)),
        };
        for day in (lo..=hi).step_by(step) {
            days[day % 7] = true;
        }
    }
    let mut runs: Vec<String> = Vec::new();
    let mut day = 0;
    while day < 7 {
        if !days[day] {
            day += 1;
            continue;
        }
        let start = day;
        while day + 1 < 7 && days[day + 1] {
            day += 1;
        }
        runs.push(match day - start {
            0 => DAYS[start].to_string(),
            1 => format!("{},{}", DAYS[start], DAYS[day]),
            _ => format!("{}-{}", DAYS[start], DAYS[day]),
        });
        day += 1;
    }
    runs.join(",")
}

/// The upper bound of a weekday range: 7 (or 0 after a higher start) is the Sunday that ends
/// the week, not the one that starts it.
fn bound(hi: &str, number: impl Fn(&str) -> usize) -> usize {
    match hi.parse::<usize>() {
        Ok(7) => 7,
        _ => number(hi),
    }
}

fn check_cron_part(field: &CronField, part: &str) -> Result<(), FieldError> {
    let bad =
        |why: String| FieldError::new("cron_expr", format!("{} field `{part}`: {why}", field.name));
    let value = |text: &str| -> Result<u32, FieldError> {
        if let Some(i) = field
            .names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(text))
        {
            return Ok(field.min + i as u32);
        }
        let v: u32 = text.parse().map_err(|_| {
            let names = if field.names.is_empty() {
                String::new()
            } else {
                format!(" or one of {}", field.names.join(","))
            };
            bad(format!(
                "`{text}` is not a number {}-{}{names}",
                field.min, field.max
            ))
        })?;
        if v < field.min || v > field.max {
            let hint = if field.name == "day-of-week" {
                " (0 and 7 = Sunday; or use SUN-SAT)"
            } else {
                ""
            };
            return Err(bad(format!(
                "{v} is out of range {}-{}{hint}",
                field.min, field.max
            )));
        }
        Ok(v)
    };
    for item in part.split(',') {
        if item.is_empty() {
            return Err(bad("empty item in a list".into()));
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        if let Some(step) = step {
            match step.parse::<u32>() {
                Ok(s) if s > 0 => {}
                _ => return Err(bad(format!("step `{step}` must be a number above 0"))),
            }
        }
        if range == "*" || (range == "?" && field.question) {
            continue;
        }
        match range.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (value(lo)?, value(hi)?);
                if lo > hi {
                    return Err(bad(format!("range {lo}-{hi} runs backwards")));
                }
            }
            None => {
                value(range)?;
            }
        }
    }
    Ok(())
}
