//! Workflows through the shell: definitions, runs and their page, what a person can do to a
//! run, and time travel (a run at a mark or an instant, two runs compared, forks).

use flightdeck_types::{WorkflowRun, WorkflowRunDetail, WorkflowRunFilter, WorkflowSummary};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{invoke, ApiError, FilterArgs, IdArgs};

/// The newest version of every workflow, with the versions stored.
pub async fn list_workflows() -> Result<Vec<WorkflowSummary>, ApiError> {
    invoke("list_workflows", &()).await
}

#[derive(Serialize)]
struct StartWorkflowArgs<'a> {
    workflow: &'a str,
    params: &'a Map<String, Value>,
}

/// Starts a run of the newest version; a bad parameter comes back with field `param-NAME`.
pub async fn start_workflow(
    workflow: String,
    params: Map<String, Value>,
) -> Result<WorkflowRun, ApiError> {
    let args = StartWorkflowArgs {
        workflow: &workflow,
        params: &params,
    };
    invoke("start_workflow", &args).await
}

pub async fn list_workflow_runs(filter: WorkflowRunFilter) -> Result<Vec<WorkflowRun>, ApiError> {
    invoke("list_workflow_runs", &FilterArgs { filter: &filter }).await
}

/// A run's progress and the definition version it pinned.
pub async fn workflow_run_detail(id: String) -> Result<WorkflowRunDetail, ApiError> {
    invoke("workflow_run_detail", &IdArgs { id: &id }).await
}

/// Run `id` as it stood at its mark `mark` (a workflow run's boundary).
pub async fn replay_run(id: String, mark: u32) -> Result<flightdeck_types::ReplayState, ApiError> {
    replay(&id, Some(mark), None).await
}

/// Run `id` (a plain run) as it stood at instant `at_ms`.
pub async fn replay_run_at(
    id: String,
    at_ms: i64,
) -> Result<flightdeck_types::ReplayState, ApiError> {
    replay(&id, None, Some(at_ms)).await
}

async fn replay(
    id: &str,
    mark: Option<u32>,
    at: Option<i64>,
) -> Result<flightdeck_types::ReplayState, ApiError> {
    #[derive(Serialize)]
    struct At<'a> {
        id: &'a str,
        mark: Option<u32>,
        at: Option<i64>,
    }
    invoke("replay_run", &At { id, mark, at }).await
}

/// Runs `a` and `b` side by side (see `flightdeck compare`).
pub async fn compare_runs(
    a: String,
    b: String,
) -> Result<flightdeck_types::RunComparison, ApiError> {
    #[derive(Serialize)]
    struct Pair<'a> {
        a: &'a str,
        b: &'a str,
    }
    invoke("compare_runs", &Pair { a: &a, b: &b }).await
}

/// What a person can ask of a workflow run (and of one of its steps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkflowAction {
    Pause,
    Resume,
    Cancel,
    /// Take over a run whose device stopped answering.
    Adopt,
    Approve {
        step: String,
        comment: Option<String>,
    },
    Reject {
        step: String,
        comment: Option<String>,
    },
    /// A new run from this step on (of a finished run).
    RerunFrom {
        step: String,
    },
    /// A fork at this step, with fields of it edited (field, text).
    Fork {
        step: String,
        inputs: Vec<(String, String)>,
    },
}

#[derive(Serialize)]
struct StepArgs<'a> {
    id: &'a str,
    step: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'a str>,
}

/// Runs `action` on run `id`: the run as it is now, or the new run of a rerun.
pub async fn workflow_action(id: String, action: WorkflowAction) -> Result<WorkflowRun, ApiError> {
    match &action {
        WorkflowAction::Pause => invoke("pause_workflow_run", &IdArgs { id: &id }).await,
        WorkflowAction::Resume => invoke("resume_workflow_run", &IdArgs { id: &id }).await,
        WorkflowAction::Cancel => invoke("cancel_workflow_run", &IdArgs { id: &id }).await,
        WorkflowAction::Adopt => invoke("adopt_workflow_run", &IdArgs { id: &id }).await,
        WorkflowAction::Approve { step, comment } | WorkflowAction::Reject { step, comment } => {
            let command = if matches!(action, WorkflowAction::Approve { .. }) {
                "approve_workflow_step"
            } else {
                "reject_workflow_step"
            };
            let args = StepArgs {
                id: &id,
                step,
                comment: comment.as_deref(),
            };
            invoke(command, &args).await
        }
        WorkflowAction::RerunFrom { step } => {
            let args = StepArgs {
                id: &id,
                step,
                comment: None,
            };
            invoke("rerun_workflow_from", &args).await
        }
        WorkflowAction::Fork { step, inputs } => {
            #[derive(Serialize)]
            struct ForkArgs<'a> {
                id: &'a str,
                step: &'a str,
                inputs: &'a [(String, String)],
            }
            let args = ForkArgs {
                id: &id,
                step,
                inputs,
            };
            invoke("fork_workflow_run", &args).await
        }
    }
}
