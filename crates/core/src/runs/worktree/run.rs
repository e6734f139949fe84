//! A shell run in its own worktree: make it, run the environment's setup script there, run
//! the command there, then take the diff (whatever the run's status: a failed agent's work is
//! worth reading too).

use std::sync::Arc;

use flightdeck_types::{Environment, Execution, ExecutionStatus, ShellSpec};
use serde_json::json;

use super::{collect, prepare, reuse, Plan, Prepared};
use crate::runs::executors::{shell, CancelSignal, EventSink, Outcome};
use crate::store::{executions, Store};

/// Variables the command sees besides the usual ones: the worktree, its branch and base.
pub const WORKTREE_ENV: &str = "FLIGHTDECK_WORKTREE";
pub const BRANCH_ENV: &str = "FLIGHTDECK_BRANCH";
pub const BASE_BRANCH_ENV: &str = "FLIGHTDECK_BASE_BRANCH";

#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_in_worktree(
    store: &Arc<Store>,
    run: &Execution,
    spec: &ShellSpec,
    ctx: &shell::ShellContext<'_>,
    environment: Option<&Environment>,
    plan: Plan,
    sink: &EventSink,
    cancel: CancelSignal,
) -> Outcome {
    let reusing = matches!(plan, Plan::Reuse(_));
    let made = {
        let (store, run, spec, environment) = (
            store.clone(),
            run.clone(),
            spec.clone(),
            environment.cloned(),
        );
        tokio::task::spawn_blocking(move || match (plan, environment) {
            (Plan::Reuse(earlier), _) => reuse(&store, &earlier),
            (Plan::New(repository), Some(environment)) => {
                prepare(&store, &run, &spec, &environment, &repository)
            }
            (Plan::New(_), None) => Err(crate::CoreError::invalid(
                "isolation",
                "a worktree run needs an environment with a repository",
            )),
        })
        .await
        .expect("making a worktree does not panic")
    };
    let Prepared {
        mut record,
        work_dir,
    } = match made {
        Ok(prepared) => prepared,
        Err(e) => return Outcome::failed(e.to_string()),
    };
    let recorded = json!({ "worktree": record });
    sink.push("worktree", recorded["worktree"].to_string());
    {
        // Recorded at once, so a run that dies half-way still names its worktree.
        let (store, id) = (store.clone(), run.id.clone());
        let saved = tokio::task::spawn_blocking(move || {
            store.write(|w| executions::set_result(w, &id, Some(&recorded)))
        })
        .await
        .expect("writing does not panic");
        if let Err(e) = saved {
            tracing::warn!(error = %e, run = %run.id, "the worktree is not recorded yet");
        }
    }
    let mut env = spec.env.clone();
    env.insert(WORKTREE_ENV.into(), record.path.clone());
    env.insert(BRANCH_ENV.into(), record.branch.clone());
    env.insert(BASE_BRANCH_ENV.into(), record.base_branch.clone());
    let work_dir = work_dir.to_string_lossy().into_owned();
    // A worktree being re-used was set up by the run that made it.
    let setup = environment
        .filter(|_| !reusing)
        .and_then(|e| Some((e.name.as_str(), e.setup_script.as_deref()?)))
        .filter(|(_, s)| !s.trim().is_empty());
    let mut failed_setup = None;
    if let Some((env_name, script)) = setup {
        sink.push(
            "setup",
            format!("the setup script of environment `{env_name}`, in the worktree"),
        );
        let setup_spec = ShellSpec {
            line: Some(script.to_string()),
            working_dir: Some(work_dir.clone()),
            env: env.clone(),
            timeout_secs: spec.timeout_secs,
            ..ShellSpec::default()
        };
        let done = shell::run(&setup_spec, ctx, sink, cancel.clone()).await;
        if done.status != ExecutionStatus::Succeeded {
            let why = done.error.clone().unwrap_or_else(|| match done.exit_code {
                Some(code) => format!("exit code {code}"),
                None => done.status.to_string(),
            });
            failed_setup = Some(Outcome {
                error: Some(format!(
                    "the setup script of environment `{env_name}` failed ({why}); the command \
                     did not run"
                )),
                ..done
            });
        }
    }
    let mut outcome = match failed_setup {
        Some(outcome) => outcome,
        None => {
            let work_spec = ShellSpec {
                working_dir: Some(work_dir),
                env,
                ..spec.clone()
            };
            shell::run(&work_spec, ctx, sink, cancel).await
        }
    };
    let (store, id) = (store.clone(), run.id.clone());
    let collected = tokio::task::spawn_blocking(move || {
        let taken = collect(&store, &id, &mut record);
        (taken, record)
    })
    .await
    .expect("taking a diff does not panic");
    let (taken, record) = collected;
    match taken {
        Ok(()) => sink.push(
            "diff",
            format!(
                "{} files changed, +{} -{} on {}",
                record.files_changed, record.lines_added, record.lines_removed, record.branch
            ),
        ),
        Err(e) => sink.push("diff", format!("the diff could not be taken: {e}")),
    }
    let result = outcome.result.get_or_insert_with(|| json!({}));
    result["worktree"] = serde_json::to_value(&record).expect("a record serializes");
    outcome
}
