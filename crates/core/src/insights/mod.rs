//! Insights: how runs went over a window, grouped by task, environment, executor, schedule,
//! workflow or workflow step, with exact percentiles (the window's own values sorted, nearest
//! rank; never averages of averages), and the top failure reasons.

use std::collections::{BTreeMap, HashMap};

mod bottlenecks;
mod failures;

pub use bottlenecks::bottlenecks;
pub use failures::{failures, normalise};

use flightdeck_types::{
    DayFigures, DurationBucket, GroupFigures, Insights, InsightsGroup, InsightsQuery, Spread,
    Timestamp,
};

use crate::error::{CoreError, Result};
use crate::store::insights::{self as sql, DayTally};
use crate::store::Store;

const DAY_MS: i64 = 86_400_000;

/// At most this many days in a window (the per-day counts are a row each).
pub const MAX_DAYS: i64 = 3_660;

/// The figures of every run queued in the query's window, all together and per group.
pub fn insights(store: &Store, q: &InsightsQuery) -> Result<Insights> {
    check_window(q)?;
    let first_day = q.since.as_millis().div_euclid(DAY_MS);
    let last_day = (q.until.as_millis() - 1).div_euclid(DAY_MS);
    let days = (last_day - first_day + 1).max(0) as usize;
    let mut acc = Acc::new(first_day, days);

    // The window's whole days that have ended come kept (see store::insights); the rest (today,
    // a window's partial first and last days) from the runs themselves.
    let now = crate::clock::now().as_millis();
    let kept_from = q.since.as_millis().div_euclid(DAY_MS)
        + i64::from(q.since.as_millis().rem_euclid(DAY_MS) != 0);
    let kept_to = q.until.as_millis().min(now).div_euclid(DAY_MS) - 1;
    let mut parts = vec![(q.since.as_millis(), q.until.as_millis())];
    if kept_from <= kept_to {
        for d in kept_days(store, q.by, kept_from, kept_to)? {
            acc.add_day(d);
        }
        parts = vec![
            (q.since.as_millis(), kept_from * DAY_MS),
            ((kept_to + 1) * DAY_MS, q.until.as_millis()),
        ];
    }
    for (since, until) in parts.into_iter().filter(|(a, b)| a < b) {
        acc.add_facts(read_facts(
            store,
            q.by,
            Timestamp::from_millis(since),
            Timestamp::from_millis(until),
        )?);
    }

    let Acc {
        window,
        keys,
        tallies,
        per_day,
        ..
    } = acc;
    let merged = Tally::merged(&window, &tallies);
    let durations = histogram(&merged.durations);
    let mut total = window.figures(merged);
    total.label = "all runs".into();
    let labels: Vec<Option<String>> = store.read(|c| {
        keys.iter()
            .map(|k| match k {
                Some(k) => sql::label(c, q.by, k),
                None => Ok(None),
            })
            .collect()
    })?;
    let mut groups: Vec<GroupFigures> = tallies
        .into_iter()
        .zip(keys.into_iter().zip(labels))
        .filter(|(tally, _)| tally.runs > 0)
        .map(|(tally, (key, label))| {
            let mut g = window.figures(tally);
            g.label = label
                .or_else(|| key.clone())
                .unwrap_or_else(|| "(none)".into());
            g.key = key;
            g
        })
        .collect();
    groups.sort_by(|a, b| b.runs.cmp(&a.runs).then_with(|| a.label.cmp(&b.label)));
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
        durations,
    })
}

/// The buckets of [`Insights::durations`]: upper bounds 1, 2, 5, 10, 20, 50, ... ms, from the
/// one holding the shortest value to the one holding the longest (empty ones between kept).
pub fn histogram(values: &[i64]) -> Vec<DurationBucket> {
    // 57 bounds reach 5e18 ms; a longer value counts in the last.
    let bounds: Vec<i64> = (0..57)
        .map(|i| [1, 2, 5][i % 3] * 10_i64.pow((i / 3) as u32))
        .collect();
    let mut counts = [0u64; 57];
    for v in values {
        counts[bounds.partition_point(|b| b < v).min(56)] += 1;
    }
    let Some(first) = counts.iter().position(|n| *n > 0) else {
        return Vec::new();
    };
    let last = counts.iter().rposition(|n| *n > 0).unwrap_or(first);
    (first..=last)
        .map(|i| DurationBucket {
            up_to_ms: bounds[i],
            count: counts[i],
        })
        .collect()
}

/// The kept tallies of grouping `by` for the ended days `from..=to`; the days not kept yet
/// are read from their runs and kept, a week per write transaction (so a first read of a
/// long window holds other writers back for a week's read at a time, not the whole window's).
fn kept_days(store: &Store, by: InsightsGroup, from: i64, to: i64) -> Result<Vec<DayTally>> {
    const DAYS_PER_WRITE: usize = 7;
    let mut kept = store.read(|c| sql::kept_days(c, by, from, to))?;
    let have: std::collections::HashSet<i64> = kept.iter().map(|d| d.day).collect();
    let missing: Vec<i64> = (from..=to).filter(|d| !have.contains(d)).collect();
    for chunk in missing.chunks(DAYS_PER_WRITE) {
        let made = store.write(|w| {
            let mut made = Vec::new();
            // Each run of consecutive days in one read.
            for days in chunk.chunk_by(|a, b| b - a == 1) {
                let (first, last) = (days[0], days[days.len() - 1]);
                let facts = sql::run_facts(
                    w,
                    by,
                    Timestamp::from_millis(first * DAY_MS),
                    Timestamp::from_millis((last + 1) * DAY_MS),
                )?;
                made.extend(day_tallies(facts, first, last));
            }
            sql::keep_days(w, by, &made)?;
            Ok(made)
        })?;
        kept.extend(made);
    }
    Ok(kept)
}

/// The runs of days `first..=last` per day and group, each day with its `None` group (empty
/// when every run had a key): what marks the day as kept.
fn day_tallies(facts: sql::Facts, first: i64, last: i64) -> Vec<DayTally> {
    let mut by_day_key: HashMap<(i64, Option<u32>), DayTally> = (first..=last)
        .map(|day| {
            (
                (day, None),
                DayTally {
                    day,
                    ..Default::default()
                },
            )
        })
        .collect();
    let none_key = facts.keys.iter().position(Option::is_none);
    let mut counts: HashMap<(i64, Option<u32>), Vec<u64>> = HashMap::new();
    for r in &facts.rows {
        let day = r.queued_at.div_euclid(DAY_MS);
        let key = Some(r.key).filter(|k| Some(*k as usize) != none_key);
        let t = by_day_key.entry((day, key)).or_insert_with(|| DayTally {
            day,
            key: key.and_then(|k| facts.keys[k as usize].clone()),
            ..Default::default()
        });
        add_run(
            r,
            &mut t.durations,
            &mut t.queued,
            &mut t.first_attempts,
            &mut t.retries,
        );
        let c = counts
            .entry((day, key))
            .or_insert_with(|| vec![0; facts.statuses.len()]);
        c[r.status as usize] += 1;
    }
    by_day_key
        .into_iter()
        .map(|(k, mut t)| {
            if let Some(c) = counts.get(&k) {
                t.counts = c
                    .iter()
                    .zip(&facts.statuses)
                    .filter(|(n, _)| **n > 0)
                    .map(|(n, s)| (s.clone(), *n))
                    .collect();
            }
            t
        })
        .collect()
}

/// The window's runs. A long window of a store on disk is read in two halves at once, the
/// older on a connection of its own (another core; the two halves are disjoint, each run in
/// one of them): at a million runs reading them is most of the time (see BENCHMARKS.md).
fn read_facts(
    store: &Store,
    by: InsightsGroup,
    since: Timestamp,
    until: Timestamp,
) -> Result<sql::Facts> {
    const SPLIT_FROM: i64 = DAY_MS;
    let path = store.path();
    let on_disk = !path.as_os_str().is_empty() && path.exists();
    if !on_disk || until.as_millis() - since.as_millis() < SPLIT_FROM {
        return store.read(|c| sql::run_facts(c, by, since, until));
    }
    let mid =
        Timestamp::from_millis(since.as_millis() + (until.as_millis() - since.as_millis()) / 2);
    let (older, mut newer) = std::thread::scope(|s| {
        let older = s.spawn(|| sql::run_facts_at(path, by, since, mid));
        let newer = store.read(|c| sql::run_facts(c, by, mid, until));
        (older.join(), newer)
    });
    let older = older.map_err(|_| CoreError::Corrupt("the insights reader panicked".into()))??;
    newer = newer.map(|mut n| {
        n.append(older);
        n
    });
    newer
}

/// The figures of a window as they are added up: its statuses and group keys (interned: a few
/// integers per run), each group's tally, and the runs per day and status.
struct Acc {
    window: Window,
    keys: Vec<Option<String>>,
    key_ix: HashMap<Option<String>, usize>,
    tallies: Vec<Tally>,
    per_day: Vec<Vec<u64>>,
}

impl Acc {
    fn new(first_day: i64, days: usize) -> Self {
        Acc {
            window: Window {
                statuses: Vec::new(),
                first_day,
                days,
            },
            keys: Vec::new(),
            key_ix: HashMap::new(),
            tallies: Vec::new(),
            per_day: vec![Vec::new(); days],
        }
    }

    fn status(&mut self, name: &str) -> usize {
        let statuses = &mut self.window.statuses;
        statuses.iter().position(|s| s == name).unwrap_or_else(|| {
            statuses.push(name.to_string());
            statuses.len() - 1
        })
    }

    fn key(&mut self, key: Option<String>) -> usize {
        if let Some(i) = self.key_ix.get(&key) {
            return *i;
        }
        self.keys.push(key.clone());
        self.tallies.push(Tally {
            per_day: vec![0; self.window.days],
            ..Default::default()
        });
        self.key_ix.insert(key, self.keys.len() - 1);
        self.keys.len() - 1
    }

    /// The day's index in the window, if it is in it.
    fn day(&self, day: i64) -> Option<usize> {
        usize::try_from(day - self.window.first_day)
            .ok()
            .filter(|i| *i < self.window.days)
    }

    fn count(&mut self, group: usize, day: i64, status: usize, n: u64) {
        let at = self.day(day);
        let t = &mut self.tallies[group];
        t.runs += n;
        bump(&mut t.counts, status, n);
        if let Some(i) = at {
            t.per_day[i] += n;
            bump(&mut self.per_day[i], status, n);
        }
    }

    fn add_facts(&mut self, facts: sql::Facts) {
        let keys: Vec<usize> = facts.keys.into_iter().map(|k| self.key(k)).collect();
        let statuses: Vec<usize> = facts.statuses.iter().map(|s| self.status(s)).collect();
        for r in &facts.rows {
            let group = keys[r.key as usize];
            self.count(
                group,
                r.queued_at.div_euclid(DAY_MS),
                statuses[r.status as usize],
                1,
            );
            let t = &mut self.tallies[group];
            add_run(
                r,
                &mut t.durations,
                &mut t.queued,
                &mut t.first_attempts,
                &mut t.retries,
            );
        }
    }

    fn add_day(&mut self, d: DayTally) {
        let group = self.key(d.key);
        for (status, n) in &d.counts {
            let s = self.status(status);
            self.count(group, d.day, s, *n);
        }
        let t = &mut self.tallies[group];
        t.durations.extend_from_slice(&d.durations);
        t.queued.extend_from_slice(&d.queued);
        t.retries += d.retries;
        t.first_attempts += d.first_attempts;
    }
}

/// A run's duration (when it ended), time in queue (when it started) and attempt, into the
/// lists and counts of a tally or a kept day.
fn add_run(
    r: &sql::RunFact,
    durations: &mut Vec<i64>,
    queued: &mut Vec<i64>,
    first_attempts: &mut u64,
    retries: &mut u64,
) {
    if let (Some(s), Some(e)) = (r.started_at, r.finished_at) {
        durations.push((e - s).max(0));
    }
    if let Some(s) = r.started_at {
        queued.push((s - r.queued_at).max(0));
    }
    match r.attempt {
        0 | 1 => *first_attempts += 1,
        _ => *retries += 1,
    }
}

/// Adds `n` at `at`, growing the list when a status is new.
fn bump(counts: &mut Vec<u64>, at: usize, n: u64) {
    if counts.len() <= at {
        counts.resize(at + 1, 0);
    }
    counts[at] += n;
}

/// What the figures of one window share: its statuses' names and its days.
struct Window {
    statuses: Vec<String>,
    first_day: i64,
    days: usize,
}

impl Window {
    /// Counts per status index, by name (statuses with none left out).
    fn named(&self, counts: &[u64]) -> BTreeMap<String, u64> {
        counts
            .iter()
            .zip(&self.statuses)
            .filter(|(n, _)| **n > 0)
            .map(|(n, s)| (s.clone(), *n))
            .collect()
    }

    fn figures(&self, t: Tally) -> GroupFigures {
        let count = |names: &[&str]| -> u64 {
            t.counts
                .iter()
                .zip(&self.statuses)
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
    fn merged(window: &Window, all: &[Tally]) -> Tally {
        let mut t = Tally {
            per_day: vec![0; window.days],
            ..Default::default()
        };
        t.durations
            .reserve(all.iter().map(|g| g.durations.len()).sum());
        t.queued.reserve(all.iter().map(|g| g.queued.len()).sum());
        for g in all {
            t.runs += g.runs;
            t.retries += g.retries;
            t.first_attempts += g.first_attempts;
            t.durations.extend_from_slice(&g.durations);
            t.queued.extend_from_slice(&g.queued);
            for (i, n) in g.counts.iter().enumerate() {
                bump(&mut t.counts, i, *n);
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
