//! `flightdeck insights [failures]`

use flightdeck_core::{insights, CoreError, Store};
use flightdeck_types::{GroupFigures, Insights, InsightsQuery, Timestamp, WorkflowBottleneck};

use crate::args::{InsightsArgs, InsightsCommand, WindowArgs};
use crate::commands::restore::instant;
use crate::output::{clip, table, Output};

pub fn run(store: &Store, args: &InsightsArgs, out: &Output) -> Result<(), CoreError> {
    match &args.command {
        None => {
            let (since, until) = window(&args.window)?;
            let q = InsightsQuery {
                since,
                until,
                by: args.by,
            };
            let figures = insights::insights(store, &q)?;
            out.print(&figures, || render(&figures));
        }
        Some(InsightsCommand::Failures { window: w, limit }) => {
            let (since, until) = window(w)?;
            let q = InsightsQuery {
                since,
                until,
                by: args.by,
            };
            let reasons = insights::failures(store, &q, *limit)?;
            out.print(&reasons, || {
                if reasons.is_empty() {
                    return format!("no failed runs {}", span(since, until));
                }
                let rows: Vec<Vec<String>> = reasons
                    .iter()
                    .map(|r| {
                        vec![
                            r.count.to_string(),
                            clip(&r.reason, 70),
                            r.example_run.clone(),
                            r.last_at.to_string(),
                        ]
                    })
                    .collect();
                format!(
                    "Failures {}\n{}",
                    span(since, until),
                    table(&["COUNT", "REASON", "LATEST RUN", "AT"], &rows)
                )
            });
        }
        Some(InsightsCommand::Slow { window: w }) => {
            let (since, until) = window(w)?;
            let q = InsightsQuery {
                since,
                until,
                by: args.by,
            };
            let slow = insights::slow(store, &q)?;
            out.print(&slow, || {
                if slow.is_empty() {
                    return format!("no slow runs {}", span(since, until));
                }
                let rows: Vec<Vec<String>> = slow
                    .iter()
                    .map(|r| {
                        let d = &r.details;
                        let ended = match d["ended"]["status"].as_str() {
                            Some(status) => {
                                format!("{status} after {}", ms(d["ended"]["duration_ms"].as_i64()))
                            }
                            None => "still running".to_string(),
                        };
                        vec![
                            r.execution_id.clone().unwrap_or_default(),
                            d["step"].as_str().unwrap_or("-").to_string(),
                            ms(d["expected_ms"].as_i64()),
                            ended,
                            r.id.clone(),
                        ]
                    })
                    .collect();
                format!(
                    "Slow runs {}\n{}",
                    span(since, until),
                    table(&["RUN", "STEP", "EXPECTED", "NOW", "ALERT"], &rows)
                )
            });
        }
        Some(InsightsCommand::Bottlenecks {
            window: w,
            workflow,
        }) => {
            let (since, until) = window(w)?;
            let q = InsightsQuery {
                since,
                until,
                by: args.by,
            };
            let found = insights::bottlenecks(store, &q, workflow.as_deref())?;
            out.print(&found, || render_bottlenecks(&found, since, until));
        }
    }
    Ok(())
}

/// The steps a workflow's table shows (the largest shares).
const STEPS_SHOWN: usize = 15;

/// `flightdeck health`
pub fn health(store: &Store, out: &Output) -> Result<(), CoreError> {
    let health = flightdeck_core::health::health(store)?;
    out.print(&health, || {
        let rows: Vec<Vec<String>> = health
            .checks
            .iter()
            .map(|c| vec![c.name.clone(), c.status.to_uppercase(), c.summary.clone()])
            .collect();
        let mut text = table(&["CHECK", "STATUS", "NOW"], &rows);
        for c in health.checks.iter().filter(|c| c.recommendation.is_some()) {
            text.push_str(&format!(
                "\n{}: {}",
                c.name,
                c.recommendation.as_deref().unwrap_or_default()
            ));
        }
        if health.ok {
            text.push_str("\nall checks ok");
        }
        text
    });
    Ok(())
}

fn render_bottlenecks(found: &[WorkflowBottleneck], since: Timestamp, until: Timestamp) -> String {
    if found.is_empty() {
        return format!("no succeeded workflow runs {}", span(since, until));
    }
    let mut text = format!(
        "Critical path of succeeded workflow runs {}",
        span(since, until)
    );
    for w in found {
        let rows: Vec<Vec<String>> = w
            .steps
            .iter()
            .take(STEPS_SHOWN)
            .map(|s| {
                let bar = "█".repeat((s.critical_share * 20.0).round() as usize);
                vec![
                    s.step.clone(),
                    s.runs.to_string(),
                    ms(s.duration_ms.p50),
                    ms(s.duration_ms.p95),
                    format!("{:.1} % {bar}", s.critical_share * 100.0),
                ]
            })
            .collect();
        text.push_str(&format!(
            "\n\n{}: {} runs, p50 {}, p95 {}\n{}",
            w.workflow,
            w.runs,
            ms(w.duration_ms.p50),
            ms(w.duration_ms.p95),
            table(&["STEP", "RUNS", "P50", "P95", "ON CRITICAL PATH"], &rows)
        ));
        if w.steps.len() > STEPS_SHOWN {
            text.push_str(&format!(
                "\n... {} more steps (--json lists every one)",
                w.steps.len() - STEPS_SHOWN
            ));
        }
    }
    text
}

/// The window's bounds from `--window`, or `--since` and `--until`.
fn window(w: &WindowArgs) -> Result<(Timestamp, Timestamp), CoreError> {
    let now = flightdeck_core::clock::now();
    let until = match &w.until {
        Some(t) => instant(t, now)?,
        None => now,
    };
    let since = match &w.since {
        Some(t) => instant(t, now)?,
        None => {
            let back = instant(&w.window, now).map_err(|_| {
                CoreError::invalid(
                    "window",
                    format!(
                        "`{}` is not a span; give a number and a unit: 24h, 7d, 30d, 90m",
                        w.window
                    ),
                )
            })?;
            Timestamp::from_millis(until.as_millis() - (now.as_millis() - back.as_millis()))
        }
    };
    Ok((since, until))
}

fn span(since: Timestamp, until: Timestamp) -> String {
    let short = |t: Timestamp| t.to_rfc3339()[..16].replace('T', " ");
    format!("from {} to {} UTC", short(since), short(until))
}

fn render(i: &Insights) -> String {
    let mut rows = vec![row(&i.total)];
    rows.extend(i.groups.iter().map(row));
    let by = i.by.as_str().to_uppercase();
    let mut text = format!(
        "Runs queued {}, by {}\n{}",
        span(i.since, i.until),
        i.by,
        table(
            &[
                &by,
                "RUNS",
                "OK %",
                "P50",
                "P95",
                "MAX",
                "QUEUE P50",
                "RETRIES",
                "STATUS",
                "PER DAY",
            ],
            &rows,
        )
    );
    if i.total.runs == 0 {
        text.push_str("\nno runs in this window; widen it with --window 30d");
    }
    text
}

fn row(g: &GroupFigures) -> Vec<String> {
    let status: Vec<String> = g
        .by_status
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    vec![
        clip(&g.label, 28),
        g.runs.to_string(),
        g.success_rate
            .map_or("-".into(), |r| format!("{:.1}", r * 100.0)),
        ms(g.duration_ms.p50),
        ms(g.duration_ms.p95),
        ms(g.duration_ms.max),
        ms(g.queue_ms.p50),
        g.retries.to_string(),
        clip(&status.join(", "), 40),
        sparkline(&g.per_day),
    ]
}

/// A duration as a person reads it: `850 ms`, `4.2 s`, `3.5 min`, `1.2 h`.
fn ms(v: Option<i64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v < 1_000 => format!("{v} ms"),
        Some(v) if v < 60_000 => format!("{:.1} s", v as f64 / 1e3),
        Some(v) if v < 3_600_000 => format!("{:.1} min", v as f64 / 6e4),
        Some(v) => format!("{:.1} h", v as f64 / 3.6e6),
    }
}

/// Runs per day as bars, a character a day (the last 60 days of a longer window).
pub fn sparkline(per_day: &[u64]) -> String {
    const BARS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let days = &per_day[per_day.len().saturating_sub(60)..];
    let max = days.iter().copied().max().unwrap_or(0);
    days.iter()
        .map(|&n| match n {
            0 => '·',
            n => BARS[(((n as f64 / max as f64) * 8.0).ceil() as usize).clamp(1, 8)],
        })
        .collect()
}
