//! Workflows: definitions applied from YAML or JSON files as immutable versions, and runs of
//! them: a DAG of steps, each step an ordinary run, moved on by [`engine::advance_in`]
//! through the one write path, resumed from its checkpoint after a crash, controlled (pause,
//! resume, cancel, approve, reject) from any device and acted on by its runner device.

pub mod definition;
pub mod driver;
pub mod engine;
pub mod lease;
pub mod overrides;
pub mod progress;
mod start;
pub mod templates;

use flightdeck_types::{
    ApplyOutcome, Decision, RunControl, Snapshot, StartWorkflow, Workflow, WorkflowDefinition,
    WorkflowProgress, WorkflowRun, WorkflowRunFilter,
};

pub use definition::Format;
pub use driver::{recover, WorkflowDriver};

use crate::error::{CoreError, Result};
use crate::store::{workflows as sql, Store};

/// Parses and validates a definition without writing anything.
pub fn validate(text: &str, format: Format) -> Result<WorkflowDefinition> {
    definition::parse(text, format)
}

/// Validates `text` and stores it as the next version of the workflow it names, unless it
/// equals the newest version (then nothing is written). Applying a removed workflow's file
/// brings it back.
pub fn apply(store: &Store, text: &str, format: Format) -> Result<ApplyOutcome> {
    let def = definition::parse(text, format)?;
    store.write(|w| {
        let newest = sql::newest(w, &def.name)?.filter(|(wf, _)| wf.name == def.name);
        let version = match newest {
            Some((wf, removed)) if wf.definition == def => {
                if removed {
                    sql::set_removed(w, &wf.name, None)?;
                    w.touched("workflows", &wf.id, flightdeck_types::AuditAction::Update);
                }
                return Ok(ApplyOutcome {
                    workflow: wf,
                    changed: removed,
                });
            }
            Some((wf, removed)) => {
                if removed {
                    sql::set_removed(w, &wf.name, None)?;
                }
                wf.version + 1
            }
            None => 1,
        };
        let workflow = Workflow {
            id: version_id(&def, version),
            version,
            name: def.name.clone(),
            definition: def,
            created_at: w.now(),
        };
        sql::insert_workflow(w, &workflow)?;
        w.touched(
            "workflows",
            &workflow.id,
            flightdeck_types::AuditAction::Create,
        );
        Ok(ApplyOutcome {
            workflow,
            changed: true,
        })
    })
}

/// The id of version `version` of `def`: a hash of the name, the number and the definition
/// (UUID-shaped). Versions are numbered locally (newest + 1), so two devices applying
/// different files under one name while offline both write "v3"; a per-device random id
/// would have split one workflow in two, and a shared id would have let last-writer-wins
/// merge the two definitions into one row. With the content in the id, both versions arrive
/// everywhere, distinct and unchanged; the same file applied on two devices is one row; and a
/// run pins `(id, version)`, so it runs exactly what it started with. Every device orders a
/// name's versions the same way (number, then creation time, then id), so a name resolves
/// the same everywhere.
pub fn version_id(def: &WorkflowDefinition, version: u32) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(def.name.as_bytes());
    hash.update([0]);
    hash.update(version.to_be_bytes());
    hash.update(serde_json::to_vec(def).expect("definitions always serialize"));
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::from_bytes(bytes).to_string()
}

/// The newest version of every workflow, by name.
pub fn list(store: &Store) -> Result<Vec<Workflow>> {
    store.read(sql::list_newest)
}

fn newest(conn: &rusqlite::Connection, key: &str) -> Result<Workflow> {
    sql::newest(conn, key)?
        .map(|(wf, _)| wf)
        .ok_or_else(|| CoreError::NotFound {
            kind: "workflow",
            key: key.to_string(),
        })
}

/// A workflow (name or id) at `version`, or its newest version.
pub fn show(store: &Store, key: &str, version: Option<u32>) -> Result<Workflow> {
    store.read(|c| {
        let wf = newest(c, key)?;
        match version {
            None => Ok(wf),
            Some(v) => sql::named_version(c, &wf.name, v),
        }
    })
}

pub fn versions(store: &Store, key: &str) -> Result<Vec<Workflow>> {
    store.read(|c| sql::versions(c, &newest(c, key)?.name))
}

/// A unified diff of two versions' definitions, as YAML.
pub fn diff(store: &Store, key: &str, from: u32, to: u32) -> Result<String> {
    let (a, b) = store.read(|c| {
        let name = newest(c, key)?.name;
        Ok((
            sql::named_version(c, &name, from)?,
            sql::named_version(c, &name, to)?,
        ))
    })?;
    let yaml = |d: &WorkflowDefinition| {
        serde_yaml_ng::to_string(&definition::to_file(d))
            .map_err(|e| CoreError::Corrupt(format!("definition: {e}")))
    };
    let (left, right) = (yaml(&a.definition)?, yaml(&b.definition)?);
    Ok(similar::TextDiff::from_lines(&left, &right)
        .unified_diff()
        .header(&format!("{} v{from}", a.name), &format!("{} v{to}", b.name))
        .to_string())
}

/// Hides a workflow from lists and refuses new runs of it; runs already made keep their
/// version. Refused while a run of it is live.
pub fn remove(store: &Store, key: &str) -> Result<Workflow> {
    store.write(|w| {
        let wf = newest(w, key)?;
        let live = sql::list_runs(w, Some(&wf.name), &WorkflowRunFilter::default())?
            .into_iter()
            .filter(|r| !r.status.is_final())
            .count();
        if live > 0 {
            return Err(CoreError::Refused(format!(
                "workflow `{}` has {live} run(s) not finished; cancel them first \
                 (`flightdeck workflow runs --workflow {}`)",
                wf.name, wf.name
            )));
        }
        sql::set_removed(w, &wf.name, Some(w.now()))?;
        w.touched("workflows", &wf.id, flightdeck_types::AuditAction::Delete);
        Ok(wf)
    })
}

/// Starts a run on this device; its driver (in the app, the daemon or `workflow start
/// --follow`) moves it on. Secret parameters' values go into `secrets` (this device's
/// keyring), never into the database.
pub fn start(
    store: &Store,
    secrets: &dyn crate::secrets::SecretStore,
    req: &StartWorkflow,
) -> Result<WorkflowRun> {
    store.write(|w| start::resolve_and_start(w, req, None, Some(secrets)))
}

pub fn get_run(store: &Store, id: &str) -> Result<WorkflowRun> {
    store.read(|c| sql::find_run(c, id))
}

/// Run `id`'s status alone (a point read, not its steps): for a watcher that wakes often.
pub fn status_of(store: &Store, id: &str) -> Result<flightdeck_types::WorkflowRunStatus> {
    store.read(|c| sql::run_status(c, id))
}

/// The definition version a run pinned.
pub fn definition_of(store: &Store, run: &WorkflowRun) -> Result<WorkflowDefinition> {
    store.read(|c| Ok(sql::version(c, &run.workflow_id, run.version)?.definition))
}

pub fn runs(store: &Store, filter: &WorkflowRunFilter) -> Result<Vec<WorkflowRun>> {
    store.read(|c| {
        let name = match &filter.workflow {
            Some(key) => Some(newest(c, key)?.name),
            None => None,
        };
        sql::list_runs(c, name.as_deref(), filter)
    })
}

/// A run's boundaries in order, each with the whole checkpoint as it stood there (rebuilt
/// from the changes the rows store: the first row holds the checkpoint whole, each later one
/// the step that moved).
pub fn snapshots(store: &Store, run_id: &str) -> Result<Vec<Snapshot>> {
    let mut rows = store.read(|c| {
        sql::find_run(c, run_id)?;
        sql::snapshots(c, run_id)
    })?;
    let mut whole = flightdeck_types::Checkpoint::default();
    for (i, row) in rows.iter_mut().enumerate() {
        if i == 0 {
            whole = row.checkpoint.clone();
        } else {
            whole
                .steps
                .extend(std::mem::take(&mut row.checkpoint.steps));
            whole.deadline = row.checkpoint.deadline;
            whole.paused_at = row.checkpoint.paused_at;
        }
        whole.boundaries = row.seq + 1;
        row.checkpoint = whole.clone();
    }
    Ok(rows)
}

pub fn progress(store: &Store, run_id: &str) -> Result<WorkflowProgress> {
    store.read(|c| progress::of_run(c, run_id, crate::clock::now()))
}

/// Asks for a control change; any device may, the runner device acts on it.
fn control(store: &Store, id: &str, to: RunControl) -> Result<WorkflowRun> {
    store.write(|w| {
        let run = sql::find_run(w, id)?;
        if run.status.is_final() {
            return Err(CoreError::Refused(format!(
                "workflow run {id} already ended ({})",
                run.status
            )));
        }
        let refused = match (run.control, to) {
            (RunControl::Cancel, _) => Some("is being cancelled"),
            (RunControl::Pause, RunControl::Pause) => Some("is already paused"),
            (RunControl::Run, RunControl::Run) => Some("is not paused"),
            _ => None,
        };
        if let Some(why) = refused {
            return Err(CoreError::Refused(format!("workflow run {id} {why}")));
        }
        sql::set_control(w, id, to)?;
        w.touched("workflow_runs", id, flightdeck_types::AuditAction::Update);
        sql::find_run(w, id)
    })
}

/// No new step starts; running shell steps are stopped (SIGSTOP) until resumed.
pub fn pause(store: &Store, id: &str) -> Result<WorkflowRun> {
    control(store, id, RunControl::Pause)
}

pub fn resume(store: &Store, id: &str) -> Result<WorkflowRun> {
    control(store, id, RunControl::Run)
}

/// Stops running steps and ends the run `cancelled`.
/// Asks for a run's end; a run still queued on this device (no step started) ends at once,
/// whether or not a worker runs.
pub fn cancel(store: &Store, id: &str) -> Result<WorkflowRun> {
    let asked = control(store, id, RunControl::Cancel)?;
    if asked.status != flightdeck_types::WorkflowRunStatus::Queued
        || asked.device_id.as_deref() != Some(store.device_id())
    {
        return Ok(asked);
    }
    store.write(|w| {
        engine::advance_in(w, id)?;
        sql::find_run(w, id)
    })
}

pub fn approve(
    store: &Store,
    id: &str,
    step: &str,
    comment: Option<String>,
) -> Result<WorkflowRun> {
    decide(store, id, step, Decision::Approved, comment)
}

pub fn reject(store: &Store, id: &str, step: &str, comment: Option<String>) -> Result<WorkflowRun> {
    decide(store, id, step, Decision::Rejected, comment)
}

fn decide(
    store: &Store,
    id: &str,
    step: &str,
    decision: Decision,
    comment: Option<String>,
) -> Result<WorkflowRun> {
    store.write(|w| {
        engine::decide_in(w, id, step, decision, comment)?;
        sql::find_run(w, id)
    })
}

/// A new run of the same version from step `from` on, reusing what `id` recorded before it.
pub fn rerun_from(store: &Store, id: &str, from: &str) -> Result<WorkflowRun> {
    store.write(|w| start::rerun_from(w, id, from))
}

pub use start::ForkChanges;

/// The runs made from run `id` by `rerun` or `fork`: (run id, step, forked), oldest first.
pub fn made_from(store: &Store, id: &str) -> Result<Vec<(String, Option<String>, bool)>> {
    store.read(|c| sql::made_from(c, id))
}

/// A fork of run `id` from step `from` (time travel): what had passed when `from` last
/// started is kept, `from` runs with the edited inputs and parameters, what follows again.
pub fn fork(
    store: &Store,
    secrets: &dyn crate::secrets::SecretStore,
    id: &str,
    from: &str,
    changes: &ForkChanges,
) -> Result<WorkflowRun> {
    store.write(|w| start::fork(w, id, from, changes, secrets))
}
