//! Workflows: versioned definitions of steps in a DAG, and their runs. A definition is
//! immutable per `(id, version)`; a run pins one version, and its checkpoint holds the
//! parameters and every step's state and outputs.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::run::RetryPolicy;
use crate::time::Timestamp;

string_enum! {
    /// A parameter's type; values given on the command line as text are read as this.
    ParamType, "parameter type" {
        String => "string",
        Integer => "integer",
        Number => "number",
        Boolean => "boolean",
        Array => "array",
        Object => "object",
    }
}

impl ParamType {
    /// Whether `value` is of this type.
    pub fn accepts(self, value: &Value) -> bool {
        match self {
            Self::String => value.is_string(),
            Self::Integer => value.is_i64() || value.is_u64(),
            Self::Number => value.is_number(),
            Self::Boolean => value.is_boolean(),
            Self::Array => value.is_array(),
            Self::Object => value.is_object(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamSpec {
    #[serde(rename = "type")]
    pub param_type: ParamType,
    /// Absent: the parameter is required at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A secret (a string with no default): its value is kept in the starting device's
    /// keyring, and everything stored or synced holds a marker in its place.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

/// What a step does. Templates (`{{ params.x }}`, `{{ steps.a.outputs.k }}`) may appear in
/// every text field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "executor", rename_all = "snake_case")]
pub enum StepAction {
    /// A command line run through `sh -c`.
    Shell { line: String },
    Http {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        method: Option<String>,
        url: String,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    AgentThread {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base_url: Option<String>,
        thread_id: String,
        message: String,
    },
    /// The environment's agent CLI with this prompt.
    Agent { prompt: String },
    /// Another workflow, run as a child; its parameters are templates too.
    Workflow {
        workflow: String,
        #[serde(default, skip_serializing_if = "Map::is_empty")]
        params: Map<String, Value>,
    },
    /// Waits for a person to approve or reject; with the step's `timeout`, `on_timeout`
    /// decides once nobody has within it (`rejected` when not given).
    Approval {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on_timeout: Option<Decision>,
    },
}

impl StepAction {
    pub fn executor(&self) -> &'static str {
        match self {
            Self::Shell { .. } => "shell",
            Self::Http { .. } => "http",
            Self::AgentThread { .. } => "agent_thread",
            Self::Agent { .. } => "agent",
            Self::Workflow { .. } => "workflow",
            Self::Approval { .. } => "approval",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDefinition {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    /// An expression over `params` and `steps`; false means the step is `skipped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// How long a run of this step is expected to take (`expected`): past it, a slow-run
    /// alert. Without it, the step's history decides (see `recovery::slow`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_secs: Option<u64>,
    /// A failure of this step does not fail the run; its dependants still run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continue_on_failure: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// For `shell` and `agent` steps: `worktree` runs the step in a fresh git worktree of the
    /// environment's repository (see [`crate::Isolation`]); `agent` steps get one by default
    /// when the repository is a local directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<crate::Isolation>,
    /// A handler step (`if: always`, `if: failure`): cleanup and notification that run when
    /// the rest of the run failed or was cancelled, where other steps do not start.
    #[serde(default, rename = "if", skip_serializing_if = "Option::is_none")]
    pub run_if: Option<RunIf>,
    /// Fan-out: the step runs once per item of this list, with `item` and `index` in its
    /// templates. A text is an expression (`params.repos`, `{{ steps.list.json }}`) giving a
    /// list, or a JSON list as text; a list is the items themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreach: Option<Value>,
    /// The `$FLIGHTDECK_OUTPUT` keys the step writes: with them, a later step's reference to
    /// any other key of it is refused when the file is checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<String>,
    #[serde(flatten)]
    pub action: StepAction,
}

string_enum! {
    /// When a handler step runs. Either way its needs must have ended, however they ended.
    RunIf, "if" {
        /// Whatever happened: the run succeeded, failed or was cancelled.
        Always => "always",
        /// Only when the run failed or was cancelled (skipped when it succeeds).
        Failure => "failure",
    }
}

/// A parsed, validated definition: what the `definition` column holds, as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowDefinition {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, ParamSpec>,
    /// Steps running at once.
    pub concurrency: u32,
    /// The environment (name or id) shell and agent steps run in, when a run names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The longest a run may take, paused time not counted: then its running steps are
    /// stopped, handler steps run, and it fails saying so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    pub steps: Vec<StepDefinition>,
}

impl WorkflowDefinition {
    pub fn step(&self, id: &str) -> Option<&StepDefinition> {
        self.steps.iter().find(|s| s.id == id)
    }
}

/// One stored version of a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    pub id: String,
    pub version: u32,
    pub name: String,
    pub definition: WorkflowDefinition,
    pub created_at: Timestamp,
}

/// What `workflow apply` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyOutcome {
    pub workflow: Workflow,
    /// False when the file matched the newest version: nothing was written.
    pub changed: bool,
}

string_enum! {
    /// Where a workflow run stands. `succeeded`, `failed` and `cancelled` are final.
    WorkflowRunStatus, "workflow run status" {
        Queued => "queued",
        Running => "running",
        Paused => "paused",
        WaitingApproval => "waiting_approval",
        Succeeded => "succeeded",
        Failed => "failed",
        Cancelled => "cancelled",
        /// Found live by a worker starting after the process running it died; resumed at once.
        Interrupted => "interrupted",
    }
}

impl WorkflowRunStatus {
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

string_enum! {
    /// What a person asked of a run; the runner device acts on it.
    RunControl, "run control" {
        Run => "run",
        Pause => "pause",
        Cancel => "cancel",
    }
}

string_enum! {
    StepStatus, "step status" {
        Pending => "pending",
        Running => "running",
        WaitingApproval => "waiting_approval",
        Succeeded => "succeeded",
        Failed => "failed",
        Skipped => "skipped",
        Cancelled => "cancelled",
    }
}

impl StepStatus {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Skipped | Self::Cancelled
        )
    }
}

/// What a finished step left for the steps after it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepOutputs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// An HTTP step's status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The JSON the step printed as its last line, or an HTTP step's JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// `key=value` lines written to `$FLIGHTDECK_OUTPUT`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
    /// An approval step's decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepState {
    pub status: StepStatus,
    /// The attempt running or last run (0 before the first).
    #[serde(default)]
    pub attempt: u32,
    /// The run (execution) of the current attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// The rendered inputs of the current attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Value>,
    #[serde(default)]
    pub outputs: StepOutputs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The earlier run whose recorded outputs this step reuses (`rerun --from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused_from: Option<String>,
    /// An approval's: when its `on_timeout` decides (moved on by time spent paused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Timestamp>,
    /// A fan-out step's number of items; each runs as the checkpoint entry `ID[INDEX]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<u32>,
    /// Every attempt that ended, in order, each with its own run, times and outcome
    /// (`started_at` above is when the step was first queued).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<AttemptRecord>,
}

/// One ended attempt of a step: its run, when that run really started and ended, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub execution_id: String,
    pub status: crate::ExecutionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl StepState {
    pub fn pending() -> Self {
        Self {
            status: StepStatus::Pending,
            attempt: 0,
            execution_id: None,
            inputs: None,
            outputs: StepOutputs::default(),
            started_at: None,
            finished_at: None,
            error: None,
            reused_from: None,
            deadline: None,
            items: None,
            attempts: Vec::new(),
        }
    }
}

/// A run's durable state: written at every step boundary, resumed from after a crash.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub params: Map<String, Value>,
    pub steps: BTreeMap<String, StepState>,
    /// Boundaries recorded so far (the next snapshot's number).
    #[serde(default)]
    pub boundaries: u32,
    /// The version of each child workflow (`workflow:` step id -> version), pinned when the
    /// run started, so a child definition applied meanwhile does not change what runs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub children: BTreeMap<String, u32>,
    /// When the run times out (the workflow's `timeout`), moved on by time spent paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Timestamp>,
    /// Since when it is paused; at resume every deadline moves on by the pause's length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<Timestamp>,
    /// A fork's edited inputs: step id -> field (`shell`, `env.NAME`, ...) -> the text (a
    /// template) used instead of the definition's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub overrides: BTreeMap<String, BTreeMap<String, String>>,
    /// Made by `fork` (from `rerun_of` at step `rerun_from`), not `rerun`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forked: bool,
    /// The entries [`Checkpoint::set_step`] changed since the engine read the run: it writes
    /// only their rows. Never stored, and never part of equality.
    #[serde(skip)]
    pub moved: Moved,
}

/// Checkpoint entries changed in memory and not saved yet (see [`Checkpoint::moved`]).
#[derive(Debug, Clone, Default)]
pub struct Moved(pub BTreeSet<String>);

impl PartialEq for Moved {
    /// Bookkeeping, not state: two checkpoints with the same entries are equal.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Checkpoint {
    /// Sets entry `key` (a step id, or `ID[INDEX]` for a fan-out's item) to `state`, and
    /// notes it as moved when that changes it, so that a save writes its row.
    pub fn set_step(&mut self, key: impl Into<String>, state: StepState) {
        let key = key.into();
        if self.steps.get(&key) != Some(&state) {
            self.moved.0.insert(key.clone());
            self.steps.insert(key, state);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRun {
    pub id: String,
    pub workflow_id: String,
    pub workflow_name: String,
    pub version: u32,
    pub status: WorkflowRunStatus,
    pub control: RunControl,
    /// The device (site id) that runs it.
    pub device_id: Option<String>,
    pub task_id: Option<String>,
    /// The environment id shell and agent steps run in.
    pub environment_id: Option<String>,
    /// The run (execution) that started this one: a schedule's fire or a parent's step.
    pub parent_execution_id: Option<String>,
    /// `rerun --from`: the run whose outputs this one reuses, and the step it restarted at.
    pub rerun_of: Option<String>,
    pub rerun_from: Option<String>,
    pub checkpoint: Checkpoint,
    pub error: Option<String>,
    pub queued_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

string_enum! {
    Decision, "decision" {
        Approved => "approved",
        Rejected => "rejected",
    }
}

/// A person's answer to an approval step, from any device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub decision: Decision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The device that decided.
    pub decided_by: String,
    pub decided_at: Timestamp,
}

/// A request to start a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StartWorkflow {
    /// Name or id.
    pub workflow: String,
    /// A version other than the newest.
    #[serde(default)]
    pub version: Option<u32>,
    /// Typed values; text is read as the parameter's type (see [`StartWorkflow::text_params`]).
    #[serde(default)]
    pub params: Map<String, Value>,
    /// `K=V` pairs from a command line, read as each parameter's type.
    #[serde(default)]
    pub text_params: Vec<String>,
    #[serde(default)]
    pub task_id: Option<String>,
    /// Environment name or id; the definition's when absent.
    #[serde(default)]
    pub environment: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowRunFilter {
    /// Name or id.
    #[serde(default)]
    pub workflow: Option<String>,
    #[serde(default)]
    pub status: Option<WorkflowRunStatus>,
    /// Newest first; 100 when absent.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One step as progress shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepProgress {
    pub id: String,
    pub executor: String,
    pub needs: Vec<String>,
    pub status: StepStatus,
    pub attempt: u32,
    pub execution_id: Option<String>,
    pub duration_ms: Option<i64>,
    /// The historical median of this step (same workflow id and step id), if any.
    pub p50_ms: Option<i64>,
    pub samples: u32,
    pub error: Option<String>,
    /// A fan-out step's items: each one's state and run, in order (empty for other steps).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemProgress>,
}

/// One item of a fan-out step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemProgress {
    pub index: u32,
    pub status: StepStatus,
    pub attempt: u32,
    pub execution_id: Option<String>,
    pub error: Option<String>,
}

/// Steps done, the running and waiting ones, elapsed time and an ETA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowProgress {
    pub run: WorkflowRun,
    pub total: u32,
    /// Finished steps: succeeded, failed, skipped or cancelled.
    pub done: u32,
    pub running: Vec<String>,
    pub waiting_approval: Vec<String>,
    pub elapsed_ms: i64,
    /// Time left along the critical path of the remaining steps, from each one's p50.
    pub remaining_ms: Option<i64>,
    pub eta: Option<Timestamp>,
    /// Fewer than 3 earlier runs of some remaining step: the ETA is a guess.
    pub eta_is_guess: bool,
    pub steps: Vec<StepProgress>,
}

/// One step boundary of a run, as written to `execution_snapshots`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: String,
    pub workflow_run_id: String,
    pub execution_id: Option<String>,
    /// The boundary's number within the run, from 0.
    pub seq: u32,
    pub step_id: Option<String>,
    /// What happened: `started`, `succeeded`, `retrying`, `paused`, ...
    pub label: String,
    pub inputs: Value,
    pub outputs: Value,
    pub checkpoint: Checkpoint,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// When the boundary was recorded: the instant its checkpoint came into force (absent on
    /// rows recorded before it was kept; then `finished_at`, else `started_at`, stands in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<Timestamp>,
}

impl Snapshot {
    /// The instant this boundary's checkpoint came into force.
    pub fn instant(&self) -> Timestamp {
        self.recorded_at
            .or(self.finished_at)
            .unwrap_or(self.started_at)
    }
}

/// What a schedule (or a parent workflow's step) starts: a workflow by name with parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowSpec {
    pub workflow: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// A pinned version; the newest when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
}
