//! The command line, as clap parses it.

mod insights;
mod memory;
mod runs;
mod workflow;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use flightdeck_types::{Priority, TaskStatus};

pub use insights::{InsightsArgs, InsightsCommand, WindowArgs};
pub use memory::{MemoryCommand, MemoryFilterArgs};
pub use runs::{ErrorsCommand, ExecutorArgs, RunArgs, RunsCommand, ScheduleCommand};
pub use workflow::{ForkArgs, StartArgs, WorkflowCommand};

#[derive(Debug, Parser)]
#[command(
    name = "flightdeck",
    version = flightdeck_build_info::LONG_VERSION,
    about = "Flightdeck, headless: tasks, environments, runs, workflows, schedules, memory and sync from scripts",
    after_help = "Data lives in $FLIGHTDECK_DATA_DIR, else ~/.local/share/flightdeck; \
                  one database per workspace."
)]
pub struct Cli {
    /// Where workspaces are kept [default: $FLIGHTDECK_DATA_DIR, else the platform data dir]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// The workspace to use
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        env = "FLIGHTDECK_WORKSPACE",
        default_value = "default"
    )]
    pub workspace: String,

    /// Print machine-readable JSON (stable; see the README) instead of text
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, list, show, change, archive and delete tasks
    #[command(subcommand)]
    Task(TaskCommand),
    /// Create, list, show, change and delete environments
    #[command(subcommand)]
    Env(EnvCommand),
    /// Show the audit log, newest first
    Audit(AuditArgs),
    /// A past run (a workflow run or a plain run) as it stood at an instant: its status, the
    /// steps and their outputs, the checkpoint in force, the marks around it and the log so far
    Replay(ReplayArgs),
    /// Time travel: fork a workflow run at a step, with edited inputs and parameters (the
    /// same as `workflow fork`), or a plain run: run it again with its spec edited
    Fork(ForkArgs),
    /// The workspace as one file: newline-delimited JSON compressed with zstd, a record per
    /// row of every entity and a manifest (versions, counts, checksums, the secret names to
    /// set again); secret values stay in the keyring
    Export(ExportArgs),
    /// Bring records into this workspace, all or nothing: an export of Flightdeck's, tasks from
    /// a CSV file, or GitHub issues (`gh issue list --json ...`); every record checked first
    /// (versions, entities, columns and types, keys, counts and checksums), then one
    /// transaction; importing the same file twice changes nothing
    Import(ImportArgs),
    /// Local backups of this workspace's database: make one now, list them, or put one in
    /// place of a damaged database
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Time travel: put a task, an environment or a schedule (or all of them) back as it was
    /// at an instant, rebuilt from the audit log and written as new changes that synced
    /// devices follow; what was created since is deleted, what was deleted since comes back
    Restore(RestoreArgs),
    /// Two runs side by side (two workflow runs, even of different versions, or two plain
    /// runs): steps aligned by id with status, duration and its delta, diffs of inputs,
    /// outputs and logs, the parameters or spec and the environment's variables by name; the
    /// first step where they diverge on top
    Compare {
        /// The first run (A)
        a: String,
        /// The second run (B)
        b: String,
    },
    /// How runs went over a window (`--window 7d`): runs by status, success rate, p50, p95
    /// and max duration, time in queue, retries and runs per day, all together and per task,
    /// env, executor, schedule, workflow or step; `insights failures` for the top failure
    /// reasons
    Insights(InsightsArgs),
    /// How this workspace stands: database and WAL size, free disk, memory index freshness,
    /// sync lag, the worker and the newest backup, each with a warning threshold and what to
    /// do once it is crossed
    Health,
    /// Join a sync server, sync now, show status and conflicts
    #[command(subcommand)]
    Sync(SyncCommand),
    /// The workspace's devices, and which ones this device takes work from
    #[command(subcommand)]
    Devices(DevicesCommand),
    /// Where this workspace's secrets are kept: move them between the OS keyring and the
    /// encrypted secrets file
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Run a task now and print its output (or queue it with --detach)
    Run(RunArgs),
    /// List, show, follow and cancel runs
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Create and manage schedules that run tasks
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Failed runs: list, retry, resolve, ignore, escalate
    #[command(subcommand)]
    Errors(ErrorsCommand),
    /// Agent memory: add, search by meaning, list, show, archive, reindex
    #[command(subcommand)]
    Memory(MemoryCommand),
    /// Workflows: apply definitions, start, follow, pause, approve and rerun runs
    #[command(subcommand)]
    Workflow(WorkflowCommand),
    /// Run queued runs and schedules, recover failures and keep syncing, in the foreground
    /// until Ctrl-C
    Daemon,
    /// A Model Context Protocol server on stdin/stdout for agents: search_memory, add_memory,
    /// list_tasks, get_task, create_task, update_task, get_run, report_progress (register it
    /// with your agent as the command `flightdeck mcp`; --print-config shows how)
    Mcp {
        /// Print the snippet that registers this server with an agent (claude, codex or
        /// generic JSON) instead of serving
        #[arg(long, value_name = "AGENT")]
        print_config: Option<String>,
    },
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell (the
    /// packages install them; by hand: `flightdeck completions bash >
    /// ~/.local/share/bash-completion/completions/flightdeck`)
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Join the workspace behind JOIN_TOKEN on the sync server at URL. When other devices
    /// joined with the same token, asks (on a terminal) whether to take the runs they write
    /// (see `devices trust`); nothing is trusted otherwise
    Join {
        url: String,
        join_token: String,
        /// Trust the devices that joined with the same token without asking
        #[arg(long)]
        trust_peers: bool,
    },
    /// Push pending changes and pull until current
    Now,
    /// Stop syncing: the server revokes this device's token, and this device forgets the
    /// server, its workspace and its cursors. The local data stays; changes never pushed stay
    /// only here. Joining again (any server) pushes everything
    Leave,
    /// Show the server, pending changes, last sync and cursors
    Status,
    /// List values that remote changes overwrote before the server had them
    Conflicts {
        /// Write this conflict's local value back (it then wins everywhere)
        #[arg(long, value_name = "ID")]
        restore: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Move every secret of this workspace (environment secrets, this device's sync token)
    /// to the OS keyring or the encrypted secrets file; each is read back before the source
    /// copy is removed
    Migrate {
        #[arg(long, value_enum)]
        to: SecretsTarget,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SecretsTarget {
    Keyring,
    File,
}

#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    /// List this device and the workspace's others: name, site id, last seen, trusted or not
    /// (asks the sync server when joined; else shows the devices last seen)
    List,
    /// Take runs, schedule fires and workflow steps written by DEVICE (a name or site id
    /// from `devices list`); devices are not trusted by default
    Trust { device: String },
    /// Stop taking work written by DEVICE; its runs are refused from now on
    Untrust { device: String },
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Create a task and print its id
    Add {
        title: String,
        #[arg(long, short)]
        description: Option<String>,
        /// Environment name or id
        #[arg(long)]
        env: Option<String>,
        #[arg(long, short)]
        priority: Option<Priority>,
        #[arg(long, short)]
        status: Option<TaskStatus>,
        /// How long a run of it should take (`90s`, `5m`, `2h`): past it, a slow-run alert
        /// (see `insights slow`); without it, its history decides
        #[arg(long, value_name = "SPAN", value_parser = flightdeck_types::parse_span_secs)]
        expected: Option<u64>,
    },
    /// List tasks (archived ones only with --all)
    List {
        #[arg(long, short)]
        status: Option<TaskStatus>,
        /// Environment name or id
        #[arg(long)]
        env: Option<String>,
        /// Case-insensitive text in the title or description
        #[arg(long)]
        search: Option<String>,
        /// Include archived tasks
        #[arg(long)]
        all: bool,
    },
    /// Show one task
    Show { id: String },
    /// Change a task's fields
    Update {
        id: String,
        #[arg(long, short)]
        title: Option<String>,
        #[arg(long, short)]
        description: Option<String>,
        #[arg(long, short)]
        status: Option<TaskStatus>,
        #[arg(long, short)]
        priority: Option<Priority>,
        /// Environment name or id
        #[arg(long, conflicts_with = "no_env")]
        env: Option<String>,
        /// Clear the task's environment
        #[arg(long)]
        no_env: bool,
        /// How long a run of it should take (`90s`, `5m`, `2h`)
        #[arg(long, value_name = "SPAN", value_parser = flightdeck_types::parse_span_secs, conflicts_with = "no_expected")]
        expected: Option<u64>,
        /// Clear the expected duration (its history decides again)
        #[arg(long)]
        no_expected: bool,
    },
    /// Hide a task from default lists (reversible with `unarchive`)
    Archive { id: String },
    /// Bring an archived task back
    Unarchive { id: String },
    /// Delete a task on every device
    Rm { id: String },
}

#[derive(Debug, Args)]
pub struct EnvFields {
    /// The directory commands run in
    #[arg(long, value_name = "DIR")]
    pub path: Option<String>,
    /// The repository, a path or a URL. A local git repository gives each agent run its own
    /// worktree and branch (see `run --isolation`)
    #[arg(long, value_name = "URL")]
    pub repo: Option<String>,
    /// A plain variable, KEY=VALUE (repeatable)
    #[arg(long = "var", value_name = "K=V")]
    pub vars: Vec<String>,
    /// The name of a secret variable, whose value lives in the OS keyring (repeatable; set
    /// the value with `flightdeck env secret set`)
    #[arg(long = "secret-var", value_name = "K")]
    pub secret_vars: Vec<String>,
    /// A setup script, run in a worktree run's fresh worktree before its command (e.g.
    /// `npm ci`)
    #[arg(long, value_name = "CMD")]
    pub setup: Option<String>,
    /// The agent CLI template, e.g. 'claude -p {prompt}'
    #[arg(long, value_name = "CMD")]
    pub agent: Option<String>,
    /// Whether agent runs here get a context file of memories and similar runs (`on` or
    /// `off`) [default: on]
    #[arg(long, value_name = "ON|OFF", value_parser = on_off)]
    pub context: Option<bool>,
    /// The branch worktree runs start from and merge into [default: the repository's current
    /// branch]
    #[arg(long, value_name = "BRANCH")]
    pub base_branch: Option<String>,
}

fn on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("`{other}` is not `on` or `off`")),
    }
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Create an environment
    Add {
        name: String,
        #[command(flatten)]
        fields: EnvFields,
    },
    /// List environments
    List,
    /// Show one environment, with whether each secret is set on this device
    Show {
        /// Name or id
        env: String,
    },
    /// Change an environment
    Update {
        /// Name or id
        env: String,
        /// Rename it
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        fields: EnvFields,
        /// Remove a plain variable (repeatable)
        #[arg(long = "unset-var", value_name = "K")]
        unset_vars: Vec<String>,
        /// Remove a secret variable and its stored value (repeatable)
        #[arg(long = "remove-secret-var", value_name = "K")]
        remove_secret_vars: Vec<String>,
        /// Clear the working directory
        #[arg(long, conflicts_with = "path")]
        no_path: bool,
        /// Clear the repository
        #[arg(long, conflicts_with = "repo")]
        no_repo: bool,
        /// Clear the setup script
        #[arg(long, conflicts_with = "setup")]
        no_setup: bool,
        /// Clear the agent command
        #[arg(long, conflicts_with = "agent")]
        no_agent: bool,
        /// Clear the base branch (worktree runs start from the repository's current branch)
        #[arg(long, conflicts_with = "base_branch")]
        no_base_branch: bool,
    },
    /// Delete an environment
    Rm {
        /// Name or id
        env: String,
        /// Delete it even if tasks use it (their environment is cleared)
        #[arg(long)]
        force: bool,
    },
    /// Set or remove secret variable values in the OS keyring
    #[command(subcommand)]
    Secret(SecretCommand),
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store a secret's value, read from standard input (one line, or all of it)
    Set {
        /// Environment name or id
        env: String,
        /// Variable name
        key: String,
    },
    /// Remove a secret variable and its value
    Rm {
        /// Environment name or id
        env: String,
        /// Variable name
        key: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Copy the database now (`VACUUM INTO`, checked with integrity_check) into `backups/`
    Now,
    /// The backups, newest first (made before every migration, daily while a worker runs,
    /// and by `backup now`)
    List,
    /// Put FILE in place of the database (for a damaged one): refused while the app or the
    /// daemon holds the workspace; the current file is kept aside, not deleted
    Restore { file: std::path::PathBuf },
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A task's, an environment's or a schedule's id (or --all)
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub id: Option<String>,
    /// Every task, environment and schedule of the workspace (`--workspace NAME` chooses
    /// which workspace; runs, their events and errors are history and stay)
    #[arg(long)]
    pub all: bool,
    /// The instant: RFC 3339 (`2026-12-06T09:10:00Z`, or with an offset) or a time ago such
    /// as `2h`, `30m`, `90s` or `1d`
    #[arg(long, value_name = "TIME")]
    pub to: String,
    /// List what would change and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A workflow run's id or a plain run's id
    pub run: String,
    /// The instant: RFC 3339 (`2026-12-06T09:10:00Z`, or with an offset), or `+1.5s` /
    /// `+250ms` after the run's first mark [default: the run's end, or now]
    #[arg(long, value_name = "TIME", conflicts_with = "step")]
    pub at: Option<String>,
    /// The instant of mark N (0 is the first): a workflow run's step boundary, a plain run's
    /// status change (`flightdeck workflow snapshots RUN` lists a workflow run's)
    #[arg(long, value_name = "N")]
    pub step: Option<u32>,
    /// At most this many log lines, the last ones by then
    #[arg(long, default_value_t = 50)]
    pub lines: usize,
    /// From that instant (or the run's start), go to the next event of KIND: `stdout`,
    /// `stderr`, `status`, `http`, ...
    #[arg(long, value_name = "KIND", conflicts_with = "previous")]
    pub next: Option<String>,
    /// From that instant (or now), go to the previous event of KIND
    #[arg(long, value_name = "KIND")]
    pub previous: Option<String>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only changes to this task or environment id
    #[arg(long, value_name = "ID")]
    pub entity: Option<String>,
    /// At most this many rows
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Only these entities (comma-separated): environments, tasks, schedules, workflows,
    /// workflow_runs, workflow_run_steps, workflow_approvals, executions, execution_events,
    /// execution_snapshots, error_records, memories, audit_log [default: all]
    #[arg(long, value_name = "LIST")]
    pub entities: Vec<String>,
    /// Only rows changed (else made) since: RFC 3339, or a time ago (`3d`, `12h`)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// The file to write (`-` for standard output) [default:
    /// flightdeck-WORKSPACE-YYYYMMDDTHHMMSSZ.ndjson.zst here]
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// No progress line on stderr (there is none when stderr is not a terminal either)
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file: an archive `flightdeck export` wrote, a CSV of tasks, or GitHub issues as
    /// `gh issue list --json number,title,body,state,labels,createdAt,url` writes them
    pub file: PathBuf,
    /// What the file is [default: from its contents: an archive is zstd, GitHub issues a JSON
    /// list, anything else CSV]
    #[arg(long, value_name = "KIND", value_parser = ["archive", "csv", "github"])]
    pub from: Option<String>,
    /// Report what would be created, updated, unchanged and skipped per entity, and write
    /// nothing
    #[arg(long)]
    pub dry_run: bool,
    /// A record whose row exists here with other values: skip it (keep this workspace's),
    /// overwrite it, or take it when its updated_at is newer
    #[arg(long, value_name = "POLICY", default_value = "skip", value_parser = ["skip", "overwrite", "newer"])]
    pub on_conflict: String,
    /// CSV: which column holds each task field, comma-separated FIELD=COLUMN pairs; fields:
    /// title, description, status, priority, created_at, updated_at, key (what identifies a
    /// row across imports); a field not mapped is read from the column of its own name
    #[arg(long, value_name = "FIELD=COLUMN,...")]
    pub map: Vec<String>,
    /// CSV and GitHub: statuses (GitHub: states or labels) that are not Flightdeck's, as
    /// VALUE=STATUS pairs (todo, in_progress, blocked, done, cancelled), e.g. 'Wontfix=cancelled'
    #[arg(long, value_name = "VALUE=STATUS,...")]
    pub status_map: Vec<String>,
    /// CSV and GitHub: priorities (GitHub: labels), as VALUE=PRIORITY pairs (low, medium,
    /// high, urgent), e.g. 'S1=urgent'
    #[arg(long, value_name = "VALUE=PRIORITY,...")]
    pub priority_map: Vec<String>,
    /// GitHub: the issues' repository, OWNER/NAME, when they were listed without `url`
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,
    /// No progress line on stderr (there is none when stderr is not a terminal either)
    #[arg(long)]
    pub quiet: bool,
}
