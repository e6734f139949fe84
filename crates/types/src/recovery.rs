//! Recovery: an error record per failed run (and its retries), its severity and where its
//! recovery stands.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

string_enum! {
    /// How bad a failure is. High and critical ones retry on their own.
    Severity, "severity" {
        Low => "low",
        Medium => "medium",
        High => "high",
        Critical => "critical",
    }
}

string_enum! {
    RecoveryStatus, "recovery status" {
        /// Recorded; waiting for a person (low and medium errors stop here).
        New => "new",
        /// A retry is queued for `next_retry_at`.
        RetryScheduled => "retry_scheduled",
        /// The retry is running.
        Retrying => "retrying",
        Resolved => "resolved",
        Ignored => "ignored",
        /// Out of attempts, or flagged by a person: someone must look.
        Escalated => "escalated",
    }
}

impl RecoveryStatus {
    /// Settled: nothing more happens unless a person acts.
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Resolved | Self::Ignored)
    }
}

string_enum! {
    /// What an error record is about.
    #[derive(Default)]
    ErrorKind, "error kind" {
        /// A run that failed: recovery retries, escalates, waits for a person.
        #[default]
        Failure => "failure",
        /// A run that took longer than expected (still running when recorded): a person is
        /// told once, with diagnostics; resolved when the run ends.
        Slow => "slow",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorRecord {
    pub id: String,
    #[serde(default)]
    pub kind: ErrorKind,
    /// The latest attempt of the failing run.
    pub execution_id: Option<String>,
    pub task_id: Option<String>,
    pub schedule_id: Option<String>,
    pub severity: Severity,
    pub message: String,
    /// `root_execution_id`, `attempt_errors`, `retry_run_id`, `escalated_reason`, ...
    pub details: serde_json::Value,
    pub recovery_status: RecoveryStatus,
    pub attempts: u32,
    pub max_attempts: u32,
    pub next_retry_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorFilter {
    pub status: Option<RecoveryStatus>,
    pub severity: Option<Severity>,
    pub task_id: Option<String>,
    pub kind: Option<ErrorKind>,
    /// Newest first; 100 when absent.
    pub limit: Option<u32>,
}
