//! Arguments of `workflow ...`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use flightdeck_types::WorkflowRunStatus;

#[derive(Debug, Args)]
pub struct StartArgs {
    /// The workflow's name or id
    pub workflow: String,
    /// A parameter, K=V, read as the parameter's type (repeatable)
    #[arg(long = "param", short = 'p', value_name = "K=V")]
    pub params: Vec<String>,
    /// A parameter whose value is in environment variable VAR (repeatable): keeps a secret
    /// parameter's value off the command line
    #[arg(long = "param-env", value_name = "K=VAR")]
    pub param_env: Vec<String>,
    /// A version other than the newest (`2` or `v2`)
    #[arg(long, value_parser = version_number)]
    pub version: Option<u32>,
    /// The environment (name or id) shell and agent steps run in [default: the file's]
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// The task the run belongs to (its id)
    #[arg(long, value_name = "ID")]
    pub task: Option<String>,
    /// Run it here and stream step changes and logs until it ends (exits non-zero unless
    /// it succeeded; Ctrl-C cancels it). A running daemon or app runs it instead, and this
    /// follows along
    #[arg(long, short)]
    pub follow: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ForkArgs {
    /// A workflow run's id, or a plain run's (which forks as "run it again, edited")
    pub run: String,
    /// The step to fork at (a step id); a workflow run needs it, a plain run has none
    #[arg(long, value_name = "STEP")]
    pub step: Option<String>,
    /// A field to run with instead (repeatable): `shell=echo hi`, `env.NAME=v`,
    /// `http.url=...`, `agent=PROMPT`; in a workflow run, STEP's, a template like the file's
    #[arg(long = "input", value_name = "FIELD=TEXT")]
    pub inputs: Vec<String>,
    /// A parameter to change (repeatable), read as its type (workflow runs only)
    #[arg(long = "param", short = 'p', value_name = "K=V")]
    pub params: Vec<String>,
    /// Run it here and stream it until it ends
    #[arg(long, short)]
    pub follow: bool,
}

#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// Validate a definition file (YAML, or JSON when named *.json) and store it as the next
    /// version; an unchanged file changes nothing
    Apply {
        file: PathBuf,
    },
    /// Check a definition file without storing anything
    Validate {
        file: PathBuf,
    },
    /// List workflows (newest version of each)
    List,
    /// Show a workflow's definition
    Show {
        workflow: String,
        /// A version other than the newest (`2` or `v2`)
        #[arg(long, value_parser = version_number)]
        version: Option<u32>,
    },
    /// List a workflow's versions
    Versions {
        workflow: String,
    },
    /// Show what changed between two versions
    Diff {
        workflow: String,
        /// A version, `2` or `v2`
        #[arg(value_parser = version_number)]
        from: u32,
        #[arg(value_parser = version_number)]
        to: u32,
    },
    /// Remove a workflow (refused while a run of it is live; applying its file brings it back)
    Rm {
        workflow: String,
    },
    /// Start a run and print its id
    Start(StartArgs),
    /// List runs, newest first
    Runs {
        /// Only runs of this workflow (name or id)
        #[arg(long)]
        workflow: Option<String>,
        #[arg(long, short)]
        status: Option<WorkflowRunStatus>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// A run's progress, ETA, and each step's state and duration
    Status {
        run: String,
    },
    /// Stream a run's step changes and logs until it ends, running it here when no daemon
    /// or app does (this is how a run left by a crashed process is resumed from the CLI)
    Follow {
        run: String,
    },
    /// Print the logs of a run's steps (of one step when given)
    Logs {
        run: String,
        step: Option<String>,
    },
    /// List a run's step boundaries (snapshots): what each step got and left
    Snapshots {
        run: String,
    },
    /// No new step starts and running shell steps are stopped until resumed
    Pause {
        run: String,
    },
    Resume {
        run: String,
    },
    /// Stop running steps and end the run cancelled
    Cancel {
        run: String,
    },
    /// Time travel: a new run of RUN's version from STEP, keeping the outputs of the steps
    /// that had passed when STEP last started; STEP runs with the edited inputs, the run with
    /// the edited parameters, and what follows runs again
    Fork(ForkArgs),
    /// Take over a run whose device stopped answering (its workflow lease lapsed): it resumes
    /// here from its checkpoint, a step caught running retried by its policy
    Adopt {
        run: String,
    },
    /// Approve an approval step
    Approve {
        run: String,
        step: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Reject an approval step (the run fails unless the step has continue_on_failure)
    Reject {
        run: String,
        step: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Start a new run of the same version from STEP on, reusing the recorded outputs of the
    /// steps before it
    Rerun {
        run: String,
        #[arg(long, value_name = "STEP")]
        from: String,
        /// Run it here and stream it, as `start --follow`
        #[arg(long, short)]
        follow: bool,
    },
}

/// A version as everything prints it (`v2`) or bare (`2`).
fn version_number(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix(['v', 'V']).unwrap_or(text);
    digits
        .parse::<u32>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("`{text}` is not a version (e.g. `2` or `v2`)"))
}
