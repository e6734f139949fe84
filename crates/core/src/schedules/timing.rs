//! When a schedule fires.
//!
//! - cron: the `cron` crate evaluated in the schedule's IANA zone. Daylight saving, as the
//!   crate does it (checked by tests/schedules_dst.rs): a local time that does not exist (the
//!   spring gap) is skipped, not moved; a local time that happens twice (the autumn repeat)
//!   fires once, at its first (daylight) instant.
//! - interval: a fixed grid `anchor + k * interval`, the anchor being `run_at` or else
//!   `created_at + interval`, so fires never drift however late a tick runs.
//! - once: `run_at`.

use std::str::FromStr;

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;
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

fn utc(t: Timestamp) -> chrono::DateTime<Utc> {
    Utc.timestamp_millis_opt(t.as_millis())
        .single()
        .unwrap_or_else(Utc::now)
}

/// A prepared schedule timing, parsed once.
pub enum Timing {
    Cron(Box<cron::Schedule>, Tz),
    Interval { anchor: i64, every_ms: i64 },
    Once(Option<Timestamp>),
}

impl Timing {
    pub fn of(s: &Schedule) -> Result<Self> {
        Ok(match s.kind {
            ScheduleKind::Cron => {
                let expr = s.cron_expr.as_deref().ok_or_else(|| {
                    CoreError::invalid("cron_expr", "a cron schedule needs cron_expr")
                })?;
                Timing::Cron(Box::new(parse_cron(expr)?), parse_zone(&s.timezone)?)
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
            Timing::Cron(cron, tz) => cron
                .after(&utc(t).with_timezone(tz))
                .next()
                .map(|d| Timestamp(d.timestamp_millis())),
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
