//! Runs: an execution of one executor call (a shell command, an HTTP request, an agent thread
//! message), its status machine, its event timeline and the retry policy that recovers it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

string_enum! {
    /// Where a run stands. `queued` and `running` are live; the rest are final.
    ExecutionStatus, "run status" {
        Queued => "queued",
        Running => "running",
        Succeeded => "succeeded",
        Failed => "failed",
        Cancelled => "cancelled",
        TimedOut => "timed_out",
        /// Left `running` by a process that died; set at the next start-up.
        Interrupted => "interrupted",
    }
}

impl ExecutionStatus {
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Queued | Self::Running)
    }

    /// Final and not a success: the recovery loop looks at these.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::TimedOut | Self::Interrupted)
    }
}

string_enum! {
    /// Where a shell run works. `worktree`: a fresh git worktree of the environment's
    /// repository on a new branch, so parallel runs never share a checkout and the run's
    /// changes come out as a diff. `shared`: the working dir as it is. Unset: an agent run
    /// (one with an `agent_prompt`) gets a worktree when its environment's repository is a
    /// local directory; anything else runs shared.
    Isolation, "isolation" {
        Shared => "shared",
        Worktree => "worktree",
    }
}

string_enum! {
    ExecutorKind, "executor" {
        Shell => "shell",
        Http => "http",
        AgentThread => "agent_thread",
        /// Starts a workflow run and ends with it (a schedule's fire, a parent's step).
        Workflow => "workflow",
    }
}

/// What a shell run executes: `argv` runs directly, `line` through `sh -c`. Exactly one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShellSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argv: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    /// Overrides the environment's working dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Extra variables on top of the environment's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Seconds before the process group is killed and the run is `timed_out`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// An exit code meaning "retry after": the time comes from the output (see
    /// [`RetryPolicy::retry_after_pattern`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_exit_code: Option<i32>,
    /// Set on an agent CLI run (the environment's agent command): the prompt it was given.
    /// The run gets the context relevant to it as a markdown file, `$FLIGHTDECK_CONTEXT_FILE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_prompt: Option<String>,
    /// See [`Isolation`]; unset picks by the rule given there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<Isolation>,
    /// With a worktree: the branch it starts from [default: the repository's current branch].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_branch: Option<String>,
    /// Work in the worktree of this earlier run, on its branch, instead of a new one ("re-run
    /// in this worktree"); the worktree must still be open on this device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuse_worktree: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpSpec {
    /// GET when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    pub url: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentThreadSpec {
    /// The agent service; `http://localhost:3001` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    pub thread_id: String,
    pub message: String,
    /// 300 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

/// What to run, tagged by executor: `{"executor":"shell","line":"make test"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "executor", rename_all = "snake_case")]
pub enum ExecutionSpec {
    Shell(ShellSpec),
    Http(HttpSpec),
    AgentThread(AgentThreadSpec),
    Workflow(crate::workflow::WorkflowSpec),
}

impl ExecutionSpec {
    pub fn kind(&self) -> ExecutorKind {
        match self {
            Self::Shell(_) => ExecutorKind::Shell,
            Self::Http(_) => ExecutorKind::Http,
            Self::AgentThread(_) => ExecutorKind::AgentThread,
            Self::Workflow(_) => ExecutorKind::Workflow,
        }
    }
}

/// How failed runs are retried. Every field has a default, so `{}` is a valid policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_delay_ms: u64,
    pub factor: f64,
    pub max_delay_ms: u64,
    /// 0..=1: each delay is scaled by a random factor in [1 - jitter, 1 + jitter].
    pub jitter: f64,
    /// A regex over a shell run's output whose first capture is a "retry after" time (RFC 3339,
    /// or a number of seconds); used when the exit code is the spec's `retry_after_exit_code`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_pattern: Option<String>,
    /// Retry ordinary failures too (a non-zero exit, an HTTP 4xx), not only interruptions,
    /// timeouts and overloads. Set for workflow steps that give a `retry:` policy.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retry_on_failure: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay_ms: 1_000,
            factor: 2.0,
            max_delay_ms: 300_000,
            jitter: 0.2,
            retry_after_pattern: None,
            retry_on_failure: false,
        }
    }
}

/// One run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub id: String,
    pub task_id: Option<String>,
    pub environment_id: Option<String>,
    pub schedule_id: Option<String>,
    pub workflow_run_id: Option<String>,
    /// The workflow step this run is an attempt of.
    pub step_id: Option<String>,
    /// The run this one retries.
    pub retry_of: Option<String>,
    pub spec: ExecutionSpec,
    pub status: ExecutionStatus,
    pub attempt: u32,
    /// The device (cr-sqlite site id, hex) that runs it.
    pub device_id: Option<String>,
    pub exit_code: Option<i64>,
    /// Executor-specific outcome, e.g. `{"status":200,"headers":{..},"body":".."}`.
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    pub retry_policy: RetryPolicy,
    pub queued_at: Timestamp,
    pub not_before: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub cancel_requested_at: Option<Timestamp>,
    /// The run this one was forked from (`flightdeck fork RUN`): the same spec, edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<String>,
}

/// A request to queue a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewExecution {
    pub task_id: Option<String>,
    pub environment_id: Option<String>,
    pub schedule_id: Option<String>,
    pub workflow_run_id: Option<String>,
    pub step_id: Option<String>,
    pub retry_of: Option<String>,
    pub spec: Option<ExecutionSpec>,
    /// 1 when absent.
    pub attempt: Option<u32>,
    /// The device to run it; this device when absent.
    pub device_id: Option<String>,
    /// The task's, or the defaults, when absent.
    pub retry_policy: Option<RetryPolicy>,
    pub not_before: Option<Timestamp>,
    /// Set by `fork` only (never read from a request).
    #[serde(skip)]
    pub forked_from: Option<String>,
}

/// One line of a run's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionEvent {
    pub execution_id: String,
    pub seq: i64,
    pub at: Timestamp,
    /// `stdout`, `stderr`, `status`, `http`, `agent`, `truncated`, ...
    pub kind: String,
    pub data: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionFilter {
    #[serde(default)]
    pub task_id: Option<String>,
    #[serde(default)]
    pub schedule_id: Option<String>,
    #[serde(default)]
    pub status: Option<ExecutionStatus>,
    /// The steps' runs of one workflow run.
    #[serde(default)]
    pub workflow_run_id: Option<String>,
    /// Runs in this environment (by id).
    #[serde(default)]
    pub environment_id: Option<String>,
    /// Runs of this executor.
    #[serde(default)]
    pub executor: Option<ExecutorKind>,
    /// Newest first; 100 when absent.
    #[serde(default)]
    pub limit: Option<u32>,
}
