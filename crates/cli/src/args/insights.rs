//! `flightdeck insights`

use clap::{Args, Subcommand};
use flightdeck_types::InsightsGroup;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct InsightsArgs {
    #[command(subcommand)]
    pub command: Option<InsightsCommand>,
    #[command(flatten)]
    pub window: WindowArgs,
    /// Group the figures by task, env, executor, schedule, workflow (workflow runs) or step
    /// (the runs of workflow steps)
    #[arg(long, default_value = "task", value_name = "GROUP")]
    pub by: InsightsGroup,
}

#[derive(Debug, Subcommand)]
pub enum InsightsCommand {
    /// The top failure reasons of the window: failed, timed-out and interrupted runs grouped
    /// by their message with numbers, paths and ids masked, each with a count and its latest
    /// run
    Failures {
        #[command(flatten)]
        window: WindowArgs,
        /// At most this many reasons
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
    /// The runs of the window that ran past what was expected of them (a step's `expected`,
    /// else 1.5x the p95 of the latest succeeded runs of the same task or step, at least 10),
    /// with elapsed against expected and how each ended; `errors show ID` has the diagnostics
    Slow {
        #[command(flatten)]
        window: WindowArgs,
    },
    /// Where each workflow's time goes, over the window's succeeded runs: each step's p50
    /// and p95 and its share of the critical path (the chain of step runs, each waiting for
    /// the one before it, that decided when the run ended); the step to make faster first on
    /// top
    Bottlenecks {
        #[command(flatten)]
        window: WindowArgs,
        /// Only this workflow
        #[arg(long, value_name = "NAME")]
        workflow: Option<String>,
    },
}

/// Which runs count: those queued in the window.
#[derive(Debug, Args, Clone)]
pub struct WindowArgs {
    /// The window, back from now: `24h`, `7d`, `30d`, any `N` of s, m, h or d
    #[arg(
        long,
        default_value = "7d",
        value_name = "SPAN",
        conflicts_with = "since"
    )]
    pub window: String,
    /// A window of your own: from this instant (RFC 3339, or `3d` for 3 days ago)...
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// ...to this one [default: now]
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
}
