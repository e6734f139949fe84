//! `flightdeck`: the Flightdeck engine, headless. Every command is a thin layer over
//! `flightdeck-core`; this file parses, dispatches and turns errors into one stderr line.

mod args;
mod commands;
mod output;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use flightdeck_core::{CoreError, Store};

use crate::args::{Cli, Command};
use crate::output::Output;

/// Exit codes: 1 for a refused or failed command, 2 for a command line clap rejects.
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    if let Command::Completions { shell } = &cli.command {
        // Needs no workspace: printed before any store is opened.
        let mut command = <Cli as clap::CommandFactory>::command();
        let mut script = Vec::new();
        clap_complete::generate(*shell, &mut command, "flightdeck", &mut script);
        // A reader that stops early (`| head`) is not an error.
        let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), &script);
        return ExitCode::SUCCESS;
    }
    let out = Output::new(cli.json);
    // OpenTelemetry export when OTEL_EXPORTER_OTLP_ENDPOINT is set; flushed as the guard
    // drops, when the command is done.
    let _telemetry = flightdeck_core::telemetry::init_from_env();
    match run(&cli, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out.error(&e);
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn run(cli: &Cli, out: &Output) -> Result<(), CoreError> {
    let store = Arc::new(Store::open_workspace(
        cli.data_dir.as_deref(),
        &cli.workspace,
    )?);
    match &cli.command {
        Command::Task(cmd) => commands::task::run(&store, cmd, out),
        Command::Env(cmd) => commands::env::run(&store, cmd, out),
        Command::Audit(args) => commands::audit::run(&store, args, out),
        Command::Replay(args) => commands::replay::run(&store, args, out),
        Command::Export(args) => commands::export::run(&store, &cli.workspace, args, out),
        Command::Import(args) => commands::export::import(&store, args, out),
        Command::Backup(cmd) => commands::backup::run(store, cmd, out),
        Command::Restore(args) => commands::restore::run(&store, args, out),
        Command::Compare { a, b } => commands::replay::compare(&store, a, b, out),
        Command::Fork(fork) => match flightdeck_core::workflows::get_run(&store, &fork.run) {
            // Not a workflow run: a plain run's, unless a step was asked for.
            Err(CoreError::NotFound { .. }) if fork.step.is_none() => {
                if !fork.params.is_empty() {
                    return Err(CoreError::invalid(
                        "param",
                        "--param is for workflow runs; a plain run has no parameters (edit its \
                         fields with --input)",
                    ));
                }
                let inputs = commands::workflow::fork_inputs(&fork.inputs)?;
                commands::runs::fork(store, &fork.run, &inputs, fork.follow, out)
            }
            _ => commands::workflow::run(store, &args::WorkflowCommand::Fork(fork.clone()), out),
        },
        Command::Insights(args) => commands::insights::run(&store, args, out),
        Command::Health => commands::insights::health(&store, out),
        Command::Sync(cmd) => commands::sync::run(&store, cmd, out),
        Command::Devices(cmd) => commands::devices::run(&store, cmd, out),
        Command::Secrets(cmd) => commands::secrets::run(&store, cmd, out),
        Command::Run(args) => commands::runs::start(store, args, out),
        Command::Runs(cmd) => commands::runs::run(&store, cmd, out),
        Command::Schedule(cmd) => commands::schedule::run(&store, cmd, out),
        Command::Errors(cmd) => commands::errors::run(&store, cmd, out),
        Command::Memory(cmd) => commands::memory::run(&store, cli.data_dir.as_deref(), cmd, out),
        Command::Workflow(cmd) => commands::workflow::run(store, cmd, out),
        Command::Daemon => commands::daemon::run(store),
        Command::Mcp {
            print_config: Some(agent),
        } => {
            let snippet = commands::mcp::config_snippet(agent, &cli.workspace)?;
            output::write_stdout_line(&snippet);
            Ok(())
        }
        Command::Mcp { print_config: None } => commands::mcp::run(store, cli.data_dir.as_deref()),
        Command::Completions { .. } => Ok(()), // printed in main, before the store opens
    }
}

/// Whether `--json` is on a command line clap refused (it cannot tell us), so that the
/// error still comes in the JSON shape. `--` ends the options, as for clap.
fn json_requested() -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// Help and version print as clap does; anything else becomes one line on stderr.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            let rendered = e.render().to_string();
            let json = json_requested();
            let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
            let mut first = lines
                .next()
                .unwrap_or("error: invalid command line")
                .to_string();
            // "the following required arguments were not provided:" names them on the next
            // line; keep the one line whole.
            if first.ends_with(':') {
                if let Some(next) = lines.next() {
                    first = format!("{first} {next}");
                }
            }
            let first = first.strip_prefix("error: ").unwrap_or(&first);
            if json {
                let body = serde_json::json!({
                    "error": { "code": "usage", "message": first, "field": serde_json::Value::Null }
                });
                eprintln!("{body}");
            } else {
                eprintln!("error: {first} (see `flightdeck --help`)");
            }
            ExitCode::from(EXIT_USAGE)
        }
    }
}
