//! Insights: how runs went over a window, per task, environment, executor, schedule, workflow
//! or workflow step (`flightdeck insights`, the app's Insights view).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

string_enum! {
    /// What the figures are grouped by.
    InsightsGroup, "grouping" {
        Task => "task",
        Env => "env",
        Executor => "executor",
        Schedule => "schedule",
        /// Workflow runs (not their steps' runs), by workflow name.
        Workflow => "workflow",
        /// The runs of workflow steps, by workflow and step (a fan-out's items under their step).
        Step => "step",
    }
}

/// The window and grouping asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InsightsQuery {
    /// Runs queued at or after this instant...
    pub since: Timestamp,
    /// ...and before this one.
    pub until: Timestamp,
    pub by: InsightsGroup,
}

/// Exact percentiles (nearest rank) of a set of durations in milliseconds; `None` when the
/// set is empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// How many values the figures are over.
    pub count: u64,
    pub p50: Option<i64>,
    pub p95: Option<i64>,
    pub max: Option<i64>,
}

/// The figures of one group (or of all runs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupFigures {
    /// The group's id (task id, environment id, executor, schedule id, workflow name,
    /// `WORKFLOW/STEP`); `None` for runs without one (a run of no task, say).
    pub key: Option<String>,
    /// What a person reads: the task's title, the environment's or schedule's name, else the key.
    pub label: String,
    /// Runs queued in the window (each attempt of a retried run counts).
    pub runs: u64,
    /// Runs by status (`succeeded`, `failed`, ...).
    pub by_status: BTreeMap<String, u64>,
    /// Succeeded over succeeded plus failed (failed, timed out, interrupted); cancelled and
    /// unfinished runs do not count. `None` when no run ended either way.
    pub success_rate: Option<f64>,
    /// From start to end, over the runs that ended.
    pub duration_ms: Spread,
    /// From queued to started, over the runs that started.
    pub queue_ms: Spread,
    /// Runs that were a retry (attempt 2 or later).
    pub retries: u64,
    /// Retries per first attempt; `None` without a first attempt in the window.
    pub retries_per_run: Option<f64>,
    /// Runs queued each day of the window (UTC days, oldest first).
    pub per_day: Vec<u64>,
}

/// One UTC day of the window: its runs by status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayFigures {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub by_status: BTreeMap<String, u64>,
}

/// `flightdeck insights`: all runs of the window, each group, and the days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Insights {
    pub since: Timestamp,
    pub until: Timestamp,
    pub by: InsightsGroup,
    pub total: GroupFigures,
    /// Most runs first.
    pub groups: Vec<GroupFigures>,
    pub days: Vec<DayFigures>,
    /// How the durations of all the window's runs that ended are spread: buckets on a 1-2-5
    /// scale (10 ms, 20 ms, 50 ms, 100 ms, ...) from the one holding the shortest to the one
    /// holding the longest, each with its exact count.
    #[serde(default)]
    pub durations: Vec<DurationBucket>,
}

/// The runs whose duration is over the bucket before's `up_to_ms` and at most this one's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DurationBucket {
    pub up_to_ms: i64,
    pub count: u64,
}

/// A kind of failure: error messages that differ only in numbers, paths and ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureReason {
    /// The message with numbers as `<n>`, paths as `<path>` and ids as `<id>`.
    pub reason: String,
    pub count: u64,
    /// The latest run that failed so.
    pub example_run: String,
    /// That run's own message.
    pub example_error: String,
    pub last_at: Timestamp,
    /// Its runs, latest first: all of them up to [`FAILURE_RUNS_LISTED`] (`count` says how
    /// many there are).
    #[serde(default)]
    pub runs: Vec<FailedRun>,
}

/// At most this many runs are listed under a failure reason.
pub const FAILURE_RUNS_LISTED: usize = 100;

/// A run that failed, under its reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedRun {
    pub id: String,
    /// Its own message.
    pub error: String,
    /// When it ended (when it was queued, if it never did).
    pub at: Timestamp,
}

/// Where a workflow's time goes: its steps by their share of the critical path (the chain of
/// steps, each waiting for the one before it, that decided when each run ended).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowBottleneck {
    pub workflow: String,
    /// Succeeded runs of the window the figures are over.
    pub runs: u64,
    /// Those runs' durations (start to end).
    pub duration_ms: Spread,
    /// The largest share of the critical path first.
    pub steps: Vec<StepShare>,
}

/// One step of a [`WorkflowBottleneck`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepShare {
    pub step: String,
    /// Runs it ran in.
    pub runs: u64,
    /// Its time in each run: its first attempt's (or item's) start to its last one's end.
    pub duration_ms: Spread,
    /// Its time on the critical path, over all runs.
    pub critical_ms: i64,
    /// That time over the runs' total duration (0..1): the step to make faster first has
    /// the largest.
    pub critical_share: f64,
}

/// `flightdeck health`: how this workspace's store, disk, memory index, sync, worker and
/// backups stand, each with a threshold and what to do once it is crossed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// No check crossed its threshold.
    pub ok: bool,
    pub checks: Vec<HealthCheck>,
}

/// One line of [`Health`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// `database`, `wal`, `disk`, `memory_index`, `sync`, `worker`, `backup`.
    pub name: String,
    /// `ok` or `warn`.
    pub status: String,
    /// How it stands, in a line.
    pub summary: String,
    /// What to do, when `warn`.
    pub recommendation: Option<String>,
    /// The figures behind it (sizes in bytes, times, counts).
    pub figures: serde_json::Value,
}
