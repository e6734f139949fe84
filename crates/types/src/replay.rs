//! Time travel: a past run as it stood at an instant (see `flightdeck replay`).

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;
use crate::{Checkpoint, StepOutputs, StepStatus};

/// A marked point of a run's timeline: a workflow run's step boundary, or a plain run's
/// status change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayMark {
    /// Its number along the timeline, from 0.
    pub seq: u32,
    pub at: Timestamp,
    /// What happened: `started`, `succeeded`, `retrying`, `paused`, ... (a plain run: its
    /// new status).
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
}

/// One step as it stood at the instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayStep {
    pub id: String,
    pub status: StepStatus,
    pub attempt: u32,
    #[serde(default)]
    pub outputs: StepOutputs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A line of output (or another event) recorded at or before the instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub at: Timestamp,
    pub kind: String,
    pub data: String,
}

/// A run at one instant: where it stood, the marks around it, its steps and its log so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayState {
    pub run_id: String,
    /// `workflow` (a workflow run) or `run` (a plain run).
    pub kind: String,
    /// `name vN` of a workflow run; the executor of a plain run.
    pub what: String,
    pub at: Timestamp,
    /// `before` the run's first mark, `during`, or `after` its last.
    pub position: String,
    /// The run's status at the instant (`not yet queued` before its first mark).
    pub status: String,
    /// The last mark at or before the instant, and its neighbours.
    pub mark: Option<ReplayMark>,
    pub previous: Option<ReplayMark>,
    pub next: Option<ReplayMark>,
    pub marks: u32,
    pub steps: Vec<ReplayStep>,
    /// A workflow run's checkpoint in force at the instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
    /// The last lines recorded by then (at most the limit asked for), oldest first.
    pub log: Vec<ReplayLine>,
    /// Lines recorded by then and left out before those.
    pub log_before: u32,
    /// The run's history was removed by the retention setting: only its end is known.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pruned: bool,
}

/// One step (or a plain run's only part) of two compared runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepComparison {
    pub id: String,
    /// `same`, `changed`, `added` (only in B) or `removed` (only in A).
    pub change: String,
    pub status_a: Option<StepStatus>,
    pub status_b: Option<StepStatus>,
    pub duration_a_ms: Option<i64>,
    pub duration_b_ms: Option<i64>,
    /// B's duration minus A's.
    pub delta_ms: Option<i64>,
    /// RFC 6902 operations turning A's rendered inputs into B's.
    pub inputs_diff: Vec<serde_json::Value>,
    /// The same for the outputs.
    pub outputs_diff: Vec<serde_json::Value>,
    /// The first line (from 1) where the logs differ, if they do.
    pub log_first_difference: Option<u32>,
    /// A unified diff of the logs, capped.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_diff: String,
}

/// Two runs side by side (`flightdeck compare`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunComparison {
    pub a: String,
    pub b: String,
    /// `name vN` or a plain run's executor, for each.
    pub what_a: String,
    pub what_b: String,
    /// The first step (in A's order, then B's) where they differ.
    pub first_divergence: Option<String>,
    /// Why it diverges there, in a few words.
    pub divergence: Option<String>,
    /// RFC 6902 operations turning A's parameters (a plain run: its spec) into B's.
    pub spec_diff: Vec<serde_json::Value>,
    /// Environment variables by name: `+NAME`, `-NAME`, `~NAME` (values never shown).
    pub environment_diff: Vec<String>,
    pub steps: Vec<StepComparison>,
}
