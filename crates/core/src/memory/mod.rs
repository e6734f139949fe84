//! Agent memory (DESIGN.md "Agent memory"): synced `memories` rows plus local derived indexes
//! (FTS5 always; sqlite-vec vectors when an embedder is available), hybrid search, context for
//! a task, capture from runs and size control.
//!
//! Index upkeep: local writes index in their own transaction (the vector is computed before the
//! write, from the content). Rows that arrive by sync are indexed by [`index_pending_default`]
//! at the end of each sync round that pulled memory cells, and when the sync daemon starts;
//! it costs a few queries when nothing is pending. Memories runs record get their vectors the
//! same way when the run ends.

mod bert;
mod budget;
mod capture;
mod edit;
pub mod embed;
pub mod rank;
mod search;
pub mod serve;
mod vectors;

use flightdeck_types::{Memory, MemoryFilter, MemoryScopeKind, NewMemory};
use sha2::{Digest, Sha256};

pub use budget::{
    enforce_budget, enforce_budget_with, Budget, ExtractiveSummariser, Summariser,
    DEFAULT_SCOPE_BUDGET,
};
pub use capture::{
    capture_from_file, capture_from_output, capture_run, is_memory_line, CaptureReport,
    RunMemories, MAX_FILE_BYTES, MAX_PER_RUN, MEMORY_FILE_ENV,
};
pub use edit::{resolve_scope, update};
pub use embed::{Embedder, HttpEmbedder, HttpEmbedderConfig, MiniLm};
pub use search::{context_for_task, context_for_text, fts_query, search, search_with_floor};
pub use vectors::nearest as nearest_vectors;
pub(crate) use vectors::VectorCacheSlot;

use crate::error::{CoreError, Result};
use crate::store::memories as rows;
use crate::store::Store;

const MAX_CONTENT: usize = 20_000;
const INDEX_BATCH: usize = 256;

pub(crate) fn content_hash(content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn validate(input: &NewMemory) -> Result<(String, String, f64)> {
    let content = input.content.trim().to_string();
    if content.is_empty() {
        return Err(CoreError::invalid(
            "content",
            "must not be empty; say what to remember",
        ));
    }
    if content.len() > MAX_CONTENT {
        return Err(CoreError::invalid(
            "content",
            format!("is {} bytes; keep it under {MAX_CONTENT}", content.len()),
        ));
    }
    let kind = input.kind.clone().unwrap_or_else(|| "note".into());
    if kind.trim().is_empty() {
        return Err(CoreError::invalid(
            "kind",
            "must not be empty; e.g. note, fact, lesson",
        ));
    }
    let importance = input.importance.unwrap_or(0.5);
    if !(0.0..=1.0).contains(&importance) {
        return Err(CoreError::invalid(
            "importance",
            "must be between 0.0 and 1.0",
        ));
    }
    match (input.scope.kind, &input.scope.id) {
        (MemoryScopeKind::Global, Some(_)) => {
            return Err(CoreError::invalid(
                "scope",
                "a global memory takes no scope id",
            ))
        }
        (MemoryScopeKind::Environment | MemoryScopeKind::Task, None) => {
            return Err(CoreError::invalid(
                "scope",
                "an environment or task scope needs the id of that environment or task",
            ))
        }
        _ => {}
    }
    Ok((content, kind, importance))
}

/// Makes sure the vector table matches `embedder` (name and dimension); on a change of model
/// every vector is dropped so that [`index_pending`] or [`reindex`] rebuilds them.
/// Returns true when the vectors were reset.
pub fn ensure_model(store: &Store, embedder: &dyn Embedder) -> Result<bool> {
    let dim = embedder.dimension().to_string();
    let current = store.read(|c| {
        Ok((
            rows::meta(c, "model")?,
            rows::meta(c, "dimension")?,
            rows::vec_table_exists(c)?,
        ))
    })?;
    if current.0.as_deref() == Some(embedder.name())
        && current.1.as_deref() == Some(dim.as_str())
        && current.2
    {
        if store.read(rows::vec_table_needs_relayout)? {
            store.write(|w| rows::relayout_vectors(w, embedder.dimension()))?;
            tracing::info!("memory vectors moved to the chunk layout vector search reads");
        }
        return Ok(false);
    }
    store.write(|w| {
        rows::reset_vectors(w, embedder.dimension())?;
        rows::set_meta(w, "model", embedder.name())?;
        rows::set_meta(w, "dimension", &dim)?;
        Ok(())
    })?;
    tracing::info!(
        model = embedder.name(),
        "memory vectors reset for a new model"
    );
    Ok(true)
}

/// The model the vector index was built with, and its dimension, if any.
pub fn indexed_model(store: &Store) -> Result<Option<(String, usize)>> {
    store.read(|c| {
        let model = rows::meta(c, "model")?;
        let dim = rows::meta(c, "dimension")?.and_then(|d| d.parse().ok());
        Ok(model.zip(dim))
    })
}

/// Adds a memory: the embedding is computed first (outside the lock), then the row, its FTS
/// entry and its vector are written in one transaction. Then the scope's budget is enforced.
pub fn add(store: &Store, embedder: Option<&dyn Embedder>, input: NewMemory) -> Result<Memory> {
    let (content, kind, importance) = validate(&input)?;
    let vector = match embedder {
        Some(e) => {
            ensure_model(store, e)?;
            Some(e.embed(&[&content])?.remove(0))
        }
        None => None,
    };
    let memory = store.write(|w| {
        let m = Memory {
            id: crate::ids::new_id(),
            content,
            kind,
            scope: input.scope.clone(),
            importance,
            source_execution_id: input.source_execution_id.clone(),
            access_count: 0,
            last_accessed_at: None,
            archived: false,
            summary_id: None,
            created_at: w.now(),
            updated_at: w.now(),
        };
        insert_indexed(w, &m, vector.as_deref())?;
        Ok(m)
    })?;
    enforce_budget(store, embedder, &memory.scope, &Budget::default())?;
    Ok(memory)
}

/// Inserts the row and its index entry inside a write.
pub(crate) fn insert_indexed(
    w: &mut crate::store::Writer<'_>,
    m: &Memory,
    vector: Option<&[f32]>,
) -> Result<()> {
    rows::insert(w, m)?;
    rows::index_one(
        w,
        &m.id,
        &m.content,
        &content_hash(&m.content),
        m.updated_at.as_millis(),
        vector,
    )?;
    w.touched("memories", &m.id, flightdeck_types::AuditAction::Create);
    Ok(())
}

/// Imports memories whose vectors were computed elsewhere (same model as the index), in one
/// transaction. Benchmarks use it to build large corpora without embedding each row.
pub fn import_with_vectors(store: &Store, items: &[(NewMemory, Vec<f32>)]) -> Result<usize> {
    let checked = items
        .iter()
        .map(|(input, v)| validate(input).map(|ok| (input, ok, v)))
        .collect::<Result<Vec<_>>>()?;
    store.write(|w| {
        for (input, (content, kind, importance), v) in &checked {
            let m = Memory {
                id: crate::ids::new_id(),
                content: content.clone(),
                kind: kind.clone(),
                scope: input.scope.clone(),
                importance: *importance,
                source_execution_id: input.source_execution_id.clone(),
                access_count: 0,
                last_accessed_at: None,
                archived: false,
                summary_id: None,
                created_at: w.now(),
                updated_at: w.now(),
            };
            insert_indexed(w, &m, Some(v))?;
        }
        Ok(checked.len())
    })
}

pub fn get(store: &Store, id: &str) -> Result<Memory> {
    store.read(|c| rows::find(c, id))
}

/// Memories matching `filter`, newest first, at most `limit`.
pub fn list(store: &Store, filter: &MemoryFilter, limit: usize) -> Result<Vec<Memory>> {
    store.read(|c| rows::list(c, filter, limit))
}

pub fn archive(store: &Store, id: &str) -> Result<Memory> {
    set_archived(store, id, true)
}

pub fn unarchive(store: &Store, id: &str) -> Result<Memory> {
    set_archived(store, id, false)
}

fn set_archived(store: &Store, id: &str, archived: bool) -> Result<Memory> {
    store.write(|w| {
        let before = rows::find(w, id)?;
        let summary = if archived {
            before.summary_id.clone()
        } else {
            None
        };
        rows::set_archived(w, id, archived, summary.as_deref(), w.now())?;
        // The content did not change: keep the index entry current without re-embedding.
        let m = rows::find(w, id)?;
        rows::index_one(
            w,
            &m.id,
            &m.content,
            &content_hash(&m.content),
            m.updated_at.as_millis(),
            None,
        )?;
        w.touched("memories", id, flightdeck_types::AuditAction::Update);
        Ok(m)
    })
}

/// Counts a use of a memory (search hits shown to an agent, context given to a run).
pub fn record_access(store: &Store, id: &str) -> Result<()> {
    store.write(|w| {
        rows::record_access(w, id, w.now())?;
        w.touched("memories", id, flightdeck_types::AuditAction::Update);
        Ok(())
    })
}

/// Indexes memories whose entry is missing or stale (rows that came by sync, or were indexed
/// without a model), and drops entries of deleted memories. Returns how many were indexed.
pub fn index_pending(store: &Store, embedder: Option<&dyn Embedder>) -> Result<usize> {
    if let Some(e) = embedder {
        ensure_model(store, e)?;
    }
    let with_vectors = store.read(rows::vec_table_exists)?;
    store.write(|w| rows::drop_orphans(w, with_vectors))?;
    let mut done = 0;
    loop {
        let batch = store.read(|c| rows::stale(c, embedder.is_some(), INDEX_BATCH))?;
        if batch.is_empty() {
            return Ok(done);
        }
        index_batch(store, embedder, &batch)?;
        done += batch.len();
    }
}

/// [`index_pending`] with the process's shared built-in model ([`embed::shared_default`]), for
/// work that has no embedder of its own: a sync round that pulled memories, the sync daemon's
/// start, a run that recorded memories. It first asks, with cheap queries, whether anything
/// needs indexing at all, so that the model is loaded only when it will be used.
pub fn index_pending_default(store: &Store) -> Result<usize> {
    let installed = embed::default_model_dir().is_some();
    let needed = store.read(|c| {
        if !rows::stale(c, installed, 1)?.is_empty() || rows::has_orphans(c)? {
            return Ok(true);
        }
        // Vectors of another model (or none yet) while the built-in one is installed: they
        // are rebuilt, as on any model change.
        let current = rows::meta(c, "model")?;
        Ok(installed && current.as_deref() != Some(embed::MINILM_NAME) && rows::any_memory(c)?)
    })?;
    if !needed {
        return Ok(0);
    }
    let embedder = if installed {
        embed::shared_default()
    } else {
        None
    };
    index_pending(store, embedder)
}

fn index_batch(
    store: &Store,
    embedder: Option<&dyn Embedder>,
    batch: &[rows::Stale],
) -> Result<()> {
    let hashes: Vec<String> = batch.iter().map(|s| content_hash(&s.content)).collect();
    // Only new or changed text is embedded: a row that is stale for another reason (archived,
    // say, on another device) keeps the vector it has, and embedding is most of the cost.
    let needs_vector: Vec<bool> = batch
        .iter()
        .zip(&hashes)
        .map(|(s, hash)| !(s.has_vector && s.hash.as_deref() == Some(hash.as_str())))
        .collect();
    let mut vectors: Vec<Option<Vec<f32>>> = vec![None; batch.len()];
    if let Some(e) = embedder {
        let wanted: Vec<usize> = (0..batch.len()).filter(|&i| needs_vector[i]).collect();
        if !wanted.is_empty() {
            let texts: Vec<&str> = wanted.iter().map(|&i| batch[i].content.as_str()).collect();
            for (i, v) in wanted.into_iter().zip(e.embed(&texts)?) {
                vectors[i] = Some(v);
            }
        }
    }
    store.write(|w| {
        for ((s, hash), v) in batch.iter().zip(&hashes).zip(&vectors) {
            rows::index_one(
                w,
                &s.memory_id,
                &s.content,
                hash,
                s.updated_at,
                v.as_deref(),
            )?;
        }
        Ok(())
    })
}

/// Rebuilds the vector index with `embedder` (dropping every vector first) and brings the
/// full-text index up to date. `progress(done, total)` is called after each batch.
pub fn reindex(
    store: &Store,
    embedder: &dyn Embedder,
    mut progress: impl FnMut(usize, usize),
) -> Result<usize> {
    store.write(|w| {
        rows::reset_vectors(w, embedder.dimension())?;
        rows::set_meta(w, "model", embedder.name())?;
        rows::set_meta(w, "dimension", &embedder.dimension().to_string())?;
        Ok(())
    })?;
    let total = store.read(rows::count_memories)?;
    progress(0, total);
    let mut done = 0;
    loop {
        let batch = store.read(|c| rows::stale(c, true, INDEX_BATCH))?;
        if batch.is_empty() {
            break;
        }
        index_batch(store, Some(embedder), &batch)?;
        done += batch.len();
        progress(done.min(total), total);
    }
    Ok(done)
}

const FLOOR_KEY: &str = "relevance_floor";

/// This device's relevance floor for search: hits less relevant than it are dropped
/// ([`rank::DEFAULT_FLOOR`] until set).
pub fn relevance_floor(store: &Store) -> Result<f64> {
    let stored = store.read(|c| rows::meta(c, FLOOR_KEY))?;
    Ok(stored
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|f| (0.0..=1.0).contains(f))
        .unwrap_or(rank::DEFAULT_FLOOR))
}

/// Sets this device's relevance floor (0 keeps every candidate; 1 drops all but exact ones).
pub fn set_relevance_floor(store: &Store, floor: f64) -> Result<f64> {
    if !(0.0..=1.0).contains(&floor) || floor.is_nan() {
        return Err(CoreError::invalid(
            "floor",
            format!(
                "{floor} is not between 0 and 1 (the default is {})",
                rank::DEFAULT_FLOOR
            ),
        ));
    }
    store.write(|w| rows::set_meta(w, FLOOR_KEY, &floor.to_string()))?;
    Ok(floor)
}
