//! `flightdeck run` and `flightdeck runs ...`

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use std::sync::Arc;

use flightdeck_core::{environments, runs, tasks, CoreError, Store};
use flightdeck_types::{
    AgentThreadSpec, Execution, ExecutionEvent, ExecutionFilter, ExecutionSpec, ExecutionStatus,
    HttpSpec, NewExecution, ShellSpec, Task,
};

use crate::args::{ExecutorArgs, RunArgs, RunsCommand};
use crate::output::{clip, stdout_closed, table, write_stdout_line, Output};

/// Builds what to run from the command line; with no executor flag, the task's environment's
/// agent command runs with the task as its prompt.
pub fn spec_from_args(
    store: &Store,
    task: &Task,
    args: &ExecutorArgs,
) -> Result<ExecutionSpec, CoreError> {
    if args.shell.is_none()
        && (args.http.is_some() || args.agent_thread.is_some() || args.workflow.is_some())
    {
        if let Some(flag) = [
            ("--isolation", args.isolation.is_some()),
            ("--base", args.base.is_some()),
        ]
        .into_iter()
        .find_map(|(flag, given)| given.then_some(flag))
        {
            return Err(CoreError::invalid(
                "isolation",
                format!("{flag} is for shell and agent runs, which work in a directory"),
            ));
        }
    }
    if let Some(line) = &args.shell {
        return Ok(ExecutionSpec::Shell(ShellSpec {
            line: Some(line.clone()),
            timeout_secs: args.timeout,
            isolation: args.isolation,
            base_branch: args.base.clone(),
            ..ShellSpec::default()
        }));
    }
    if let Some(url) = &args.http {
        let mut headers = BTreeMap::new();
        for header in &args.headers {
            let (name, value) = header.split_once(':').ok_or_else(|| {
                CoreError::invalid(
                    "header",
                    format!("`{header}` is not 'Name: value' (e.g. --header 'Accept: text/plain')"),
                )
            })?;
            headers.insert(name.trim().to_string(), value.trim().to_string());
        }
        return Ok(ExecutionSpec::Http(HttpSpec {
            method: args.method.clone(),
            url: url.clone(),
            headers,
            body: args.body.clone(),
            timeout_secs: args.timeout,
        }));
    }
    if let Some(workflow) = &args.workflow {
        // Checked now, so that a schedule is not saved with a name or parameters that fail
        // at every fire.
        let found = flightdeck_core::workflows::show(store, workflow, None)?;
        flightdeck_core::workflows::definition::resolve_params(
            &found.definition,
            &Default::default(),
            &args.params,
        )?;
        let params = args
            .params
            .iter()
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.to_string()))
            .collect();
        return Ok(ExecutionSpec::Workflow(flightdeck_types::WorkflowSpec {
            workflow: found.name,
            params,
            version: None,
        }));
    }
    if let Some(thread_id) = &args.agent_thread {
        return Ok(ExecutionSpec::AgentThread(AgentThreadSpec {
            base_url: args.agent_url.clone(),
            thread_id: thread_id.clone(),
            message: args.message.clone().unwrap_or_else(|| task_prompt(task)),
            timeout_secs: args.timeout,
        }));
    }
    let Some(environment_id) = &task.environment_id else {
        return Err(CoreError::invalid(
            "executor",
            "give --shell, --http or --agent-thread, or give the task an environment with an \
             agent command (`flightdeck env update ENV --agent 'claude -p {prompt}'`)",
        ));
    };
    let environment = environments::get(store, environment_id)?;
    let mut shell = runs::agent_cli_spec(&environment, task)?;
    shell.timeout_secs = args.timeout.or(shell.timeout_secs);
    shell.isolation = args.isolation;
    shell.base_branch = args.base.clone();
    Ok(ExecutionSpec::Shell(shell))
}

fn task_prompt(task: &Task) -> String {
    if task.description.trim().is_empty() {
        task.title.clone()
    } else {
        format!("{}\n\n{}", task.title, task.description)
    }
}

/// `flightdeck run`: queues the run, then executes it here and streams its output, unless the
/// daemon or the app holds the workspace's worker lock: then that process runs it and this
/// one follows its output. Ctrl-C cancels the run. Exits non-zero when the run did not succeed.
pub fn start(store: Arc<Store>, args: &RunArgs, out: &Output) -> Result<(), CoreError> {
    let task = tasks::get(&store, &args.task)?;
    let spec = spec_from_args(&store, &task, &args.executor)?;
    let queued = runs::queue(
        &store,
        NewExecution {
            task_id: Some(task.id.clone()),
            environment_id: task.environment_id.clone(),
            spec: Some(spec),
            ..NewExecution::default()
        },
    )?;
    if args.detach {
        out.print(&queued, || queued.id.clone());
        if runs::lock::worker_holder(&store).is_none() {
            eprintln!("{}", runs::lock::NO_WORKER);
        }
        return Ok(());
    }
    follow_queued(store, queued, out)
}

/// Runs `queued` here (or leaves it to the worker running) and prints its log until it ends;
/// the run's failure is the command's.
fn follow_queued(store: Arc<Store>, queued: Execution, out: &Output) -> Result<(), CoreError> {
    let runtime = super::follower_runtime()?;
    let worker = super::worker::LocalWorker::try_start(&store, &runtime, "flightdeck run")?;
    {
        let (store, id) = (store.clone(), queued.id.clone());
        runtime.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = runs::request_cancel(&store, &id);
            }
        });
    }
    if out.is_json() {
        // JSON Lines from the first line: the run's id first, so a script can act on it.
        out.line(&serde_json::json!({ "type": "run", "id": queued.id }));
    }
    // A reader that went away (`| head`) stops the output, not the run.
    let followed = logs(&store, &queued.id, true, out).and_then(|()| match stdout_closed() {
        true => wait_until_final(&store, &queued.id),
        false => Ok(()),
    });
    if let Some(worker) = worker {
        worker.stop(&store, &runtime)?;
    }
    followed?;
    let done = runs::get(&store, &queued.id)?;
    if out.is_json() {
        out.line(&serde_json::json!({ "type": "end", "run": done }));
    }
    if done.status == ExecutionStatus::Succeeded {
        return Ok(());
    }
    let why = done
        .error
        .clone()
        .or_else(|| done.exit_code.map(|c| format!("exit code {c}")))
        .unwrap_or_default();
    Err(CoreError::Refused(format!(
        "run {} {}{}",
        done.id,
        done.status,
        if why.is_empty() {
            String::new()
        } else {
            format!(": {why}")
        }
    )))
}

/// `flightdeck fork RUN [--input FIELD=TEXT]... [--follow]` for a plain run.
pub fn fork(
    store: Arc<Store>,
    run: &str,
    inputs: &[(String, String)],
    follow: bool,
    out: &Output,
) -> Result<(), CoreError> {
    let forked = runs::fork(&store, run, inputs)?;
    if !follow {
        if !out.is_json() {
            eprintln!("fork of {run}: queued as");
        }
        out.print(&forked, || forked.id.clone());
        if runs::lock::worker_holder(&store).is_none() {
            eprintln!("{}", runs::lock::NO_WORKER);
        }
        return Ok(());
    }
    if !out.is_json() {
        eprintln!("fork of {run}: run {}", forked.id);
    }
    follow_queued(store, forked, out)
}

fn wait_until_final(store: &Store, id: &str) -> Result<(), CoreError> {
    while !runs::get(store, id)?.status.is_final() {
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

pub fn run(store: &Store, cmd: &RunsCommand, out: &Output) -> Result<(), CoreError> {
    match cmd {
        RunsCommand::List {
            task,
            schedule,
            status,
            env,
            executor,
            limit,
        } => {
            let environment_id = env
                .as_deref()
                .map(|key| flightdeck_core::environments::get(store, key).map(|e| e.id))
                .transpose()?;
            let filter = ExecutionFilter {
                task_id: task.clone(),
                schedule_id: schedule.clone(),
                status: *status,
                environment_id,
                executor: *executor,
                limit: Some(*limit),
                ..ExecutionFilter::default()
            };
            let found = runs::list(store, &filter)?;
            out.print(&found, || render_list(store, &found));
        }
        RunsCommand::Show { id } => {
            let run = runs::get(store, id)?;
            let forks = runs::forks_of(store, &run.id)?;
            out.print(&run, || render_one(&run, &forks));
        }
        RunsCommand::Logs { id, follow } => logs(store, id, *follow, out)?,
        RunsCommand::Cancel { id } => {
            let run = runs::request_cancel(store, id)?;
            out.print(&run, || format!("cancel requested for run {}", run.id));
        }
        RunsCommand::Rerun { id, in_worktree } => {
            let old = runs::get(store, id)?;
            let new = if *in_worktree {
                runs::rerun_in_worktree(store, &old.id)?
            } else {
                runs::rerun(store, &old.id)?
            };
            out.print(&new, || new.id.clone());
        }
        RunsCommand::Worktrees {
            clean,
            retention_days,
        } => super::run_worktree::worktrees(store, *clean, *retention_days, out)?,
        RunsCommand::Settings {
            concurrency,
            step_concurrency,
            workflow_lease,
            keep_history,
        } => {
            use flightdeck_core::runs::settings::{self, RunnerSettings};
            let change = RunnerSettings {
                concurrency: *concurrency,
                step_concurrency: *step_concurrency,
                workflow_lease_secs: *workflow_lease,
                keep_history_days: *keep_history,
            };
            let limits = if change != RunnerSettings::default() {
                settings::set_settings(store, change)?
            } else {
                settings::limits(store)?
            };
            out.print(&limits, || {
                format!(
                    "concurrency: {} plain runs at once\nstep concurrency: {} workflow steps at \
                     once\nworkflow lease: {} s (then another device may adopt this device's \
                     workflow runs)\nhistory kept: {}\n(read when the daemon, the app or a \
                     foreground run starts)",
                    limits.concurrency,
                    limits.step_concurrency,
                    limits.workflow_lease_secs,
                    match limits.keep_history_days {
                        0 => "forever".to_string(),
                        d => format!("{d} days after a run ended"),
                    }
                )
            });
        }
        RunsCommand::Diff { id, stat } => super::run_worktree::diff(store, id, *stat, out)?,
        RunsCommand::Merge { id } => super::run_worktree::merge(store, id, out)?,
        RunsCommand::Discard { id, yes } => super::run_worktree::discard(store, id, *yes, out)?,
    }
    Ok(())
}

/// Prints a run's events; with `follow`, keeps printing until the run is final. The run may
/// be executing in another process (the daemon, the app) or on another device, so new lines
/// are polled from the store.
pub fn logs(store: &Store, id: &str, follow: bool, out: &Output) -> Result<(), CoreError> {
    let mut after = 0;
    loop {
        // Read the status before the events, so that the events of a final run are complete.
        let status = runs::get(store, id)?.status;
        loop {
            let batch = runs::events(store, id, after, 1_000)?;
            let Some(last) = batch.last() else { break };
            after = last.seq;
            print_events(&batch, out);
        }
        if !follow || status.is_final() || stdout_closed() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// With `--json`, one event per line. Otherwise a run's stdout goes to stdout and its stderr
/// to stderr, as if the command ran here; other events (HTTP, agent replies, truncation) go to
/// stderr tagged with their kind. Status and process bookkeeping is not shown.
fn print_events(events: &[ExecutionEvent], out: &Output) {
    let mut stderr = std::io::stderr().lock();
    for event in events {
        if out.is_json() {
            let mut line = serde_json::to_value(event).expect("events always serialize");
            line["type"] = "event".into();
            write_stdout_line(&line.to_string());
            continue;
        }
        let _ = match event.kind.as_str() {
            "stdout" => {
                write_stdout_line(&event.data);
                Ok(())
            }
            "stderr" => writeln!(stderr, "{}", event.data),
            "status" | "process" => Ok(()),
            kind => writeln!(stderr, "[{kind}] {}", event.data),
        };
    }
}

fn render_list(store: &Store, found: &[Execution]) -> String {
    if found.is_empty() {
        return "no runs yet; start one with `flightdeck run TASK_ID --shell CMD`".into();
    }
    let rows = found
        .iter()
        .map(|r| {
            let task = r
                .task_id
                .as_deref()
                .and_then(|id| tasks::get(store, id).ok())
                .map(|t| clip(&t.title, 30))
                .unwrap_or_default();
            vec![
                r.id.clone(),
                r.status.to_string(),
                r.attempt.to_string(),
                r.spec.kind().to_string(),
                r.queued_at.to_rfc3339(),
                task,
            ]
        })
        .collect::<Vec<_>>();
    table(
        &["ID", "STATUS", "TRY", "EXECUTOR", "QUEUED", "TASK"],
        &rows,
    )
}

fn render_one(r: &Execution, forks: &[String]) -> String {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let mut lines = vec![
        format!("id:        {}", r.id),
        format!("status:    {}", r.status),
        format!("attempt:   {}", r.attempt),
        format!("executor:  {}", r.spec.kind()),
        format!(
            "spec:      {}",
            serde_json::to_string(&r.spec).expect("specs always serialize")
        ),
        format!("task:      {}", opt(r.task_id.clone())),
        format!("device:    {}", opt(r.device_id.clone())),
        format!("queued:    {}", r.queued_at.to_rfc3339()),
        format!("started:   {}", opt(r.started_at.map(|t| t.to_rfc3339()))),
        format!("finished:  {}", opt(r.finished_at.map(|t| t.to_rfc3339()))),
        format!("exit code: {}", opt(r.exit_code.map(|c| c.to_string()))),
    ];
    if let Some(error) = &r.error {
        lines.push(format!("error:     {error}"));
    }
    if let Some(retry_of) = &r.retry_of {
        lines.push(format!("retry of:  {retry_of}"));
    }
    if let Some(from) = &r.forked_from {
        lines.push(format!("forked from: {from}"));
    }
    if !forks.is_empty() {
        lines.push(format!("forked as: {}", forks.join(", ")));
    }
    lines.join("\n")
}
