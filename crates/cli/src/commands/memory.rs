//! `flightdeck memory ...`

use std::io::Write;
use std::path::Path;

use flightdeck_core::memory::embed::find_model_dir;
use flightdeck_core::memory::{self, Embedder, MiniLm};
use flightdeck_core::{environments, tasks, CoreError, Store};
use flightdeck_types::{
    KeywordOnly, KeywordOnlyReason, Memory, MemoryFilter, MemoryHit, MemoryPatch, MemoryScope,
    MemoryScopeKind, NewMemory, SearchMode,
};
use serde::Serialize;

use crate::args::{MemoryCommand, MemoryFilterArgs};
use crate::output::{clip, table, Output};

pub fn run(
    store: &Store,
    data_dir: Option<&Path>,
    cmd: &MemoryCommand,
    out: &Output,
) -> Result<(), CoreError> {
    match cmd {
        MemoryCommand::Add {
            content,
            kind,
            scope,
            importance,
        } => {
            let scope = match scope {
                Some(text) => parse_scope(store, text)?,
                None => MemoryScope::global(),
            };
            let input = NewMemory {
                content: content.clone(),
                kind: kind.clone(),
                scope,
                importance: *importance,
                source_execution_id: None,
            };
            let embedder = load_embedder(data_dir)?;
            let added = memory::add(store, as_dyn(&embedder), input)?;
            out.print(&added, || added.id.clone());
        }
        MemoryCommand::Search {
            query,
            limit,
            floor,
            filter,
        } => {
            let limit = positive_limit(*limit)?;
            let filter = to_filter(store, filter)?;
            let floor = match floor {
                Some(f) if !(0.0..=1.0).contains(f) => {
                    return Err(CoreError::invalid(
                        "floor",
                        format!("{f} is not between 0 and 1"),
                    ))
                }
                Some(f) => *f,
                None => memory::relevance_floor(store)?,
            };
            let request = memory::serve::SearchRequest {
                query: query.clone(),
                limit,
                floor,
                filter,
            };
            // A running worker has the model loaded: ask it, and load nothing here.
            let (found, model, served_by, note) =
                match memory::serve::ask(&memory::serve::socket_path(store), &request)? {
                    Some(memory::serve::SearchReply::Found { search, model }) => {
                        let note = match &search.keyword_only {
                            Some(k) if k.reason == KeywordOnlyReason::NoModel => Some(
                                "keyword-only: the running worker has no embedding model loaded"
                                    .to_string(),
                            ),
                            other => keyword_only_note(other.as_ref()),
                        };
                        (search, model, "worker", note)
                    }
                    Some(memory::serve::SearchReply::Error { message }) => {
                        return Err(CoreError::Refused(message))
                    }
                    None => {
                        let embedder = load_embedder(data_dir)?;
                        let found = memory::search_with_floor(
                            store,
                            as_dyn(&embedder),
                            query,
                            &request.filter,
                            limit,
                            floor,
                        )?;
                        let model = match found.mode {
                            SearchMode::Hybrid => embedder.as_ref().map(|e| e.name().to_string()),
                            SearchMode::KeywordOnly => None,
                        };
                        let note = keyword_only_note(found.keyword_only.as_ref());
                        (found, model, "this process", note)
                    }
                };
            let view = SearchView {
                mode: found.mode,
                model,
                note,
                keyword_only: found.keyword_only.clone(),
                served_by,
                floor: found.floor,
                below_floor: found.below_floor,
                best_below_floor: found.best_below_floor,
                hits: found
                    .hits
                    .iter()
                    .map(|hit| HitView {
                        hit,
                        matched: matched(hit),
                    })
                    .collect(),
            };
            out.print(&view, || render_search(&view));
        }
        MemoryCommand::List { limit, filter } => {
            let limit = positive_limit(*limit)?;
            let filter = to_filter(store, filter)?;
            let found = memory::list(store, &filter, limit)?;
            out.print(&found, || render_list(&found));
        }
        MemoryCommand::Show { id } => {
            let found = memory::get(store, id)?;
            out.print(&found, || render_one(&found));
        }
        MemoryCommand::Edit {
            id,
            content,
            kind,
            scope,
            importance,
        } => {
            let patch = MemoryPatch {
                content: content.clone(),
                kind: kind.clone(),
                scope: scope
                    .as_deref()
                    .map(|s| parse_scope(store, s))
                    .transpose()?,
                importance: *importance,
            };
            // The model is loaded only for a new text: nothing else changes the vector.
            let embedder = match content {
                Some(_) => load_embedder(data_dir)?,
                None => None,
            };
            let edited = memory::update(store, as_dyn(&embedder), id, patch)?;
            out.print(&edited, || format!("edited {}", edited.id));
        }
        MemoryCommand::Archive { id } => {
            let archived = memory::archive(store, id)?;
            out.print(&archived, || format!("archived {}", archived.id));
        }
        MemoryCommand::Floor { value } => {
            let floor = match value {
                Some(v) => memory::set_relevance_floor(store, *v)?,
                None => memory::relevance_floor(store)?,
            };
            out.print(&serde_json::json!({ "floor": floor }), || {
                format!("relevance floor: {floor}")
            });
        }
        MemoryCommand::Context { task } => {
            let embedder = load_embedder(data_dir)?;
            super::context::show(store, as_dyn(&embedder), task, out)?;
        }
        MemoryCommand::ContextSettings {
            context,
            memories,
            runs,
            max_bytes,
        } => super::context::settings(store, *context, *memories, *runs, *max_bytes, out)?,
        MemoryCommand::Reindex => {
            let embedder = load_embedder(data_dir)?;
            let view = match &embedder {
                Some(e) => {
                    let mut bar = ProgressBar::new(e.name());
                    let indexed = memory::reindex(store, e, |done, total| bar.show(done, total))?;
                    bar.finish();
                    ReindexView {
                        indexed,
                        mode: SearchMode::Hybrid,
                        model: Some(e.name().to_string()),
                        dimension: Some(e.dimension()),
                        note: None,
                    }
                }
                // Without a model only the full-text index can be brought up to date.
                None => ReindexView {
                    indexed: memory::index_pending(store, None)?,
                    mode: SearchMode::KeywordOnly,
                    model: None,
                    dimension: None,
                    note: keyword_only_note(Some(&KeywordOnly {
                        reason: KeywordOnlyReason::NoModel,
                        not_indexed: 0,
                    })),
                },
            };
            out.print(&view, || {
                let mut text = match &view.model {
                    Some(m) => format!("reindexed {} memories with {m}", view.indexed),
                    None => format!("brought {} full-text entries up to date", view.indexed),
                };
                if let Some(note) = &view.note {
                    text = format!("{note}\n{text}");
                }
                text
            });
        }
    }
    Ok(())
}

/// The built-in model when one is installed (as the core looks for it, with `--data-dir` in
/// place of the default data dir). A model that is there but does not load is an error: the
/// person should fix it rather than get keyword-only results without knowing why.
fn load_embedder(data_dir: Option<&Path>) -> Result<Option<MiniLm>, CoreError> {
    match find_model_dir(data_dir) {
        Some(dir) => MiniLm::load(&dir).map(Some),
        None => Ok(None),
    }
}

fn as_dyn(embedder: &Option<MiniLm>) -> Option<&dyn Embedder> {
    embedder.as_ref().map(|e| e as &dyn Embedder)
}

fn keyword_only_note(found: Option<&KeywordOnly>) -> Option<String> {
    let found = found?;
    if found.reason != KeywordOnlyReason::NoModel {
        return Some(found.explain());
    }
    let env = memory::embed::MODEL_DIR_ENV;
    Some(match std::env::var_os(env).filter(|d| !d.is_empty()) {
        Some(dir) => format!(
            "keyword-only: no embedding model is installed ({env} is {} and holds no \
             model.safetensors)",
            Path::new(&dir).display()
        ),
        None => format!(
            "keyword-only: no embedding model is installed (run scripts/setup.sh or set {env})"
        ),
    })
}

fn positive_limit(limit: usize) -> Result<usize, CoreError> {
    if limit == 0 {
        return Err(CoreError::invalid("limit", "must be at least 1"));
    }
    Ok(limit)
}

/// `global`, `task:ID` or `env:NAME|ID` (also `environment:`); the task or environment must
/// exist here, so that a typo does not file a memory under a scope nothing will ever look in.
pub(crate) fn parse_scope(store: &Store, text: &str) -> Result<MemoryScope, CoreError> {
    let text = text.trim();
    if text == MemoryScopeKind::Global.as_str() {
        return Ok(MemoryScope::global());
    }
    match text.split_once(':') {
        Some(("task", id)) if !id.is_empty() => Ok(MemoryScope::task(tasks::get(store, id)?.id)),
        Some(("env" | "environment", key)) if !key.is_empty() => {
            Ok(MemoryScope::environment(environments::get(store, key)?.id))
        }
        _ => Err(CoreError::invalid(
            "scope",
            format!("`{text}` is not a scope: use global, task:ID or env:NAME|ID"),
        )),
    }
}

fn to_filter(store: &Store, args: &MemoryFilterArgs) -> Result<MemoryFilter, CoreError> {
    Ok(MemoryFilter {
        scope: args
            .scope
            .as_deref()
            .map(|s| parse_scope(store, s))
            .transpose()?,
        kind: args.kind.clone(),
        include_archived: args.archived,
    })
}

#[derive(Serialize)]
struct SearchView<'a> {
    mode: SearchMode,
    /// The model that ranked by meaning; null when the search was keyword-only.
    model: Option<String>,
    /// Why the search was keyword-only, when it was.
    note: Option<String>,
    /// The same as data: the reason and how many memories wait for a vector.
    keyword_only: Option<KeywordOnly>,
    /// `worker` (the app or the daemon answered, its model already loaded) or `this process`.
    served_by: &'static str,
    /// Hits less relevant than this were dropped; how many, and the best of them.
    floor: f64,
    below_floor: u32,
    best_below_floor: Option<f64>,
    hits: Vec<HitView<'a>>,
}

#[derive(Serialize)]
struct HitView<'a> {
    #[serde(flatten)]
    hit: &'a MemoryHit,
    /// The signals that found it: `vector`, `keyword` or both.
    matched: Vec<&'static str>,
}

#[derive(Serialize)]
struct ReindexView {
    indexed: usize,
    mode: SearchMode,
    model: Option<String>,
    dimension: Option<usize>,
    note: Option<String>,
}

fn matched(hit: &MemoryHit) -> Vec<&'static str> {
    let mut signals = Vec::new();
    if hit.vector_rank.is_some() {
        signals.push("vector");
    }
    if hit.keyword_score > 0.0 {
        signals.push("keyword");
    }
    signals
}

fn scope_label(scope: &MemoryScope) -> String {
    match &scope.id {
        Some(id) => format!("{}:{id}", scope.kind),
        None => scope.kind.to_string(),
    }
}

fn content_cell(m: &Memory) -> String {
    let mut text = clip(&m.content.replace('\n', " "), 70);
    if m.archived {
        text.push_str(" [archived]");
    }
    text
}

fn render_search(view: &SearchView<'_>) -> String {
    let mut lines = Vec::new();
    match (&view.note, &view.model) {
        (Some(note), _) => lines.push(note.clone()),
        (None, Some(model)) => lines.push(format!("by meaning ({model}) and keywords")),
        (None, None) => {}
    }
    if view.hits.is_empty() {
        lines.push(match view.best_below_floor {
            Some(best) => format!(
                "nothing relevant: the closest of {} candidates scored {best:.2}, under the \
                 relevance floor {:.2} (`--floor 0` shows them)",
                view.below_floor, view.floor
            ),
            None => "no memories match".into(),
        });
        return lines.join("\n");
    }
    let rows: Vec<Vec<String>> = view
        .hits
        .iter()
        .map(|h| {
            vec![
                format!("{:.2}", h.hit.relevance),
                h.matched.join("+"),
                h.hit.memory.id.clone(),
                content_cell(&h.hit.memory),
            ]
        })
        .collect();
    lines.push(table(&["RELEVANCE", "MATCHED", "ID", "CONTENT"], &rows));
    lines.join("\n")
}

fn render_list(found: &[Memory]) -> String {
    if found.is_empty() {
        return "no memories (add one with `flightdeck memory add CONTENT`)".into();
    }
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|m| {
            vec![
                m.id.clone(),
                m.kind.clone(),
                scope_label(&m.scope),
                format!("{:.2}", m.importance),
                content_cell(m),
            ]
        })
        .collect();
    table(&["ID", "KIND", "SCOPE", "IMPORTANCE", "CONTENT"], &rows)
}

fn render_one(m: &Memory) -> String {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    [
        format!("id:            {}", m.id),
        format!("kind:          {}", m.kind),
        format!("scope:         {}", scope_label(&m.scope)),
        format!("importance:    {:.2}", m.importance),
        format!("archived:      {}", if m.archived { "yes" } else { "no" }),
        format!("summarised in: {}", opt(m.summary_id.clone())),
        format!("from run:      {}", opt(m.source_execution_id.clone())),
        format!(
            "used:          {} times, last {}",
            m.access_count,
            opt(m.last_accessed_at.map(|t| t.to_string()))
        ),
        format!("created:       {}", m.created_at),
        format!("updated:       {}", m.updated_at),
        String::new(),
        m.content.clone(),
    ]
    .join("\n")
}

/// One line on stderr redrawn in place (`\r`), so stdout stays the command's result.
struct ProgressBar {
    label: String,
    drawn: bool,
}

impl ProgressBar {
    const WIDTH: usize = 30;

    fn new(model: &str) -> Self {
        Self {
            label: format!("reindexing with {model}"),
            drawn: false,
        }
    }

    fn show(&mut self, done: usize, total: usize) {
        let filled = (done * Self::WIDTH)
            .checked_div(total)
            .unwrap_or(Self::WIDTH)
            .min(Self::WIDTH);
        let bar = format!("{}{}", "#".repeat(filled), ".".repeat(Self::WIDTH - filled));
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{} [{bar}] {done}/{total}", self.label);
        let _ = err.flush();
        self.drawn = true;
    }

    fn finish(&self) {
        if self.drawn {
            eprintln!();
        }
    }
}
