//! Agent memory: what agents and people record to be found again by meaning and keywords.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

string_enum! {
    /// What a memory is attached to.
    MemoryScopeKind, "scope kind" {
        Global => "global",
        Environment => "environment",
        Task => "task",
    }
}

#[allow(clippy::derivable_impls)]
impl Default for MemoryScopeKind {
    fn default() -> Self {
        Self::Global
    }
}

/// A scope: `Global` has no id; the others name an environment or a task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MemoryScope {
    pub kind: MemoryScopeKind,
    pub id: Option<String>,
}

impl MemoryScope {
    pub fn global() -> Self {
        Self::default()
    }
    pub fn task(id: impl Into<String>) -> Self {
        Self {
            kind: MemoryScopeKind::Task,
            id: Some(id.into()),
        }
    }
    pub fn environment(id: impl Into<String>) -> Self {
        Self {
            kind: MemoryScopeKind::Environment,
            id: Some(id.into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    pub id: String,
    pub content: String,
    /// Free-form: `note`, `fact`, `lesson`, `summary` (made by size control)...
    pub kind: String,
    pub scope: MemoryScope,
    /// 0.0 ..= 1.0; 0.5 by default.
    pub importance: f64,
    pub source_execution_id: Option<String>,
    pub access_count: i64,
    pub last_accessed_at: Option<Timestamp>,
    pub archived: bool,
    /// The summary memory that archived this one.
    pub summary_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewMemory {
    pub content: String,
    pub kind: Option<String>,
    pub scope: MemoryScope,
    pub importance: Option<f64>,
    pub source_execution_id: Option<String>,
}

/// Conditions for listing and searching; every given one must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryFilter {
    pub scope: Option<MemoryScope>,
    pub kind: Option<String>,
    pub include_archived: bool,
}

string_enum! {
    /// How a search ranked: by meaning and keywords, or by keywords only (no model).
    SearchMode, "search mode" {
        Hybrid => "hybrid",
        KeywordOnly => "keyword_only",
    }
}

/// One search hit, with the signals that found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryHit {
    pub memory: Memory,
    /// The ranking score: `relevance` nudged by at most 0.015 by importance and recency.
    pub score: f64,
    /// 0..1: how well the memory answers the query, from its meaning and its keywords.
    #[serde(default)]
    pub relevance: f64,
    /// 1-based rank among the nearest vectors, and its cosine distance.
    pub vector_rank: Option<u32>,
    pub vector_distance: Option<f64>,
    /// 1-based BM25 rank among the full-text matches.
    pub keyword_rank: Option<u32>,
    /// 0..1: the share of the query's tokens it holds, each weighted by its rarity.
    #[serde(default)]
    pub keyword_score: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemorySearch {
    pub mode: SearchMode,
    pub hits: Vec<MemoryHit>,
    /// Hits less relevant than this were dropped.
    #[serde(default)]
    pub floor: f64,
    /// How many candidates the floor dropped, and the best relevance among them.
    #[serde(default)]
    pub below_floor: u32,
    #[serde(default)]
    pub best_below_floor: Option<f64>,
}

/// A past run of another task that resembles the task at hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarRun {
    pub execution_id: String,
    pub task_id: String,
    pub task_title: String,
    pub status: String,
    /// The run's `result`, else its `error`.
    pub summary: Option<String>,
    /// Cosine similarity of the task texts (hybrid mode) or shared-word ratio (keyword only).
    pub similarity: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskContext {
    pub mode: SearchMode,
    pub memories: Vec<MemoryHit>,
    pub similar_runs: Vec<SimilarRun>,
}
