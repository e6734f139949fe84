//! Types shared by every Flightdeck component: entities, their inputs and filters, validation
//! rules that both the engine and the UI apply, and timestamps.
//!
//! Serde-only on purpose: this crate compiles to wasm32 for the UI, so it holds no I/O.

#[macro_use]
mod string_enum;

pub mod app;
pub mod audit;
pub mod environment;
pub mod insights;
pub mod memory;
pub mod recovery;
pub mod replay;
pub mod run;
pub mod schedule;
pub mod sync;
pub mod task;
pub mod time;
pub mod transfer;
pub mod validate;
pub mod workflow;
pub mod worktree;

pub use app::{
    AppInfo, AppNotice, CommandError, ConflictInfo, DerivedRun, DeviceTrustInfo, EntityChanged,
    RunEvents, Settings, StartRun, SyncInfo, SyncLeft, SyncRound, Theme, WorkerState,
    WorkflowRunDetail, WorkflowSummary,
};
pub use audit::{AuditAction, AuditEntry, AuditFilter, EntityKind, FieldChange};
pub use environment::{Environment, EnvironmentPatch, NewEnvironment};
pub use insights::{
    DayFigures, DurationBucket, FailedRun, FailureReason, GroupFigures, Health, HealthCheck,
    Insights, InsightsGroup, InsightsQuery, Spread, StepShare, WorkflowBottleneck,
    FAILURE_RUNS_LISTED,
};
pub use memory::{
    KeywordOnly, KeywordOnlyReason, Memory, MemoryFilter, MemoryHit, MemoryPatch, MemoryScope,
    MemoryScopeKind, MemorySearch, NewMemory, SearchMode, SimilarRun, TaskContext,
};
pub use recovery::{ErrorFilter, ErrorKind, ErrorRecord, RecoveryStatus, Severity};
pub use replay::{ReplayLine, ReplayMark, ReplayState, ReplayStep, RunComparison, StepComparison};
pub use run::{
    AgentThreadSpec, Execution, ExecutionEvent, ExecutionFilter, ExecutionSpec, ExecutionStatus,
    ExecutorKind, HttpSpec, Isolation, NewExecution, RetryPolicy, ShellSpec,
};
pub use schedule::{
    MisfirePolicy, NewSchedule, OverlapPolicy, Schedule, ScheduleKind, SchedulePatch,
};
pub use task::{NewTask, Priority, Task, TaskFilter, TaskPatch, TaskStatus};
pub use time::{format_span_secs, parse_span_secs, Timestamp};
pub use transfer::{EntityCounts, ExportSummary, ImportReport, SecretName, TransferProgress};
pub use validate::FieldError;
pub use workflow::{
    ApplyOutcome, Approval, AttemptRecord, Checkpoint, Decision, ItemProgress, ParamSpec,
    ParamType, RunControl, RunIf, Snapshot, StartWorkflow, StepAction, StepDefinition, StepOutputs,
    StepProgress, StepState, StepStatus, Workflow, WorkflowDefinition, WorkflowProgress,
    WorkflowRun, WorkflowRunFilter, WorkflowRunStatus, WorkflowSpec,
};
pub use worktree::{FileChange, MergeOutcome, RunDiff, WorktreeRecord, WorktreeState};
