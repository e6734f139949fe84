//! `flightdeck workflow ...`

use std::sync::Arc;

use flightdeck_core::workflows::{self, Format};
use flightdeck_core::{CoreError, Store};
use flightdeck_types::{StartWorkflow, Workflow, WorkflowRun, WorkflowRunFilter};

use super::workflow_follow::{follow, print_logs, render_status};
use crate::args::{ForkArgs, StartArgs, WorkflowCommand};
use crate::output::{table, Output};

fn read_file(path: &std::path::Path) -> Result<(String, Format), CoreError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CoreError::io(format!("cannot read {}", path.display()), e))?;
    Ok((text, Format::of_path(path)))
}

pub fn run(store: Arc<Store>, cmd: &WorkflowCommand, out: &Output) -> Result<(), CoreError> {
    match cmd {
        WorkflowCommand::Apply { file } => {
            let (text, format) = read_file(file)?;
            let applied = workflows::apply(&store, &text, format)?;
            let wf = &applied.workflow;
            out.print(&applied, || match applied.changed {
                true => format!("applied {} v{} ({})", wf.name, wf.version, wf.id),
                false => format!("{} v{} is unchanged; nothing applied", wf.name, wf.version),
            });
        }
        WorkflowCommand::Validate { file } => {
            let (text, format) = read_file(file)?;
            let def = workflows::validate(&text, format)?;
            out.print(&def, || {
                format!("{}: valid, {} step(s)", def.name, def.steps.len())
            });
        }
        WorkflowCommand::List => {
            let found = workflows::list(&store)?;
            out.print(&found, || render_list(&found));
        }
        WorkflowCommand::Show { workflow, version } => {
            let wf = workflows::show(&store, workflow, *version)?;
            out.print(&wf, || render_definition(&wf));
        }
        WorkflowCommand::Versions { workflow } => {
            let found = workflows::versions(&store, workflow)?;
            out.print(&found, || {
                let rows = found
                    .iter()
                    .map(|w| {
                        vec![
                            format!("v{}", w.version),
                            w.id.clone(),
                            w.created_at.to_rfc3339(),
                            w.definition.steps.len().to_string(),
                        ]
                    })
                    .collect::<Vec<_>>();
                let mut text = table(&["VERSION", "ID", "CREATED", "STEPS"], &rows);
                let numbers: Vec<u32> = found.iter().map(|w| w.version).collect();
                if numbers.windows(2).any(|p| p[0] == p[1]) {
                    text.push_str(
                        "\ntwo versions with one number were applied on two devices while \
                         offline; both are kept, and the later one is what `vN` names",
                    );
                }
                text
            });
        }
        WorkflowCommand::Diff { workflow, from, to } => {
            let diff = workflows::diff(&store, workflow, *from, *to)?;
            out.print(&serde_json::json!({ "diff": diff }), || {
                match diff.is_empty() {
                    true => format!("v{from} and v{to} are the same"),
                    false => diff.clone(),
                }
            });
        }
        WorkflowCommand::Rm { workflow } => {
            let wf = workflows::remove(&store, workflow)?;
            out.print(&wf, || format!("removed workflow {}", wf.name));
        }
        WorkflowCommand::Start(args) => start(store, args, out)?,
        WorkflowCommand::Runs {
            workflow,
            status,
            limit,
        } => {
            let filter = WorkflowRunFilter {
                workflow: workflow.clone(),
                status: *status,
                limit: Some(*limit),
            };
            let found = workflows::runs(&store, &filter)?;
            out.print(&found, || render_runs(&found));
        }
        WorkflowCommand::Status { run } => {
            let progress = workflows::progress(&store, run)?;
            let found = workflows::get_run(&store, run)?;
            let idle = found.status == flightdeck_types::WorkflowRunStatus::Queued
                && found.device_id.as_deref() == Some(store.device_id())
                && flightdeck_core::runs::lock::worker_holder(&store).is_none();
            let lease = workflows::lease::note(&store, &found)?;
            let made = workflows::made_from(&store, &found.id)?;
            out.print(&progress, || {
                let mut text = render_status(&progress);
                if let Some(note) = &lease {
                    text.push_str(&format!("\nlease:     {note}"));
                }
                for (id, step, forked) in &made {
                    text.push_str(&format!(
                        "\n{}  {id} {} step {}",
                        if *forked { "forked as:" } else { "rerun as: " },
                        if *forked { "at" } else { "from" },
                        step.as_deref().unwrap_or("?")
                    ));
                }
                if idle {
                    text.push_str(&format!(
                        "\n{}, or `flightdeck workflow follow {}`",
                        flightdeck_core::runs::lock::NO_WORKER,
                        found.id
                    ));
                }
                text
            });
        }
        WorkflowCommand::Follow { run } => {
            let run = workflows::get_run(&store, run)?;
            follow_here(store, &run, false, out)?;
        }
        WorkflowCommand::Logs { run, step } => print_logs(&store, run, step.as_deref(), out)?,
        WorkflowCommand::Snapshots { run } => {
            let found = workflows::snapshots(&store, run)?;
            out.print(&found, || {
                let rows = found
                    .iter()
                    .map(|s| {
                        vec![
                            s.seq.to_string(),
                            s.finished_at.unwrap_or(s.started_at).to_rfc3339(),
                            s.step_id.clone().unwrap_or_else(|| "-".into()),
                            s.label.clone(),
                        ]
                    })
                    .collect::<Vec<_>>();
                table(&["#", "AT", "STEP", "BOUNDARY"], &rows)
            });
        }
        WorkflowCommand::Pause { run } => {
            let r = workflows::pause(&store, run)?;
            out.print(&r, || format!("pause requested for workflow run {}", r.id));
        }
        WorkflowCommand::Resume { run } => {
            let r = workflows::resume(&store, run)?;
            out.print(&r, || format!("resume requested for workflow run {}", r.id));
        }
        WorkflowCommand::Adopt { run } => {
            let r = workflows::lease::adopt(&store, run)?;
            out.print(&r, || {
                format!(
                    "adopted workflow run {}: it runs on this device from its checkpoint",
                    r.id
                )
            });
            if flightdeck_core::runs::lock::worker_holder(&store).is_none() {
                eprintln!(
                    "{}, or `flightdeck workflow follow {}`",
                    flightdeck_core::runs::lock::NO_WORKER,
                    r.id
                );
            }
        }
        WorkflowCommand::Cancel { run } => {
            let r = workflows::cancel(&store, run)?;
            out.print(&r, || format!("cancel requested for workflow run {}", r.id));
        }
        WorkflowCommand::Approve { run, step, comment } => {
            let r = workflows::approve(&store, run, step, comment.clone())?;
            out.print(&r, || {
                format!("approved step {step} of workflow run {}", r.id)
            });
        }
        WorkflowCommand::Reject { run, step, comment } => {
            let r = workflows::reject(&store, run, step, comment.clone())?;
            out.print(&r, || {
                format!("rejected step {step} of workflow run {}", r.id)
            });
        }
        WorkflowCommand::Fork(ForkArgs {
            run,
            step,
            inputs,
            params,
            follow,
        }) => {
            let inputs = fork_inputs(inputs)?;
            let Some(step) = step else {
                return Err(CoreError::invalid(
                    "step",
                    format!(
                        "give --step STEP: the step of workflow run {run} to fork at (`flightdeck \
                         workflow status {run}` lists them)"
                    ),
                ));
            };
            let secrets = super::secrets(&store)?.store;
            let changes = workflows::ForkChanges {
                inputs,
                params: params.clone(),
            };
            let r = workflows::fork(&store, secrets.as_ref(), run, step, &changes)?;
            let said = format!("fork of {run} at step {step}");
            made_from_run(store, r, &said, *follow, out)?;
        }
        WorkflowCommand::Rerun { run, from, follow } => {
            let r = workflows::rerun_from(&store, run, from)?;
            let said = format!("rerun of {run} from step {from}");
            made_from_run(store, r, &said, *follow, out)?;
        }
    }
    Ok(())
}

/// `--input FIELD=TEXT` pairs.
pub fn fork_inputs(inputs: &[String]) -> Result<Vec<(String, String)>, CoreError> {
    inputs
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .ok_or_else(|| {
                    CoreError::invalid(
                        "input",
                        format!("`{pair}` is not FIELD=TEXT (e.g. --input 'shell=echo hi')"),
                    )
                })
        })
        .collect()
}

/// After a rerun or a fork: which steps keep their recorded outputs (stderr), then the new
/// run's id, or the run followed to its end.
fn made_from_run(
    store: Arc<Store>,
    r: WorkflowRun,
    said: &str,
    follow: bool,
    out: &Output,
) -> Result<(), CoreError> {
    if !out.is_json() {
        let mut reused: Vec<&str> = r
            .checkpoint
            .steps
            .iter()
            .filter(|(_, s)| s.reused_from.is_some())
            .map(|(id, _)| id.as_str())
            .collect();
        reused.sort();
        eprintln!(
            "{said}: {}",
            if reused.is_empty() {
                "no step reused, every step runs again".to_string()
            } else {
                format!("reusing the outputs of {}", reused.join(", "))
            }
        );
    }
    if follow {
        follow_here(store, &r, true, out)
    } else {
        out.print(&r, || r.id.clone());
        Ok(())
    }
}

fn start(store: Arc<Store>, args: &StartArgs, out: &Output) -> Result<(), CoreError> {
    let mut text_params = args.params.clone();
    for pair in &args.param_env {
        let (name, var) = pair.split_once('=').ok_or_else(|| {
            CoreError::invalid(
                "param-env",
                format!("`{pair}` is not K=VAR (e.g. --param-env token=DEPLOY_TOKEN)"),
            )
        })?;
        let value = std::env::var(var.trim()).map_err(|_| {
            CoreError::invalid(
                "param-env",
                format!("--param-env {pair}: ${} is not set", var.trim()),
            )
        })?;
        text_params.push(format!("{}={value}", name.trim()));
    }
    let secrets = super::secrets(&store)?.store;
    let run = workflows::start(
        &store,
        secrets.as_ref(),
        &StartWorkflow {
            workflow: args.workflow.clone(),
            version: args.version,
            text_params,
            task_id: args.task.clone(),
            environment: args.env.clone(),
            ..StartWorkflow::default()
        },
    )?;
    if !args.follow {
        out.print(&run, || run.id.clone());
        if flightdeck_core::runs::lock::worker_holder(&store).is_none() {
            eprintln!(
                "{}, or `flightdeck workflow follow {}`",
                flightdeck_core::runs::lock::NO_WORKER,
                run.id
            );
        }
        return Ok(());
    }
    follow_here(store, &run, true, out)
}

/// Follows `run` to its end, running the worker in this process when nobody else does.
/// Exits non-zero unless the run succeeded.
fn follow_here(
    store: Arc<Store>,
    run: &WorkflowRun,
    cancel_on_ctrl_c: bool,
    out: &Output,
) -> Result<(), CoreError> {
    let runtime = super::follower_runtime()?;
    if out.is_json() {
        // JSON Lines from the first line: the run's id first, so a script can approve it.
        out.line(&serde_json::json!({
            "type": "run", "id": run.id, "workflow": run.workflow_name, "version": run.version,
        }));
    } else {
        eprintln!(
            "workflow run {} ({} v{})",
            run.id, run.workflow_name, run.version
        );
    }
    let worker = super::worker::LocalWorker::try_start(&store, &runtime, "flightdeck workflow")?;
    if cancel_on_ctrl_c {
        let (store, id) = (store.clone(), run.id.clone());
        runtime.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = workflows::cancel(&store, &id);
            }
        });
    }
    let followed = follow(&store, &run.id, out);
    if let Some(worker) = worker {
        worker.stop(&store, &runtime)?;
    }
    let done = followed?;
    if out.is_json() {
        out.line(&serde_json::json!({ "type": "end", "run": done }));
    }
    match done.status {
        flightdeck_types::WorkflowRunStatus::Succeeded => Ok(()),
        status => Err(CoreError::Refused(format!(
            "workflow run {} {status}{}",
            done.id,
            done.error.map(|e| format!(": {e}")).unwrap_or_default()
        ))),
    }
}

fn render_list(found: &[Workflow]) -> String {
    if found.is_empty() {
        return "no workflows yet; write one and `flightdeck workflow apply FILE`".into();
    }
    let rows = found
        .iter()
        .map(|w| {
            vec![
                w.name.clone(),
                format!("v{}", w.version),
                w.definition.steps.len().to_string(),
                w.definition.description.clone().unwrap_or_default(),
            ]
        })
        .collect::<Vec<_>>();
    table(&["NAME", "VERSION", "STEPS", "DESCRIPTION"], &rows)
}

fn render_definition(wf: &Workflow) -> String {
    // The file's own shape, so that `workflow apply` takes this output unchanged.
    let file = flightdeck_core::workflows::definition::to_file(&wf.definition);
    let yaml = serde_yaml_ng::to_string(&file).unwrap_or_default();
    format!(
        "# {} v{} ({}), applied {}\n{yaml}",
        wf.name,
        wf.version,
        wf.id,
        wf.created_at.to_rfc3339()
    )
}

fn render_runs(found: &[WorkflowRun]) -> String {
    if found.is_empty() {
        return "no workflow runs yet; start one with `flightdeck workflow start NAME`".into();
    }
    let rows = found
        .iter()
        .map(|r| {
            let done = r
                .checkpoint
                .steps
                .values()
                .filter(|s| s.status.is_final())
                .count();
            vec![
                r.id.clone(),
                format!("{} v{}", r.workflow_name, r.version),
                r.status.to_string(),
                format!("{done}/{}", r.checkpoint.steps.len()),
                r.queued_at.to_rfc3339(),
            ]
        })
        .collect::<Vec<_>>();
    table(&["ID", "WORKFLOW", "STATUS", "STEPS", "QUEUED"], &rows)
}
