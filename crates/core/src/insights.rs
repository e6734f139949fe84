//! Insights: how runs went over a window, grouped by task, environment, executor, schedule,
//! workflow or workflow step, with exact percentiles (the window's own values sorted, nearest
//! rank; never averages of averages), and the top failure reasons.

use std::collections::{BTreeMap, HashMap};

use flightdeck_types::{
    DayFigures, FailureReason, GroupFigures, Insights, InsightsQuery, Spread, StepShare, Timestamp,
    WorkflowBottleneck,
};

use crate::error::{CoreError, Result};
use crate::store::insights::{self as sql, RunFact};
use crate::store::Store;

const DAY_MS: i64 = 86_400_000;

/// At most this many days in a window (the per-day counts are a row each).
pub const MAX_DAYS: i64 = 3_660;

/// The figures of every run queued in the query's window, all together and per group.
pub fn insights(store: &Store, q: &InsightsQuery) -> Result<Insights> {
    check_window(q)?;
    let facts = read_facts(store, q)?;
    let first_day = q.since.as_millis().div_euclid(DAY_MS);
    let last_day = (q.until.as_millis() - 1).div_euclid(DAY_MS);
    let days = (last_day - first_day + 1).max(0) as usize;
    let window = Window {
        statuses: &facts.statuses,
        first_day,
        days,
    };

    // One pass over the runs, into each group's tallies; all runs' are the groups' together.
    let mut tallies: Vec<Tally> = (0..facts.keys.len()).map(|_| window.tally()).collect();
    for f in &facts.rows {
        window.add(&mut tallies[f.key as usize], f);
    }
    let mut total = window.figures(Tally::merged(&window, &tallies));
    total.label = "all runs".into();
    let labels: Vec<Option<String>> = store.read(|c| {
        facts
            .keys
            .iter()
            .map(|k| match k {
                Some(k) => sql::label(c, q.by, k),
                None => Ok(None),
            })
            .collect()
    })?;
    let mut groups: Vec<GroupFigures> = tallies
        .into_iter()
        .zip(facts.keys.iter().zip(labels))
        .map(|(tally, (key, label))| {
            let mut g = window.figures(tally);
            g.label = label
                .or_else(|| key.clone())
                .unwrap_or_else(|| "(none)".into());
            g.key = key.clone();
            g
        })
        .collect();
    groups.sort_by(|a, b| b.runs.cmp(&a.runs).then_with(|| a.label.cmp(&b.label)));

    let mut per_day = vec![vec![0u64; facts.statuses.len()]; days];
    for f in &facts.rows {
        let i = (f.queued_at.div_euclid(DAY_MS) - first_day) as usize;
        if let Some(day) = per_day.get_mut(i) {
            day[f.status as usize] += 1;
        }
    }
    let day_rows = per_day
        .into_iter()
        .enumerate()
        .map(|(i, counts)| DayFigures {
            day: Timestamp::from_millis((first_day + i as i64) * DAY_MS).to_rfc3339()[..10]
                .to_string(),
            by_status: window.named(&counts),
        })
        .collect();
    Ok(Insights {
        since: q.since,
        until: q.until,
        by: q.by,
        total,
        groups,
        days: day_rows,
    })
}

/// The window's runs. A long window of a store on disk is read in two halves at once, the
/// older on a connection of its own (another core; the two halves are disjoint, each run in
/// one of them): at a million runs reading them is most of the time (see BENCHMARKS.md).
fn read_facts(store: &Store, q: &InsightsQuery) -> Result<sql::Facts> {
    const SPLIT_FROM: i64 = DAY_MS;
    let path = store.path();
    let on_disk = !path.as_os_str().is_empty() && path.exists();
    if !on_disk || q.until.as_millis() - q.since.as_millis() < SPLIT_FROM {
        return store.read(|c| sql::run_facts(c, q.by, q.since, q.until));
    }
    let mid = Timestamp::from_millis(
        q.since.as_millis() + (q.until.as_millis() - q.since.as_millis()) / 2,
    );
    let (older, mut newer) = std::thread::scope(|s| {
        let older = s.spawn(|| sql::run_facts_at(path, q.by, q.since, mid));
        let newer = store.read(|c| sql::run_facts(c, q.by, mid, q.until));
        (older.join(), newer)
    });
    let older = older.map_err(|_| CoreError::Corrupt("the insights reader panicked".into()))??;
    newer = newer.map(|mut n| {
        n.append(older);
        n
    });
    newer
}

/// What the figures of one window share: its statuses' names and its days.
struct Window<'a> {
    statuses: &'a [String],
    first_day: i64,
    days: usize,
}

impl Window<'_> {
    /// Counts per status index, by name (statuses with none left out).
    fn named(&self, counts: &[u64]) -> BTreeMap<String, u64> {
        counts
            .iter()
            .zip(self.statuses)
            .filter(|(n, _)| **n > 0)
            .map(|(n, s)| (s.clone(), *n))
            .collect()
    }

    fn tally(&self) -> Tally {
        Tally {
            counts: vec![0; self.statuses.len()],
            per_day: vec![0; self.days],
            ..Default::default()
        }
    }

    fn add(&self, t: &mut Tally, r: &RunFact) {
        t.runs += 1;
        t.counts[r.status as usize] += 1;
        if let (Some(s), Some(e)) = (r.started_at, r.finished_at) {
            t.durations.push((e - s).max(0));
        }
        if let Some(s) = r.started_at {
            t.queued.push((s - r.queued_at).max(0));
        }
        match r.attempt {
            0 | 1 => t.first_attempts += 1,
            _ => t.retries += 1,
        }
        let i = (r.queued_at.div_euclid(DAY_MS) - self.first_day) as usize;
        if let Some(n) = t.per_day.get_mut(i) {
            *n += 1;
        }
    }

    fn figures(&self, t: Tally) -> GroupFigures {
        let count = |names: &[&str]| -> u64 {
            t.counts
                .iter()
                .zip(self.statuses)
                .filter(|(_, s)| names.contains(&s.as_str()))
                .map(|(n, _)| n)
                .sum()
        };
        let (succeeded, failed) = (
            count(&["succeeded"]),
            count(&["failed", "timed_out", "interrupted"]),
        );
        GroupFigures {
            key: None,
            label: String::new(),
            runs: t.runs,
            by_status: self.named(&t.counts),
            success_rate: (succeeded + failed > 0)
                .then(|| succeeded as f64 / (succeeded + failed) as f64),
            duration_ms: spread(t.durations),
            queue_ms: spread(t.queued),
            retries: t.retries,
            retries_per_run: (t.first_attempts > 0)
                .then(|| t.retries as f64 / t.first_attempts as f64),
            per_day: t.per_day,
        }
    }
}

/// What one group's runs add up to, before the percentiles are taken.
#[derive(Default)]
struct Tally {
    runs: u64,
    counts: Vec<u64>,
    durations: Vec<i64>,
    queued: Vec<i64>,
    retries: u64,
    first_attempts: u64,
    per_day: Vec<u64>,
}

impl Tally {
    /// Every group's tallies as one.
    fn merged(window: &Window<'_>, all: &[Tally]) -> Tally {
        let mut t = window.tally();
        t.durations
            .reserve(all.iter().map(|g| g.durations.len()).sum());
        t.queued.reserve(all.iter().map(|g| g.queued.len()).sum());
        for g in all {
            t.runs += g.runs;
            t.retries += g.retries;
            t.first_attempts += g.first_attempts;
            t.durations.extend_from_slice(&g.durations);
            t.queued.extend_from_slice(&g.queued);
            for (a, b) in t.counts.iter_mut().zip(&g.counts) {
                *a += b;
            }
            for (a, b) in t.per_day.iter_mut().zip(&g.per_day) {
                *a += b;
            }
        }
        t
    }
}

fn check_window(q: &InsightsQuery) -> Result<()> {
    if q.until <= q.since {
        return Err(CoreError::invalid(
            "window",
            format!(
                "the window ends ({}) before it starts ({}); give --since earlier than --until",
                q.until.to_rfc3339(),
                q.since.to_rfc3339()
            ),
        ));
    }
    if (q.until.as_millis() - q.since.as_millis()) / DAY_MS > MAX_DAYS {
        return Err(CoreError::invalid(
            "window",
            format!("a window spans at most {MAX_DAYS} days; choose a shorter one"),
        ));
    }
    Ok(())
}

/// Exact nearest-rank percentiles: the value at rank ceil(p * n) of the sorted values (found
/// by selection, without sorting them all).
pub fn spread(mut values: Vec<i64>) -> Spread {
    let n = values.len();
    if n == 0 {
        return Spread::default();
    }
    let rank = |p: f64| ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
    let (r50, r95) = (rank(0.50), rank(0.95));
    let max = values.iter().copied().max();
    let (below, p95, _) = values.select_nth_unstable(r95);
    let p95 = *p95;
    let p50 = match r50 == r95 {
        true => p95,
        false => *below.select_nth_unstable(r50).1,
    };
    Spread {
        count: n as u64,
        p50: Some(p50),
        p95: Some(p95),
        max,
    }
}

/// The runs of the window that ran past what was expected of them (see
/// [`crate::recovery::slow`]): their slow-run records, newest first.
pub fn slow(store: &Store, q: &InsightsQuery) -> Result<Vec<flightdeck_types::ErrorRecord>> {
    check_window(q)?;
    store.read(|c| crate::store::error_records::slow_between(c, q.since, q.until))
}

/// The window's failed runs (failed, timed out, interrupted) grouped by their message with
/// numbers, paths and ids masked; most frequent first, then the latest.
pub fn failures(store: &Store, q: &InsightsQuery, limit: usize) -> Result<Vec<FailureReason>> {
    check_window(q)?;
    let rows = store.read(|c| sql::failed_runs(c, q.since, q.until))?;
    let mut by_reason: HashMap<String, FailureReason> = HashMap::new();
    for (id, error, at) in rows {
        let error = match error.trim() {
            "" => "(no message)".to_string(),
            e => e.to_string(),
        };
        let reason = normalise(&error);
        let entry = by_reason
            .entry(reason.clone())
            .or_insert_with(|| FailureReason {
                reason,
                count: 0,
                example_run: id.clone(),
                example_error: error.clone(),
                last_at: Timestamp::from_millis(at),
            });
        entry.count += 1;
        if at > entry.last_at.as_millis() {
            entry.example_run = id;
            entry.example_error = error;
            entry.last_at = Timestamp::from_millis(at);
        }
    }
    let mut reasons: Vec<FailureReason> = by_reason.into_values().collect();
    reasons.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_at.cmp(&a.last_at)));
    reasons.truncate(limit);
    Ok(reasons)
}

/// An error message with what varies from run to run masked: paths (`/a/b`, `./x`, `C:\y`)
/// as `<path>`, ids (UUIDs, long hex) as `<id>`, other numbers as `<n>`. The first line
/// only (a stack trace's first line says what went wrong), at most 200 characters.
pub fn normalise(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    let mut out = Vec::new();
    for word in line.split_whitespace() {
        let core = word.trim_matches(|c: char| "\"'`()[]{},;:".contains(c));
        let masked = if core.contains('/') || core.contains('\\') {
            Some("<path>")
        } else if is_id(core) {
            Some("<id>")
        } else {
            None
        };
        match masked {
            Some(mask) if !core.is_empty() => out.push(word.replacen(core, mask, 1)),
            _ => out.push(mask_numbers(word)),
        }
    }
    let text = out.join(" ");
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// A UUID, or a run of 8 or more hex digits with a digit in it (a hash, a site id).
fn is_id(word: &str) -> bool {
    let hex: String = word.chars().filter(|c| *c != '-').collect();
    hex.len() >= 8
        && hex.chars().all(|c| c.is_ascii_hexdigit())
        && hex.chars().any(|c| c.is_ascii_digit())
}

/// Each run of digits (with `.` or `,` between digits, as in 1.5 or 10,000) as `<n>`.
fn mask_numbers(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        while i < chars.len()
            && (chars[i].is_ascii_digit()
                || (matches!(chars[i], '.' | ',')
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
        {
            i += 1;
        }
        out.push_str("<n>");
    }
    out
}

/// Where each workflow's time goes over the window's succeeded runs (of `workflow` only, when
/// given): per step, its duration and its share of the critical path.
///
/// The critical path of a run is found from its step runs' times alone (a definition may have
/// changed since): from the step run that ended last, back through, each time, the step run
/// that ended last before it started (the one it waited for: a need, or the run that freed its
/// concurrency slot). A fan-out's items and a step's retries count for their step.
pub fn bottlenecks(
    store: &Store,
    q: &InsightsQuery,
    workflow: Option<&str>,
) -> Result<Vec<WorkflowBottleneck>> {
    check_window(q)?;
    let segments = store.read(|c| sql::step_segments(c, q.since, q.until, workflow))?;
    #[derive(Default)]
    struct Acc {
        runs: u64,
        run_ms: Vec<i64>,
        step_ms: HashMap<String, Vec<i64>>,
        critical: HashMap<String, i64>,
    }
    let mut per_workflow: BTreeMap<String, Acc> = BTreeMap::new();
    for run in segments.chunk_by(|a, b| a.1 == b.1) {
        let (name, _, run_start, run_end, ..) = &run[0];
        let acc = per_workflow.entry(name.clone()).or_default();
        acc.runs += 1;
        acc.run_ms.push((run_end - run_start).max(0));
        let mut spans: HashMap<&str, (i64, i64)> = HashMap::new();
        for (.., step, start, end) in run {
            let span = spans.entry(step).or_insert((*start, *end));
            *span = (span.0.min(*start), span.1.max(*end));
        }
        for (step, (start, end)) in spans {
            acc.step_ms
                .entry(step.to_string())
                .or_default()
                .push((end - start).max(0));
        }
        // Walk back from the last to end.
        let mut by_end: Vec<(&str, i64, i64)> =
            run.iter().map(|s| (s.4.as_str(), s.5, s.6)).collect();
        by_end.sort_by_key(|s| s.2);
        let mut current = by_end.len().checked_sub(1);
        while let Some(i) = current {
            let (step, start, end) = by_end[i];
            *acc.critical.entry(step.to_string()).or_default() += (end - start).max(0);
            current = by_end[..i].iter().rposition(|s| s.2 <= start);
        }
    }
    Ok(per_workflow
        .into_iter()
        .map(|(workflow, acc)| {
            let total: i64 = acc.run_ms.iter().sum();
            let mut steps: Vec<StepShare> = acc
                .step_ms
                .into_iter()
                .map(|(step, ms)| {
                    let critical_ms = acc.critical.get(&step).copied().unwrap_or(0);
                    StepShare {
                        runs: ms.len() as u64,
                        duration_ms: spread(ms),
                        critical_ms,
                        critical_share: match total {
                            0 => 0.0,
                            t => (critical_ms as f64 / t as f64).min(1.0),
                        },
                        step,
                    }
                })
                .collect();
            steps.sort_by(|a, b| {
                b.critical_ms
                    .cmp(&a.critical_ms)
                    .then_with(|| b.duration_ms.p50.cmp(&a.duration_ms.p50))
                    .then_with(|| a.step.cmp(&b.step))
            });
            WorkflowBottleneck {
                workflow,
                runs: acc.runs,
                duration_ms: spread(acc.run_ms),
                steps,
            }
        })
        .collect())
}
