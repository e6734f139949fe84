//! OpenTelemetry export. With `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, [`init_from_env`] sets up a tracer provider that
//! sends spans over OTLP/HTTP (protobuf) in batches from a thread of its own; the standard
//! `OTEL_*` variables (headers, service name, resource attributes, timeout) apply. Without
//! it nothing is set up, and every function here returns at once.
//!
//! Spans: one per run when it ends (`run shell`, `invoke_agent NAME` for an agent run), with
//! the task and run ids, `process.command_line` for shell runs and `gen_ai.*` for agent runs;
//! one per workflow run when it ends (`invoke_workflow NAME`), the parent of its steps' runs.
//! Ids come from the runs' own ids (a run's UUID is its trace id when it has no workflow run,
//! a workflow run's UUID its trace's), so a step's span finds its workflow run's as parent
//! whichever process recorded either. A failed run's span has error status and its message.
//! Each store write transaction (`store.write`: rows changed) and sync round (`sync.round`:
//! cells pushed and pulled, conflicts) is a span of its own. Metrics go the same way:
//! `flightdeck_runs_total` and `flightdeck_run_duration_seconds`, by status and executor.

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use flightdeck_types::{Execution, ExecutionSpec, Timestamp, WorkflowRun};
use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _};
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    TraceState, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SdkTracerProvider};

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();
static METRICS: OnceLock<(SdkMeterProvider, Instruments)> = OnceLock::new();

/// The `flightdeck_*` metrics, exported with the spans.
struct Instruments {
    /// Runs that ended, by status and executor.
    runs: Counter<u64>,
    /// Their durations, start to end, in seconds, by status and executor.
    durations: Histogram<f64>,
}

thread_local! {
    /// The ids the next span started on this thread takes (see [`Ids`]).
    static NEXT_IDS: Cell<Option<(TraceId, SpanId)>> = const { Cell::new(None) };
}

/// Ids from the runs' own when a span is started by [`start`], random otherwise.
#[derive(Debug, Default)]
struct Ids(RandomIdGenerator);

impl IdGenerator for Ids {
    fn new_trace_id(&self) -> TraceId {
        NEXT_IDS
            .with(Cell::get)
            .map_or_else(|| self.0.new_trace_id(), |(t, _)| t)
    }

    fn new_span_id(&self) -> SpanId {
        NEXT_IDS
            .with(Cell::get)
            .map_or_else(|| self.0.new_span_id(), |(_, s)| s)
    }
}

/// Flushes and stops the export when dropped (at the end of a CLI command, say).
pub struct Guard(());

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(provider) = PROVIDER.get() {
            if let Err(e) = provider.shutdown_with_timeout(Duration::from_secs(5)) {
                tracing::warn!(error = %e, "OpenTelemetry export could not flush");
            }
        }
        if let Some((meters, _)) = METRICS.get() {
            if let Err(e) = meters.shutdown_with_timeout(Duration::from_secs(5)) {
                tracing::warn!(error = %e, "OpenTelemetry metrics could not flush");
            }
        }
    }
}

/// Sets up export when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set; keep
/// the guard for as long as the process runs.
pub fn init_from_env() -> Option<Guard> {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    if !set("OTEL_EXPORTER_OTLP_ENDPOINT") && !set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        return None;
    }
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
    {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "OpenTelemetry export is off: its exporter could not be made");
            return None;
        }
    };
    let mut resource = opentelemetry_sdk::Resource::builder();
    if !set("OTEL_SERVICE_NAME") {
        resource = resource.with_service_name("flightdeck");
    }
    let resource = resource.build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_id_generator(Ids::default())
        .with_resource(resource.clone())
        .build();
    PROVIDER.set(provider).ok()?;
    match opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .build()
    {
        Ok(exporter) => {
            let meters = SdkMeterProvider::builder()
                .with_periodic_exporter(exporter)
                .with_resource(resource)
                .build();
            let meter = meters.meter("flightdeck");
            let instruments = Instruments {
                runs: meter
                    .u64_counter("flightdeck_runs_total")
                    .with_description("Runs that ended, by status and executor")
                    .build(),
                durations: meter
                    .f64_histogram("flightdeck_run_duration_seconds")
                    .with_unit("s")
                    .with_description("How long runs took, start to end")
                    .build(),
            };
            let _ = METRICS.set((meters, instruments));
        }
        Err(e) => tracing::warn!(error = %e, "OpenTelemetry metrics are off"),
    }
    Some(Guard(()))
}

/// Whether spans are exported.
pub fn enabled() -> bool {
    PROVIDER.get().is_some()
}

/// A UUID's 16 bytes (any text that is not one: zeros, which OpenTelemetry calls invalid).
fn uuid_bytes(id: &str) -> [u8; 16] {
    uuid::Uuid::parse_str(id).map_or([0; 16], |u| *u.as_bytes())
}

fn trace_of(id: &str) -> TraceId {
    TraceId::from_bytes(uuid_bytes(id))
}

/// The last 8 bytes of a UUIDv7 (its random part).
fn span_of(id: &str) -> SpanId {
    let b = uuid_bytes(id);
    SpanId::from_bytes(b[8..].try_into().expect("8 bytes"))
}

fn time(t: Timestamp) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(t.as_millis().max(0) as u64)
}

/// Starts and ends a span with these ids and times.
fn record(
    name: String,
    ids: (TraceId, SpanId),
    parent: Option<(TraceId, SpanId)>,
    (start, end): (Timestamp, Timestamp),
    attributes: Vec<KeyValue>,
    error: Option<String>,
) {
    let Some(provider) = PROVIDER.get() else {
        return;
    };
    let tracer = provider.tracer("flightdeck");
    let parent_cx = match parent {
        Some((trace, span)) => Context::new().with_remote_span_context(SpanContext::new(
            trace,
            span,
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        )),
        None => Context::new(),
    };
    NEXT_IDS.with(|n| n.set(Some(ids)));
    let mut span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Internal)
        .with_start_time(time(start))
        .with_attributes(attributes)
        .start_with_context(&tracer, &parent_cx);
    NEXT_IDS.with(|n| n.set(None));
    if let Some(message) = error {
        span.set_status(Status::error(message));
    }
    span.end_with_timestamp(time(end));
}

/// A run ended: its span (a child of its workflow run's, for a step).
pub fn run_ended(run: &Execution, agent_name: Option<&str>) {
    if !enabled() {
        return;
    }
    let (Some(start), Some(end)) = (run.started_at.or(Some(run.queued_at)), run.finished_at) else {
        return;
    };
    let mut attributes = vec![
        KeyValue::new("flightdeck.run.id", run.id.clone()),
        KeyValue::new("flightdeck.run.status", run.status.as_str()),
        KeyValue::new("flightdeck.run.attempt", i64::from(run.attempt)),
        KeyValue::new("flightdeck.executor", run.spec.kind().to_string()),
    ];
    if let Some(task) = &run.task_id {
        attributes.push(KeyValue::new("flightdeck.task.id", task.clone()));
    }
    if let Some(code) = run.exit_code {
        attributes.push(KeyValue::new("process.exit.code", code));
    }
    if let Some((_, m)) = METRICS.get() {
        let labels = [
            KeyValue::new("status", run.status.as_str()),
            KeyValue::new("executor", run.spec.kind().to_string()),
        ];
        m.runs.add(1, &labels);
        let secs = (end.as_millis() - start.as_millis()).max(0) as f64 / 1e3;
        m.durations.record(secs, &labels);
    }
    let mut name = format!("run {}", run.spec.kind());
    if let ExecutionSpec::Shell(shell) = &run.spec {
        let line = shell
            .line
            .clone()
            .or_else(|| shell.argv.as_ref().map(|a| a.join(" ")));
        if let Some(line) = line {
            attributes.push(KeyValue::new("process.command_line", line));
        }
        if shell.agent_prompt.is_some() {
            let agent = agent_name.unwrap_or("agent").to_string();
            name = format!("invoke_agent {agent}");
            attributes.push(KeyValue::new("gen_ai.operation.name", "invoke_agent"));
            attributes.push(KeyValue::new("gen_ai.agent.name", agent));
        }
    }
    let parent = match (&run.workflow_run_id, &run.step_id) {
        (Some(wf), Some(step)) => {
            attributes.push(KeyValue::new("flightdeck.workflow_run.id", wf.clone()));
            attributes.push(KeyValue::new("flightdeck.workflow.step", step.clone()));
            if !name.starts_with("invoke_agent") {
                name = format!("step {step}");
            }
            Some((trace_of(wf), span_of(wf)))
        }
        _ => None,
    };
    let trace = parent.map_or_else(|| trace_of(&run.id), |(t, _)| t);
    let error = run
        .status
        .is_failure()
        .then(|| run.error.clone().unwrap_or_else(|| run.status.to_string()));
    record(
        name,
        (trace, span_of(&run.id)),
        parent,
        (start, end),
        attributes,
        error,
    );
}

/// A workflow run ended: its span, the parent of its steps'.
pub fn workflow_run_ended(run: &WorkflowRun) {
    if !enabled() {
        return;
    }
    let (Some(end), start) = (run.finished_at, run.started_at.unwrap_or(run.queued_at)) else {
        return;
    };
    let attributes = vec![
        KeyValue::new("flightdeck.workflow_run.id", run.id.clone()),
        KeyValue::new("flightdeck.workflow.name", run.workflow_name.clone()),
        KeyValue::new("flightdeck.workflow.version", i64::from(run.version)),
        KeyValue::new("flightdeck.run.status", run.status.as_str()),
        KeyValue::new("gen_ai.operation.name", "invoke_workflow"),
    ];
    let error = (run.status.as_str() == "failed")
        .then(|| run.error.clone().unwrap_or_else(|| "failed".into()));
    record(
        format!("invoke_workflow {}", run.workflow_name),
        (trace_of(&run.id), span_of(&run.id)),
        None,
        (start, end),
        attributes,
        error,
    );
}

/// A store write transaction ended (committed with this many changed rows, or failed).
pub fn store_write(started: SystemTime, outcome: Result<usize, &crate::CoreError>) {
    let mut attributes = vec![
        KeyValue::new("db.system.name", "sqlite"),
        KeyValue::new("db.operation.name", "transaction"),
    ];
    if let Ok(rows) = outcome {
        attributes.push(KeyValue::new("flightdeck.store.changed_rows", rows as i64));
    }
    now_span(
        "store.write",
        SpanKind::Internal,
        started,
        attributes,
        outcome.err().map(|e| e.to_string()),
    );
}

/// A sync round ended: cells pushed and pulled, conflicts, or why it failed.
pub fn sync_round(started: SystemTime, outcome: &crate::Result<crate::sync::client::SyncReport>) {
    let attributes = match outcome {
        Ok(r) => vec![
            KeyValue::new("flightdeck.sync.pushed_cells", r.pushed_cells as i64),
            KeyValue::new("flightdeck.sync.pulled_cells", r.pulled_cells as i64),
            KeyValue::new("flightdeck.sync.conflicts", r.conflicts as i64),
            KeyValue::new("flightdeck.sync.server_head", r.server_head),
        ],
        Err(_) => Vec::new(),
    };
    let error = outcome.as_ref().err().map(|e| e.to_string());
    now_span("sync.round", SpanKind::Client, started, attributes, error);
}

/// A root span from `started` to now (random ids: nothing else points at it).
fn now_span(
    name: &'static str,
    kind: SpanKind,
    started: SystemTime,
    attributes: Vec<KeyValue>,
    error: Option<String>,
) {
    let Some(provider) = PROVIDER.get() else {
        return;
    };
    let tracer = provider.tracer("flightdeck");
    let mut span = tracer
        .span_builder(name)
        .with_kind(kind)
        .with_start_time(started)
        .with_attributes(attributes)
        .start(&tracer);
    if let Some(message) = error {
        span.set_status(Status::error(message));
    }
    span.end();
}
