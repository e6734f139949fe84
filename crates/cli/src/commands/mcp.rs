//! `flightdeck mcp`: a Model Context Protocol server over stdio (the official Rust SDK,
//! `rmcp`), so that an agent can search and record memories and read the workspace's tasks
//! through the same engine and write path as the CLI (audit rows, sync).
//!
//! stdout carries the protocol and nothing else; notes go to stderr.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use flightdeck_core::memory::{self, Embedder, MiniLm};
use flightdeck_core::{tasks, CoreError, Store};
use flightdeck_types::{
    MemoryFilter, MemoryScope, NewMemory, NewTask, Priority, TaskFilter, TaskPatch, TaskStatus,
};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    Implementation, ListResourcesResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde::Deserialize;
use serde_json::json;

use super::runtime;

/// The run whose process this is, when Flightdeck started it (see "What every run sees").
const EXECUTION_ENV: &str = "FLIGHTDECK_EXECUTION_ID";

/// The snippet that registers `flightdeck mcp` with an agent, for `--print-config`.
pub fn config_snippet(agent: &str, workspace: &str) -> Result<String, CoreError> {
    let exe = std::env::current_exe()
        .ok()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "flightdeck".into());
    let args = json!(["--workspace", workspace, "mcp"]);
    match agent {
        "claude" => Ok(format!(
            "claude mcp add flightdeck -- {} --workspace {} mcp",
            shell_word(&exe),
            shell_word(workspace)
        )),
        "codex" => Ok(format!(
            "# ~/.codex/config.toml\n[mcp_servers.flightdeck]\ncommand = {}\nargs = {}",
            json!(exe),
            args
        )),
        "generic" => Ok(serde_json::to_string_pretty(&json!({
            "mcpServers": { "flightdeck": { "command": exe, "args": args } }
        }))
        .expect("JSON values serialize")),
        other => Err(CoreError::invalid(
            "print-config",
            format!("`{other}` is not an agent this knows: use claude, codex or generic"),
        )),
    }
}

/// `text` as one POSIX shell word.
fn shell_word(text: &str) -> String {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"/._-+:=".contains(&b);
    if !text.is_empty() && text.bytes().all(plain) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

pub fn run(store: Arc<Store>, data_dir: Option<&Path>) -> Result<(), CoreError> {
    let server = FlightdeckMcp::new(store, data_dir.map(Path::to_path_buf));
    runtime()?.block_on(async move {
        let service = server
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| CoreError::Refused(format!("MCP: cannot start on stdio: {e}")))?;
        service
            .waiting()
            .await
            .map_err(|e| CoreError::Refused(format!("MCP: the session ended badly: {e}")))?;
        Ok(())
    })
}

#[derive(Clone)]
pub struct FlightdeckMcp {
    store: Arc<Store>,
    data_dir: Option<PathBuf>,
    /// Loaded on the first search or add (a session that only lists tasks never pays for it).
    embedder: Arc<OnceLock<Option<MiniLm>>>,
    #[allow(dead_code)] // read by the code #[tool_handler] generates
    tool_router: ToolRouter<Self>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SearchMemory {
    /// What to look for, in words (a question, an error message, an identifier)
    pub query: String,
    /// At most this many hits (1 to 50; default 8)
    pub limit: Option<usize>,
    /// Only memories of this kind: note, lesson, fact, decision, preference, error
    pub kind: Option<String>,
    /// Only memories of this scope: global, task:ID or env:NAME|ID
    pub scope: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AddMemory {
    /// What to remember, as a sentence someone can act on later
    pub content: String,
    /// note (default), lesson, fact, decision, preference or error
    pub kind: Option<String>,
    /// 0 to 1 (default 0.5): how much it should count when memories are ranked
    pub importance: Option<f64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListTasks {
    /// Only tasks of this status: todo, in_progress, blocked, done, cancelled
    pub status: Option<String>,
    /// Only tasks whose title or description contains this text
    pub search: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct GetTask {
    /// The task's id
    pub id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateTask {
    /// A short title (1 to 500 characters)
    pub title: String,
    pub description: Option<String>,
    /// todo (default), in_progress, blocked, done or cancelled
    pub status: Option<String>,
    /// low, medium (default), high or urgent
    pub priority: Option<String>,
    /// The environment's name or id
    pub environment: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct UpdateTask {
    /// The task's id
    pub id: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// todo, in_progress, blocked, done or cancelled
    pub status: Option<String>,
    /// low, medium, high or urgent
    pub priority: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ReportProgress {
    /// What the agent is doing or has done, for the person watching the run (one line is best)
    pub message: String,
    /// Inside a workflow step: values that become the step's outputs, as `key=value` lines of
    /// $FLIGHTDECK_OUTPUT do (keys: letters, digits and _; values: one line each)
    pub outputs: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct GetRun {
    /// The run's id (inside a run: $FLIGHTDECK_EXECUTION_ID)
    pub id: String,
    /// How many of its last output lines to include (0 to 200; default 20)
    pub lines: Option<usize>,
}

/// An optional enum argument: `field`'s value parsed, or an error naming the field.
fn parse_field<T: std::str::FromStr>(
    field: &str,
    value: Option<&str>,
    what: &str,
) -> Result<Option<T>, ErrorData> {
    value
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| invalid(field, format!("`{v}` is not {what}")))
        })
        .transpose()
}

fn parse_status(status: Option<&str>) -> Result<Option<TaskStatus>, ErrorData> {
    parse_field("status", status, "a task status")
}

fn parse_priority(priority: Option<&str>) -> Result<Option<Priority>, ErrorData> {
    parse_field("priority", priority, "a priority")
}

/// A core error as the JSON-RPC error a client sees: bad input names its field.
fn to_error(e: CoreError) -> ErrorData {
    let data = e.field().map(|field| json!({ "field": field }));
    match &e {
        CoreError::Invalid(_) | CoreError::NotFound { .. } | CoreError::Ambiguous { .. } => {
            ErrorData::invalid_params(e.to_string(), data)
        }
        _ => ErrorData::internal_error(e.to_string(), data),
    }
}

fn invalid(field: &str, message: impl Into<String>) -> ErrorData {
    to_error(CoreError::invalid(field, message))
}

fn to_json(value: &impl serde::Serialize) -> Result<String, ErrorData> {
    serde_json::to_string_pretty(value)
        .map_err(|e| ErrorData::internal_error(format!("cannot encode the answer: {e}"), None))
}

#[tool_router]
impl FlightdeckMcp {
    fn new(store: Arc<Store>, data_dir: Option<PathBuf>) -> Self {
        FlightdeckMcp {
            store,
            data_dir,
            embedder: Arc::default(),
            tool_router: Self::tool_router(),
        }
    }

    fn embedder(&self) -> Option<&dyn Embedder> {
        self.embedder
            .get_or_init(|| {
                let dir = memory::embed::find_model_dir(self.data_dir.as_deref())?;
                MiniLm::load(&dir)
                    .map_err(|e| eprintln!("flightdeck mcp: keyword-only search: {e}"))
                    .ok()
            })
            .as_ref()
            .map(|m| m as &dyn Embedder)
    }

    #[tool(
        description = "Search the workspace's memories (what agents and people recorded) by \
                       meaning and keywords. Returns the relevant ones, best first, each with its \
                       relevance (0..1) and the signals that found it; none when nothing is \
                       relevant, with how close the best came."
    )]
    async fn search_memory(
        &self,
        Parameters(args): Parameters<SearchMemory>,
    ) -> Result<String, ErrorData> {
        if args.query.trim().is_empty() {
            return Err(invalid("query", "is empty; say what to look for"));
        }
        let limit = args.limit.unwrap_or(8);
        if !(1..=50).contains(&limit) {
            return Err(invalid("limit", format!("{limit} is not between 1 and 50")));
        }
        let filter = MemoryFilter {
            kind: args.kind,
            scope: args
                .scope
                .as_deref()
                .map(|s| parse_scope(&self.store, s))
                .transpose()?,
            ..MemoryFilter::default()
        };
        let floor = memory::relevance_floor(&self.store).map_err(to_error)?;
        let found = memory::search_with_floor(
            &self.store,
            self.embedder(),
            &args.query,
            &filter,
            limit,
            floor,
        )
        .map_err(to_error)?;
        let hits: Vec<_> = found
            .hits
            .iter()
            .map(|hit| {
                json!({
                    "id": hit.memory.id,
                    "content": hit.memory.content,
                    "kind": hit.memory.kind,
                    "scope": hit.memory.scope,
                    "importance": hit.memory.importance,
                    "relevance": hit.relevance,
                    "signals": {
                        "vector": hit.vector_rank.is_some(),
                        "keyword": hit.keyword_score > 0.0,
                    },
                })
            })
            .collect();
        to_json(&json!({
            "hits": hits,
            "mode": found.mode,
            "floor": found.floor,
            "nothing_relevant": found.hits.is_empty(),
            "best_below_floor": found.best_below_floor,
        }))
    }

    #[tool(
        description = "Record a memory for later runs and people: a lesson learned, a fact \
                       about the code, a decision. Inside a run Flightdeck started, it is scoped \
                       to that run's task and the run is its source; else it is global."
    )]
    async fn add_memory(
        &self,
        Parameters(args): Parameters<AddMemory>,
    ) -> Result<String, ErrorData> {
        let run = std::env::var(EXECUTION_ENV)
            .ok()
            .filter(|id| !id.is_empty());
        let (scope, source) = match &run {
            Some(id) => {
                let execution = flightdeck_core::runs::get(&self.store, id).map_err(|e| {
                    ErrorData::internal_error(
                        format!("${EXECUTION_ENV} names run {id}, which this workspace lacks: {e}"),
                        None,
                    )
                })?;
                let scope = match execution.task_id {
                    Some(task) => MemoryScope::task(task),
                    None => MemoryScope::global(),
                };
                (scope, Some(id.clone()))
            }
            None => (MemoryScope::global(), None),
        };
        let input = NewMemory {
            content: args.content,
            kind: args.kind,
            scope,
            importance: args.importance,
            source_execution_id: source,
        };
        let added = memory::add(&self.store, self.embedder(), input).map_err(to_error)?;
        to_json(&added)
    }

    #[tool(description = "List the workspace's tasks (not archived), most urgent first.")]
    async fn list_tasks(
        &self,
        Parameters(args): Parameters<ListTasks>,
    ) -> Result<String, ErrorData> {
        let status = parse_status(args.status.as_deref())?;
        let filter = TaskFilter {
            status,
            search: args.search,
            ..TaskFilter::default()
        };
        let found = tasks::list(&self.store, &filter).map_err(to_error)?;
        to_json(&found)
    }

    #[tool(description = "One task by its id: title, description, status, priority, environment.")]
    async fn get_task(&self, Parameters(args): Parameters<GetTask>) -> Result<String, ErrorData> {
        let task = tasks::get(&self.store, &args.id).map_err(to_error)?;
        to_json(&task)
    }

    #[tool(description = "Create a task; returns it with its id.")]
    async fn create_task(
        &self,
        Parameters(args): Parameters<CreateTask>,
    ) -> Result<String, ErrorData> {
        let input = NewTask {
            title: args.title,
            description: args.description,
            status: parse_status(args.status.as_deref())?,
            priority: parse_priority(args.priority.as_deref())?,
            environment: args.environment,
            expected_secs: None,
        };
        let task = tasks::create(&self.store, input).map_err(to_error)?;
        to_json(&task)
    }

    #[tool(description = "Change a task's title, description, status or priority; returns it.")]
    async fn update_task(
        &self,
        Parameters(args): Parameters<UpdateTask>,
    ) -> Result<String, ErrorData> {
        let patch = TaskPatch {
            title: args.title,
            description: args.description,
            status: parse_status(args.status.as_deref())?,
            priority: parse_priority(args.priority.as_deref())?,
            environment: None,
            expected_secs: None,
        };
        if patch.is_empty() {
            return Err(invalid(
                "title",
                "nothing to change: give title, description, status or priority",
            ));
        }
        let task = tasks::update(&self.store, &args.id, patch).map_err(to_error)?;
        to_json(&task)
    }

    #[tool(
        description = "Inside a run Flightdeck started: report progress. The message shows in \
                       the run's log as a `progress` event (live in the app and `runs logs`); \
                       inside a workflow step, `outputs` become the step's outputs."
    )]
    async fn report_progress(
        &self,
        Parameters(args): Parameters<ReportProgress>,
    ) -> Result<String, ErrorData> {
        let run = env_value(EXECUTION_ENV).ok_or_else(|| {
            invalid(
                "message",
                format!("report_progress works inside a run Flightdeck started (${EXECUTION_ENV} is not set)"),
            )
        })?;
        let message = args.message.trim();
        if message.is_empty() || message.chars().count() > 4096 {
            return Err(invalid("message", "must be 1 to 4096 characters"));
        }
        // What the agent reports is masked like the run's own output: its environment's
        // secrets never reach the database.
        let execution = flightdeck_core::runs::get(&self.store, &run).map_err(to_error)?;
        let mask = match flightdeck_core::secrets::for_workspace(&self.store) {
            Ok(secrets) => flightdeck_core::runs::secret_mask::SecretMask::for_run(
                &self.store,
                secrets.store.as_ref(),
                &execution,
            ),
            Err(_) => Default::default(),
        };
        let outputs = args.outputs.unwrap_or_default();
        if !outputs.is_empty() {
            let env = flightdeck_core::runs::step_output::OUTPUT_ENV;
            let path = env_value(env).ok_or_else(|| {
                invalid(
                    "outputs",
                    format!("only a workflow step has outputs (${env} is not set)"),
                )
            })?;
            let mut lines = String::new();
            for (key, value) in &outputs {
                let good_key =
                    !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !good_key {
                    return Err(invalid(
                        "outputs",
                        format!("`{key}` is not an output name: use letters, digits and _"),
                    ));
                }
                if value.contains(['\n', '\r']) {
                    return Err(invalid(
                        "outputs",
                        format!("the value of `{key}` must be one line"),
                    ));
                }
                lines.push_str(&format!("{key}={}\n", mask.mask(value)));
            }
            use std::io::Write;
            std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .and_then(|mut file| file.write_all(lines.as_bytes()))
                .map_err(|e| {
                    ErrorData::internal_error(format!("cannot write {path}: {e}"), None)
                })?;
        }
        let message = mask.mask(message).into_owned();
        let seq = flightdeck_core::runs::add_event(&self.store, &run, "progress", message)
            .map_err(to_error)?;
        to_json(&json!({ "run": run, "seq": seq, "outputs": outputs.keys().collect::<Vec<_>>() }))
    }

    #[tool(description = "A run: its status, exit code, error, result and its last output lines.")]
    async fn get_run(&self, Parameters(args): Parameters<GetRun>) -> Result<String, ErrorData> {
        let lines = args.lines.unwrap_or(20);
        if lines > 200 {
            return Err(invalid("lines", format!("{lines} is more than 200")));
        }
        let run = flightdeck_core::runs::get(&self.store, &args.id).map_err(to_error)?;
        let output: Vec<_> = flightdeck_core::runs::last_output(&self.store, &args.id, lines)
            .map_err(to_error)?
            .into_iter()
            .map(|e| json!({ "stream": e.kind, "line": e.data }))
            .collect();
        to_json(&json!({ "run": run, "last_lines": output }))
    }
}

/// `global`, `task:ID` or `env:NAME|ID`, as for `memory search --scope`.
fn parse_scope(store: &Store, text: &str) -> Result<MemoryScope, ErrorData> {
    super::memory::parse_scope(store, text).map_err(to_error)
}

/// The resource of the calling run's task (JSON), when `$FLIGHTDECK_TASK_ID` is set.
const TASK_URI: &str = "flightdeck://task/current";
/// The calling agent run's context file (markdown), when `$FLIGHTDECK_CONTEXT_FILE` is set.
const CONTEXT_URI: &str = "flightdeck://context/current";

fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[tool_handler]
impl ServerHandler for FlightdeckMcp {
    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let mut resources = Vec::new();
        if env_value("FLIGHTDECK_TASK_ID").is_some() {
            resources.push(
                Resource::new(TASK_URI, "The task of this run").with_mime_type("application/json"),
            );
        }
        if env_value(flightdeck_core::runs::agent_context::CONTEXT_FILE_ENV).is_some() {
            resources.push(
                Resource::new(
                    CONTEXT_URI,
                    "This run's context: its task, relevant memories, similar runs",
                )
                .with_mime_type("text/markdown"),
            );
        }
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let missing = |what: &str| {
            ErrorData::resource_not_found(format!("{} is not available: {what}", request.uri), None)
        };
        let text = match request.uri.as_str() {
            TASK_URI => {
                let id = env_value("FLIGHTDECK_TASK_ID")
                    .ok_or_else(|| missing("this process is not a run of a task"))?;
                let task = tasks::get(&self.store, &id).map_err(to_error)?;
                to_json(&task)?
            }
            CONTEXT_URI => {
                let env = flightdeck_core::runs::agent_context::CONTEXT_FILE_ENV;
                let path =
                    env_value(env).ok_or_else(|| missing("this process is not an agent run"))?;
                std::fs::read_to_string(&path)
                    .map_err(|e| missing(&format!("cannot read {path}: {e}")))?
            }
            _ => return Err(missing("no such resource (see resources/list)")),
        };
        Ok(ReadResourceResult::new(vec![ResourceContents::text(text, request.uri)]).into())
    }

    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("flightdeck", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Flightdeck's workspace: search and record memories (search_memory, \
                 add_memory), read and change tasks (list_tasks, get_task, create_task, \
                 update_task) and look at a run (get_run).",
        )
    }
}
