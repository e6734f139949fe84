//! The runner: claims this device's queued runs, executes them (at most `concurrency` at a
//! time), watches for cancel requests, and writes each final status together with the
//! recovery hook's effects in one transaction.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flightdeck_types::{Environment, Execution, ExecutionSpec, Memory};
use serde_json::json;
use tokio::sync::{Notify, Semaphore};

use super::executors::agent_thread::{self, AgentDefaults};
use super::executors::{http, shell, CancelSignal, EventSink, Outcome, SinkConfig};
use super::run_memory::{
    fresh_memory_file, index_recorded_memories, read_memory_file, record_memories,
};
use super::secret_mask::SecretMask;
use super::{agent_context, run_env, step_output};
use crate::error::Result;
use crate::secrets::SecretStore;
use crate::store::{executions, Store};

// Claiming runs and writing a run's end live in `claim`; callers still reach them here.
use super::claim::claim_in;
pub(crate) use super::claim::{claim, end_in};

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Plain runs (a task's run, a schedule's fire, a retry) executing at once.
    pub concurrency: usize,
    /// Workflow steps executing at once on this device, all workflow runs together (each run
    /// also keeps to its own `concurrency`). A pool of its own, so that long plain runs never
    /// hold a workflow back, and a wide workflow never holds plain runs back.
    pub step_concurrency: usize,
    pub sink: SinkConfig,
    pub agent: AgentDefaults,
    /// How often a running run's row is read for a cancel request.
    pub cancel_poll: Duration,
    /// A safety net for changes no subscriber hears of (e.g. rows merged by sync).
    pub idle_poll: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            step_concurrency: default_step_concurrency(),
            sink: SinkConfig::default(),
            agent: AgentDefaults::default(),
            cancel_poll: Duration::from_millis(100),
            idle_poll: Duration::from_millis(500),
        }
    }
}

/// Four steps per core, at least 8: steps are mostly processes that wait (on the network,
/// the disk, an agent's model), so a few per core keep the machine busy without the
/// thousands of processes an unbounded fan-out would start.
pub fn default_step_concurrency() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 4).max(8)
}

pub struct Runner {
    store: Arc<Store>,
    secrets: Arc<dyn SecretStore>,
    config: RunnerConfig,
    /// Set once the loop stops: a run's end then claims nothing more.
    stopping: AtomicBool,
    /// Back after the workflow lease lapsed (see the loop): no step is claimed.
    held: AtomicBool,
}

/// A started runner; [`RunnerHandle::stop`] ends it after the runs in flight finish.
pub struct RunnerHandle {
    stop: Arc<Notify>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl RunnerHandle {
    pub async fn stop(self) -> Result<()> {
        self.stop.notify_one();
        self.task.await.expect("the runner does not panic")
    }
}

impl Runner {
    pub fn new(store: Arc<Store>, secrets: Arc<dyn SecretStore>, config: RunnerConfig) -> Self {
        Self {
            store,
            secrets,
            config,
            stopping: AtomicBool::new(false),
            held: AtomicBool::new(false),
        }
    }

    /// Starts the loop on the current tokio runtime. The caller should hold the worker lock
    /// and have called [`super::recover_interrupted`] first.
    pub fn spawn(self) -> RunnerHandle {
        let stop = Arc::new(Notify::new());
        let task = tokio::spawn(self.run(stop.clone()));
        RunnerHandle { stop, task }
    }

    async fn run(self, stop: Arc<Notify>) -> Result<()> {
        let wake = Arc::new(Notify::new());
        // Not runs moving from one status to another: a claim is this loop's own doing, and a
        // run's end wakes it when its task gives the slot back (below).
        forward_changes(&self.store, wake.clone(), |c| {
            c.table == "executions" && c.action != flightdeck_types::AuditAction::Transition
        });
        let slots = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let step_slots = Arc::new(Semaphore::new(self.config.step_concurrency.max(1)));
        let in_flight: Arc<Mutex<HashSet<String>>> = Arc::default();
        let mut tasks = tokio::task::JoinSet::new();
        let this = Arc::new(self);
        // Back after the workflow lease lapsed: no step runs here until a sync says whether
        // another device adopted the runs (see `workflows::lease`).
        let mut held = crate::workflows::lease::held(&this.store)?;
        this.held.store(held, Ordering::SeqCst);
        loop {
            if held && !crate::workflows::lease::held(&this.store)? {
                held = false;
                this.held.store(false, Ordering::SeqCst);
                let (store, secrets) = (this.store.clone(), this.secrets.clone());
                tokio::task::spawn_blocking(move || {
                    super::recover_held_steps(&store, secrets.as_ref())
                })
                .await
                .expect("recovery does not panic")?;
            }
            let free = slots.available_permits() as u32;
            let free_steps = if held {
                0
            } else {
                step_slots.available_permits() as u32
            };
            // The claim and the next wake-up's time in one trip to a blocking thread: neither
            // read holds up this runtime's workers (a chain's every step wakes this loop).
            let (claimed, wait) = {
                let store = this.store.clone();
                let idle_poll = this.config.idle_poll;
                tokio::task::spawn_blocking(move || -> Result<_> {
                    let claimed = if free > 0 || free_steps > 0 {
                        claim(&store, free, free_steps)?
                    } else {
                        Vec::new()
                    };
                    Ok((claimed, next_wait(&store, idle_poll)?))
                })
                .await
                .expect("claiming does not panic")?
            };
            for run in claimed {
                // Never more claimed than free, so these do not wait.
                let pool = match run.workflow_run_id {
                    None => &slots,
                    Some(_) => &step_slots,
                };
                let permit = pool.clone().acquire_owned().await.expect("never closed");
                in_flight.lock().unwrap().insert(run.id.clone());
                let this = this.clone();
                let in_flight = in_flight.clone();
                let wake = wake.clone();
                tasks.spawn(async move {
                    // A run's end may claim the next run for this slot in the same write
                    // (see `execute`): it runs here, on the same permit, with no wake-up
                    // and no claim of its own in between.
                    let mut run = run;
                    loop {
                        let id = run.id.clone();
                        let next = match this.execute(run).await {
                            Ok(next) => next,
                            Err(e) => {
                                tracing::error!(error = %e, run = %id, "could not record a run's end");
                                None
                            }
                        };
                        in_flight.lock().unwrap().remove(&id);
                        let Some(next) = next else { break };
                        in_flight.lock().unwrap().insert(next.id.clone());
                        run = next;
                    }
                    drop(permit);
                    wake.notify_one();
                });
            }
            while tasks.try_join_next().is_some() {}
            tokio::select! {
                _ = stop.notified() => {
                    this.stopping.store(true, Ordering::SeqCst);
                    break;
                }
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        while tasks.join_next().await.is_some() {}
        Ok(())
    }

    /// Executes `run` and records its end; returns the run that end claimed for the same
    /// slot, if any (a chain's next step, queued by the engine in that very write).
    async fn execute(&self, run: Execution) -> Result<Option<Execution>> {
        if run.status.is_final() {
            return Ok(None); // cancelled while queued; claim already ended it
        }
        // The sink numbers each batch after the run's last event in the batch's own write
        // (another process may add events too): numbering from 0 costs no read here, which
        // a chain's every step paid for on its path.
        let first_seq = 0;
        let environment = self.environment_of(&run)?;
        let secret_env = match &environment {
            Some(env) => shell::secret_values(env, self.secrets.as_ref()),
            None => Ok(Vec::new()),
        };
        // A workflow run's secret parameters this step names, from this device's keyring.
        let param_values = super::step_secrets::param_values(&run.spec, self.secrets.as_ref());
        let mask = Arc::new(match &secret_env {
            Ok(values) => SecretMask::new(
                values
                    .iter()
                    .chain(param_values.iter().flatten())
                    .map(|(_, value)| value),
            ),
            Err(_) => SecretMask::for_environment(environment.as_ref(), self.secrets.as_ref())
                .with(param_values.iter().flatten().map(|(_, value)| value)),
        });
        let (sink, writer) = EventSink::start(
            self.store.clone(),
            run.id.clone(),
            first_seq,
            self.config.sink,
            mask.clone(),
        );
        let (cancel_tx, cancel) = CancelSignal::new();
        let watcher = tokio::spawn(watch_cancel(
            self.store.clone(),
            run.id.clone(),
            self.config.cancel_poll,
            cancel_tx,
        ));
        // Past what is expected of it, the run is reported slow (once; its end resolves that).
        let slow = tokio::spawn(crate::recovery::slow::watch(
            self.store.clone(),
            run.clone(),
        ));
        // A workflow step's `{{ secrets.NAME }}`: values go into this copy only.
        let spec = match (super::step_secrets::uses_secrets(&run.spec), &param_values) {
            (false, _) => Ok(run.spec.clone()),
            (true, Err(param)) => Err(format!(
                "secret parameter `{param}` of this run is not in this device's keyring (a \
                 run's secret parameters stay on the device that started it)"
            )),
            (true, Ok(params)) => {
                let mut values = params.clone();
                values.extend(secret_env.iter().flatten().cloned());
                super::step_secrets::resolve(&run.spec, &values).map_err(|name| match &secret_env {
                    Err(e) => e.to_string(),
                    Ok(_) => format!(
                        "the step uses `{{{{ secrets.{name} }}}}`, and its environment {} has \
                         no secret variable `{name}` (add it with `flightdeck env update ENV \
                         --secret-var {name}` and set its value)",
                        environment
                            .as_ref()
                            .map_or("(none)".to_string(), |e| format!("`{}`", e.name))
                    ),
                })
            }
        };
        let memory_file = match &run.spec {
            ExecutionSpec::Shell(_) => match fresh_memory_file(&self.store, &run.id) {
                Ok(path) => Some(path),
                Err(e) => {
                    // The run still runs; it just has nowhere to write memories to.
                    tracing::warn!(error = %e, run = %run.id, "no memory file for this run");
                    None
                }
            },
            _ => None,
        };
        let step_output = match (&run.spec, &run.workflow_run_id) {
            (ExecutionSpec::Shell(_), Some(_)) => {
                match step_output::fresh_file(&self.store, &run.id) {
                    Ok(path) => Some(path),
                    Err(e) => {
                        tracing::warn!(error = %e, run = %run.id, "no output file for this step");
                        None
                    }
                }
            }
            _ => None,
        };
        let outcome = match &spec {
            Err(e) => Outcome::failed(e.clone()),
            Ok(ExecutionSpec::Shell(spec)) => {
                let mut extra_env = run_env::run_env(&self.store, &run);
                extra_env.extend(step_output::step_env(&run, step_output.as_deref()));
                if let Some(file) = self.give_context(&run, &sink).await {
                    extra_env.push((agent_context::CONTEXT_FILE_ENV, file.display().to_string()));
                }
                match &secret_env {
                    Ok(secret_env) => {
                        let ctx = shell::ShellContext {
                            environment: environment.as_ref(),
                            secret_env,
                            retry_after_pattern: run.retry_policy.retry_after_pattern.as_deref(),
                            memory_file: memory_file.as_deref(),
                            extra_env,
                        };
                        match super::worktree::plan(spec, environment.as_ref()) {
                            Err(e) => Outcome::failed(e.to_string()),
                            Ok(None) => shell::run(spec, &ctx, &sink, cancel).await,
                            Ok(Some(plan)) => {
                                super::worktree::run_in_worktree(
                                    &self.store,
                                    &run,
                                    spec,
                                    &ctx,
                                    environment.as_ref(),
                                    plan,
                                    &sink,
                                    cancel,
                                )
                                .await
                            }
                        }
                    }
                    Err(e) => Outcome::failed(e.to_string()),
                }
            }
            Ok(ExecutionSpec::Http(spec)) => http::run(spec, &sink, cancel).await,
            Ok(ExecutionSpec::AgentThread(spec)) => {
                agent_thread::run(spec, &self.config.agent, &sink, cancel).await
            }
            // Claimed without an executor task: the workflow run it starts ends it.
            Ok(ExecutionSpec::Workflow(_)) => {
                Outcome::failed("a workflow run is not executed here")
            }
        };
        watcher.abort();
        slow.abort();
        drop(sink);
        let totals = writer.await.expect("the event writer does not panic")?;
        let store = self.store.clone();
        // The slot this run frees, claimed again in its end's write: (plain runs, steps).
        let then_claim = match (&run.workflow_run_id, self.stopping.load(Ordering::SeqCst)) {
            (_, true) => None,
            (None, false) => Some((1, 0)),
            (Some(_), false) => (!self.held.load(Ordering::SeqCst)).then_some((0, 1)),
        };
        // For the run's span (telemetry): the agent's program, by name.
        let agent_name = environment
            .as_ref()
            .and_then(|e| e.agent_command.as_deref())
            .and_then(|c| c.split_whitespace().next())
            .map(|p| p.rsplit('/').next().unwrap_or(p).to_string());
        tokio::task::spawn_blocking(move || {
            let mut outcome = outcome;
            if run.workflow_run_id.is_some() {
                step_output::add_to_result(
                    &run.spec,
                    &mut outcome.result,
                    &totals,
                    step_output.as_deref(),
                );
            }
            if let Some(result) = &mut outcome.result {
                mask.mask_json(result);
            }
            if let Some(error) = &mut outcome.error {
                mask.mask_string(error);
            }
            let (run_id, workflow_run) = (run.id.clone(), run.workflow_run_id.clone());
            let (recorded, next) =
                finish(&store, run, outcome, totals, memory_file, &mask, then_claim)?;
            if crate::telemetry::enabled() {
                spans(
                    &store,
                    &run_id,
                    workflow_run.as_deref(),
                    agent_name.as_deref(),
                );
            }
            if !recorded.is_empty() {
                index_recorded_memories(&store, &recorded);
            }
            Ok(next)
        })
        .await
        .expect("finishing does not panic")
    }

    /// An agent run's context file (see [`agent_context::prepare`]), with a `context` event
    /// saying what went in it or why there is none.
    async fn give_context(&self, run: &Execution, sink: &EventSink) -> Option<PathBuf> {
        // Only an agent's run gets a context: any other costs no hand-off to a thread.
        if !matches!(&run.spec, ExecutionSpec::Shell(s) if s.agent_prompt.is_some()) {
            return None;
        }
        let store = self.store.clone();
        let run = run.clone();
        let (file, event) =
            tokio::task::spawn_blocking(move || agent_context::prepare(&store, &run))
                .await
                .expect("the context does not panic")?;
        sink.push("context", event.to_string());
        file
    }

    /// The run's environment; an id that no longer resolves (deleted on a peer) means none.
    fn environment_of(&self, run: &Execution) -> Result<Option<Environment>> {
        let Some(id) = &run.environment_id else {
            return Ok(None);
        };
        match crate::environments::get(&self.store, id) {
            Ok(env) => Ok(Some(env)),
            Err(crate::CoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Until the next run's not_before on this device, capped by `idle_poll`.
fn next_wait(store: &Store, idle_poll: Duration) -> Result<Duration> {
    let now = crate::clock::now();
    let next = store.read(|c| executions::next_not_before(c, store.device_id(), now))?;
    let until = next
        .map(|t| Duration::from_millis((t - now.as_millis()).max(0) as u64))
        .unwrap_or(idle_poll);
    Ok(until.min(idle_poll))
}

/// Wakes `wake` when a committed change `wanted` accepts, from a thread (subscribers are std
/// channels). The thread ends when the store drops the sender or the waiter is gone. The
/// runner and the workflow driver both wait this way.
pub(crate) fn forward_changes(
    store: &Store,
    wake: Arc<Notify>,
    wanted: impl Fn(&crate::store::Change) -> bool + Send + 'static,
) {
    let changes = store.subscribe_to(wanted);
    let weak = Arc::downgrade(&wake);
    drop(wake);
    std::thread::spawn(move || {
        while changes.recv().is_ok() {
            let Some(wake) = weak.upgrade() else { break };
            wake.notify_one();
        }
    });
}

/// The spans of a run that ended, and of its workflow run if that ended with it.
fn spans(store: &Store, run_id: &str, workflow_run: Option<&str>, agent: Option<&str>) {
    if let Ok(done) = store.read(|c| executions::find(c, run_id)) {
        crate::telemetry::run_ended(&done, agent);
    }
    let Some(id) = workflow_run else { return };
    // The status alone first: reading the whole run (its steps) at every step's end would
    // cost a long chain dearly.
    if crate::workflows::status_of(store, id).is_ok_and(|s| s.is_final()) {
        if let Ok(wf) = crate::workflows::get_run(store, id) {
            crate::telemetry::workflow_run_ended(&wf);
        }
    }
}

async fn watch_cancel(
    store: Arc<Store>,
    id: String,
    every: Duration,
    cancel: tokio::sync::watch::Sender<bool>,
) {
    loop {
        tokio::time::sleep(every).await;
        let store2 = store.clone();
        let id2 = id.clone();
        let asked = tokio::task::spawn_blocking(move || {
            store2.read(|c| executions::cancel_requested_at(c, &id2))
        })
        .await;
        if let Ok(Ok(Some(_))) = asked {
            let _ = cancel.send(true);
            return;
        }
    }
}

/// Writes the run's end, with the memories it recorded (from `memory:` output lines and its
/// memory file) in the same transaction; returns those memories, and the run claimed in that
/// write for the slot it frees (`then_claim`: plain runs, steps), if one was ready. Claiming
/// there saves a chain's next step a write of its own and the runner's wake-up.
fn finish(
    store: &Store,
    run: Execution,
    outcome: Outcome,
    totals: super::executors::SinkTotals,
    memory_file: Option<PathBuf>,
    mask: &SecretMask,
    then_claim: Option<(u32, u32)>,
) -> Result<(Vec<Memory>, Option<Execution>)> {
    let mut result = outcome.result;
    if matches!(run.spec, ExecutionSpec::Shell(_)) {
        let r = result.get_or_insert_with(|| json!({}));
        r["output_bytes"] = json!(totals.output_bytes);
        r["truncated"] = json!(totals.truncated);
    }
    let (file_text, file_error) = match &memory_file {
        Some(path) => read_memory_file(path, mask),
        None => (None, None),
    };
    crate::failpoint::hit("step-exited", run.step_id.as_deref());
    let (recorded, next) = store.write(|w| {
        if then_claim.is_some() {
            // The history this write records waits for the next write when it claims a run:
            // the process record made while that run's command starts (`store/staged.rs`).
            w.stage_history();
        }
        let old = executions::find(w, &run.id)?;
        let mut result = result;
        let file = (file_text.as_deref(), file_error);
        let recorded = record_memories(w, &run.id, &totals.memory_lines, file, &mut result)?;
        let new = Execution {
            status: outcome.status,
            exit_code: outcome.exit_code,
            result,
            error: outcome.error,
            finished_at: Some(w.now()),
            ..old.clone()
        };
        let seq = executions::next_event_seq(w, &run.id)?.max(totals.next_seq);
        end_in(w, &old, &new, seq)?;
        let next = match then_claim {
            Some((limit, step_limit)) => claim_in(w, limit, step_limit)?.pop(),
            None => None,
        };
        if next.is_none() {
            // No write of this process follows at once: the history goes where it belongs now.
            w.flush_staged()?;
        }
        Ok((recorded, next))
    })?;
    if let Some(path) = &memory_file {
        // Read into the store by now; a leftover would only be read by nobody.
        let _ = std::fs::remove_file(path);
    }
    Ok((recorded, next))
}
