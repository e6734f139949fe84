//! Arguments of `run`, `runs`, `schedule` and `errors`.

use clap::{Args, Subcommand};
use flightdeck_types::{
    ErrorKind, ExecutionStatus, ExecutorKind, Isolation, MisfirePolicy, OverlapPolicy,
    RecoveryStatus, Severity,
};

/// What to run. With none of --shell, --http, --agent-thread or --workflow, the task's environment's agent
/// command template runs with the task as its prompt.
#[derive(Debug, Clone, Args)]
pub struct ExecutorArgs {
    /// A shell line, run with `sh -c` in the environment's working dir
    #[arg(long, value_name = "CMD", group = "executor")]
    pub shell: Option<String>,
    /// An HTTP request to this URL
    #[arg(long, value_name = "URL", group = "executor")]
    pub http: Option<String>,
    /// A message to this agent thread (the agent service's thread API)
    #[arg(long, value_name = "THREAD_ID", group = "executor")]
    pub agent_thread: Option<String>,
    /// Start this workflow (name or id) as the run; it ends when the workflow run ends
    #[arg(long, value_name = "NAME", group = "executor")]
    pub workflow: Option<String>,
    /// A parameter for --workflow, K=V (repeatable)
    #[arg(long = "param", value_name = "K=V", requires = "workflow")]
    pub params: Vec<String>,
    /// HTTP method for --http [default: GET]
    #[arg(long, requires = "http")]
    pub method: Option<String>,
    /// HTTP header for --http, 'Name: value' (repeatable)
    #[arg(long = "header", value_name = "H", requires = "http")]
    pub headers: Vec<String>,
    /// HTTP body for --http
    #[arg(long, requires = "http")]
    pub body: Option<String>,
    /// The message for --agent-thread [default: the task's title and description]
    #[arg(long, requires = "agent_thread")]
    pub message: Option<String>,
    /// The agent service for --agent-thread [default: http://localhost:3001]
    #[arg(long, value_name = "URL", requires = "agent_thread")]
    pub agent_url: Option<String>,
    /// Seconds before the run is stopped as timed out
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// For a shell or agent run: `worktree` works in a fresh git worktree of the environment's
    /// repository on a new branch (see `runs diff`, `runs merge`, `runs discard`); `shared`
    /// works in the working dir as it is [default: worktree for an agent run whose environment's
    /// repository is a local directory, else shared]
    #[arg(long, value_name = "MODE")]
    pub isolation: Option<Isolation>,
    /// With a worktree: the branch it starts from and merges into [default: the repository's
    /// current branch]
    #[arg(long, value_name = "BRANCH")]
    pub base: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The task to run (its id)
    pub task: String,
    #[command(flatten)]
    pub executor: ExecutorArgs,
    /// Queue the run and return its id without waiting (a running daemon or app runs it)
    #[arg(long)]
    pub detach: bool,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List runs, newest first
    List {
        /// Only runs of this task
        #[arg(long, value_name = "ID")]
        task: Option<String>,
        /// Only runs of this schedule
        #[arg(long, value_name = "ID")]
        schedule: Option<String>,
        #[arg(long, short)]
        status: Option<ExecutionStatus>,
        /// Only runs in this environment (name or id)
        #[arg(long, value_name = "NAME|ID")]
        env: Option<String>,
        /// Only runs of this executor: shell, http, agent_thread or workflow
        #[arg(long, value_name = "EXECUTOR")]
        executor: Option<ExecutorKind>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show one run
    Show { id: String },
    /// Print a run's output and events
    Logs {
        id: String,
        /// Keep printing new lines until the run ends
        #[arg(long, short)]
        follow: bool,
    },
    /// Stop a run (the device running it kills it)
    Cancel { id: String },
    /// Run again what a finished run ran, as a new run (prints its id; a running daemon or
    /// the app runs it, else `flightdeck daemon`)
    Rerun {
        id: String,
        /// In the run's own worktree and on its branch, to go on from where it stopped
        #[arg(long)]
        in_worktree: bool,
    },
    /// Show or change how many runs execute at once on this device (read when the daemon, the
    /// app or a foreground run starts)
    Settings {
        /// Plain runs at once [default: 4]
        #[arg(long, value_name = "N")]
        concurrency: Option<usize>,
        /// Workflow steps at once, all workflow runs together [default: 4 per core, at least 8]
        #[arg(long, value_name = "N")]
        step_concurrency: Option<usize>,
        /// How long this device's workflow runs stay its own once its worker stops answering,
        /// before another device may `workflow adopt` them [default: 300]
        #[arg(long, value_name = "SECS")]
        workflow_lease: Option<u64>,
        /// Keep run events and workflow snapshots this many days after a run ended, pruned
        /// by the app or the daemon in the background (0: forever) [default: 0]
        #[arg(long, value_name = "DAYS")]
        keep_history: Option<u32>,
    },
    /// What a run that worked in a git worktree changed: its branch, base, files and the full
    /// diff
    Diff {
        id: String,
        /// Only the branch and the files changed, not the diff itself
        #[arg(long)]
        stat: bool,
    },
    /// Merge a worktree run's branch into its base branch (fast-forward when the base has not
    /// moved, else a merge commit). A conflict changes nothing and names the files
    Merge { id: String },
    /// The worktrees of runs on this device (merged runs' worktrees are removed once the run
    /// is older than the retention; others are listed here, never removed silently)
    Worktrees {
        /// Remove merged runs' worktrees past the retention now (the daemon and the app do it
        /// every 6 hours) and list the old ones kept
        #[arg(long)]
        clean: bool,
        /// Set the retention in days [default: 14]
        #[arg(long, value_name = "DAYS")]
        retention_days: Option<u32>,
    },
    /// Remove a worktree run's worktree and delete its branch, unmerged work included
    Discard {
        id: String,
        /// Do not ask for confirmation (needed when stdin is not a terminal)
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
#[group(id = "timing", required = true, multiple = false)]
pub struct ScheduleTiming {
    /// A cron expression: 5 fields (min hour dom month dow; dow 0-7 with 0 and 7 Sunday, or
    /// SUN-SAT), 6-7 with seconds and year, or @yearly, @monthly, @weekly, @daily, @hourly
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// A fixed interval in seconds
    #[arg(long, value_name = "SECS")]
    pub every: Option<i64>,
    /// One time, RFC 3339 (e.g. 2026-12-01T09:00:00+01:00); a past time needs --misfire
    /// run_once (or run_all) to run once now
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

#[derive(Debug, Args)]
pub struct SchedulePolicies {
    /// For times missed while the device slept: skip, run_once or run_all [default: run_once]
    #[arg(long, value_name = "POLICY")]
    pub misfire: Option<MisfirePolicy>,
    /// With --misfire run_all: at most this many catch-up runs
    #[arg(long, value_name = "N")]
    pub misfire_cap: Option<u32>,
    /// When the previous run is still going: skip, queue_one, allow or cancel_previous
    /// [default: skip]
    #[arg(long, value_name = "POLICY")]
    pub overlap: Option<OverlapPolicy>,
    /// How long a run of it should take (`90s`, `5m`, `2h`): past it, a slow-run alert (see
    /// `insights slow`), before the task's own `--expected`; without either, history decides
    #[arg(long, value_name = "SPAN", value_parser = flightdeck_types::parse_span_secs)]
    pub expected: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Create a schedule for a task
    Add {
        name: String,
        /// The task it runs (its id)
        #[arg(long, value_name = "ID")]
        task: String,
        #[command(flatten)]
        timing: ScheduleTiming,
        /// The IANA time zone cron times are in [default: UTC]
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
        #[command(flatten)]
        executor: Box<ExecutorArgs>,
        #[command(flatten)]
        policies: SchedulePolicies,
    },
    /// List schedules
    List,
    /// Show one schedule
    Show { id: String },
    /// Print the next fire times
    Next {
        id: String,
        #[arg(long, short = 'n', default_value_t = 5)]
        count: u32,
    },
    /// Stop firing until resumed
    Pause { id: String },
    /// Fire again from now on
    Resume { id: String },
    /// Fire once now
    Trigger { id: String },
    /// Delete a schedule
    Rm { id: String },
}

#[derive(Debug, Subcommand)]
pub enum ErrorsCommand {
    /// List recorded errors, newest first
    List {
        /// new, retry_scheduled, retrying, resolved, ignored or escalated
        #[arg(long, short)]
        status: Option<RecoveryStatus>,
        /// low, medium, high or critical
        #[arg(long)]
        severity: Option<Severity>,
        #[arg(long, value_name = "ID")]
        task: Option<String>,
        /// failure (a run that failed) or slow (a run that ran past what was expected)
        #[arg(long)]
        kind: Option<ErrorKind>,
    },
    /// Show one error with its attempts
    Show { id: String },
    /// Run it again now
    Retry { id: String },
    /// Mark it resolved
    Resolve { id: String },
    /// Stop retrying and hide it from the default list
    Ignore { id: String },
    /// Flag it for a person
    Escalate { id: String },
}
