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

/// A memory's edit: each given field replaces the memory's (`memory edit`, the app's Edit).
/// A task or environment scope names it by id (or, for an environment, by name).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryPatch {
    pub content: Option<String>,
    pub kind: Option<String>,
    pub scope: Option<MemoryScope>,
    pub importance: Option<f64>,
}

impl MemoryPatch {
    pub fn is_empty(&self) -> bool {
        self.content.is_none()
            && self.kind.is_none()
            && self.scope.is_none()
            && self.importance.is_none()
    }
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

string_enum! {
    /// Why a search could not rank by meaning.
    KeywordOnlyReason, "reason" {
        /// No embedding model is installed on this device.
        NoModel => "no_model",
        /// The workspace holds no memory yet: there is nothing to match, by any signal.
        NothingYet => "nothing_yet",
        /// Memories exist that have no vector yet (pulled by sync, imported, or added before
        /// the model was installed); `flightdeck memory reindex` embeds them now.
        NotIndexed => "not_indexed",
        /// The vectors were made by another model; `flightdeck memory reindex` remakes them.
        OtherModel => "other_model",
    }
}

/// Why a search was keywords only, and how many memories wait for a vector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeywordOnly {
    pub reason: KeywordOnlyReason,
    /// Memories without a vector for this device's model.
    pub not_indexed: u64,
}

impl KeywordOnly {
    /// One sentence for a person: what is true and what to do.
    pub fn explain(&self) -> String {
        match self.reason {
            KeywordOnlyReason::NoModel => {
                "keyword search only: no embedding model is installed".into()
            }
            KeywordOnlyReason::NothingYet => {
                "nothing to match yet: this workspace holds no memory".into()
            }
            KeywordOnlyReason::NotIndexed => {
                format!(
                "matched by keywords: {} memor{} not indexed by meaning yet (`flightdeck memory \
                 reindex` indexes them now)",
                self.not_indexed,
                if self.not_indexed == 1 { "y is" } else { "ies are" }
            )
            }
            KeywordOnlyReason::OtherModel => "keyword search only: the vectors were made by \
                 another model (`flightdeck memory reindex` remakes them)"
                .into(),
        }
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
    /// Why the search was keywords only (`None` when it used the model).
    #[serde(default)]
    pub keyword_only: Option<KeywordOnly>,
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
    /// Why the memories were matched by keywords only (`None` when by meaning too).
    #[serde(default)]
    pub keyword_only: Option<KeywordOnly>,
    pub memories: Vec<MemoryHit>,
    pub similar_runs: Vec<SimilarRun>,
}
